"""Rollups for the licence-compliance metrics (DESIGN §4b), kept by data/rollups.py with the
others: the dwell days of the key pipeline, and the candidates of the misuse signals.

At ten million keys the dwell-time medians would read every key that left a stage in the
range, and the misuse lists would group every key by device and every installation by key.
The dwell days hold the same spells counted per day, stage, product and days dwelt.  The
candidates hold the few devices bound to two or more keys and the few keys installed twice
or more when the rollups were refreshed; the lists check them (and the rows written after the
rollups' last complete day) against the raw rows, so the as-of date still decides.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.between import Between, within_between
from data.dialect import days_between, period_start
from data.schema import (
    installations,
    key_dwell_days,
    keys,
    reused_key_rollup,
    shared_device_rollup,
)

_k = keys.c
_i = installations.c

#: For each stage a key can leave: when it entered it, and the timestamps of the next stages
#: it can reach, the first one set being the one it went on to (a step the source did not
#: record is skipped; a return ends an unused key).
DWELL_TRANSITIONS: tuple[tuple[str, ColumnElement[Any], tuple[ColumnElement[Any], ...]], ...] = (
    ("mar_stock", _k.fulfilled_at, (_k.allocated_at, _k.returned_at)),
    ("allocated", _k.allocated_at, (_k.consumed_at, _k.returned_at)),
    ("consumed", _k.consumed_at, (_k.bound_at, _k.reported_at)),
    ("bound", _k.bound_at, (_k.reported_at,)),
    ("reported", _k.reported_at, (_k.acknowledged_at,)),
)


def dwell_spells(between: Between, *conditions: ColumnElement[bool]) -> sa.CompoundSelect[Any]:
    """One row per key that entered the next stage in `between` (None: ever), narrowed by
    `conditions` on `keys`: that day, the stage it left, its product, whole days it dwelt.

    Within a span each next timestamp is read on its own index (one coalesce of them would
    make PostgreSQL read every key); over all time one pass per stage reads every key anyway.
    """
    parts: list[sa.Select[Any]] = []
    for stage, entered, nexts in DWELL_TRANSITIONS:
        chosen = [(_first_set(nexts), [])] if between is None else _each_next(nexts)
        parts.extend(
            sa.select(
                period_start(left, "day").label("day"),
                sa.literal(stage).label("stage"),
                _k.product_id,
                days_between(left, entered).label("days"),
            ).where(
                entered.is_not(None),
                left.is_not(None),
                *unset,
                *within_between(left, between),
                *conditions,
            )
            for left, unset in chosen
        )
    return sa.union_all(*parts)


def _first_set(nexts: tuple[ColumnElement[Any], ...]) -> ColumnElement[Any]:
    return nexts[0] if len(nexts) == 1 else sa.func.coalesce(*nexts)


def _each_next(
    nexts: tuple[ColumnElement[Any], ...],
) -> list[tuple[ColumnElement[Any], list[ColumnElement[bool]]]]:
    """Each next timestamp with the condition that the ones before it are not set."""
    return [
        (left, [earlier.is_(None) for earlier in nexts[:position]])
        for position, left in enumerate(nexts)
    ]


def devices_bound(between: Between) -> tuple[sa.Select[Any], ...]:
    """Device hashes of keys bound in `between`: at `bound_at`, or at `reported_at` when the
    binding was not recorded, each read on its own index (parts of a union)."""
    return (
        sa.select(_k.device_hash).where(*within_between(_k.bound_at, between)),
        sa.select(_k.device_hash).where(
            _k.bound_at.is_(None), *within_between(_k.reported_at, between)
        ),
    )


def keys_installed(between: Between) -> tuple[sa.Select[Any], ...]:
    """Keys with a successful installation in `between` (parts of a union)."""
    return (
        sa.select(_i.key_id).where(
            _i.status == "success", *within_between(_i.installed_at, between)
        ),
    )


#: Each candidate table, the column it holds, and the rows that count for it.
_CANDIDATES: tuple[tuple[sa.Table, ColumnElement[Any], tuple[ColumnElement[bool], ...]], ...] = (
    (
        shared_device_rollup,
        _k.device_hash,
        (_k.device_hash.is_not(None), sa.func.coalesce(_k.bound_at, _k.reported_at).is_not(None)),
    ),
    (reused_key_rollup, _i.key_id, (_i.key_id.is_not(None), _i.status == "success")),
)


def shared_device_candidates(through: dt.datetime, until: dt.datetime) -> sa.Select[Any]:
    """Every device that can be bound to two or more keys by `until`, given rollups
    complete before `through`: the refreshed candidates and the devices bound since."""
    return _with_since(shared_device_rollup.c.device_hash, devices_bound((through, until)))


def reused_key_candidates(through: dt.datetime, until: dt.datetime) -> sa.Select[Any]:
    """Every key that can have two or more successful installations by `until`, given
    rollups complete before `through`: the refreshed candidates and the keys installed since."""
    return _with_since(reused_key_rollup.c.key_id, keys_installed((through, until)))


def _with_since(candidate: ColumnElement[Any], since: tuple[sa.Select[Any], ...]) -> sa.Select[Any]:
    rows = sa.union_all(sa.select(candidate), *since).subquery()
    return sa.select(rows.c[0])


def refresh_compliance(connection: sa.Connection, between: Between) -> None:
    """Bring the compliance rollups up to date after the raw rows of `between` (None: all)
    changed, inside the caller's transaction."""
    if between is None:
        connection.execute(key_dwell_days.delete())
    else:
        start, end = between
        assert start is not None, "a refresh of days starts somewhere"
        connection.execute(
            key_dwell_days.delete().where(
                key_dwell_days.c.day >= start.date(), key_dwell_days.c.day < end.date()
            )
        )
    spells = dwell_spells(between).subquery()
    s = spells.c
    groups = (s.day, s.stage, s.product_id, s.days)
    connection.execute(
        key_dwell_days.insert().from_select(
            ["day", "stage", "product_id", "days", "keys"],
            sa.select(*groups, sa.func.count()).group_by(*groups).order_by(s.day),
        )
    )
    touched = {
        shared_device_rollup: devices_bound(between),
        reused_key_rollup: keys_installed(between),
    }
    for table, value, counted in _CANDIDATES:
        _refresh_candidates(
            connection, table, value, counted, None if between is None else touched[table]
        )


def _refresh_candidates(
    connection: sa.Connection,
    table: sa.Table,
    value: ColumnElement[Any],
    counted: tuple[ColumnElement[bool], ...],
    touched: tuple[sa.Select[Any], ...] | None,
) -> None:
    """Keep in `table` exactly the values two or more counted rows share: all rebuilt
    (`touched` None), or the ones held rechecked and those of the touched rows added."""
    held = table.c[0]

    def shared(*narrowed: ColumnElement[bool]) -> sa.Select[Any]:
        return (
            sa.select(value).where(*counted, *narrowed).group_by(value).having(sa.func.count() >= 2)
        )

    if touched is None:
        connection.execute(table.delete())
        connection.execute(table.insert().from_select([held.name], shared()))
        return
    connection.execute(table.delete().where(held.not_in(shared(value.in_(sa.select(held))))))
    added = shared(value.in_(sa.union_all(*touched)), value.not_in(sa.select(held)))
    connection.execute(table.insert().from_select([held.name], added))
