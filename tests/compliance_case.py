"""One small licence-compliance case, hand-worked, shared by the export and page tests."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from queries.filters import Filters
from tests.builders import (
    add_account_manager,
    add_key,
    add_key_order,
    add_partner,
    add_product,
    add_user,
)

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=AS_OF)
ALPHA, BETA = 1, 2
W11P, WC, OC = 1, 2, 3
DEVICE = "0123456789ab" + "f" * 52
MANAGEMENT = "boss@example.com"
#: Account manager 2, who has Beta only.
ANNA = "anna@example.com"


def add_compliance_case(conn: sa.Connection) -> None:
    """Seven keys at 30 June (fulfilled 1 January unless said; Alpha's cap is 2):

    | key | holder | product | what happened                                         | stage     |
    | --- | ------ | ------- | ----------------------------------------------------- | --------- |
    | 1   | MAR    | W11P    | fulfilled 29 June 2020 (order at 10.00): 366 days old | mar_stock |
    | 2   | Alpha  | W11P    | allocated 1 June, consumed 2 June: 28 days waiting    | consumed  |
    | 3   | Alpha  | W11P    | allocated and consumed 1 June, bound 2 June to X,     | denied    |
    |     |        |         | reported 3 June, answered 4 June with 01              |           |
    | 4   | Beta   | W11P    | allocated and consumed 1 June, bound and reported     | activated |
    |     |        |         | 5 June to X, answered 6 June with 00                  |           |
    | 5   | Alpha  | WC      | allocated 10 June                                     | allocated |
    | 6-7 | Alpha  | OC      | allocated 10 and 11 June                              | allocated |

    Dwell in June: mar_stock 151 (keys 2-4), 160 (5, 6), 161 (7); allocated 1, 0, 0;
    consumed 1, 4; bound 1, 0; reported 1, 1.
    """
    add_account_manager(conn, 1)
    add_account_manager(conn, 2)
    add_partner(conn, ALPHA, "Alpha", manager=1, citizenship_cap=2)
    add_partner(conn, BETA, "Beta", manager=2)
    add_user(conn, MANAGEMENT, "management")
    add_user(conn, ANNA, "account_manager", manager=2)
    add_product(conn, W11P, "W11P")
    add_product(conn, WC, "WC", channel="citizenship")
    add_product(conn, OC, "OC", family="office", channel="citizenship")
    add_key_order(conn, 1, W11P, "2020-06-01", unit_price=10.00)
    add_key(conn, 1, W11P, order=1, fulfilled_at="2020-06-29")
    add_key(conn, 2, W11P, partner=ALPHA, allocated_at="2021-06-01", consumed_at="2021-06-02")
    for key, partner, bound, reported, answered, code in (
        (3, ALPHA, "2021-06-02", "2021-06-03", "2021-06-04", "01"),
        (4, BETA, "2021-06-05", "2021-06-05", "2021-06-06", "00"),
    ):
        add_key(
            conn,
            key,
            W11P,
            partner=partner,
            allocated_at="2021-06-01",
            consumed_at="2021-06-01",
            bound_at=bound,
            device_hash=DEVICE,
            reported_at=reported,
            acknowledged_at=answered,
            activation_code=code,
        )
    add_key(conn, 5, WC, partner=ALPHA, allocated_at="2021-06-10")
    add_key(conn, 6, OC, partner=ALPHA, allocated_at="2021-06-10")
    add_key(conn, 7, OC, partner=ALPHA, allocated_at="2021-06-11")
