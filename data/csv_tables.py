"""Every data table as `<table>.csv` in the import format (DESIGN §3 and §6).

Operators use it to copy a database or to look at its contents in a spreadsheet; the import's
tests use it to prove that export and import are exact inverses.  Cells are written raw (no
formula escaping): these files are input for `mar-insight import`, not reports.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from data.schema import DATA_TABLES


def csv_file_name(table: sa.Table) -> str:
    """The file a table is exported to and imported from."""
    return f"{table.name}.csv"


def export_tables(engine: sa.Engine, directory: Path) -> None:
    """Write one CSV file per data table into `directory`, rows ordered by primary key."""
    directory.mkdir(parents=True, exist_ok=True)
    with engine.connect() as connection:
        for table in DATA_TABLES:
            query = sa.select(table).order_by(*table.primary_key.columns)
            rows = connection.execution_options(yield_per=10_000).execute(query)
            with (directory / csv_file_name(table)).open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(column.name for column in table.columns)
                writer.writerows([_cell(value) for value in row] for row in rows)


def _cell(value: Any) -> Any:
    """Render one value the way the import reads it back: NULL is the empty cell."""
    if value is None:
        return ""
    if isinstance(value, dt.date):  # also datetime: naive UTC, `2021-06-30T14:05:00`
        return value.isoformat()
    if isinstance(value, decimal.Decimal):  # never exponent notation such as `1E+2`
        return format(value, "f")
    return value
