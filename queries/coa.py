"""Paper COA licences installed after the RRP sunset (DESIGN §4b)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from data.schema import partners, products
from data.settings import ComplianceRules
from queries.facts import installation_counts
from queries.filters import Filters
from queries.run import fetch

_SCHEMA = {"partner_id": pl.Int64, "partner_name": pl.String, "installations": pl.Int64}


def coa_after_sunset(
    connection: sa.Connection, filters: Filters, rules: ComplianceRules | None = None
) -> pl.DataFrame:
    """One row per partner in view with successful installations of COA products in the
    range on a day after the RRP sunset [2020-12-31], most first, then partner id."""
    rules = rules or ComplianceRules()
    first = max(filters.date_from, rules.rrp_sunset + dt.timedelta(days=1))
    if first > filters.range_end:
        return pl.DataFrame(schema=_SCHEMA)
    counts = installation_counts(
        connection,
        filters,
        first,
        filters.range_end,
        period=None,
        per_partner=True,
        detailed=True,
        products=sa.select(products.c.id).where(products.c.licence_type == "coa"),
    )
    c = counts.c
    installed = sa.func.sum(c.successes)
    statement = (
        sa.select(c.partner_id, partners.c.name, installed)
        .join(products, products.c.id == c.product_id)
        .join(partners, partners.c.id == c.partner_id)
        .where(products.c.licence_type == "coa")
        .group_by(c.partner_id, partners.c.name)
        .having(installed > 0)
        .order_by(installed.desc(), c.partner_id)
    )
    return fetch(connection, statement, _SCHEMA)
