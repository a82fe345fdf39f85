"""Throughput, milestones and the next-milestone projection (DESIGN §4).

Expected values are counted by hand from the rows each test inserts.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from queries.filters import Filters
from queries.sql import GRAINS, Grain
from queries.throughput import (
    Breakdown,
    installation_breakdown,
    milestones,
    next_milestone,
    throughput,
)
from tests.builders import (
    add_installation,
    add_installations,
    add_partner,
    add_product,
)

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=dt.date(2021, 6, 30))
W11P, O21 = 1, 2
D = dt.date


def _parents(conn: sa.Connection) -> None:
    add_partner(conn, 1, "Alpha")
    add_partner(conn, 2, "Beta")
    add_product(conn, W11P, "W11P", "Windows 11 Pro")
    add_product(conn, O21, "O21", "Office 2021", family="office")


@pytest.fixture
def june(engine: sa.Engine) -> sa.Engine:
    """A handful of attempts around June 2021 (the range; as-of 30 June).

    | when             | success | failed | cumulative successes |
    | 2021-05-20       | 1       |        | 1  (before the range) |
    | 2021-05-31 23:00 | 1       |        | 2  (before the range, same ISO week as 1 June) |
    | 2021-06-01 Tue   | 2       | 1      | 4 |
    | 2021-06-03 Thu   | 1       | 2      | 5 |
    | 2021-06-08 Tue   |         | 1      | 5 |
    | 2021-06-15 Tue   | 1       |        | 6 |
    | 2021-07-01       | 1       |        | after as-of: has not happened |
    """
    with engine.begin() as conn:
        _parents(conn)
        add_installation(conn, 1, 1, W11P, "2021-05-20 10:00")
        add_installation(conn, 2, 1, W11P, "2021-05-31 23:00")
        add_installation(conn, 3, 1, W11P, "2021-06-01 09:00")
        add_installation(conn, 4, 1, W11P, "2021-06-01 10:00", status="failed")
        add_installation(conn, 5, 2, W11P, "2021-06-01 11:00")
        add_installation(conn, 6, 1, W11P, "2021-06-03 00:00")
        add_installation(conn, 7, 1, W11P, "2021-06-03 08:00", status="failed")
        add_installation(conn, 8, 2, W11P, "2021-06-03 23:59:59", status="failed")
        add_installation(conn, 9, 1, W11P, "2021-06-08 10:00", status="failed")
        add_installation(conn, 10, 2, W11P, "2021-06-15 10:00")
        add_installation(conn, 11, 1, W11P, "2021-07-01 00:00")
    return engine


def _rows(engine: sa.Engine, filters: Filters, grain: Grain) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        frame = throughput(conn, filters, grain)
    return frame.select("period", "installations", "failed", "cumulative").rows()


def test_daily_throughput_leaves_out_days_without_attempts(june: sa.Engine) -> None:
    assert _rows(june, JUNE, "day") == [
        (D(2021, 6, 1), 2, 1, 4),
        (D(2021, 6, 3), 1, 2, 5),
        (D(2021, 6, 8), 0, 1, 5),
        (D(2021, 6, 15), 1, 0, 6),
    ]


def test_weekly_throughput_uses_iso_weeks_and_counts_only_the_range(june: sa.Engine) -> None:
    # Week of Monday 31 May: the 31 May success is before the range, so only in cumulative.
    assert _rows(june, JUNE, "week") == [
        (D(2021, 5, 31), 3, 3, 5),
        (D(2021, 6, 7), 0, 1, 5),
        (D(2021, 6, 14), 1, 0, 6),
    ]


def _partial(engine: sa.Engine, filters: Filters, grain: Grain) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return throughput(conn, filters, grain).select("period", "partial").rows()


def test_a_week_that_starts_before_the_range_is_partial(june: sa.Engine) -> None:
    # The range starts on Tuesday 1 June, so the week of Monday 31 May lacks a day.
    assert _partial(june, JUNE, "week") == [
        (D(2021, 5, 31), True),
        (D(2021, 6, 7), False),
        (D(2021, 6, 14), False),
    ]


def test_a_period_not_over_at_the_as_of_date_is_partial(june: sa.Engine) -> None:
    # As of Thursday 3 June, with the range running to 30 June: June has had 3 days.
    early_june = JUNE.replace(as_of=D(2021, 6, 3))

    assert _partial(june, early_june, "month") == [(D(2021, 6, 1), True)]


def test_a_whole_month_inside_the_range_is_not_partial(june: sa.Engine) -> None:
    assert _partial(june, JUNE, "month") == [(D(2021, 6, 1), False)]


def test_days_are_never_partial(june: sa.Engine) -> None:
    assert {partial for _, partial in _partial(june, JUNE, "day")} == {False}


def test_monthly_throughput(june: sa.Engine) -> None:
    assert _rows(june, JUNE, "month") == [(D(2021, 6, 1), 4, 4, 6)]


def test_cumulative_counts_successes_before_the_range(june: sa.Engine) -> None:
    late_june = JUNE.replace(date_from=D(2021, 6, 10))

    # Five successes happened before 10 June; the 15 June one makes six.
    assert _rows(june, late_june, "day") == [(D(2021, 6, 15), 1, 0, 6)]


def test_failure_rate_is_failed_over_all_attempts(june: sa.Engine) -> None:
    with june.connect() as conn:
        frame = throughput(conn, JUNE, "day")

    assert frame.select("attempts", "failure_rate").rows() == [
        (3, 1 / 3),
        (3, 2 / 3),
        (1, 1.0),
        (1, 0.0),
    ]


def test_throughput_ignores_attempts_after_as_of(june: sa.Engine) -> None:
    assert _rows(june, JUNE.replace(as_of=D(2021, 6, 3)), "day") == [
        (D(2021, 6, 1), 2, 1, 4),
        (D(2021, 6, 3), 1, 2, 5),
    ]


def test_throughput_honours_the_partner_filter_in_cumulative_too(june: sa.Engine) -> None:
    # Beta: successes on 1 June and 15 June; failed once on 3 June.
    assert _rows(june, JUNE.replace(partner_ids=(2,)), "day") == [
        (D(2021, 6, 1), 1, 0, 1),
        (D(2021, 6, 3), 0, 1, 1),
        (D(2021, 6, 15), 1, 0, 2),
    ]


def test_throughput_of_an_empty_database_is_an_empty_frame(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        frame = throughput(conn, JUNE, "week")

    assert frame.is_empty()
    assert frame.columns[:4] == ["period", "installations", "failed", "cumulative"]


def test_milestone_is_the_first_day_the_cumulative_total_reaches_it(june: sa.Engine) -> None:
    with june.connect() as conn:
        frame = milestones(conn, JUNE, [3, 5, 7])

    # Cumulative: 20 May 1, 31 May 2, 1 June 4 (jumps past 3), 3 June 5, 15 June 6.
    # The 7th success is on 1 July, after the as-of date: not reached.
    assert frame.rows() == [(3, D(2021, 6, 1)), (5, D(2021, 6, 3)), (7, None)]


def test_milestones_are_a_position_and_ignore_the_date_range(june: sa.Engine) -> None:
    with june.connect() as conn:
        frame = milestones(conn, JUNE.replace(date_from=D(2021, 6, 20)), [2])

    assert frame.rows() == [(2, D(2021, 5, 31))]


def test_milestone_reached_after_as_of_is_not_reached(june: sa.Engine) -> None:
    with june.connect() as conn:
        frame = milestones(conn, JUNE.replace(as_of=D(2021, 6, 2)), [4, 5])

    assert frame.rows() == [(4, D(2021, 6, 1)), (5, None)]


def test_no_milestones_configured_gives_an_empty_frame(june: sa.Engine) -> None:
    with june.connect() as conn:
        frame = milestones(conn, JUNE, [])

    assert frame.is_empty()
    assert frame.columns == ["milestone", "reached_on"]


@pytest.fixture
def trailing(engine: sa.Engine) -> sa.Engine:
    """As-of 30 June 2021; the trailing 28 days are 3 June (d-27) .. 30 June (d).

    Total successes by the as-of date: 5 + 1 + 1 + 4 + 1 = 12; in the trailing window:
    1 (3 June) + 4 (20 June) + 1 (30 June) = 6, so the rate is 6 / 28 a day.
    """
    with engine.begin() as conn:
        _parents(conn)
        add_installations(conn, 5, 1, W11P, "2021-01-10 10:00")
        add_installation(conn, None, 1, W11P, "2021-06-02 23:59:59")  # d-28: outside
        add_installation(conn, None, 1, W11P, "2021-06-03 00:00:00")  # d-27: inside
        add_installations(conn, 4, 2, W11P, "2021-06-20 10:00")
        add_installations(conn, 3, 2, W11P, "2021-06-25 10:00", status="failed")
        add_installation(conn, None, 1, W11P, "2021-06-30 23:59:59")  # d: inside
        add_installation(conn, None, 1, W11P, "2021-07-01 00:00:00")  # after as-of
    return engine


def test_next_milestone_is_projected_from_the_trailing_28_day_rate(trailing: sa.Engine) -> None:
    with trailing.connect() as conn:
        frame = next_milestone(conn, JUNE, [10, 20, 50])

    # 20 - 12 = 8 to go at 6/28 a day: 8 * 28 / 6 = 37.3, so day 38 after 30 June = 7 August.
    assert frame.row(0, named=True) == {
        "milestone": 20,
        "current_total": 12,
        "remaining": 8,
        "rate_per_day": pytest.approx(6 / 28),
        "projected_on": D(2021, 8, 7),
    }


def test_next_milestone_has_no_date_when_nothing_was_installed_lately(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _parents(conn)
        add_installations(conn, 5, 1, W11P, "2021-06-02 10:00")  # d-28: just outside

    with engine.connect() as conn:
        frame = next_milestone(conn, JUNE, [10])

    assert frame.row(0, named=True) == {
        "milestone": 10,
        "current_total": 5,
        "remaining": 5,
        "rate_per_day": 0.0,
        "projected_on": None,
    }


def test_next_milestone_is_empty_when_every_milestone_is_reached(trailing: sa.Engine) -> None:
    with trailing.connect() as conn:
        frame = next_milestone(conn, JUNE, [5, 12])

    row = frame.row(0, named=True)
    assert (row["milestone"], row["remaining"], row["projected_on"]) == (None, None, None)
    assert row["current_total"] == 12


@pytest.fixture
def mix(engine: sa.Engine) -> sa.Engine:
    """June attempts: W11P 3 successes + 1 failure, O21 1 success; three segments, two sites."""
    with engine.begin() as conn:
        _parents(conn)
        add_installation(conn, 1, 1, W11P, "2021-06-02", segment="education", site="Berlin")
        add_installation(conn, 2, 1, W11P, "2021-06-03", segment="education", site="Berlin")
        add_installation(conn, 3, 2, W11P, "2021-06-04", segment="authority", site="Wien")
        add_installation(conn, 4, 2, W11P, "2021-06-05", "failed", "authority", site="Wien")
        add_installation(conn, 5, 2, O21, "2021-06-06", segment="nonprofit")
        add_installation(conn, 6, 1, O21, "2021-05-31", segment="nonprofit")  # before range
    return engine


def _breakdown(engine: sa.Engine, by: Breakdown) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return installation_breakdown(conn, JUNE, by).rows()


def test_breakdown_by_product(mix: sa.Engine) -> None:
    assert _breakdown(mix, "product") == [("W11P", 3, 1, 0.25), ("O21", 1, 0, 0.0)]


def test_breakdown_by_segment_orders_ties_by_name(mix: sa.Engine) -> None:
    assert _breakdown(mix, "segment") == [
        ("education", 2, 0, 0.0),
        ("authority", 1, 1, 0.5),
        ("nonprofit", 1, 0, 0.0),
    ]


def test_breakdown_by_site_names_a_missing_site_unknown(mix: sa.Engine) -> None:
    assert _breakdown(mix, "site") == [
        ("Berlin", 2, 0, 0.0),
        ("(unknown)", 1, 0, 0.0),
        ("Wien", 1, 1, 0.5),
    ]


def test_breakdown_honours_the_segment_filter(mix: sa.Engine) -> None:
    with mix.connect() as conn:
        frame = installation_breakdown(conn, JUNE.replace(segments=("authority",)), "product")

    assert frame.rows() == [("W11P", 1, 1, 0.5)]


def test_each_grain_is_used_when_one_engine_asks_for_several(engine: sa.Engine) -> None:
    """Regression: the grain was missing from SQLAlchemy's statement cache key, so the first
    grain compiled on an engine answered for every other one."""
    with engine.begin() as conn:
        add_partner(conn, 1)
        add_product(conn, 1, "W11P")
        add_installation(conn, 1, 1, 1, "2021-06-02T10:00")
        add_installation(conn, 2, 1, 1, "2021-06-03T10:00")
    june = Filters(
        as_of=dt.date(2021, 6, 30), date_from=dt.date(2021, 6, 1), date_to=dt.date(2021, 6, 30)
    )
    with engine.connect() as conn:
        heights = {grain: throughput(conn, june, grain).height for grain in GRAINS}
    assert heights == {"day": 2, "week": 1, "month": 1}
