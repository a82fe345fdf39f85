"""Keys & stock: do we have enough digital product keys for the coming weeks, per product?"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, labels, language, ui
from dashboard import data_access as da
from dashboard.language import _
from queries.scope import partners_narrowed
from queries.stock import allocation_vs_consumption, stock_on_hand

filters = ui.page_filters()
config = da.settings()
st.title(_("Keys & stock"))
st.caption(
    _(
        "Stock at {as_of}; consumption over the 28 days ending then; allocation and "
        "consumption per partner from {start} to {end}."
    ).format(
        as_of=ui.date(filters.as_of),
        start=ui.date(filters.date_from),
        end=ui.date(filters.range_end),
    )
    + " "
    + _(ui.COMPANY_STOCK_NOTE)
)
narrowed = partners_narrowed(filters)

stock = da.load(stock_on_hand, filters, config.cover_warning_days)
low = stock.filter(stock["low_cover"])
for row in low.iter_rows(named=True):
    st.warning(
        _(
            "{product} has {days} days of cover left (below {threshold}); projected stock-out "
            "{day}."
        ).format(
            product=row["product_code"],
            days=ui.number(row["days_of_cover"], decimals=1),
            threshold=config.cover_warning_days,
            day=ui.date(row["stockout_date"]),
        )
    )
if stock.is_empty():
    st.info(_("No products match these filters — clear the product filter."))
    st.stop()
left, right = st.columns(2)
left.plotly_chart(charts.stock_by_product(stock, narrowed, language.current()))
if stock["stockout_date"].is_null().all():
    right.info(_("No key was consumed in the last 28 days, so no stock-out date can be projected."))
else:
    right.plotly_chart(
        charts.stockout_dates(stock, filters.as_of, config.cover_warning_days, language.current())
    )
ui.table(
    stock.select("product_code", "product_name", pl.exclude("product_code", "product_name")),
    "stock",
    empty=_("No products match these filters."),
    headers=labels.IN_VIEW_COLUMNS if narrowed else None,
    export=stock,
)

st.subheader(_("Allocation vs consumption per partner"))
ui.table(
    da.load(allocation_vs_consumption, filters),
    "allocation-vs-consumption",
    empty=_("No keys were allocated to or consumed by these partners in the range."),
)
