"""Numbers, percentages, dates and months as each language writes them (CLDR via Babel).

The expected strings are typed out by hand, with the separators named where they are not
plain ASCII: German groups with a point, French with the narrow no-break space U+202F.
"""

from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date

from i18n import Language, language_of_locale
from i18n.formats import (
    DAY,
    MONTH_DIGITS,
    DatePatterns,
    date,
    month,
    number,
    percent,
    plotly_separators,
    points,
    table_integer_format,
)

NNBSP = "\u202f"  # narrow no-break space: French thousands
NBSP = "\u00a0"  # no-break space: before the per cent sign in German and French


@pytest.mark.parametrize(
    ("language", "expected"), [("de", "1.234,5"), ("fr", f"1{NNBSP}234,5"), ("en", "1,234.5")]
)
def test_a_decimal_number_is_grouped_and_pointed_as_the_language_writes_it(
    language: str, expected: str
) -> None:
    assert number(1234.5, language, decimals=1) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "1.234.567"), ("fr", f"1{NNBSP}234{NNBSP}567"), ("en", "1,234,567")],
)
def test_a_whole_number_is_grouped_in_thousands(language: str, expected: str) -> None:
    assert number(1_234_567, language) == expected  # type: ignore[arg-type]


def test_a_missing_figure_is_an_em_dash_in_every_language() -> None:
    assert {number(None, "de"), percent(None, "fr"), date(None, "en")} == {"—"}


def test_a_signed_change_carries_its_plus_sign() -> None:
    assert number(1234, "de", signed=True) == "+1.234"
    assert number(-2.5, "fr", decimals=1, signed=True) == "-2,5"


@pytest.mark.parametrize(
    ("language", "expected"), [("de", f"12,5{NBSP}%"), ("fr", f"12,5{NBSP}%"), ("en", "12.5%")]
)
def test_a_share_is_a_percentage_in_the_language(language: str, expected: str) -> None:
    assert percent(0.125, language) == expected  # type: ignore[arg-type]


def test_a_change_of_a_share_is_in_percentage_points() -> None:
    assert points(0.025, "en") == "+2.5pp"
    assert points(-0.1, "de") == f"-10,0{NBSP}Pp."


@pytest.mark.parametrize(
    ("language", "expected"), [("de", "02.12.2026"), ("fr", "02/12/2026"), ("en", "2026-12-02")]
)
def test_a_day_is_written_as_the_language_writes_it(language: str, expected: str) -> None:
    assert date(dt.date(2026, 12, 2), language) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "März 2026"), ("fr", "mars 2026"), ("en", "March 2026")],
)
def test_a_month_is_named_in_the_language(language: str, expected: str) -> None:
    assert month(dt.date(2026, 3, 1), language) == expected  # type: ignore[arg-type]


def _moment_as_strftime(pattern: str) -> str:
    return pattern.replace("YYYY", "%Y").replace("MM", "%m").replace("DD", "%d")


@pytest.mark.parametrize("patterns", [DAY, MONTH_DIGITS], ids=["day", "month"])
def test_the_three_syntaxes_of_a_date_pattern_write_the_same_text(
    patterns: dict[Language, DatePatterns],
) -> None:
    day = dt.date(2026, 12, 2)
    for language, pattern in patterns.items():
        text = format_date(day, pattern.cldr, locale=language)
        assert day.strftime(pattern.d3) == text
        assert day.strftime(_moment_as_strftime(pattern.moment)) == text


def test_a_month_on_an_axis_is_written_in_digits() -> None:
    assert format_date(dt.date(2026, 12, 2), MONTH_DIGITS["de"].cldr, locale="de") == "12.2026"


@pytest.mark.parametrize(
    ("language", "expected"), [("de", ",."), ("fr", f",{NNBSP}"), ("en", ".,")]
)
def test_charts_get_the_decimal_sign_then_the_grouping_sign(language: str, expected: str) -> None:
    assert plotly_separators(language) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("language", "expected"), [("de", "%'.,d"), ("fr", f"%'{NNBSP},d"), ("en", "%,d")]
)
def test_table_columns_group_whole_numbers_with_the_languages_sign(
    language: str, expected: str
) -> None:
    assert table_integer_format(language) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("de-CH", "de"), ("fr_FR.UTF-8", "fr"), ("en-US", "en"), ("it-IT", None), (None, None)],
)
def test_a_browser_locale_maps_to_a_language_with_a_catalog(
    locale: str | None, expected: str | None
) -> None:
    assert language_of_locale(locale) == expected
