"""The headline figures of the overview, each beside its value for the previous period.

The previous period is the range of equal length just before the current one; position
figures (stock, cover, backlog, conversions) are taken at its last day.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from queries.conversions import conversion_summary
from queries.facts import installation_days
from queries.filters import Filters
from queries.reporting import reporting_backlog
from queries.stock import CONSUMPTION_WINDOW_DAYS, stock_on_hand

KPI_NAMES = (
    "installations",
    "active_partners",
    "converted_rrps",
    "conversion_rate",
    "keys_in_stock",
    "days_of_cover",
    "partners_behind_on_reporting",
)


def _figures(connection: sa.Connection, filters: Filters) -> list[float | None]:
    days = installation_days(connection, filters, filters.date_from, filters.range_end)
    per_partner = (
        sa.select(sa.func.sum(days.c.successes).label("n"))
        .group_by(days.c.partner_id)
        .having(sa.func.sum(days.c.successes) > 0)
        .subquery()
    )
    activity = sa.select(sa.func.coalesce(sa.func.sum(per_partner.c.n), 0), sa.func.count())
    installed, active = connection.execute(activity).one()
    conversion = conversion_summary(connection, filters).row(0, named=True)
    stock = stock_on_hand(connection, filters)
    on_hand = int(stock["stock_on_hand"].sum())
    consumed = int(stock["consumed_28d"].sum())
    cover = round(on_hand / (consumed / CONSUMPTION_WINDOW_DAYS), 1) if consumed else None
    behind = reporting_backlog(connection, filters).height
    return [
        installed,
        active,
        conversion["converted"],
        conversion["conversion_rate"],
        on_hand,
        cover,
        behind,
    ]


def overview_kpis(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per KPI (see KPI_NAMES): its value now and for the previous period."""
    return pl.DataFrame(
        {
            "kpi": list(KPI_NAMES),
            "value": _figures(connection, filters),
            "previous": _figures(connection, filters.previous_period()),
        },
        schema={"kpi": pl.String, "value": pl.Float64, "previous": pl.Float64},
    )
