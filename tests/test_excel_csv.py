"""The CSV for Excel: the same data as the machine CSV, in the form Excel in German or French
opens in columns (semicolons, decimal commas, UTF-8 with a byte-order mark); and the command
line's messages in MAR_LANGUAGE.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from cli.main import main
from data.db import make_engine
from data.schema import audit_log, create_schema
from queries.exports import REPORTS, file_name, to_csv, to_excel_csv
from queries.filters import Filters
from tests.test_exports import _tiny

BOM = b"\xef\xbb\xbf"


@pytest.fixture(autouse=True)
def _no_local_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI reads `MAR_*` variables and `./.env`; keep the developer's out of the tests."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MAR_")]:
        monkeypatch.delenv(name)


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "partner_name": ["Müller; Söhne", "=HYPERLINK()"],
            "installations": [1234, -5],
            "days_of_cover": [1234.5, None],
            "share": [0.125, 1 / 3],
            "oldest_due": [dt.date(2021, 6, 10), None],
        }
    )


def test_german_excel_csv_uses_semicolons_decimal_commas_and_a_byte_order_mark() -> None:
    assert (
        to_excel_csv(_frame(), "de")
        == BOM
        + (
            "partner_name;installations;days_of_cover;share;oldest_due\n"
            '"Müller; Söhne";1234;1234,5;0,125;2021-06-10\n'
            "'=HYPERLINK();-5;;0,3333333333333333;\n"
        ).encode()
    )


def test_french_excel_csv_is_written_like_the_german_one() -> None:
    assert to_excel_csv(_frame(), "fr") == to_excel_csv(_frame(), "de")


def test_english_excel_csv_is_the_machine_csv_with_a_byte_order_mark() -> None:
    assert to_excel_csv(_frame(), "en") == BOM + to_csv(_frame())


def test_the_machine_csv_stays_comma_separated_with_decimal_points() -> None:
    assert to_csv(_frame()).startswith(
        b"partner_name,installations,days_of_cover,share,oldest_due\n"
        b"M\xc3\xbcller; S\xc3\xb6hne,1234,1234.5,0.125,2021-06-10\n"
    )


def test_an_excel_file_is_named_after_its_language() -> None:
    june = Filters(
        as_of=dt.date(2021, 6, 30), date_from=dt.date(2021, 6, 1), date_to=dt.date(2021, 6, 30)
    )
    assert file_name("stock", june, excel="de") == (
        "mar-insight_stock_2021-06-01_2021-06-30_excel-de.csv"
    )


# --- mar-insight export --excel ------------------------------------------------------------


@pytest.fixture
def url_with_data(database_url: str) -> Iterator[str]:
    engine = make_engine(database_url)
    create_schema(engine)
    with engine.begin() as conn:
        _tiny(conn)
    yield database_url
    engine.dispose()


def _export(url: str, report: str, out: Path, *arguments: str) -> bytes:
    dates = ("--as-of", "2021-06-30", "--from", "2021-06-01")
    code = main(["export", report, "--url", url, *dates, "--out", str(out), *arguments])
    assert code == 0
    return out.read_bytes()


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_a_german_excel_export_reads_back_to_the_values_of_the_machine_csv(
    url_with_data: str, tmp_path: Path, report: str
) -> None:
    machine = _export(url_with_data, report, tmp_path / "machine.csv")
    excel = _export(url_with_data, report, tmp_path / "excel.csv", "--excel", "de")

    assert excel.startswith(BOM)
    read_back = pl.read_csv(io.BytesIO(excel.removeprefix(BOM)), separator=";", decimal_comma=True)
    assert read_back.equals(pl.read_csv(io.BytesIO(machine)))


def test_an_excel_export_is_audited_with_its_form(url_with_data: str, tmp_path: Path) -> None:
    _export(url_with_data, "stock", tmp_path / "excel.csv", "--excel", "fr")

    engine = make_engine(url_with_data)
    with engine.connect() as conn:
        reports = conn.execute(sa.select(audit_log.c.report)).scalars().all()
    engine.dispose()
    assert reports == ["stock (Excel, fr)"]


def test_an_unknown_excel_language_is_refused_by_the_parser(
    url_with_data: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", "stock", "--url", url_with_data, "--excel", "es"])

    assert exit_.value.code == 2
    assert "invalid choice: 'es'" in capsys.readouterr().err


def test_the_command_line_speaks_the_configured_language(
    url_with_data: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAR_LANGUAGE", "de")

    code = main(["export", "stock", "--url", url_with_data, "--as-user", "nobody@example.com"])

    assert code == 2
    assert capsys.readouterr().err == (
        "mar-insight: In der Benutzertabelle gibt es keinen Benutzer 'nobody@example.com'.\n"
    )
