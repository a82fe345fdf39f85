"""Overview: management's landing page — KPIs with deltas, milestones, stock warnings."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data_access, language, ui
from dashboard.language import _
from queries.kpis import KPIS, overview_kpis
from queries.scope import partners_narrowed
from queries.stock import stock_on_hand
from queries.throughput import milestones, next_milestone, throughput

filters = ui.page_filters()
config = data_access.settings()
st.title(_("Overview"))
st.caption(
    _("{start} to {end}, compared with the {days} days before.").format(
        start=ui.date(filters.date_from), end=ui.date(filters.range_end), days=filters.range_days
    )
)

figures = {
    row["kpi"]: row
    for row in data_access.load(overview_kpis, filters, config.report_due_day).iter_rows(named=True)
}
for first in range(0, len(KPIS), 4):
    for column, kpi in zip(st.columns(4), KPIS[first : first + 4], strict=False):
        with column:
            ui.kpi(kpi, figures[kpi.name]["value"], figures[kpi.name]["previous"])
narrowed = partners_narrowed(filters)
if narrowed:
    st.caption(
        _(
            "Keys in stock and days of cover are the company's; the other figures are those "
            "of the partners in view."
        )
    )

series = data_access.load(throughput, filters, "day")
reached = data_access.load(milestones, filters, config.milestones)
projection = data_access.load(next_milestone, filters, config.milestones)
if series.is_empty():
    st.info(_("No installations for these filters — widen the date range or clear filters."))
else:
    st.plotly_chart(
        charts.cumulative_with_milestones(series, reached, projection, narrowed, language.current())
    )
    caption = ui.milestone_caption(projection.row(0, named=True), narrowed, language.current())
    if caption:
        st.caption(caption)
ui.table(reached, "milestones", empty=_("No milestones are configured."))

st.subheader(_("Stock warnings"))
st.caption(_(ui.COMPANY_STOCK_NOTE))
stock = data_access.load(stock_on_hand, filters, config.cover_warning_days)
low = stock.filter(stock["low_cover"])
ui.table(
    low.select("product_code", "product_name", "stock_on_hand", "days_of_cover", "stockout_date"),
    "stock-warnings",
    empty=_("Every product has at least {days} days of cover.").format(
        days=config.cover_warning_days
    ),
)
