"""The database the digest and alert tests share: two account managers with two partners each,
as-of Wednesday 30 June 2021 (ISO week starting Monday 28 June; the digest's week is 24 .. 30
June, the week before 17 .. 23 June).

| partner | manager | installations (W11P)     | May 2021 report           | conversion      |
| ------- | ------- | ------------------------ | ------------------------- | --------------- |
| 1 Alpha | 1 Anna  | 3 on 25 Jun, 1 on 20 Jun | due 10 Jun, missing (20d) | -               |
| 2 Beta  | 1 Anna  | 2 on 26 Jun              | submitted on time         | contacted 1 Apr |
| 3 Gamma | 2 Bert  | 1 on 28 Jun, 2 on 18 Jun | due 25 Jun, missing (5d)  | -               |
| 4 Delta | 2 Bert  | none                     | submitted on time         | applied 1 May   |

Installations fall in June only, whose report is not due by the as-of date, so no month without
a report row is owed.  Alpha was already behind a week earlier (23 June); Gamma fell behind
this week.  Users: boss@mar.example (management), anna@mar.example (manager 1),
bert@mar.example (manager 2).

Stock of W11P: 10 keys in MAR stock; 14 keys allocated (7 to Alpha, 7 to Gamma) and consumed
on 17 .. 30 June: 14 consumed in the 28 days → 0.5 a day → 10 ÷ 0.5 = 20.0 days of cover,
below the 21-day warning; stock-out 20 July.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tests.builders import (
    add_account_manager,
    add_conversion,
    add_installation,
    add_installations,
    add_key,
    add_partner,
    add_product,
    add_report,
    add_user,
)

AS_OF = dt.date(2021, 6, 30)
W11P = 1
BOSS, ANNA, BERT = "boss@mar.example", "anna@mar.example", "bert@mar.example"
ANNAS_PARTNERS = ("Alpha", "Beta")
BERTS_PARTNERS = ("Gamma", "Delta")


def fill(conn: sa.Connection) -> None:
    add_account_manager(conn, 1, "Anna Becker", email=ANNA)
    add_account_manager(conn, 2, "Bert Weber", email=BERT)
    for partner, name, manager in (
        (1, "Alpha", 1),
        (2, "Beta", 1),
        (3, "Gamma", 2),
        (4, "Delta", 2),
    ):
        add_partner(conn, partner, name, manager=manager)
    add_product(conn, W11P, "W11P", "Windows 11 Pro")
    add_user(conn, BOSS, "management")
    add_user(conn, ANNA, "account_manager", manager=1)
    add_user(conn, BERT, "account_manager", manager=2)

    add_installations(conn, 3, 1, W11P, "2021-06-25 10:00")
    add_installation(conn, None, 1, W11P, "2021-06-20 10:00")
    add_installations(conn, 2, 2, W11P, "2021-06-26 10:00")
    add_installation(conn, None, 3, W11P, "2021-06-28 10:00")
    add_installations(conn, 2, 3, W11P, "2021-06-18 10:00")

    add_report(conn, 1, 1, "2021-05-01", due_at="2021-06-10")
    add_report(conn, 2, 2, "2021-05-01", due_at="2021-06-10", submitted_at="2021-06-05")
    add_report(conn, 3, 3, "2021-05-01", due_at="2021-06-25")
    add_report(conn, 4, 4, "2021-05-01", due_at="2021-06-10", submitted_at="2021-06-05")

    add_conversion(conn, 2, "2020-10-01", contacted_at="2021-04-01")
    add_conversion(conn, 4, "2020-10-01", contacted_at="2021-03-01", applied_at="2021-05-01")

    for _ in range(10):
        add_key(conn, None, W11P)
    for i in range(14):
        partner = 1 if i % 2 == 0 else 3
        consumed = dt.date(2021, 6, 17) + dt.timedelta(days=i)
        add_key(conn, None, W11P, partner=partner, allocated_at="2021-02-01", consumed_at=consumed)
