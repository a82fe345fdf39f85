"""What the weekly digest says: its sections, each a metric frame with a title, the dashboard
page it links to and whether it travels as a CSV attachment.

The sections are a registry (`SECTIONS`): a new part of the digest, such as the compliance
flags, is one more entry.  Everything here only reads metrics; composing and sending the
e-mail is `notify/`'s job.  The period is the week ending at the as-of date, compared with the
week before it, as the digest goes out once a week.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import polars as pl
import sqlalchemy as sa

from data.settings import DEFAULT_MILESTONES, DEFAULT_REPORT_DUE_DAY, ComplianceRules
from i18n.catalogs import N_
from queries.conversions import stuck_conversions
from queries.filters import Filters
from queries.kpis import KPIS, overview_kpis
from queries.partner_risk import partner_risk
from queries.reporting import newly_behind_on_reporting, reporting_backlog
from queries.scope import partners_narrowed
from queries.stock import DEFAULT_COVER_WARNING_DAYS, stock_on_hand
from queries.throughput import milestones, next_milestone, throughput

DIGEST_DAYS = 7
#: How far back the digest's chart reaches: half a year of weeks shows the trend.
CHART_WEEKS = 26


@dataclasses.dataclass(frozen=True)
class DigestOptions:
    """The settings the sections need beyond the filters."""

    milestones: tuple[int, ...] = DEFAULT_MILESTONES
    cover_warning_days: int = DEFAULT_COVER_WARNING_DAYS
    stuck_conversion_days: int = 30
    report_due_day: int = DEFAULT_REPORT_DUE_DAY
    rules: ComplianceRules = dataclasses.field(default_factory=ComplianceRules)


SectionBuilder = Callable[[sa.Connection, Filters, DigestOptions], pl.DataFrame]


@dataclasses.dataclass(frozen=True)
class Section:
    """One part of the digest.

    `page` is the dashboard page the section's link opens with the digest's filters;
    `attachment` names the CSV file (a DESIGN §6 report name where one exists) when the whole
    table travels with the mail; `empty` is the sentence shown when the frame has no rows;
    `shown` are the columns the mail shows (all when empty): a phone has room for five.
    `title` and `empty` are catalog messages, shown in the recipient's language.
    """

    name: str
    title: str
    page: str
    empty: str
    build: SectionBuilder
    attachment: str | None = None
    shown: tuple[str, ...] = ()


def digest_filters(as_of: dt.date) -> Filters:
    """The digest's week: the seven days ending at the as-of date."""
    return Filters(as_of=as_of, date_from=as_of - dt.timedelta(days=DIGEST_DAYS - 1), date_to=as_of)


def kpi_changes(
    connection: sa.Connection, filters: Filters, options: DigestOptions
) -> pl.DataFrame:
    """One row per overview KPI, in the overview's order: its label (a catalog message, read
    in the recipient's language), value, previous-period value and change, percentages in
    percent (points for the change, `percent` true)."""
    figures = overview_kpis(connection, filters, options.report_due_day)
    rows = []
    for kpi, value, previous in zip(
        KPIS, figures["value"].to_list(), figures["previous"].to_list(), strict=True
    ):
        scale = 100 if kpi.percent else 1
        now = None if value is None else round(value * scale, kpi.decimals)
        before = None if previous is None else round(previous * scale, kpi.decimals)
        change = None if now is None or before is None else round(now - before, kpi.decimals)
        rows.append((kpi.label, now, before, change, kpi.percent))
    return pl.DataFrame(
        rows,
        schema={
            "figure": pl.String,
            "value": pl.Float64,
            "previous": pl.Float64,
            "change": pl.Float64,
            "percent": pl.Boolean,
        },
        orient="row",
    )


def _newly_behind(
    connection: sa.Connection, filters: Filters, options: DigestOptions
) -> pl.DataFrame:
    since = filters.as_of - dt.timedelta(days=DIGEST_DAYS)
    return newly_behind_on_reporting(connection, filters, since, options.report_due_day).select(
        "partner_id", "partner_name", "missing_reports", "oldest_due", "days_overdue"
    )


def _backlog(connection: sa.Connection, filters: Filters, options: DigestOptions) -> pl.DataFrame:
    return reporting_backlog(connection, filters, options.report_due_day)


def _stuck(connection: sa.Connection, filters: Filters, options: DigestOptions) -> pl.DataFrame:
    return stuck_conversions(connection, filters, options.stuck_conversion_days)


def _stock_warnings(
    connection: sa.Connection, filters: Filters, options: DigestOptions
) -> pl.DataFrame:
    """The company's products below the cover warning: stock runs out for everyone at the
    same date (DESIGN §4), so every recipient sees the central figures, which name no partner.
    """
    stock = stock_on_hand(connection, filters, options.cover_warning_days)
    return stock.filter(pl.col("low_cover")).select(
        "product_code", "product_name", "stock_on_hand", "days_of_cover", "stockout_date"
    )


def _partner_risk(
    connection: sa.Connection, filters: Filters, options: DigestOptions
) -> pl.DataFrame:
    return partner_risk(connection, filters, options.rules, options.report_due_day)


SECTIONS: tuple[Section, ...] = (
    Section(
        "kpis",
        N_("This week at a glance"),
        "overview",
        N_("No figures."),
        kpi_changes,
        shown=("figure", "value", "previous", "change"),
    ),
    Section(
        "newly_behind",
        N_("Newly behind on reporting"),
        "reporting",
        N_("No partner fell behind on reporting this week."),
        _newly_behind,
    ),
    Section(
        "reporting_backlog",
        N_("Reporting backlog"),
        "reporting",
        N_("No partner is behind on reporting."),
        _backlog,
        attachment="reporting-backlog",
        shown=("partner_id", "partner_name", "missing_reports", "oldest_due", "days_overdue"),
    ),
    Section(
        "stuck_conversions",
        N_("Stuck conversions"),
        "conversions",
        N_("No former RRP has waited too long at its stage."),
        _stuck,
        shown=("partner_id", "partner_name", "stage", "since", "days_at_stage"),
    ),
    Section(
        "stock_warnings",
        N_("Stock warnings"),
        "stock",
        N_("Every product has enough days of cover."),
        _stock_warnings,
    ),
    Section(
        "partner_risk",
        N_("Compliance flags"),
        "compliance",
        N_("No partner raised a compliance flag this week."),
        _partner_risk,
        attachment="partner-risk",
        shown=("partner_id", "partner_name", "flags", "reasons"),
    ),
)


@dataclasses.dataclass(frozen=True)
class InstallationTrend:
    """What the digest's chart draws: installations and the cumulative total per ISO week of
    the last `CHART_WEEKS` weeks, the milestones and the projected next one."""

    weeks: pl.DataFrame
    milestones: pl.DataFrame
    next_milestone: pl.DataFrame
    #: The installations are those of the partners in view, not the company's.
    narrowed: bool = False


def installation_trend(
    connection: sa.Connection, filters: Filters, options: DigestOptions
) -> InstallationTrend:
    """The chart's data for the viewer's scope; the weeks end with the digest's week."""
    window = filters.replace(date_from=filters.as_of - dt.timedelta(weeks=CHART_WEEKS))
    return InstallationTrend(
        weeks=throughput(connection, window, "week"),
        milestones=milestones(connection, window, options.milestones),
        next_milestone=next_milestone(connection, window, options.milestones),
        narrowed=partners_narrowed(filters),
    )
