"""The overview's headline figures and their previous-period values (DESIGN §4).

The range is June 2021 (30 days) with as-of 30 June, so the previous period is 2 May ..
31 May with its position figures taken at 31 May.  Every expected value is counted by hand
from the rows below.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from queries.filters import Filters
from queries.kpis import KPI_NAMES, overview_kpis
from tests.builders import (
    add_account_manager,
    add_conversion,
    add_installation,
    add_key,
    add_partner,
    add_product,
    add_report,
)

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=dt.date(2021, 6, 30))
W11P = 1


@pytest.fixture
def overview(engine: sa.Engine) -> sa.Engine:
    """Partners 1, 2 (manager 1) and 3, 4 (manager 2); one product."""
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        for partner, manager in ((1, 1), (2, 1), (3, 2), (4, 2)):
            add_partner(conn, partner, manager=manager)
        add_product(conn, W11P, "W11P")

        # Installations. June: Alpha 2 (+1 failed), Beta 1 -> 3 by 2 partners.
        # 2 May .. 31 May: Gamma 2 -> 2 by 1 partner; 1 May is before the previous period.
        add_installation(conn, 1, 1, W11P, "2021-06-05 10:00")
        add_installation(conn, 2, 1, W11P, "2021-06-06 10:00")
        add_installation(conn, 3, 1, W11P, "2021-06-07 10:00", status="failed")
        add_installation(conn, 4, 2, W11P, "2021-06-10 10:00")
        add_installation(conn, 5, 3, W11P, "2021-05-15 10:00")
        add_installation(conn, 6, 3, W11P, "2021-05-16 10:00")
        add_installation(conn, 7, 1, W11P, "2021-05-01 23:00")

        # Conversions. At 30 June: 4 registered, 2 signed (1, 2). At 31 May: 3 registered
        # (4 registers on 10 June), 1 signed (2 signs on 15 June).
        add_conversion(
            conn, 1, "2020-10-01", contacted_at="2020-11-01", contract_signed_at="2021-03-01"
        )
        add_conversion(
            conn, 2, "2020-10-01", contacted_at="2021-01-10", contract_signed_at="2021-06-15"
        )
        add_conversion(conn, 3, "2020-12-01", lost_at="2021-02-01", lost_reason="retired")
        add_conversion(conn, 4, "2021-06-10")

        # Keys (fulfilled 1 January unless said):  at 30 June       | at 31 May
        # 1 MAR stock                               in stock         | in stock
        # 2 partner 1, consumed 5 June              consumed (d-25)  | in stock
        # 3 partner 2, consumed 20 May              gone             | consumed (d-11)
        # 4 MAR, returned 10 June                   returned         | in stock
        # 5 MAR, fulfilled 20 June                  in stock         | not there yet
        # 6 partner 1                               in stock         | in stock
        # 7 partner 2, consumed 25 June             consumed (d-5)   | in stock
        # 30 June: stock 3 (keys 1, 5, 6), 2 consumed in 28 days -> cover 3 / (2/28) = 42.0
        # 31 May:  stock 5 (keys 1, 2, 4, 6, 7), 1 consumed -> cover 5 / (1/28) = 140.0
        add_key(conn, 1, W11P)
        add_key(conn, 2, W11P, partner=1, allocated_at="2021-02-01", consumed_at="2021-06-05")
        add_key(conn, 3, W11P, partner=2, allocated_at="2021-02-01", consumed_at="2021-05-20")
        add_key(conn, 4, W11P, returned_at="2021-06-10")
        add_key(conn, 5, W11P, fulfilled_at="2021-06-20")
        add_key(conn, 6, W11P, partner=1, allocated_at="2021-03-01")
        add_key(conn, 7, W11P, partner=2, allocated_at="2021-03-01", consumed_at="2021-06-25")

        # Licence reports (due on the 15th of the following month by default).
        add_report(conn, 1, 1, "2021-04-01")  # due 15 May, never submitted: behind both times
        add_report(conn, 2, 2, "2021-05-01")  # due 15 June: behind at 30 June, not at 31 May
        add_report(conn, 3, 3, "2021-04-01", submitted_at="2021-05-20")  # late, not missing
        add_report(conn, 4, 3, "2021-05-01", due_at="2021-06-30")  # due on as-of: not missing
    return engine


def _kpis(engine: sa.Engine, filters: Filters = JUNE) -> dict[str, tuple[object, object]]:
    with engine.connect() as conn:
        frame = overview_kpis(conn, filters)
    return {kpi: (value, previous) for kpi, value, previous in frame.rows()}


def test_kpis_are_listed_in_their_documented_order(overview: sa.Engine) -> None:
    assert list(_kpis(overview)) == list(KPI_NAMES)


def test_kpi_values_and_previous_period_values(overview: sa.Engine) -> None:
    assert _kpis(overview) == {
        "installations": (3.0, 2.0),
        "active_partners": (2.0, 1.0),
        "converted_rrps": (2.0, 1.0),
        "conversion_rate": (0.5, 1 / 3),
        "keys_in_stock": (3.0, 5.0),
        "days_of_cover": (42.0, 140.0),
        "partners_behind_on_reporting": (2.0, 1.0),
    }


def test_kpis_honour_the_viewers_scope(overview: sa.Engine) -> None:
    kpis = _kpis(overview, JUNE.replace(scope_account_manager_id=2))

    # Manager 2 sees partners 3 and 4: Gamma installed in May only; 3 was lost and 4 has
    # only registered; neither is behind on reporting.
    assert kpis["installations"] == (0.0, 2.0)
    assert kpis["active_partners"] == (0.0, 1.0)
    assert kpis["converted_rrps"] == (0.0, 0.0)
    assert kpis["conversion_rate"] == (0.0, 0.0)
    assert kpis["partners_behind_on_reporting"] == (0.0, 0.0)


def test_stock_kpis_are_the_companys_under_a_viewers_scope(overview: sa.Engine) -> None:
    kpis = _kpis(overview, JUNE.replace(scope_account_manager_id=2))

    # Manager 2's partners hold no keys, yet the central stock is everyone's (DESIGN §4).
    assert kpis["keys_in_stock"] == (3.0, 5.0)
    assert kpis["days_of_cover"] == (42.0, 140.0)


def test_days_of_cover_is_empty_when_nothing_was_consumed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_product(conn, W11P, "W11P")
        add_key(conn, 1, W11P)

    kpis = _kpis(engine)

    assert kpis["keys_in_stock"] == (1.0, 1.0)
    assert kpis["days_of_cover"] == (None, None)


def test_kpis_of_an_empty_database(engine: sa.Engine) -> None:
    assert _kpis(engine) == {
        "installations": (0.0, 0.0),
        "active_partners": (0.0, 0.0),
        "converted_rrps": (0.0, 0.0),
        "conversion_rate": (None, None),
        "keys_in_stock": (0.0, 0.0),
        "days_of_cover": (None, None),
        "partners_behind_on_reporting": (0.0, 0.0),
    }
