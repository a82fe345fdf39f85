"""Numbers, percentages, dates and months as each language writes them, by CLDR via Babel.

The one place that knows `1.234,5` (de), `1 234,5` (fr, with the narrow no-break space CLDR
prescribes) and `1,234.5` (en): KPI cards, captions, table column formats and chart axes and
hover labels all take their patterns from here, so a figure reads the same everywhere.
English dates stay ISO (`2026-12-02`): the product's English readers are across Europe, where
the US `12/2/26` misleads.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, get_decimal_symbol, get_group_symbol

from i18n import Language

#: Shown for a figure that does not exist (no rate, no date yet).
MISSING = "—"


@dataclasses.dataclass(frozen=True)
class DatePatterns:
    """One day or month pattern, written in the three syntaxes the product's tools read."""

    cldr: str  # Babel, for text
    moment: str  # Streamlit's table date columns
    d3: str  # Plotly axes and hover labels


#: Days as each language writes them in tables and text.
DAY: dict[Language, DatePatterns] = {
    "en": DatePatterns("yyyy-MM-dd", "YYYY-MM-DD", "%Y-%m-%d"),
    "de": DatePatterns("dd.MM.yyyy", "DD.MM.YYYY", "%d.%m.%Y"),
    "fr": DatePatterns("dd/MM/yyyy", "DD/MM/YYYY", "%d/%m/%Y"),
}
#: Months on chart axes and in table cells, as digits: the chart and table widgets know only
#: English month names, and a German axis reading "Dec" would be half translated.
MONTH_DIGITS: dict[Language, DatePatterns] = {
    "en": DatePatterns("yyyy-MM", "YYYY-MM", "%Y-%m"),
    "de": DatePatterns("MM.yyyy", "MM.YYYY", "%m.%Y"),
    "fr": DatePatterns("MM/yyyy", "MM/YYYY", "%m/%Y"),
}


def number(
    value: float | None, language: Language, *, decimals: int = 0, signed: bool = False
) -> str:
    """A figure with the language's grouping and decimal sign, or an em dash for none."""
    if value is None:
        return MISSING
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    if signed:
        pattern = f"+{pattern};-{pattern}"
    return format_decimal(value, format=pattern, locale=language)


def percent(
    value: float | None, language: Language, *, decimals: int = 1, signed: bool = False
) -> str:
    """A share (0.125) as the language writes a percentage: `12.5%`, `12,5 %`, `12,5 %`."""
    if value is None:
        return MISSING
    pattern = copy.copy(Locale.parse(language).percent_formats[None])
    pattern.frac_prec = (decimals, decimals)
    text = pattern.apply(value, Locale.parse(language))
    return f"+{text}" if signed and value > 0 else text


def points(value: float | None, language: Language, *, decimals: int = 1) -> str:
    """A change between two shares in percentage points, signed: `+2.5pp`, `+2,5 Pp.`."""
    if value is None:
        return MISSING
    unit = {"en": "pp", "de": "\u00a0Pp.", "fr": "\u00a0pts"}[language]
    return number(value * 100, language, decimals=decimals, signed=True) + unit


def date(value: dt.date | None, language: Language) -> str:
    """A day: `2026-12-02`, `02.12.2026`, `02/12/2026`."""
    if value is None:
        return MISSING
    return format_date(value, DAY[language].cldr, locale=language)


def month(value: dt.date, language: Language) -> str:
    """A month with its name, for text: `December 2026`, `Dezember 2026`, `décembre 2026`."""
    return format_date(value, "LLLL y", locale=language)


def decimal_sign(language: Language) -> str:
    return get_decimal_symbol(language)


def group_sign(language: Language) -> str:
    return get_group_symbol(language)


def plotly_separators(language: Language) -> str:
    """Plotly's `separators` layout value: the decimal sign, then the grouping sign."""
    return decimal_sign(language) + group_sign(language)


def table_integer_format(language: Language) -> str:
    """A whole-number format for Streamlit's table columns, grouped as the language groups.

    Streamlit's printf formats take the grouping character from a `'c` padding flag; its
    `localized` format would follow the browser instead of the language the viewer chose.
    """
    group = group_sign(language)
    return "%,d" if group == "," else f"%'{group},d"
