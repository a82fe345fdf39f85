"""`mar-insight upgrade` on a database of release 0.1 keeps every row and every export.

The old database is built from the frozen copy of that release's schema (tests/baseline_schema
.py), never from data/schema.py, and filled with demo-like rows: every data table, the audit
log, and rollups built by a refresh, so the exports read rollups and raw days as in use.
"""

from __future__ import annotations

import datetime as dt
import decimal
import random
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from cli.main import main as cli
from data import schema
from data.db import make_engine
from data.migrations import current_revision, head
from data.rollups import ROLLUP_TABLES, complete_through, refresh_all
from queries.exports import REPORTS, ReportOptions, build_report, to_csv
from queries.filters import Filters
from tests import baseline_schema as baseline

AS_OF = dt.date(2026, 11, 25)
START = dt.datetime(2025, 1, 6, 8, 0)

Rows = dict[str, list[dict[str, Any]]]


def demo_like_rows(seed: int = 7) -> Rows:
    """A small business over two years, in release 0.1's columns: managers, partners (one
    former RRP lost), products of both families and licence types, orders, keys in every
    state of that release, installations with failures, reports on time, late and missing."""
    rng = random.Random(seed)
    hours = dt.timedelta(hours=1)
    rows: Rows = {
        "account_managers": [
            {"id": i, "name": f"Manager {i}", "email": f"am{i}@example.com", "region": "DACH"}
            for i in (1, 2, 3)
        ],
        "partners": [
            {
                "id": i,
                "name": f"=Partner {i}" if i == 4 else f"Partner {i}",
                "country": ("DE", "AT", "CH")[i % 3],
                "region": "DACH" if i % 4 else None,
                "size_class": "SML"[i % 3],
                "account_manager_id": 1 + i % 3 if i != 8 else None,
                "joined_at": START + dt.timedelta(days=17 * i),
            }
            for i in range(1, 9)
        ],
        "products": [
            {"id": 1, "code": "W11P", "name": "Windows 11 Pro", "family": "windows"},
            {"id": 2, "code": "O21", "name": "Office 2021", "family": "office"},
            {"id": 3, "code": "W10COA", "name": "Windows 10 COA", "family": "windows"},
        ],
        "users": [
            {"email": "boss@example.com", "role": "management", "account_manager_id": None},
            {"email": "am1@example.com", "role": "account_manager", "account_manager_id": 1},
            {"email": "ops@example.com", "role": "admin", "account_manager_id": None},
        ],
    }
    for product in rows["products"]:
        product["licence_type"] = "coa" if product["code"].endswith("COA") else "dpk"
    rows["conversions"] = [
        {
            "partner_id": i,
            "rrp_registered_at": START - dt.timedelta(days=200),
            "contacted_at": START - dt.timedelta(days=150 - i),
            "applied_at": START - dt.timedelta(days=100 - i) if i < 5 else None,
            "contract_signed_at": START - dt.timedelta(days=60 - i) if i < 4 else None,
            "first_order_at": START - dt.timedelta(days=30 - i) if i < 3 else None,
            "lost_at": START if i == 6 else None,
            "lost_reason": "went out of business" if i == 6 else None,
        }
        for i in range(1, 7)
    ]
    rows["key_orders"] = [
        {
            "id": n,
            "product_id": 1 + n % 3,
            "ordered_at": START + dt.timedelta(days=110 * n),
            "fulfilled_at": START + dt.timedelta(days=110 * n + 2),
            "quantity": 40,
            "unit_price": decimal.Decimal("12.50") + n,
        }
        for n in range(6)
    ]
    rows["keys"] = []
    for key_id in range(1, 241):
        order = rows["key_orders"][key_id % 6]
        fulfilled = order["fulfilled_at"] + key_id * hours
        key: dict[str, Any] = {
            "id": key_id,
            "product_id": order["product_id"],
            "order_id": order["id"],
            "partner_id": None,
            "state": "fulfilled",
            "fulfilled_at": fulfilled,
            "allocated_at": None,
            "consumed_at": None,
            "reported_at": None,
            "returned_at": None,
        }
        stage = rng.choice(("fulfilled", "allocated", "consumed", "reported", "returned"))
        if stage != "fulfilled" and not (stage == "returned" and rng.random() < 0.5):
            key["partner_id"] = rng.randint(1, 8)
            key["allocated_at"] = fulfilled + rng.randint(1, 200) * hours
        if stage in ("consumed", "reported"):
            key["consumed_at"] = key["allocated_at"] + rng.randint(1, 300) * hours
        if stage == "reported":
            key["reported_at"] = key["consumed_at"] + rng.randint(1, 100) * hours
        if stage == "returned":
            key["returned_at"] = (key["allocated_at"] or fulfilled) + 24 * hours
        key["state"] = stage if key["allocated_at"] or stage == "returned" else "fulfilled"
        rows["keys"].append(key)
    consumed = [key for key in rows["keys"] if key["consumed_at"] is not None]
    rows["installations"] = [
        {
            "id": n,
            "key_id": key["id"],
            "partner_id": key["partner_id"],
            "product_id": key["product_id"],
            "segment": ("education", "authority", "nonprofit")[n % 3],
            "site": f"Site {n % 4}" if n % 5 else None,
            "installed_at": key["consumed_at"] + dt.timedelta(minutes=n),
            "status": "failed" if n % 13 == 0 else "success",
        }
        for n, key in enumerate(consumed, start=1)
    ]
    rows["licence_reports"] = [
        {
            "id": 12 * partner + month,
            "partner_id": partner,
            "period": dt.date(2026, month, 1),
            "due_at": dt.datetime(2026, month + 1, 10),
            "submitted_at": None if month == 9 else dt.datetime(2026, month + 1, 8 + partner),
            "reported_installations": None if month == 9 else rng.randint(0, 9),
        }
        for partner in (1, 2, 3, 5)
        for month in range(1, 11)
    ]
    return rows


def _insert(connection: sa.Connection, tables: sa.MetaData, rows: Rows) -> None:
    for name, table_rows in rows.items():
        connection.execute(tables.tables[name].insert(), table_rows)


def _snapshot(connection: sa.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of release 0.1, in that release's columns, in a fixed order."""
    snapshot = {}
    for table in baseline.metadata.sorted_tables:
        columns = [sa.column(column.name) for column in table.columns]
        query = sa.select(*columns).select_from(sa.table(table.name)).order_by(*columns)
        snapshot[table.name] = [tuple(row) for row in connection.execute(query)]
    return snapshot


def _exports(connection: sa.Connection) -> dict[str, bytes]:
    filters = Filters.default(AS_OF)
    exports = {name: to_csv(build_report(connection, name, filters)) for name in REPORTS}
    monthly = build_report(connection, "throughput", filters, ReportOptions(grain="month"))
    return {**exports, "throughput by month": to_csv(monthly)}


@pytest.fixture
def reference(other_database_url: str) -> Iterator[sa.Engine]:
    """The same rows in a database created at the current schema, with its rollups built:
    the exports the old release gave, since the new columns are empty."""
    engine = make_engine(other_database_url)
    schema.create_schema(engine)
    with engine.begin() as connection:
        _insert(connection, schema.metadata, demo_like_rows())
        audit = [
            {"at": START, "who": "cli:ops", "report": "stock", "filters": "{}", "row_count": 3}
        ]
        connection.execute(schema.audit_log.insert(), audit)
        refresh_all(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def old_database(empty_engine: sa.Engine, reference: sa.Engine) -> sa.Engine:
    """A database as release 0.1 left it: its tables, no version table, the demo-like rows
    and the reference's rollups and audit log."""
    baseline.metadata.create_all(empty_engine)
    with reference.connect() as source, empty_engine.begin() as target:
        _insert(target, baseline.metadata, demo_like_rows())
        for table in (*ROLLUP_TABLES, schema.rollup_state, schema.audit_log):
            old = baseline.metadata.tables[table.name]
            rows = source.execute(sa.select(*[table.c[c.name] for c in old.columns])).mappings()
            target.execute(old.insert(), [dict(row) for row in rows])
        # Release 0.1 named its set of rollups so; a newer set is read only once refreshed.
        old_state = baseline.metadata.tables[schema.rollup_state.name]
        target.execute(old_state.update().values(name="daily+monthly"))
    return empty_engine


def _upgrade(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run `mar-insight upgrade --url URL`; its standard output (make_engine moves the test
    schema of a PostgreSQL URL out of the engine's URL, so tests pass the URL itself)."""
    code = cli(["upgrade", "--url", url])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return out


def test_the_old_database_has_no_version_and_the_old_columns(old_database: sa.Engine) -> None:
    with old_database.connect() as connection:
        assert current_revision(connection) is None
        columns = {column["name"] for column in sa.inspect(connection).get_columns("keys")}
    assert "bound_at" not in columns


def test_every_row_of_every_table_keeps_its_values(
    old_database: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with old_database.connect() as connection:
        before = _snapshot(connection)
    _upgrade(database_url, capsys)
    with old_database.connect() as connection:
        after = _snapshot(connection)
    assert after == before
    assert len(before["keys"]) == 240
    assert len(before["installation_rollup"]) > 0


def test_the_new_columns_exist_and_are_empty(
    old_database: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _upgrade(database_url, capsys)
    new = {
        (table.name, column.name)
        for table in schema.DATA_TABLES
        if table.name in baseline.metadata.tables
        for column in table.columns
        if column.name not in baseline.metadata.tables[table.name].columns
    }
    assert ("keys", "bound_at") in new
    with old_database.connect() as connection:
        filled = {
            (table, column): connection.execute(
                sa.select(sa.func.count())
                .select_from(sa.table(table))
                .where(sa.column(column).is_not(None))
            ).scalar_one()
            for table, column in new
        }
    assert filled == dict.fromkeys(new, 0)


def test_every_export_gives_the_same_bytes_after_the_upgrade(
    old_database: sa.Engine,
    reference: sa.Engine,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _upgrade(database_url, capsys)
    with reference.connect() as connection:
        expected = _exports(connection)
    with old_database.connect() as connection:
        assert _exports(connection) == expected
    assert expected["partner-volumes"].count(b"\n") == 9  # header and eight partners


def test_the_upgrade_says_what_it_did(
    old_database: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _upgrade(database_url, capsys)
    lines = out.splitlines()
    assert lines[0] == "recognised a database from before schema versions as v0.1"
    assert lines[1].startswith("v0.1 → v0.2: added partners.kind, ")
    assert "keys.bound_at" in lines[1]
    assert lines[-1] == f"The database is now at schema {head()}."


def test_a_second_upgrade_does_nothing(
    old_database: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _upgrade(database_url, capsys)
    with old_database.connect() as connection:
        before = _snapshot(connection)
    out = _upgrade(database_url, capsys)
    assert out == f"The database is already at schema {head()}; nothing to do.\n"
    with old_database.connect() as connection:
        assert _snapshot(connection) == before
        assert current_revision(connection) == head()


def test_the_compliance_rollups_are_read_once_the_refresh_has_filled_them(
    old_database: sa.Engine,
    reference: sa.Engine,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _upgrade(database_url, capsys)
    with old_database.connect() as connection:
        assert complete_through(connection) is None
    assert cli(["refresh", "--url", database_url]) == 0
    tables = (schema.key_dwell_days, schema.shared_device_rollup, schema.reused_key_rollup)
    with reference.connect() as expected, old_database.connect() as actual:
        for table in tables:
            rows = sa.select(table).order_by(*table.columns)
            assert actual.execute(rows).all() == expected.execute(rows).all()
        assert complete_through(actual) == complete_through(expected)
