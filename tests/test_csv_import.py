"""`mar-insight import DIR`: checked, all-or-nothing, repeatable loads of `<table>.csv` files."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli.main import main
from data import schema
from data.csv_import import MAX_PROBLEMS, import_directory
from data.csv_tables import export_tables
from data.db import make_engine
from data.errors import UserError
from data.schema import DATA_TABLES, has_schema

#: A small valid dataset touching every table, column type, key state and CSV quoting rule.
DATASET = {
    "account_managers": """\
id,name,email,region
1,Anna Berg,anna@example.org,North
2,"Jörg Müller, Jr.",joerg@example.org,
""",
    "partners": """\
id,name,country,region,size_class,account_manager_id,joined_at
1,Refurb Nord GmbH,DE,North,L,1,2021-01-15T09:00:00
2,"PC ""Second Life"" Ltd",GB,West,M,2,2021-03-01T10:30:00
3,MAR factory,DE,North,S,,
""",
    "conversions": """\
partner_id,rrp_registered_at,contacted_at,applied_at,contract_signed_at,first_order_at,lost_at,lost_reason
2,2020-11-02T08:00:00,2020-12-01T08:00:00,2021-01-10T12:00:00,2021-02-20T15:45:30,2021-03-05T09:00:00,,
""",
    "products": """\
id,code,name,family,licence_type
1,W11P,Windows 11 Pro for Refurbished PCs,windows,dpk
2,O21,"Office 2021 Home & Business
(two-line name)",office,coa
""",
    "key_orders": """\
id,product_id,ordered_at,fulfilled_at,quantity,unit_price
1,1,2021-01-04T10:00:00,2021-01-06T08:30:00,100,12.50
""",
    "keys": """\
id,product_id,order_id,partner_id,state,fulfilled_at,allocated_at,consumed_at,reported_at,returned_at
1,1,1,,fulfilled,2021-01-06T08:30:00,,,,
2,1,1,1,allocated,2021-01-06T08:30:00,2021-02-01T09:00:00,,,
3,1,1,1,consumed,2021-01-06T08:30:00,2021-02-01T09:00:00,2021-02-10T11:00:00,,
4,1,1,2,reported,2021-01-06T08:30:00,2021-02-01T09:00:00,2021-02-11T11:00:00,2021-03-01T12:00:00,
5,1,1,2,returned,2021-01-06T08:30:00,2021-02-01T09:00:00,,,2021-04-01T08:00:00
""",
    "installations": """\
id,key_id,partner_id,product_id,segment,site,installed_at,status
1,3,1,1,education,Hamburg,2021-02-10T11:00:00,success
2,4,2,1,nonprofit,,2021-02-11T11:00:00.250000,success
3,,2,2,authority,Leeds,2021-02-12T13:15:00,failed
""",
    "licence_reports": """\
id,partner_id,period,due_at,submitted_at,reported_installations
1,1,2021-02-01,2021-03-10T00:00:00,2021-03-08T16:00:00,1
2,2,2021-02-01,2021-03-10T00:00:00,,
""",
    "users": """\
email,role,account_manager_id
boss@example.org,management,
anna@example.org,account_manager,1
""",
}


def write_dataset(directory: Path, tables: tuple[str, ...] = tuple(DATASET)) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for table in tables:
        (directory / f"{table}.csv").write_text(DATASET[table], encoding="utf-8")
    return directory


def edit_csv(directory: Path, table: str, edit: Callable[[list[list[str]]], None]) -> None:
    """Rewrite `<table>.csv` after `edit` changed its records (record 0 is the header)."""
    path = directory / f"{table}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        records = list(csv.reader(handle))
    edit(records)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(records)


def set_cell(table: str, line: int, column: str, value: str) -> Callable[[Path], None]:
    """An edit of one cell; `line` counts like the error messages (the header is line 1)."""

    def edit(records: list[list[str]]) -> None:
        records[line - 1][records[0].index(column)] = value

    return lambda directory: edit_csv(directory, table, edit)


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for table in DATA_TABLES
        }


def table_rows(engine: sa.Engine, table: sa.Table) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        query = sa.select(table).order_by(*table.primary_key.columns)
        return [tuple(row) for row in connection.execute(query)]


def test_valid_directory_is_imported(engine: sa.Engine, tmp_path: Path) -> None:
    summary = import_directory(engine, write_dataset(tmp_path / "in"))

    assert row_counts(engine) == {
        "account_managers": 2,
        "partners": 3,
        "conversions": 1,
        "products": 2,
        "key_orders": 1,
        "keys": 5,
        "installations": 3,
        "licence_reports": 2,
        "users": 2,
    }
    assert summary["keys"].inserted == 5
    assert not summary.schema_created
    assert table_rows(engine, schema.account_managers)[1] == (
        2,
        "Jörg Müller, Jr.",
        "joerg@example.org",
        None,
    )
    assert "keys: 5 inserted, 0 updated, 0 unchanged" in str(summary).splitlines()


def test_schema_is_created_in_an_empty_database(empty_engine: sa.Engine, tmp_path: Path) -> None:
    summary = import_directory(empty_engine, write_dataset(tmp_path / "in"))

    with empty_engine.connect() as connection:
        assert has_schema(connection)
    assert summary.schema_created
    assert str(summary).startswith("Created the database schema.\n")
    assert row_counts(empty_engine)["installations"] == 3


def test_only_the_files_present_are_loaded(engine: sa.Engine, tmp_path: Path) -> None:
    summary = import_directory(engine, write_dataset(tmp_path, ("account_managers", "partners")))

    assert [counts.table for counts in summary.tables] == ["account_managers", "partners"]
    assert row_counts(engine)["partners"] == 3
    assert row_counts(engine)["keys"] == 0


def test_references_may_point_to_rows_already_in_the_database(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, write_dataset(tmp_path / "all"))
    more = tmp_path / "more"
    more.mkdir()
    (more / "installations.csv").write_text(
        "id,key_id,partner_id,product_id,segment,site,installed_at,status\n"
        "4,2,1,1,education,,2021-02-13T10:00:00,success\n",
        encoding="utf-8",
    )

    summary = import_directory(engine, more)

    assert (summary["installations"].inserted, summary["installations"].unchanged) == (1, 0)
    assert row_counts(engine)["installations"] == 4


def test_timestamps_with_offsets_are_stored_as_utc(engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path)
    formats = ["2021-02-10 11:00:00", "2021-02-10T11:00:00Z", "2021-02-10T13:00:00+02:00"]
    for line, text in enumerate(formats, start=2):
        set_cell("installations", line, "installed_at", text)(directory)

    import_directory(engine, directory)

    stored = [row[6] for row in table_rows(engine, schema.installations)]
    assert stored == [dt.datetime(2021, 2, 10, 11, 0)] * 3


def test_a_byte_order_mark_is_accepted(engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path, ("account_managers",))
    path = directory / "account_managers.csv"
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())

    import_directory(engine, directory)

    assert row_counts(engine)["account_managers"] == 2


def test_importing_the_same_files_again_changes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path)
    import_directory(engine, directory)
    before = {table.name: table_rows(engine, table) for table in DATA_TABLES}

    summary = import_directory(engine, directory)

    assert {table.name: table_rows(engine, table) for table in DATA_TABLES} == before
    assert all(c.inserted == 0 and c.updated == 0 for c in summary.tables)
    assert summary["keys"].unchanged == 5


def test_a_changed_row_is_updated(engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path)
    import_directory(engine, directory)
    set_cell("partners", 3, "name", "Second Life plc")(directory)
    set_cell("key_orders", 2, "unit_price", "11.99")(directory)

    summary = import_directory(engine, directory)

    assert (summary["partners"].updated, summary["partners"].unchanged) == (1, 2)
    assert summary["key_orders"].updated == 1
    assert table_rows(engine, schema.partners)[1][1] == "Second Life plc"
    assert row_counts(engine)["partners"] == 3


def test_export_then_import_into_a_fresh_sqlite_database_gives_identical_rows(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, write_dataset(tmp_path / "in"))
    export_tables(engine, tmp_path / "a")
    copy = make_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    try:
        import_directory(copy, tmp_path / "a")
        for table in DATA_TABLES:
            assert table_rows(copy, table) == table_rows(engine, table)
        export_tables(copy, tmp_path / "b")
    finally:
        copy.dispose()
    for table in DATA_TABLES:
        name = f"{table.name}.csv"
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()


def test_export_wipe_and_import_gives_identical_rows(engine: sa.Engine, tmp_path: Path) -> None:
    import_directory(engine, write_dataset(tmp_path / "in"))
    before = {table.name: table_rows(engine, table) for table in DATA_TABLES}
    export_tables(engine, tmp_path / "out")
    with engine.begin() as connection:
        for table in reversed(DATA_TABLES):
            connection.execute(table.delete())

    import_directory(engine, tmp_path / "out")

    assert {table.name: table_rows(engine, table) for table in DATA_TABLES} == before


def test_export_writes_iso_dates_and_empty_cells_for_null(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, write_dataset(tmp_path / "in"))
    export_tables(engine, tmp_path / "out")

    reports = (tmp_path / "out" / "licence_reports.csv").read_text(encoding="utf-8").splitlines()
    assert reports[2] == "2,2,2021-02-01,2021-03-10T00:00:00,,"
    orders = (tmp_path / "out" / "key_orders.csv").read_text(encoding="utf-8").splitlines()
    assert orders[1] == "1,1,2021-01-04T10:00:00,2021-01-06T08:30:00,100,12.50"


def _remove_column(table: str, column: str) -> Callable[[Path], None]:
    def edit(records: list[list[str]]) -> None:
        index = records[0].index(column)
        for record in records:
            del record[index]

    return lambda directory: edit_csv(directory, table, edit)


def _add_column(table: str, column: str) -> Callable[[Path], None]:
    def edit(records: list[list[str]]) -> None:
        for record in records:
            record.append(column if record is records[0] else "x")

    return lambda directory: edit_csv(directory, table, edit)


def _append_line(table: str, line: str) -> Callable[[Path], None]:
    def append(directory: Path) -> None:
        with (directory / f"{table}.csv").open("a", encoding="utf-8") as handle:
            handle.write(line)

    return append


def _write_bytes(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda directory: (directory / name).write_bytes(content)


def _latin1(table: str) -> Callable[[Path], None]:
    return _write_bytes(f"{table}.csv", DATASET[table].encode("latin-1"))


def _remove_csv_files(directory: Path) -> None:
    for path in directory.glob("*.csv"):
        path.unlink()


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        pytest.param(
            set_cell("key_orders", 2, "quantity", "ten"),
            ["key_orders.csv line 2, column quantity: 'ten' is not a whole number."],
            id="bad-integer",
        ),
        pytest.param(
            set_cell("installations", 3, "installed_at", "11.02.2021 10:00"),
            ["installations.csv line 3, column installed_at: '11.02.2021 10:00' is not a"],
            id="bad-timestamp",
        ),
        pytest.param(
            set_cell("installations", 4, "status", "maybe"),
            ["installations.csv line 4, column status: 'maybe' is not one of success, failed."],
            id="unknown-enumeration",
        ),
        pytest.param(
            set_cell("partners", 2, "name", ""),
            ["partners.csv line 2, column name: a value is required."],
            id="missing-required-value",
        ),
        pytest.param(
            set_cell("partners", 3, "country", "gb"),
            ["partners.csv line 3, column country: 'gb' is not a country code"],
            id="lowercase-country",
        ),
        pytest.param(
            set_cell("installations", 2, "key_id", "99"),
            ["installations.csv line 2, column key_id: '99' is not the id of a row in keys.csv"],
            id="unknown-foreign-key",
        ),
        pytest.param(
            set_cell("keys", 3, "id", "1"),
            ["keys.csv line 3, column id: '1' is already on line 2."],
            id="duplicate-id",
        ),
        pytest.param(
            set_cell("keys", 3, "state", "consumed"),
            ["keys.csv line 3, column state: 'consumed' does not match the timestamps"],
            id="key-state-inconsistent",
        ),
        pytest.param(
            set_cell("keys", 4, "consumed_at", "2021-01-31T23:59:59"),
            ["keys.csv line 4, column consumed_at: '2021-01-31T23:59:59' is before allocated_at."],
            id="key-timestamps-backwards",
        ),
        pytest.param(
            set_cell("licence_reports", 3, "period", "2021-02-15"),
            ["licence_reports.csv line 3, column period: '2021-02-15' is not the first day"],
            id="period-not-first-of-month",
        ),
        pytest.param(
            _remove_column("partners", "region"),
            ["partners.csv line 1, column region: the column is missing."],
            id="missing-column",
        ),
        pytest.param(
            _add_column("products", "colour"),
            ["products.csv line 1, column 'colour': products has no such column"],
            id="unknown-column",
        ),
        pytest.param(
            _append_line("installations", "4,1,1\n"),
            ["installations.csv line 5 has 3 cells but the header has 8."],
            id="wrong-cell-count",
        ),
        pytest.param(
            _append_line("installations", '4,,1,1,education,"Leeds,2021-02-13T10:00:00,success\n'),
            ["installations.csv line 5 is not valid CSV: "],
            id="unclosed-quote",
        ),
        pytest.param(
            _latin1("account_managers"),
            ["account_managers.csv line 3 is not UTF-8 text"],
            id="not-utf-8",
        ),
        pytest.param(
            _write_bytes("users.csv", b""),
            ["users.csv is empty"],
            id="empty-file",
        ),
        pytest.param(
            _write_bytes("customers.csv", b"id\n1\n"),
            ["customers.csv in ", "is not named after a table"],
            id="unknown-file-name",
        ),
        pytest.param(_remove_csv_files, ["holds no .csv files"], id="no-csv-files"),
        pytest.param(shutil.rmtree, ["does not exist"], id="missing-directory"),
    ],
)
def test_bad_input_is_rejected_and_nothing_is_written(
    engine: sa.Engine,
    tmp_path: Path,
    spoil: Callable[[Path], None],
    expected: list[str],
) -> None:
    directory = write_dataset(tmp_path / "in")
    spoil(directory)
    before = row_counts(engine)

    with pytest.raises(UserError) as error:
        import_directory(engine, directory)

    for fragment in expected:
        assert fragment in str(error.value)
    assert row_counts(engine) == before


def test_a_rejected_import_creates_no_schema(empty_engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path)
    set_cell("users", 2, "role", "root")(directory)

    with pytest.raises(UserError):
        import_directory(empty_engine, directory)

    with empty_engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []


def test_every_problem_is_listed_up_to_a_limit(engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path)
    set_cell("partners", 2, "size_class", "XL")(directory)
    set_cell("users", 2, "role", "root")(directory)

    with pytest.raises(UserError) as error:
        import_directory(engine, directory)

    message = str(error.value)
    assert message.startswith("2 problems found; nothing was imported:")
    assert "partners.csv line 2, column size_class: 'XL'" in message
    assert "users.csv line 2, column role: 'root'" in message


def test_listing_stops_at_the_limit(engine: sa.Engine, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path, ("products",))
    lines = "".join(f"{n},C{n},Name,linux,dpk\n" for n in range(10, 10 + 2 * MAX_PROBLEMS))
    _append_line("products", lines)(directory)

    with pytest.raises(UserError) as error:
        import_directory(engine, directory)

    assert str(error.value).startswith(f"The first {MAX_PROBLEMS} problems found")
    assert str(error.value).count("\n  - ") == MAX_PROBLEMS


def test_a_database_refusal_rolls_back_earlier_tables(engine: sa.Engine, tmp_path: Path) -> None:
    import_directory(engine, write_dataset(tmp_path / "all"))
    before = row_counts(engine)
    directory = write_dataset(tmp_path / "more", ("account_managers",))
    _append_line("account_managers", "3,Carl,carl@example.org,South\n")(directory)
    taken_code = "id,code,name,family,licence_type\n3,W11P,Windows again,windows,dpk\n"
    _write_bytes("products.csv", taken_code.encode())(directory)

    with pytest.raises(UserError, match=r"^The database refused products\.csv: .*\.$"):
        import_directory(engine, directory)

    assert row_counts(engine) == before


def test_cli_prints_the_summary(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["import", "--url", database_url, str(write_dataset(tmp_path))])

    assert code == 0
    assert "installations: 3 inserted, 0 updated, 0 unchanged" in capsys.readouterr().out


def test_cli_reports_a_bad_file_in_one_line(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_dataset(tmp_path)
    set_cell("installations", 4, "status", "maybe")(directory)

    code = main(["import", "--url", database_url, str(directory)])

    assert code == 2
    assert capsys.readouterr().err == (
        "mar-insight: installations.csv line 4, column status: 'maybe' is not one of"
        " success, failed.\n"
    )
