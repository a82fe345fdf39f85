"""Activation denials, their trend and the denial rate (DESIGN §4b), on both dialects."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from queries.activations import (
    activation_denials,
    denial_rate,
    denials_over_time,
    partner_denial_rates,
)
from queries.filters import Filters
from tests.builders import add_account_manager, add_key, add_partner, add_product

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=AS_OF)
ALPHA, BETA = 1, 2
W11P = 1


@pytest.fixture
def answers(engine: sa.Engine) -> sa.Engine:
    """Microsoft's answers to reported keys, range June:

    | key | partner | answered         | code | counts as              |
    | --- | ------- | ---------------- | ---- | ---------------------- |
    | 1   | Alpha   | 5 June           | 00   | enabled                |
    | 2   | Alpha   | 6 June           | 02   | enabled (override)     |
    | 3   | Alpha   | 7 June           | 01   | denied                 |
    | 4   | Alpha   | 8 June           | 01   | denied                 |
    | 5   | Alpha   | 9 June           | 05   | denied                 |
    | 6   | Alpha   | 31 May           | 01   | before the range       |
    | 7   | Alpha   | 1 July           | 06   | after the as-of date   |
    | 8   | Beta    | 30 June 23:59    | 03   | denied                 |

    Answered in June: 6, denied 4 (Alpha 3 of 5, Beta 1 of 1).
    """
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        add_partner(conn, ALPHA, "Alpha", manager=1)
        add_partner(conn, BETA, "Beta", manager=2)
        add_product(conn, W11P, "W11P")
        for key, partner, answered, code in (
            (1, ALPHA, "2021-06-05", "00"),
            (2, ALPHA, "2021-06-06", "02"),
            (3, ALPHA, "2021-06-07", "01"),
            (4, ALPHA, "2021-06-08", "01"),
            (5, ALPHA, "2021-06-09", "05"),
            (6, ALPHA, "2021-05-31", "01"),
            (7, ALPHA, "2021-07-01", "06"),
            (8, BETA, "2021-06-30 23:59", "03"),
        ):
            add_key(
                conn,
                key,
                W11P,
                partner=partner,
                allocated_at="2021-05-01",
                consumed_at="2021-05-02",
                reported_at="2021-05-03",
                acknowledged_at=answered,
                activation_code=code,
            )
    return engine


def test_denials_are_counted_per_partner_and_code_with_the_codes_meaning(
    answers: sa.Engine,
) -> None:
    with answers.connect() as conn:
        rows = list(activation_denials(conn, JUNE).iter_rows())

    assert rows == [
        (ALPHA, "Alpha", "01", 2, "duplicate product key ID"),
        (ALPHA, "Alpha", "05", 1, "key already returned"),
        (BETA, "Beta", "03", 1, "key never delivered"),
    ]


def test_codes_00_and_02_are_not_denials(answers: sa.Engine) -> None:
    with answers.connect() as conn:
        codes = set(activation_denials(conn, JUNE)["code"])

    assert codes.isdisjoint({"00", "02"})


def test_denial_rate_is_denied_over_all_keys_answered_in_the_range(answers: sa.Engine) -> None:
    with answers.connect() as conn:
        row = denial_rate(conn, JUNE).row(0)

    assert row == (6, 4, 4 / 6)


def test_denial_rate_is_empty_when_nothing_was_answered(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        row = denial_rate(conn, JUNE).row(0)

    assert row == (0, 0, None)


def test_denial_rates_per_partner(answers: sa.Engine) -> None:
    with answers.connect() as conn:
        rows = list(partner_denial_rates(conn, JUNE).iter_rows())

    assert rows == [(ALPHA, 5, 3, 3 / 5), (BETA, 1, 1, 1.0)]


def test_an_account_manager_sees_only_their_partners_denials(answers: sa.Engine) -> None:
    scoped = JUNE.replace(scope_account_manager_id=2)
    with answers.connect() as conn:
        denials = list(activation_denials(conn, scoped).iter_rows())
        rate = denial_rate(conn, scoped).row(0)

    assert denials == [(BETA, "Beta", "03", 1, "key never delivered")]
    assert rate == (1, 1, 1.0)


def test_denials_over_time_count_per_month_and_code(answers: sa.Engine) -> None:
    may_june = JUNE.replace(date_from=dt.date(2021, 5, 1))
    with answers.connect() as conn:
        rows = list(denials_over_time(conn, may_june).select("month", "code", "keys").iter_rows())

    may, june = dt.date(2021, 5, 1), dt.date(2021, 6, 1)
    assert rows == [(may, "01", 1), (june, "01", 2), (june, "03", 1), (june, "05", 1)]


def test_an_answer_without_a_code_is_a_denial_of_unknown_meaning(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_partner(conn, ALPHA, "Alpha")
        add_product(conn, W11P, "W11P")
        add_key(
            conn,
            1,
            W11P,
            partner=ALPHA,
            allocated_at="2021-06-01",
            consumed_at="2021-06-01",
            reported_at="2021-06-01",
            acknowledged_at="2021-06-02",
            state="denied",
        )
    with engine.connect() as conn:
        rows = list(activation_denials(conn, JUNE).iter_rows())

    assert rows == [(ALPHA, "Alpha", "", 1, "unknown code")]
