"""Partner volumes (DESIGN §4): successful installations and keys allocated per partner.

Every test builds its own tiny database on both dialects; expected values are counted by hand
from the rows the test inserts.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from queries.filters import Filters
from queries.volumes import partner_volume_series, partner_volumes
from tests.builders import (
    add_account_manager,
    add_installation,
    add_installations,
    add_key,
    add_partner,
    add_product,
)

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=dt.date(2021, 6, 30))

COLUMNS = [
    "partner_id",
    "partner_name",
    "installations",
    "keys_allocated",
    "share",
    "previous_installations",
    "change",
    "country",
    "region",
]

W11P, O21 = 1, 2


def _cast(conn: sa.Connection) -> None:
    """Two account managers with two partners each, and two products.

    | partner | name  | manager | region | country |
    | 1       | Alpha | 1       | Europe | DE      |
    | 2       | Beta  | 1       | Europe | AT      |
    | 3       | Gamma | 2       | Asia   | JP      |
    | 4       | Delta | 2       | Europe | DE      |
    """
    add_account_manager(conn, 1, "Anna")
    add_account_manager(conn, 2, "Ben")
    add_partner(conn, 1, "Alpha", manager=1, region="Europe", country="DE")
    add_partner(conn, 2, "Beta", manager=1, region="Europe", country="AT")
    add_partner(conn, 3, "Gamma", manager=2, region="Asia", country="JP")
    add_partner(conn, 4, "Delta", manager=2, region="Europe", country="DE")
    add_product(conn, W11P, "W11P", "Windows 11 Pro")
    add_product(conn, O21, "O21", "Office 2021", family="office")


def _volumes(engine: sa.Engine, filters: Filters = JUNE) -> dict[int, int]:
    """partner id → installations, in the order the metric lists them."""
    with engine.connect() as conn:
        frame = partner_volumes(conn, filters)
    return dict(zip(frame["partner_id"], frame["installations"], strict=True))


def _row(engine: sa.Engine, partner: int, filters: Filters = JUNE) -> dict[str, object]:
    with engine.connect() as conn:
        frame = partner_volumes(conn, filters)
    return frame.filter(pl.col("partner_id") == partner).row(0, named=True)


@pytest.fixture
def mixed(engine: sa.Engine) -> sa.Engine:
    """June installations: Alpha 2 W11P, Beta 3 (2 W11P + 1 O21 authority), Gamma 2 O21
    nonprofit, Delta none; plus one failed attempt for Delta that must not count."""
    with engine.begin() as conn:
        _cast(conn)
        add_installations(conn, 2, partner=1, product=W11P, at="2021-06-10 10:00")
        add_installations(conn, 2, partner=2, product=W11P, at="2021-06-11 10:00")
        add_installation(conn, None, 2, O21, "2021-06-12 10:00", segment="authority")
        add_installations(conn, 2, 3, O21, "2021-06-13 10:00", segment="nonprofit")
        add_installation(conn, None, 4, W11P, "2021-06-14 10:00", status="failed")
    return engine


def test_only_successful_installations_count(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 1, W11P, "2021-06-05 10:00", status="success")
        add_installation(conn, 2, 1, W11P, "2021-06-05 11:00", status="failed")
        add_installation(conn, 3, 1, W11P, "2021-06-05 12:00", status="success")

    assert _volumes(engine)[1] == 2


def test_range_is_inclusive_at_both_ends(engine: sa.Engine) -> None:
    filters = JUNE.replace(as_of=dt.date(2021, 7, 15))
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 1, W11P, "2021-05-31 23:59:59")  # day before from: out
        add_installation(conn, 2, 1, W11P, "2021-06-01 00:00:00")  # from, 00:00: in
        add_installation(conn, 3, 1, W11P, "2021-06-30 23:59:59")  # to, last second: in
        add_installation(conn, 4, 1, W11P, "2021-07-01 00:00:00")  # to + 1, 00:00: out

    assert _volumes(engine, filters)[1] == 2


def test_installations_after_as_of_are_ignored_inside_the_range(engine: sa.Engine) -> None:
    filters = JUNE.replace(as_of=dt.date(2021, 6, 15))
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 1, W11P, "2021-06-15 23:59:59")  # on as-of: counts
        add_installation(conn, 2, 1, W11P, "2021-06-16 00:00:00")  # after as-of: not yet
        add_installation(conn, 3, 1, W11P, "2021-06-29 10:00:00")  # after as-of: not yet

    assert _volumes(engine, filters)[1] == 1


def test_keys_allocated_counts_keys_allocated_in_range_even_if_returned(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _cast(conn)
        add_key(conn, 1, W11P, partner=1, allocated_at="2021-06-01 00:00")  # in
        add_key(conn, 2, W11P, partner=1, allocated_at="2021-06-10", returned_at="2021-06-20")
        add_key(conn, 3, W11P, partner=1, allocated_at="2021-06-11", consumed_at="2021-06-12")
        add_key(conn, 4, W11P, partner=1, allocated_at="2021-05-31 23:59:59")  # before range
        add_key(conn, 5, W11P, partner=1, allocated_at="2021-07-01 00:00")  # after range
        add_key(conn, 6, W11P, partner=2, allocated_at="2021-06-15")  # another partner
        add_key(conn, 7, W11P)  # still in MAR stock

    assert _row(engine, 1)["keys_allocated"] == 3
    assert _row(engine, 2)["keys_allocated"] == 1


def test_every_partner_in_scope_is_listed_with_zeros(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 3, W11P, "2021-06-05 10:00")

    with engine.connect() as conn:
        frame = partner_volumes(conn, JUNE)

    assert frame.select("partner_id", "partner_name", "installations", "keys_allocated").rows() == [
        (3, "Gamma", 1, 0),
        (1, "Alpha", 0, 0),
        (2, "Beta", 0, 0),
        (4, "Delta", 0, 0),
    ]


def test_partners_are_ordered_by_installations_then_id(mixed: sa.Engine) -> None:
    # Beta 3; Alpha and Gamma 2 each (id decides); Delta 0.
    assert list(_volumes(mixed)) == [2, 1, 3, 4]


def test_frame_has_the_documented_columns(mixed: sa.Engine) -> None:
    with mixed.connect() as conn:
        assert partner_volumes(conn, JUNE).columns == COLUMNS


def test_partner_filter_lists_only_those_partners(mixed: sa.Engine) -> None:
    assert _volumes(mixed, JUNE.replace(partner_ids=(3, 1))) == {1: 2, 3: 2}


def test_account_manager_filter_lists_that_managers_partners(mixed: sa.Engine) -> None:
    assert _volumes(mixed, JUNE.replace(account_manager_id=2)) == {3: 2, 4: 0}


def test_partners_with_a_manager_mean_that_managers_partners_among_them(
    mixed: sa.Engine,
) -> None:
    filters = JUNE.replace(partner_ids=(1, 3), account_manager_id=1)

    assert _volumes(mixed, filters) == {1: 2}


def test_region_filter(mixed: sa.Engine) -> None:
    assert _volumes(mixed, JUNE.replace(regions=("Asia",))) == {3: 2}


def test_country_filter(mixed: sa.Engine) -> None:
    assert _volumes(mixed, JUNE.replace(countries=("DE",))) == {1: 2, 4: 0}


def test_product_filter_counts_only_that_product(mixed: sa.Engine) -> None:
    assert _volumes(mixed, JUNE.replace(product_codes=("O21",))) == {3: 2, 2: 1, 1: 0, 4: 0}


def test_product_filter_applies_to_keys_allocated(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _cast(conn)
        add_key(conn, 1, W11P, partner=1, allocated_at="2021-06-10")
        add_key(conn, 2, O21, partner=1, allocated_at="2021-06-10")
        add_key(conn, 3, O21, partner=1, allocated_at="2021-06-11")

    assert _row(engine, 1, JUNE.replace(product_codes=("O21",)))["keys_allocated"] == 2


def test_segment_filter_counts_only_that_segment(mixed: sa.Engine) -> None:
    filters = JUNE.replace(segments=("authority", "nonprofit"))

    assert _volumes(mixed, filters) == {3: 2, 2: 1, 1: 0, 4: 0}


def test_scope_restricts_to_the_viewers_partners(mixed: sa.Engine) -> None:
    assert _volumes(mixed, JUNE.replace(scope_account_manager_id=1)) == {2: 3, 1: 2}


def test_a_manager_filter_cannot_widen_the_scope(mixed: sa.Engine) -> None:
    filters = JUNE.replace(scope_account_manager_id=1, account_manager_id=2)

    assert _volumes(mixed, filters) == {}


def test_filters_matching_nothing_give_an_empty_frame_with_the_columns(
    mixed: sa.Engine,
) -> None:
    with mixed.connect() as conn:
        frame = partner_volumes(conn, JUNE.replace(regions=("Atlantis",)))

    assert frame.is_empty()
    assert frame.columns == COLUMNS


def test_share_is_each_partners_part_of_all_installations(mixed: sa.Engine) -> None:
    with mixed.connect() as conn:
        frame = partner_volumes(conn, JUNE)

    # 7 installations: Beta 3/7, Alpha 2/7, Gamma 2/7, Delta 0, in full precision.
    assert frame["share"].to_list() == pytest.approx([3 / 7, 2 / 7, 2 / 7, 0.0])


def test_share_is_zero_when_nothing_was_installed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _cast(conn)

    with engine.connect() as conn:
        assert partner_volumes(conn, JUNE)["share"].to_list() == [0.0, 0.0, 0.0, 0.0]


def test_previous_installations_count_the_equal_range_just_before(engine: sa.Engine) -> None:
    # June has 30 days, so the previous range is 2 May .. 31 May.
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 1, W11P, "2021-05-01 23:59:59")  # before it: out
        add_installation(conn, 2, 1, W11P, "2021-05-02 00:00:00")  # first day: in
        add_installation(conn, 3, 1, W11P, "2021-05-31 23:59:59")  # last day: in
        add_installation(conn, 4, 1, W11P, "2021-05-20 10:00", status="failed")  # failed: out
        add_installation(conn, 5, 1, W11P, "2021-06-01 00:00:00")  # current range

    row = _row(engine, 1)

    assert (row["installations"], row["previous_installations"], row["change"]) == (1, 2, -1)


def test_weekly_series_puts_a_sunday_in_the_week_of_the_previous_monday(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 1, W11P, "2021-06-06 23:59:59")  # Sunday → Monday 31 May
        add_installation(conn, 2, 1, W11P, "2021-06-07 00:00:00")  # Monday 7 June
        add_installation(conn, 3, 1, W11P, "2021-06-13 23:59:59")  # Sunday → Monday 7 June
        add_installation(conn, 4, 1, W11P, "2021-06-14 00:00:00")  # Monday 14 June
        add_installation(conn, 5, 2, W11P, "2021-06-09 12:00:00")  # Wednesday → 7 June

    with engine.connect() as conn:
        frame = partner_volume_series(conn, JUNE, "week")

    # The week of 31 May starts before the range (1 June): partial.
    assert frame.rows() == [
        (dt.date(2021, 5, 31), 1, "Alpha", 1, True),
        (dt.date(2021, 6, 7), 1, "Alpha", 2, False),
        (dt.date(2021, 6, 7), 2, "Beta", 1, False),
        (dt.date(2021, 6, 14), 1, "Alpha", 1, False),
    ]


def test_series_counts_only_successes_in_range(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 1, W11P, "2021-05-31 10:00")  # Monday before the range
        add_installation(conn, 2, 1, W11P, "2021-06-01 10:00")  # Tuesday, in range
        add_installation(conn, 3, 1, W11P, "2021-06-02 10:00", status="failed")

    with engine.connect() as conn:
        frame = partner_volume_series(conn, JUNE, "week")

    assert frame.rows() == [(dt.date(2021, 5, 31), 1, "Alpha", 1, True)]


def test_monthly_series_groups_by_month_start(engine: sa.Engine) -> None:
    filters = Filters(as_of=AS_OF, date_from=dt.date(2021, 5, 1), date_to=AS_OF)
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 3, W11P, "2021-05-01 00:00")
        add_installation(conn, 2, 3, W11P, "2021-05-31 23:59:59")
        add_installation(conn, 3, 3, W11P, "2021-06-01 00:00")

    with engine.connect() as conn:
        frame = partner_volume_series(conn, filters, "month")

    assert frame.rows() == [
        (dt.date(2021, 5, 1), 3, "Gamma", 2, False),
        (dt.date(2021, 6, 1), 3, "Gamma", 1, False),
    ]


def test_series_marks_a_last_week_not_over_at_the_as_of_date_as_partial(
    engine: sa.Engine,
) -> None:
    """June 2021 with as-of Wednesday 23 June: the week of 21 June has had 3 of its days."""
    filters = JUNE.replace(as_of=dt.date(2021, 6, 23))
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 1, W11P, "2021-06-14 10:00")
        add_installation(conn, 2, 1, W11P, "2021-06-21 10:00")

    with engine.connect() as conn:
        frame = partner_volume_series(conn, filters, "week")

    assert frame.select("period", "partial").rows() == [
        (dt.date(2021, 6, 14), False),
        (dt.date(2021, 6, 21), True),
    ]


def test_series_marks_a_month_only_partly_inside_the_range_as_partial(
    engine: sa.Engine,
) -> None:
    """15 May to 30 June: May has 17 of its days in the range, June all 30."""
    filters = Filters(as_of=AS_OF, date_from=dt.date(2021, 5, 15), date_to=AS_OF)
    with engine.begin() as conn:
        _cast(conn)
        add_installation(conn, 1, 3, W11P, "2021-05-20 10:00")
        add_installation(conn, 2, 3, W11P, "2021-06-20 10:00")

    with engine.connect() as conn:
        frame = partner_volume_series(conn, filters, "month")

    assert frame.select("period", "partial").rows() == [
        (dt.date(2021, 5, 1), True),
        (dt.date(2021, 6, 1), False),
    ]


def test_series_columns_when_empty(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        frame = partner_volume_series(conn, JUNE)

    assert frame.is_empty()
    assert frame.columns == ["period", "partner_id", "partner_name", "installations", "partial"]
