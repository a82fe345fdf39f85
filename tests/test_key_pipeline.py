"""The key pipeline, dwell times and stuck keys (DESIGN §4b), on both dialects."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from data.settings import ComplianceRules
from queries.filters import Filters
from queries.key_pipeline import key_pipeline, stuck_keys
from tests.builders import add_account_manager, add_key, add_partner, add_product

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=AS_OF)
ALPHA, BETA = 1, 2
W11P, O21 = 1, 2


def _partners(conn: sa.Connection) -> None:
    add_account_manager(conn, 1)
    add_account_manager(conn, 2)
    add_partner(conn, ALPHA, "Alpha", manager=1)
    add_partner(conn, BETA, "Beta", manager=2)
    add_product(conn, W11P, "W11P")
    add_product(conn, O21, "O21", family="office")


@pytest.fixture
def stages(engine: sa.Engine) -> sa.Engine:
    """One or two keys in every stage at 30 June (all fulfilled 1 January unless said):

    | key | holder | timestamps                                   | stage at 30 June |
    | --- | ------ | -------------------------------------------- | ---------------- |
    | 1   | MAR    | -                                            | mar_stock        |
    | 2   | Alpha  | allocated 1 July (after the as-of date)      | mar_stock        |
    | 3   | Alpha  | allocated 10 June                            | allocated        |
    | 4   | Alpha  | consumed 29 June                             | consumed         |
    | 5   | Alpha  | bound 30 June 23:59 (on the as-of day)       | bound            |
    | 6   | Beta   | reported 20 June, no bound_at                | reported         |
    | 7   | Alpha  | answered 25 June, code 00                    | activated        |
    | 8   | Beta   | answered 26 June, code 02                    | activated        |
    | 9   | Alpha  | answered 27 June, code 01                    | denied           |
    | 10  | MAR    | returned 1 March (code O1)                   | returned         |
    | 11  | MAR    | fulfilled 2 July                             | not counted      |
    | 12  | Beta   | reported 21 June, answered 1 July (code 00)  | reported         |
    """
    with engine.begin() as conn:
        _partners(conn)
        used = {"allocated_at": "2021-06-01", "consumed_at": "2021-06-02"}
        add_key(conn, 1, W11P)
        add_key(conn, 2, W11P, partner=ALPHA, allocated_at="2021-07-01")
        add_key(conn, 3, W11P, partner=ALPHA, allocated_at="2021-06-10")
        add_key(conn, 4, W11P, partner=ALPHA, allocated_at="2021-06-01", consumed_at="2021-06-29")
        add_key(conn, 5, W11P, partner=ALPHA, **used, bound_at="2021-06-30 23:59")
        add_key(conn, 6, W11P, partner=BETA, **used, reported_at="2021-06-20")
        for key, partner, day, code in (
            (7, ALPHA, 25, "00"),
            (8, BETA, 26, "02"),
            (9, ALPHA, 27, "01"),
        ):
            add_key(
                conn,
                key,
                W11P,
                partner=partner,
                **used,
                reported_at="2021-06-20",
                acknowledged_at=f"2021-06-{day}",
                activation_code=code,
            )
        add_key(conn, 10, W11P, returned_at="2021-03-01", return_code="O1")
        add_key(conn, 11, W11P, fulfilled_at="2021-07-02")
        add_key(
            conn,
            12,
            W11P,
            partner=BETA,
            **used,
            reported_at="2021-06-21",
            acknowledged_at="2021-07-01",
            activation_code="00",
        )
    return engine


def _counts(engine: sa.Engine, filters: Filters = JUNE) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        frame = key_pipeline(conn, filters)
    return list(zip(frame["stage"], frame["keys"], strict=True))


def test_every_key_is_in_the_last_stage_it_reached_by_the_as_of_date(stages: sa.Engine) -> None:
    assert _counts(stages) == [
        ("mar_stock", 2),
        ("allocated", 1),
        ("consumed", 1),
        ("bound", 1),
        ("reported", 2),
        ("activated", 2),
        ("denied", 1),
        ("returned", 1),
    ]


def test_stage_counts_sum_to_the_keys_fulfilled_by_the_as_of_date(stages: sa.Engine) -> None:
    assert sum(keys for _, keys in _counts(stages)) == 11


def test_an_account_manager_sees_only_keys_held_by_their_partners(stages: sa.Engine) -> None:
    # Alpha's keys 3, 4, 5, 7, 9; key 2 is allocated to Alpha only after the as-of date.
    scoped = JUNE.replace(scope_account_manager_id=1)

    assert _counts(stages, scoped) == [
        ("mar_stock", 0),
        ("allocated", 1),
        ("consumed", 1),
        ("bound", 1),
        ("reported", 0),
        ("activated", 1),
        ("denied", 1),
        ("returned", 0),
    ]


def test_an_empty_database_lists_every_stage_with_zero(engine: sa.Engine) -> None:
    assert _counts(engine) == [
        ("mar_stock", 0),
        ("allocated", 0),
        ("consumed", 0),
        ("bound", 0),
        ("reported", 0),
        ("activated", 0),
        ("denied", 0),
        ("returned", 0),
    ]


@pytest.fixture
def spells(engine: sa.Engine) -> sa.Engine:
    """Keys moving through the stages (fulfilled 1 January unless said), range June:

    | key | fulfilled | allocated | consumed | bound  | reported | answered        |
    | --- | --------- | --------- | -------- | ------ | -------- | --------------- |
    | A   | 1 May     | 11 June   |          |        |          |                 |
    | B   | 1 June    | 4 June    |          |        |          |                 |
    | C   |           | 20 May    | 1 June   |        |          |                 |
    | D   | 1 June    | 2 June    | (returned 9 June)                             |
    | E   |           | 1 May     | 1 June   |        | 5 June   | 2 July (after)  |
    | F   |           | 1 May     | 10 June  | 12 June| 12 June  | 30 June, 01     |

    Left in June: mar_stock A 41, B 3, D 1 days; allocated C 12, D 7, E 31, F 40;
    consumed E 4 (reported without a binding), F 2; bound F 0; reported F 18.
    """
    with engine.begin() as conn:
        _partners(conn)
        add_key(conn, 1, W11P, fulfilled_at="2021-05-01", partner=ALPHA, allocated_at="2021-06-11")
        add_key(conn, 2, W11P, fulfilled_at="2021-06-01", partner=ALPHA, allocated_at="2021-06-04")
        add_key(conn, 3, W11P, partner=ALPHA, allocated_at="2021-05-20", consumed_at="2021-06-01")
        add_key(
            conn,
            4,
            W11P,
            fulfilled_at="2021-06-01",
            partner=ALPHA,
            allocated_at="2021-06-02",
            returned_at="2021-06-09",
            return_code="O1",
        )
        add_key(
            conn,
            5,
            W11P,
            partner=BETA,
            allocated_at="2021-05-01",
            consumed_at="2021-06-01",
            reported_at="2021-06-05",
            acknowledged_at="2021-07-02",
            activation_code="00",
        )
        add_key(
            conn,
            6,
            W11P,
            partner=BETA,
            allocated_at="2021-05-01",
            consumed_at="2021-06-10",
            bound_at="2021-06-12 08:00",
            reported_at="2021-06-12 18:00",
            acknowledged_at="2021-06-30",
            activation_code="01",
        )
    return engine


def _dwell(engine: sa.Engine, filters: Filters = JUNE) -> list[tuple[str, float | None, int]]:
    with engine.connect() as conn:
        frame = key_pipeline(conn, filters)
    return list(frame.select("stage", "dwell_median_days", "dwell_keys").iter_rows())


def test_dwell_time_is_the_median_over_keys_that_entered_the_next_stage_in_the_range(
    spells: sa.Engine,
) -> None:
    assert _dwell(spells) == [
        ("mar_stock", 3.0, 3),  # 1, 3, 41
        ("allocated", 21.5, 4),  # 7, 12, 31, 40
        ("consumed", 3.0, 2),  # 2, 4
        ("bound", 0.0, 1),
        ("reported", 18.0, 1),
        ("activated", None, 0),
        ("denied", None, 0),
        ("returned", None, 0),
    ]


def test_dwell_times_of_a_scoped_view_count_only_its_partners_keys(spells: sa.Engine) -> None:
    # Beta holds E and F: allocated 31 and 40, consumed 4 and 2, bound 0, reported 18.
    scoped = JUNE.replace(scope_account_manager_id=2)

    assert _dwell(spells, scoped)[:5] == [
        ("mar_stock", None, 0),
        ("allocated", 35.5, 2),
        ("consumed", 3.0, 2),
        ("bound", 0.0, 1),
        ("reported", 18.0, 1),
    ]


@pytest.fixture
def stuck(engine: sa.Engine) -> sa.Engine:
    """Keys waiting at 30 June (consumed, bound and reported thresholds 2, 7 and 3 days):

    | key | holder | product | last step at 30 June                     | age | stuck |
    | --- | ------ | ------- | ---------------------------------------- | --- | ----- |
    | 1   | Alpha  | W11P    | consumed 28 June                         | 2   | no    |
    | 2   | Alpha  | W11P    | consumed 27 June                         | 3   | yes   |
    | 3   | Alpha  | W11P    | consumed 1 June (bound 1 July: later)    | 29  | yes   |
    | 4   | Beta   | W11P    | bound 23 June                            | 7   | no    |
    | 5   | Beta   | W11P    | bound 22 June                            | 8   | yes   |
    | 6   | Beta   | O21     | reported 26 June                         | 4   | yes   |
    | 7   | Beta   | O21     | reported 27 June                         | 3   | no    |
    | 8   | Alpha  | O21     | reported 1 June (answered 1 July: later) | 29  | yes   |
    | 9   | Alpha  | O21     | reported 1 June, answered 20 June        | -   | no    |
    """
    given = "2021-06-01"
    with engine.begin() as conn:
        _partners(conn)
        add_key(conn, 1, W11P, partner=ALPHA, allocated_at=given, consumed_at="2021-06-28")
        add_key(conn, 2, W11P, partner=ALPHA, allocated_at=given, consumed_at="2021-06-27 23:00")
        add_key(
            conn,
            3,
            W11P,
            partner=ALPHA,
            allocated_at=given,
            consumed_at=given,
            bound_at="2021-07-01",
        )
        for key, day in ((4, "2021-06-23"), (5, "2021-06-22")):
            add_key(
                conn, key, W11P, partner=BETA, allocated_at=given, consumed_at=day, bound_at=day
            )
        for key, day in ((6, "2021-06-26"), (7, "2021-06-27")):
            add_key(
                conn, key, O21, partner=BETA, allocated_at=given, consumed_at=day, reported_at=day
            )
        for key, answered in ((8, "2021-07-01"), (9, "2021-06-20")):
            add_key(
                conn,
                key,
                O21,
                partner=ALPHA,
                allocated_at=given,
                consumed_at=given,
                reported_at=given,
                acknowledged_at=answered,
                activation_code="00",
            )
    return engine


def _stuck(
    engine: sa.Engine, filters: Filters = JUNE, rules: ComplianceRules | None = None
) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return list(stuck_keys(conn, filters, rules).iter_rows())


def test_keys_stuck_longer_than_their_stage_allows_are_listed_most_aged_first(
    stuck: sa.Engine,
) -> None:
    june = dt.date(2021, 6, 1)
    assert _stuck(stuck) == [
        (ALPHA, "Alpha", "O21", "reported", 1, june, 29),
        (ALPHA, "Alpha", "W11P", "consumed", 2, june, 29),
        (BETA, "Beta", "W11P", "bound", 1, dt.date(2021, 6, 22), 8),
        (BETA, "Beta", "O21", "reported", 1, dt.date(2021, 6, 26), 4),
    ]


def test_stuck_keys_of_a_scoped_view_are_its_partners_only(stuck: sa.Engine) -> None:
    rows = _stuck(stuck, JUNE.replace(scope_account_manager_id=2))

    assert [(row[0], row[3]) for row in rows] == [(BETA, "bound"), (BETA, "reported")]


def test_the_stuck_thresholds_come_from_the_rules(stuck: sa.Engine) -> None:
    rules = ComplianceRules(stuck_consumed_days=1, stuck_bound_days=30, stuck_reported_days=30)

    rows = _stuck(stuck, rules=rules)

    # Consumed 28 June is now stuck (age 2 > 1); no bound or reported key is.
    assert [(row[3], row[4]) for row in rows] == [("consumed", 3)]


def test_stuck_keys_frame_is_typed_when_empty(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        frame = stuck_keys(conn, JUNE)

    assert frame.schema["oldest_since"] == pl.Date
    assert frame.is_empty()
