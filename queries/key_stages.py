"""Where a key stands at a day, and which keys a view counts: the vocabulary of DESIGN §4b.

Every licence-compliance metric reads a key's stage, its holder and the view through these
definitions, so "stuck", "unused" and "in view" mean the same thing on every page and export.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import keys, waiting_since
from i18n.catalogs import N_
from queries.filters import Filters
from queries.scope import partner_conditions, partner_in_scope, product_in_scope
from queries.sql import end_of, happened_by

#: The stages of the key pipeline in the order of DESIGN §6: a key is in the last it reached.
KEY_STAGES = (
    "mar_stock",
    "allocated",
    "consumed",
    "bound",
    "reported",
    "activated",
    "denied",
    "returned",
)
#: What each two-digit answer means (DESIGN §1); a code not listed is shown as unknown.
ACTIVATION_CODES = {
    "00": N_("enabled"),
    "01": N_("duplicate product key ID"),
    "02": N_("enabled through the override process"),
    "03": N_("key never delivered"),
    "04": N_("not delivered to the buyer named on the CBR"),
    "05": N_("key already returned"),
    "06": N_("reported lost or stolen"),
    "07": N_("already enabled"),
}
#: The meaning of a code Microsoft's list does not have.
UNKNOWN_CODE = N_("unknown code")
#: Return codes: `O…` returned with credit, `Q…` without (rejected `P` returns are not recorded).
CREDIT_PREFIX = "O"
NO_CREDIT_PREFIX = "Q"

_k = keys.c


def bound_at() -> ColumnElement[Any]:
    """When a key was tied to a device: `bound_at`, or `reported_at` when the source did not
    record the binding (the CBR carries it)."""
    return sa.func.coalesce(_k.bound_at, _k.reported_at)


def still_waiting(
    entered: ColumnElement[Any],
    later: tuple[ColumnElement[Any], ...],
    day: dt.date,
    before: dt.datetime,
) -> tuple[ColumnElement[bool], ...]:
    """Keys that entered their stage (`entered`) before `before` and had not taken any of the
    `later` steps (in the order a key reaches them) by `day`, as disjoint conditions to union:
    still waiting (read from the stage's index, data/schema.py), or moved on only after `day`
    with the first of the steps set (each read from that timestamp's index, which holds the
    step before it; the timestamps run forward, DESIGN §3, so the next ones are later still).
    One OR of them would make PostgreSQL read every key."""
    return (
        waiting_since(entered, later) < before,
        *(
            sa.and_(
                *(earlier.is_(None) for earlier in later[:position]),
                column >= end_of(day),
                entered < before,
            )
            for position, column in enumerate(later)
        ),
    )


def stage_order(stage: ColumnElement[str]) -> ColumnElement[int]:
    """A stage's position in `KEY_STAGES`, for ordering in SQL."""
    return sa.case({name: index for index, name in enumerate(KEY_STAGES)}, value=stage)


def holder_at(day: dt.date) -> ColumnElement[int | None]:
    """Who holds a key at `day`: its partner once allocated by then, else the MAR (NULL)."""
    return sa.case((happened_by(_k.allocated_at, day), _k.partner_id))


def held_in_view(filters: Filters, day: dt.date) -> list[ColumnElement[bool]]:
    """Conditions on `keys` for the keys a view counts at `day`: the chosen products, and
    under a partner, region, country or account-manager filter or a viewer's scope only keys
    held by partners in view (MAR stock is nobody's partner)."""
    conditions = product_in_scope(_k.product_id, filters)
    if partner_conditions(filters):
        conditions.append(happened_by(_k.allocated_at, day))
        conditions.extend(partner_in_scope(_k.partner_id, filters))
    return conditions
