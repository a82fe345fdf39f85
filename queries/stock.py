"""Digital-key stock: what is on hand per product, how fast it is used, how long it lasts.

Stock is computed from the timestamps, never from the `state` column, so a key consumed after
the as-of date is still in stock at it (DESIGN §4).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import keys, partners, products
from queries.filters import Filters
from queries.run import fetch
from queries.scope import partner_conditions, partner_in_scope, product_in_scope
from queries.sql import count_where, happened_by, not_happened_by, within

CONSUMPTION_WINDOW_DAYS = 28
DEFAULT_COVER_WARNING_DAYS = 21


def in_stock(day: dt.date) -> ColumnElement[bool]:
    """Fulfilled by `day`, and neither consumed nor returned by it."""
    return sa.and_(
        happened_by(keys.c.fulfilled_at, day),
        not_happened_by(keys.c.consumed_at, day),
        not_happened_by(keys.c.returned_at, day),
    )


def _consumed_in_window(day: dt.date) -> ColumnElement[bool]:
    first = day - dt.timedelta(days=CONSUMPTION_WINDOW_DAYS - 1)
    return within(keys.c.consumed_at, first, day)


def stock_on_hand(
    connection: sa.Connection,
    filters: Filters,
    cover_warning_days: int = DEFAULT_COVER_WARNING_DAYS,
) -> pl.DataFrame:
    """One row per product at the as-of date: MAR and partner stock, consumption, cover.

    MAR stock is the keys not allocated to a partner by the as-of date; partner stock and the
    consumption rate honour the partner filters and scope.  Consumption rate = keys consumed
    on the 28 days ending at the as-of date ÷ 28; days of cover = total stock ÷ rate, empty when
    nothing was consumed; the stock-out date is as-of + whole days of cover.
    """
    day = filters.as_of
    allocated = sa.and_(keys.c.partner_id.is_not(None), happened_by(keys.c.allocated_at, day))
    partner_scope = partner_in_scope(keys.c.partner_id, filters)
    statement = (
        sa.select(
            products.c.code,
            products.c.name,
            count_where(sa.and_(in_stock(day), sa.not_(allocated))),
            count_where(sa.and_(in_stock(day), allocated, *partner_scope)),
            count_where(sa.and_(_consumed_in_window(day), *partner_scope)),
        )
        .select_from(products)
        .outerjoin(keys, keys.c.product_id == products.c.id)
        .where(*product_in_scope(products.c.id, filters))
        .group_by(products.c.id, products.c.code, products.c.name)
        .order_by(products.c.code)
    )
    frame = fetch(
        connection,
        statement,
        {
            "product_code": pl.String,
            "product_name": pl.String,
            "mar_stock": pl.Int64,
            "partner_stock": pl.Int64,
            "consumed_28d": pl.Int64,
        },
    )
    rate = pl.col("consumed_28d") / CONSUMPTION_WINDOW_DAYS
    cover = pl.when(pl.col("consumed_28d") > 0).then(pl.col("stock_on_hand") / rate)
    return (
        frame.with_columns(stock_on_hand=pl.col("mar_stock") + pl.col("partner_stock"))
        .with_columns(
            consumption_per_day=rate.round(2),
            days_of_cover=cover.round(1),
            # From the exact cover: rounding for display must not move the date or the flag.
            stockout_date=pl.lit(day) + pl.duration(days=cover.floor().cast(pl.Int64)),
            low_cover=cover.fill_null(float("inf")) < cover_warning_days,
        )
        .select(
            "product_code",
            "stock_on_hand",
            "mar_stock",
            "partner_stock",
            "consumption_per_day",
            "days_of_cover",
            "stockout_date",
            "low_cover",
            "consumed_28d",
            "product_name",
        )
    )


def allocation_vs_consumption(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per partner in scope: keys allocated, consumed and returned in the range, and
    the partner's keys in stock at the as-of date; partners without any key activity left out.
    """
    first, last = filters.date_from, filters.range_end
    allocated = count_where(within(keys.c.allocated_at, first, last)).label("keys_allocated")
    consumed = count_where(within(keys.c.consumed_at, first, last))
    returned = count_where(within(keys.c.returned_at, first, last))
    on_hand = count_where(
        sa.and_(in_stock(filters.as_of), happened_by(keys.c.allocated_at, filters.as_of))
    )
    statement = (
        sa.select(partners.c.id, partners.c.name, allocated, consumed, returned, on_hand)
        .join(keys, keys.c.partner_id == partners.c.id)
        .where(*partner_conditions(filters), *product_in_scope(keys.c.product_id, filters))
        .group_by(partners.c.id, partners.c.name)
        .having(sa.or_(allocated > 0, consumed > 0, returned > 0, on_hand > 0))
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
