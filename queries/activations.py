"""Microsoft's answers to the computer build reports: denied activations and the denial rate
(DESIGN §4b), counted by `acknowledged_at` in the range."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import denied_at, keys, partners
from queries.facts import key_event_counts
from queries.filters import Filters
from queries.key_stages import ACTIVATION_CODES, UNKNOWN_CODE, held_in_view
from queries.run import fetch
from queries.scope import partner_conditions, partner_in_scope
from queries.sql import period_start, within

_k = keys.c


def _denied_in_range(filters: Filters) -> list[ColumnElement[bool]]:
    """Keys in view that Microsoft denied on a day of the range: answered with anything but
    an enabling code (read from the index of denied keys, data/schema.py)."""
    return [
        within(denied_at(), filters.date_from, filters.range_end),
        *held_in_view(filters, filters.as_of),
    ]


def _meaning(codes: pl.Expr) -> pl.Expr:
    return codes.replace_strict(ACTIVATION_CODES, default=UNKNOWN_CODE, return_dtype=pl.String)


def activation_denials(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per partner and code with keys denied in the range, by partner id then code.

    Denied: answered with a code other than `00` and `02`; `meaning` says what the code
    stands for (an empty code reads as "unknown code").
    """
    code = sa.func.coalesce(_k.activation_code, "").label("code")
    statement = (
        sa.select(_k.partner_id, partners.c.name, code, sa.func.count())
        .join(partners, partners.c.id == _k.partner_id)
        .where(*_denied_in_range(filters))
        .group_by(_k.partner_id, partners.c.name, code)
        .order_by(_k.partner_id, code)
    )
    frame = fetch(
        connection,
        statement,
        {"partner_id": pl.Int64, "partner_name": pl.String, "code": pl.String, "keys": pl.Int64},
    )
    return frame.with_columns(_meaning(pl.col("code")).alias("meaning"))


def denials_over_time(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per month (its first day) and code with keys denied in the range, by month
    then code: the trend behind `activation_denials`."""
    month = period_start(_k.acknowledged_at, "month").label("month")
    code = sa.func.coalesce(_k.activation_code, "").label("code")
    statement = (
        sa.select(month, code, sa.func.count())
        .where(*_denied_in_range(filters))
        .group_by(month, code)
        .order_by(month, code)
    )
    frame = fetch(connection, statement, {"month": pl.Date, "code": pl.String, "keys": pl.Int64})
    return frame.with_columns(_meaning(pl.col("code")).alias("meaning"))


def _answers(connection: sa.Connection, filters: Filters, *, per_partner: bool) -> sa.Subquery:
    """Keys in view answered in the range, `activated` and `denied`, from the key events
    (the rollups); an answer comes after the allocation, so its partner holds the key."""
    scoped = per_partner or bool(partner_conditions(filters))
    events = key_event_counts(
        connection,
        filters,
        filters.date_from,
        filters.range_end,
        period=None,
        per_partner=scoped,
        events=("acknowledged_at",),
    )
    e = events.c
    columns = [e.partner_id] if per_partner else []
    conditions = partner_in_scope(e.partner_id, filters) if scoped else []
    return (
        sa.select(
            *columns,
            sa.func.sum(e.activated + e.denied).label("acknowledged"),
            sa.func.sum(e.denied).label("denied"),
        )
        .where(*conditions)
        .group_by(*columns)
        .subquery()
    )


def partner_denial_rates(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per partner with keys answered in the range, by partner id: keys answered,
    keys denied, and denial rate = denied ÷ answered."""
    answers = _answers(connection, filters, per_partner=True)
    a = answers.c
    statement = (
        sa.select(a.partner_id, a.acknowledged, a.denied)
        .where(a.partner_id.is_not(None), a.acknowledged > 0)
        .order_by(a.partner_id)
    )
    frame = fetch(
        connection,
        statement,
        {"partner_id": pl.Int64, "acknowledged": pl.Int64, "denied": pl.Int64},
    )
    return frame.with_columns(denial_rate=pl.col("denied") / pl.col("acknowledged"))


def denial_rate(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row: keys answered in the range, keys denied, and denial rate = denied ÷ answered
    (empty when nothing was answered)."""
    a = _answers(connection, filters, per_partner=False).c
    statement = sa.select(sa.func.coalesce(a.acknowledged, 0), sa.func.coalesce(a.denied, 0))
    frame = fetch(connection, statement, {"acknowledged": pl.Int64, "denied": pl.Int64})
    rate = pl.when(pl.col("acknowledged") > 0).then(pl.col("denied") / pl.col("acknowledged"))
    return frame.with_columns(denial_rate=rate)
