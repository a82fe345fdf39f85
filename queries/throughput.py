"""Installation throughput: successes and failures per period, cumulative totals, milestones.

Installations are successful install attempts counted by `installed_at`; the cumulative
total counts every success since the first one, not only those in the range (DESIGN §4).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Literal

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import products
from queries.facts import installation_counts
from queries.filters import Filters
from queries.periods import is_partial
from queries.run import fetch
from queries.sql import Grain, period_start

TRAILING_DAYS = 28
Breakdown = Literal["product", "segment", "site"]


def _successes(
    connection: sa.Connection, filters: Filters, first: dt.date | None, last: dt.date
) -> sa.ScalarSelect[int]:
    days = installation_counts(connection, filters, first, last, period=None)
    return sa.select(sa.func.coalesce(sa.func.sum(days.c.successes), 0)).scalar_subquery()


def throughput(connection: sa.Connection, filters: Filters, grain: Grain = "day") -> pl.DataFrame:
    """One row per day, ISO week (Monday) or month of the range that had install attempts.

    `failure_rate` = failed ÷ all attempts; `cumulative` = successes since the very first one,
    up to the end of the period; `partial` = the period is only partly inside the range or
    not over at the as-of date, so its counts cover fewer days than a whole period.
    """
    days = installation_counts(
        connection, filters, filters.date_from, filters.range_end, period="day"
    )
    period = period_start(days.c.day, grain).label("period")
    per_period = (
        sa.select(
            period,
            sa.func.sum(days.c.successes).label("installations"),
            sa.func.sum(days.c.failures).label("failed"),
        )
        .group_by(period)
        .subquery()
    )
    before = filters.date_from - dt.timedelta(days=1)
    running = sa.func.sum(per_period.c.installations).over(order_by=per_period.c.period)
    statement = sa.select(
        per_period.c.period,
        per_period.c.installations,
        per_period.c.failed,
        running + _successes(connection, filters, None, before),
    ).order_by(per_period.c.period)
    frame = fetch(
        connection,
        statement,
        {"period": pl.Date, "installations": pl.Int64, "failed": pl.Int64, "cumulative": pl.Int64},
    )
    attempts = pl.col("installations") + pl.col("failed")
    return frame.with_columns(
        attempts=attempts,
        failure_rate=pl.col("failed") / attempts,
        partial=is_partial(grain, filters),
    ).select(
        "period", "installations", "failed", "cumulative", "attempts", "failure_rate", "partial"
    )


def _daily_cumulative(connection: sa.Connection, filters: Filters) -> sa.CTE:
    """Successes up to and including each day; a CTE, so that the database computes it once
    for all the milestones asked about in one statement (EXPLAIN: once per milestone)."""
    days = installation_counts(connection, filters, None, filters.as_of, period="day")
    daily = (
        sa.select(days.c.day, sa.func.sum(days.c.successes).label("n"))
        .group_by(days.c.day)
        .having(sa.func.sum(days.c.successes) > 0)
        .subquery()
    )
    return sa.select(
        daily.c.day, sa.func.sum(daily.c.n).over(order_by=daily.c.day).label("total")
    ).cte("cumulative")


def milestones(connection: sa.Connection, filters: Filters, targets: Sequence[int]) -> pl.DataFrame:
    """One row per milestone: the first day on which the cumulative total reached it, or
    empty when it has not been reached by the as-of date."""
    cumulative = _daily_cumulative(connection, filters)
    firsts = [
        sa.select(sa.func.min(cumulative.c.day))
        .where(cumulative.c.total >= sa.bindparam(f"m{i}", target, sa.Integer))
        .scalar_subquery()
        for i, target in enumerate(targets)
    ]
    reached = list(connection.execute(sa.select(*firsts)).one()) if targets else []
    return pl.DataFrame(
        {"milestone": list(targets), "reached_on": reached},
        schema={"milestone": pl.Int64, "reached_on": pl.Date},
    )


def next_milestone(
    connection: sa.Connection, filters: Filters, targets: Sequence[int]
) -> pl.DataFrame:
    """One row: the next milestone not yet reached and its date projected from the trailing
    28-day rate (empty when the rate is zero or every milestone is reached)."""
    trailing_from = filters.as_of - dt.timedelta(days=TRAILING_DAYS - 1)
    statement = sa.select(
        _successes(connection, filters, None, filters.as_of),
        _successes(connection, filters, trailing_from, filters.as_of),
    )
    total, trailing = (int(v) for v in connection.execute(statement).one())
    rate = trailing / TRAILING_DAYS
    target = next((t for t in sorted(targets) if t > total), None)
    projected = None
    if target is not None and rate > 0:
        projected = filters.as_of + dt.timedelta(days=math.ceil((target - total) / rate))
    return pl.DataFrame(
        {
            "milestone": [target],
            "current_total": [total],
            "remaining": [target - total if target is not None else None],
            "rate_per_day": [rate],
            "projected_on": [projected],
        },
        schema={
            "milestone": pl.Int64,
            "current_total": pl.Int64,
            "remaining": pl.Int64,
            "rate_per_day": pl.Float64,
            "projected_on": pl.Date,
        },
    )


def installation_breakdown(
    connection: sa.Connection, filters: Filters, by: Breakdown
) -> pl.DataFrame:
    """Installations and failures in the range per product, segment or site (partners have
    their own metric, `partner_volumes`)."""
    days = installation_counts(
        connection,
        filters,
        filters.date_from,
        filters.range_end,
        period=None,
        per_partner=by == "site",
        detailed=True,
    )
    source: sa.FromClause = days
    if by == "product":
        column: ColumnElement[str] = products.c.code
        source = days.join(products, products.c.id == days.c.product_id)
    else:
        column = sa.func.coalesce(days.c[by], "(unknown)")
    label = column.label(by)
    installed = sa.func.sum(days.c.successes)
    statement = (
        sa.select(label, installed, sa.func.sum(days.c.failures))
        .select_from(source)
        .group_by(label)
        .order_by(installed.desc(), label)
    )
    frame = fetch(
        connection, statement, {by: pl.String, "installations": pl.Int64, "failed": pl.Int64}
    )
    attempts = pl.col("installations") + pl.col("failed")
    return frame.with_columns(failure_rate=pl.col("failed") / attempts)
