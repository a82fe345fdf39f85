"""The headline figures of the overview, each beside its value for the previous period.

The previous period is the range of equal length just before the current one; position
figures (stock, cover, backlog, conversions) are taken at its last day.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import polars as pl
import sqlalchemy as sa

from data.settings import DEFAULT_REPORT_DUE_DAY
from i18n.catalogs import N_
from queries.conversions import conversion_summary
from queries.facts import installation_counts
from queries.filters import Filters
from queries.reporting import reporting_backlog
from queries.stock import CONSUMPTION_WINDOW_DAYS, stock_on_hand


@dataclasses.dataclass(frozen=True)
class Kpi:
    """One headline figure: how it is named, what it means and how it reads best."""

    name: str
    #: English catalog messages, translated where the card is drawn.
    label: str
    description: str
    decimals: int = 0
    percent: bool = False
    #: Which direction of change is good news: "up", "down" or "neither".
    better: Literal["up", "down", "neither"] = "up"


KPIS = (
    Kpi("installations", N_("Installations"), N_("Successful installations in the date range.")),
    Kpi(
        "active_partners",
        N_("Active partners"),
        N_("Partners with at least one successful installation in the range."),
    ),
    Kpi(
        "converted_rrps",
        N_("Converted RRPs"),
        N_("Former RRPs with a signed TPR contract by the as-of date."),
    ),
    Kpi(
        "conversion_rate",
        N_("Conversion rate"),
        N_("Contracts signed ÷ RRPs registered."),
        decimals=1,
        percent=True,
    ),
    Kpi(
        "keys_in_stock",
        N_("Keys in stock"),
        N_(
            "The company's keys in stock (MAR and every partner) at the as-of date, whatever "
            "the partner filters: the central stock runs out for everyone on the same day."
        ),
        better="neither",
    ),
    Kpi(
        "days_of_cover",
        N_("Days of cover"),
        N_("The company's stock ÷ its keys consumed per day over the last 28 days."),
        decimals=1,
    ),
    Kpi(
        "partners_behind_on_reporting",
        N_("Behind on reporting"),
        N_("Partners with at least one missing licence report."),
        better="down",
    ),
)
KPI_NAMES = tuple(kpi.name for kpi in KPIS)


def _figures(
    connection: sa.Connection, filters: Filters, report_due_day: int
) -> list[float | None]:
    days = installation_counts(
        connection, filters, filters.date_from, filters.range_end, period=None, per_partner=True
    )
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
    behind = reporting_backlog(connection, filters, report_due_day).height
    return [
        installed,
        active,
        conversion["converted"],
        conversion["conversion_rate"],
        on_hand,
        cover,
        behind,
    ]


def overview_kpis(
    connection: sa.Connection, filters: Filters, report_due_day: int = DEFAULT_REPORT_DUE_DAY
) -> pl.DataFrame:
    """One row per KPI (see KPI_NAMES): its value now and for the previous period."""
    return pl.DataFrame(
        {
            "kpi": list(KPI_NAMES),
            "value": _figures(connection, filters, report_due_day),
            "previous": _figures(connection, filters.previous_period(), report_due_day),
        },
        schema={"kpi": pl.String, "value": pl.Float64, "previous": pl.Float64},
    )
