"""Partial periods: a week or month only partly inside the range, or not over at the as-of
date, says so (DESIGN §4), so a short last week never reads as a collapse."""

from __future__ import annotations

import polars as pl

from queries.filters import Filters
from queries.sql import Grain


def period_end(grain: Grain) -> pl.Expr:
    """The last day of the period starting on `period` (a day, ISO week or month)."""
    start = pl.col("period")
    if grain == "day":
        return start
    if grain == "week":
        return start + pl.duration(days=6)
    return start.dt.month_end()


def is_partial(grain: Grain, filters: Filters) -> pl.Expr:
    """True for a period that starts before the range or ends after its last day that has
    happened (the range end, or the as-of date when that comes first)."""
    return (pl.col("period") < filters.date_from) | (period_end(grain) > filters.range_end)
