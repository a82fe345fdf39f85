"""Misuse signals at the as-of date (DESIGN §4b): one PC bound to several keys, and one key
installed successfully more than once."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from data.compliance_rollups import reused_key_candidates, shared_device_candidates
from data.rollups import complete_through
from data.schema import installations, keys, partners, products
from queries.filters import Filters
from queries.key_stages import bound_at, held_in_view, holder_at
from queries.run import fetch
from queries.sql import end_of, period_start

_k = keys.c
_i = installations.c
#: A device is shown by the start of its hash: enough to tell devices apart, not the hash.
DEVICE_CHARACTERS = 12


def _bound_by(filters: Filters) -> list[sa.ColumnElement[bool]]:
    """Keys with a device bound by the as-of date."""
    return [_k.device_hash.is_not(None), bound_at() < end_of(filters.as_of)]


def _candidates(connection: sa.Connection, filters: Filters) -> list[sa.ColumnElement[bool]]:
    """Only the candidates of the rollups, when they are complete: every device bound to two
    keys by the as-of date is one (data/compliance_rollups.py)."""
    through = complete_through(connection)
    if through is None:
        return []
    return [_k.device_hash.in_(shared_device_candidates(end_of(through), end_of(filters.as_of)))]


def _shared_devices(connection: sa.Connection, filters: Filters) -> sa.Select[tuple[str]]:
    """Device hashes bound to two or more keys by the as-of date, whoever holds them."""
    return (
        sa.select(_k.device_hash)
        .where(*_bound_by(filters), *_candidates(connection, filters))
        .group_by(_k.device_hash)
        .having(sa.func.count() >= 2)
    )


def duplicate_devices(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per device bound to two or more keys by the as-of date of which at least one
    is in view, by first bound day then device.

    `device` is the first 12 characters of its hash; `keys` and `partners` count every key
    and distinct partner bound to it (the evidence; partners outside the view are counted,
    never named); bound days are those of `bound_at`, or `reported_at` where the binding was
    not recorded.
    """
    in_view = sa.case((sa.and_(sa.true(), *held_in_view(filters, filters.as_of)), 1), else_=0)
    first = sa.func.min(bound_at())
    statement = (
        sa.select(
            sa.func.substr(_k.device_hash, 1, DEVICE_CHARACTERS),
            sa.func.count(),
            sa.func.count(sa.distinct(_k.partner_id)),
            first,
            sa.func.max(bound_at()),
        )
        .where(*_bound_by(filters), *_candidates(connection, filters))
        .group_by(_k.device_hash)
        .having(sa.func.count() >= 2, sa.func.max(in_view) == 1)
        .order_by(period_start(first, "day"), _k.device_hash)
    )
    frame = fetch(
        connection,
        statement,
        {
            "device": pl.String,
            "keys": pl.Int64,
            "partners": pl.Int64,
            "first_bound": pl.Datetime("us"),
            "last_bound": pl.Datetime("us"),
        },
    )
    return frame.with_columns(pl.col("first_bound", "last_bound").dt.date())


def duplicate_device_keys(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per key in view bound to a device that two or more keys share by the as-of
    date, by device then bound day and key id: the evidence behind `duplicate_devices`."""
    statement = (
        sa.select(
            sa.func.substr(_k.device_hash, 1, DEVICE_CHARACTERS),
            _k.id,
            _k.product_key_id,
            _k.partner_id,
            partners.c.name,
            products.c.code,
            bound_at(),
        )
        .join(partners, partners.c.id == _k.partner_id)
        .join(products, products.c.id == _k.product_id)
        .where(
            *_bound_by(filters),
            _k.device_hash.in_(_shared_devices(connection, filters)),
            *held_in_view(filters, filters.as_of),
        )
        .order_by(_k.device_hash, bound_at(), _k.id)
    )
    frame = fetch(
        connection,
        statement,
        {
            "device": pl.String,
            "key_id": pl.Int64,
            "product_key_id": pl.String,
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "product_code": pl.String,
            "bound_on": pl.Datetime("us"),
        },
    )
    return frame.with_columns(pl.col("bound_on").dt.date())


def reused_keys(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per key in view with two or more successful installations by the as-of date,
    by first installation day then key id.

    `partner_id` is the key's holder at the as-of date (empty: MAR stock);
    `installing_partners` counts the distinct partners whose installations used the key.
    """
    installed = [
        _i.key_id.is_not(None),
        _i.status == "success",
        _i.installed_at < end_of(filters.as_of),
    ]
    through = complete_through(connection)
    if through is not None:
        # Only the candidates can have been installed twice by the as-of date.
        installed.append(
            _i.key_id.in_(reused_key_candidates(end_of(through), end_of(filters.as_of)))
        )
    uses = (
        sa.select(
            _i.key_id,
            sa.func.count().label("installations"),
            sa.func.count(sa.distinct(_i.partner_id)).label("installing_partners"),
            sa.func.min(_i.installed_at).label("first"),
            sa.func.max(_i.installed_at).label("last"),
        )
        .where(*installed)
        .group_by(_i.key_id)
        .having(sa.func.count() >= 2)
        .subquery()
    )
    holder = holder_at(filters.as_of)
    statement = (
        sa.select(
            _k.id,
            _k.product_key_id,
            holder,
            partners.c.name,
            products.c.code,
            uses.c.installations,
            uses.c.installing_partners,
            uses.c.first,
            uses.c.last,
        )
        .join(uses, uses.c.key_id == _k.id)
        .join(products, products.c.id == _k.product_id)
        .outerjoin(partners, partners.c.id == holder)
        .where(*held_in_view(filters, filters.as_of))
        .order_by(period_start(uses.c.first, "day"), _k.id)
    )
    frame = fetch(
        connection,
        statement,
        {
            "key_id": pl.Int64,
            "product_key_id": pl.String,
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "product_code": pl.String,
            "installations": pl.Int64,
            "installing_partners": pl.Int64,
            "first_installed": pl.Datetime("us"),
            "last_installed": pl.Datetime("us"),
        },
    )
    return frame.with_columns(pl.col("first_installed", "last_installed").dt.date())
