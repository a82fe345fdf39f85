"""The return window: unused keys about to lose, or past, their return credit, and the
returns made in the range (DESIGN §4b)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from data.schema import key_orders, keys, partners, products
from data.settings import ComplianceRules
from queries.filters import Filters
from queries.key_stages import (
    CREDIT_PREFIX,
    NO_CREDIT_PREFIX,
    held_in_view,
    holder_at,
    still_waiting,
)
from queries.run import fetch
from queries.sql import count_where, days_between, start_of, within

_k = keys.c
#: Return-window statuses in display order.
WINDOW_STATUSES = ("closing", "expired")
#: Money columns keep the cents of `key_orders.unit_price` exactly.
MONEY = pl.Decimal(18, 2)


def return_window(
    connection: sa.Connection, filters: Filters, rules: ComplianceRules | None = None
) -> pl.DataFrame:
    """One row per product, holder and status with unused keys old enough to matter at the
    as-of date, by product code, MAR before partners, partner id, then closing before expired.

    Unused: the stock-on-hand rule.  Age = as-of - the day the key was fulfilled; `closing`
    when `return_closing_days` [300] ≤ age ≤ `return_credit_days` [365], `expired` after
    that (no credit any more).  `partner_id` empty = MAR stock (never listed under a partner
    filter or scope).  `value` sums the keys' order unit prices; `min_days_left` =
    365 - the oldest key's age, negative once expired.
    """
    rules = rules or ComplianceRules()
    day = filters.as_of
    credit_days = rules.return_credit_days
    age = days_between(sa.literal(day, sa.Date), _k.fulfilled_at)
    holder = holder_at(day).label("partner_id")
    status = sa.case((age > credit_days, "expired"), else_="closing").label("status")
    # The stock-on-hand rule (fulfilled by the as-of date, neither consumed nor returned by
    # it), for keys at least `return_closing_days` old: fulfilled on or before as-of minus them.
    old_enough = start_of(day - dt.timedelta(days=rules.return_closing_days - 1))
    unused = still_waiting(_k.fulfilled_at, (_k.consumed_at, _k.returned_at), day, old_enough)
    aged = sa.union_all(
        *(
            sa.select(_k.product_id, holder, status, _k.fulfilled_at, key_orders.c.unit_price)
            .outerjoin(key_orders, key_orders.c.id == _k.order_id)
            .where(still, *held_in_view(filters, day))
            for still in unused
        )
    ).subquery()
    a = aged.c
    oldest = sa.func.min(a.fulfilled_at)
    statement = (
        sa.select(
            products.c.code,
            a.partner_id,
            a.status,
            sa.func.count(),
            sa.func.sum(a.unit_price),
            oldest,
            credit_days - days_between(sa.literal(day, sa.Date), oldest),
            partners.c.name,
        )
        .join(products, products.c.id == a.product_id)
        .outerjoin(partners, partners.c.id == a.partner_id)
        .group_by(products.c.code, a.partner_id, partners.c.name, a.status)
        .order_by(
            products.c.code,
            a.partner_id.is_not(None),
            a.partner_id,
            sa.case({name: i for i, name in enumerate(WINDOW_STATUSES)}, value=a.status),
        )
    )
    frame = fetch(
        connection,
        statement,
        {
            "product_code": pl.String,
            "partner_id": pl.Int64,
            "status": pl.String,
            "keys": pl.Int64,
            "value": MONEY,
            "oldest_fulfilled": pl.Datetime("us"),
            "min_days_left": pl.Int64,
            "partner_name": pl.String,
        },
    )
    return frame.with_columns(pl.col("oldest_fulfilled").dt.date())


def returns_in_range(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per product with keys in view returned in the range, by product code: returned
    with credit (code `O…`), without (`Q…`), and the order value returned without credit."""
    without_credit = _k.return_code.like(f"{NO_CREDIT_PREFIX}%")
    statement = (
        sa.select(
            products.c.code,
            count_where(_k.return_code.like(f"{CREDIT_PREFIX}%")),
            count_where(without_credit),
            sa.func.sum(sa.case((without_credit, key_orders.c.unit_price))),
        )
        .join(products, products.c.id == _k.product_id)
        .outerjoin(key_orders, key_orders.c.id == _k.order_id)
        .where(
            within(_k.returned_at, filters.date_from, filters.range_end),
            *held_in_view(filters, filters.as_of),
        )
        .group_by(products.c.code)
        .order_by(products.c.code)
    )
    return fetch(
        connection,
        statement,
        {
            "product_code": pl.String,
            "with_credit": pl.Int64,
            "without_credit": pl.Int64,
            "value_without_credit": MONEY,
        },
    )
