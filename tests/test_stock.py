"""Key stock, consumption rate and days of cover against DESIGN §4, on both dialects.

Every expected value is worked out by hand in the test.  The as-of date d is 2021-06-30, so the
28-day consumption window is 2021-06-03 … 2021-06-30 and "after d" means from 2021-07-01 on.
Keys are fulfilled on 2021-01-01 unless a test says otherwise.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
import sqlalchemy as sa

from queries.exports import to_csv
from queries.filters import Filters
from queries.stock import allocation_vs_consumption, stock_on_hand
from tests.builders import add_account_manager, add_key, add_partner, add_product

AS_OF = dt.date(2021, 6, 30)
FILTERS = Filters.default(AS_OF)
AFTER_AS_OF = "2021-07-01 00:00"
LAST_SECOND_OF_AS_OF = "2021-06-30 23:59:59"
IN_WINDOW = "2021-06-20 10:00"

W11 = 1  # product id of "W11P"
PARTNER = 1


def add_keys(conn: sa.Connection, count: int, product: int = W11, **fields: Any) -> None:
    """`count` keys alike, with the next free ids."""
    for _ in range(count):
        add_key(conn, None, product, **fields)


def add_mar_stock(conn: sa.Connection, count: int, product: int = W11) -> None:
    add_keys(conn, count, product)


def add_partner_stock(conn: sa.Connection, count: int, product: int = W11) -> None:
    add_keys(conn, count, product, partner=PARTNER, allocated_at="2021-05-01")


def add_consumed(
    conn: sa.Connection, count: int, consumed_at: str = IN_WINDOW, product: int = W11
) -> None:
    add_keys(
        conn, count, product, partner=PARTNER, allocated_at="2021-05-01", consumed_at=consumed_at
    )


@pytest.fixture
def catalogue(engine: sa.Engine) -> sa.Engine:
    """Product 1 "W11P" and partner 1, with no keys yet."""
    with engine.begin() as conn:
        add_product(conn, W11, "W11P")
        add_partner(conn, PARTNER)
    return engine


def stock(
    engine: sa.Engine, filters: Filters = FILTERS, **kwargs: Any
) -> dict[str, dict[str, Any]]:
    """The stock table keyed by product code."""
    with engine.connect() as conn:
        frame = stock_on_hand(conn, filters, **kwargs)
    return {row["product_code"]: row for row in frame.rows(named=True)}


def w11(engine: sa.Engine, filters: Filters = FILTERS, **kwargs: Any) -> dict[str, Any]:
    return stock(engine, filters, **kwargs)["W11P"]


def split(row: dict[str, Any]) -> tuple[int, int, int]:
    """(stock on hand, MAR stock, partner stock) of one product."""
    return row["stock_on_hand"], row["mar_stock"], row["partner_stock"]


# --- stock on hand --------------------------------------------------------------------------


def test_stock_holds_fulfilled_keys_neither_consumed_nor_returned(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_key(conn, 1, W11)
        add_key(conn, 2, W11, partner=PARTNER, allocated_at="2021-05-01")
        add_key(conn, 3, W11, partner=PARTNER, allocated_at="2021-05-01", consumed_at="2021-06-10")
        add_key(conn, 4, W11, returned_at="2021-06-15")

    assert split(w11(catalogue)) == (2, 1, 1)


def test_key_consumed_after_the_as_of_date_is_still_in_stock(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_key(conn, 1, W11, partner=PARTNER, allocated_at="2021-06-01", consumed_at=AFTER_AS_OF)
        add_key(
            conn,
            2,
            W11,
            partner=PARTNER,
            allocated_at="2021-06-01",
            consumed_at=LAST_SECOND_OF_AS_OF,
        )

    assert split(w11(catalogue)) == (1, 0, 1)


def test_key_fulfilled_after_the_as_of_date_is_not_yet_in_stock(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_key(conn, 1, W11, fulfilled_at=AFTER_AS_OF)
        add_key(conn, 2, W11, fulfilled_at=LAST_SECOND_OF_AS_OF)

    assert split(w11(catalogue)) == (1, 1, 0)


def test_returned_key_leaves_stock_on_the_day_of_its_return(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_key(conn, 1, W11, returned_at="2021-06-30 10:00")

    assert w11(catalogue, FILTERS.replace(as_of=dt.date(2021, 6, 29)))["stock_on_hand"] == 1
    assert w11(catalogue, FILTERS.replace(as_of=dt.date(2021, 6, 30)))["stock_on_hand"] == 0


def test_key_returned_after_the_as_of_date_is_still_in_stock(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_key(conn, 1, W11, partner=PARTNER, allocated_at="2021-06-01", returned_at=AFTER_AS_OF)

    assert split(w11(catalogue)) == (1, 0, 1)


def test_key_allocated_after_the_as_of_date_is_still_mar_stock(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_key(conn, 1, W11)
        add_key(conn, 2, W11, partner=PARTNER, allocated_at="2021-06-01")
        add_key(conn, 3, W11, partner=PARTNER, allocated_at=AFTER_AS_OF)

    assert split(w11(catalogue)) == (3, 2, 1)


def test_stock_is_computed_from_timestamps_not_from_the_state_column(
    catalogue: sa.Engine,
) -> None:
    with catalogue.begin() as conn:
        # Marked consumed, but consumed only after the as-of date: still partner stock.
        add_key(
            conn,
            1,
            W11,
            partner=PARTNER,
            allocated_at="2021-06-01",
            consumed_at="2021-07-02",
            state="consumed",
        )
        # Marked allocated, but consumed on 2021-06-10: gone, and counted as consumption.
        add_key(
            conn,
            2,
            W11,
            partner=PARTNER,
            allocated_at="2021-06-01",
            consumed_at="2021-06-10",
            state="allocated",
        )
        # Marked fulfilled, but returned on 2021-06-05: gone.
        add_key(conn, 3, W11, returned_at="2021-06-05", state="fulfilled")

    row = w11(catalogue)

    assert split(row) == (1, 0, 1)
    assert row["consumed_28d"] == 1


def test_product_without_keys_is_listed_with_zero_stock(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_product(conn, 2, "O21")
        add_key(conn, 1, W11)

    rows = stock(catalogue)

    assert list(rows) == ["O21", "W11P"]
    assert split(rows["O21"]) == (0, 0, 0)
    assert rows["O21"]["days_of_cover"] is None


def test_empty_database_gives_an_empty_stock_table(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        frame = stock_on_hand(conn, FILTERS)

    assert frame.is_empty()
    assert frame.columns[:6] == [
        "product_code",
        "stock_on_hand",
        "mar_stock",
        "partner_stock",
        "consumption_per_day",
        "days_of_cover",
    ]


# --- consumption rate -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("consumed_at", "counted"),
    [
        pytest.param("2021-06-02 23:59:59", 0, id="d-28-not-counted"),
        pytest.param("2021-06-03 00:00", 1, id="d-27-counted"),
        pytest.param(LAST_SECOND_OF_AS_OF, 1, id="end-of-d-counted"),
        pytest.param(AFTER_AS_OF, 0, id="after-d-not-counted"),
    ],
)
def test_consumption_window_is_the_28_days_ending_with_the_as_of_date(
    catalogue: sa.Engine, consumed_at: str, counted: int
) -> None:
    with catalogue.begin() as conn:
        add_consumed(conn, 1, consumed_at)

    assert w11(catalogue)["consumed_28d"] == counted


def test_consumption_rate_is_keys_consumed_in_the_window_divided_by_28(
    catalogue: sa.Engine,
) -> None:
    with catalogue.begin() as conn:
        add_consumed(conn, 7, "2021-06-03 00:00")
        add_consumed(conn, 7, "2021-06-30 12:00")
        add_consumed(conn, 5, "2021-06-02 12:00")  # outside the window

    row = w11(catalogue)

    assert row["consumed_28d"] == 14
    assert row["consumption_per_day"] == 0.5  # 14 / 28


# --- days of cover and stock-out ------------------------------------------------------------


def test_days_of_cover_is_total_stock_divided_by_the_consumption_rate(
    catalogue: sa.Engine,
) -> None:
    with catalogue.begin() as conn:
        add_mar_stock(conn, 4)
        add_partner_stock(conn, 6)
        add_consumed(conn, 14)  # 0.5 keys a day

    row = w11(catalogue)

    assert row["days_of_cover"] == 20.0  # (4 + 6) / 0.5
    assert row["stockout_date"] == dt.date(2021, 7, 20)  # 2021-06-30 + 20 days


def test_stockout_date_adds_the_whole_days_of_cover(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_mar_stock(conn, 3)
        add_consumed(conn, 8)  # 8 / 28 = 2/7 keys a day

    row = w11(catalogue)

    assert row["days_of_cover"] == 10.5  # 3 / (2/7)
    assert row["stockout_date"] == dt.date(2021, 7, 10)  # 2021-06-30 + 10 days


def test_product_without_consumption_has_empty_cover_and_no_stockout_date(
    catalogue: sa.Engine,
) -> None:
    with catalogue.begin() as conn:
        add_mar_stock(conn, 5)
        add_consumed(conn, 3, "2021-05-01")  # before the window

    row = w11(catalogue)

    assert row["stock_on_hand"] == 5
    assert row["consumption_per_day"] == 0.0
    assert row["days_of_cover"] is None
    assert row["stockout_date"] is None
    assert row["low_cover"] is False


def test_cover_below_21_days_is_flagged_by_default(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_product(conn, 2, "O21")
        add_mar_stock(conn, 10)
        add_consumed(conn, 14)  # W11P: 10 / 0.5 = 20 days
        add_mar_stock(conn, 21, product=2)
        add_consumed(conn, 28, product=2)  # O21: 21 / 1 = 21 days, not below 21

    rows = stock(catalogue)

    assert (rows["W11P"]["days_of_cover"], rows["W11P"]["low_cover"]) == (20.0, True)
    assert (rows["O21"]["days_of_cover"], rows["O21"]["low_cover"]) == (21.0, False)


@pytest.mark.parametrize(("threshold", "flagged"), [(14, False), (20, False), (30, True)])
def test_cover_is_flagged_below_a_configured_threshold(
    catalogue: sa.Engine, threshold: int, flagged: bool
) -> None:
    with catalogue.begin() as conn:
        add_mar_stock(conn, 10)
        add_consumed(conn, 14)  # 20 days of cover

    assert w11(catalogue, cover_warning_days=threshold)["low_cover"] is flagged


def test_cover_flag_and_stockout_are_exact_not_rounded(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_mar_stock(conn, 16)
        add_consumed(conn, 45)  # 16 / (45/28) = 448/45 = 9.955… days, shown on screen as 10.0

    row = w11(catalogue, cover_warning_days=10)

    assert row["days_of_cover"] == pytest.approx(448 / 45)
    assert row["low_cover"] is True
    assert row["stockout_date"] == dt.date(2021, 7, 9)  # 2021-06-30 + 9 whole days


def test_the_stock_file_carries_full_precision(catalogue: sa.Engine) -> None:
    # Issue 14: the export wrote 1.14 and 249.4; a spreadsheet recomputing from the file
    # got another answer (DESIGN §6: rounding is for the screen only).
    with catalogue.begin() as conn:
        add_mar_stock(conn, 285)
        add_consumed(conn, 32)  # 32 / 28 = 1.142857… a day; 285 / (32/28) = 249.375 days

    with catalogue.connect() as conn:
        body = to_csv(stock_on_hand(conn, FILTERS)).decode()

    [row] = csv.DictReader(io.StringIO(body))
    assert (row["consumption_per_day"], row["days_of_cover"]) == ("1.1428571428571428", "249.375")


# --- filters and scope ----------------------------------------------------------------------


def test_product_filter_lists_only_the_chosen_products(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_product(conn, 2, "O21")

    assert list(stock(catalogue, FILTERS.replace(product_codes=("O21",)))) == ["O21"]


@pytest.fixture
def two_managers(engine: sa.Engine) -> sa.Engine:
    """Partner 1 (manager 1, Europe, DE) and partner 2 (manager 2, Americas, US) each hold 2
    keys of W11P and consumed 7 in the window; the MAR holds 3 keys.

    The company: 3 + 2 + 2 = 7 keys on hand, 14 consumed in 28 days = 0.5 a day, so 7 ÷ 0.5
    = 14.0 days of cover and a stock-out on 2021-06-30 + 14 days = 2021-07-14.
    """
    with engine.begin() as conn:
        add_product(conn, W11, "W11P")
        for id, region, country in ((1, "Europe", "DE"), (2, "Americas", "US")):
            add_account_manager(conn, id)
            add_partner(conn, id, manager=id, region=region, country=country)
        add_mar_stock(conn, 3)
        for partner in (1, 2):
            add_keys(conn, 2, W11, partner=partner, allocated_at="2021-05-01")
            add_keys(
                conn, 7, W11, partner=partner, allocated_at="2021-05-01", consumed_at=IN_WINDOW
            )
    return engine


def company_figures(row: dict[str, Any]) -> tuple[Any, ...]:
    """(stock on hand, MAR stock, consumption per day, days of cover, stock-out date)."""
    return (
        row["stock_on_hand"],
        row["mar_stock"],
        row["consumption_per_day"],
        row["days_of_cover"],
        row["stockout_date"],
    )


COMPANY = (7, 3, 0.5, 14.0, dt.date(2021, 7, 14))


def test_management_sees_the_company_stock_and_every_partners_share(
    two_managers: sa.Engine,
) -> None:
    row = w11(two_managers)

    assert company_figures(row) == COMPANY
    assert (row["partner_stock"], row["partners_consumption_per_day"]) == (4, 0.5)


@pytest.mark.parametrize(
    "narrowed",
    [
        {"partner_ids": (2,)},
        {"regions": ("Americas",)},
        {"countries": ("US",)},
        {"account_manager_id": 2},
        {"scope_account_manager_id": 2},
    ],
    ids=["partner", "region", "country", "account manager filter", "account manager's scope"],
)
def test_a_narrowed_view_keeps_the_company_stock_and_shows_its_partners_beside_it(
    two_managers: sa.Engine, narrowed: dict[str, Any]
) -> None:
    row = w11(two_managers, FILTERS.replace(**narrowed))

    # Partner 2 alone: 2 keys held, 7 consumed in 28 days = 0.25 a day.
    assert company_figures(row) == COMPANY
    assert (row["partner_stock"], row["partners_consumption_per_day"]) == (2, 0.25)


def test_the_cover_flag_is_the_companys_whatever_the_view(two_managers: sa.Engine) -> None:
    """14 days of company cover is below 21, also for a manager whose partner alone would
    have 7 ÷ 0.25 = 28 days."""
    assert w11(two_managers, FILTERS.replace(scope_account_manager_id=1))["low_cover"] is True


# --- allocation vs consumption --------------------------------------------------------------


def allocation(engine: sa.Engine, filters: Filters = FILTERS) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return allocation_vs_consumption(conn, filters).rows()


def test_allocation_vs_consumption_counts_each_partners_key_activity(
    catalogue: sa.Engine,
) -> None:
    with catalogue.begin() as conn:
        add_partner(conn, 2)
        add_key(conn, 1, W11, partner=1, allocated_at="2021-03-01", consumed_at="2021-04-01")
        add_key(conn, 2, W11, partner=1, allocated_at="2021-03-01")
        add_key(conn, 3, W11, partner=1, allocated_at="2021-06-01")
        add_key(conn, 4, W11, partner=2, allocated_at="2021-02-01", consumed_at="2021-03-01")

    assert allocation(catalogue) == [
        # partner, name, allocated, consumed, returned, in stock
        (1, "Partner 1", 3, 1, 0, 2),
        (2, "Partner 2", 1, 1, 0, 0),
    ]


def test_returned_key_counts_as_allocated_and_as_returned(catalogue: sa.Engine) -> None:
    with catalogue.begin() as conn:
        add_key(conn, 1, W11, partner=1, allocated_at="2021-03-01", returned_at="2021-05-01")

    assert allocation(catalogue) == [(1, "Partner 1", 1, 0, 1, 0)]


def test_allocation_vs_consumption_counts_flows_in_the_range_and_stock_at_the_as_of_date(
    catalogue: sa.Engine,
) -> None:
    with catalogue.begin() as conn:
        # Allocated 2021-01-15, before the range; consumed in it.
        add_key(conn, 1, W11, partner=1, allocated_at="2021-01-15", consumed_at="2021-03-10")
        # Allocated 2021-01-20, before the range, and still in stock.
        add_key(conn, 2, W11, partner=1, allocated_at="2021-01-20")
        # Allocated in the range, consumed after the as-of date.
        add_key(conn, 3, W11, partner=1, allocated_at="2021-06-10", consumed_at=AFTER_AS_OF)
    spring_to_summer = FILTERS.replace(date_from=dt.date(2021, 3, 1), date_to=dt.date(2021, 7, 31))

    assert allocation(catalogue, spring_to_summer) == [(1, "Partner 1", 1, 1, 0, 2)]


def test_allocation_vs_consumption_leaves_out_partners_without_key_activity(
    catalogue: sa.Engine,
) -> None:
    with catalogue.begin() as conn:
        add_partner(conn, 2)
        add_key(
            conn,
            1,
            W11,
            fulfilled_at="2020-01-01",
            partner=2,
            allocated_at="2020-02-01",
            consumed_at="2020-03-01",
        )
        add_key(conn, 2, W11, partner=1, allocated_at="2021-03-01")

    assert [row[0] for row in allocation(catalogue)] == [1]


def test_allocation_vs_consumption_orders_by_keys_allocated_then_partner_id(
    catalogue: sa.Engine,
) -> None:
    with catalogue.begin() as conn:
        for partner in (2, 3):
            add_partner(conn, partner)
        add_keys(conn, 1, W11, partner=1, allocated_at="2021-03-01")
        add_keys(conn, 2, W11, partner=2, allocated_at="2021-03-01")
        add_keys(conn, 1, W11, partner=3, allocated_at="2021-03-01")

    assert [row[0] for row in allocation(catalogue)] == [2, 1, 3]
