"""Fast bulk loading: PostgreSQL `COPY` for large tables, batched `executemany` on SQLite.

Millions of installation rows must load in minutes; row-by-row INSERTs on PostgreSQL take
hours, so both the demo generator and the CSV import go through here.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

Row = Sequence[Any]


def _copy_cell(value: Any) -> Any:
    if value is None:
        return r"\N"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, decimal.Decimal | int | float | str):
        return value
    return str(value)


def bulk_insert(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    batch_size: int = 50_000,
) -> int:
    """Insert `rows` (tuples in the order of `columns`) inside the caller's transaction."""
    count = 0
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            count += _flush(connection, table, columns, batch)
            batch = []
    if batch:
        count += _flush(connection, table, columns, batch)
    return count


def _flush(
    connection: sa.Connection, table: sa.Table, columns: Sequence[str], batch: list[Row]
) -> int:
    if connection.dialect.name == "postgresql":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([_copy_cell(v) for v in row] for row in batch)
        buffer.seek(0)
        column_list = ", ".join(f'"{c}"' for c in columns)
        copy_sql = f"COPY \"{table.name}\" ({column_list}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor: Any = raw.cursor()
        try:
            cursor.copy_expert(copy_sql, buffer)
        finally:
            cursor.close()
    else:
        connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in batch])
    return len(batch)
