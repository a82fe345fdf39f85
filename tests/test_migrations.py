"""The revisions and the metadata agree, and every door refuses a schema older than the code.

A model change in data/schema.py without a revision fails here: the database the revisions
build must equal, for Alembic's autogenerate and for the CHECK constraints it does not
compare, the one `create_schema` builds from the metadata.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.server import HOST, free_port, healthy
from cli.main import main as cli
from dashboard import data_access
from data import schema
from data.csv_import import import_directory
from data.db import make_engine
from data.demo import generate_demo
from data.migrations import current_revision, head, schema_differences, stamp_head
from data.upgrade import upgrade_database
from tests import baseline_schema as baseline
from tests.apptest_support import APP
from tests.test_csv_import import write_dataset

AS_OF = dt.date(2026, 11, 25)
UPGRADE_SENTENCE = (
    "The database has an older schema (from before schema versions, this release needs v0.6); "
    "run 'mar-insight upgrade' to bring it up to date, which keeps every row."
)


def _checks(engine: sa.Engine) -> dict[str, set[tuple[str | None, str]]]:
    """Every table's CHECK constraints as the database reports them: (name, text)."""
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        return {
            table: {(c["name"], c["sqltext"]) for c in inspector.get_check_constraints(table)}
            for table in inspector.get_table_names()
        }


@pytest.fixture
def created(other_database_url: str) -> Iterator[sa.Engine]:
    """A database built from the metadata by `create_schema`, as tests and the demo do."""
    engine = make_engine(other_database_url)
    schema.create_schema(engine)
    yield engine
    engine.dispose()


def test_the_revisions_build_what_the_metadata_describes(empty_engine: sa.Engine) -> None:
    upgrade_database(empty_engine)
    with empty_engine.connect() as connection:
        assert schema_differences(connection, schema.metadata) == []


def test_the_revisions_build_the_check_constraints_of_the_metadata(
    empty_engine: sa.Engine, created: sa.Engine
) -> None:
    upgrade_database(empty_engine)
    migrated = _checks(empty_engine)
    assert migrated == _checks(created)
    assert len(migrated["keys"]) == 2


def test_a_created_database_is_stamped_current(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        assert current_revision(connection) == head()


def test_an_upgrade_of_an_empty_database_creates_the_schema(
    empty_engine: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["upgrade", "--url", database_url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "created the tables of v0.1"
    with empty_engine.connect() as connection:
        assert schema.has_schema(connection)
        assert current_revision(connection) == head()


def test_a_database_from_before_versions_with_the_current_columns_is_only_stamped(
    empty_engine: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    schema.metadata.create_all(empty_engine)
    assert cli(["upgrade", "--url", database_url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "recognised a database from before schema versions as v0.6; recorded it"
    with empty_engine.connect() as connection:
        assert current_revision(connection) == head()


@pytest.fixture
def old_engine(empty_engine: sa.Engine) -> sa.Engine:
    """A database of release 0.1 (no version table), empty."""
    baseline.metadata.create_all(empty_engine)
    return empty_engine


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "stock"],
        ["refresh"],
        ["demo", "--installations", "2000", "--replace"],
        ["digest", "--all", "--out", "unused-dir"],
        ["alerts", "--send"],
    ],
    ids=["export", "refresh", "demo", "digest", "alerts"],
)
def test_the_cli_refuses_an_older_schema_naming_the_upgrade(
    old_engine: sa.Engine, database_url: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli([*argv, "--url", database_url]) == 2
    assert capsys.readouterr().err == f"mar-insight: {UPGRADE_SENTENCE}\n"


def test_an_import_into_an_older_schema_is_refused_naming_the_upgrade(
    old_engine: sa.Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "account_managers.csv").write_text("id,name,email,region\n1,A,a@x.org,\n")
    assert cli(["import", str(tmp_path), "--url", database_url]) == 2
    assert capsys.readouterr().err == f"mar-insight: {UPGRADE_SENTENCE}\n"
    with old_engine.connect() as connection:
        assert connection.execute(sa.select(baseline.account_managers)).all() == []


def test_a_schema_newer_than_the_code_is_refused(
    engine: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'v9.9'"))
    assert cli(["upgrade", "--url", database_url]) == 2
    assert "schema v9.9, which this release of MAR Insight does not know" in (
        capsys.readouterr().err
    )


def test_a_failed_upgrade_leaves_the_database_as_it_was(
    old_engine: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The change to keys fails after partners and products were changed, which must be
    # undone with it: PostgreSQL finds a column it adds, SQLite the name of its copy taken.
    obstacle = {
        "postgresql": "ALTER TABLE keys ADD COLUMN bound_at TIMESTAMP",
        "sqlite": "CREATE TABLE _alembic_tmp_keys (id INTEGER)",
    }[old_engine.dialect.name]
    with old_engine.begin() as connection:
        connection.execute(sa.text(obstacle))
    assert cli(["upgrade", "--url", database_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mar-insight: The upgrade stopped and was undone, so the database is")
    assert err.count("\n") == 1
    with old_engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "kind" not in {c["name"] for c in inspector.get_columns("partners")}
        assert "alembic_version" not in inspector.get_table_names()
        assert current_revision(connection) is None


def test_the_dashboard_refuses_an_older_schema_naming_the_upgrade(
    old_engine: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAR_DATABASE_URL", database_url)
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=60).run()
    try:
        assert [error.value for error in app.error] == [UPGRADE_SENTENCE]
        assert not app.exception
    finally:
        data_access.engine().dispose()
        st.cache_resource.clear()


def test_stamping_records_the_head(empty_engine: sa.Engine) -> None:
    with empty_engine.begin() as connection:
        stamp_head(connection)
        assert current_revision(connection) == head()


def test_serve_upgrades_an_older_sqlite_database_before_it_starts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.sqlite'}"
    old = make_engine(url)
    baseline.metadata.create_all(old)
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "STREAMLIT_SERVER_HEADLESS": "true", "STREAMLIT_SERVER_ADDRESS": HOST}
    command = [str(Path(sys.executable).with_name("mar-insight")), "serve", "--url", url]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not healthy(f"http://{HOST}:{port}") and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.25)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "Upgraded the database: v0.1 → v0.2: added partners.kind" in log.read_text()
    with old.connect() as connection:
        assert current_revision(connection) == head()
    old.dispose()


def test_an_import_into_an_empty_database_records_the_current_version(
    empty_engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(empty_engine, write_dataset(tmp_path))
    with empty_engine.connect() as connection:
        assert current_revision(connection) == head()


def test_the_demo_in_an_empty_database_records_the_current_version(
    empty_engine: sa.Engine,
) -> None:
    generate_demo(empty_engine, installations=2_000, as_of=AS_OF, progress=lambda *_: None)
    with empty_engine.connect() as connection:
        assert current_revision(connection) == head()


def test_a_command_in_a_fresh_process_writes_nothing_but_its_own_lines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    command = [str(Path(sys.executable).with_name("mar-insight")), "upgrade", "--url", url]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    assert done.stderr == ""
    assert done.stdout.strip().endswith(f"The database is now at schema {head()}.")
