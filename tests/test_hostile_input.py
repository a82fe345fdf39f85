"""Hostile input, generated: URL parameters, filter text, CSV files and query strings.

Every property is deterministic (`derandomize=True`) and small enough that the whole module
runs in well under a minute.  What may go wrong is always a `UserError` with a short message;
anything else escaping is a bug.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import streamlit as st
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hs
from sqlalchemy.dialects import postgresql, sqlite
from streamlit.testing.v1 import AppTest

from data import schema
from data.csv_import import import_directory
from data.db import make_engine
from data.demo import generate_demo
from data.errors import UserError
from queries.filters import PARAMETERS, FilterError, Filters
from queries.reporting import reporting_backlog
from queries.scope import partner_in_scope, product_in_scope
from queries.volumes import partner_volumes
from tests.apptest_support import APP
from tests.builders import (
    add_account_manager,
    add_installation,
    add_key,
    add_partner,
    add_product,
    add_report,
)
from tests.test_csv_import import DATASET, row_counts, write_dataset

AS_OF = dt.date(2026, 11, 25)
#: What the dashboard shows as one sentence; longer means a value was pasted in whole.
MAX_MESSAGE_CHARS = 400

SQL_FRAGMENTS = (
    "'; DROP TABLE partners; --",
    "' OR '1'='1",
    '") OR 1=1 --',
    "1; DELETE FROM installations",
    "%",
    "_",
    "\\",
    "$1",
    ":name",
    "?",
    "/*",
    "' UNION SELECT email FROM users --",
)
#: Text as it arrives from a URL or a shell: any code point, lone surrogates and NUL included.
any_text = hs.text(alphabet=hs.characters(categories=["Cs"]) | hs.characters(), max_size=30)
hostile_text = hs.one_of(
    any_text,
    hs.sampled_from(SQL_FRAGMENTS),
    hs.dates().map(dt.date.isoformat),
    hs.integers().map(str),
    hs.builds(
        lambda unit, times: unit * times,
        hs.sampled_from(["9", "x", "é", ",", "\x00", "\n", "2026-01-01,"]),
        hs.integers(min_value=1_000, max_value=200_000),
    ),
)
hostile_values = hostile_text | hs.lists(hostile_text, max_size=3)
#: Text the parser lets through to a query: no NUL, no lone surrogate (see `Filters`).
bindable_text = hs.text(
    alphabet=hs.characters(exclude_categories=["Cs"], exclude_characters=["\x00"]), max_size=30
) | hs.sampled_from(SQL_FRAGMENTS)


def _one_line(message: str) -> bool:
    return bool(message) and "\n" not in message and len(message) <= MAX_MESSAGE_CHARS


# --- Filters.from_params -------------------------------------------------------------------


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    params=hs.dictionaries(
        hs.sampled_from(PARAMETERS) | any_text, hostile_values, max_size=len(PARAMETERS)
    )
)
@example(params={"segment": "x" * 100_000})
@example(params={"as_of": "0001-01-01"})
@example(params={"to": "9999-12-31"})
@example(params={"from": "0001-01-01", "to": "9999-12-31"})
@example(params={"region": "North\nSouth"})
@example(params={"\U000f0000" * 50: "x"})
def test_from_params_returns_filters_or_raises_a_one_line_filter_error(
    params: dict[str, Any],
) -> None:
    try:
        filters = Filters.from_params(params, as_of=AS_OF)
    except FilterError as error:
        assert _one_line(str(error)), repr(str(error)[:200])
    else:
        assert isinstance(filters, Filters)


@pytest.mark.parametrize(
    "params",
    [{"as_of": "0001-01-01"}, {"from": "1899-12-31"}, {"to": "3000-01-01"}, {"to": "9999-12-31"}],
)
def test_a_date_outside_the_supported_span_is_refused(params: dict[str, str]) -> None:
    with pytest.raises(FilterError, match="outside 1900-01-01 to 2999-12-31"):
        Filters.from_params(params, as_of=AS_OF)


# --- Metrics with arbitrary filter text ----------------------------------------------------


def _small_business(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        add_account_manager(connection, 1)
        add_partner(connection, 1, "Alpha", manager=1, region="North", country="DE")
        add_partner(connection, 2, "Beta", manager=1, region="South", country="GB")
        add_product(connection, 1, "W11P")
        add_key(connection, 1, 1, partner=1, allocated_at="2026-03-01", consumed_at="2026-03-02")
        add_installation(connection, 1, 1, 1, "2026-03-02 10:00", key=1)
        add_report(connection, 1, 1, "2026-03-01")


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """A SQLite file with the schema and two partners, shared by the examples of a property."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'mar.sqlite'}")
    schema.create_schema(engine)
    _small_business(engine)
    yield engine
    engine.dispose()


def _partners_table_is_intact(engine: sa.Engine) -> bool:
    with engine.connect() as connection:
        count = connection.scalar(sa.select(sa.func.count()).select_from(schema.partners))
    return count == 2


@settings(derandomize=True, max_examples=150, deadline=None)
@given(params=hs.fixed_dictionaries({}, optional=dict.fromkeys(PARAMETERS, hostile_values)))
@example(params={"as_of": "0001-01-01"})
@example(params={"from": "0001-01-01"})
@example(params={"to": "9999-12-31"})
@example(params={"from": "1000-01-01", "to": "9999-12-30"})
def test_every_filters_the_parser_accepts_can_run_the_metrics(
    sqlite_engine: sa.Engine, params: dict[str, Any]
) -> None:
    try:
        filters = Filters.from_params(params, as_of=AS_OF)
    except FilterError:
        return
    with sqlite_engine.connect() as connection:
        assert isinstance(partner_volumes(connection, filters), pl.DataFrame)
        assert isinstance(reporting_backlog(connection, filters), pl.DataFrame)


MARKER = "Mq7xZ"  # makes every generated value too specific to occur in SQL text by chance


def _run_and_capture(
    engine: sa.Engine, filters: Filters
) -> tuple[list[pl.DataFrame], list[str], list[Any]]:
    """Run both metrics; return their frames, the SQL texts sent and the parameters bound."""
    statements: list[str] = []
    parameters: list[Any] = []

    def capture(_conn: Any, _cursor: Any, statement: str, bound: Any, *_: Any) -> None:
        statements.append(statement)
        parameters.extend(bound if isinstance(bound, list | tuple) else bound.values())

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as connection:
            frames = [partner_volumes(connection, filters), reporting_backlog(connection, filters)]
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    return frames, statements, parameters


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    regions=hs.lists(bindable_text, min_size=1, max_size=3),
    countries=hs.lists(bindable_text, min_size=1, max_size=3),
    codes=hs.lists(bindable_text, min_size=1, max_size=3),
)
def test_filter_text_reaches_sqlite_only_as_bound_parameters(
    sqlite_engine: sa.Engine, regions: list[str], countries: list[str], codes: list[str]
) -> None:
    values = {f"{MARKER}{text}" for text in [*regions, *countries, *codes]}
    filters = Filters.default(AS_OF).replace(
        regions=tuple(f"{MARKER}{t}" for t in regions),
        countries=tuple(f"{MARKER}{t}" for t in countries),
        product_codes=tuple(f"{MARKER}{t}" for t in codes),
    )
    frames, statements, parameters = _run_and_capture(sqlite_engine, filters)
    assert all(isinstance(frame, pl.DataFrame) for frame in frames)
    assert not any(value in sql for value in values for sql in statements)
    assert values <= set(parameters)
    assert _partners_table_is_intact(sqlite_engine)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(text=bindable_text)
def test_compiled_filter_conditions_never_contain_the_filter_text(text: str) -> None:
    value = f"{MARKER}{text}"
    filters = Filters.default(AS_OF).replace(
        regions=(value,), countries=(value,), product_codes=(value,)
    )
    statement = sa.select(schema.keys.c.id).where(
        *partner_in_scope(schema.keys.c.partner_id, filters),
        *product_in_scope(schema.keys.c.product_id, filters),
    )
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        compiled = statement.compile(dialect=dialect)
        assert value not in str(compiled)
        bound = [
            v for vs in compiled.params.values() for v in (vs if isinstance(vs, list) else [vs])
        ]
        assert value in bound


def test_hostile_filter_text_reaches_postgresql_only_as_bound_parameters(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    try:
        schema.create_schema(engine)
        _small_business(engine)
        hostile = tuple(
            f"{MARKER}{text}" for text in [*SQL_FRAGMENTS, "Ünïcødé ☃ \U0001d518", "x" * 5000]
        )
        filters = Filters.default(AS_OF).replace(
            regions=hostile, countries=hostile, product_codes=hostile
        )
        frames, statements, parameters = _run_and_capture(engine, filters)
        assert all(isinstance(frame, pl.DataFrame) for frame in frames)
        assert not any(value in sql for value in hostile for sql in statements)
        assert set(hostile) <= set(parameters)
        assert _partners_table_is_intact(engine)
    finally:
        engine.dispose()


# --- CSV import ----------------------------------------------------------------------------

#: DATASET plus one account manager the database does not have, so a partial import shows.
NEW_MANAGER = '99,New Manager,new@example.org,"=HYPERLINK(""x"")"\n'
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252")
hostile_cells = hs.one_of(
    any_text,
    hs.sampled_from(
        [
            "=1+1",
            "+1",
            "-1",
            "@SUM(A1)",
            "-5",
            str(2**63),
            str(-(2**63) - 1),
            str(2**31),
            "9999-12-31T24:00:00",
            "0000-01-01",
            "0000-01-01T00:00:00",
            "9999-12-31",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "1e309",
            "NaN",
            "Infinity",
            "١٢",
            " 1",
            "\x00",
            "a\x00b",
            *SQL_FRAGMENTS,
        ]
    ),
    hs.integers(min_value=-(2**70), max_value=2**70).map(str),
    hs.datetimes(timezones=hs.timezones() | hs.none()).map(dt.datetime.isoformat),
    hs.builds(
        lambda unit, times: unit * times,
        hs.sampled_from(["9", "x", "€"]),
        hs.sampled_from([300, 5_000, 100_000, 1_000_000]),
    ),
)


@pytest.fixture(scope="module")
def imported_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding DATASET, copied afresh for every example."""
    path = tmp_path_factory.mktemp("imported") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        import_directory(engine, write_dataset(path.parent / "csv"))
    finally:
        engine.dispose()
    return path


def _import_fails_cleanly_or_succeeds(template: Path, files: dict[str, bytes]) -> None:
    """Import `files` into a copy of `template`: it succeeds, or raises UserError and leaves
    every table as it was."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        database = directory / "mar.sqlite"
        shutil.copyfile(template, database)
        for name, content in files.items():
            (directory / f"{name}.csv").write_bytes(content)
        engine = make_engine(f"sqlite:///{database}")
        try:
            before = row_counts(engine)
            try:
                import_directory(engine, directory)
            except UserError as error:
                assert str(error)
                assert row_counts(engine) == before
        finally:
            engine.dispose()


def _dataset_files() -> dict[str, bytes]:
    files = {table: text.encode() for table, text in DATASET.items()}
    files["account_managers"] += NEW_MANAGER.encode()
    return files


def _records(table: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(DATASET[table], newline="")))


def _csv_text(records: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(records)
    return out.getvalue()


@settings(derandomize=True, max_examples=80, deadline=None)
@given(
    table=hs.sampled_from(list(DATASET)),
    line=hs.integers(min_value=2, max_value=6),
    column=hs.integers(min_value=0, max_value=10),
    cell=hostile_cells,
    encoding=hs.sampled_from(ENCODINGS),
    cells_added=hs.sampled_from([0, 0, 0, 1, -1]),
)
@example(table="key_orders", line=2, column=4, cell="9" * 5_000, encoding="utf-8", cells_added=0)
@example(
    table="partners",
    line=2,
    column=6,
    cell="9999-12-31T23:59:59-01:00",
    encoding="utf-8",
    cells_added=0,
)
@example(table="partners", line=2, column=1, cell="x" * 1_000_000, encoding="utf-8", cells_added=0)
@example(table="users", line=2, column=0, cell="a\x00b", encoding="utf-8", cells_added=0)
def test_a_hostile_cell_imports_or_raises_a_user_error_without_partial_writes(
    imported_database: Path,
    table: str,
    line: int,
    column: int,
    cell: str,
    encoding: str,
    cells_added: int,
) -> None:
    records = _records(table)
    row = records[min(line, len(records)) - 1]
    row[column % len(row)] = cell
    if cells_added > 0:
        row.append(cell)
    elif cells_added < 0:
        row.pop()
    files = _dataset_files()
    files[table] = _csv_text(records).encode(encoding, errors="replace")
    _import_fails_cleanly_or_succeeds(imported_database, files)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(table=hs.sampled_from(list(DATASET)), content=hs.binary(max_size=2_000))
@example(table="partners", content=b"\xef\xbb\xbf")
@example(table="partners", content=DATASET["partners"].encode("utf-16"))
@example(table="users", content=b"email,role,account_manager_id\r\n\x00,admin,\r\n")
def test_a_file_of_random_bytes_imports_or_raises_a_user_error_without_partial_writes(
    imported_database: Path, table: str, content: bytes
) -> None:
    files = _dataset_files()
    files[table] = content
    _import_fails_cleanly_or_succeeds(imported_database, files)


@pytest.mark.parametrize(
    ("table", "column", "cell", "reason"),
    [
        ("key_orders", "quantity", "9" * 5_000, "too large"),
        ("key_orders", "unit_price", "9" * 27, "digits before the point"),
        ("partners", "joined_at", "9999-12-31T23:59:59-01:00", "not a timestamp"),
        ("partners", "joined_at", "0001-01-01T00:00:00+01:00", "not a timestamp"),
    ],
)
def test_a_number_or_timestamp_out_of_range_is_refused_by_name(
    imported_database: Path, tmp_path: Path, table: str, column: str, cell: str, reason: str
) -> None:
    directory = write_dataset(tmp_path / "csv", (table,))
    records = _records(table)
    records[1][records[0].index(column)] = cell
    (directory / f"{table}.csv").write_text(_csv_text(records), encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'copy.sqlite'}")
    shutil.copyfile(imported_database, tmp_path / "copy.sqlite")
    try:
        with pytest.raises(UserError, match=rf"{table}\.csv line 2, column {column}: .*{reason}"):
            import_directory(engine, directory)
    finally:
        engine.dispose()


def test_a_nul_character_in_a_text_cell_is_refused_without_writing(
    engine: sa.Engine, tmp_path: Path
) -> None:
    directory = write_dataset(tmp_path / "csv")
    before = row_counts(engine)
    records = _records("partners")
    records[1][records[0].index("name")] = "Refurb\x00Nord"
    (directory / "partners.csv").write_text(_csv_text(records), encoding="utf-8")
    with pytest.raises(UserError, match=r"partners\.csv line 2, column name: .*NUL"):
        import_directory(engine, directory)
    assert row_counts(engine) == before


@pytest.mark.parametrize("name", ["=1+1", "+CMD|' /C calc'!A0", "@SUM(A1)", "-2+3", "\t=1"])
def test_formula_text_in_a_name_column_imports_as_plain_text(
    engine: sa.Engine, tmp_path: Path, name: str
) -> None:
    directory = write_dataset(tmp_path / "csv")
    records = _records("partners")
    records[1][records[0].index("name")] = name
    (directory / "partners.csv").write_text(_csv_text(records), encoding="utf-8")
    import_directory(engine, directory)
    with engine.connect() as connection:
        stored = connection.scalar(
            sa.select(schema.partners.c.name).where(schema.partners.c.id == 1)
        )
    assert stored == name


# --- The app with hostile query strings ----------------------------------------------------


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile-demo') / 'demo.sqlite'}"
    engine = make_engine(url)
    try:
        generate_demo(engine, installations=1_000, seed=3, as_of=AS_OF, progress=lambda *_: None)
    finally:
        engine.dispose()
    return url


@settings(
    derandomize=True,
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=hs.fixed_dictionaries(
        {}, optional={name: hostile_text.map(lambda t: t[:2_000]) for name in PARAMETERS}
    )
)
@example(query={"as_of": "0001-01-01", "to": "9999-12-31", "region": "'; DROP TABLE partners"})
def test_hostile_query_strings_show_at_most_one_error_and_no_exception(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, query: dict[str, str]
) -> None:
    monkeypatch.setenv("MAR_DATABASE_URL", demo_url)
    monkeypatch.setenv("MAR_AS_OF", AS_OF.isoformat())
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(APP, default_timeout=60)
    for name, value in query.items():
        app.query_params[name] = value
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert len(app.error) <= 1
