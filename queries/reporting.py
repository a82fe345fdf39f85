"""Licence reporting: the monthly reports TPRs owe the MAR, and who is behind.

Every TPR owes a report for each calendar month in which it had successful installations,
whether or not a licence_reports row exists: a month without a row counts as a report due on
a configured day of the following month and never submitted (DESIGN §4), so a partner that
never sends anything is behind, not invisible.  Own sites owe none.  A report is missing when
it was due before the as-of day and not submitted by it; a report due on the as-of day itself
is not missing yet.  Product and segment filters do not apply: a licence report covers all of
a partner's installations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.dialect import day_of_next_month
from data.schema import licence_reports, partners
from data.settings import DEFAULT_REPORT_DUE_DAY
from queries.facts import installation_counts
from queries.filters import Filters
from queries.run import fetch
from queries.scope import is_tpr, partner_in_scope
from queries.sql import count_where, days_between, happened_by, not_happened_by, start_of

_reports = licence_reports.c


def is_missing(report: Any, day: dt.date) -> ColumnElement[bool]:
    """Due before `day` and not submitted by its end."""
    return sa.and_(report.due_at < start_of(day), not_happened_by(report.submitted_at, day))


def is_late(report: Any, day: dt.date) -> ColumnElement[bool]:
    """Submitted by `day`, after its due time."""
    return sa.and_(happened_by(report.submitted_at, day), report.submitted_at > report.due_at)


def _monthly_installations(connection: sa.Connection, filters: Filters) -> sa.CTE:
    """Successful installations per partner in view and calendar month, up to the as-of date
    (from the partner-month rollups where they are complete)."""
    every_product = filters.without("product", "installation")
    days = installation_counts(
        connection, every_product, None, filters.as_of, period="month", per_partner=True
    )
    return (
        sa.select(days.c.partner_id, days.c.month, sa.func.sum(days.c.successes).label("n"))
        .group_by(days.c.partner_id, days.c.month)
        .having(sa.func.sum(days.c.successes) > 0)
        .cte("monthly_installations")
    )


def owed_reports(
    connection: sa.Connection, filters: Filters, due_day: int = DEFAULT_REPORT_DUE_DAY
) -> sa.Subquery:
    """One row per report a TPR in view owes: its licence_reports rows, and each month with
    successful installations up to the as-of date that has no row (due at midnight of day
    `due_day` of the following month, never submitted).

    Columns: partner_id, period, due_at, submitted_at, reported_installations and `actual`
    (the month's successful installations, 0 for none).
    """
    monthly = _monthly_installations(connection, filters)
    m = monthly.c
    tprs = sa.select(partners.c.id).where(is_tpr()).scalar_subquery()
    stated = (
        sa.select(
            _reports.partner_id,
            _reports.period,
            _reports.due_at,
            _reports.submitted_at,
            _reports.reported_installations,
            sa.func.coalesce(m.n, 0).label("actual"),
        )
        .outerjoin(
            monthly, sa.and_(m.partner_id == _reports.partner_id, m.month == _reports.period)
        )
        .where(
            _reports.partner_id.in_(tprs),
            *partner_in_scope(_reports.partner_id, filters),
        )
    )
    without_row = (
        sa.select(
            m.partner_id,
            m.month,
            day_of_next_month(m.month, due_day),
            sa.null(),
            sa.null(),
            m.n,
        )
        .outerjoin(
            licence_reports,
            sa.and_(_reports.partner_id == m.partner_id, _reports.period == m.month),
        )
        .where(_reports.id.is_(None), m.partner_id.in_(tprs))
    )
    return sa.union_all(stated, without_row).subquery("owed_reports")


def reporting_backlog(
    connection: sa.Connection, filters: Filters, due_day: int = DEFAULT_REPORT_DUE_DAY
) -> pl.DataFrame:
    """One row per TPR behind on reporting (at least one missing owed report), most days
    overdue first, then partner id.

    Days overdue = as-of - due date of the oldest missing report; unreported installations =
    the partner's successful installations in the months whose report is missing.
    """
    owed = owed_reports(connection, filters, due_day)
    o = owed.c
    day = filters.as_of
    missing = is_missing(o, day)
    oldest_due = sa.func.min(sa.case((missing, o.due_at)))
    overdue = days_between(sa.literal(day, sa.Date), oldest_due)
    submitted = happened_by(o.submitted_at, day)
    statement = (
        sa.select(
            partners.c.id,
            partners.c.name,
            count_where(missing),
            oldest_due,
            overdue,
            sa.func.coalesce(sa.func.sum(sa.case((missing, o.actual), else_=0)), 0),
            count_where(is_late(o, day)),
            sa.func.coalesce(
                sa.func.sum(sa.case((submitted, o.reported_installations - o.actual), else_=0)),
                0,
            ),
        )
        .select_from(owed)
        .join(partners, partners.c.id == o.partner_id)
        .group_by(partners.c.id, partners.c.name)
        .having(count_where(missing) > 0)
        .order_by(overdue.desc(), partners.c.id)
    )
    frame = fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "missing_reports": pl.Int64,
            "oldest_due": pl.Datetime("us"),
            "days_overdue": pl.Int64,
            "unreported_installations": pl.Int64,
            "late_reports": pl.Int64,
            "discrepancy": pl.Int64,
        },
    )
    return frame.with_columns(pl.col("oldest_due").dt.date())


def _in_range(owed: sa.Subquery, filters: Filters) -> list[ColumnElement[bool]]:
    """Reports whose month overlaps the range (up to the as-of date)."""
    return [
        owed.c.period >= filters.date_from.replace(day=1),
        owed.c.period <= filters.range_end,
    ]


def report_status(
    connection: sa.Connection, filters: Filters, due_day: int = DEFAULT_REPORT_DUE_DAY
) -> pl.DataFrame:
    """One row per owed report whose month overlaps the range, with its status at the as-of
    date (missing, late, on_time, open) and reported vs actual installations; partner then
    month.

    Discrepancy = reported - actual successful installations of that month; empty for a
    report not submitted by the as-of date.
    """
    owed = owed_reports(connection, filters, due_day)
    o = owed.c
    day = filters.as_of
    submitted = happened_by(o.submitted_at, day)
    status = sa.case(
        (is_missing(o, day), "missing"),
        (is_late(o, day), "late"),
        (submitted, "on_time"),
        else_="open",
    )
    statement = (
        sa.select(
            o.partner_id,
            partners.c.name,
            o.period,
            o.due_at,
            sa.case((submitted, o.submitted_at)),
            status,
            sa.case((submitted, o.reported_installations)),
            o.actual,
            sa.case((submitted, o.reported_installations - o.actual)),
        )
        .join(partners, partners.c.id == o.partner_id)
        .where(*_in_range(owed, filters))
        .order_by(o.partner_id, o.period)
    )
    frame = fetch(
        connection,
        statement,
        {
            "partner_id": pl.Int64,
            "partner_name": pl.String,
            "period": pl.Date,
            "due_at": pl.Datetime("us"),
            "submitted_at": pl.Datetime("us"),
            "status": pl.String,
            "reported_installations": pl.Int64,
            "actual_installations": pl.Int64,
            "discrepancy": pl.Int64,
        },
    )
    return frame.with_columns(
        pl.col("due_at").dt.date().alias("due_on"),
        pl.col("submitted_at").dt.date().alias("submitted_on"),
    ).select(
        "partner_id",
        "partner_name",
        "period",
        "due_on",
        "submitted_on",
        "status",
        "reported_installations",
        "actual_installations",
        "discrepancy",
    )


def late_report_trend(
    connection: sa.Connection, filters: Filters, due_day: int = DEFAULT_REPORT_DUE_DAY
) -> pl.DataFrame:
    """One row per report month in the range: owed reports due by the as-of date and how
    many of them were on time, late or are missing."""
    owed = owed_reports(connection, filters, due_day)
    o = owed.c
    day = filters.as_of
    due = o.due_at < start_of(day)
    statement = (
        sa.select(
            o.period,
            count_where(due),
            count_where(sa.and_(due, happened_by(o.submitted_at, day), o.submitted_at <= o.due_at)),
            count_where(sa.and_(due, is_late(o, day))),
            count_where(is_missing(o, day)),
        )
        .where(*_in_range(owed, filters))
        .group_by(o.period)
        .order_by(o.period)
    )
    return fetch(
        connection,
        statement,
        {
            "period": pl.Date,
            "reports_due": pl.Int64,
            "on_time": pl.Int64,
            "late": pl.Int64,
            "missing": pl.Int64,
        },
    )


def most_urgent_first(backlog: pl.DataFrame) -> pl.DataFrame:
    """The backlog in the order to chase it: most unreported installations first, then most
    days overdue, then partner id (the export keeps DESIGN's order, by days overdue)."""
    return backlog.sort(
        ["unreported_installations", "days_overdue", "partner_id"],
        descending=[True, True, False],
    )


def newly_behind_on_reporting(
    connection: sa.Connection,
    filters: Filters,
    since: dt.date,
    due_day: int = DEFAULT_REPORT_DUE_DAY,
) -> pl.DataFrame:
    """One row per partner behind on reporting at the as-of date that was not behind at
    `since` (the weekly digest passes the as-of date a week earlier), ordered like the backlog.

    The whole backlog is the call list; this is the news in it that a weekly reader has not
    seen yet.
    """
    now = reporting_backlog(connection, filters, due_day)
    before = reporting_backlog(connection, filters.replace(as_of=since), due_day)
    return now.join(before.select("partner_id"), on="partner_id", how="anti")
