"""Where installation and key figures come from: the daily rollups where they are complete,
the raw tables after that.

Every installation and key metric aggregates one of the two day-grain sources below, so the
pages never know whether a rollup exists: the answer is the same either way (the rollup and
raw paths are compared in tests/test_rollups.py), only faster with it.  Today's partial day is
always read raw.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.rollups import installation_days_select, key_days_select
from data.schema import installation_rollup, installations, key_rollup, rollup_state
from queries.filters import Filters
from queries.scope import partner_in_scope, product_in_scope
from queries.sql import end_of, start_of


def rollup_through(connection: sa.Connection) -> dt.date | None:
    """The last day the rollups can answer for: complete, and before today (UTC)."""
    complete: dt.date | None = connection.execute(
        sa.select(rollup_state.c.complete_through)
    ).scalar()
    if complete is None:
        return None
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return min(complete, yesterday)


def _split(
    connection: sa.Connection, first: dt.date | None, last: dt.date
) -> tuple[tuple[dt.date | None, dt.date] | None, tuple[dt.date | None, dt.date] | None]:
    """The day ranges to read from the rollup and from the raw table (None: nothing)."""
    through = rollup_through(connection)
    if through is None or (first is not None and through < first):
        return None, (first, last)
    if through >= last:
        return (first, last), None
    return (first, through), (through + dt.timedelta(days=1), last)


def installation_days(
    connection: sa.Connection, filters: Filters, first: dt.date | None, last: dt.date
) -> sa.Subquery:
    """Installations per (day, partner, product, segment, site) with `successes` and
    `failures`, for days `first` (None: since the beginning) to `last`, filtered by every
    non-date filter and the viewer's scope."""
    from_rollup, from_raw = _split(connection, first, last)
    parts: list[sa.Select[Any]] = []
    if from_rollup is not None:
        r = installation_rollup.c
        parts.append(
            sa.select(
                r.day, r.partner_id, r.product_id, r.segment, r.site, r.successes, r.failures
            ).where(*_day_range(r.day, *from_rollup), *_conditions(r, filters))
        )
    if from_raw is not None:
        start, end = from_raw
        window = [installations.c.installed_at < end_of(end)]
        if start is not None:
            window.append(installations.c.installed_at >= start_of(start))
        parts.append(
            installation_days_select(sa.and_(*window, *_conditions(installations.c, filters)))
        )
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("installation_days")


def key_days(
    connection: sa.Connection, filters: Filters, first: dt.date | None, last: dt.date
) -> sa.Subquery:
    """Key events per (day, product, partner): fulfilled, allocated, consumed,
    returned_allocated and returned_unallocated, for days `first` to `last`, filtered by
    product.  Partner filters are left to the caller: MAR stock has no partner."""
    from_rollup, from_raw = _split(connection, first, last)
    parts: list[sa.Select[Any]] = []
    if from_rollup is not None:
        r = key_rollup.c
        parts.append(
            sa.select(
                r.day,
                r.product_id,
                r.partner_id,
                r.fulfilled,
                r.allocated,
                r.consumed,
                r.returned_allocated,
                r.returned_unallocated,
            ).where(*_day_range(r.day, *from_rollup), *product_in_scope(r.product_id, filters))
        )
    if from_raw is not None:
        start, end = from_raw
        events = key_days_select((None if start is None else start_of(start), end_of(end)))
        raw = events.subquery()
        parts.append(sa.select(raw).where(*product_in_scope(raw.c.product_id, filters)))
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("key_days")


def _day_range(column: Any, first: dt.date | None, last: dt.date) -> list[ColumnElement[bool]]:
    conditions = [column <= last]
    if first is not None:
        conditions.append(column >= first)
    return conditions


def _conditions(columns: Any, filters: Filters) -> list[ColumnElement[bool]]:
    conditions = [
        *partner_in_scope(columns.partner_id, filters),
        *product_in_scope(columns.product_id, filters),
    ]
    if filters.segments:
        conditions.append(columns.segment.in_(filters.segments))
    return conditions
