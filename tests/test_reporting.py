"""Licence reporting metrics against DESIGN §4, on both dialects.

Every expected value is worked out by hand in the test.  The as-of date is 2021-06-30; a
report for month M is due on the 15th of month M+1 unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from queries.filters import Filters
from queries.reporting import (
    late_report_trend,
    most_urgent_first,
    newly_behind_on_reporting,
    report_status,
    reporting_backlog,
)
from tests.builders import (
    add_account_manager,
    add_installations,
    add_partner,
    add_product,
    add_report,
)

AS_OF = dt.date(2021, 6, 30)
FILTERS = Filters.default(AS_OF)
AFTER_AS_OF = "2021-07-01 00:00"
W11 = 1


def backlog(engine: sa.Engine, filters: Filters = FILTERS) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows: list[dict[str, Any]] = reporting_backlog(conn, filters).rows(named=True)
    return rows


def behind(engine: sa.Engine, filters: Filters = FILTERS) -> list[int]:
    """The ids of the partners behind on reporting, in backlog order."""
    return [row["partner_id"] for row in backlog(engine, filters)]


def statuses(engine: sa.Engine, filters: Filters = FILTERS) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows: list[dict[str, Any]] = report_status(conn, filters).rows(named=True)
    return rows


@pytest.fixture
def partners(engine: sa.Engine) -> sa.Engine:
    """Partners 1, 2 and 3 and product 1, with no reports yet."""
    with engine.begin() as conn:
        add_product(conn, W11, "W11P")
        for partner in (1, 2, 3):
            add_partner(conn, partner)
    return engine


# --- which reports are missing --------------------------------------------------------------


def test_report_due_before_the_as_of_date_and_not_submitted_is_missing(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-04-01", due_at="2021-05-15 00:00")

    assert backlog(partners) == [
        {
            "partner_id": 1,
            "partner_name": "Partner 1",
            "missing_reports": 1,
            "oldest_due": dt.date(2021, 5, 15),
            "days_overdue": 46,  # 16 days left in May + 30 in June
            "unreported_installations": 0,
            "late_reports": 0,
            "discrepancy": 0,
        }
    ]


@pytest.mark.parametrize("due_at", ["2021-06-30 00:00", "2021-06-30 18:00"])
def test_report_due_on_the_as_of_day_itself_is_not_missing_yet(
    partners: sa.Engine, due_at: str
) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-05-01", due_at=due_at)

    assert backlog(partners) == []


def test_report_due_the_day_before_the_as_of_date_is_one_day_overdue(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-05-01", due_at="2021-06-29 23:59:59")

    assert [(r["missing_reports"], r["days_overdue"]) for r in backlog(partners)] == [(1, 1)]


def test_report_submitted_after_the_as_of_date_counts_as_missing(partners: sa.Engine) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-04-01", due_at="2021-05-15", submitted_at=AFTER_AS_OF)
        add_report(
            conn, 2, 2, "2021-04-01", due_at="2021-05-15", submitted_at="2021-06-30 23:59:59"
        )

    assert behind(partners) == [1]


def test_partner_with_every_due_report_submitted_is_not_behind(partners: sa.Engine) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-03-01", submitted_at="2021-04-10")
        add_report(conn, 2, 1, "2021-04-01", submitted_at="2021-05-20")  # late, not missing
        add_report(conn, 3, 1, "2021-06-01")  # due 2021-07-15: open

    assert backlog(partners) == []


def test_days_overdue_count_from_the_oldest_missing_due_date(partners: sa.Engine) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-02-01", due_at="2021-03-15", submitted_at="2021-03-20")
        add_report(conn, 2, 1, "2021-03-01", due_at="2021-04-15 09:00")
        add_report(conn, 3, 1, "2021-04-01", due_at="2021-05-15 09:00")

    [row] = backlog(partners)

    assert row["missing_reports"] == 2
    assert row["oldest_due"] == dt.date(2021, 4, 15)
    assert row["days_overdue"] == 76  # 15 days left in April + 31 in May + 30 in June


def test_backlog_counts_late_reports_submitted_after_their_due_time(partners: sa.Engine) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-01-01", due_at="2021-02-15 00:00", submitted_at="2021-02-15")
        add_report(conn, 2, 1, "2021-02-01", due_at="2021-03-15 00:00", submitted_at="2021-03-16")
        add_report(conn, 3, 1, "2021-03-01", due_at="2021-04-15 00:00")

    assert [(r["missing_reports"], r["late_reports"]) for r in backlog(partners)] == [(1, 1)]


# --- unreported installations ---------------------------------------------------------------


def test_unreported_installations_are_successes_in_the_months_whose_report_is_missing(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-03-01")  # missing
        add_report(conn, 2, 1, "2021-04-01")  # missing
        add_report(conn, 3, 1, "2021-05-01", submitted_at="2021-06-10", reported_installations=4)
        add_report(conn, 4, 2, "2021-04-01", submitted_at="2021-05-10", reported_installations=5)

        add_installations(conn, 1, 1, W11, "2021-02-28 23:59:59")  # February: owed, no row
        add_installations(conn, 2, 1, W11, "2021-03-31 23:59:59")  # March: missing
        add_installations(conn, 1, 1, W11, "2021-04-01 00:00")  # April: missing
        add_installations(conn, 2, 1, W11, "2021-04-30 23:59:59")  # April: missing
        add_installations(conn, 4, 1, W11, "2021-04-15", status="failed")  # failed attempts
        add_installations(conn, 4, 1, W11, "2021-05-01 00:00")  # May: reported
        add_installations(conn, 6, 1, W11, "2021-06-10")  # June: no report yet
        add_installations(conn, 5, 2, W11, "2021-04-10")  # another partner's April

    [row] = backlog(partners)

    assert row["partner_id"] == 1
    assert row["unreported_installations"] == 6  # 1 in February + 2 in March + 3 in April


def test_unreported_installations_ignore_the_product_filter(partners: sa.Engine) -> None:
    with partners.begin() as conn:
        add_product(conn, 2, "O21")
        add_report(conn, 1, 1, "2021-04-01")
        add_installations(conn, 2, 1, W11, "2021-04-10")
        add_installations(conn, 3, 1, 2, "2021-04-12")

    [row] = backlog(partners, FILTERS.replace(product_codes=("O21",)))

    assert row["unreported_installations"] == 5


# --- reports owed without a row -------------------------------------------------------------


def test_partner_without_any_report_rows_is_behind_for_the_months_it_installed(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        add_installations(conn, 4, 1, W11, "2021-04-20")  # April: due 2021-05-10, missing
        add_installations(conn, 2, 1, W11, "2021-05-31 23:59:59")  # May: due 2021-06-10
        add_installations(conn, 3, 1, W11, "2021-06-05")  # June: due 2021-07-10, open

    assert backlog(partners) == [
        {
            "partner_id": 1,
            "partner_name": "Partner 1",
            "missing_reports": 2,
            "oldest_due": dt.date(2021, 5, 10),
            "days_overdue": 51,  # 21 days left in May + 30 in June
            "unreported_installations": 6,  # 4 in April + 2 in May
            "late_reports": 0,
            "discrepancy": 0,
        }
    ]


def test_month_without_a_row_is_due_on_the_configured_day_of_the_next_month(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        add_installations(conn, 4, 1, W11, "2021-04-20")

    with partners.connect() as conn:
        [row] = reporting_backlog(conn, FILTERS, due_day=20).rows(named=True)

    assert (row["oldest_due"], row["days_overdue"]) == (dt.date(2021, 5, 20), 41)


def test_month_without_a_row_due_on_the_as_of_day_is_not_missing_yet(engine: sa.Engine) -> None:
    """As of 2021-06-10 the May report (no row) is due that very day."""
    with engine.begin() as conn:
        add_product(conn, W11, "W11P")
        add_partner(conn, 1)
        add_installations(conn, 2, 1, W11, "2021-05-15")

    assert backlog(engine, Filters.default(dt.date(2021, 6, 10))) == []
    assert behind(engine, Filters.default(dt.date(2021, 6, 11))) == [1]


def test_month_with_only_failed_installations_owes_no_report(partners: sa.Engine) -> None:
    with partners.begin() as conn:
        add_installations(conn, 3, 1, W11, "2021-04-20", status="failed")

    assert backlog(partners) == []


def test_own_site_owes_no_reports_with_or_without_rows(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_product(conn, W11, "W11P")
        add_partner(conn, 1, kind="own_site")
        add_partner(conn, 2, kind="tpr")
        for partner in (1, 2):
            add_installations(conn, 2, partner, W11, "2021-04-20")
        add_report(conn, 1, 1, "2021-03-01")  # a stray row for the own site: still owes none

    assert behind(engine) == [2]
    assert [r["partner_id"] for r in statuses(engine)] == [2]


def test_report_status_lists_an_owed_month_without_a_row_as_missing(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        add_installations(conn, 4, 1, W11, "2021-04-20")

    assert statuses(partners) == [
        {
            "partner_id": 1,
            "partner_name": "Partner 1",
            "period": dt.date(2021, 4, 1),
            "due_on": dt.date(2021, 5, 10),
            "submitted_on": None,
            "status": "missing",
            "reported_installations": None,
            "actual_installations": 4,
            "discrepancy": None,
        }
    ]


def test_late_report_trend_counts_owed_months_without_a_row(partners: sa.Engine) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-04-01", submitted_at="2021-05-01")  # on time
        add_installations(conn, 2, 2, W11, "2021-04-20")  # no row: missing
        add_installations(conn, 1, 3, W11, "2021-06-20")  # no row, due 2021-07-10: open

    with partners.connect() as conn:
        rows = late_report_trend(conn, FILTERS).rows()

    assert rows == [
        # period, reports due, on time, late, missing
        (dt.date(2021, 4, 1), 2, 1, 0, 1),
        (dt.date(2021, 6, 1), 0, 0, 0, 0),
    ]


# --- order, filters and scope ---------------------------------------------------------------


def test_backlog_is_ordered_by_days_overdue_most_first_then_partner_id(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 2, "2021-04-01", due_at="2021-05-15")  # 46 days
        add_report(conn, 2, 1, "2021-04-01", due_at="2021-05-15")  # 46 days
        add_report(conn, 3, 3, "2021-03-01", due_at="2021-04-15")  # 76 days

    assert [(r["partner_id"], r["days_overdue"]) for r in backlog(partners)] == [
        (3, 76),
        (1, 46),
        (2, 46),
    ]


def test_most_urgent_first_puts_unreported_installations_before_days_overdue(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-01-01")  # 0 installations, due 2021-02-15: 135 days
        add_installations(conn, 630, 2, W11, "2021-05-10")  # due 2021-06-10: 20 days
        add_installations(conn, 630, 3, W11, "2021-04-10")  # due 2021-05-10: 51 days

    with partners.connect() as conn:
        frame = most_urgent_first(reporting_backlog(conn, FILTERS))

    assert frame.select("partner_id", "unreported_installations", "days_overdue").rows() == [
        (3, 630, 51),
        (2, 630, 20),
        (1, 0, 135),
    ]


def test_backlog_lists_only_the_chosen_partners(partners: sa.Engine) -> None:
    with partners.begin() as conn:
        for partner in (1, 2, 3):
            add_report(conn, partner, partner, "2021-04-01")

    assert behind(partners, FILTERS.replace(partner_ids=(1, 3))) == [1, 3]


def test_scoped_viewer_sees_only_their_partners_backlog(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_product(conn, W11, "W11P")
        for manager in (1, 2):
            add_account_manager(conn, manager)
            add_partner(conn, manager, manager=manager)
            add_report(conn, manager, manager, "2021-04-01")
            add_installations(conn, 3, manager, W11, "2021-04-20")

    scoped = FILTERS.replace(scope_account_manager_id=2)

    assert [(r["partner_id"], r["unreported_installations"]) for r in backlog(engine, scoped)] == [
        (2, 3)
    ]
    assert [r["partner_id"] for r in statuses(engine, scoped)] == [2]


def test_empty_database_gives_empty_reporting_tables(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert reporting_backlog(conn, FILTERS).is_empty()
        assert report_status(conn, FILTERS).is_empty()
        assert late_report_trend(conn, FILTERS).is_empty()


# --- report status --------------------------------------------------------------------------


@pytest.fixture
def five_months(partners: sa.Engine) -> sa.Engine:
    """Partner 1's reports for February to June 2021, one of each status, with installations."""
    with partners.begin() as conn:
        # February: submitted exactly at the due time (on time); reports 5 of 7.
        add_report(
            conn,
            1,
            1,
            "2021-02-01",
            due_at="2021-03-15 00:00",
            submitted_at="2021-03-15 00:00",
            reported_installations=5,
        )
        add_installations(conn, 7, 1, W11, "2021-02-10")
        add_installations(conn, 3, 1, W11, "2021-02-11", status="failed")
        # March: submitted five days late; reports 4 of 3.
        add_report(
            conn,
            2,
            1,
            "2021-03-01",
            due_at="2021-04-15 00:00",
            submitted_at="2021-04-20 11:00",
            reported_installations=4,
        )
        add_installations(conn, 3, 1, W11, "2021-03-10")
        # April: never submitted.
        add_report(conn, 3, 1, "2021-04-01", due_at="2021-05-15 00:00")
        add_installations(conn, 2, 1, W11, "2021-04-10")
        # May: submitted only after the as-of date, so missing at it.
        add_report(
            conn,
            4,
            1,
            "2021-05-01",
            due_at="2021-06-15 00:00",
            submitted_at="2021-07-02",
            reported_installations=9,
        )
        add_installations(conn, 1, 1, W11, "2021-05-10")
        # June: due 2021-07-15, still open.
        add_report(conn, 5, 1, "2021-06-01", due_at="2021-07-15 00:00")
        add_installations(conn, 6, 1, W11, "2021-06-10")
    return partners


def test_report_status_gives_each_reports_status_at_the_as_of_date(
    five_months: sa.Engine,
) -> None:
    assert [(r["period"], r["status"]) for r in statuses(five_months)] == [
        (dt.date(2021, 2, 1), "on_time"),
        (dt.date(2021, 3, 1), "late"),
        (dt.date(2021, 4, 1), "missing"),
        (dt.date(2021, 5, 1), "missing"),
        (dt.date(2021, 6, 1), "open"),
    ]


def test_report_status_hides_a_submission_made_after_the_as_of_date(
    five_months: sa.Engine,
) -> None:
    may = statuses(five_months)[3]

    assert may["period"] == dt.date(2021, 5, 1)
    assert (may["submitted_on"], may["reported_installations"]) == (None, None)


def test_discrepancy_is_reported_minus_actual_successes_and_empty_when_not_submitted(
    five_months: sa.Engine,
) -> None:
    rows = statuses(five_months)

    assert [
        (r["reported_installations"], r["actual_installations"], r["discrepancy"]) for r in rows
    ] == [
        (5, 7, -2),  # February
        (4, 3, 1),  # March
        (None, 2, None),  # April: missing
        (None, 1, None),  # May: submitted only after the as-of date
        (None, 6, None),  # June: open
    ]


def test_report_status_gives_due_and_submission_days(five_months: sa.Engine) -> None:
    march = statuses(five_months)[1]

    assert (march["due_on"], march["submitted_on"]) == (dt.date(2021, 4, 15), dt.date(2021, 4, 20))


def test_report_status_lists_the_reports_whose_month_is_in_the_range(
    five_months: sa.Engine,
) -> None:
    mid_march_to_mid_may = FILTERS.replace(
        date_from=dt.date(2021, 3, 15), date_to=dt.date(2021, 5, 15)
    )

    assert [r["period"] for r in statuses(five_months, mid_march_to_mid_may)] == [
        dt.date(2021, 3, 1),
        dt.date(2021, 4, 1),
        dt.date(2021, 5, 1),
    ]


# --- late report trend ----------------------------------------------------------------------


def test_late_report_trend_counts_due_on_time_late_and_missing_reports_per_period(
    partners: sa.Engine,
) -> None:
    with partners.begin() as conn:
        # 2020-06 lies before the default range (2020-07-01 … 2021-06-30).
        add_report(conn, 1, 1, "2020-06-01", submitted_at="2020-07-01")
        # 2021-03, due 2021-04-15: on time, late, missing.
        add_report(conn, 2, 1, "2021-03-01", submitted_at="2021-04-15 00:00")
        add_report(conn, 3, 2, "2021-03-01", submitted_at="2021-04-16")
        add_report(conn, 4, 3, "2021-03-01")
        # 2021-04, due 2021-05-15: late, and submitted only after the as-of date.
        add_report(conn, 5, 1, "2021-04-01", submitted_at="2021-06-01")
        add_report(conn, 6, 2, "2021-04-01", submitted_at=AFTER_AS_OF)
        # 2021-06, due 2021-07-15: not due yet.
        add_report(conn, 7, 1, "2021-06-01")

    with partners.connect() as conn:
        rows = late_report_trend(conn, FILTERS).rows()

    assert rows == [
        # period, reports due, on time, late, missing
        (dt.date(2021, 3, 1), 3, 1, 1, 1),
        (dt.date(2021, 4, 1), 2, 0, 1, 1),
        (dt.date(2021, 6, 1), 0, 0, 0, 0),
    ]


# --- newly behind (the digest's news) ---------------------------------------------------------


def test_newly_behind_lists_partners_behind_now_but_not_at_the_earlier_date(
    partners: sa.Engine,
) -> None:
    """Since 23 June: partner 1's report was due 10 June (behind already), partner 2's 25 June
    (fell behind since), partner 3's 23 June itself (not missing on its due day, so new)."""
    with partners.begin() as conn:
        add_report(conn, 1, 1, "2021-05-01", due_at="2021-06-10")
        add_report(conn, 2, 2, "2021-05-01", due_at="2021-06-25")
        add_report(conn, 3, 3, "2021-05-01", due_at="2021-06-23")

    with partners.connect() as conn:
        frame = newly_behind_on_reporting(conn, FILTERS, dt.date(2021, 6, 23))

    # Backlog order: partner 3 is 7 days overdue, partner 2 is 5.
    assert frame["partner_id"].to_list() == [3, 2]
