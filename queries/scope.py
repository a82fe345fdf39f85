"""Turning `Filters` into WHERE conditions, including the viewer's scope.

Every metric builds its conditions here, so the account-manager scope is applied in one place
and no query can forget it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import partners, products
from queries.filters import Filters


def partner_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """Conditions on the `partners` table for the partner-level filters and the scope."""
    conditions: list[ColumnElement[bool]] = []
    if filters.partner_ids:
        conditions.append(partners.c.id.in_(filters.partner_ids))
    for manager in (filters.account_manager_id, filters.scope_account_manager_id):
        if manager is not None:
            conditions.append(partners.c.account_manager_id == manager)
    if filters.regions:
        conditions.append(partners.c.region.in_(filters.regions))
    if filters.countries:
        conditions.append(partners.c.country.in_(filters.countries))
    return conditions


def partner_in_scope(column: ColumnElement[Any], filters: Filters) -> list[ColumnElement[bool]]:
    """Restrict a `partner_id` column to the partners the filters and scope allow."""
    conditions = partner_conditions(filters)
    if not conditions:
        return []
    return [column.in_(sa.select(partners.c.id).where(*conditions))]


def product_in_scope(column: ColumnElement[Any], filters: Filters) -> list[ColumnElement[bool]]:
    """Restrict a `product_id` column to the products chosen by code."""
    if not filters.product_codes:
        return []
    return [column.in_(sa.select(products.c.id).where(products.c.code.in_(filters.product_codes)))]


def partners_narrowed(filters: Filters) -> bool:
    """Whether the filters or the viewer's scope leave out some partners, so that figures of
    "the partners in view" differ from the company's."""
    return bool(partner_conditions(filters))


def is_tpr() -> ColumnElement[bool]:
    """The partner is a TPR: kind `tpr`, or no kind recorded (DESIGN §3); own sites are not."""
    return sa.or_(partners.c.kind.is_(None), partners.c.kind == "tpr")
