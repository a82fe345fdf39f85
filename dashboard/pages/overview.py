"""Overview: management's landing page — KPIs with deltas, milestones, stock warnings."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data_access, ui
from queries.kpis import KPIS, overview_kpis
from queries.scope import partners_narrowed
from queries.stock import stock_on_hand
from queries.throughput import milestones, next_milestone, throughput

filters = ui.page_filters()
config = data_access.settings()
st.title("Overview")
st.caption(
    f"{filters.date_from} to {filters.range_end}, compared with the {filters.range_days} days "
    "before."
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
        "Keys in stock and days of cover are the company's; the other figures are those of "
        "the partners in view."
    )

series = data_access.load(throughput, filters, "day")
reached = data_access.load(milestones, filters, config.milestones)
projection = data_access.load(next_milestone, filters, config.milestones)
if series.is_empty():
    st.info("No installations for these filters — widen the date range or clear filters.")
else:
    st.plotly_chart(charts.cumulative_with_milestones(series, reached, projection, narrowed))
    caption = ui.milestone_caption(projection.row(0, named=True), narrowed)
    if caption:
        st.caption(caption)
ui.table(reached, "milestones", empty="No milestones are configured.")

st.subheader("Stock warnings")
st.caption(ui.COMPANY_STOCK_NOTE)
stock = data_access.load(stock_on_hand, filters, config.cover_warning_days)
low = stock.filter(stock["low_cover"])
ui.table(
    low.select("product_code", "product_name", "stock_on_hand", "days_of_cover", "stockout_date"),
    "stock-warnings",
    empty=f"Every product has at least {config.cover_warning_days} days of cover.",
)
