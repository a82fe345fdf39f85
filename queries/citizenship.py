"""Citizenship caps: the citizenship licences each TPR takes per month against its cap
(DESIGN §4b)."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import partners, products
from data.settings import ComplianceRules
from queries.facts import key_event_counts
from queries.filters import Filters
from queries.run import fetch
from queries.scope import partner_in_scope

#: Statuses in the order they are tested: the first that applies is the month's.
CAP_STATUSES = ("over_cap", "office_above_windows", "near_cap", "ok")
#: Statuses that break the contract (the partner-risk flag `over_cap`).
BREACHES = ("over_cap", "office_above_windows")


def is_tpr() -> sa.ColumnElement[bool]:
    """A partner of kind `tpr`: an empty kind means a TPR (DESIGN §3)."""
    return sa.func.coalesce(partners.c.kind, "tpr") == "tpr"


def citizenship_caps(
    connection: sa.Connection, filters: Filters, rules: ComplianceRules | None = None
) -> pl.DataFrame:
    """One row per TPR in view and calendar month (its first day) with any citizenship units
    allocated in the range, by month then partner id.

    `windows_units` and `office_units` count the keys of citizenship products of that family
    allocated to the partner that month (from the key rollups, like every allocation count);
    `cap` is the partner's own, else `citizenship_cap` [250].  Status, the first that
    applies: `over_cap` (either count above the cap), `office_above_windows`, `near_cap`
    (either count at least `near_cap_percent` [90] % of the cap), `ok`.  Own sites have no
    cap and are not listed.
    """
    rules = rules or ComplianceRules()
    events = key_event_counts(
        connection,
        filters,
        filters.date_from,
        filters.range_end,
        period="month",
        per_partner=True,
        products=sa.select(products.c.id).where(products.c.channel == "citizenship"),
        events=("allocated_at",),
    )
    e = events.c

    def allocated(family: str) -> ColumnElement[int]:
        return sa.func.sum(sa.case((products.c.family == family, e.allocated), else_=0))

    units = (
        sa.select(
            e.partner_id,
            e.month,
            allocated("windows").label("windows_units"),
            allocated("office").label("office_units"),
        )
        .join(products, products.c.id == e.product_id)
        .where(
            products.c.channel == "citizenship",
            e.partner_id.is_not(None),
            *partner_in_scope(e.partner_id, filters),
        )
        .group_by(e.partner_id, e.month)
        .having(sa.func.sum(e.allocated) > 0)
        .subquery()
    )
    u = units.c
    cap = sa.func.coalesce(partners.c.citizenship_cap, rules.citizenship_cap)
    near = sa.literal(rules.near_cap_percent) * cap
    status = sa.case(
        (sa.or_(u.windows_units > cap, u.office_units > cap), "over_cap"),
        (u.office_units > u.windows_units, "office_above_windows"),
        # In whole percent on both sides: 225 of 250 is exactly 90 %, never 89.99…
        (sa.or_(u.windows_units * 100 >= near, u.office_units * 100 >= near), "near_cap"),
        else_="ok",
    )
    statement = (
        sa.select(
            u.partner_id,
            partners.c.name,
            u.month,
            u.windows_units,
            u.office_units,
            cap,
            status,
        )
        .join(partners, partners.c.id == u.partner_id)
        .where(is_tpr())
        .order_by(u.month, u.partner_id)
    )
    return fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "month": pl.Date,
            "windows_units": pl.Int64,
            "office_units": pl.Int64,
            "cap": pl.Int64,
            "status": pl.String,
        },
    )
