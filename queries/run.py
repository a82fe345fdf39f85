"""The one place that executes metric SQL and turns aggregated rows into Polars frames.

Every metric declares its output schema so an empty result still has typed columns and both
dialects give identical frames (PostgreSQL returns `Decimal` for some sums, SQLite `int`).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import sqlalchemy as sa
from polars.datatypes import DataTypeClass

Schema = Mapping[str, pl.DataType | DataTypeClass]


def fetch(connection: sa.Connection, statement: sa.Executable, schema: Schema) -> pl.DataFrame:
    """Run `statement` and return its rows with exactly the columns and types of `schema`."""
    rows = [tuple(row) for row in connection.execute(statement)]
    frame = pl.DataFrame(rows, schema=list(schema), orient="row", infer_schema_length=None)
    return frame.cast(pl.Schema(schema))
