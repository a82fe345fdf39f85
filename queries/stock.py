"""Digital-key stock: what is on hand per product, how fast it is used, how long it lasts.

Stock is computed from the timestamps, never from the `state` column, so a key consumed after
the as-of date is still in stock at it (DESIGN §4).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import partners, products
from queries.facts import key_event_counts
from queries.filters import Filters
from queries.run import fetch
from queries.scope import (
    partner_conditions,
    partner_in_scope,
    partners_narrowed,
    product_in_scope,
)

CONSUMPTION_WINDOW_DAYS = 28
DEFAULT_COVER_WARNING_DAYS = 21


def _sum_if(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)


def _in_scope(counts: Any, filters: Filters, scoped: bool) -> ColumnElement[bool]:
    """Whether key counts belong to a partner the filters and scope allow (all do unscoped)."""
    if not scoped:
        return sa.true()
    return sa.and_(sa.true(), *partner_in_scope(counts.partner_id, filters))


def stock_on_hand(
    connection: sa.Connection,
    filters: Filters,
    cover_warning_days: int = DEFAULT_COVER_WARNING_DAYS,
) -> pl.DataFrame:
    """One row per product at the as-of date: the company's stock, consumption and cover, and
    the stock and consumption of the partners in view beside them.

    Stock is the company's (DESIGN §4): the central stock runs out for everyone on the same
    day, so `stock_on_hand` (MAR + every partner), `mar_stock`, `consumption_per_day`,
    `days_of_cover` and `stockout_date` ignore the partner, region, country and manager
    filters and the viewer's scope; only the product filter narrows them.  `partner_stock`
    and `partners_consumption_per_day` are those of the partners in view (every partner when
    nothing narrows the view).  In stock = fulfilled by the as-of date, not consumed and not
    returned by it; consumption rate = keys consumed on the 28 days ending at the as-of date
    ÷ 28; days of cover = stock on hand ÷ rate, empty when nothing was consumed; the
    stock-out date is as-of + whole days of cover.
    """
    scoped = partners_narrowed(filters)
    window_first = filters.as_of - dt.timedelta(days=CONSUMPTION_WINDOW_DAYS - 1)
    position = key_event_counts(
        connection, filters, None, filters.as_of, period=None, per_partner=scoped
    )
    window = key_event_counts(
        connection, filters, window_first, filters.as_of, period=None, per_partner=scoped
    )
    e = position.c
    held_by_partner = e.allocated - e.consumed - e.returned_allocated
    per_product = (
        sa.select(
            e.product_id,
            sa.func.sum(
                e.fulfilled - e.consumed - e.returned_allocated - e.returned_unallocated
            ).label("in_stock"),
            _sum_if(e.at_partner, held_by_partner).label("all_partners"),
            _sum_if(sa.and_(e.at_partner, _in_scope(e, filters, scoped)), held_by_partner).label(
                "partners_in_view"
            ),
        )
        .group_by(e.product_id)
        .subquery()
    )
    w = window.c
    consumption = (
        sa.select(
            w.product_id,
            sa.func.sum(w.consumed).label("company"),
            _sum_if(sa.and_(w.at_partner, _in_scope(w, filters, scoped)), w.consumed).label(
                "partners_in_view"
            ),
        )
        .group_by(w.product_id)
        .subquery()
    )
    p = per_product.c
    statement = (
        sa.select(
            products.c.code,
            products.c.name,
            sa.func.coalesce(p.in_stock, 0),
            sa.func.coalesce(p.in_stock - p.all_partners, 0),
            sa.func.coalesce(p.partners_in_view, 0),
            sa.func.coalesce(consumption.c.company, 0),
            sa.func.coalesce(consumption.c.partners_in_view, 0),
        )
        .select_from(products)
        .outerjoin(per_product, p.product_id == products.c.id)
        .outerjoin(consumption, consumption.c.product_id == products.c.id)
        .where(*product_in_scope(products.c.id, filters))
        .order_by(products.c.code)
    )
    frame = fetch(
        connection,
        statement,
        {
            "product_code": pl.String,
            "product_name": pl.String,
            "stock_on_hand": pl.Int64,
            "mar_stock": pl.Int64,
            "partner_stock": pl.Int64,
            "consumed_28d": pl.Int64,
            "partners_consumed_28d": pl.Int64,
        },
    )
    rate = pl.col("consumed_28d") / CONSUMPTION_WINDOW_DAYS
    cover = pl.when(pl.col("consumed_28d") > 0).then(pl.col("stock_on_hand") / rate)
    return frame.with_columns(
        # Full precision (DESIGN §6): the screen rounds, files do not.
        consumption_per_day=rate,
        days_of_cover=cover,
        stockout_date=pl.lit(filters.as_of) + pl.duration(days=cover.floor().cast(pl.Int64)),
        low_cover=cover.fill_null(float("inf")) < cover_warning_days,
        partners_consumption_per_day=pl.col("partners_consumed_28d") / CONSUMPTION_WINDOW_DAYS,
    ).select(
        "product_code",
        "stock_on_hand",
        "mar_stock",
        "partner_stock",
        "consumption_per_day",
        "days_of_cover",
        "stockout_date",
        "low_cover",
        "partners_consumption_per_day",
        "consumed_28d",
        "product_name",
    )


def allocation_vs_consumption(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per partner in scope: keys allocated, consumed and returned in the range, and
    the partner's keys in stock at the as-of date; partners without any key activity left out.
    """
    flows = key_event_counts(
        connection, filters, filters.date_from, filters.range_end, period=None, per_partner=True
    )
    position = key_event_counts(
        connection, filters, None, filters.as_of, period=None, per_partner=True
    )
    f = flows.c
    per_partner_flows = (
        sa.select(
            f.partner_id,
            sa.func.sum(f.allocated).label("allocated"),
            sa.func.sum(f.consumed).label("consumed"),
            sa.func.sum(f.returned_allocated + f.returned_unallocated).label("returned"),
        )
        .group_by(f.partner_id)
        .subquery()
    )
    e = position.c
    per_partner_stock = (
        sa.select(
            e.partner_id,
            sa.func.sum(e.allocated - e.consumed - e.returned_allocated).label("on_hand"),
        )
        .group_by(e.partner_id)
        .subquery()
    )
    in_range = per_partner_flows.c
    allocated = sa.func.coalesce(in_range.allocated, 0)
    consumed = sa.func.coalesce(in_range.consumed, 0)
    returned = sa.func.coalesce(in_range.returned, 0)
    on_hand = per_partner_stock.c.on_hand
    statement = (
        sa.select(
            partners.c.id,
            partners.c.name,
            allocated.label("keys_allocated"),
            consumed,
            returned,
            on_hand,
        )
        .join(per_partner_stock, per_partner_stock.c.partner_id == partners.c.id)
        .outerjoin(per_partner_flows, in_range.partner_id == partners.c.id)
        .where(*partner_conditions(filters))
        .where(sa.or_(allocated > 0, consumed > 0, returned > 0, on_hand > 0))
        .order_by(allocated.desc(), partners.c.id)
    )
    return fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "keys_allocated": pl.Int64,
            "keys_consumed": pl.Int64,
            "keys_returned": pl.Int64,
            "keys_in_stock": pl.Int64,
        },
    )
