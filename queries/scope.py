"""Turning `Filters` into WHERE conditions, including the viewer's scope.

Every metric builds its conditions here, so the account-manager scope is applied in one place
and no query can forget it.  Which filter narrows which table and column is read from the
vocabulary (queries/filters.py), so a new filter needs no condition of its own here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import partners, products
from queries.filters import Filters, Restricts, restricting


def _conditions(columns: Any, filters: Filters, kind: Restricts) -> list[ColumnElement[bool]]:
    """`column IN (values)` for every filter of `kind` that is set, on its own column."""
    return [
        columns[spec.column].in_(filters.values(spec))
        for spec in restricting(kind)
        if filters.values(spec)
    ]


def partner_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """Conditions on the `partners` table for the partner-level filters and the scope."""
    conditions = _conditions(partners.c, filters, "partner")
    if filters.scope_account_manager_id is not None:
        conditions.append(partners.c.account_manager_id == filters.scope_account_manager_id)
    return conditions


def partner_in_scope(column: ColumnElement[Any], filters: Filters) -> list[ColumnElement[bool]]:
    """Restrict a `partner_id` column to the partners the filters and scope allow."""
    conditions = partner_conditions(filters)
    if not conditions:
        return []
    return [column.in_(sa.select(partners.c.id).where(*conditions))]


def product_in_scope(column: ColumnElement[Any], filters: Filters) -> list[ColumnElement[bool]]:
    """Restrict a `product_id` column to the products the product filters choose."""
    conditions = _conditions(products.c, filters, "product")
    if not conditions:
        return []
    return [column.in_(sa.select(products.c.id).where(*conditions))]


def installation_conditions(columns: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """Conditions on an installation row or rollup (e.g. its segment)."""
    return _conditions(columns, filters, "installation")


def partners_narrowed(filters: Filters) -> bool:
    """Whether the filters or the viewer's scope leave out some partners, so that figures of
    "the partners in view" differ from the company's."""
    return bool(partner_conditions(filters))


def is_tpr() -> ColumnElement[bool]:
    """The partner is a TPR: kind `tpr`, or no kind recorded (DESIGN §3); own sites are not."""
    return sa.or_(partners.c.kind.is_(None), partners.c.kind == "tpr")
