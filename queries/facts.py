"""Where installation and key figures come from: the rollups where they are complete, the
raw tables after that.

Every installation and key metric aggregates one of the two functions below and says what it
needs: rows per day, per month or for the span as a whole, and whether it needs the partner.
The cheapest source that can answer is chosen here, so pages never know which it was; the
answer is the same either way (tests/test_rollups.py compares every path with the raw
tables), only faster:

- without partners (none needed, none filtered): the day totals, a few rows a day;
- per partner, when no day is needed: the month rollups for the whole months of the span
  (partner months alone when no product, segment or site is needed or filtered) and the
  daily rollups for the days around them;
- per partner and day: the daily rollups;
- after the last complete day (always today's partial day): the raw tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.rollups import (
    KEY_EVENTS,
    complete_through,
    installation_rows,
    key_event_rows,
    next_month,
)
from data.schema import (
    KEY_EVENT_COUNTS,
    installation_day_totals,
    installation_month_rollup,
    installation_partner_months,
    installation_rollup,
    key_day_totals,
    key_month_rollup,
    key_rollup,
)
from queries.filters import Filters
from queries.scope import (
    installation_conditions,
    partner_conditions,
    partner_in_scope,
    product_in_scope,
)
from queries.sql import end_of, period_start, start_of

#: The time column a caller needs: one row per day, per month, or none (sum everything).
Period = Literal["day", "month"] | None
Source = Literal["raw", "day", "month"]


@dataclasses.dataclass(frozen=True)
class Span:
    """Days `first` (None: since the beginning) to `last`, both included, read from `source`;
    a month span's bounds are the first days of its first and last month."""

    source: Source
    first: dt.date | None
    last: dt.date


def spans(
    through: dt.date | None, first: dt.date | None, last: dt.date, *, monthly: bool
) -> list[Span]:
    """Cut the days `first`..`last` into the spans each source answers: raw after `through`
    (the rollups' last day), whole months from the month rollups when `monthly`, the rest
    daily."""
    if through is None or (first is not None and through < first):
        return [Span("raw", first, last)]
    result = [] if through >= last else [Span("raw", through + dt.timedelta(days=1), last)]
    rolled_last = min(last, through)
    if not monthly:
        return [Span("day", first, rolled_last), *result]
    # The whole months start on or after `first` and end by `rolled_last`.
    months_first = first if first is None or first.day == 1 else next_month(first)
    after_months = (rolled_last + dt.timedelta(days=1)).replace(day=1)
    months_last = (after_months - dt.timedelta(days=1)).replace(day=1)
    if months_first is not None and months_first > months_last:
        return [Span("day", first, rolled_last), *result]
    if first is not None and months_first is not None and first < months_first:
        result.append(Span("day", first, months_first - dt.timedelta(days=1)))
    result.append(Span("month", months_first, months_last))
    if after_months <= rolled_last:
        result.append(Span("day", after_months, rolled_last))
    return result


def installation_counts(
    connection: sa.Connection,
    filters: Filters,
    first: dt.date | None,
    last: dt.date,
    *,
    period: Period,
    per_partner: bool = False,
    detailed: bool = False,
    products: sa.Select[Any] | None = None,
) -> sa.Subquery:
    """Installations (`successes`, `failures`) on days `first` (None: since the beginning) to
    `last`, filtered by every non-date filter and the viewer's scope.

    Columns: `day` or `month` as `period` asks, `partner_id` when `per_partner`,
    `product_id` and `segment` when `detailed`, and `site` when both; several rows may share
    those values, so callers sum.  `products` (ids; needs `detailed`) narrows the rows read
    to the products a metric is about.
    """
    with_partners = per_partner or bool(partner_conditions(filters))
    with_detail = detailed or filters.restricts("product", "installation")
    parts: list[sa.Select[Any]] = []
    through = complete_through(connection)
    for span in spans(through, first, last, monthly=with_partners and period != "day"):
        if span.source == "raw":
            table: sa.FromClause = installation_rows(_between(span)).subquery()
        elif span.source == "month":
            table = installation_month_rollup if with_detail else installation_partner_months
        else:
            table = installation_rollup if with_partners else installation_day_totals
        c = table.c
        conditions = _span_range(c, span)
        if with_partners:
            conditions.extend(partner_in_scope(c.partner_id, filters))
        if with_detail:
            conditions.extend(product_in_scope(c.product_id, filters))
            conditions.extend(_among(c.product_id, products))
        conditions.extend(installation_conditions(c, filters))
        columns = _period_column(c, period)
        if per_partner:
            columns.append(c.partner_id)
        if detailed:
            columns.extend([c.product_id, c.segment])
        if per_partner and detailed:
            columns.append(c.site)
        parts.append(sa.select(*columns, c.successes, c.failures).where(*conditions))
    return _union(parts, "installation_counts")


def key_event_counts(
    connection: sa.Connection,
    filters: Filters,
    first: dt.date | None,
    last: dt.date,
    *,
    period: Period,
    per_partner: bool,
    products: sa.Select[Any] | None = None,
    events: tuple[str, ...] = KEY_EVENTS,
) -> sa.Subquery:
    """Key events on days `first` to `last`, filtered by product: `fulfilled`, `allocated`,
    `consumed`, `returned_allocated` and `returned_unallocated`.

    Columns: `day` or `month` as `period` asks, `product_id`, `at_partner` (the key belongs
    to a partner) and `partner_id` when `per_partner`.  Partner filters are left to the
    caller: MAR stock has no partner.  Several rows may share those values, so callers sum.
    `products` (ids) narrows the rows read to the products a metric is about; raw days read
    only the `events` (timestamps of data/rollups.py `KEY_EVENTS`) whose counts it sums.
    """
    parts: list[sa.Select[Any]] = []
    through = complete_through(connection)
    for span in spans(through, first, last, monthly=per_partner and period != "day"):
        if span.source == "raw":
            table: sa.FromClause = key_event_rows(_between(span), events).subquery()
        elif span.source == "month":
            table = key_month_rollup
        else:
            table = key_rollup if per_partner else key_day_totals
        c = table.c
        at_partner = c.at_partner if table is key_day_totals else c.partner_id.is_not(None)
        columns = [*_period_column(c, period), c.product_id, at_partner.label("at_partner")]
        if per_partner:
            columns.append(c.partner_id)
        statement = sa.select(*columns, *(c[name] for name in KEY_EVENT_COUNTS))
        parts.append(
            statement.where(
                *_span_range(c, span),
                *product_in_scope(c.product_id, filters),
                *_among(c.product_id, products),
            )
        )
    return _union(parts, "key_event_counts")


def _among(
    column: ColumnElement[Any], products: sa.Select[Any] | None
) -> list[ColumnElement[bool]]:
    return [] if products is None else [column.in_(products)]


def _between(span: Span) -> tuple[dt.datetime | None, dt.datetime]:
    return (None if span.first is None else start_of(span.first), end_of(span.last))


def _span_range(columns: Any, span: Span) -> list[ColumnElement[bool]]:
    """The span's days on a rollup's `day` or `month` column (raw spans are cut already)."""
    if span.source == "raw":
        return []
    column = columns.month if span.source == "month" else columns.day
    conditions = [column <= span.last]
    if span.first is not None:
        conditions.append(column >= span.first)
    return conditions


def _period_column(columns: Any, period: Period) -> list[ColumnElement[Any]]:
    if period is None:
        return []
    if "month" in columns:
        return [columns.month]
    if period == "month":
        return [period_start(columns.day, "month").label("month")]
    return [columns.day]


def _union(parts: list[sa.Select[Any]], name: str) -> sa.Subquery:
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery(name)
