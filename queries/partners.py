"""Who the partners are: the choices the filters offer and one partner's profile.

Both honour the viewer's scope, so a partner outside it looks exactly like an unknown one.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from data.errors import Message
from data.schema import account_managers, conversions, partners, products
from data.settings import DEFAULT_REPORT_DUE_DAY
from queries.filters import PARTNER, FilterError, Filters
from queries.reporting import reporting_backlog
from queries.run import fetch
from queries.scope import partner_conditions
from queries.sql import end_of
from queries.stock import allocation_vs_consumption
from queries.volumes import partner_volumes


class UnknownPartner(FilterError):
    """A partner id that does not exist or that the viewer may not see."""


def unknown_partner_message(partner_id: int) -> Message:
    """The same sentence for an unknown partner and one outside the scope, so the scope
    cannot be probed."""
    return PARTNER.refuse(partner_id)


def _scope_only(filters: Filters) -> Filters:
    """The filters that limit who may be seen, without the viewer's current choices."""
    return filters.without("partner")


def partner_options(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """Every partner the viewer may pick, by name, with region, country and manager."""
    statement = (
        sa.select(
            partners.c.id,
            partners.c.name,
            partners.c.region,
            partners.c.country,
            partners.c.account_manager_id,
        )
        .where(*partner_conditions(_scope_only(filters)))
        .order_by(partners.c.name, partners.c.id)
    )
    return fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "region": pl.String,
            "country": pl.String,
            "account_manager_id": pl.Int64,
        },
    )


def account_manager_options(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """Account managers the viewer may pick: all of them, or only themself when scoped."""
    statement = sa.select(account_managers.c.id, account_managers.c.name).order_by(
        account_managers.c.name
    )
    if filters.scope_account_manager_id is not None:
        statement = statement.where(account_managers.c.id == filters.scope_account_manager_id)
    return fetch(connection, statement, {"account_manager_id": pl.Int64, "name": pl.String})


def product_options(connection: sa.Connection) -> pl.DataFrame:
    """Every product by code, with its name and family."""
    statement = sa.select(products.c.code, products.c.name, products.c.family).order_by(
        products.c.code
    )
    return fetch(
        connection,
        statement,
        {"product_code": pl.String, "product_name": pl.String, "family": pl.String},
    )


def partner_profile(connection: sa.Connection, filters: Filters, partner_id: int) -> pl.DataFrame:
    """One row describing a partner and its RRP conversion history.

    Raises UnknownPartner for an id that does not exist or lies outside the viewer's scope.
    """
    statement = (
        sa.select(
            partners.c.id,
            partners.c.name,
            partners.c.country,
            partners.c.region,
            partners.c.size_class,
            account_managers.c.name,
            partners.c.joined_at,
            conversions.c.rrp_registered_at,
            conversions.c.contacted_at,
            conversions.c.applied_at,
            conversions.c.contract_signed_at,
            conversions.c.first_order_at,
            conversions.c.lost_at,
            conversions.c.lost_reason,
        )
        .outerjoin(account_managers, account_managers.c.id == partners.c.account_manager_id)
        .outerjoin(conversions, conversions.c.partner_id == partners.c.id)
        .where(partners.c.id == partner_id, *partner_conditions(_scope_only(filters)))
    )
    timestamp = pl.Datetime("us")
    frame = fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "country": pl.String,
            "region": pl.String,
            "size_class": pl.String,
            "account_manager": pl.String,
            "joined_at": timestamp,
            "rrp_registered_at": timestamp,
            "contacted_at": timestamp,
            "applied_at": timestamp,
            "contract_signed_at": timestamp,
            "first_order_at": timestamp,
            "lost_at": timestamp,
            "lost_reason": pl.String,
        },
    )
    if frame.is_empty():
        raise UnknownPartner(unknown_partner_message(partner_id))
    horizon = end_of(filters.as_of)
    happened = [name for name, dtype in frame.schema.items() if dtype == timestamp]
    return frame.with_columns(
        pl.when(pl.col(name) < horizon).then(pl.col(name)).alias(name) for name in happened
    ).with_columns(
        pl.when(pl.col("lost_at").is_not_null()).then(pl.col("lost_reason")).alias("lost_reason")
    )


def partner_summary(
    connection: sa.Connection,
    filters: Filters,
    partner_id: int,
    report_due_day: int = DEFAULT_REPORT_DUE_DAY,
) -> pl.DataFrame:
    """One row of one partner's headline figures: installations and key flows in the range,
    keys in stock and missing licence reports at the as-of date."""
    one = filters.replace(partner_ids=(partner_id,))
    volumes = partner_volumes(connection, one)
    keys = allocation_vs_consumption(connection, one)
    backlog = reporting_backlog(connection, one, report_due_day)
    key_row = keys.row(0, named=True) if not keys.is_empty() else {}
    return pl.DataFrame(
        {
            "partner_id": [partner_id],
            "partner_name": volumes["partner_name"].to_list()[:1] or [None],
            "installations": [int(volumes["installations"].sum())],
            "keys_allocated": [key_row.get("keys_allocated", 0)],
            "keys_consumed": [key_row.get("keys_consumed", 0)],
            "keys_in_stock": [key_row.get("keys_in_stock", 0)],
            "missing_reports": [int(backlog["missing_reports"].sum())],
        },
        schema={
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "installations": pl.Int64,
            "keys_allocated": pl.Int64,
            "keys_consumed": pl.Int64,
            "keys_in_stock": pl.Int64,
            "missing_reports": pl.Int64,
        },
    )
