"""What an operator meets: database URLs as people write them, bad settings, unexpected
errors and the log (issue 14).

Every failure ends in one sentence, in the dashboard and at the command line; a traceback
appears only in the log, under the reference the sentence quotes.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cli.main import main as cli
from data.csv_tables import export_tables
from data.db import make_engine
from data.schema import create_schema
from data.settings import SettingsError, load_settings
from tests.apptest_support import APP, open_page
from tests.builders import add_installation, add_partner, add_product

REFERENCE = re.compile(r"reference ([0-9a-f]{8})")


def _plain(url: str) -> str:
    """The URL as most people and hosting platforms write it: no driver named."""
    return url.replace("postgresql+psycopg2://", "postgresql://")


def _small_network(url: str) -> None:
    """Two partners, one product, three successful installations on 2021-06-01."""
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        add_partner(conn, 1, "Alpha")
        add_partner(conn, 2, "Beta")
        add_product(conn, 1, "W11P")
        add_installation(conn, 1, partner=1, product=1, at="2021-06-01 09:00")
        add_installation(conn, 2, partner=1, product=1, at="2021-06-01 10:00")
        add_installation(conn, 3, partner=2, product=1, at="2021-06-01 11:00")
    engine.dispose()


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("MAR_AS_OF", "2021-06-30")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield AppTest.from_file(APP, default_timeout=60)
    st.cache_resource.clear()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_url_without_a_driver_uses_psycopg2(scheme: str) -> None:
    settings = load_settings(database_url=f"{scheme}://mar@db.example/mar")

    assert settings.database_url == "postgresql+psycopg2://mar@db.example/mar"


@pytest.mark.parametrize(
    "url",
    ["mysql://mar:secret@db.example/mar", "db.example/mar", "postgresql://"],
    ids=["unknown-driver", "no-scheme", "nothing-after-the-scheme"],
)
def test_an_unusable_database_url_is_one_sentence_naming_the_setting(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(database_url=url)

    message = str(raised.value)
    assert message.startswith("MAR_DATABASE_URL is not valid (")
    assert message.count(".") <= 2  # one sentence (".env." ends it)
    assert "secret" not in message  # a URL may carry a password: never repeated


def test_import_and_export_work_with_a_plain_postgresql_url(
    postgres_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    _small_network(sqlite_url)
    export_tables(make_engine(sqlite_url), tmp_path / "csv")
    url = _plain(postgres_url)
    out = tmp_path / "volumes.csv"

    imported = cli(["import", str(tmp_path / "csv"), "--url", url])
    exported = cli(
        ["export", "partner-volumes", "--url", url, "--as-of", "2021-06-30", "--out", str(out)]
    )

    assert (imported, exported) == (0, 0)
    volumes = pl.read_csv(out).select("partner_id", "installations").rows()
    assert volumes == [(1, 2), (2, 1)]


def test_the_dashboard_serves_from_a_plain_postgresql_url(
    app: AppTest, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    _small_network(postgres_url)
    monkeypatch.setenv("MAR_DATABASE_URL", _plain(postgres_url))

    open_page(app, "partners")

    assert not app.exception
    assert not app.error
    [volumes] = [t.value for t in app.dataframe if "keys_allocated" in t.value.columns]
    assert sorted(volumes["installations"]) == [1, 2]


def test_a_bad_setting_shows_its_sentence_instead_of_an_error_box(
    app: AppTest, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("MAR_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MAR_CACHE_TTL_SECONDS", "-1")

    open_page(app, "overview")

    assert not app.exception
    assert [e.value for e in app.error] == [
        "MAR_CACHE_TTL_SECONDS is not valid (Input should be greater than or equal to 0: "
        "'-1'); fix it in the environment or in .env."
    ]


def test_a_bad_setting_at_the_command_line_is_the_same_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAR_CACHE_TTL_SECONDS", "-1")

    code = cli(["refresh"])

    assert code == 2
    assert capsys.readouterr().err == (
        "mar-insight: MAR_CACHE_TTL_SECONDS is not valid (Input should be greater than or "
        "equal to 0: '-1'); fix it in the environment or in .env.\n"
    )


@pytest.fixture
def corrupt_url(sqlite_url: str) -> str:
    """A database another system wrote wrongly: a partner's manager id is text, which no
    code path expects (written past the foreign key, as a foreign tool could)."""
    _small_network(sqlite_url)
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as raw:
        raw.execute("UPDATE partners SET account_manager_id = 'Anna' WHERE id = 2")
    return sqlite_url


def test_an_unexpected_error_in_the_dashboard_is_one_sentence_and_a_logged_traceback(
    app: AppTest, monkeypatch: pytest.MonkeyPatch, corrupt_url: str, log_file: Path
) -> None:
    monkeypatch.setenv("MAR_DATABASE_URL", corrupt_url)

    open_page(app, "overview")

    assert not app.exception
    [sentence] = [e.value for e in app.error]
    assert sentence.startswith("Something went wrong that we did not expect (reference ")
    assert "Traceback" not in sentence
    reference = REFERENCE.search(sentence)[1]  # type: ignore[index]
    logged = log_file.read_text()
    assert f"unexpected error, reference {reference}" in logged
    assert "Traceback (most recent call last)" in logged


def test_an_unexpected_error_at_the_command_line_is_one_line_and_a_logged_traceback(
    corrupt_url: str, log_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "volumes.csv"

    code = cli(["export", "partner-volumes", "--url", corrupt_url, "--out", str(out)])

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("mar-insight: Something went wrong that we did not expect")
    reference = REFERENCE.search(err)[1]  # type: ignore[index]
    logged = log_file.read_text()
    assert f"unexpected error, reference {reference}" in logged
    assert "Traceback (most recent call last)" in logged
    assert not out.exists()


def test_the_log_can_be_json_one_object_per_line(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, log_file: Path, tmp_path: Path
) -> None:
    _small_network(sqlite_url)
    monkeypatch.setenv("MAR_LOG_FORMAT", "json")

    cli(
        [
            "export",
            "stock",
            "--url",
            sqlite_url,
            "--as-of",
            "2021-06-30",
            "--out",
            str(tmp_path / "s.csv"),
        ]
    )
    cli(["export", "stock", "--url", sqlite_url, "--product", "NOPE"])

    entries = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(e["level"], e["message"].split(" ")[0]) for e in entries] == [
        ("INFO", "export"),
        ("INFO", "export"),
    ]
    assert entries[0]["message"].startswith("export stock by cli:")
    assert entries[1]["message"] == "export refused: There is no product with the code 'NOPE'."


def test_an_accepted_and_a_refused_import_are_logged_with_their_counts(
    sqlite_url: str, log_file: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source.sqlite"
    _small_network(f"sqlite:///{source}")
    export_tables(make_engine(f"sqlite:///{source}"), tmp_path / "csv")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "partners.csv").write_text("id,name\nx,Alpha\n")

    cli(["import", str(tmp_path / "csv"), "--url", sqlite_url])
    cli(["import", str(tmp_path / "bad"), "--url", sqlite_url])

    lines = log_file.read_text().splitlines()
    assert "installations: 3 inserted, 0 updated, 0 unchanged" in lines[0]
    assert "accepted" in lines[0]
    assert "import refused: " in lines[1]


def test_a_refused_url_parameter_is_logged(
    app: AppTest, monkeypatch: pytest.MonkeyPatch, sqlite_url: str, log_file: Path
) -> None:
    _small_network(sqlite_url)
    monkeypatch.setenv("MAR_DATABASE_URL", sqlite_url)

    open_page(app, "overview", product="NOPE")

    assert "There is no product with the code 'NOPE'." in log_file.read_text()
