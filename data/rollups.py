"""Rollups of installations and key events, kept by the loaders.

At ten million installations the pages cannot aggregate the raw tables on every view; they
read these tables instead.  Two day-grain rollups are built from the raw tables; from them,
coarser ones: per month (ranges and positions over years per partner, also without product,
segment and site) and day totals without partners (the management views).
`rollup_state.complete_through` says up to which day the rollups are complete: the query
layer reads them up to that day and the raw tables after it (queries/facts.py), so a row
written after the last refresh is never missed.
Loaders refresh what they touched (`refresh_days`); `mar-insight refresh` rebuilds all.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.between import Between, within_between
from data.compliance_rollups import refresh_compliance
from data.dialect import period_start
from data.schema import (
    INSTALLATION_COUNTS,
    KEY_EVENT_COUNTS,
    installation_day_totals,
    installation_month_rollup,
    installation_partner_months,
    installation_rollup,
    installations,
    is_enabling,
    key_day_totals,
    key_month_rollup,
    key_rollup,
    keys,
    rollup_state,
)

#: Names the set of rollup tables: a database whose state names another set (built by an
#: older version, without the coarser or the compliance tables) is read raw until
#: `mar-insight refresh`.
ROLLUP_NAME = "daily+monthly+lifecycle+compliance"
#: The rollups derived from the two daily ones (data/schema.py says what each holds).
_DERIVED = (
    installation_month_rollup,
    installation_partner_months,
    installation_day_totals,
    key_month_rollup,
    key_day_totals,
)
ROLLUP_TABLES = (installation_rollup, key_rollup, *_DERIVED)
#: The key timestamps the rollups count events of.
KEY_EVENTS = (
    "fulfilled_at",
    "allocated_at",
    "consumed_at",
    "bound_at",
    "reported_at",
    "acknowledged_at",
    "returned_at",
)


@functools.lru_cache(maxsize=64)
def installation_rows(between: Between = None) -> sa.Select[Any]:
    """One row per install attempt in [start, end) (start None: from the beginning; None:
    all): its day, partner, product, segment, site, and 1 in `successes` or `failures`.

    Summed up by the rollups, and by the query layer for the days after them: one
    aggregation, not two (EXPLAIN showed the inner one cost more than reading the rows).
    Cached, as is `key_event_rows`: every metric of a page reads the same days raw, and
    building the statement was a large part of a metric's time in Python (profile).
    """
    success = installations.c.status == "success"
    statement = sa.select(
        period_start(installations.c.installed_at, "day").label("day"),
        installations.c.partner_id,
        installations.c.product_id,
        installations.c.segment,
        installations.c.site,
        sa.case((success, 1), else_=0).label("successes"),
        sa.case((success, 0), else_=1).label("failures"),
    )
    return statement.where(*within_between(installations.c.installed_at, between))


@functools.lru_cache(maxsize=64)
def key_event_rows(
    between: Between = None, events: tuple[str, ...] = KEY_EVENTS
) -> sa.CompoundSelect[Any]:
    """One row per key event in [start, end) (start None: from the beginning; None: all):
    its day, product, partner, and 1 in the count of its kind.  Only the `events` (of
    `KEY_EVENTS`) a caller sums are read; the others' counts would be 0 anyway."""
    parts = []
    for event, kinds in _key_event_kinds().items():
        if event not in events:
            continue
        column = keys.c[event]
        counts: dict[str, ColumnElement[Any]] = {name: sa.literal(0) for name in KEY_EVENT_COUNTS}
        counts.update(kinds)
        parts.append(
            sa.select(
                period_start(column, "day").label("day"),
                keys.c.product_id,
                keys.c.partner_id,
                *(value.label(name) for name, value in counts.items()),
            ).where(column.is_not(None), *within_between(column, between))
        )
    return sa.union_all(*parts)


def _key_event_kinds() -> dict[str, dict[str, ColumnElement[Any]]]:
    """For each of `KEY_EVENTS`, the counts its event adds (one per kind that applies)."""
    k = keys.c
    one: ColumnElement[Any] = sa.literal(1)
    allocated = k.allocated_at.is_not(None)
    enabled = is_enabling(k.activation_code)
    return {
        "fulfilled_at": {"fulfilled": one},
        "allocated_at": {"allocated": one},
        "consumed_at": {"consumed": one},
        "bound_at": {"bound": one},
        # A report without a recorded binding is when the key left `consumed`.
        "reported_at": {"reported": one, "bound": sa.case((k.bound_at.is_(None), 1), else_=0)},
        "acknowledged_at": {
            "activated": sa.case((enabled, 1), else_=0),
            "denied": sa.case((enabled, 0), else_=1),
        },
        "returned_at": {
            "returned_allocated": sa.case((allocated, 1), else_=0),
            "returned_unallocated": sa.case((allocated, 0), else_=1),
        },
    }


def complete_through(connection: sa.Connection) -> dt.date | None:
    """The last day every rollup is complete for (None: not built by this version); always
    a day that was over when the rollups were refreshed, so never today."""
    return connection.execute(
        sa.select(rollup_state.c.complete_through).where(rollup_state.c.name == ROLLUP_NAME)
    ).scalar()


def refresh_all(connection: sa.Connection) -> None:
    """Rebuild every rollup from the raw tables, inside the caller's transaction."""
    for table in ROLLUP_TABLES:
        connection.execute(table.delete())
    _insert(connection, None)
    _derive(connection, None)
    _mark_complete(connection, _last_event_day(connection))


def refresh_days(connection: sa.Connection, days: Iterable[dt.date]) -> None:
    """Recompute the rollups for the given days only (a day's import touches a few days),
    and for every day from the last complete one to them: rows written there by other
    systems since the last refresh would otherwise be skipped once the state moves past them.
    """
    touched = set(days)
    if not touched:
        return
    state = complete_through(connection)
    if state is not None and max(touched) > state:
        gap = (max(touched) - state).days
        touched.update(state + dt.timedelta(days=n) for n in range(gap))
    for first, last in _runs(sorted(touched)):
        connection.execute(
            installation_rollup.delete().where(installation_rollup.c.day.between(first, last))
        )
        connection.execute(key_rollup.delete().where(key_rollup.c.day.between(first, last)))
        _insert(connection, (first, last))
        _derive(connection, (first, last))
    _mark_complete(connection, max([*touched, *([state] if state else [])]))


def refresh_after_load(connection: sa.Connection, touched: Iterable[dt.date]) -> None:
    """Keep the rollups right after a load: only the touched days when the rollups exist,
    everything when they were never built."""
    if complete_through(connection) is None:
        refresh_all(connection)
    else:
        refresh_days(connection, touched)


def event_days(table: sa.Table, row: Sequence[Any]) -> set[dt.date]:
    """The days whose rollup rows depend on one installation or key row (values in column
    order); rows of other tables touch no rollup."""
    if table is installations:
        names: tuple[str, ...] = ("installed_at",)
    elif table is keys:
        names = KEY_EVENTS
    else:
        return set()
    columns = table.columns.keys()
    stamps = (row[columns.index(name)] for name in names)
    return {stamp.date() for stamp in stamps if stamp is not None}


def _insert(connection: sa.Connection, days: tuple[dt.date, dt.date] | None) -> None:
    """Sum the raw rows of `days` (None: all) into the daily rollups, in day order: a range
    of days then lies in few pages (EXPLAIN: one page per row when unordered); bring the
    compliance rollups up to date with them."""
    between: Between = None
    if days is not None:
        start = dt.datetime.combine(days[0], dt.time())
        between = (start, dt.datetime.combine(days[1] + dt.timedelta(days=1), dt.time()))
    sources = (
        (installation_rollup, installation_rows(between).subquery(), INSTALLATION_COUNTS),
        (key_rollup, key_event_rows(between).subquery(), KEY_EVENT_COUNTS),
    )
    for table, rows, measures in sources:
        names = [column.name for column in table.columns]
        groups = [rows.c[name] for name in names if name not in measures]
        sums = (sa.func.sum(rows.c[name]) for name in measures)
        statement = sa.select(*groups, *sums).group_by(*groups).order_by(rows.c.day)
        connection.execute(table.insert().from_select(names, statement))
    refresh_compliance(connection, between)


def _derive(connection: sa.Connection, days: tuple[dt.date, dt.date] | None) -> None:
    """Rebuild the coarser rollups from the daily ones: the whole months around `days`
    (None: everything) and the day totals of `days`."""
    months: tuple[dt.date, dt.date] | None = None
    if days is not None:
        months = (days[0].replace(day=1), next_month(days[1]) - dt.timedelta(days=1))
    for target in _DERIVED:
        _rebuild(connection, target, months if "month" in target.c else days)


def _rebuild(
    connection: sa.Connection, target: sa.Table, days: tuple[dt.date, dt.date] | None
) -> None:
    """Replace `target`'s rows for `days` (whole periods; None: all) by its daily rollup
    summed up to them.  A target's columns are its period, what it groups by, then sums."""
    source = installation_rollup if "successes" in target.c else key_rollup
    period_name, *rest = target.columns.keys()
    measures = [name for name in rest if name in (*INSTALLATION_COUNTS, *KEY_EVENT_COUNTS)]
    groups = [name for name in rest if name not in measures]
    period = period_start(source.c.day, "month") if period_name == "month" else source.c.day
    group_columns = [
        source.c.partner_id.is_not(None) if name == "at_partner" else source.c[name]
        for name in groups
    ]
    statement = (
        sa.select(period, *group_columns, *(sa.func.sum(source.c[name]) for name in measures))
        .group_by(period, *group_columns)
        .order_by(period)
    )
    if days is not None:
        connection.execute(target.delete().where(target.c[period_name].between(*days)))
        statement = statement.where(source.c.day.between(*days))
    connection.execute(target.insert().from_select([period_name, *groups, *measures], statement))


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after `day`'s: where the whole month around it ends."""
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _last_event_day(connection: sa.Connection) -> dt.date | None:
    latest = sa.select(
        sa.func.max(installations.c.installed_at),
        *(sa.select(sa.func.max(keys.c[e])).scalar_subquery() for e in KEY_EVENTS),
    )
    stamps = [s for s in connection.execute(latest).one() if s is not None]
    return max(stamps).date() if stamps else None


def _mark_complete(connection: sa.Connection, day: dt.date | None) -> None:
    """Record the rollups as complete through `day`, but never through today (UTC) or later:
    a day still going on gets more rows after the refresh, and once it is over it would be
    read from the rollups without them."""
    connection.execute(rollup_state.delete())
    if day is not None:
        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        complete = min(day, yesterday)
        connection.execute(
            rollup_state.insert().values(name=ROLLUP_NAME, complete_through=complete)
        )


def _runs(days: list[dt.date]) -> Iterator[tuple[dt.date, dt.date]]:
    """Consecutive days grouped into (first, last) runs."""
    first = previous = days[0]
    for day in days[1:]:
        if day != previous + dt.timedelta(days=1):
            yield first, previous
            first = day
        previous = day
    yield first, previous
