"""Conditions on timestamps shared by every metric, and the dialect helpers they use.

"At date d" means on or before the end of day d, and nothing after the as-of date has
happened yet (DESIGN §4); these helpers are the only place that turns days into timestamps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.dialect import GRAINS, Grain, days_between, period_start

__all__ = ["GRAINS", "Grain", "days_between", "period_start"]


def start_of(day: dt.date) -> dt.datetime:
    """The first instant of a UTC calendar day, for `>=` comparisons."""
    return dt.datetime.combine(day, dt.time())


def end_of(day: dt.date) -> dt.datetime:
    """The first instant after a UTC calendar day, for `<` comparisons ("on or before day")."""
    return start_of(day + dt.timedelta(days=1))


def happened_by(column: ColumnElement[Any], day: dt.date) -> ColumnElement[bool]:
    """The timestamp is set and not after `day`: later timestamps have not happened yet."""
    return sa.and_(column.is_not(None), column < end_of(day))


def not_happened_by(column: ColumnElement[Any], day: dt.date) -> ColumnElement[bool]:
    return sa.or_(column.is_(None), column >= end_of(day))


def within(column: ColumnElement[Any], first: dt.date, last: dt.date) -> ColumnElement[bool]:
    """The timestamp falls on a day from `first` to `last`, both included."""
    return sa.and_(column >= start_of(first), column < end_of(last))


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """COUNT of rows meeting a condition, written the same way on both dialects."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)
