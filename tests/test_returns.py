"""The return window and the returns made in the range (DESIGN §4b), on both dialects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from data.settings import ComplianceRules
from queries.filters import Filters
from queries.returns import return_window, returns_in_range
from tests.builders import add_account_manager, add_key, add_key_order, add_partner, add_product

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=AS_OF)
ALPHA, BETA = 1, 2
W11P, O21 = 1, 2


@pytest.fixture
def aged(engine: sa.Engine) -> sa.Engine:
    """Keys by age at 30 June (age = 30 June - day fulfilled); orders at 10.00 and 12.50:

    | key | product | holder at 30 June          | fulfilled      | age | status   |
    | --- | ------- | -------------------------- | -------------- | --- | -------- |
    | 1   | W11P    | MAR                        | 30 June 2020   | 365 | closing  |
    | 2   | W11P    | MAR                        | 29 June 2020   | 366 | expired  |
    | 3   | W11P    | MAR                        | 3 Sep 2020     | 300 | closing  |
    | 4   | W11P    | MAR                        | 4 Sep 2020     | 299 | -        |
    | 5   | W11P    | Alpha                      | 1 May 2020     | 425 | expired  |
    | 6   | W11P    | Alpha, consumed            | 1 May 2020     |     | used     |
    | 7   | W11P    | MAR (Beta only on 1 July)  | 1 Jan 2020 23h | 546 | expired  |
    | 8   | O21     | Beta, returned 10 June, Q1 | 1 Jan 2020     |     | returned |
    | 9   | O21     | Alpha, returned 15 June, O1| 1 Jan 2020     |     | returned |
    | 10  | O21     | MAR, returned 31 May, Q1   | 1 Jan 2020     |     | returned |
    """
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        add_partner(conn, ALPHA, "Alpha", manager=1)
        add_partner(conn, BETA, "Beta", manager=2)
        add_product(conn, W11P, "W11P")
        add_product(conn, O21, "O21", family="office")
        add_key_order(conn, 1, W11P, "2020-01-01", quantity=7, unit_price=10.00)
        add_key_order(conn, 2, O21, "2020-01-01", quantity=3, unit_price=12.50)
        add_key(conn, 1, W11P, order=1, fulfilled_at="2020-06-30 23:59")
        add_key(conn, 2, W11P, order=1, fulfilled_at="2020-06-29")
        add_key(conn, 3, W11P, order=1, fulfilled_at="2020-09-03")
        add_key(conn, 4, W11P, order=1, fulfilled_at="2020-09-04")
        add_key(
            conn,
            5,
            W11P,
            order=1,
            fulfilled_at="2020-05-01",
            partner=ALPHA,
            allocated_at="2020-06-01",
        )
        add_key(
            conn,
            6,
            W11P,
            order=1,
            fulfilled_at="2020-05-01",
            partner=ALPHA,
            allocated_at="2020-06-01",
            consumed_at="2021-06-01",
        )
        add_key(
            conn,
            7,
            W11P,
            order=1,
            fulfilled_at="2020-01-01 23:00",
            partner=BETA,
            allocated_at="2021-07-01",
        )
        for key, partner, returned, code in (
            (8, BETA, "2021-06-10", "Q1"),
            (9, ALPHA, "2021-06-15", "O1"),
            (10, None, "2021-05-31", "Q1"),
        ):
            add_key(
                conn,
                key,
                O21,
                order=2,
                fulfilled_at="2020-01-01",
                partner=partner,
                allocated_at="2020-02-01" if partner else None,
                returned_at=returned,
                return_code=code,
            )
    return engine


def _window(
    engine: sa.Engine, filters: Filters = JUNE, rules: ComplianceRules | None = None
) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return list(return_window(conn, filters, rules).drop("partner_name").iter_rows())


def test_unused_keys_are_closing_up_to_365_days_and_expired_after(aged: sa.Engine) -> None:
    assert _window(aged) == [
        # MAR: keys 1 and 3 closing (oldest 365 days: 0 left); keys 2 and 7 expired
        # (oldest 546 days: 365 - 546 = -181 left).
        ("W11P", None, "closing", 2, Decimal("20.00"), dt.date(2020, 6, 30), 0),
        ("W11P", None, "expired", 2, Decimal("20.00"), dt.date(2020, 1, 1), -181),
        ("W11P", ALPHA, "expired", 1, Decimal("10.00"), dt.date(2020, 5, 1), -60),
    ]


def test_a_key_exactly_365_days_old_still_has_its_credit(aged: sa.Engine) -> None:
    with aged.begin() as conn:
        conn.execute(sa.text("DELETE FROM keys WHERE id <> 1"))

    assert _window(aged) == [
        ("W11P", None, "closing", 1, Decimal("10.00"), dt.date(2020, 6, 30), 0)
    ]


def test_a_scoped_view_lists_no_mar_stock(aged: sa.Engine) -> None:
    # Key 7 goes to Beta only after the as-of date: at 30 June it is MAR stock.
    assert _window(aged, JUNE.replace(scope_account_manager_id=2)) == []
    assert [row[1] for row in _window(aged, JUNE.replace(scope_account_manager_id=1))] == [ALPHA]


def test_the_window_comes_from_the_rules(aged: sa.Engine) -> None:
    rules = ComplianceRules(return_closing_days=400, return_credit_days=500)

    # Ages 425 (Alpha) and 546 (key 7): closing and expired; nothing younger than 400.
    assert [(row[1], row[2], row[3], row[6]) for row in _window(aged, rules=rules)] == [
        (None, "expired", 1, -46),
        (ALPHA, "closing", 1, 75),
    ]


def test_returns_in_the_range_are_split_by_credit_with_the_value_lost(aged: sa.Engine) -> None:
    # June: key 8 without credit (12.50), key 9 with credit; key 10 came back in May.
    with aged.connect() as conn:
        rows = list(returns_in_range(conn, JUNE).iter_rows())

    assert rows == [("O21", 1, 1, Decimal("12.50"))]


def test_a_key_returned_without_credit_counts_for_its_holder_only(aged: sa.Engine) -> None:
    with aged.connect() as conn:
        beta = list(returns_in_range(conn, JUNE.replace(scope_account_manager_id=2)).iter_rows())
        alpha = list(returns_in_range(conn, JUNE.replace(scope_account_manager_id=1)).iter_rows())

    assert beta == [("O21", 0, 1, Decimal("12.50"))]
    assert alpha == [("O21", 1, 0, None)]
