"""The RRP → TPR conversion metrics against DESIGN §4, on both dialects.

Every expected value is worked out by hand in the test.  The as-of date is 2021-06-30 unless a
test says otherwise; "after the as-of date" means from 2021-07-01 00:00 on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from queries.conversions import (
    conversion_funnel,
    conversion_summary,
    conversions_over_time,
    lost_partners,
    lost_reasons,
    stuck_conversions,
    stuck_partners,
    time_to_convert,
)
from queries.filters import Filters
from tests.builders import add_account_manager, add_conversion, add_partner

AS_OF = dt.date(2021, 6, 30)
FILTERS = Filters.default(AS_OF)
AFTER_AS_OF = "2021-07-01 00:00"
LAST_SECOND_OF_AS_OF = "2021-06-30 23:59:59"


def run(engine: sa.Engine, metric: Callable[..., pl.DataFrame], filters: Filters = FILTERS) -> Any:
    with engine.connect() as conn:
        return metric(conn, filters)


def funnel(engine: sa.Engine, filters: Filters = FILTERS) -> dict[str, int]:
    frame = run(engine, conversion_funnel, filters)
    return dict(zip(frame["stage"], frame["partners"], strict=True))


def summary(engine: sa.Engine, filters: Filters = FILTERS) -> dict[str, Any]:
    rows = run(engine, conversion_summary, filters).rows(named=True)
    assert len(rows) == 1
    return rows[0]


def add_rrp(conn: sa.Connection, partner: int, manager: int | None = None, **stages: Any) -> None:
    """A partner that was a registered refurbisher, with the conversion stages it reached."""
    add_partner(conn, partner, manager=manager)
    add_conversion(conn, partner, **stages)


def add_converted(conn: sa.Connection, partner: int, contacted_at: str, signed_at: str) -> None:
    add_rrp(
        conn,
        partner,
        contacted_at=contacted_at,
        applied_at=contacted_at,
        contract_signed_at=signed_at,
    )


# --- funnel ---------------------------------------------------------------------------------


def test_funnel_counts_the_partners_that_reached_each_stage(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1)
        add_rrp(conn, 2, contacted_at="2020-11-01")
        add_rrp(
            conn,
            3,
            contacted_at="2020-11-01",
            applied_at="2020-11-10",
            contract_signed_at="2020-12-01",
            first_order_at="2021-01-05",
        )

    assert funnel(engine) == {
        "registered": 3,
        "contacted": 2,
        "applied": 1,
        "contract_signed": 1,
        "first_order": 1,
    }


def test_funnel_lists_the_stages_in_funnel_order(engine: sa.Engine) -> None:
    frame = run(engine, conversion_funnel)

    assert frame["stage"].to_list() == [
        "registered",
        "contacted",
        "applied",
        "contract_signed",
        "first_order",
    ]


def test_funnel_counts_a_stage_by_its_own_timestamp_even_when_an_earlier_one_is_empty(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1, applied_at="2021-02-01")

    assert funnel(engine)["contacted"] == 0
    assert funnel(engine)["applied"] == 1


def test_funnel_counts_a_lost_partner_for_the_stages_it_reached(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_rrp(
            conn,
            1,
            contacted_at="2020-11-01",
            applied_at="2020-11-10",
            lost_at="2021-01-15",
            lost_reason="price",
        )

    assert funnel(engine) == {
        "registered": 1,
        "contacted": 1,
        "applied": 1,
        "contract_signed": 0,
        "first_order": 0,
    }


def test_funnel_ignores_a_stage_reached_after_the_as_of_date(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1, contacted_at="2021-06-01", contract_signed_at=LAST_SECOND_OF_AS_OF)
        add_rrp(conn, 2, contacted_at="2021-06-01", contract_signed_at=AFTER_AS_OF)
        add_rrp(conn, 3, registered_at=AFTER_AS_OF)

    assert funnel(engine) == {
        "registered": 2,
        "contacted": 2,
        "applied": 0,
        "contract_signed": 1,
        "first_order": 0,
    }


def test_funnel_gives_each_stage_as_a_share_of_registered(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1)
        add_rrp(conn, 2, contacted_at="2021-01-01")
        add_rrp(conn, 3, contacted_at="2021-01-01")
        add_rrp(conn, 4, contacted_at="2021-01-01", contract_signed_at="2021-02-01")

    shares = run(engine, conversion_funnel)["share_of_registered"].to_list()

    assert shares == [1.0, 0.75, 0.0, 0.25, 0.0]


# --- summary and time to convert ------------------------------------------------------------


def test_conversion_rate_is_contracts_signed_over_registered(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1)
        add_rrp(conn, 2, contacted_at="2021-01-01")
        add_rrp(conn, 3, contacted_at="2021-01-01", applied_at="2021-01-05")
        add_converted(conn, 4, "2021-01-01", "2021-02-01")

    result = summary(engine)

    assert (result["registered"], result["converted"]) == (4, 1)
    assert result["conversion_rate"] == 0.25


def test_conversion_rate_ignores_a_contract_signed_after_the_as_of_date(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_converted(conn, 1, "2021-01-01", "2021-02-01")
        add_converted(conn, 2, "2021-01-01", AFTER_AS_OF)

    result = summary(engine)

    assert (result["registered"], result["converted"], result["conversion_rate"]) == (2, 1, 0.5)


def test_summary_counts_partners_lost_by_the_as_of_date(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1, lost_at="2021-03-01", lost_reason="price")
        add_rrp(conn, 2, lost_at=LAST_SECOND_OF_AS_OF, lost_reason="price")
        add_rrp(conn, 3, lost_at=AFTER_AS_OF, lost_reason="price")
        add_rrp(conn, 4)

    assert summary(engine)["lost"] == 2


def test_median_days_to_convert_of_an_odd_count_is_the_middle_value(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_converted(conn, 1, "2021-01-01 10:00", "2021-01-11 10:00")  # 10 days
        add_converted(conn, 2, "2021-01-01 10:00", "2021-03-02 10:00")  # 60 days
        add_converted(conn, 3, "2021-02-01 10:00", "2021-02-21 10:00")  # 20 days

    assert summary(engine)["median_days_to_convert"] == 20.0


def test_median_days_to_convert_of_an_even_count_is_the_mean_of_the_middle_two(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_converted(conn, 1, "2021-01-01 10:00", "2021-01-11 10:00")  # 10 days
        add_converted(conn, 2, "2021-01-01 10:00", "2021-01-21 10:00")  # 20 days
        add_converted(conn, 3, "2021-01-01 10:00", "2021-01-31 10:00")  # 30 days
        add_converted(conn, 4, "2021-01-01 10:00", "2021-02-20 10:00")  # 50 days

    assert summary(engine)["median_days_to_convert"] == 25.0


def test_time_to_convert_counts_partners_per_whole_number_of_days(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_converted(conn, 1, "2021-01-01 09:00", "2021-01-15 09:00")  # 14 days
        add_converted(conn, 2, "2021-03-10 16:00", "2021-03-24 16:00")  # 14 days
        add_converted(conn, 3, "2021-02-01 12:00", "2021-03-03 12:00")  # 30 days
        add_converted(conn, 4, "2021-05-01 12:00", "2021-05-04 12:00")  # 3 days

    frame = run(engine, time_to_convert)

    assert frame.rows() == [(3, 1), (14, 2), (30, 1)]


def test_time_to_convert_leaves_out_contracts_signed_after_the_as_of_date_or_never(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_converted(conn, 1, "2021-06-01 12:00", "2021-06-08 12:00")  # 7 days
        add_converted(conn, 2, "2021-06-01 12:00", "2021-07-08 12:00")  # after as-of
        add_rrp(conn, 3, contacted_at="2021-06-01 12:00")
        add_rrp(conn, 4, contract_signed_at="2021-06-01 12:00")  # never contacted

    assert run(engine, time_to_convert).rows() == [(7, 1)]


def test_empty_database_gives_zero_counts_and_an_empty_rate(engine: sa.Engine) -> None:
    assert funnel(engine) == dict.fromkeys(
        ["registered", "contacted", "applied", "contract_signed", "first_order"], 0
    )
    assert run(engine, conversion_funnel)["share_of_registered"].to_list() == [None] * 5
    assert summary(engine) == {
        "registered": 0,
        "converted": 0,
        "conversion_rate": None,
        "lost": 0,
        "median_days_to_convert": None,
    }


@pytest.mark.parametrize(
    "metric",
    [time_to_convert, conversions_over_time, lost_reasons, stuck_partners, lost_partners],
)
def test_empty_database_gives_empty_tables(
    engine: sa.Engine, metric: Callable[..., pl.DataFrame]
) -> None:
    assert run(engine, metric).is_empty()


# --- conversions over time ------------------------------------------------------------------


def test_conversions_over_time_counts_contracts_and_losses_per_month_with_inclusive_range(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_converted(conn, 1, "2021-01-10", "2021-02-28 23:59:59")  # the day before the range
        add_converted(conn, 2, "2021-01-10", "2021-03-01 00:00")  # first instant of the range
        add_converted(conn, 3, "2021-01-10", "2021-03-20 10:00")
        add_converted(conn, 4, "2021-01-10", "2021-05-31 23:59:59")  # last instant of the range
        add_converted(conn, 5, "2021-01-10", "2021-06-01 00:00")  # the day after the range
        add_rrp(conn, 6, lost_at="2021-04-12", lost_reason="price")
        add_rrp(conn, 7, lost_at="2021-06-01", lost_reason="price")
    in_spring = FILTERS.replace(date_from=dt.date(2021, 3, 1), date_to=dt.date(2021, 5, 31))

    frame = run(engine, conversions_over_time, in_spring)

    assert frame.rows() == [
        (dt.date(2021, 3, 1), 2, 0),
        (dt.date(2021, 4, 1), 0, 1),
        (dt.date(2021, 5, 1), 1, 0),
    ]


def test_conversions_over_time_ignores_events_after_the_as_of_date(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_converted(conn, 1, "2021-06-01", "2021-06-15")
        add_converted(conn, 2, "2021-06-01", "2021-07-02")
        add_rrp(conn, 3, lost_at="2021-07-03", lost_reason="price")
    beyond_as_of = FILTERS.replace(date_from=dt.date(2021, 6, 1), date_to=dt.date(2021, 7, 31))

    frame = run(engine, conversions_over_time, beyond_as_of)

    assert frame.rows() == [(dt.date(2021, 6, 1), 1, 0)]


# --- lost partners and reasons --------------------------------------------------------------


def test_lost_reasons_counts_partners_per_reason_most_frequent_first(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1, lost_at="2021-02-01", lost_reason="price")
        add_rrp(conn, 2, lost_at="2021-03-01", lost_reason="price")
        add_rrp(conn, 3, lost_at="2021-03-05", lost_reason="signed with another MAR")
        add_rrp(conn, 4, lost_at="2021-04-01", lost_reason="stopped refurbishing")
        add_rrp(conn, 5, lost_at="2021-04-01")
        add_rrp(conn, 6, lost_at=AFTER_AS_OF, lost_reason="price")

    frame = run(engine, lost_reasons)

    assert frame.rows() == [
        ("price", 2),
        ("(no reason given)", 1),
        ("signed with another MAR", 1),
        ("stopped refurbishing", 1),
    ]


def test_lost_partners_lists_reason_and_last_stage_most_recently_lost_first(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_rrp(
            conn,
            1,
            contacted_at="2021-01-05",
            applied_at="2021-01-20",
            lost_at="2021-03-01 10:00",
            lost_reason="price",
        )
        add_rrp(conn, 2, contacted_at="2021-02-01", lost_at="2021-05-01 10:00", lost_reason="tax")
        add_rrp(conn, 3, lost_at="2021-02-01 10:00")
        add_rrp(conn, 4, contacted_at="2021-02-01", lost_at=AFTER_AS_OF, lost_reason="price")

    frame = run(engine, lost_partners)

    assert frame.rows() == [
        (2, "Partner 2", "contacted", dt.date(2021, 5, 1), "tax"),
        (1, "Partner 1", "applied", dt.date(2021, 3, 1), "price"),
        (3, "Partner 3", "registered", dt.date(2021, 2, 1), None),
    ]


def test_lost_partner_last_stage_ignores_stages_after_the_as_of_date(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_rrp(
            conn,
            1,
            contacted_at="2021-05-01",
            applied_at=AFTER_AS_OF,
            lost_at="2021-06-15",
            lost_reason="price",
        )

    assert run(engine, lost_partners)["last_stage"].to_list() == ["contacted"]


# --- stuck partners -------------------------------------------------------------------------


def test_stuck_partner_shows_its_furthest_stage_since_when_and_for_how_many_days(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_rrp(
            conn,
            1,
            registered_at="2020-10-01",
            contacted_at="2021-01-10",
            applied_at="2021-06-01 15:30",
        )

    frame = run(engine, stuck_partners)

    # 2021-06-01 → 2021-06-30 is 29 days.
    assert frame.rows() == [(1, "Partner 1", "applied", dt.date(2021, 6, 1), 29, "under a month")]


def test_stuck_partners_are_listed_warm_first_and_silent_for_a_year_last(
    engine: sa.Engine,
) -> None:
    """All contacted, as of 2021-06-30: 10, 45, 60, 200 and 400 days ago."""
    with engine.begin() as conn:
        add_rrp(conn, 1, registered_at="2020-01-01", contacted_at="2021-06-20")  # 10 days
        add_rrp(conn, 2, registered_at="2020-01-01", contacted_at="2021-05-16")  # 45 days
        add_rrp(conn, 3, registered_at="2020-01-01", contacted_at="2021-05-01")  # 60 days
        add_rrp(conn, 4, registered_at="2020-01-01", contacted_at="2020-12-12")  # 200 days
        add_rrp(conn, 5, registered_at="2020-01-01", contacted_at="2020-05-26")  # 400 days

    frame = run(engine, stuck_partners)

    assert frame.select("partner_id", "days_at_stage", "waiting").rows() == [
        (3, 60, "1 to 3 months"),
        (2, 45, "1 to 3 months"),
        (4, 200, "3 to 12 months"),
        (1, 10, "under a month"),
        (5, 400, "a year or more"),
    ]


def test_stuck_partners_leave_out_lost_partners_and_those_with_a_first_order(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1, contacted_at="2021-02-01")
        add_rrp(conn, 2, contacted_at="2021-02-01", lost_at="2021-03-01", lost_reason="price")
        add_rrp(
            conn,
            3,
            contacted_at="2021-02-01",
            contract_signed_at="2021-03-01",
            first_order_at="2021-04-01",
        )

    assert run(engine, stuck_partners)["partner_id"].to_list() == [1]


def test_stuck_partners_include_those_lost_or_ordering_only_after_the_as_of_date(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1, contacted_at="2021-06-10", lost_at=AFTER_AS_OF, lost_reason="price")
        add_rrp(
            conn,
            2,
            contacted_at="2021-05-01",
            contract_signed_at="2021-06-01",
            first_order_at="2021-07-02",
        )
        add_rrp(conn, 3, registered_at=AFTER_AS_OF)

    frame = run(engine, stuck_partners)

    # 2021-06-10 → 2021-06-30 is 20 days; 2021-06-01 → 2021-06-30 is 29 days.
    assert frame.select("partner_id", "stage", "since", "days_at_stage").rows() == [
        (1, "contacted", dt.date(2021, 6, 10), 20),
        (2, "contract_signed", dt.date(2021, 6, 1), 29),
    ]


def test_stuck_partner_stage_ignores_a_stage_reached_after_the_as_of_date(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1, contacted_at="2021-05-01", applied_at="2021-07-05")

    frame = run(engine, stuck_partners)

    # 2021-05-01 → 2021-06-30 is 30 + 30 = 60 days.
    assert frame.select("stage", "since", "days_at_stage").rows() == [
        ("contacted", dt.date(2021, 5, 1), 60)
    ]


def test_stuck_partners_are_ordered_by_stage_then_longest_waiting_then_id(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_rrp(conn, 1, contacted_at="2021-06-01")  # contacted, 29 days
        add_rrp(conn, 2, registered_at="2021-06-20")  # registered, 10 days
        add_rrp(conn, 3, contacted_at="2021-04-01")  # contacted, 90 days
        add_rrp(conn, 4, registered_at="2021-01-10")  # registered, 171 days
        add_rrp(conn, 5, contacted_at="2021-06-01", contract_signed_at="2021-06-20")  # signed
        add_rrp(conn, 6, contacted_at="2021-06-01 18:00")  # contacted, 29 days

    frame = run(engine, stuck_partners)

    assert frame.select("partner_id", "stage", "days_at_stage").rows() == [
        (4, "registered", 171),
        (2, "registered", 10),
        (3, "contacted", 90),
        (1, "contacted", 29),
        (6, "contacted", 29),
        (5, "contract_signed", 10),
    ]


# --- filters and scope ----------------------------------------------------------------------


@pytest.fixture
def two_managers(engine: sa.Engine) -> sa.Engine:
    """Manager 1 has partners 1 (signed) and 2 (contacted); manager 2 has partner 3 (lost)."""
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        add_rrp(conn, 1, manager=1, contacted_at="2021-01-05", contract_signed_at="2021-02-04")
        add_rrp(conn, 2, manager=1, contacted_at="2021-03-01")
        add_rrp(conn, 3, manager=2, lost_at="2021-04-01", lost_reason="price")
    return engine


def test_funnel_counts_only_the_chosen_partners(two_managers: sa.Engine) -> None:
    counts = funnel(two_managers, FILTERS.replace(partner_ids=(1, 3)))

    assert (counts["registered"], counts["contacted"], counts["contract_signed"]) == (2, 1, 1)


def test_funnel_counts_only_the_partners_of_the_chosen_manager(two_managers: sa.Engine) -> None:
    counts = funnel(two_managers, FILTERS.replace(account_manager_id=2))

    assert (counts["registered"], counts["contacted"], counts["contract_signed"]) == (1, 0, 0)


def test_partners_combined_with_a_manager_mean_that_managers_partners_among_them(
    two_managers: sa.Engine,
) -> None:
    filters = FILTERS.replace(partner_ids=(2, 3), account_manager_id=1)

    assert funnel(two_managers, filters)["registered"] == 1
    assert run(two_managers, stuck_partners, filters)["partner_id"].to_list() == [2]


def test_summary_of_a_scoped_viewer_counts_only_their_partners(two_managers: sa.Engine) -> None:
    result = summary(two_managers, FILTERS.replace(scope_account_manager_id=1))

    assert result == {
        "registered": 2,
        "converted": 1,
        "conversion_rate": 0.5,
        "lost": 0,
        "median_days_to_convert": 30.0,
    }


def test_scoped_viewer_sees_only_their_own_stuck_and_lost_partners(
    two_managers: sa.Engine,
) -> None:
    scoped_to_1 = FILTERS.replace(scope_account_manager_id=1)
    scoped_to_2 = FILTERS.replace(scope_account_manager_id=2)

    assert run(two_managers, stuck_partners, scoped_to_1)["partner_id"].to_list() == [2, 1]
    assert run(two_managers, stuck_partners, scoped_to_2).is_empty()
    assert run(two_managers, lost_partners, scoped_to_1).is_empty()
    assert run(two_managers, lost_reasons, scoped_to_2).rows() == [("price", 1)]


def test_scope_cannot_be_widened_by_choosing_another_managers_partner(
    two_managers: sa.Engine,
) -> None:
    filters = FILTERS.replace(scope_account_manager_id=1, partner_ids=(3,))

    assert funnel(two_managers, filters)["registered"] == 0


# --- stuck conversions (the digest's and the alerts' threshold) ---------------------------


def test_stuck_conversions_are_those_waiting_longer_than_the_threshold_longest_first(
    engine: sa.Engine,
) -> None:
    """At 30 June with 30 days: 1 contacted 31 May (30 days, not longer), 2 contacted 30 May
    (31 days), 3 applied 1 April (90 days), 4 lost after waiting 100 days."""
    with engine.begin() as conn:
        add_rrp(conn, 1, contacted_at="2021-05-31")
        add_rrp(conn, 2, contacted_at="2021-05-30")
        add_rrp(conn, 3, contacted_at="2021-03-01", applied_at="2021-04-01")
        add_rrp(conn, 4, contacted_at="2021-03-22", lost_at="2021-06-01")

    with engine.connect() as conn:
        frame = stuck_conversions(conn, FILTERS, 30)

    assert frame.select("partner_id", "stage", "days_at_stage").rows() == [
        (3, "applied", 90),
        (2, "contacted", 31),
    ]
