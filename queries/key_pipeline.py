"""The key pipeline: how many keys stand in each stage at the as-of date, how long they dwell
there, and which ones are stuck (DESIGN §4b)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.compliance_rollups import dwell_spells
from data.rollups import complete_through
from data.schema import key_dwell_days, keys, partners, products
from data.settings import ComplianceRules
from queries.facts import key_event_counts, spans
from queries.filters import Filters
from queries.key_stages import KEY_STAGES, held_in_view, stage_order, still_waiting
from queries.run import fetch
from queries.scope import partner_conditions, partner_in_scope, product_in_scope
from queries.sql import days_between, end_of, start_of

_k = keys.c


def key_pipeline(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per stage, every stage in pipeline order: the keys in it at the as-of date,
    and its dwell time in the range.

    `keys` counts the keys fulfilled by the as-of date in their last stage reached by then;
    the counts sum to the keys fulfilled by then.  `dwell_median_days` is the median of whole
    days between entering the stage and entering the next one, over the `dwell_keys` keys that
    entered the next one in the range (empty for the final stages and when none did).
    """
    return (
        pl.DataFrame({"stage": KEY_STAGES})
        .join(_stage_counts(connection, filters), on="stage", how="left")
        .join(_dwell_times(connection, filters), on="stage", how="left")
        .with_columns(pl.col("keys", "dwell_keys").fill_null(0))
        .select("stage", "keys", "dwell_median_days", "dwell_keys")
    )


def _stage_counts(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """Keys per stage at the as-of date, from the key events up to it: a key is in a stage
    when it entered it and did not enter a later one (the rollups count both).

    Under partner filters or a scope only keys held by partners in view count: they were
    allocated by then, so their events sit on their partner's rows and none is MAR stock.
    """
    scoped = bool(partner_conditions(filters))
    events = key_event_counts(
        connection, filters, None, filters.as_of, period=None, per_partner=scoped
    )
    e = events.c
    returned: ColumnElement[Any] = e.returned_allocated
    mar_stock: ColumnElement[Any] = sa.literal(0)
    conditions: list[ColumnElement[bool]] = []
    if scoped:
        conditions = partner_in_scope(e.partner_id, filters)
    else:
        returned = e.returned_allocated + e.returned_unallocated
        mar_stock = e.fulfilled - e.allocated - e.returned_unallocated
    stages = {
        "mar_stock": mar_stock,
        "allocated": e.allocated - e.consumed - e.returned_allocated,
        "consumed": e.consumed - e.bound,
        "bound": e.bound - e.reported,
        "reported": e.reported - e.activated - e.denied,
        "activated": e.activated,
        "denied": e.denied,
        "returned": returned,
    }
    statement = sa.select(
        *(sa.func.coalesce(sa.func.sum(value), 0).label(name) for name, value in stages.items())
    ).where(*conditions)
    row = connection.execute(statement).one()
    return pl.DataFrame(
        {"stage": list(stages), "keys": [int(value) for value in row]},
        schema={"stage": pl.String, "keys": pl.Int64},
    )


def _dwell_times(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per stage some key left in the range: median days dwelt and how many left.

    The database counts keys per stage and whole days; the median is read off those counts.
    Without partner filters or a scope the dwell days answer up to the rollups' last
    complete day; the partners' own spells are read from the keys.
    """
    spells = _spells(connection, filters)
    distribution = fetch(
        connection,
        sa.select(spells.c.stage, spells.c.days, sa.func.sum(spells.c["keys"]))
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


def _spells(connection: sa.Connection, filters: Filters) -> sa.Subquery:
    """`stage`, `days` and `keys`: the keys in view that left the stage in the range after
    dwelling there so many days (several rows may share a stage and days)."""
    first, last = filters.date_from, filters.range_end
    through = None if partner_conditions(filters) else complete_through(connection)
    parts: list[sa.Select[Any]] = []
    for span in spans(through, first, last, monthly=False):
        start = span.first or first
        if span.source == "raw":
            raw = dwell_spells(
                (start_of(start), end_of(span.last)),
                *held_in_view(filters, filters.as_of),
            ).subquery()
            parts.append(sa.select(raw.c.stage, raw.c.days, sa.literal(1).label("keys")))
        else:
            d = key_dwell_days.c
            parts.append(
                sa.select(d.stage, d.days, d["keys"]).where(
                    d.day >= start,
                    d.day <= span.last,
                    *product_in_scope(d.product_id, filters),
                )
            )
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("spells")


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

    waiting = (
        ("consumed", _k.consumed_at, rules.stuck_consumed_days, (_k.bound_at, _k.reported_at)),
        ("bound", _k.bound_at, rules.stuck_bound_days, (_k.reported_at,)),
        ("reported", _k.reported_at, rules.stuck_reported_days, (_k.acknowledged_at,)),
    )
    parts = [
        sa.select(
            _k.partner_id, _k.product_id, sa.literal(name).label("stage"), entered.label("entered")
        ).where(still, *held_in_view(filters, day))
        for name, entered, limit, later in waiting
        # More than `limit` whole days before the as-of date, and nothing next since.
        for still in still_waiting(entered, later, day, start_of(day - dt.timedelta(days=limit)))
    ]
    stuck = sa.union_all(*parts).subquery()
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
