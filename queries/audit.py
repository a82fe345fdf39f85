"""The audit log as management reads it: downloads and exports in the date range."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from data.schema import audit_log
from queries.filters import Filters
from queries.run import fetch
from queries.sql import within


def audit_entries(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per recorded download or export in the range, newest first."""
    statement = (
        sa.select(
            audit_log.c.at,
            audit_log.c.who,
            audit_log.c.report,
            audit_log.c.row_count,
            audit_log.c.filters,
        )
        .where(within(audit_log.c.at, filters.date_from, filters.date_to))
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
    )
    return fetch(
        connection,
        statement,
        {
            "at": pl.Datetime("us"),
            "who": pl.String,
            "report": pl.String,
            "rows": pl.Int64,
            "filters": pl.String,
        },
    )
