"""The audit trail: one row per CSV download or export, so the MAR can show who took which
partner data out of the system and when."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from data.schema import audit_log


def record_export(
    connection: sa.Connection,
    *,
    who: str,
    report: str,
    filters: Mapping[str, Sequence[str]],
    row_count: int,
) -> None:
    """Append one audit row inside the caller's transaction."""
    connection.execute(
        audit_log.insert().values(
            at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
            who=who,
            report=report,
            filters=json.dumps(filters, sort_keys=True, ensure_ascii=False),
            row_count=row_count,
        )
    )
