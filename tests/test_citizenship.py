"""Citizenship caps per TPR and month (DESIGN §4b), on both dialects."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from data.settings import ComplianceRules
from queries.citizenship import citizenship_caps
from queries.filters import Filters
from tests.builders import add_account_manager, add_keys, add_partner, add_product

AS_OF = dt.date(2021, 6, 30)
MAY_JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 5, 1), date_to=AS_OF)
MAY, JUNE = dt.date(2021, 5, 1), dt.date(2021, 6, 1)
WINDOWS, OFFICE, COMMERCIAL = 1, 2, 3


@pytest.fixture
def products(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        add_product(conn, WINDOWS, "WC", family="windows", channel="citizenship")
        add_product(conn, OFFICE, "OC", family="office", channel="citizenship")
        add_product(conn, COMMERCIAL, "W11P", family="windows")
    return engine


def _allocate(conn: sa.Connection, count: int, product: int, partner: int, at: str) -> None:
    add_keys(conn, count, product, partner=partner, allocated_at=at)


def _caps(
    engine: sa.Engine, filters: Filters = MAY_JUNE, rules: ComplianceRules | None = None
) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return list(citizenship_caps(conn, filters, rules).iter_rows())


def test_units_are_counted_per_partner_family_and_month_of_allocation(products: sa.Engine) -> None:
    """Partner 1 (cap 10): May 3 Windows + 2 Office (one on 31 May 23:59), June 11 Windows;
    a commercial key and a key allocated 1 July (after the as-of date) do not count."""
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha", citizenship_cap=10)
        _allocate(conn, 3, WINDOWS, 1, "2021-05-10")
        _allocate(conn, 1, OFFICE, 1, "2021-05-11")
        _allocate(conn, 1, OFFICE, 1, "2021-05-31 23:59")
        _allocate(conn, 11, WINDOWS, 1, "2021-06-02")
        _allocate(conn, 4, COMMERCIAL, 1, "2021-06-02")
        _allocate(conn, 1, OFFICE, 1, "2021-07-01")

    assert _caps(products) == [
        (1, "Alpha", MAY, 3, 2, 10, "ok"),
        (1, "Alpha", JUNE, 11, 0, 10, "over_cap"),
    ]


def test_a_month_exactly_at_the_default_cap_is_near_cap_not_over(products: sa.Engine) -> None:
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha")
        _allocate(conn, 250, WINDOWS, 1, "2021-06-02")

    assert _caps(products) == [(1, "Alpha", JUNE, 250, 0, 250, "near_cap")]


def test_one_unit_over_the_default_cap_is_over_cap(products: sa.Engine) -> None:
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha")
        _allocate(conn, 251, OFFICE, 1, "2021-06-02")
        _allocate(conn, 251, WINDOWS, 1, "2021-06-02")

    assert _caps(products) == [(1, "Alpha", JUNE, 251, 251, 250, "over_cap")]


def test_exactly_90_percent_of_the_cap_is_near_cap_and_one_less_is_ok(products: sa.Engine) -> None:
    # 90 % of 250 = 225.
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha")
        add_partner(conn, 2, "Beta")
        _allocate(conn, 225, WINDOWS, 1, "2021-06-02")
        _allocate(conn, 224, WINDOWS, 2, "2021-06-02")

    assert _caps(products) == [
        (1, "Alpha", JUNE, 225, 0, 250, "near_cap"),
        (2, "Beta", JUNE, 224, 0, 250, "ok"),
    ]


def test_more_office_than_windows_units_comes_before_near_cap(products: sa.Engine) -> None:
    # Cap 10: 9 Office units are 90 %, but 9 > 8 Windows units decides first.
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha", citizenship_cap=10)
        _allocate(conn, 8, WINDOWS, 1, "2021-06-02")
        _allocate(conn, 9, OFFICE, 1, "2021-06-02")

    assert _caps(products) == [(1, "Alpha", JUNE, 8, 9, 10, "office_above_windows")]


def test_a_partners_own_cap_replaces_the_default(products: sa.Engine) -> None:
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha", citizenship_cap=400)
        _allocate(conn, 300, WINDOWS, 1, "2021-06-02")

    assert _caps(products) == [(1, "Alpha", JUNE, 300, 0, 400, "ok")]


def test_the_default_cap_and_near_share_come_from_the_rules(products: sa.Engine) -> None:
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha")
        _allocate(conn, 5, WINDOWS, 1, "2021-06-02")

    rules = ComplianceRules(citizenship_cap=10, near_cap_percent=50)

    assert _caps(products, rules=rules) == [(1, "Alpha", JUNE, 5, 0, 10, "near_cap")]


def test_own_sites_have_no_cap_and_are_not_listed(products: sa.Engine) -> None:
    with products.begin() as conn:
        add_partner(conn, 1, "Factory", kind="own_site")
        add_partner(conn, 2, "Beta", kind="tpr")
        _allocate(conn, 300, WINDOWS, 1, "2021-06-02")
        _allocate(conn, 1, WINDOWS, 2, "2021-06-02")

    assert _caps(products) == [(2, "Beta", JUNE, 1, 0, 250, "ok")]


def test_rows_are_ordered_by_month_then_partner_and_limited_to_the_range(
    products: sa.Engine,
) -> None:
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha")
        add_partner(conn, 2, "Beta")
        _allocate(conn, 1, WINDOWS, 2, "2021-05-02")
        _allocate(conn, 1, WINDOWS, 1, "2021-05-03")
        _allocate(conn, 1, WINDOWS, 1, "2021-06-03")
        _allocate(conn, 1, WINDOWS, 1, "2021-04-30")

    assert [(row[0], row[2]) for row in _caps(products)] == [(1, MAY), (2, MAY), (1, JUNE)]


def test_an_account_manager_sees_only_their_partners_caps(products: sa.Engine) -> None:
    with products.begin() as conn:
        add_partner(conn, 1, "Alpha", manager=1)
        add_partner(conn, 2, "Beta", manager=2)
        _allocate(conn, 1, WINDOWS, 1, "2021-06-02")
        _allocate(conn, 1, WINDOWS, 2, "2021-06-02")

    rows = _caps(products, MAY_JUNE.replace(scope_account_manager_id=2))

    assert [row[0] for row in rows] == [2]
