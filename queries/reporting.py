"""Licence reporting: the monthly reports partners owe the MAR, and who is behind.

A report is missing when it was due before the as-of day and not submitted by it; a report
due on the as-of day itself is not missing yet.  Product and segment filters do not apply:
a licence report covers all of a partner's installations.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from data.schema import licence_reports, partners
from queries.facts import installation_counts
from queries.filters import Filters
from queries.run import fetch
from queries.scope import partner_in_scope
from queries.sql import (
    count_where,
    days_between,
    happened_by,
    not_happened_by,
    start_of,
)

_reports = licence_reports.c


def is_missing(day: dt.date) -> ColumnElement[bool]:
    return sa.and_(_reports.due_at < start_of(day), not_happened_by(_reports.submitted_at, day))


def is_late(day: dt.date) -> ColumnElement[bool]:
    return sa.and_(happened_by(_reports.submitted_at, day), _reports.submitted_at > _reports.due_at)


def _monthly_installations(connection: sa.Connection, filters: Filters) -> sa.Subquery:
    """Successful installations per partner and calendar month, up to the as-of date."""
    every_product = filters.replace(product_codes=(), segments=())
    days = installation_counts(
        connection, every_product, None, filters.as_of, period="month", per_partner=True
    )
    return (
        sa.select(days.c.partner_id, days.c.month, sa.func.sum(days.c.successes).label("n"))
        .group_by(days.c.partner_id, days.c.month)
        .subquery()
    )


def reporting_backlog(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per partner behind on reporting (at least one missing report), most days
    overdue first, then partner id.

    Days overdue = as-of - due date of the oldest missing report; unreported installations =
    the partner's successful installations in the months whose report is missing.
    """
    monthly = _monthly_installations(connection, filters)
    missing = is_missing(filters.as_of)
    oldest_due = sa.func.min(sa.case((missing, _reports.due_at)))
    overdue = days_between(sa.literal(filters.as_of, sa.Date), oldest_due)
    actual = sa.func.coalesce(monthly.c.n, 0)
    submitted = happened_by(_reports.submitted_at, filters.as_of)
    statement = (
        sa.select(
            partners.c.id,
            partners.c.name,
            count_where(missing),
            oldest_due,
            overdue,
            sa.func.coalesce(sa.func.sum(sa.case((missing, actual), else_=0)), 0),
            count_where(is_late(filters.as_of)),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case((submitted, _reports.reported_installations - actual), else_=0)
                ),
                0,
            ),
        )
        .select_from(licence_reports)
        .join(partners, partners.c.id == _reports.partner_id)
        .outerjoin(
            monthly,
            sa.and_(
                monthly.c.partner_id == _reports.partner_id, monthly.c.month == _reports.period
            ),
        )
        .where(*partner_in_scope(_reports.partner_id, filters))
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


def report_status(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per licence report whose period falls in the range, with its status at the
    as-of date (missing, late, on_time, open) and reported vs actual installations.

    Discrepancy = reported - actual successful installations of that month; empty for a
    report not submitted by the as-of date.
    """
    monthly = _monthly_installations(connection, filters)
    day = filters.as_of
    submitted = happened_by(_reports.submitted_at, day)
    status = sa.case(
        (is_missing(day), "missing"),
        (is_late(day), "late"),
        (submitted, "on_time"),
        else_="open",
    )
    actual = sa.func.coalesce(monthly.c.n, 0)
    statement = (
        sa.select(
            _reports.partner_id,
            partners.c.name,
            _reports.period,
            _reports.due_at,
            sa.case((submitted, _reports.submitted_at)),
            status,
            sa.case((submitted, _reports.reported_installations)),
            actual,
            sa.case((submitted, _reports.reported_installations - actual)),
        )
        .join(partners, partners.c.id == _reports.partner_id)
        .outerjoin(
            monthly,
            sa.and_(
                monthly.c.partner_id == _reports.partner_id, monthly.c.month == _reports.period
            ),
        )
        .where(
            _reports.period >= filters.date_from.replace(day=1),
            _reports.period <= filters.range_end,
            *partner_in_scope(_reports.partner_id, filters),
        )
        .order_by(_reports.partner_id, _reports.period)
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


def late_report_trend(connection: sa.Connection, filters: Filters) -> pl.DataFrame:
    """One row per report period in the range: reports due by the as-of date and how many
    of them were on time, late or are missing."""
    day = filters.as_of
    due = _reports.due_at < start_of(day)
    statement = (
        sa.select(
            _reports.period,
            count_where(due),
            count_where(
                sa.and_(
                    due,
                    happened_by(_reports.submitted_at, day),
                    _reports.submitted_at <= _reports.due_at,
                )
            ),
            count_where(sa.and_(due, is_late(day))),
            count_where(is_missing(day)),
        )
        .where(
            _reports.period >= filters.date_from.replace(day=1),
            _reports.period <= filters.range_end,
            *partner_in_scope(_reports.partner_id, filters),
        )
        .group_by(_reports.period)
        .order_by(_reports.period)
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
