"""The schema: same on both dialects, idempotent, and refusing states the model forbids."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from data import schema
from data.schema import create_schema, has_schema

T0 = dt.datetime(2021, 3, 1, 9, 0)


def _seed_parents(connection: sa.Connection) -> None:
    connection.execute(
        schema.products.insert(),
        [
            {
                "id": 1,
                "code": "W11P",
                "name": "Windows 11 Pro",
                "family": "windows",
                "licence_type": "dpk",
            },
        ],
    )


def test_schema_creation_is_idempotent(empty_engine: sa.Engine) -> None:
    create_schema(empty_engine)
    create_schema(empty_engine)
    with empty_engine.connect() as connection:
        assert has_schema(connection)
        names = set(sa.inspect(connection).get_table_names())
    assert {t.name for t in schema.DATA_TABLES} <= names


def test_empty_database_has_no_schema(empty_engine: sa.Engine) -> None:
    with empty_engine.connect() as connection:
        assert not has_schema(connection)


@pytest.mark.parametrize(
    ("table", "row"),
    [
        ("installations", {"segment": "retail"}),
        ("installations", {"status": "maybe"}),
        ("keys", {"state": "lost"}),
        ("products", {"licence_type": "oem"}),
        ("partners", {"size_class": "X"}),
        ("users", {"role": "root"}),
    ],
)
def test_unknown_enumeration_is_rejected(
    engine: sa.Engine, table: str, row: dict[str, str]
) -> None:
    valid = {
        "installations": {
            "id": 1,
            "partner_id": 1,
            "product_id": 1,
            "segment": "education",
            "installed_at": T0,
            "status": "success",
        },
        "keys": {"id": 1, "product_id": 1, "state": "fulfilled", "fulfilled_at": T0},
        "products": {"id": 2, "code": "X", "name": "X", "family": "office", "licence_type": "dpk"},
        "partners": {"id": 2, "name": "P", "country": "DE", "size_class": "S"},
        "users": {"email": "a@example.com", "role": "management"},
    }[table]
    with engine.begin() as connection:
        _seed_parents(connection)
        connection.execute(
            schema.partners.insert(), [{"id": 1, "name": "P", "country": "DE", "size_class": "S"}]
        )
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(schema.metadata.tables[table].insert(), [{**valid, **row}])


def test_key_cannot_be_consumed_before_it_was_allocated(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        _seed_parents(connection)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(
            schema.keys.insert(),
            [
                {
                    "id": 1,
                    "product_id": 1,
                    "state": "consumed",
                    "fulfilled_at": T0,
                    "consumed_at": T0 + dt.timedelta(days=1),
                }
            ],
        )


def test_consumed_key_cannot_be_returned(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        _seed_parents(connection)
    day = dt.timedelta(days=1)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(
            schema.keys.insert(),
            [
                {
                    "id": 1,
                    "product_id": 1,
                    "state": "returned",
                    "fulfilled_at": T0,
                    "allocated_at": T0 + day,
                    "consumed_at": T0 + 2 * day,
                    "returned_at": T0 + 3 * day,
                }
            ],
        )


def test_unknown_foreign_key_is_rejected(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(
            schema.keys.insert(),
            [{"id": 1, "product_id": 99, "state": "fulfilled", "fulfilled_at": T0}],
        )
