"""The RRP → TPR conversion funnel: who reached which stage, how fast, and who is stuck.

A stage counts when its own timestamp is set and not after the as-of date; a lost partner
still counts for the stages it reached (DESIGN §4).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import conversions, partners
from queries.filters import Filters
from queries.run import fetch
from queries.scope import partner_in_scope
from queries.sql import (
    Grain,
    count_where,
    days_between,
    end_of,
    happened_by,
    not_happened_by,
    period_start,
    within,
)

STAGES: tuple[tuple[str, ColumnElement[Any]], ...] = (
    ("registered", conversions.c.rrp_registered_at),
    ("contacted", conversions.c.contacted_at),
    ("applied", conversions.c.applied_at),
    ("contract_signed", conversions.c.contract_signed_at),
    ("first_order", conversions.c.first_order_at),
)


#: How long a former RRP has waited at its stage, in the order worth calling: stalled but
#: still warm first, then cooling, then those still moving on their own, and last those gone
#: silent for a year (lowest, from, to days; `to` None = no upper bound).
WAITING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1 to 3 months", 30, 89),
    ("3 to 12 months", 90, 364),
    ("under a month", 0, 29),
    ("a year or more", 365, None),
)


def _waiting_bucket(days: ColumnElement[int]) -> tuple[ColumnElement[str], ColumnElement[int]]:
    """The bucket of a wait in days, and its place in the calling order."""
    whens = [
        (days >= low if high is None else days.between(low, high), (name, i))
        for i, (name, low, high) in enumerate(WAITING_BUCKETS)
    ]
    return (
        sa.case(*((when, name) for when, (name, _) in whens)),
        sa.case(*((when, i) for when, (_, i) in whens), else_=len(WAITING_BUCKETS)),
    )


def _in_scope(filters: Filters) -> list[ColumnElement[bool]]:
    return partner_in_scope(conversions.c.partner_id, filters)


def conversion_funnel(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per stage, in funnel order: former RRPs that reached it by the as-of date."""
    counts = sa.select(
        *(count_where(happened_by(column, filters.as_of)) for _, column in STAGES)
    ).where(*_in_scope(filters))
    values = [int(v) for v in connection.execute(counts).one()]
    registered = values[0]
    return pl.DataFrame(
        {
            "stage": [name for name, _ in STAGES],
            "partners": values,
            "share_of_registered": [v / registered if registered else None for v in values],
        },
        schema={"stage": pl.String, "partners": pl.Int64, "share_of_registered": pl.Float64},
    )


def time_to_convert(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """The distribution of contract_signed_at - contacted_at in whole days: one row per value."""
    days = days_between(conversions.c.contract_signed_at, conversions.c.contacted_at).label("days")
    statement = (
        sa.select(days, sa.func.count())
        .where(
            happened_by(conversions.c.contacted_at, filters.as_of),
            happened_by(conversions.c.contract_signed_at, filters.as_of),
            *_in_scope(filters),
        )
        .group_by(days)
        .order_by(days)
    )
    return fetch(connection, statement, {"days": pl.Int64, "partners": pl.Int64})


def median_days_to_convert(distribution: pl.DataFrame) -> float | None:
    """The median of a `time_to_convert` distribution, or None when nobody converted."""
    if distribution.is_empty():
        return None
    values = distribution.select(pl.col("days").repeat_by("partners").explode())["days"]
    return float(values.median())  # type: ignore[arg-type]


def conversion_summary(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row: registered, converted (contract signed), rate, lost and median days to convert."""
    statement = sa.select(
        count_where(happened_by(conversions.c.rrp_registered_at, filters.as_of)),
        count_where(happened_by(conversions.c.contract_signed_at, filters.as_of)),
        count_where(happened_by(conversions.c.lost_at, filters.as_of)),
    ).where(*_in_scope(filters))
    registered, converted, lost = (int(v) for v in connection.execute(statement).one())
    return pl.DataFrame(
        {
            "registered": [registered],
            "converted": [converted],
            "conversion_rate": [converted / registered if registered else None],
            "lost": [lost],
            "median_days_to_convert": [
                median_days_to_convert(time_to_convert(connection, filters))
            ],
        },
        schema={
            "registered": pl.Int64,
            "converted": pl.Int64,
            "conversion_rate": pl.Float64,
            "lost": pl.Int64,
            "median_days_to_convert": pl.Float64,
        },
    )


def conversions_over_time(
    connection: sa.Connection, filters: Filters, grain: Grain = "month"
) -> pl.DataFrame:
    """Contracts signed and partners lost per period in the range; empty periods left out."""
    signed = sa.select(
        period_start(conversions.c.contract_signed_at, grain).label("period"),
        sa.literal("contract_signed").label("event"),
    ).where(
        within(conversions.c.contract_signed_at, filters.date_from, filters.range_end),
        *_in_scope(filters),
    )
    lost = sa.select(
        period_start(conversions.c.lost_at, grain).label("period"),
        sa.literal("lost").label("event"),
    ).where(
        within(conversions.c.lost_at, filters.date_from, filters.range_end), *_in_scope(filters)
    )
    events = sa.union_all(signed, lost).subquery()
    statement = (
        sa.select(
            events.c.period,
            count_where(events.c.event == "contract_signed"),
            count_where(events.c.event == "lost"),
        )
        .group_by(events.c.period)
        .order_by(events.c.period)
    )
    return fetch(
        connection,
        statement,
        {"period": pl.Date, "contracts_signed": pl.Int64, "lost": pl.Int64},
    )


def lost_reasons(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per reason given by partners lost by the as-of date, most frequent first."""
    reason = sa.func.coalesce(conversions.c.lost_reason, "(no reason given)").label("reason")
    statement = (
        sa.select(reason, sa.func.count().label("partners"))
        .where(happened_by(conversions.c.lost_at, filters.as_of), *_in_scope(filters))
        .group_by(reason)
        .order_by(sa.desc("partners"), reason)
    )
    return fetch(connection, statement, {"reason": pl.String, "partners": pl.Int64})


def _furthest_stage(as_of: Any) -> tuple[ColumnElement[str], ColumnElement[Any]]:
    """The last stage reached by the as-of date and the timestamp it was reached at."""
    reached = [(name, column) for name, column in reversed(STAGES)]
    stage = sa.case(*((happened_by(c, as_of), name) for name, c in reached), else_="registered")
    since = sa.case(*((happened_by(c, as_of), c) for _, c in reached), else_=None)
    return stage, since


def stuck_partners(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """Former RRPs not lost and without a first order by the as-of date: who to call.

    One row per partner with the furthest stage reached, since when, how many days it has
    been there and that wait's bucket (WAITING_BUCKETS); within each stage in the calling
    order of the buckets, longest waiting first within a bucket.
    """
    stage, since = _furthest_stage(filters.as_of)
    waiting = days_between(sa.literal(filters.as_of, sa.Date), since)
    bucket, priority = _waiting_bucket(waiting)
    order = sa.case(*((stage == name, i) for i, (name, _) in enumerate(STAGES)), else_=9)
    statement = (
        sa.select(
            conversions.c.partner_id,
            partners.c.name,
            stage.label("stage"),
            since,
            waiting,
            bucket,
        )
        .join(partners, partners.c.id == conversions.c.partner_id)
        .where(
            happened_by(conversions.c.rrp_registered_at, filters.as_of),
            not_happened_by(conversions.c.first_order_at, filters.as_of),
            not_happened_by(conversions.c.lost_at, filters.as_of),
            *_in_scope(filters),
        )
        .order_by(order, priority, waiting.desc(), conversions.c.partner_id)
    )
    return fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "stage": pl.String,
            "since": pl.Datetime("us"),
            "days_at_stage": pl.Int64,
            "waiting": pl.String,
        },
    ).with_columns(pl.col("since").dt.date())


def lost_partners(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """Partners lost by the as-of date with their reason and the last stage they reached."""
    stage, _ = _furthest_stage(filters.as_of)
    statement = (
        sa.select(
            conversions.c.partner_id,
            partners.c.name,
            stage.label("stage"),
            conversions.c.lost_at,
            conversions.c.lost_reason,
        )
        .join(partners, partners.c.id == conversions.c.partner_id)
        .where(happened_by(conversions.c.lost_at, filters.as_of), *_in_scope(filters))
        .order_by(conversions.c.lost_at.desc(), conversions.c.partner_id)
    )
    return (
        fetch(
            connection,
            statement,
            {
                "partner_id": pl.Int64,
                "partner_name": pl.String,
                "last_stage": pl.String,
                "lost_at": pl.Datetime("us"),
                "reason": pl.String,
            },
        )
        .with_columns(pl.col("lost_at").dt.date().alias("lost_on"))
        .drop("lost_at")
        .select("partner_id", "partner_name", "last_stage", "lost_on", "reason")
    )


def conversion_history(
    connection: sa.Connection, filters: Filters, partner_id: int
) -> pl.DataFrame:
    """One row per stage one former RRP reached by the as-of date, in funnel order, then
    `lost` when it was lost; empty for a partner that was never an RRP."""
    stages = [*STAGES, ("lost", conversions.c.lost_at)]
    statement = sa.select(*(column for _, column in stages)).where(
        conversions.c.partner_id == partner_id, *_in_scope(filters)
    )
    row = connection.execute(statement).first()
    horizon = end_of(filters.as_of)
    reached = [
        (name, stamp.date())
        for (name, _), stamp in zip(stages, row or (), strict=False)
        if stamp is not None and stamp < horizon
    ]
    return pl.DataFrame(reached, schema={"stage": pl.String, "reached_on": pl.Date}, orient="row")


def stuck_conversions(
    connection: sa.Connection, filters: Filters, longer_than_days: int
) -> pl.DataFrame:
    """One row per former RRP that has waited more than `longer_than_days` days at its stage
    at the as-of date (not lost, no first order yet), longest waiting first, then partner id.

    `stuck_partners` lists everyone still on the way; this is the part of it that needs a call.
    """
    return (
        stuck_partners(connection, filters)
        .filter(pl.col("days_at_stage") > longer_than_days)
        .sort(["days_at_stage", "partner_id"], descending=[True, False])
    )
