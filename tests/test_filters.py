"""`Filters`: the one parser of URL and command-line filters (DESIGN §2, §4).

A filter value is data: it never becomes SQL, whatever characters it holds.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from data import schema
from queries.filters import VOCABULARY, FilterError, Filters
from queries.volumes import partner_volumes
from tests.builders import add_installation, add_partner, add_product

AS_OF = dt.date(2021, 6, 30)
INJECTION = "'; DROP TABLE partners; --"
UNICODE = "Zürich 北京 🚀"


def test_parameters_survive_a_round_trip() -> None:
    filters = Filters.from_params(
        {
            "as_of": "2021-05-31",
            "from": "2021-01-01",
            "to": "2021-03-31",
            "am": "7",
            "partner": ["3", "1"],
            "region": "Europe",
            "country": ["DE", "AT"],
            "product": "W11P",
            "segment": ["education", "nonprofit"],
        },
        as_of=AS_OF,
    )

    assert Filters.from_params(filters.to_params(), as_of=AS_OF) == filters


def test_round_trip_omits_the_default_as_of_and_restores_it() -> None:
    filters = Filters.from_params({"from": "2021-06-01"}, as_of=AS_OF)

    params = filters.to_params(default_as_of=AS_OF)

    assert params == {"from": ["2021-06-01"], "to": ["2021-06-30"]}
    assert Filters.from_params(params, as_of=AS_OF) == filters


def test_parsed_values_are_what_the_url_says() -> None:
    filters = Filters.from_params(
        {"partner": ["3,1", "3"], "country": "de", "am": "7", "segment": "authority"},
        as_of=AS_OF,
    )

    assert filters.partner_ids == (3, 1)
    assert filters.countries == ("DE",)
    assert filters.account_manager_id == 7
    assert filters.segments == ("authority",)


def test_the_viewer_scope_is_never_written_to_the_url() -> None:
    filters = Filters.default(AS_OF).replace(scope_account_manager_id=2)

    assert filters.to_params() == {
        "from": ["2020-07-01"],
        "to": ["2021-06-30"],
        "as_of": ["2021-06-30"],
    }


def test_default_range_is_the_365_days_ending_at_as_of_inclusive() -> None:
    filters = Filters.from_params({}, as_of=AS_OF)

    # 2020-07-01 .. 2021-06-30 holds no 29 February: 365 days, both ends included.
    assert filters.as_of == AS_OF
    assert filters.date_from == dt.date(2020, 7, 1)
    assert filters.date_to == AS_OF
    assert filters.range_days == 365


def test_an_as_of_parameter_moves_the_default_range_with_it() -> None:
    filters = Filters.from_params({"as_of": "2021-03-01"}, as_of=AS_OF)

    assert filters.as_of == dt.date(2021, 3, 1)
    assert filters.date_from == dt.date(2020, 3, 2)
    assert filters.date_to == dt.date(2021, 3, 1)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"colour": "red"}, "'colour'"),
        ({"from": "2021-13-01"}, "'from'"),
        ({"to": "30.06.2021"}, "'to'"),
        ({"as_of": "yesterday"}, "'as_of'"),
        ({"from": "2021-06-30", "to": "2021-06-01"}, "'from'"),
        ({"partner": "abc"}, "'partner'"),
        ({"partner": "1.5"}, "'partner'"),
        ({"partner": "-3"}, "'partner'"),
        ({"partner": "\uff11"}, "'partner'"),
        ({"partner": "9999999999"}, "'partner'"),
        ({"am": "Anna"}, "'am'"),
        ({"segment": "retail"}, "'segment'"),
        ({"region": "Europe\x00"}, "'region'"),
        ({"product": "W11P\udcff"}, "'product'"),
        ({"grain": "year"}, "'grain'"),
        ({"am": ["1", "2"]}, "'am'"),
    ],
    ids=[
        "unknown-parameter",
        "malformed-from",
        "malformed-to",
        "malformed-as-of",
        "from-after-to",
        "partner-not-a-number",
        "partner-fraction",
        "partner-negative",
        "partner-full-width-digit",
        "partner-beyond-integer-column",
        "manager-not-a-number",
        "unknown-segment",
        "nul-character",  # PostgreSQL cannot bind it: was a ValueError from the driver
        "lone-surrogate",  # undecodable command-line bytes: was a UnicodeEncodeError
        "unknown-grain",  # issue 11: was dropped silently
        "several-managers",
    ],
)
def test_bad_value_raises_filter_error_naming_the_parameter(
    params: dict[str, str], named: str
) -> None:
    with pytest.raises(FilterError) as raised:
        Filters.from_params(params, as_of=AS_OF)

    assert named in str(raised.value)


def test_a_one_day_range_is_allowed() -> None:
    filters = Filters.from_params({"from": "2021-06-30", "to": "2021-06-30"}, as_of=AS_OF)

    assert filters.range_days == 1


@pytest.mark.parametrize("value", [INJECTION, UNICODE])
def test_odd_text_values_are_accepted_as_data(value: str) -> None:
    filters = Filters.from_params(
        {"region": value, "country": value, "product": value}, as_of=AS_OF
    )

    assert filters.regions == (value,)
    assert filters.countries == (value.upper(),)
    assert filters.product_codes == (value,)


@pytest.mark.parametrize("value", [INJECTION, UNICODE])
def test_odd_text_values_match_nothing_and_change_nothing(engine: sa.Engine, value: str) -> None:
    with engine.begin() as conn:
        add_partner(conn, 1, "Alpha")
        add_product(conn, 1, "W11P")
        add_installation(conn, 1, partner=1, product=1, at="2021-06-01 09:00")
    filters = Filters.from_params(
        {"region": value, "country": value, "product": value}, as_of=AS_OF
    )

    with engine.connect() as conn:
        frame = partner_volumes(conn, filters)
        partners_left = conn.execute(sa.select(sa.func.count()).select_from(schema.partners))

        assert frame.is_empty()
        assert partners_left.scalar() == 1


def test_previous_period_has_equal_length_and_ends_the_day_before() -> None:
    filters = Filters.from_params({"from": "2021-03-01", "to": "2021-03-31"}, as_of=AS_OF)

    previous = filters.previous_period()

    # 31 days back from 1 March: 29, 30, 31 January and the 28 days of February.
    assert previous.date_from == dt.date(2021, 1, 29)
    assert previous.date_to == dt.date(2021, 2, 28)
    assert previous.range_days == filters.range_days == 31


def test_previous_period_takes_its_position_at_its_own_last_day() -> None:
    filters = Filters.from_params({"from": "2021-06-01", "to": "2021-06-30"}, as_of=AS_OF)

    assert filters.previous_period().as_of == dt.date(2021, 5, 31)


def test_previous_period_keeps_every_other_filter() -> None:
    filters = Filters.from_params(
        {"from": "2021-06-01", "partner": "4", "segment": "authority"}, as_of=AS_OF
    ).replace(scope_account_manager_id=2)

    previous = filters.previous_period()

    assert previous.partner_ids == (4,)
    assert previous.segments == ("authority",)
    assert previous.scope_account_manager_id == 2


def test_a_range_that_starts_after_the_as_of_date_is_refused() -> None:
    # Issue 11: ?from=2030-01-01&to=2030-12-31 showed seven cards of zeros.
    with pytest.raises(FilterError) as raised:
        Filters.from_params({"from": "2021-07-01", "to": "2021-12-31"}, as_of=AS_OF)

    assert str(raised.value) == (
        "The range starts (2021-07-01) after the as-of date (2021-06-30); nothing has "
        "happened then yet, so choose a start on or before it."
    )


def test_a_range_that_ends_after_the_as_of_date_ends_at_it() -> None:
    filters = Filters.from_params({"from": "2021-06-01", "to": "2030-12-31"}, as_of=AS_OF)

    assert (filters.date_from, filters.date_to) == (dt.date(2021, 6, 1), AS_OF)


def test_a_range_starting_on_the_as_of_date_is_one_day() -> None:
    filters = Filters.from_params({"from": "2021-06-30", "to": "2021-07-31"}, as_of=AS_OF)

    assert filters.range_days == 1


def test_a_grain_is_read_and_written_back() -> None:
    filters = Filters.from_params({"grain": "month"}, as_of=AS_OF)

    assert filters.grain == "month"
    assert filters.to_params()["grain"] == ["month"]


def test_without_clears_every_filter_on_that_kind_and_keeps_the_rest() -> None:
    filters = Filters.from_params(
        {"am": "7", "partner": "3", "region": "Europe", "country": "DE", "product": "W11P"},
        as_of=AS_OF,
    )

    cleared = filters.without("partner")

    assert cleared.restricts("product")
    assert not cleared.restricts("partner")
    assert (cleared.account_manager_id, cleared.partner_ids, cleared.regions) == (None, (), ())


def test_the_caption_names_every_active_filter_with_its_label() -> None:
    filters = Filters.from_params(
        {"from": "2021-06-01", "am": "7", "segment": ["education", "nonprofit"]}, as_of=AS_OF
    )

    caption = filters.caption({"am": {"7": "Anna Berg"}})

    assert caption == (
        "As of 2021-06-30 · 2021-06-01 to 2021-06-30 · Account manager: Anna Berg · "
        "Segment: education, nonprofit"
    )


def test_the_file_part_carries_the_range_and_each_filter_in_safe_characters() -> None:
    filters = Filters.from_params(
        {"from": "2021-06-01", "partner": ["3", "1"], "region": "Süd / Ost"}, as_of=AS_OF
    )

    assert filters.file_part() == "2021-06-01_2021-06-30_partner-3-1_region-Süd-Ost"


def test_every_filter_has_a_unique_parameter_field_and_command_line_flag() -> None:
    for attribute in ("param", "field", "cli_flag"):
        names = [getattr(spec, attribute) for spec in VOCABULARY]
        assert len(set(names)) == len(names), attribute
    assert all(spec.cli_help for spec in VOCABULARY)


def test_every_filter_with_options_says_how_it_refuses_a_value_or_refuses_while_parsing() -> None:
    for spec in VOCABULARY:
        if spec.options is not None and not spec.refusal:
            with pytest.raises(FilterError):
                Filters.from_params({spec.param: "no-such-value"}, as_of=AS_OF)
