"""The filter vocabulary: every filter defined once, and the `Filters` value every metric takes.

Each entry of `VOCABULARY` says everything about one filter, the way Datasette's filters keep
their SQL and their caption together: its URL name, how its values are parsed, what it
restricts (the partner, the product, the installation row, or only how a report is cut), the
column it restricts, the sidebar widget and where its options come from, its command-line
flag, its caption and the sentence that refuses a value the viewer cannot see.  Parsing, URL
encoding, scope conditions (queries/scope.py), the rollup choice (queries/facts.py), the
sidebar, the CLI flags, the options and their validation (queries/filter_options.py) and the
captions are all derived from it, so adding a filter is one entry here.

A filter value is data, never SQL: it only ever reaches the database as a bound parameter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from data.dialect import GRAINS, Grain
from data.errors import Message, UserError
from data.schema import SEGMENTS
from i18n.catalogs import N_

DEFAULT_RANGE_DAYS = 365
#: The dates a parameter may name: any real range fits, and a range, the period of equal
#: length before it and the day after its end are always valid dates (no overflow).
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2999, 12, 31)

#: What a filter narrows: the range (dates), rows of `partners`, rows of `products`, the
#: installation rows themselves, or only how a report is cut (not which rows count).
Restricts = Literal["range", "partner", "product", "installation", "report"]
#: The sidebar widget: dates are drawn together with the period presets; None = no widget.
Widget = Literal["date", "select", "multiselect"] | None
#: Where the sidebar's choices and the validation of values come from
#: (queries/filter_options.py): the viewer's partners, their managers, all products, a list.
Options = Literal["partners", "account_managers", "regions", "countries", "products", "segments"]

FilterValue = dt.date | int | str | tuple[int, ...] | tuple[str, ...] | None


class FilterError(UserError):
    """A query-string or command-line filter value that cannot be understood."""


@dataclasses.dataclass(frozen=True)
class FilterSpec:
    """One filter: everything every door needs to know about it."""

    param: str
    #: The `Filters` attribute holding the parsed value.
    field: str
    #: How the filter reads in a caption and on its widget ("Account manager").
    label: str
    restricts: Restricts
    #: (parameter name, raw values) → the field's value; raises FilterError.
    parse: Callable[[str, list[str]], FilterValue]
    #: The sidebar's "All …" placeholder names every value in the plural.
    plural: str = ""
    #: Whether it takes several values (any of them) or one.
    many: bool = False
    #: The column of `partners`, `products` or the installation row it restricts.
    column: str | None = None
    widget: Widget = None
    options: Options | None = None
    cli_flag: str = ""
    #: The `--help` text, an English template; `{choices}` names the values of `choices`.
    cli_help: str = ""
    choices: tuple[str, ...] = ()
    #: The sentence for a value that is not among the viewer's options ({value} is filled in).
    refusal: str = ""

    def help(self, gettext: Callable[[str], str]) -> str:
        """The command line's `--help` text of the filter in the language of `gettext`."""
        return gettext(self.cli_help).format(choices=", ".join(self.choices))

    def refuse(self, value: object) -> Message:
        """The sentence refusing `value`, in English until its reader's language is known."""
        return Message(self.refusal, value=_shown(str(value)))


def _one_date(name: str, values: list[str]) -> dt.date | None:
    if not values:
        return None
    if len(values) > 1:
        raise FilterError(N_("The parameter '{name}' takes one date, not several."), name=name)
    try:
        day = dt.date.fromisoformat(values[0])
    except ValueError:
        raise FilterError(
            N_(
                "The parameter '{name}' has the value '{value}', which is not a date; "
                "write it as YYYY-MM-DD."
            ),
            name=name,
            value=_shown(values[0]),
        ) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise FilterError(
            N_(
                "The parameter '{name}' has the date {day}, which is outside {first} to "
                "{last}; choose a date in that span."
            ),
            name=name,
            day=day,
            first=FIRST_DATE,
            last=LAST_DATE,
        )
    return day


def _ids(name: str, values: list[str]) -> tuple[int, ...]:
    numbers: list[int] = []
    for value in values:
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise FilterError(
                N_(
                    "The parameter '{name}' has the value '{value}', which is not an id; "
                    "use a whole number."
                ),
                name=name,
                value=_shown(value),
            )
        numbers.append(int(value))
    return tuple(dict.fromkeys(numbers))


def _one_id(name: str, values: list[str]) -> int | None:
    numbers = _ids(name, values)
    if len(numbers) > 1:
        raise FilterError(N_("The parameter '{name}' takes one id, not several."), name=name)
    return numbers[0] if numbers else None


def _texts(name: str, values: list[str]) -> tuple[str, ...]:
    for value in values:
        if not _bindable(value):
            raise FilterError(
                N_(
                    "The parameter '{name}' has a value with a NUL or an invalid character; "
                    "remove it."
                ),
                name=name,
            )
    return tuple(dict.fromkeys(values))


def _upper_texts(name: str, values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.upper() for value in _texts(name, values)))


def _choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise FilterError(
            N_("The parameter '{name}' has the value '{value}', which is not one of {choices}."),
            name=name,
            value=_shown(value),
            choices=", ".join(choices),
        )
    return value


def _segments(name: str, values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_choice(name, value, SEGMENTS) for value in values))


def _grain(name: str, values: list[str]) -> Grain | None:
    if len(values) > 1:
        raise FilterError(N_("The parameter '{name}' takes one value, not several."), name=name)
    if not values:
        return None
    return next(g for g in GRAINS if g == _choice(name, values[0], GRAINS))


AS_OF = FilterSpec(
    "as_of",
    "as_of",
    N_("As of"),
    "range",
    _one_date,
    cli_flag="--as-of",
    cli_help=N_("as-of date, YYYY-MM-DD (default: MAR_AS_OF or today)"),
)
FROM = FilterSpec(
    "from",
    "date_from",
    N_("From"),
    "range",
    _one_date,
    widget="date",
    cli_flag="--from",
    cli_help=N_("first day of the range, YYYY-MM-DD"),
)
TO = FilterSpec(
    "to",
    "date_to",
    N_("To"),
    "range",
    _one_date,
    widget="date",
    cli_flag="--to",
    cli_help=N_("last day of the range, YYYY-MM-DD (clipped at the as-of date)"),
)
ACCOUNT_MANAGER = FilterSpec(
    "am",
    "account_manager_id",
    N_("Account manager"),
    "partner",
    _one_id,
    plural="account managers",
    column="account_manager_id",
    widget="select",
    options="account_managers",
    cli_flag="--account-manager",
    cli_help=N_("account manager id"),
    refusal=N_("There is no account manager with id {value} that you can see."),
)
PARTNER = FilterSpec(
    "partner",
    "partner_ids",
    N_("Partners"),
    "partner",
    _ids,
    plural="partners",
    many=True,
    column="id",
    widget="multiselect",
    options="partners",
    cli_flag="--partner",
    cli_help=N_("partner id; repeatable"),
    refusal=N_("There is no partner with id {value} that you can see."),
)
REGION = FilterSpec(
    "region",
    "regions",
    N_("Region"),
    "partner",
    _texts,
    plural="regions",
    many=True,
    column="region",
    widget="multiselect",
    options="regions",
    cli_flag="--region",
    cli_help=N_("region; repeatable"),
    refusal=N_("None of the partners you can see is in the region '{value}'."),
)
COUNTRY = FilterSpec(
    "country",
    "countries",
    N_("Country"),
    "partner",
    _upper_texts,
    plural="countries",
    many=True,
    column="country",
    widget="multiselect",
    options="countries",
    cli_flag="--country",
    cli_help=N_("ISO country code; repeatable"),
    refusal=N_("None of the partners you can see is in the country '{value}'."),
)
PRODUCT = FilterSpec(
    "product",
    "product_codes",
    N_("Product"),
    "product",
    _texts,
    plural="products",
    many=True,
    column="code",
    widget="multiselect",
    options="products",
    cli_flag="--product",
    cli_help=N_("product code; repeatable"),
    refusal=N_("There is no product with the code '{value}'."),
)
SEGMENT = FilterSpec(
    "segment",
    "segments",
    N_("Segment"),
    "installation",
    _segments,
    plural="segments",
    many=True,
    column="segment",
    widget="multiselect",
    options="segments",
    cli_flag="--segment",
    cli_help=N_("customer segment ({choices}); repeatable"),
    choices=SEGMENTS,
)
GRAIN = FilterSpec(
    "grain",
    "grain",
    N_("Periods"),
    "report",
    _grain,
    cli_flag="--grain",
    cli_help=N_("periods of the throughput report ({choices}; default day)"),
    choices=GRAINS,
)

VOCABULARY: tuple[FilterSpec, ...] = (
    AS_OF,
    FROM,
    TO,
    ACCOUNT_MANAGER,
    PARTNER,
    REGION,
    COUNTRY,
    PRODUCT,
    SEGMENT,
    GRAIN,
)
PARAMETERS = tuple(spec.param for spec in VOCABULARY)


def restricting(kind: Restricts) -> tuple[FilterSpec, ...]:
    """The filters that narrow `kind` (e.g. every filter on the partners table)."""
    return tuple(spec for spec in VOCABULARY if spec.restricts == kind)


@dataclasses.dataclass(frozen=True)
class Filters:
    """What the viewer asks for, plus what the viewer may see (`scope_account_manager_id`).

    Several values in one field mean any of them; fields combine with AND.  The date range
    limits flow metrics only; position metrics are taken at `as_of` (DESIGN §4).  `grain`
    cuts periods of the reports that have them (None: the page's or report's default).
    """

    as_of: dt.date
    date_from: dt.date
    date_to: dt.date
    account_manager_id: int | None = None
    partner_ids: tuple[int, ...] = ()
    regions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    product_codes: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    grain: Grain | None = None
    scope_account_manager_id: int | None = None

    @classmethod
    def default(cls, as_of: dt.date) -> Filters:
        """The last 365 days up to and including `as_of`, everything else open."""
        return cls(
            as_of=as_of, date_from=as_of - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1), date_to=as_of
        )

    @property
    def range_end(self) -> dt.date:
        """The last day of the range that has happened: nothing after `as_of` counts."""
        return min(self.date_to, self.as_of)

    @property
    def range_days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def previous_period(self) -> Filters:
        """The range of equal length just before this one, with the as-of at its end."""
        length = dt.timedelta(days=self.range_days)
        end = self.date_from - dt.timedelta(days=1)
        return dataclasses.replace(
            self, as_of=min(self.as_of, end), date_from=self.date_from - length, date_to=end
        )

    def replace(self, **changes: object) -> Filters:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def values(self, spec: FilterSpec) -> tuple[object, ...]:
        """The filter's values as a tuple: empty when the filter is not set."""
        value = getattr(self, spec.field)
        if value is None:
            return ()
        return tuple(value) if isinstance(value, tuple) else (value,)

    def restricts(self, *kinds: Restricts) -> bool:
        """Whether any filter that narrows one of `kinds` is set."""
        return any(self.values(spec) for kind in kinds for spec in restricting(kind))

    def without(self, *kinds: Restricts) -> Filters:
        """The same filters with every filter that narrows one of `kinds` cleared."""
        cleared = {
            spec.field: () if spec.many else None for kind in kinds for spec in restricting(kind)
        }
        return self.replace(**cleared)

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]], *, as_of: dt.date) -> Filters:
        """Parse URL-style parameters; the default as-of applies when `as_of` is absent.

        A range that ends after the as-of date ends at it; one that starts after it is
        refused (DESIGN §4): nothing has happened there yet.
        """
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise FilterError(
                N_("The parameter '{name}' is not a known filter; use one of {choices}."),
                name=_shown(unknown[0]),
                choices=", ".join(PARAMETERS),
            )
        parsed = {
            spec.field: spec.parse(spec.param, _values(params, spec.param)) for spec in VOCABULARY
        }
        as_of = parsed.pop("as_of") or as_of  # type: ignore[assignment]
        date_from: dt.date | None = parsed.pop("date_from")  # type: ignore[assignment]
        date_to: dt.date = parsed.pop("date_to") or as_of  # type: ignore[assignment]
        if date_from is not None and date_from > as_of:
            raise FilterError(
                N_(
                    "The range starts ({start}) after the as-of date ({as_of}); nothing has "
                    "happened then yet, so choose a start on or before it."
                ),
                start=date_from,
                as_of=as_of,
            )
        date_to = min(date_to, as_of)
        date_from = date_from or date_to - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if date_from > date_to:
            raise FilterError(
                N_("The range starts ({start}) after it ends ({end}); swap 'from' and 'to'."),
                start=date_from,
                end=date_to,
            )
        return cls(as_of=as_of, date_from=date_from, date_to=date_to, **parsed)  # type: ignore[arg-type]

    def to_params(self, *, default_as_of: dt.date | None = None) -> dict[str, list[str]]:
        """The parameters that reproduce these filters; the viewer's scope is never included."""
        params: dict[str, list[str]] = {}
        for spec in VOCABULARY:
            values = self.values(spec)
            if spec is AS_OF and self.as_of == default_as_of:
                continue
            if values:
                params[spec.param] = [_written(value) for value in values]
        return params

    def caption(
        self,
        labels: Mapping[str, Mapping[str, str]] | None = None,
        gettext: Callable[[str], str] = str,
        day: Callable[[dt.date], str] | None = None,
    ) -> str:
        """The active filters as a sentence a reader understands, e.g. "As of 2026-11-25 ·
        2025-11-26 to 2026-11-25 · Segment: education"; `labels` names ids by parameter;
        `gettext` and `day` write it in the reader's language (English and ISO by default)."""
        written = day or _written
        parts = [
            gettext("As of {day}").format(day=written(self.as_of)),
            gettext("{start} to {end}").format(
                start=written(self.date_from), end=written(self.range_end)
            ),
        ]
        for spec in VOCABULARY:
            values = self.values(spec)
            if spec.restricts != "range" and values:
                names = (labels or {}).get(spec.param, {})
                shown = ", ".join(names.get(_written(v), _written(v)) for v in values)
                parts.append(f"{gettext(spec.label)}: {shown}")
        return " · ".join(parts)

    def file_part(self) -> str:
        """The filters in a file name: the range, then each other filter as `name-values`,
        each value reduced to letters, digits, `.` and `-`."""
        parts = [f"{self.date_from}_{self.range_end}"]
        for spec in VOCABULARY:
            values = self.values(spec)
            if spec.restricts != "range" and values:
                safe = (re.sub(r"[^\w.]+", "-", _written(v)).strip("-") for v in values)
                parts.append(f"{spec.param}-{'-'.join(safe)}")
        return "_".join(parts)[:150]


def _written(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _values(params: Mapping[str, str | Sequence[str]], name: str) -> list[str]:
    raw = params.get(name, ())
    items = [raw] if isinstance(raw, str) else list(raw)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _bindable(value: str) -> bool:
    """Whether both databases can take the text as a parameter: PostgreSQL refuses NUL, and
    lone surrogates (from undecodable command-line bytes) are not UTF-8."""
    return "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value)


def _shown(value: str) -> str:
    """A value as a message quotes it: on one line, control characters escaped, at most 40
    characters and an ellipsis."""
    escaped = (c if c.isprintable() else c.encode("unicode_escape").decode() for c in value[:41])
    text = "".join(escaped)
    return text if len(text) <= 40 else f"{text[:40]}…"
