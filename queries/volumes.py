"""Partner volumes: installations and keys allocated per partner over the date range."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from data.schema import partners
from queries.facts import installation_counts, key_event_counts
from queries.filters import Filters
from queries.periods import is_partial
from queries.run import fetch
from queries.scope import partner_conditions
from queries.sql import Grain, period_start


def _installations_per_partner(connection: sa.Connection, filters: Filters) -> sa.Subquery:
    days = installation_counts(
        connection, filters, filters.date_from, filters.range_end, period=None, per_partner=True
    )
    return (
        sa.select(days.c.partner_id, sa.func.sum(days.c.successes).label("n"))
        .group_by(days.c.partner_id)
        .subquery()
    )


def partner_volumes(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per partner in scope, zeros included, most installations first.

    `installations` counts successful installations in the range; `keys_allocated` counts the
    partner's keys allocated in the range, also when returned later.  `previous_installations`
    is the same count for the range of equal length just before, for trends.
    """
    current = _installations_per_partner(connection, filters)
    previous = _installations_per_partner(connection, filters.previous_period())
    events = key_event_counts(
        connection, filters, filters.date_from, filters.range_end, period=None, per_partner=True
    )
    allocated = (
        sa.select(events.c.partner_id, sa.func.sum(events.c.allocated).label("n"))
        .where(events.c.partner_id.is_not(None))
        .group_by(events.c.partner_id)
        .subquery()
    )
    installed = sa.func.coalesce(current.c.n, 0)
    statement = (
        sa.select(
            partners.c.id,
            partners.c.name,
            installed.label("installations"),
            sa.func.coalesce(allocated.c.n, 0),
            sa.func.coalesce(previous.c.n, 0),
            partners.c.country,
            partners.c.region,
        )
        .outerjoin(current, current.c.partner_id == partners.c.id)
        .outerjoin(previous, previous.c.partner_id == partners.c.id)
        .outerjoin(allocated, allocated.c.partner_id == partners.c.id)
        .where(*partner_conditions(filters))
        .order_by(installed.desc(), partners.c.id)
    )
    frame = fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "installations": pl.Int64,
            "keys_allocated": pl.Int64,
            "previous_installations": pl.Int64,
            "country": pl.String,
            "region": pl.String,
        },
    )
    total = frame["installations"].sum()
    return frame.with_columns(
        share=pl.col("installations") / total if total else pl.lit(0.0),
        change=pl.col("installations") - pl.col("previous_installations"),
    ).select(
        "partner_id",
        "partner_name",
        "installations",
        "keys_allocated",
        "share",
        "previous_installations",
        "change",
        "country",
        "region",
    )


def partner_volume_series(
    connection: sa.Connection, filters: Filters, grain: Grain = "week"
) -> pl.DataFrame:
    """One row per partner and period that had successful installations in the range;
    `partial` marks a period only partly inside the range or not over at the as-of date."""
    days = installation_counts(
        connection, filters, filters.date_from, filters.range_end, period="day", per_partner=True
    )
    period = period_start(days.c.day, grain).label("period")
    installed = sa.func.sum(days.c.successes)
    statement = (
        sa.select(period, partners.c.id, partners.c.name, installed)
        .join(partners, partners.c.id == days.c.partner_id)
        .group_by(period, partners.c.id, partners.c.name)
        .having(installed > 0)
        .order_by(period, partners.c.id)
    )
    frame = fetch(
        connection,
        statement,
        {
            "period": pl.Date,
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "installations": pl.Int64,
        },
    )
    return frame.with_columns(partial=is_partial(grain, filters))
