"""Duplicate devices and reused keys (DESIGN §4b), on both dialects."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from queries.filters import Filters
from queries.misuse import duplicate_device_keys, duplicate_devices, reused_keys
from tests.builders import (
    add_account_manager,
    add_installation,
    add_key,
    add_partner,
    add_product,
)

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=AS_OF)
ALPHA, BETA = 1, 2
W11P = 1
DEVICE_A = "aaaaaaaaaaaa" + "1" * 52
DEVICE_B = "bbbbbbbbbbbb" + "2" * 52
DEVICE_C = "cccccccccccc" + "3" * 52


def _bound(
    conn: sa.Connection,
    key: int,
    partner: int,
    device: str,
    *,
    bound: str | None,
    reported: str | None = None,
) -> None:
    add_key(
        conn,
        key,
        W11P,
        product_key_id=f"00000000{key:05d}",
        partner=partner,
        allocated_at="2021-05-01",
        consumed_at="2021-05-01",
        bound_at=bound,
        reported_at=reported,
        device_hash=device,
    )


@pytest.fixture
def devices(engine: sa.Engine) -> sa.Engine:
    """Keys bound to devices by 30 June (Alpha is manager 1's, Beta manager 2's):

    | key | partner | device | bound                               |
    | --- | ------- | ------ | ----------------------------------- |
    | 1   | Alpha   | A      | 1 June                              |
    | 2   | Beta    | A      | reported 3 June, no bound_at        |
    | 3   | Alpha   | B      | 10 May                              |
    | 4   | Alpha   | B      | 12 May                              |
    | 5   | Alpha   | B      | 2 July (after the as-of date)       |
    | 6   | Beta    | C      | 5 June                              |
    | 7   | Beta    | C      | 1 July (after the as-of date)       |

    Shared at 30 June: A (2 keys, 2 partners, 1-3 June), B (2 keys, 1 partner, 10-12 May).
    """
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        add_partner(conn, ALPHA, "Alpha", manager=1)
        add_partner(conn, BETA, "Beta", manager=2)
        add_product(conn, W11P, "W11P")
        _bound(conn, 1, ALPHA, DEVICE_A, bound="2021-06-01")
        _bound(conn, 2, BETA, DEVICE_A, bound=None, reported="2021-06-03")
        _bound(conn, 3, ALPHA, DEVICE_B, bound="2021-05-10")
        _bound(conn, 4, ALPHA, DEVICE_B, bound="2021-05-12")
        _bound(conn, 5, ALPHA, DEVICE_B, bound="2021-07-02")
        _bound(conn, 6, BETA, DEVICE_C, bound="2021-06-05")
        _bound(conn, 7, BETA, DEVICE_C, bound="2021-07-01")
    return engine


def test_devices_bound_to_two_keys_are_listed_by_first_bound_day(devices: sa.Engine) -> None:
    with devices.connect() as conn:
        rows = list(duplicate_devices(conn, JUNE).iter_rows())

    assert rows == [
        ("bbbbbbbbbbbb", 2, 1, dt.date(2021, 5, 10), dt.date(2021, 5, 12)),
        ("aaaaaaaaaaaa", 2, 2, dt.date(2021, 6, 1), dt.date(2021, 6, 3)),
    ]


def test_a_scoped_view_lists_a_device_it_shares_and_counts_every_key_bound_to_it(
    devices: sa.Engine,
) -> None:
    scoped = JUNE.replace(scope_account_manager_id=2)
    with devices.connect() as conn:
        rows = list(duplicate_devices(conn, scoped).iter_rows())
        evidence = list(duplicate_device_keys(conn, scoped).iter_rows())

    assert rows == [("aaaaaaaaaaaa", 2, 2, dt.date(2021, 6, 1), dt.date(2021, 6, 3))]
    # The evidence names Beta's key only, never Alpha's.
    assert evidence == [
        ("aaaaaaaaaaaa", 2, "0000000000002", BETA, "Beta", "W11P", dt.date(2021, 6, 3))
    ]


def test_the_evidence_lists_every_key_of_a_shared_device(devices: sa.Engine) -> None:
    with devices.connect() as conn:
        keys = list(duplicate_device_keys(conn, JUNE)["key_id"])

    assert keys == [1, 2, 3, 4]


def test_a_device_shown_never_carries_its_full_hash(devices: sa.Engine) -> None:
    with devices.connect() as conn:
        frame = duplicate_devices(conn, JUNE)

    assert all(len(device) == 12 for device in frame["device"])


@pytest.fixture
def installs(engine: sa.Engine) -> sa.Engine:
    """Installations by key, until 30 June:

    | key | holder | successful installations              | failed |
    | --- | ------ | ------------------------------------- | ------ |
    | 1   | Alpha  | 1 June (Alpha), 15 June (Beta)        | 1      |
    | 2   | Beta   | 2 June                                | 1      |
    | 3   | Beta   | 3 June, 1 July (after the as-of date) |        |
    """
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        add_partner(conn, ALPHA, "Alpha", manager=1)
        add_partner(conn, BETA, "Beta", manager=2)
        add_product(conn, W11P, "W11P")
        for key, partner in ((1, ALPHA), (2, BETA), (3, BETA)):
            add_key(
                conn,
                key,
                W11P,
                partner=partner,
                allocated_at="2021-05-01",
                consumed_at="2021-05-02",
            )
        add_installation(conn, 1, ALPHA, W11P, "2021-06-01 10:00", key=1)
        add_installation(conn, 2, BETA, W11P, "2021-06-15 10:00", key=1)
        add_installation(conn, 3, ALPHA, W11P, "2021-06-16 10:00", "failed", key=1)
        add_installation(conn, 4, BETA, W11P, "2021-06-02 10:00", key=2)
        add_installation(conn, 5, BETA, W11P, "2021-06-02 11:00", "failed", key=2)
        add_installation(conn, 6, BETA, W11P, "2021-06-03 10:00", key=3)
        add_installation(conn, 7, BETA, W11P, "2021-07-01 10:00", key=3)
    return engine


def test_a_key_installed_successfully_twice_is_reused(installs: sa.Engine) -> None:
    with installs.connect() as conn:
        rows = list(reused_keys(conn, JUNE).iter_rows())

    assert rows == [
        (1, None, ALPHA, "Alpha", "W11P", 2, 2, dt.date(2021, 6, 1), dt.date(2021, 6, 15))
    ]


def test_reused_keys_of_a_scoped_view_are_those_its_partners_hold(installs: sa.Engine) -> None:
    with installs.connect() as conn:
        beta = reused_keys(conn, JUNE.replace(scope_account_manager_id=2))
        alpha = reused_keys(conn, JUNE.replace(scope_account_manager_id=1))

    assert beta.is_empty()
    assert list(alpha["key_id"]) == [1]
