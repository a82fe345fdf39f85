"""`mar-insight import-oa3 DIR`: OA3 reports mark consumed keys bound, all files or none, with
hostile XML refused and the product key itself never kept (issue 13, Build item 5).

Keys in every test (product 1, partner 1), all consumed on 2021-03-01 at 10:00:

| id | product_key_id | state    | reported_at         |
| -- | -------------- | -------- | ------------------- |
| 1  | 3300000000001  | consumed |                     |
| 2  | 3300000000002  | consumed |                     |
| 3  | 3300000000003  | reported | 2021-03-03 10:00:00 |
| 4  | 3300000000004  | allocated (not consumed) |     |
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli.main import main
from data import schema
from data.errors import UserError
from data.oa3_import import import_oa3_directory
from tests import baseline_schema as baseline
from tests.builders import add_key, add_partner, add_product

#: A product key as the OA3 tool writes it: 25 characters in five groups (made up).
PRODUCT_KEY = "QW7RT-YP3KD-9XHBM-V2CFG-J4N8T"
BOUND_AT = dt.datetime(2021, 3, 1, 12, 30)
HARDWARE_HASH = "T0FBQkFBQUFBQUFBQUFBQUFB\n  QUFBQUFBQUFBQUFB"


def _key_xml(key_id: str, hardware_hash: str = HARDWARE_HASH, state: str = "3") -> str:
    return (
        "<Key>"
        f"<ProductKey>{PRODUCT_KEY}</ProductKey>"
        f"<ProductKeyID>{key_id}</ProductKeyID>"
        f"<ProductKeyState>{state}</ProductKeyState>"
        f"<HardwareHash>{hardware_hash}</HardwareHash>"
        "</Key>"
    )


def _report(folder: Path, name: str, *keys: str) -> Path:
    """A report file; one key makes the OA3 tool's own shape (<Key> as the root)."""
    body = keys[0] if len(keys) == 1 else f"<Keys>{''.join(keys)}</Keys>"
    path = folder / name
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n', encoding="utf-8")
    return path


@pytest.fixture
def keys_db(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        add_partner(conn, 1)
        add_product(conn, 1)
        consumed = {"partner": 1, "allocated_at": "2021-02-01", "consumed_at": "2021-03-01 10:00"}
        add_key(conn, 1, 1, **consumed)
        add_key(conn, 2, 1, **consumed)
        add_key(conn, 3, 1, **consumed, reported_at="2021-03-03 10:00")
        add_key(conn, 4, 1, partner=1, allocated_at="2021-02-01")
        for key in (1, 2, 3, 4):
            conn.execute(
                schema.keys.update()
                .where(schema.keys.c.id == key)
                .values(product_key_id=f"330000000000{key}")
            )
    return engine


def _keys(engine: sa.Engine) -> list[tuple[object, ...]]:
    k = schema.keys.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(k.id, k.state, k.bound_at, k.device_hash).order_by(k.id))
        return [tuple(row) for row in rows]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_folder_of_reports_marks_its_keys_bound_to_the_hashed_device(
    keys_db: sa.Engine, tmp_path: Path
) -> None:
    _report(tmp_path, "pc-0001.xml", _key_xml("3300000000001"))
    _report(tmp_path, "line-2.xml", _key_xml("3300000000002", "AAAA"), _key_xml("3300000000003"))
    summary = import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT)
    first_device = _sha256("T0FBQkFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")  # whitespace removed
    assert (summary.files, summary.bound, summary.unchanged) == (2, 3, 0)
    assert _keys(keys_db) == [
        (1, "bound", BOUND_AT, first_device),
        (2, "bound", BOUND_AT, _sha256("AAAA")),
        (3, "reported", BOUND_AT, first_device),  # further on: the binding filled in, no step back
        (4, "allocated", None, None),
    ]


def test_the_files_modification_time_is_the_binding_time_without_bound_at(
    keys_db: sa.Engine, tmp_path: Path
) -> None:
    path = _report(tmp_path, "pc.xml", _key_xml("3300000000001"))
    written = dt.datetime(2021, 3, 2, 8, 15, 30, tzinfo=dt.UTC).timestamp()
    os.utime(path, (written, written))
    import_oa3_directory(keys_db, tmp_path)
    assert _keys(keys_db)[0][2] == dt.datetime(2021, 3, 2, 8, 15, 30)


def test_importing_the_same_reports_again_changes_nothing(
    keys_db: sa.Engine, tmp_path: Path
) -> None:
    _report(tmp_path, "pc.xml", _key_xml("3300000000001"))
    import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT)
    before = _keys(keys_db)
    again = import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT + dt.timedelta(days=1))
    assert (again.bound, again.unchanged) == (0, 1)
    assert _keys(keys_db) == before


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Key><ProductKeyID>3300000000001</ProductKeyID><ProductKeyState>3</ProductKeyState>
<HardwareHash>&lol9;</HardwareHash></Key>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE Key [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Key><ProductKeyID>3300000000001</ProductKeyID><ProductKeyState>3</ProductKeyState>
<HardwareHash>&secret;</HardwareHash></Key>
"""


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        (BILLION_LAUGHS, r"^evil\.xml declares XML entities \(an entity-expansion or 'billion"),
        (EXTERNAL_ENTITY, r"^evil\.xml declares an external entity"),
    ],
    ids=["billion-laughs", "external-entity"],
)
def test_hostile_xml_is_refused_with_one_sentence_naming_the_file_and_nothing_changes(
    keys_db: sa.Engine, tmp_path: Path, body: str, sentence: str
) -> None:
    _report(tmp_path, "good.xml", _key_xml("3300000000002"))
    (tmp_path / "evil.xml").write_text(body, encoding="utf-8")
    before = _keys(keys_db)
    with pytest.raises(UserError, match=sentence) as refused:
        import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT)
    message = str(refused.value)
    assert message.count(". ") == 0 and message.endswith(".")
    assert "passwd" not in message and "lol" not in message
    assert _keys(keys_db) == before


def test_an_unknown_product_key_id_names_its_file_and_no_file_is_imported(
    keys_db: sa.Engine, tmp_path: Path
) -> None:
    _report(tmp_path, "a.xml", _key_xml("3300000000001"))
    _report(tmp_path, "b.xml", _key_xml("3300000000002"), _key_xml("3399999999999"))
    before = _keys(keys_db)
    with pytest.raises(UserError, match=r"^b\.xml: key 3399999999999 is not in the database"):
        import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT)
    assert _keys(keys_db) == before


@pytest.mark.parametrize(
    ("key_id", "bound_at", "sentence"),
    [
        ("3300000000004", BOUND_AT, r"key 3300000000004 is allocated, not consumed"),
        ("3300000000001", dt.datetime(2021, 3, 1, 9), r"before it was consumed"),
        ("3300000000003", dt.datetime(2021, 3, 4), r"after it was reported"),
    ],
    ids=["not-consumed", "before-consumed", "after-reported"],
)
def test_a_binding_that_would_run_a_key_backwards_is_refused(
    keys_db: sa.Engine, tmp_path: Path, key_id: str, bound_at: dt.datetime, sentence: str
) -> None:
    _report(tmp_path, "pc.xml", _key_xml(key_id))
    before = _keys(keys_db)
    with pytest.raises(UserError, match=sentence):
        import_oa3_directory(keys_db, tmp_path, bound_at=bound_at)
    assert _keys(keys_db) == before


def test_a_key_already_bound_to_another_device_is_refused(
    keys_db: sa.Engine, tmp_path: Path
) -> None:
    _report(tmp_path, "pc.xml", _key_xml("3300000000001"))
    import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT)
    _report(tmp_path, "pc.xml", _key_xml("3300000000001", "ANOTHERPC"))
    with pytest.raises(UserError, match=r"^pc\.xml: key 3300000000001 is already bound to anoth"):
        import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT)


def test_a_key_not_in_state_3_is_refused(keys_db: sa.Engine, tmp_path: Path) -> None:
    _report(tmp_path, "pc.xml", _key_xml("3300000000001", state="2"))
    with pytest.raises(UserError, match=r"3300000000001 has ProductKeyState 2, not 3"):
        import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT)


def test_a_file_that_is_not_xml_is_refused_with_where_it_breaks(
    keys_db: sa.Engine, tmp_path: Path
) -> None:
    (tmp_path / "cut.xml").write_text("<Key>\n<ProductKeyID>3300000000001</Product", "utf-8")
    with pytest.raises(UserError, match=r"^cut\.xml is not well-formed XML \(line 2, column"):
        import_oa3_directory(keys_db, tmp_path, bound_at=BOUND_AT)


def _database_text(engine: sa.Engine) -> str:
    """Every text value of every table, so a test can search the whole database."""
    values = []
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, sa.String):
                    values += [str(v) for v in conn.execute(sa.select(column)).scalars()]
    return "\n".join(values)


def test_the_product_key_never_reaches_the_database_a_log_or_the_terminal(
    keys_db: sa.Engine,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    _report(good, "pc.xml", _key_xml("3300000000001"), _key_xml("3300000000002"))
    # Refusals must not echo it either: an unknown id, and the key typed where the id belongs.
    _report(bad, "unknown.xml", _key_xml("3399999999999"))
    _report(tmp_path, "misplaced.xml", _key_xml(PRODUCT_KEY))

    codes = [
        main(["import-oa3", "--url", database_url, str(good), "--bound-at", "2021-03-01T12:30"]),
        main(["import-oa3", "--url", database_url, str(bad)]),
        main(["import-oa3", "--url", database_url, str(tmp_path)]),
    ]
    out = capsys.readouterr()
    assert codes == [0, 2, 2]
    assert "Recorded 2 bindings from 1 OA3 report files" in out.out
    assert "3399999999999 is not in the database" in out.err
    assert "not 13 digits" in out.err
    for text in (out.out, out.err, caplog.text, _database_text(keys_db)):
        assert PRODUCT_KEY not in text


def test_a_bad_bound_at_is_refused_with_one_sentence(
    keys_db: sa.Engine,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _report(tmp_path, "pc.xml", _key_xml("3300000000001"))
    code = main(["import-oa3", "--url", database_url, str(tmp_path), "--bound-at", "monday"])
    assert code == 2
    assert capsys.readouterr().err == (
        "mar-insight: --bound-at 'monday' is not a timestamp; write it as 2021-06-30T14:05:00 "
        "(UTC).\n"
    )


def test_an_older_schema_is_refused_naming_the_upgrade(
    empty_engine: sa.Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline.metadata.create_all(empty_engine)  # release 0.1: no lifecycle columns, no version
    _report(tmp_path, "pc.xml", _key_xml("3300000000001"))
    assert main(["import-oa3", "--url", database_url, str(tmp_path)]) == 2
    assert "mar-insight upgrade" in capsys.readouterr().err
