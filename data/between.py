"""Spans of time [start, end) whose raw rows the rollups sum, and the query layer reads after
the rollups' last complete day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.sql.expression import ColumnElement

#: [start, end) (start None: from the beginning); None: all time.
Between = tuple[dt.datetime | None, dt.datetime] | None


def within_between(column: ColumnElement[Any], between: Between) -> list[ColumnElement[bool]]:
    """Conditions keeping `column` inside `between` (none for all time)."""
    if between is None:
        return []
    start, end = between
    return [column < end] if start is None else [column >= start, column < end]
