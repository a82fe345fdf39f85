"""Partner profile and partner choices: what a viewer may see of whom, on both dialects.

The as-of date is 2021-06-30; "after the as-of date" means from 2021-07-01 00:00 on.
Manager 1 ("Anna") looks after partners 1 and 2, manager 2 ("Ben") after partner 3.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from data import schema
from data.errors import UserError
from queries.filters import Filters
from queries.partners import UnknownPartner, partner_options, partner_profile
from tests.builders import add_account_manager, add_conversion, add_partner

AS_OF = dt.date(2021, 6, 30)
FILTERS = Filters.default(AS_OF)
ANNA, BEN = 1, 2


@pytest.fixture
def network(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        add_account_manager(conn, ANNA, "Anna")
        add_account_manager(conn, BEN, "Ben")
        add_partner(
            conn,
            1,
            "Zeta Refurb",
            manager=ANNA,
            country="AT",
            region="Central",
            size_class="S",
            joined_at="2021-01-15",
        )
        add_partner(conn, 2, "Alpha IT", manager=ANNA, country="DE", region="Central")
        add_partner(conn, 3, "Mid PCs", manager=BEN, country="FR", region="West")
        add_conversion(
            conn,
            1,
            "2020-10-01",
            contacted_at="2020-11-02 10:00",
            applied_at="2020-12-01",
            contract_signed_at="2021-01-15",
            first_order_at="2021-02-01",
        )
    return engine


def profile(engine: sa.Engine, partner_id: int, filters: Filters = FILTERS) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = partner_profile(conn, filters, partner_id).rows(named=True)
    assert len(rows) == 1
    row: dict[str, Any] = rows[0]
    return row


def refusal(engine: sa.Engine, partner_id: int, filters: Filters = FILTERS) -> str:
    """The message with which the profile of `partner_id` is refused."""
    with engine.connect() as conn, pytest.raises(UnknownPartner) as raised:
        partner_profile(conn, filters, partner_id)
    return str(raised.value)


# --- profile --------------------------------------------------------------------------------


def test_profile_describes_the_partner_and_its_conversion_history(network: sa.Engine) -> None:
    assert profile(network, 1) == {
        "partner_id": 1,
        "partner_name": "Zeta Refurb",
        "country": "AT",
        "region": "Central",
        "size_class": "S",
        "account_manager": "Anna",
        "joined_at": dt.datetime(2021, 1, 15),
        "rrp_registered_at": dt.datetime(2020, 10, 1),
        "contacted_at": dt.datetime(2020, 11, 2, 10, 0),
        "applied_at": dt.datetime(2020, 12, 1),
        "contract_signed_at": dt.datetime(2021, 1, 15),
        "first_order_at": dt.datetime(2021, 2, 1),
        "lost_at": None,
        "lost_reason": None,
    }


def test_profile_of_a_partner_that_never_was_an_rrp_has_empty_conversion_history(
    network: sa.Engine,
) -> None:
    row = profile(network, 2)

    assert (row["partner_name"], row["account_manager"]) == ("Alpha IT", "Anna")
    assert row["rrp_registered_at"] is None
    assert row["contract_signed_at"] is None


def test_profile_hides_conversion_steps_after_the_as_of_date(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_partner(conn, 1)
        add_conversion(
            conn,
            1,
            "2021-01-10",
            contacted_at="2021-06-30 23:59:59",
            applied_at="2021-07-01 00:00",
            lost_at="2021-07-05",
            lost_reason="price",
        )

    row = profile(engine, 1)

    assert row["contacted_at"] == dt.datetime(2021, 6, 30, 23, 59, 59)
    assert row["applied_at"] is None
    assert (row["lost_at"], row["lost_reason"]) == (None, None)


def test_profile_shows_a_loss_on_or_before_the_as_of_date_with_its_reason(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        add_partner(conn, 1)
        add_conversion(conn, 1, "2021-01-10", lost_at="2021-06-30 08:00", lost_reason="price")

    row = profile(engine, 1)

    assert (row["lost_at"], row["lost_reason"]) == (dt.datetime(2021, 6, 30, 8, 0), "price")


def test_scoped_viewer_sees_the_profile_of_their_own_partner(network: sa.Engine) -> None:
    assert profile(network, 1, FILTERS.replace(scope_account_manager_id=ANNA))["partner_id"] == 1


def test_profile_ignores_the_viewers_current_partner_choice(network: sa.Engine) -> None:
    chosen_other = FILTERS.replace(partner_ids=(3,), account_manager_id=BEN)

    assert profile(network, 1, chosen_other)["partner_id"] == 1


# --- refusals -------------------------------------------------------------------------------


def test_unknown_partner_id_is_refused_with_a_user_error(network: sa.Engine) -> None:
    message = refusal(network, 99)

    assert issubclass(UnknownPartner, UserError)
    assert "99" in message


def test_partner_outside_the_viewers_scope_is_refused(network: sa.Engine) -> None:
    message = refusal(network, 3, FILTERS.replace(scope_account_manager_id=ANNA))

    assert "Mid PCs" not in message


def test_partner_outside_the_scope_is_refused_exactly_like_one_that_does_not_exist(
    network: sa.Engine,
) -> None:
    outside_scope = refusal(network, 3, FILTERS.replace(scope_account_manager_id=ANNA))
    with network.begin() as conn:
        conn.execute(sa.delete(schema.partners).where(schema.partners.c.id == 3))
    not_existing = refusal(network, 3)

    assert outside_scope == not_existing


# --- partner options ------------------------------------------------------------------------


def test_partner_options_list_every_partner_by_name(network: sa.Engine) -> None:
    with network.connect() as conn:
        rows = partner_options(conn, FILTERS).rows()

    assert rows == [
        (2, "Alpha IT", "Central", "DE", ANNA),
        (3, "Mid PCs", "West", "FR", BEN),
        (1, "Zeta Refurb", "Central", "AT", ANNA),
    ]


def test_partner_options_of_a_scoped_viewer_are_only_their_partners(network: sa.Engine) -> None:
    with network.connect() as conn:
        anna = partner_options(conn, FILTERS.replace(scope_account_manager_id=ANNA))
        ben = partner_options(conn, FILTERS.replace(scope_account_manager_id=BEN))

    assert anna["partner_id"].to_list() == [2, 1]
    assert ben["partner_id"].to_list() == [3]


def test_partner_options_ignore_the_current_partner_and_manager_choice(
    network: sa.Engine,
) -> None:
    chosen = FILTERS.replace(partner_ids=(1,), account_manager_id=ANNA, regions=("Central",))

    with network.connect() as conn:
        options = partner_options(conn, chosen)

    assert options["partner_id"].to_list() == [2, 3, 1]
