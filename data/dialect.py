"""The SQL that PostgreSQL and SQLite spell differently, in one place for every layer.

Timestamps are naive UTC.  Dates come back as `datetime.date` on both dialects because every
helper coerces its result to `sa.Date`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

Grain = Literal["day", "week", "month"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month")


class _Truncate(FunctionElement[dt.date]):
    """The first day of the day, ISO week (Monday) or month that a timestamp falls in."""

    type = sa.Date()
    inherit_cache = True
    #: The grain is part of the statement cache key: without it the first grain compiled
    #: would be reused for every other one.
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy declares it a plain attribute)
        *FunctionElement._traverse_internals,
        ("grain", InternalTraversal.dp_string),
    ]

    def __init__(self, grain: Grain, value: ColumnElement[Any]) -> None:
        self.grain = grain
        super().__init__(value)


@compiles(_Truncate, "postgresql")
def _truncate_postgresql(element: _Truncate, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"CAST(date_trunc('{element.grain}', {value}) AS DATE)"


@compiles(_Truncate, "sqlite")
def _truncate_sqlite(element: _Truncate, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    modifiers = {"day": "", "week": ", 'weekday 0', '-6 days'", "month": ", 'start of month'"}
    return f"date({value}{modifiers[element.grain]})"


class _DaysBetween(FunctionElement[int]):
    """Whole calendar days from the date of `start` to the date of `end`."""

    type = sa.Integer()
    inherit_cache = True


@compiles(_DaysBetween, "postgresql")
def _days_between_postgresql(element: _DaysBetween, compiler: Any, **kw: Any) -> str:
    end, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({end} AS DATE) - CAST({start} AS DATE))"


@compiles(_DaysBetween, "sqlite")
def _days_between_sqlite(element: _DaysBetween, compiler: Any, **kw: Any) -> str:
    end, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday(date({end})) - julianday(date({start})) AS INTEGER)"


class _DayOfNextMonth(FunctionElement[dt.datetime]):
    """Midnight of day `day` of the month after the month that starts on `value`."""

    type = sa.DateTime()
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy declares it a plain attribute)
        *FunctionElement._traverse_internals,
        ("day", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, value: ColumnElement[Any], day: int) -> None:
        self.day = int(day)
        super().__init__(value)


@compiles(_DayOfNextMonth, "postgresql")
def _day_of_next_month_postgresql(element: _DayOfNextMonth, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return (
        f"CAST(CAST({value} AS DATE) + INTERVAL '1 month' + INTERVAL '{element.day - 1} days' "
        "AS TIMESTAMP)"
    )


@compiles(_DayOfNextMonth, "sqlite")
def _day_of_next_month_sqlite(element: _DayOfNextMonth, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    # Written as SQLAlchemy stores timestamps in SQLite, so text comparisons order correctly.
    return f"(datetime({value}, '+1 month', '+{element.day - 1} days') || '.000000')"


def period_start(value: ColumnElement[Any], grain: Grain) -> ColumnElement[dt.date]:
    """The period a timestamp belongs to: its day, ISO week start (Monday) or month start."""
    return _Truncate(grain, value)


def day_of_next_month(month: ColumnElement[Any], day: int) -> ColumnElement[dt.datetime]:
    """Midnight of day `day` (1-28) of the month after `month` (a month's first day)."""
    return _DayOfNextMonth(month, day)


def days_between(end: ColumnElement[Any], start: ColumnElement[Any]) -> ColumnElement[int]:
    return _DaysBetween(end, start)
