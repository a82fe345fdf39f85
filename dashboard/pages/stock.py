"""Keys & stock: do we have enough digital product keys for the coming weeks, per product?"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, labels, ui
from dashboard import data_access as da
from queries.scope import partners_narrowed
from queries.stock import allocation_vs_consumption, stock_on_hand

filters = ui.page_filters()
config = da.settings()
st.title("Keys & stock")
st.caption(
    f"Stock at {filters.as_of}; consumption over the 28 days ending then; allocation "
    f"and consumption per partner from {filters.date_from} to {filters.range_end}. "
    + ui.COMPANY_STOCK_NOTE
)
narrowed = partners_narrowed(filters)

stock = da.load(stock_on_hand, filters, config.cover_warning_days)
low = stock.filter(stock["low_cover"])
for row in low.iter_rows(named=True):
    st.warning(
        f"{row['product_code']} has {row['days_of_cover']:,.1f} days of cover left "
        f"(below {config.cover_warning_days}); projected stock-out {row['stockout_date']}."
    )
if stock.is_empty():
    st.info("No products match these filters — clear the product filter.")
    st.stop()
left, right = st.columns(2)
left.plotly_chart(charts.stock_by_product(stock, narrowed))
if stock["stockout_date"].is_null().all():
    right.info("No key was consumed in the last 28 days, so no stock-out date can be projected.")
else:
    right.plotly_chart(charts.stockout_dates(stock, filters.as_of, config.cover_warning_days))
ui.table(
    stock.select("product_code", "product_name", pl.exclude("product_code", "product_name")),
    "stock",
    empty="No products match these filters.",
    headers=labels.IN_VIEW_COLUMNS if narrowed else None,
    export=stock,
)

st.subheader("Allocation vs consumption per partner")
ui.table(
    da.load(allocation_vs_consumption, filters),
    "allocation-vs-consumption",
    empty="No keys were allocated to or consumed by these partners in the range.",
)
