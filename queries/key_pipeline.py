"""The key pipeline: how many keys stand in each stage at the as-of date, how long they dwell
there, and which ones are stuck (DESIGN §4b)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import keys, partners, products
from data.settings import ComplianceRules
from queries.filters import Filters
from queries.key_stages import KEY_STAGES, held_in_view, stage_at, stage_order
from queries.run import fetch
from queries.sql import days_between, end_of, not_happened_by, start_of, within

_k = keys.c

#: For each stage a key can leave: when it entered it, and when it entered the next stage it
#: reached (a step the source did not record is skipped; a return ends an unused key).
_TRANSITIONS: tuple[tuple[str, ColumnElement[Any], ColumnElement[Any]], ...] = (
    ("mar_stock", _k.fulfilled_at, sa.func.coalesce(_k.allocated_at, _k.returned_at)),
    ("allocated", _k.allocated_at, sa.func.coalesce(_k.consumed_at, _k.returned_at)),
    ("consumed", _k.consumed_at, sa.func.coalesce(_k.bound_at, _k.reported_at)),
    ("bound", _k.bound_at, _k.reported_at),
    ("reported", _k.reported_at, _k.acknowledged_at),
)


def key_pipeline(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per stage, every stage in pipeline order: the keys in it at the as-of date,
    and its dwell time in the range.

    `keys` counts the keys fulfilled by the as-of date in their last stage reached by then;
    the counts sum to the keys fulfilled by then.  `dwell_median_days` is the median of whole
    days between entering the stage and entering the next one, over the `dwell_keys` keys that
    entered the next one in the range (empty for the final stages and when none did).
    """
    day = filters.as_of
    stage = stage_at(day).label("stage")
    counts = fetch(
        connection,
        sa.select(stage, sa.func.count())
        .where(_k.fulfilled_at < end_of(day), *held_in_view(filters, day))
        .group_by(stage),
        {"stage": pl.String, "keys": pl.Int64},
    )
    dwell = _dwell_times(connection, filters)
    return (
        pl.DataFrame({"stage": KEY_STAGES})
        .join(counts, on="stage", how="left")
        .join(dwell, on="stage", how="left")
        .with_columns(pl.col("keys", "dwell_keys").fill_null(0))
        .select("stage", "keys", "dwell_median_days", "dwell_keys")
    )


def _dwell_times(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per stage some key left in the range: median days dwelt and how many left.

    The database counts keys per stage and whole days; the median is read off those counts.
    """
    parts = []
    for name, entered, left in _TRANSITIONS:
        days = days_between(left, entered)
        parts.append(
            sa.select(sa.literal(name).label("stage"), days.label("days")).where(
                entered.is_not(None),
                within(left, filters.date_from, filters.range_end),
                *held_in_view(filters, filters.as_of),
            )
        )
    spells = sa.union_all(*parts).subquery()
    distribution = fetch(
        connection,
        sa.select(spells.c.stage, spells.c.days, sa.func.count())
        .group_by(spells.c.stage, spells.c.days)
        .order_by(spells.c.stage, spells.c.days),
        {"stage": pl.String, "days": pl.Int64, "keys": pl.Int64},
    )
    rows = [
        {
            "stage": stage,
            "dwell_median_days": _median(group["days"].to_list(), group["keys"].to_list()),
            "dwell_keys": int(group["keys"].sum()),
        }
        for (stage,), group in distribution.group_by("stage", maintain_order=True)
    ]
    return pl.DataFrame(
        rows, schema={"stage": pl.String, "dwell_median_days": pl.Float64, "dwell_keys": pl.Int64}
    )


def _median(values: list[int], counts: list[int]) -> float:
    """The median of sorted `values`, each occurring `counts` times."""
    total = sum(counts)
    middle = ((total - 1) // 2, total // 2)
    found: list[int] = []
    seen = 0
    for value, count in zip(values, counts, strict=True):
        found.extend(value for position in middle if seen <= position < seen + count)
        seen += count
    return (found[0] + found[1]) / 2


def stuck_keys(
    connection: sa.Connection, filters: Filters, rules: ComplianceRules | None = None
) -> pl.DataFrame:
    """One row per partner, product and stage with keys stuck at the as-of date, most aged
    first (then partner id, product code and stage order).

    Stuck: the key's stage at the as-of date is `consumed` for more than
    `stuck_consumed_days` [2], `bound` for more than `stuck_bound_days` [7] or `reported` for
    more than `stuck_reported_days` [3] (no answer from Microsoft yet); age = as-of - the day
    it entered the stage.  `oldest_since` is the earliest such day, `max_age_days` its age.
    """
    rules = rules or ComplianceRules()
    day = filters.as_of

    def aged(entered: ColumnElement[Any], limit: int) -> ColumnElement[bool]:
        """Entered the stage more than `limit` whole days before the as-of date."""
        return sa.and_(entered.is_not(None), entered < start_of(day - dt.timedelta(days=limit)))

    stages = (
        (
            "consumed",
            _k.consumed_at,
            sa.and_(
                aged(_k.consumed_at, rules.stuck_consumed_days),
                not_happened_by(_k.bound_at, day),
                not_happened_by(_k.reported_at, day),
            ),
        ),
        (
            "bound",
            _k.bound_at,
            sa.and_(
                aged(_k.bound_at, rules.stuck_bound_days), not_happened_by(_k.reported_at, day)
            ),
        ),
        (
            "reported",
            _k.reported_at,
            sa.and_(
                aged(_k.reported_at, rules.stuck_reported_days),
                not_happened_by(_k.acknowledged_at, day),
            ),
        ),
    )
    stuck = sa.union_all(
        *(
            sa.select(
                _k.partner_id,
                _k.product_id,
                sa.literal(name).label("stage"),
                entered.label("entered"),
            ).where(condition, *held_in_view(filters, day))
            for name, entered, condition in stages
        )
    ).subquery()
    s = stuck.c
    oldest = sa.func.min(s.entered)
    max_age = days_between(sa.literal(day, sa.Date), oldest)
    statement = (
        sa.select(
            s.partner_id,
            partners.c.name,
            products.c.code,
            s.stage,
            sa.func.count(),
            oldest,
            max_age,
        )
        .join(partners, partners.c.id == s.partner_id)
        .join(products, products.c.id == s.product_id)
        .group_by(s.partner_id, partners.c.name, products.c.code, s.stage)
        .order_by(max_age.desc(), s.partner_id, products.c.code, stage_order(s.stage))
    )
    frame = fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "product_code": pl.String,
            "stage": pl.String,
            "keys": pl.Int64,
            "oldest_since": pl.Datetime("us"),
            "max_age_days": pl.Int64,
        },
    )
    return frame.with_columns(pl.col("oldest_since").dt.date())
