"""Tiny, readable test databases: one `add_*` function per table of `data/schema.py`.

Every function inserts one row with sensible defaults, so a test names only what matters to
it::

    with engine.begin() as conn:
        add_partner(conn, 1, "Alpha")
        add_product(conn, 1, "W11P")
        add_installation(conn, 1, partner=1, product=1, at="2021-06-01 09:00")

Timestamps may be given as `datetime`, `date` (midnight) or ISO text ("2021-06-01",
"2021-06-01 09:00", "2021-06-01T23:59:59"); all are naive UTC, like the schema.  Ids are
explicit because the schema assigns none; pass `id=None` where allowed to take the next free
one.  Parents are never created implicitly: add the partner before its installations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from data import schema

When = dt.datetime | dt.date | str


def ts(value: When | None) -> dt.datetime | None:
    """A naive UTC timestamp from a datetime, a date (its midnight) or ISO text."""
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return dt.datetime.fromisoformat(value)


def day(value: dt.date | str) -> dt.date:
    """A calendar date from a date or ISO text."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _insert(conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    conn.execute(table.insert().values(**row))
    return row


def _next_id(conn: sa.Connection, table: sa.Table) -> int:
    current = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
    return int(current or 0) + 1


def add_account_manager(
    conn: sa.Connection,
    id: int,
    name: str | None = None,
    *,
    email: str | None = None,
    region: str | None = "Europe",
) -> dict[str, Any]:
    return _insert(
        conn,
        schema.account_managers,
        {
            "id": id,
            "name": name or f"Manager {id}",
            "email": email or f"manager{id}@example.com",
            "region": region,
        },
    )


def add_partner(
    conn: sa.Connection,
    id: int,
    name: str | None = None,
    *,
    manager: int | None = None,
    region: str | None = "Europe",
    country: str = "DE",
    size_class: str = "M",
    joined_at: When | None = "2020-01-01",
    kind: str | None = None,
    citizenship_cap: int | None = None,
) -> dict[str, Any]:
    """A partner; `kind` "own_site" for one of the MAR's own sites, else a TPR (empty kind
    means tpr); `manager` is its account manager's id; `citizenship_cap` empty means the
    configured cap."""
    return _insert(
        conn,
        schema.partners,
        {
            "id": id,
            "name": name if name is not None else f"Partner {id}",
            "country": country,
            "region": region,
            "size_class": size_class,
            "account_manager_id": manager,
            "joined_at": ts(joined_at),
            "kind": kind,
            "citizenship_cap": citizenship_cap,
        },
    )


def add_conversion(
    conn: sa.Connection,
    partner: int,
    registered_at: When = "2020-10-01",
    *,
    contacted_at: When | None = None,
    applied_at: When | None = None,
    contract_signed_at: When | None = None,
    first_order_at: When | None = None,
    lost_at: When | None = None,
    lost_reason: str | None = None,
) -> dict[str, Any]:
    """The RRP → TPR conversion history of one former RRP (a stage is set when reached)."""
    return _insert(
        conn,
        schema.conversions,
        {
            "partner_id": partner,
            "rrp_registered_at": ts(registered_at),
            "contacted_at": ts(contacted_at),
            "applied_at": ts(applied_at),
            "contract_signed_at": ts(contract_signed_at),
            "first_order_at": ts(first_order_at),
            "lost_at": ts(lost_at),
            "lost_reason": lost_reason,
        },
    )


def add_product(
    conn: sa.Connection,
    id: int,
    code: str | None = None,
    name: str | None = None,
    *,
    family: str = "windows",
    licence_type: str = "dpk",
    channel: str | None = None,
) -> dict[str, Any]:
    """A product; `channel` empty means commercial."""
    return _insert(
        conn,
        schema.products,
        {
            "id": id,
            "code": code or f"P{id}",
            "name": name or f"Product {code or id}",
            "family": family,
            "licence_type": licence_type,
            "channel": channel,
        },
    )


def add_key_order(
    conn: sa.Connection,
    id: int,
    product: int,
    ordered_at: When = "2021-01-01",
    *,
    fulfilled_at: When | None = None,
    quantity: int = 1,
    unit_price: float | None = None,
) -> dict[str, Any]:
    """An order of keys from Microsoft."""
    return _insert(
        conn,
        schema.key_orders,
        {
            "id": id,
            "product_id": product,
            "ordered_at": ts(ordered_at),
            "fulfilled_at": ts(fulfilled_at),
            "quantity": quantity,
            "unit_price": unit_price,
        },
    )


def _key_state(row: dict[str, Any]) -> str:
    """The furthest state the timestamps say the key reached."""
    if row["acknowledged_at"] is not None:
        return "activated" if row["activation_code"] in ("00", "02") else "denied"
    for column, state in (
        ("returned_at", "returned"),
        ("reported_at", "reported"),
        ("bound_at", "bound"),
        ("consumed_at", "consumed"),
        ("allocated_at", "allocated"),
    ):
        if row[column] is not None:
            return state
    return "fulfilled"


def add_key(
    conn: sa.Connection,
    id: int | None,
    product: int,
    *,
    fulfilled_at: When = "2021-01-01",
    partner: int | None = None,
    allocated_at: When | None = None,
    consumed_at: When | None = None,
    reported_at: When | None = None,
    returned_at: When | None = None,
    order: int | None = None,
    state: str | None = None,
    product_key_id: str | None = None,
    bound_at: When | None = None,
    device_hash: str | None = None,
    acknowledged_at: When | None = None,
    activation_code: str | None = None,
    return_code: str | None = None,
) -> dict[str, Any]:
    """A digital product key (never the key itself).

    `partner=None` keeps it in MAR stock.  `state` defaults to the furthest state the
    timestamps reach; metrics must not rely on it (DESIGN §4), so a test may pass a
    deliberately stale one.
    """
    row: dict[str, Any] = {
        "id": id if id is not None else _next_id(conn, schema.keys),
        "product_id": product,
        "order_id": order,
        "partner_id": partner,
        "fulfilled_at": ts(fulfilled_at),
        "allocated_at": ts(allocated_at),
        "consumed_at": ts(consumed_at),
        "reported_at": ts(reported_at),
        "returned_at": ts(returned_at),
        "product_key_id": product_key_id,
        "bound_at": ts(bound_at),
        "device_hash": device_hash,
        "acknowledged_at": ts(acknowledged_at),
        "activation_code": activation_code,
        "return_code": return_code,
    }
    row["state"] = state or _key_state(row)
    return _insert(conn, schema.keys, row)


def add_keys(conn: sa.Connection, count: int, product: int, **columns: Any) -> None:
    """`count` keys alike but for their ids (the next free ones), for fixtures that need
    hundreds, such as a citizenship cap; `columns` as for `add_key`."""
    first = _next_id(conn, schema.keys)
    for n in range(count):
        add_key(conn, first + n, product, **columns)


def add_installation(
    conn: sa.Connection,
    id: int | None,
    partner: int,
    product: int,
    at: When,
    status: str = "success",
    segment: str = "education",
    *,
    site: str | None = None,
    key: int | None = None,
) -> dict[str, Any]:
    """One install attempt (`status` "success" or "failed")."""
    return _insert(
        conn,
        schema.installations,
        {
            "id": id if id is not None else _next_id(conn, schema.installations),
            "key_id": key,
            "partner_id": partner,
            "product_id": product,
            "segment": segment,
            "site": site,
            "installed_at": ts(at),
            "status": status,
        },
    )


def add_installations(
    conn: sa.Connection,
    count: int,
    partner: int,
    product: int,
    at: When,
    status: str = "success",
    segment: str = "education",
    *,
    site: str | None = None,
) -> None:
    """`count` identical install attempts at the same instant, with the next free ids."""
    for _ in range(count):
        add_installation(conn, None, partner, product, at, status, segment, site=site)


def add_report(
    conn: sa.Connection,
    id: int | None,
    partner: int,
    period: dt.date | str,
    *,
    due_at: When | None = None,
    submitted_at: When | None = None,
    reported_installations: int | None = None,
) -> dict[str, Any]:
    """A monthly licence report; `period` is the month's first day.

    `due_at` defaults to the 15th of the following month, 00:00.  A report with a
    `submitted_at` but no `reported_installations` reports zero.
    """
    first = day(period)
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    if submitted_at is not None and reported_installations is None:
        reported_installations = 0
    return _insert(
        conn,
        schema.licence_reports,
        {
            "id": id if id is not None else _next_id(conn, schema.licence_reports),
            "partner_id": partner,
            "period": first,
            "due_at": ts(due_at) if due_at is not None else ts(following.replace(day=15)),
            "submitted_at": ts(submitted_at),
            "reported_installations": reported_installations,
        },
    )


def add_user(
    conn: sa.Connection,
    email: str,
    role: str = "management",
    *,
    manager: int | None = None,
) -> dict[str, Any]:
    """Who may sign in; an account manager's user needs `manager` (their manager id)."""
    return _insert(
        conn,
        schema.users,
        {"email": email, "role": role, "account_manager_id": manager},
    )
