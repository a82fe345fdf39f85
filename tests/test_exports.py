"""The CSV reports and `mar-insight export` (DESIGN §6).

The first columns of each report are a contract for cron jobs and spreadsheets; cells a
spreadsheet would run as a formula are defused; the command line writes exactly the bytes of
the page download.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli.main import main
from data.db import make_engine
from data.schema import create_schema
from queries.exports import REPORTS, ReportOptions, build_report, to_csv
from queries.filters import Filters
from tests.builders import (
    add_account_manager,
    add_conversion,
    add_installation,
    add_key,
    add_partner,
    add_product,
    add_report,
)

AS_OF = dt.date(2021, 6, 30)
JUNE = Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=dt.date(2021, 6, 30))
W11P, O21 = 1, 2

FIRST_COLUMNS = {
    "partner-volumes": ["partner_id", "partner_name", "installations", "keys_allocated"],
    "conversion-funnel": ["stage", "partners"],
    "stock": [
        "product_code",
        "stock_on_hand",
        "mar_stock",
        "partner_stock",
        "consumption_per_day",
        "days_of_cover",
    ],
    "throughput": ["period", "installations", "failed", "cumulative"],
    "milestones": ["milestone", "reached_on"],
    "reporting-backlog": [
        "partner_id",
        "partner_name",
        "missing_reports",
        "oldest_due",
        "days_overdue",
        "unreported_installations",
    ],
    "key-pipeline": ["stage", "keys"],
    "stuck-keys": [
        "partner_id",
        "partner_name",
        "product_code",
        "stage",
        "keys",
        "oldest_since",
        "max_age_days",
    ],
    "activation-denials": ["partner_id", "partner_name", "code", "keys"],
    "duplicate-devices": ["device", "keys", "partners", "first_bound", "last_bound"],
    "citizenship-caps": [
        "partner_id",
        "partner_name",
        "month",
        "windows_units",
        "office_units",
        "cap",
        "status",
    ],
    "return-window": [
        "product_code",
        "partner_id",
        "status",
        "keys",
        "value",
        "oldest_fulfilled",
        "min_days_left",
    ],
    "partner-risk": ["partner_id", "partner_name", "flags", "reasons"],
}


@pytest.fixture(autouse=True)
def _no_local_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI reads `MAR_*` variables and `./.env`; keep the developer's out of the tests."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MAR_")]:
        monkeypatch.delenv(name)


def _tiny(conn: sa.Connection) -> None:
    """Four former RRPs, two products, three installations and one missing report.

    Funnel at 30 June: registered 4; contacted 3 (Gamma is contacted only on 1 July);
    applied 2; contract signed 2 (Delta on the as-of day itself); first order 1.
    Stock at 30 June: W11P 1 MAR + 1 at Alpha, 1 consumed on 10 June; O21 1 MAR, none used.
    """
    add_account_manager(conn, 1, "Anna")
    add_partner(conn, 1, "Alpha", manager=1)
    add_partner(conn, 2, "Beta", manager=1, country="AT")
    add_partner(conn, 3, "Gamma", manager=1)
    add_partner(conn, 4, "Delta", manager=1)
    add_product(conn, W11P, "W11P", "Windows 11 Pro")
    add_product(conn, O21, "O21", "Office 2021", family="office")

    add_conversion(
        conn,
        1,
        "2021-01-05",
        contacted_at="2021-02-01",
        applied_at="2021-03-01",
        contract_signed_at="2021-04-01",
        first_order_at="2021-05-01",
    )
    add_conversion(conn, 2, "2021-01-10", contacted_at="2021-02-10", lost_at="2021-03-01")
    add_conversion(conn, 3, "2021-02-01", contacted_at="2021-07-01")
    add_conversion(
        conn,
        4,
        "2021-03-01",
        contacted_at="2021-03-05",
        applied_at="2021-03-20",
        contract_signed_at="2021-06-30 23:00",
    )

    add_key(conn, 1, W11P)
    add_key(conn, 2, W11P, partner=1, allocated_at="2021-06-02")
    add_key(conn, 3, W11P, partner=1, allocated_at="2021-06-02", consumed_at="2021-06-10")
    add_key(conn, 4, O21)

    add_installation(conn, 1, 2, W11P, "2021-05-20 10:00")
    add_installation(conn, 2, 1, W11P, "2021-06-10 10:00", key=3)
    add_installation(conn, 3, 2, W11P, "2021-06-12 10:00")
    add_report(conn, 1, 2, "2021-05-01")  # due 15 June, never submitted


@pytest.fixture
def tiny(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        _tiny(conn)
    return engine


def _csv(
    engine: sa.Engine, report: str, filters: Filters = JUNE, options: ReportOptions | None = None
) -> bytes:
    """The report's CSV bytes, as the page download and the CLI write them."""
    with engine.connect() as conn:
        return to_csv(build_report(conn, report, filters, options))


def _records(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def _named(engine: sa.Engine, name: str) -> sa.Engine:
    with engine.begin() as conn:
        add_partner(conn, 1, name)
    return engine


# --- the contract of each report ---------------------------------------------------------


def test_design_lists_every_report() -> None:
    assert sorted(REPORTS) == sorted(FIRST_COLUMNS)


@pytest.mark.parametrize("report", sorted(FIRST_COLUMNS))
def test_report_starts_with_the_documented_columns_in_order(engine: sa.Engine, report: str) -> None:
    header = _csv(engine, report).decode("utf-8").splitlines()[0].split(",")

    assert header[: len(FIRST_COLUMNS[report])] == FIRST_COLUMNS[report]


def test_conversion_funnel_csv(tiny: sa.Engine) -> None:
    assert _csv(tiny, "conversion-funnel") == (
        b"stage,partners,share_of_registered\n"
        b"registered,4,1.0\n"
        b"contacted,3,0.75\n"
        b"applied,2,0.5\n"
        b"contract_signed,2,0.5\n"
        b"first_order,1,0.25\n"
    )


def test_stock_csv(tiny: sa.Engine) -> None:
    # W11P: 2 on hand, 1 consumed in 28 days -> 1/28 = 0.0357142857… a day, written in full
    # (DESIGN §6: files carry full precision), cover 2 * 28 = 56.0 days, stock-out 30 June
    # + 56 days = 25 August; partner 1 consumed it, so the partners in view (all of them)
    # also use 1/28 a day.  O21: nothing consumed -> empty cover.
    assert _csv(tiny, "stock") == (
        b"product_code,stock_on_hand,mar_stock,partner_stock,consumption_per_day,"
        b"days_of_cover,stockout_date,low_cover,partners_consumption_per_day,consumed_28d,"
        b"product_name\n"
        b"O21,1,1,0,0.0,,,false,0.0,0,Office 2021\n"
        b"W11P,2,1,1,0.03571428571428571,56.0,2021-08-25,false,0.03571428571428571,1,"
        b"Windows 11 Pro\n"
    )


def test_stock_csv_of_one_partner_keeps_the_company_figures(tiny: sa.Engine) -> None:
    # Partner 2 holds no W11P keys and consumed none; the company's figures stay.
    assert _csv(tiny, "stock", JUNE.replace(partner_ids=(2,))).splitlines()[2] == (
        b"W11P,2,1,0,0.03571428571428571,56.0,2021-08-25,false,0.0,1,Windows 11 Pro"
    )


def test_milestones_csv_leaves_an_unreached_milestone_empty(tiny: sa.Engine) -> None:
    # Successes on 20 May, 10 June and 12 June: the 2nd on 10 June, no 5th yet.
    assert _csv(tiny, "milestones", options=ReportOptions(milestones=(2, 5))) == (
        b"milestone,reached_on\n2,2021-06-10\n5,\n"
    )


def test_dates_are_written_iso(tiny: sa.Engine) -> None:
    (row,) = _records(_csv(tiny, "reporting-backlog"))

    assert (row["partner_name"], row["oldest_due"], row["days_overdue"]) == (
        "Beta",
        "2021-06-15",
        "15",
    )


# --- formulas are defused, numbers are not ------------------------------------------------


def test_a_formula_in_a_name_is_written_as_text(engine: sa.Engine) -> None:
    body = _csv(_named(engine, '=HYPERLINK("http://x")'), "partner-volumes")

    assert b'\n1,"\'=HYPERLINK(""http://x"")",0,0,' in body
    assert _records(body)[0]["partner_name"] == '\'=HYPERLINK("http://x")'


@pytest.mark.parametrize(
    "name",
    ["+49 30 123", "-minus", "@SUM(A1)", "\tTab", "\rReturn"],
    ids=["plus", "minus", "at", "tab", "carriage-return"],
)
def test_names_a_spreadsheet_would_run_get_a_leading_quote(engine: sa.Engine, name: str) -> None:
    body = _csv(_named(engine, name), "partner-volumes")

    assert _records(body)[0]["partner_name"] == "'" + name


@pytest.mark.parametrize("name", ["Alpha = Beta", "Zürich 北京 🚀", "Smith, Jones & Co"])
def test_harmless_names_are_written_unchanged(engine: sa.Engine, name: str) -> None:
    body = _csv(_named(engine, name), "partner-volumes")

    assert _records(body)[0]["partner_name"] == name


def test_negative_numbers_stay_plain_numbers(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        add_partner(conn, 1, "Alpha")
        add_product(conn, W11P, "W11P")
        # Two in the previous period (2 .. 31 May), none in June: change -2.
        add_installation(conn, 1, 1, W11P, "2021-05-10 10:00")
        add_installation(conn, 2, 1, W11P, "2021-05-11 10:00")

    (row,) = _records(_csv(engine, "partner-volumes"))

    assert (row["installations"], row["previous_installations"], row["change"]) == ("0", "2", "-2")


# --- mar-insight export ------------------------------------------------------------------


@pytest.fixture
def url_with_data(database_url: str) -> Iterator[str]:
    engine = make_engine(database_url)
    create_schema(engine)
    with engine.begin() as conn:
        _tiny(conn)
    yield database_url
    engine.dispose()


def _export(url: str, report: str, *arguments: str) -> int:
    """Run `mar-insight export REPORT --url URL ARGUMENTS…` in-process; its exit code."""
    return main(["export", report, "--url", url, *arguments])


def _expected(url: str, report: str, params: dict[str, str]) -> bytes:
    engine = make_engine(url)
    try:
        filters = Filters.from_params(params, as_of=AS_OF)
        with engine.connect() as conn:
            return to_csv(build_report(conn, report, filters))
    finally:
        engine.dispose()


@pytest.mark.parametrize("report", sorted(FIRST_COLUMNS))
def test_export_writes_the_same_bytes_as_the_download(
    url_with_data: str, tmp_path: Path, report: str
) -> None:
    out = tmp_path / f"{report}.csv"

    code = _export(
        url_with_data, report, "--as-of", "2021-06-30", "--from", "2021-06-01", "--out", str(out)
    )

    assert code == 0
    expected = _expected(url_with_data, report, {"as_of": "2021-06-30", "from": "2021-06-01"})
    assert out.read_bytes() == expected


def test_export_with_filters_writes_the_filtered_report(url_with_data: str, tmp_path: Path) -> None:
    out = tmp_path / "volumes.csv"

    code = _export(
        url_with_data,
        "partner-volumes",
        *("--as-of", "2021-06-30", "--from", "2021-06-01"),
        *("--partner", "2", "--partner", "1", "--out", str(out)),
    )

    assert code == 0
    assert [row["partner_id"] for row in _records(out.read_bytes())] == ["1", "2"]


def test_export_without_out_writes_to_stdout(
    url_with_data: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code = _export(url_with_data, "conversion-funnel", "--as-of", "2021-06-30")

    assert code == 0
    captured = capsysbinary.readouterr()
    assert captured.out == _expected(url_with_data, "conversion-funnel", {"as_of": "2021-06-30"})
    assert captured.err == b""


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--partner", "999"], "999"),
        (["--partner", "abc"], "'partner'"),
        (["--as-of", "2021-02-30"], "'as_of'"),
        (["--from", "30.06.2021"], "'from'"),
        (["--from", "2021-06-30", "--to", "2021-06-01"], "'from'"),
        (["--product", "W11P\udcff"], "'product'"),
    ],
    ids=[
        "unknown-partner",
        "partner-not-a-number",
        "impossible-date",
        "malformed-date",
        "from>to",
        "undecodable-product",
    ],
)
def test_export_refuses_bad_input_with_one_sentence_and_exit_code_2(
    url_with_data: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    named: str,
) -> None:
    out = tmp_path / "never.csv"

    code = _export(url_with_data, "partner-volumes", "--out", str(out), *arguments)

    assert code == 2
    captured = capsys.readouterr()
    message = captured.err.strip()
    assert message.startswith("mar-insight: ")
    assert named in message
    assert message.endswith(".")
    assert "\n" not in message
    assert "Traceback" not in captured.err
    assert not out.exists()


def test_export_from_a_database_without_schema_says_so(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _export(database_url, "stock", "--as-of", "2021-06-30")

    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "mar-insight: The database has no MAR Insight tables yet; run 'mar-insight demo' or "
        "'mar-insight import DIR' first.\n"
    )


def test_export_of_an_unknown_report_is_refused_by_the_parser(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _export(database_url, "everything")

    assert exited.value.code == 2
    assert "everything" in capsys.readouterr().err
