"""Partner risk: the flags of DESIGN §4b per partner, with their reasons, on both dialects."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from queries.filters import Filters
from queries.partner_risk import partner_risk, significant_discrepancy
from tests.builders import (
    add_account_manager,
    add_installation,
    add_key,
    add_keys,
    add_partner,
    add_product,
    add_report,
)

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=AS_OF)
W11P, CITIZEN, COA = 1, 2, 3
USED = {"allocated_at": "2021-05-01", "consumed_at": "2021-05-02"}
#: Keys used and activated in May: in no stage that could be stuck at 30 June.
ACTIVATED = {
    **USED,
    "reported_at": "2021-05-03",
    "acknowledged_at": "2021-05-04",
    "activation_code": "00",
}


def _answered(conn: sa.Connection, count: int, partner: int, code: str) -> None:
    add_keys(
        conn,
        count,
        W11P,
        partner=partner,
        **USED,
        reported_at="2021-05-03",
        acknowledged_at="2021-06-05",
        activation_code=code,
    )


@pytest.fixture
def risky(engine: sa.Engine) -> sa.Engine:
    """One partner per flag (manager 2 has Under and Shared, manager 1 the rest):

    | id | partner    | what happened by 30 June                             | flag                |
    | -- | ---------- | ---------------------------------------------------- | ------------------- |
    | 1  | Denier     | 1 of 20 answers in June denied; consumed on 1 June   | denials, stuck_keys |
    | 2  | Under      | 1 of 21 answers denied (4.8 %)                       | -                   |
    | 3  | Shared     | two keys bound to one device                         | duplicate_device    |
    | 4  | Reuser     | one key installed successfully twice                 | key_reused          |
    | 5  | Capper     | cap 1, two citizenship Windows keys in June          | over_cap            |
    | 6  | Late       | May report due 15 June, never submitted              | behind_on_reporting |
    | 7  | Miscounter | June report says 6, no installations                 | report_discrepancy  |
    | 8  | Close      | June report says 5, no installations                 | -                   |
    | 9  | Sticker    | a COA installation on 10 June                        | coa_after_sunset    |
    """
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        names = ("Denier", "Under", "Shared", "Reuser", "Capper", "Late", "Miscounter", "Close")
        for id, name in enumerate(names, start=1):
            add_partner(conn, id, name, manager=2 if id in (2, 3) else 1, citizenship_cap=1)
        add_partner(conn, 9, "Sticker", manager=1)
        add_product(conn, W11P, "W11P")
        add_product(conn, CITIZEN, "WC", channel="citizenship")
        add_product(conn, COA, "W7-COA", licence_type="coa")

        _answered(conn, 19, 1, "00")
        _answered(conn, 1, 1, "01")
        add_key(conn, None, W11P, partner=1, allocated_at="2021-05-01", consumed_at="2021-06-01")
        _answered(conn, 20, 2, "00")
        _answered(conn, 1, 2, "01")
        device = "d" * 64
        add_keys(conn, 2, W11P, partner=3, **ACTIVATED, bound_at="2021-05-03", device_hash=device)
        reused = add_key(conn, None, W11P, partner=4, **ACTIVATED)
        add_installation(conn, None, 4, W11P, "2021-06-01 10:00", key=reused["id"])
        add_installation(conn, None, 4, W11P, "2021-06-02 10:00", key=reused["id"])
        add_keys(conn, 2, CITIZEN, partner=5, allocated_at="2021-06-03")
        add_report(conn, None, 6, "2021-05-01")
        for partner, reported in ((7, 6), (8, 5)):
            add_report(
                conn,
                None,
                partner,
                "2021-06-01",
                due_at="2021-07-10",
                submitted_at="2021-06-30",
                reported_installations=reported,
            )
        add_installation(conn, None, 9, COA, "2021-06-10 10:00")
    return engine


def _risk(engine: sa.Engine, filters: Filters = JUNE) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        frame = partner_risk(conn, filters)
    return list(frame.select("partner_id", "partner_name", "flags", "reasons").iter_rows())


def test_partners_with_flags_are_listed_most_flags_first_with_their_reasons(
    risky: sa.Engine,
) -> None:
    assert _risk(risky) == [
        (1, "Denier", 2, "denials;stuck_keys"),
        (3, "Shared", 1, "duplicate_device"),
        (4, "Reuser", 1, "key_reused"),
        (5, "Capper", 1, "over_cap"),
        (6, "Late", 1, "behind_on_reporting"),
        (7, "Miscounter", 1, "report_discrepancy"),
        (9, "Sticker", 1, "coa_after_sunset"),
    ]


def test_each_flag_has_its_own_column(risky: sa.Engine) -> None:
    with risky.connect() as conn:
        frame = partner_risk(conn, JUNE)

    denier = frame.row(0, named=True)
    assert (denier["denials"], denier["stuck_keys"], denier["key_reused"]) == (True, True, False)


def test_an_account_manager_sees_only_their_partners_risk(risky: sa.Engine) -> None:
    assert _risk(risky, JUNE.replace(scope_account_manager_id=2)) == [
        (3, "Shared", 1, "duplicate_device")
    ]


def test_a_quiet_database_has_no_risk(engine: sa.Engine) -> None:
    assert _risk(engine) == []


def test_the_reporting_flag_follows_the_report_due_day_given(engine: sa.Engine) -> None:
    """A May installation and no report row: due 10 June by default, so behind on 12 June;
    due on the 15th, not yet."""
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_partner(conn, 1, "Late", manager=1)
        add_product(conn, W11P, "W11P")
        add_installation(conn, None, 1, W11P, "2021-05-20 10:00")
    june_12 = JUNE.replace(as_of=dt.date(2021, 6, 12))

    with engine.connect() as conn:
        by_default = partner_risk(conn, june_12)
        on_the_15th = partner_risk(conn, june_12, due_day=15)

    assert list(by_default.select("partner_name", "reasons").iter_rows()) == [
        ("Late", "behind_on_reporting")
    ]
    assert on_the_15th.is_empty()


def test_a_discrepancy_counts_above_five_units_and_above_ten_percent() -> None:
    reports = pl.DataFrame(
        {
            "partner_id": [1, 2, 3, 4, 5],
            "actual_installations": [100, 100, 0, 0, 0],
            "discrepancy": [11, 10, -6, 5, None],
        }
    )

    assert list(significant_discrepancy(reports)["partner_id"]) == [1, 3]
