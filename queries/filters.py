"""The `Filters` value every metric takes, and its one parser shared by pages, URLs and CLI.

A filter value is data, never SQL: it only ever reaches the database as a bound parameter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

from data.errors import UserError
from data.schema import SEGMENTS

DEFAULT_RANGE_DAYS = 365
#: The dates a parameter may name: any real range fits, and a range, the period of equal
#: length before it and the day after its end are always valid dates (no overflow).
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2999, 12, 31)


class FilterError(UserError):
    """A query-string or command-line filter value that cannot be understood."""


@dataclasses.dataclass(frozen=True)
class Filters:
    """What the viewer asks for, plus what the viewer may see (`scope_account_manager_id`).

    Several values in one field mean any of them; fields combine with AND.  The date range
    limits flow metrics only; position metrics are taken at `as_of` (DESIGN §4).
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

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]], *, as_of: dt.date) -> Filters:
        """Parse URL-style parameters; the default as-of applies when `as_of` is absent."""
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise FilterError(
                f"The parameter '{_shown(unknown[0])}' is not a known filter; use one of "
                f"{', '.join(PARAMETERS)}."
            )
        as_of = _one_date(params, "as_of") or as_of
        base = cls.default(as_of)
        date_to = _one_date(params, "to") or base.date_to
        default_from = date_to - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
        date_from = _one_date(params, "from") or default_from
        if date_from > date_to:
            raise FilterError(
                f"The range starts ({date_from}) after it ends ({date_to}); swap 'from' and 'to'."
            )
        segments = _texts(params, "segment")
        for segment in segments:
            if segment not in SEGMENTS:
                raise FilterError(
                    f"The parameter 'segment' has the value '{_shown(segment)}', which is not "
                    f"one of {', '.join(SEGMENTS)}."
                )
        managers = _integers(params, "am")
        if len(managers) > 1:
            raise FilterError("The parameter 'am' takes one account manager id, not several.")
        return cls(
            as_of=as_of,
            date_from=date_from,
            date_to=date_to,
            account_manager_id=managers[0] if managers else None,
            partner_ids=_integers(params, "partner"),
            regions=_texts(params, "region"),
            countries=tuple(c.upper() for c in _texts(params, "country")),
            product_codes=_texts(params, "product"),
            segments=segments,
        )

    def to_params(self, *, default_as_of: dt.date | None = None) -> dict[str, list[str]]:
        """The parameters that reproduce these filters; the viewer's scope is never included."""
        params: dict[str, list[str]] = {
            "from": [self.date_from.isoformat()],
            "to": [self.date_to.isoformat()],
        }
        if self.as_of != default_as_of:
            params["as_of"] = [self.as_of.isoformat()]
        if self.account_manager_id is not None:
            params["am"] = [str(self.account_manager_id)]
        lists = {
            "partner": [str(p) for p in self.partner_ids],
            "region": list(self.regions),
            "country": list(self.countries),
            "product": list(self.product_codes),
            "segment": list(self.segments),
        }
        params.update({name: values for name, values in lists.items() if values})
        return params


PARAMETERS = ("as_of", "from", "to", "am", "partner", "region", "country", "product", "segment")


def _values(params: Mapping[str, str | Sequence[str]], name: str) -> list[str]:
    raw = params.get(name, ())
    items = [raw] if isinstance(raw, str) else list(raw)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _texts(params: Mapping[str, str | Sequence[str]], name: str) -> tuple[str, ...]:
    values = _values(params, name)
    for value in values:
        if not _bindable(value):
            raise FilterError(
                f"The parameter '{name}' has a value with a NUL or an invalid character; remove it."
            )
    return tuple(dict.fromkeys(values))


def _bindable(value: str) -> bool:
    """Whether both databases can take the text as a parameter: PostgreSQL refuses NUL, and
    lone surrogates (from undecodable command-line bytes) are not UTF-8."""
    return "\x00" not in value and not any("\ud800" <= c <= "\udfff" for c in value)


def _integers(params: Mapping[str, str | Sequence[str]], name: str) -> tuple[int, ...]:
    numbers: list[int] = []
    for value in _values(params, name):
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise FilterError(
                f"The parameter '{name}' has the value '{_shown(value)}', which is not an id; "
                "use a whole number."
            )
        numbers.append(int(value))
    return tuple(dict.fromkeys(numbers))


def _one_date(params: Mapping[str, str | Sequence[str]], name: str) -> dt.date | None:
    values = _values(params, name)
    if not values:
        return None
    if len(values) > 1:
        raise FilterError(f"The parameter '{name}' takes one date, not several.")
    try:
        day = dt.date.fromisoformat(values[0])
    except ValueError:
        raise FilterError(
            f"The parameter '{name}' has the value '{_shown(values[0])}', which is not a date; "
            "write it as YYYY-MM-DD."
        ) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise FilterError(
            f"The parameter '{name}' has the date {day}, which is outside {FIRST_DATE} to "
            f"{LAST_DATE}; choose a date in that span."
        )
    return day


def _shown(value: str) -> str:
    """A value as a message quotes it: on one line, control characters escaped, at most 40
    characters and an ellipsis."""
    escaped = (c if c.isprintable() else c.encode("unicode_escape").decode() for c in value[:41])
    text = "".join(escaped)
    return text if len(text) <= 40 else f"{text[:40]}…"
