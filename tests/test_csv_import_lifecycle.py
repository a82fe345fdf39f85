"""The import of DESIGN §3's key lifecycle: its order, its states, its optional columns, and
no product key ever (the dashboard stores no secret key material)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli.main import main
from data import schema
from data.csv_import import import_directory
from data.errors import UserError
from tests.test_csv_import import DATASET, row_counts, set_cell, write_dataset

HASH_A = "a" * 64
HASH_B = "0123456789abcdef" * 4
PRODUCT_KEY = "VK7JG-NPHTM-C97JM-9MPGT-3V66T"

#: Keys in every stage of DESIGN §3, the partners and products with their new columns.
LIFECYCLE = {
    **DATASET,
    "partners": """\
id,name,country,region,size_class,account_manager_id,joined_at,kind,citizenship_cap
1,Refurb Nord GmbH,DE,North,L,1,2021-01-15T09:00:00,tpr,300
2,"PC ""Second Life"" Ltd",GB,West,M,2,2021-03-01T10:30:00,,
3,MAR factory,DE,North,S,,,own_site,
""",
    "products": """\
id,code,name,family,licence_type,channel
1,W11P,Windows 11 Pro for Refurbished PCs,windows,dpk,citizenship
2,O21,Office 2021 Home & Business,office,coa,
""",
    "keys": f"""\
id,product_id,order_id,partner_id,state,fulfilled_at,allocated_at,consumed_at,reported_at,\
returned_at,product_key_id,bound_at,device_hash,acknowledged_at,activation_code,return_code
1,1,1,,fulfilled,2021-01-06T08:30:00,,,,,3300000000001,,,,,
2,1,1,1,bound,2021-01-06T08:30:00,2021-02-01T09:00:00,2021-02-10T11:00:00,,,,\
2021-02-10T11:05:00,{HASH_A},,,
3,1,1,1,reported,2021-01-06T08:30:00,2021-02-01T09:00:00,2021-02-10T11:00:00,\
2021-02-12T08:00:00,,,,,,,
4,1,1,2,activated,2021-01-06T08:30:00,2021-02-01T09:00:00,2021-02-11T11:00:00,\
2021-03-01T12:00:00,,,2021-02-11T11:10:00,{HASH_B},2021-03-02T06:00:00,00,
5,1,1,2,activated,2021-01-06T08:30:00,2021-02-01T09:00:00,2021-02-11T11:00:00,\
2021-03-01T12:00:00,,,,,2021-03-02T06:00:00,02,
6,1,1,2,denied,2021-01-06T08:30:00,2021-02-01T09:00:00,2021-02-11T11:00:00,\
2021-03-01T12:00:00,,,,{HASH_B},2021-03-02T06:00:00,05,
7,1,1,2,returned,2021-01-06T08:30:00,2021-02-01T09:00:00,,,2021-04-01T08:00:00,,,,,,O1
""",
    "installations": """\
id,key_id,partner_id,product_id,segment,site,installed_at,status
1,2,1,1,education,Hamburg,2021-02-10T11:00:00,success
""",
}


KEYS_AND_PARENTS = ("account_managers", "partners", "products", "key_orders", "keys")


def write_lifecycle(directory: Path, tables: tuple[str, ...] = tuple(LIFECYCLE)) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for table in tables:
        (directory / f"{table}.csv").write_text(LIFECYCLE[table], encoding="utf-8")
    return directory


def _column(engine: sa.Engine, table: sa.Table, column: str) -> dict[object, object]:
    (key,) = table.primary_key.columns
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(key, table.c[column]).order_by(key)).all())


def test_keys_in_every_stage_of_the_lifecycle_are_imported(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, write_lifecycle(tmp_path))

    states = _column(engine, schema.keys, "state")
    assert list(states.values()) == [
        "fulfilled",
        "bound",
        "reported",
        "activated",
        "activated",
        "denied",
        "returned",
    ]
    assert _column(engine, schema.keys, "activation_code")[6] == "05"
    assert _column(engine, schema.keys, "return_code")[7] == "O1"
    assert _column(engine, schema.partners, "kind") == {1: "tpr", 2: None, 3: "own_site"}
    assert _column(engine, schema.products, "channel") == {1: "citizenship", 2: None}


def _keys_row(key: int, **cells: str) -> Callable[[Path], None]:
    """Set several cells of the keys row with id `key` (its line is key + 1)."""

    def spoil(directory: Path) -> None:
        for column, value in cells.items():
            set_cell("keys", key + 1, column, value)(directory)

    return spoil


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        pytest.param(
            _keys_row(2, bound_at="2021-02-10T10:59:59"),
            "keys.csv line 3, column bound_at: '2021-02-10T10:59:59' is before consumed_at.",
            id="bound-before-consumed",
        ),
        pytest.param(
            _keys_row(4, reported_at="2021-02-11T11:09:00"),
            "keys.csv line 5, column reported_at: '2021-02-11T11:09:00' is before bound_at.",
            id="reported-before-bound",
        ),
        pytest.param(
            _keys_row(4, acknowledged_at="2021-03-01T11:59:00"),
            "keys.csv line 5, column acknowledged_at: '2021-03-01T11:59:00' is before reported_at.",
            id="answered-before-reported",
        ),
        pytest.param(
            _keys_row(2, consumed_at="", state="allocated"),
            "keys.csv line 3, column bound_at: '2021-02-10T11:05:00' is set but consumed_at is"
            " empty.",
            id="bound-but-not-consumed",
        ),
        pytest.param(
            _keys_row(4, reported_at="", state="bound"),
            "keys.csv line 5, column acknowledged_at: '2021-03-02T06:00:00' is set but"
            " reported_at is empty.",
            id="answered-but-not-reported",
        ),
        pytest.param(
            _keys_row(5, activation_code=""),
            "keys.csv line 6, column acknowledged_at: '2021-03-02T06:00:00' is set but"
            " activation_code is empty.",
            id="answer-without-code",
        ),
        pytest.param(
            _keys_row(6, state="activated"),
            "keys.csv line 7, column state: 'activated' does not match the timestamps, which say"
            " 'denied'.",
            id="denied-called-activated",
        ),
        pytest.param(
            _keys_row(3, state="bound"),
            "keys.csv line 4, column state: 'bound' does not match the timestamps, which say"
            " 'reported'.",
            id="reported-without-bound-called-bound",
        ),
        pytest.param(
            _keys_row(2, state="consumed"),
            "keys.csv line 3, column state: 'consumed' does not match the timestamps, which say"
            " 'bound'.",
            id="bound-called-consumed",
        ),
        pytest.param(
            _keys_row(5, activation_code="2"),
            "keys.csv line 6, column activation_code: '2' is not a two-digit code like 00.",
            id="one-digit-code",
        ),
        pytest.param(
            _keys_row(2, device_hash="A" * 64),
            "keys.csv line 3, column device_hash: '"
            + "A" * 64
            + "' is not a SHA-256 hash: 64 characters 0-9"
            " and a-f.",
            id="hash-in-capitals",
        ),
        pytest.param(
            _keys_row(2, device_hash="abc"),
            "keys.csv line 3, column device_hash: 'abc' is not a SHA-256 hash: 64 characters 0-9"
            " and a-f.",
            id="hash-too-short",
        ),
        pytest.param(
            _keys_row(7, return_code="P2"),
            "keys.csv line 8, column return_code: 'P2' is not the code of an accepted return,"
            " which starts with O or Q.",
            id="rejected-return",
        ),
        pytest.param(
            _keys_row(1, return_code="O1"),
            "keys.csv line 2, column return_code: 'O1' is set but returned_at is empty.",
            id="return-code-without-return",
        ),
        pytest.param(
            set_cell("partners", 2, "kind", "dealer"),
            "partners.csv line 2, column kind: 'dealer' is not one of tpr, own_site.",
            id="unknown-kind",
        ),
        pytest.param(
            set_cell("partners", 2, "citizenship_cap", "-1"),
            "partners.csv line 2, column citizenship_cap: '-1' is negative.",
            id="negative-cap",
        ),
        pytest.param(
            set_cell("products", 2, "channel", "retail"),
            "products.csv line 2, column channel: 'retail' is not one of commercial, citizenship.",
            id="unknown-channel",
        ),
    ],
)
def test_a_lifecycle_the_design_forbids_is_rejected(
    engine: sa.Engine, tmp_path: Path, spoil: Callable[[Path], None], expected: str
) -> None:
    directory = write_lifecycle(tmp_path)
    spoil(directory)

    with pytest.raises(UserError) as error:
        import_directory(engine, directory)

    assert str(error.value) == expected
    assert set(row_counts(engine).values()) == {0}


def test_a_file_without_the_optional_columns_keeps_their_stored_values(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, write_lifecycle(tmp_path / "new"))
    old = write_dataset(tmp_path / "old", ("partners", "products"))
    set_cell("partners", 2, "name", "Refurb Nord AG")(old)

    summary = import_directory(engine, old)

    assert (summary["partners"].updated, summary["partners"].unchanged) == (1, 2)
    assert summary["products"].unchanged == 1  # product 2's name differs in the two files
    assert _column(engine, schema.partners, "name")[1] == "Refurb Nord AG"
    assert _column(engine, schema.partners, "kind") == {1: "tpr", 2: None, 3: "own_site"}
    assert _column(engine, schema.partners, "citizenship_cap") == {1: 300, 2: None, 3: None}
    assert _column(engine, schema.products, "channel") == {1: "citizenship", 2: None}


def test_a_keys_file_without_the_optional_columns_keeps_the_stored_lifecycle(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, write_lifecycle(tmp_path / "new", KEYS_AND_PARENTS))
    header, *rows = LIFECYCLE["keys"].replace("\\\n", "").splitlines()
    old_keys = "\n".join(",".join(line.split(",")[:10]) for line in [header, rows[1]]) + "\n"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keys.csv").write_text(old_keys, encoding="utf-8")

    summary = import_directory(engine, tmp_path / "old")

    assert summary["keys"].unchanged == 1
    assert _column(engine, schema.keys, "device_hash")[2] == HASH_A
    assert _column(engine, schema.keys, "bound_at")[2] is not None


def test_a_stored_lifecycle_is_checked_with_the_file_that_leaves_it_out(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, write_lifecycle(tmp_path / "new", KEYS_AND_PARENTS))
    old = "id,product_id,order_id,partner_id,state,fulfilled_at,allocated_at,consumed_at,\
reported_at,returned_at\n6,1,1,2,consumed,2021-01-06T08:30:00,2021-02-01T09:00:00,\
2021-02-11T11:00:00,,\n"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keys.csv").write_text(old, encoding="utf-8")

    with pytest.raises(UserError) as error:
        import_directory(engine, tmp_path / "old")

    assert str(error.value) == (
        "keys.csv line 2: acknowledged_at, which the file leaves out, is '2021-03-02 06:00:00'"
        " in the database and is set but reported_at is empty."
    )


@pytest.mark.parametrize(
    ("spoil", "where"),
    [
        pytest.param(
            set_cell("partners", 3, "name", f"Key {PRODUCT_KEY} on a sticky note"),
            "partners.csv line 3, column name: ",
            id="inside-text",
        ),
        pytest.param(
            _keys_row(3, product_key_id=PRODUCT_KEY.lower()),
            "keys.csv line 4, column product_key_id: ",
            id="lowercase-in-a-short-column",
        ),
        pytest.param(
            set_cell("key_orders", 2, "quantity", PRODUCT_KEY),
            "key_orders.csv line 2, column quantity: ",
            id="in-a-number-column",
        ),
        pytest.param(
            set_cell("users", 1, "account_manager_id", PRODUCT_KEY),
            "users.csv line 1, header cell 3: ",
            id="in-the-header",
        ),
    ],
)
def test_a_product_key_in_any_cell_is_refused_without_repeating_it(
    engine: sa.Engine, tmp_path: Path, spoil: Callable[[Path], None], where: str
) -> None:
    directory = write_lifecycle(tmp_path)
    spoil(directory)

    with pytest.raises(UserError) as error:
        import_directory(engine, directory)

    message = str(error.value)
    assert f"{where}the cell holds a product key (five groups of five letters or digits)" in message
    assert PRODUCT_KEY.casefold() not in message.casefold()
    for group in PRODUCT_KEY.split("-"):
        assert group.casefold() not in message.casefold()
    assert set(row_counts(engine).values()) == {0}


def test_the_cli_refuses_a_product_key_without_printing_it(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = write_lifecycle(tmp_path)
    _keys_row(1, product_key_id=PRODUCT_KEY)(directory)

    assert main(["import", "--url", database_url, str(directory)]) == 2

    out, err = capsys.readouterr()
    assert err.startswith("mar-insight: keys.csv line 2, column product_key_id: the cell holds")
    assert PRODUCT_KEY not in out + err
