"""Partners: who installs and buys how much, how that changes, and over time."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, language, ui
from dashboard import data_access as da
from dashboard.language import _
from queries.throughput import installation_breakdown
from queries.volumes import partner_volume_series, partner_volumes

filters = ui.page_filters()
st.title(_("Partners"))
st.caption(
    _(
        "Installations and keys allocated from {start} to {end}; select a row to open the partner."
    ).format(start=ui.date(filters.date_from), end=ui.date(filters.range_end))
)

volumes = da.load(partner_volumes, filters)
selected = ui.table(
    volumes,
    "partner-volumes",
    selectable=True,
    empty=_("No partners match these filters — clear the partner, region or manager filter."),
)
if selected:
    partner_id = int(volumes["partner_id"][selected[0]])
    ui.open_partner(partner_id)

grain = ui.grain_switch()
series = da.load(
    partner_volume_series,
    filters.replace(
        partner_ids=filters.partner_ids or tuple(volumes["partner_id"].head(5).to_list())
    ),
    grain,
)
if series.is_empty():
    st.info(_("No installations for these filters — widen the date range."))
else:
    if not filters.partner_ids:
        st.caption(_("The five largest partners; pick partners in the sidebar to compare others."))
    if series["partial"].any():
        st.caption(_(ui.PARTIAL_NOTE))
    st.plotly_chart(charts.partner_series(series, grain, language.current()))

left, right = st.columns(2)
for column, by in ((left, "product"), (right, "segment")):
    with column:
        frame = da.load(installation_breakdown, filters, by)
        if frame.is_empty():
            st.info(
                _("No installations by product for these filters.")
                if by == "product"
                else _("No installations by segment for these filters.")
            )
        else:
            colours = charts.SEGMENT_COLOURS if by == "segment" else ui.product_colours()
            st.plotly_chart(charts.breakdown_bar(frame, by, colours, lang=language.current()))
