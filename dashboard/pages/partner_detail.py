"""Partner detail: everything an account manager needs about one partner before a call."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, labels, language, ui
from dashboard import compliance_sections as compliance
from dashboard import data_access as da
from dashboard.language import _
from queries.conversions import conversion_history
from queries.partners import partner_options, partner_profile, partner_summary
from queries.reporting import report_status
from queries.throughput import throughput

filters = ui.page_filters()
st.title(_("Partner detail"))
if len(filters.partner_ids) != 1:
    options = da.load(partner_options, filters.replace(partner_ids=()))
    names = dict(zip(options["partner_id"], options["partner_name"], strict=True))
    choice = st.selectbox(
        _("Partner"),
        list(names),
        index=None,
        format_func=lambda i: names[i],
        placeholder=_("Choose a partner"),
    )
    if choice is None:
        st.info(_("Choose one partner above, or select a row on the Partners page."))
        st.stop()
    ui.open_partner(int(choice))

partner_id = filters.partner_ids[0]
profile = da.load(partner_profile, filters, partner_id).row(0, named=True)
st.header(f"{profile['partner_name']} · #{partner_id}")
st.caption(
    _("{country} · {region} · size {size} · account manager: {manager}").format(
        country=profile["country"],
        region=profile["region"] or _("no region"),
        size=profile["size_class"],
        manager=profile["account_manager"] or _("none"),
    )
)

due_day = da.settings().report_due_day
summary = da.load(partner_summary, filters, partner_id, due_day)
figures = summary.row(0, named=True)
cards = st.columns(5)
for column, name in zip(cards, list(figures)[2:], strict=True):
    column.metric(labels.column(name), ui.number(figures[name]), border=True)

st.subheader(_("Conversion history"))
history = da.load(conversion_history, filters, partner_id)
if history.is_empty():
    st.info(_("This partner was never a Registered Refurbisher; it has no conversion history."))
else:
    ui.table(history, f"partner-{partner_id}-conversion", empty="")
    if profile["lost_reason"]:
        st.warning(_("Lost: {reason}").format(reason=profile["lost_reason"]))

installs = da.load(throughput, filters, "week")
if installs.is_empty():
    st.info(_("No installations in this date range — widen it in the sidebar."))
else:
    if installs["partial"].any():
        st.caption(_(ui.PARTIAL_NOTE))
    st.plotly_chart(charts.installations_over_time(installs, "week", language.current()))

st.subheader(_("Compliance"))
compliance.partner(filters)

st.subheader(_("Licence reports"))
reports = da.load(report_status, filters, due_day).drop("partner_id", "partner_name")
ui.table(
    reports,
    f"partner-{partner_id}-reports",
    empty=_("No licence reports fall in this date range."),
)

st.subheader(_("All figures"))
ui.table(summary, f"partner-{partner_id}-summary", empty="")
