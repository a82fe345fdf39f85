"""COA licences installed after the RRP sunset (DESIGN §4b), on both dialects."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from data.rollups import refresh_all
from data.settings import ComplianceRules
from queries.coa import coa_after_sunset
from queries.filters import Filters
from tests.builders import add_account_manager, add_installation, add_partner, add_product

AS_OF = dt.date(2021, 1, 31)
WINTER = Filters(as_of=AS_OF, date_from=dt.date(2020, 12, 1), date_to=AS_OF)
ALPHA, BETA = 1, 2
COA, DPK = 1, 2


@pytest.fixture
def installs(engine: sa.Engine) -> sa.Engine:
    """Installations around the sunset (31 December 2020):

    | partner | product | installed                     | status  | counts |
    | ------- | ------- | ----------------------------- | ------- | ------ |
    | Alpha   | COA     | 31 Dec 2020 23:59 (sunset day)| success | no     |
    | Alpha   | COA     | 1 Jan 2021                    | success | yes    |
    | Alpha   | COA     | 2 Jan 2021                    | failed  | no     |
    | Alpha   | DPK     | 3 Jan 2021                    | success | no     |
    | Beta    | COA     | 5 Jan 2021 (twice)            | success | yes    |
    | Beta    | COA     | 1 Feb 2021 (after the as-of)  | success | no     |
    """
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        add_partner(conn, ALPHA, "Alpha", manager=1)
        add_partner(conn, BETA, "Beta", manager=2)
        add_product(conn, COA, "W7-COA", licence_type="coa")
        add_product(conn, DPK, "W11P")
        add_installation(conn, 1, ALPHA, COA, "2020-12-31 23:59")
        add_installation(conn, 2, ALPHA, COA, "2021-01-01 00:00")
        add_installation(conn, 3, ALPHA, COA, "2021-01-02 10:00", "failed")
        add_installation(conn, 4, ALPHA, DPK, "2021-01-03 10:00")
        add_installation(conn, 5, BETA, COA, "2021-01-05 10:00")
        add_installation(conn, 6, BETA, COA, "2021-01-05 11:00")
        add_installation(conn, 7, BETA, COA, "2021-02-01 10:00")
    return engine


def _rows(
    engine: sa.Engine, filters: Filters = WINTER, rules: ComplianceRules | None = None
) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return list(coa_after_sunset(conn, filters, rules).iter_rows())


def test_coa_installations_after_the_sunset_day_are_counted_per_partner(
    installs: sa.Engine,
) -> None:
    assert _rows(installs) == [(BETA, "Beta", 2), (ALPHA, "Alpha", 1)]


def test_the_rollups_give_the_same_answer(installs: sa.Engine) -> None:
    with installs.begin() as conn:
        refresh_all(conn)

    assert _rows(installs) == [(BETA, "Beta", 2), (ALPHA, "Alpha", 1)]


def test_an_account_manager_sees_only_their_partners(installs: sa.Engine) -> None:
    assert _rows(installs, WINTER.replace(scope_account_manager_id=1)) == [(ALPHA, "Alpha", 1)]


def test_a_range_ending_on_the_sunset_day_has_none(installs: sa.Engine) -> None:
    december = WINTER.replace(date_to=dt.date(2020, 12, 31))

    assert _rows(installs, december) == []


def test_the_sunset_comes_from_the_rules(installs: sa.Engine) -> None:
    rules = ComplianceRules(rrp_sunset=dt.date(2021, 1, 1))

    assert _rows(installs, rules=rules) == [(BETA, "Beta", 2)]
