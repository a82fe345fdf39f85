"""`mar-insight import DIR`: load `<table>.csv` files, all of them or nothing (DESIGN §6).

What an import does, so that operators can re-run one safely:

- Only the files present are loaded, parents before children.  Each file is named after a
  table of DESIGN §3 and its header holds exactly that table's columns, in any order.  An
  empty cell is NULL.  A UTF-8 byte order mark is accepted.
- Every row of every file is checked before anything is written: types, required values,
  allowed values, references (to rows in the files or already in the database), uniqueness
  within the file and the key-state rules.  Up to 20 problems are reported together, each
  naming file, line (the header is line 1), column and value.
- Rows are matched to the database by primary key (users: email, conversions: partner_id,
  every other table: id).  A key not yet stored is inserted; a stored row whose values all
  equal the file's is left alone (unchanged); any other stored row is overwritten with the
  file's values (updated).  Rows that are only in the database are kept: an import never
  deletes, so importing the same files twice changes nothing.  A column the file leaves out
  (only the optional ones may be) keeps its stored value, and the rules that span columns
  check the row as it will be stored.
- A product key (five groups of five letters or digits) in any cell is refused without being
  repeated: the product stores no secret key material (DESIGN §3).
- Everything, including creating the schema in an empty database, happens in one
  transaction: after any error the database is as it was before.  A database with an older
  schema is refused until `mar-insight upgrade`.

Each file is read twice, once to check it and once to write it, so that memory holds the
rows of one file at a time however large the whole import is.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import functools
import itertools
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from data.bulk import bulk_insert
from data.csv_tables import csv_file_name
from data.errors import Listing, Message, UserError
from data.rollups import event_days, refresh_after_load
from data.schema import (
    CHANNELS,
    DATA_TABLES,
    FAMILIES,
    INSTALL_STATUSES,
    KEY_STATES,
    LICENCE_TYPES,
    PARTNER_KINDS,
    ROLES,
    SEGMENTS,
    SIZE_CLASSES,
    create_schema,
    is_optional_in_import,
    require_current_schema,
)
from i18n import DEFAULT_LANGUAGE, LANGUAGES, Language, formats
from i18n.catalogs import N_, translations

#: More problems than this are rarely different ones: the import stops looking.
MAX_PROBLEMS = 20
#: Keys per `IN (...)` lookup: well under SQLite's 32,766 bound parameters.
_CHUNK = 5_000
_INT_RANGE = range(-(2**31), 2**31)  # PostgreSQL `integer`
TOO_LARGE = N_("{text} is too large for a whole-number column")

_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)
_DATE = re.compile(r"\d\d\d\d-\d\d-\d\d", re.ASCII)
_TIMESTAMP = re.compile(
    r"\d\d\d\d-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)?", re.ASCII
)
_COUNTRY = re.compile(r"[A-Z]{2}")
_ACTIVATION_CODE = re.compile(r"\d\d", re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
#: A product key: five groups of five letters or digits, anywhere in a cell (DESIGN §3: the
#: dashboard stores no secret key material, so a file holding one is refused, never echoed).
_PRODUCT_KEY = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){4}(?![A-Za-z0-9])")
#: DESIGN §1: Microsoft's answers that enable a key; any other code denies it.
ACTIVATING_CODES = ("00", "02")


@dataclass(frozen=True)
class TableCounts:
    """What the import did to one table."""

    table: str
    inserted: int
    updated: int
    unchanged: int

    def describe(self, language: Language) -> str:
        """One line for the command line, in `language`."""
        return (
            translations(language)
            .gettext("{table}: {inserted} inserted, {updated} updated, {unchanged} unchanged")
            .format(
                table=self.table,
                inserted=formats.number(self.inserted, language),
                updated=formats.number(self.updated, language),
                unchanged=formats.number(self.unchanged, language),
            )
        )

    def __str__(self) -> str:
        return self.describe(DEFAULT_LANGUAGE)


@dataclass(frozen=True)
class ImportSummary:
    """What the import did, per loaded table in load order; printed by the CLI."""

    tables: tuple[TableCounts, ...]
    schema_created: bool

    def __getitem__(self, table: str) -> TableCounts:
        for counts in self.tables:
            if counts.table == table:
                return counts
        raise KeyError(table)

    def describe(self, language: Language) -> str:
        """What the command line prints, in `language`."""
        created = translations(language).gettext("Created the database schema.")
        lines = [created] if self.schema_created else []
        return "\n".join([*lines, *(counts.describe(language) for counts in self.tables)])

    def __str__(self) -> str:
        return self.describe(DEFAULT_LANGUAGE)


def import_directory(engine: sa.Engine, directory: Path) -> ImportSummary:
    """Load every `<table>.csv` in `directory` in one transaction, or raise `UserError`."""
    sources = _find_files(directory)
    problems = _Problems()
    try:
        headers = [_read_header(table, path, problems) for table, path in sources]
        problems.raise_if_any()
        files = [source for source in headers if source is not None]  # all, after the raise
        with engine.begin() as connection:
            schema_existed = require_current_schema(connection)
            _check(connection if schema_existed else None, files, problems)
            problems.raise_if_any()
            create_schema(connection)
            touched: set[dt.date] = set()
            counts = tuple(_write(connection, source, problems, touched) for source in files)
            refresh_after_load(connection, touched)
    except _StopReading:
        raise problems.error() from None
    return ImportSummary(counts, schema_created=not schema_existed)


class _StopReading(Exception):
    """Raised when `MAX_PROBLEMS` are collected, or after a problem that ends the reading."""


class _Problems:
    """The problems found so far; their messages become one `UserError`."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def add(self, message: Message) -> None:
        self.messages.append(message)
        if len(self.messages) >= MAX_PROBLEMS:
            raise _StopReading

    def stop(self, message: Message) -> _StopReading:
        """Record a problem after which a file cannot be read on (bad bytes, broken CSV)."""
        self.messages.append(message)
        return _StopReading()

    def raise_if_any(self) -> None:
        if self.messages:
            raise self.error()

    def error(self) -> UserError:
        if len(self.messages) == 1:
            return UserError(self.messages[0])
        if len(self.messages) >= MAX_PROBLEMS:
            intro = N_(
                "The first {count} problems found (there may be more); nothing was imported:"
                "\n{listing}"
            )
        else:
            intro = N_("{count} problems found; nothing was imported:\n{listing}")
        return UserError(intro, count=len(self.messages), listing=Listing(self.messages))


def _find_files(directory: Path) -> list[tuple[sa.Table, Path]]:
    if not directory.is_dir():
        if directory.exists():
            raise UserError(
                N_("The import directory {directory} is not a directory."), directory=directory
            )
        raise UserError(N_("The import directory {directory} does not exist."), directory=directory)
    names = {path.name for path in directory.iterdir() if path.suffix.lower() == ".csv"}
    if not names:
        raise UserError(
            N_("The import directory {directory} holds no .csv files."), directory=directory
        )
    expected = {csv_file_name(table): table for table in DATA_TABLES}
    if unknown := sorted(names - expected.keys()):
        raise UserError(
            N_("{files} in {directory} is not named after a table; the files can be {names}.")
            if len(unknown) == 1
            else N_(
                "{files} in {directory} are not named after a table; the files can be {names}."
            ),
            files=", ".join(unknown),
            directory=directory,
            names=", ".join(expected),
        )
    return [(table, directory / name) for name, table in expected.items() if name in names]


class _Row(NamedTuple):
    line: int
    cells: list[str]  # as written in the file, in the file's column order
    values: tuple[Any, ...]  # converted; None where the cell is empty or wrong
    complete: bool  # every cell converted


@dataclass(frozen=True)
class _Source:
    """One CSV file whose header matches its table."""

    table: sa.Table
    path: Path
    header: tuple[str, ...]
    positions: tuple[int, ...]  # where each of the table's columns sits in the file's rows

    @property
    def width(self) -> int:
        """Cells per row; a column the file leaves out sits at `width`, an empty cell."""
        return len(self.header)

    @functools.cached_property
    def absent(self) -> frozenset[int]:
        """The table's columns (by index) that the file leaves out."""
        return frozenset(i for i, at in enumerate(self.positions) if at == self.width)

    def where(self, line: int, column: str) -> Message:
        return Message(
            N_("{file} line {line}, column {column}"), file=self.path.name, line=line, column=column
        )

    def merged(self, values: tuple[Any, ...], stored: tuple[Any, ...] | None) -> tuple[Any, ...]:
        """The row as it will be stored: a column the file leaves out keeps the stored value,
        so re-importing a file without an optional column never empties it."""
        absent = self.absent
        if stored is None or not absent:
            return values
        return tuple(stored[i] if i in absent else value for i, value in enumerate(values))

    def rows(self, problems: _Problems) -> Iterator[_Row]:
        """Yield every data row, recording in `problems` each cell that does not convert."""
        plan = [
            (spec.convert, position)
            for spec, position in zip(_COLUMNS[self.table.name], self.positions, strict=True)
        ]
        records = _records(self.path, problems)
        next(records, None)  # the header, checked by `_read_header`
        for line, cells in records:
            if len(cells) != self.width:
                problems.add(
                    Message(
                        N_("{file} line {line} has {cells} cells but the header has {width}."),
                        file=self.path.name,
                        line=line,
                        cells=len(cells),
                        width=self.width,
                    )
                )
                continue
            if _PRODUCT_KEY.search("\n".join(cells)):  # one search per row; a key has no \n
                named = zip(self.header, cells, strict=True)
                for name in [name for name, cell in named if _holds_key(cell)]:
                    problems.add(_problem(self.where(line, name), PRODUCT_KEY_REFUSED))
                continue
            cells.append("")  # what every column the file leaves out reads as
            try:  # one `try` per row, not per cell: this loop runs for every row of every file
                values, complete = tuple([convert(cells[at]) for convert, at in plan]), True
            except _Invalid:
                values, complete = self._convert_reporting(line, cells, problems), False
            yield _Row(line, cells, values, complete)

    def _convert_reporting(
        self, line: int, cells: list[str], problems: _Problems
    ) -> tuple[Any, ...]:
        """Convert a row that has a bad cell, recording each; bad cells become None."""
        values = []
        for spec, position in zip(_COLUMNS[self.table.name], self.positions, strict=True):
            try:
                values.append(spec.convert(cells[position]))
            except _Invalid as invalid:
                problems.add(_problem(self.where(line, spec.name), invalid.reason))
                values.append(None)
        return tuple(values)

    def cell(self, row: _Row, index: int) -> str:
        """The text of the table's `index`-th column in `row`, as written in the file."""
        return row.cells[self.positions[index]]


def _records(path: Path, problems: _Problems) -> Generator[tuple[int, list[str]], None, None]:
    """Yield (line where the record starts, cells) for each non-blank CSV record."""
    with path.open("rb") as handle:
        reader = csv.reader(_text_lines(handle, path.name, problems), strict=True)
        start = 1
        try:
            for cells in reader:
                if cells:
                    yield start, cells
                start = reader.line_num + 1
        except csv.Error as exc:
            raise problems.stop(
                Message(
                    N_("{file} line {line} is not valid CSV: {reason}."),
                    file=path.name,
                    line=reader.line_num,
                    reason=exc,
                )
            ) from None


def _text_lines(lines: Iterable[bytes], name: str, problems: _Problems) -> Iterator[str]:
    for number, raw in enumerate(lines, start=1):
        try:
            yield raw.removeprefix(codecs.BOM_UTF8 if number == 1 else b"").decode("utf-8")
        except UnicodeDecodeError:
            raise problems.stop(
                Message(
                    N_("{file} line {line} is not UTF-8 text; save it as UTF-8."),
                    file=name,
                    line=number,
                )
            ) from None


def _read_header(table: sa.Table, path: Path, problems: _Problems) -> _Source | None:
    records = _records(path, problems)
    header = next(records, None)
    records.close()
    if header is None:
        problems.add(
            Message(N_("{file} is empty; it needs at least the header line."), file=path.name)
        )
        return None
    found = len(problems.messages)
    for position, name in enumerate(header[1], start=1):
        if _holds_key(name):
            where = Message(
                N_("{file} line 1, header cell {position}"), file=path.name, position=position
            )
            problems.add(_problem(where, PRODUCT_KEY_REFUSED))
    names = [name for name in header[1] if not _holds_key(name)]
    columns = [column.name for column in table.columns]

    def header_cell(name: str) -> Message:
        return Message(N_("{file} line 1, column {column}"), file=path.name, column=name)

    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.add(_problem(header_cell(name), Message(N_("it appears more than once"))))
    for name in [name for name in names if name not in columns]:
        reason = Message(
            N_("{table} has no such column (its columns are {columns})"),
            table=table.name,
            columns=", ".join(columns),
        )
        problems.add(_problem(header_cell(repr(name)), reason))
    required = [column.name for column in table.columns if not is_optional_in_import(column)]
    for name in [name for name in required if name not in names]:
        problems.add(_problem(header_cell(name), Message(N_("the column is missing"))))
    if len(problems.messages) > found:
        return None
    positions = tuple(names.index(name) if name in names else len(names) for name in columns)
    return _Source(table, path, tuple(names), positions)


PRODUCT_KEY_REFUSED = Message(
    N_(
        "the cell holds a product key (five groups of five letters or digits); MAR Insight never "
        "stores product keys, so remove it from the file"
    )
)


def _problem(where: Message, reason: Message) -> Message:
    """One problem as the import lists it: where, then why."""
    return Message(N_("{where}: {reason}."), where=where, reason=reason)


def _holds_key(text: str) -> bool:
    return _PRODUCT_KEY.search(text) is not None


# --- Cells ---------------------------------------------------------------------------------


class _Invalid(Exception):
    """A cell's text is wrong; `reason` is the sentence after `<file> line L, column C: `."""

    def __init__(self, reason: Message) -> None:
        self.reason = reason
        super().__init__(str(reason))


def _invalid(template: str, text: str, **values: object) -> _Invalid:
    """A cell's text, quoted, and what is wrong with it (`template` names it `{text}`)."""
    return _Invalid(Message(template, text=repr(text), **values))


def _integer(text: str) -> int:
    if not ((text.isdigit() and text.isascii()) or _INTEGER.fullmatch(text)):  # fast path first
        raise _invalid(N_("{text} is not a whole number"), text)
    if len(text.lstrip("+-0")) > 10:  # int() refuses thousands of digits with a ValueError
        raise _invalid(TOO_LARGE, text)
    value = int(text)
    if value not in _INT_RANGE:
        raise _invalid(TOO_LARGE, text)
    return value


def _decimal(precision: int | None, scale: int | None, text: str) -> decimal.Decimal:
    if not _DECIMAL.fullmatch(text):
        raise _invalid(N_("{text} is not a number like 12.50"), text)
    value = decimal.Decimal(text)
    # The size first: rounding a number of more than 28 digits raises InvalidOperation.
    if precision is not None and abs(value) >= 10 ** (precision - (scale or 0)):
        raise _invalid(
            N_("{text} has more than {digits} digits before the point"),
            text,
            digits=precision - (scale or 0),
        )
    if scale is not None and value != round(value, scale):
        raise _invalid(N_("{text} has more than {scale} decimal places"), text, scale=scale)
    return value


def _date(text: str) -> dt.date:
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise _invalid(N_("{text} is not a date like 2021-06-30"), text)


def _timestamp(text: str) -> dt.datetime:
    """Timestamps are stored as naive UTC, so an offset is applied rather than kept."""
    try:
        if _TIMESTAMP.fullmatch(text):
            value = dt.datetime.fromisoformat(text)
            if value.tzinfo is None:
                return value
            return value.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: an offset moves it past year 1..9999
        pass
    raise _invalid(N_("{text} is not a timestamp like 2021-06-30T14:05:00"), text)


def _string(length: int | None, text: str) -> str:
    if "\x00" in text:  # PostgreSQL cannot store it; refused on SQLite too, for one behaviour
        raise _invalid(N_("{text} contains a NUL character, which a text column cannot hold"), text)
    if length is not None and len(text) > length:
        raise _invalid(N_("{text} is longer than {length} characters"), text, length=length)
    return text


def _parser(column: sa.Column[Any]) -> Callable[[str], Any]:
    kind = column.type
    if isinstance(kind, sa.Integer):
        return _integer
    if isinstance(kind, sa.Numeric):
        return partial(_decimal, kind.precision, kind.scale)
    if isinstance(kind, sa.DateTime):
        return _timestamp
    if isinstance(kind, sa.Date):
        return _date
    if isinstance(kind, sa.String):
        return partial(_string, kind.length)
    raise TypeError(f"the CSV import cannot read column {column} of type {kind}")


def _one_of(allowed: Sequence[str]) -> Callable[[Any], Message | None]:
    reason = Message(N_("is not one of {choices}"), choices=", ".join(allowed))

    def check(value: Any) -> Message | None:
        return None if value in allowed else reason

    return check


def _country(value: Any) -> Message | None:
    if _COUNTRY.fullmatch(value):
        return None
    return Message(N_("is not a country code of two capitals like DE"))


def _positive(value: Any) -> Message | None:
    return None if value > 0 else Message(N_("is not greater than 0"))


def _not_negative(value: Any) -> Message | None:
    return None if value >= 0 else Message(N_("is negative"))


def _first_of_month(value: Any) -> Message | None:
    return None if value.day == 1 else Message(N_("is not the first day of a month"))


def _activation_code(value: Any) -> Message | None:
    if _ACTIVATION_CODE.fullmatch(value):
        return None
    return Message(N_("is not a two-digit code like 00"))


def _device_hash(value: Any) -> Message | None:
    if _SHA256.fullmatch(value):
        return None
    return Message(N_("is not a SHA-256 hash: 64 characters 0-9 and a-f"))


def _accepted_return(value: Any) -> Message | None:
    """DESIGN §4b: only accepted returns are recorded, with credit (O…) or without (Q…)."""
    if value[:1] in ("O", "Q"):
        return None
    return Message(N_("is not the code of an accepted return, which starts with O or Q"))


#: Rules beyond the column type: the CHECK constraints of `data.schema`, with a readable reason.
_VALUE_RULES: dict[tuple[str, str], Callable[[Any], Message | None]] = {
    ("partners", "country"): _country,
    ("partners", "size_class"): _one_of(SIZE_CLASSES),
    ("partners", "kind"): _one_of(PARTNER_KINDS),
    ("partners", "citizenship_cap"): _not_negative,
    ("products", "family"): _one_of(FAMILIES),
    ("products", "licence_type"): _one_of(LICENCE_TYPES),
    ("products", "channel"): _one_of(CHANNELS),
    ("key_orders", "quantity"): _positive,
    ("keys", "state"): _one_of(KEY_STATES),
    ("keys", "device_hash"): _device_hash,
    ("keys", "activation_code"): _activation_code,
    ("keys", "return_code"): _accepted_return,
    ("installations", "segment"): _one_of(SEGMENTS),
    ("installations", "status"): _one_of(INSTALL_STATUSES),
    ("licence_reports", "period"): _first_of_month,
    ("licence_reports", "reported_installations"): _not_negative,
    ("users", "role"): _one_of(ROLES),
    ("users", "language"): _one_of(LANGUAGES),
}


@dataclass(frozen=True)
class _ColumnSpec:
    name: str
    required: bool
    parse: Callable[[str], Any]
    rule: Callable[[Any], Message | None] | None

    def convert(self, text: str) -> Any:
        if text == "":
            if self.required:
                raise _Invalid(Message(N_("a value is required")))
            return None
        value = self.parse(text)
        if self.rule is not None and (reason := self.rule(value)):
            raise _invalid("{text} {reason}", text, reason=reason)
        return value


_COLUMNS: dict[str, tuple[_ColumnSpec, ...]] = {
    table.name: tuple(
        _ColumnSpec(
            column.name,
            not column.nullable,
            _parser(column),
            _VALUE_RULES.get((table.name, column.name)),
        )
        for column in table.columns
    )
    for table in DATA_TABLES
}


# --- Rows ----------------------------------------------------------------------------------

#: DESIGN §3: the timestamps of a key's life in order, each with the one it needs before it
#: (bound_at may be missing: a key may be reported without it).
_KEY_TIMES = {
    "allocated_at": "fulfilled_at",
    "consumed_at": "allocated_at",
    "bound_at": "consumed_at",
    "reported_at": "consumed_at",
    "acknowledged_at": "reported_at",
}


def _set_but_empty(other: str) -> Message:
    return Message(N_("is set but {other} is empty"), other=other)


def _before(earlier: str) -> Message:
    return Message(N_("is before {earlier}"), earlier=earlier)


def _key_rule(row: dict[str, Any]) -> tuple[str, Message] | None:
    """DESIGN §3: states move forward only, the timestamps never run backwards, and `state`
    names the furthest stage reached: for an answered key, activated or denied by its code."""
    previous = "fulfilled_at"
    for stage, needed in _KEY_TIMES.items():
        if row[stage] is None:
            continue
        if row[needed] is None:
            return stage, _set_but_empty(needed)
        if row[stage] < row[previous]:
            return stage, _before(previous)
        previous = stage
    for one, other in itertools.permutations(("acknowledged_at", "activation_code")):
        if row[one] is not None and row[other] is None:
            return one, _set_but_empty(other)
    if row["return_code"] is not None and row["returned_at"] is None:
        return "return_code", _set_but_empty("returned_at")
    if row["returned_at"] is not None:
        if row["consumed_at"] is not None:
            return "returned_at", Message(N_("is set but a consumed key cannot be returned"))
        earlier = "allocated_at" if row["allocated_at"] is not None else "fulfilled_at"
        if row["returned_at"] < row[earlier]:
            return "returned_at", _before(earlier)
        expected = "returned"
    elif row["acknowledged_at"] is not None:
        expected = "activated" if row["activation_code"] in ACTIVATING_CODES else "denied"
    else:
        expected = previous.removesuffix("_at")
    if row["state"] != expected:
        return "state", Message(
            N_("does not match the timestamps, which say {expected}"), expected=repr(expected)
        )
    return None


def _user_rule(row: dict[str, Any]) -> tuple[str, Message] | None:
    if row["role"] == "account_manager" and row["account_manager_id"] is None:
        return "role", Message(N_("needs an account_manager_id"))
    return None


#: Rules that span columns: (column to blame, reason) for a row that breaks them.
_ROW_RULES: dict[str, Callable[[dict[str, Any]], tuple[str, Message] | None]] = {
    "keys": _key_rule,
    "users": _user_rule,
}


# --- Checking and writing ------------------------------------------------------------------


def _check(connection: sa.Connection | None, files: list[_Source], problems: _Problems) -> None:
    """Check everything that spans rows; `connection` is None when the database is empty."""
    file_keys: dict[str, dict[tuple[Any, ...], int]] = {}
    for source in files:
        table = source.table
        names = [column.name for column in table.columns]
        row_rule = _ROW_RULES.get(table.name)
        unique_groups = [
            [names.index(column.name) for column in constraint.columns]
            for constraint in [table.primary_key, *_unique_constraints(table)]
        ]
        first_lines: list[dict[tuple[Any, ...], int]] = [{} for _ in unique_groups]
        references = [
            (names.index(column.name), fk.column)
            for column in table.columns
            for fk in column.foreign_keys
        ]
        unresolved: list[dict[Any, int]] = [{} for _ in references]
        ruled: list[_Row] = []
        for row in source.rows(problems):
            for group, seen in zip(unique_groups, first_lines, strict=True):
                key = tuple(row.values[index] for index in group)
                if None not in key and (first := seen.setdefault(key, row.line)) != row.line:
                    columns = ", ".join(names[index] for index in group)
                    cells = ", ".join(repr(source.cell(row, index)) for index in group)
                    reason = Message(
                        N_("{cells} is already on line {first}"), cells=cells, first=first
                    )
                    problems.add(_problem(source.where(row.line, columns), reason))
            for (index, target), pending in zip(references, unresolved, strict=True):
                value = row.values[index]
                if value is not None and (value,) not in file_keys.get(target.table.name, {}):
                    pending.setdefault(value, row.line)
            if row_rule and row.complete:
                ruled.append(row)
                if len(ruled) == _CHUNK:
                    _check_rows(connection, source, ruled, row_rule, problems)
                    ruled.clear()
        if row_rule:
            _check_rows(connection, source, ruled, row_rule, problems)
        file_keys[table.name] = first_lines[0]
        for (index, target), pending in zip(references, unresolved, strict=True):
            missing = _missing(connection, target, pending)
            for value in sorted(missing, key=pending.__getitem__):
                reason = Message(
                    N_("{value} is not the {column} of a row in {table}.csv or the database"),
                    value=repr(str(value)),
                    column=target.name,
                    table=target.table.name,
                )
                problems.add(_problem(source.where(pending[value], names[index]), reason))


def _check_rows(
    connection: sa.Connection | None,
    source: _Source,
    rows: Sequence[_Row],
    rule: Callable[[dict[str, Any]], tuple[str, Message] | None],
    problems: _Problems,
) -> None:
    """Apply a rule that spans columns to rows as they will be stored (see `merged`)."""
    names = source.table.columns.keys()
    stored = {}
    if connection is not None and source.absent:
        stored = _stored(connection, source.table, [row.values for row in rows])
    (at,) = [names.index(column.name) for column in source.table.primary_key.columns]
    for row in rows:
        values = source.merged(row.values, stored.get(row.values[at]))
        if broken := rule(dict(zip(names, values, strict=True))):
            column, reason = broken
            index = names.index(column)
            if index in source.absent:
                problems.add(
                    Message(
                        N_(
                            "{file} line {line}: {column}, which the file leaves out, is {value} "
                            "in the database and {reason}."
                        ),
                        file=source.path.name,
                        line=row.line,
                        column=column,
                        value=repr(str(values[index])),
                        reason=reason,
                    )
                )
            else:
                cell = Message("{text} {reason}", text=repr(source.cell(row, index)), reason=reason)
                problems.add(_problem(source.where(row.line, column), cell))


def _stored(
    connection: sa.Connection, table: sa.Table, rows: Sequence[tuple[Any, ...]]
) -> dict[Any, tuple[Any, ...]]:
    """The stored rows, by primary key, with the keys of `rows` (at most `_CHUNK`)."""
    (key,) = table.primary_key.columns
    at = list(table.columns).index(key)
    query = sa.select(table).where(key.in_([row[at] for row in rows]))
    return {found[at]: tuple(found) for found in connection.execute(query)}


def _unique_constraints(table: sa.Table) -> list[sa.UniqueConstraint]:
    return [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]


def _missing(
    connection: sa.Connection | None, column: sa.Column[Any], values: Iterable[Any]
) -> set[Any]:
    """The values that no row of `column`'s table holds in the database."""
    wanted = set(values)
    if connection is not None:
        for chunk in _chunks(list(wanted)):
            wanted.difference_update(connection.scalars(sa.select(column).where(column.in_(chunk))))
    return wanted


def _write(
    connection: sa.Connection, source: _Source, problems: _Problems, touched: set[dt.date]
) -> TableCounts:
    """Upsert one checked file by primary key; a refusal by the database becomes a UserError.

    The days whose rollups depend on the written rows, before and after, go into `touched`.
    """
    rows = [row.values for row in source.rows(problems)]
    problems.raise_if_any()  # the file changed since it was checked
    table = source.table
    (key,) = table.primary_key.columns
    at = list(table.columns).index(key)
    inserts: list[tuple[Any, ...]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    database_errors = (sa.exc.DBAPIError, connection.dialect.loaded_dbapi.Error)
    try:
        for chunk in _chunks(rows):
            stored = _stored(connection, table, chunk)
            for values in chunk:
                before = stored.get(values[at])
                row = source.merged(values, before)
                if before is None:
                    inserts.append(row)
                elif before == row:
                    unchanged += 1
                else:
                    updates.append(
                        {"_key": row[at], **dict(zip(table.columns.keys(), row, strict=True))}
                    )
                    touched.update(event_days(table, before))
                touched.update(event_days(table, row))
        bulk_insert(connection, table, table.columns.keys(), inserts)
        if updates:
            connection.execute(table.update().where(key == sa.bindparam("_key")), updates)
    except database_errors as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise UserError(
            N_("The database refused {file}: {reason}."), file=source.path.name, reason=reason
        ) from exc
    return TableCounts(table.name, len(inserts), len(updates), unchanged)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
