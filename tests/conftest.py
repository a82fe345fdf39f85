"""Real databases for every test: a fresh SQLite file, or a fresh PostgreSQL schema.

PostgreSQL tests fail (not skip) under `CI=true` when the server is missing, so a green CI
always means both dialects were exercised.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from data.db import make_engine
from data.demo import generate_demo
from data.schema import create_schema
from tests.apptest_support import APP, AS_OF, DeferredFiles
from tests.mail_servers import SmtpSink, smtp_server

PG_URL = os.environ.get("MAR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _postgres_admin_engine() -> sa.Engine:
    engine = make_engine(PG_URL, connect_timeout_seconds=3)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL is not reachable at {PG_URL}: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return engine


@pytest.fixture(autouse=True, scope="session")
def session_log_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Servers a module starts (browser, load test) log here, not to the checkout's log."""
    path = tmp_path_factory.mktemp("log") / "mar-insight.log"
    before = os.environ.get("MAR_LOG_FILE")
    os.environ["MAR_LOG_FILE"] = str(path)
    yield path
    if before is None:
        del os.environ["MAR_LOG_FILE"]
    else:
        os.environ["MAR_LOG_FILE"] = before


@pytest.fixture(autouse=True)
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test logs to a file of its own (data/logs.py), never to the checkout's log."""
    path = tmp_path / "mar-insight.log"
    monkeypatch.setenv("MAR_LOG_FILE", str(path))
    return path


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A URL whose connections see only a new, empty schema of their own."""
    admin = _postgres_admin_engine()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections see only a new, empty schema of their own."""
    with _postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mar.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, empty database of each dialect in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh, empty database of the same dialect as `database_url`."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.sqlite'}"
        return
    with _postgres_schema() as url:
        yield url


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine on a fresh database of each dialect, with no tables yet."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: sa.Engine) -> sa.Engine:
    """An engine on a fresh database of each dialect, with the schema created."""
    create_schema(empty_engine)
    return empty_engine


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small demo database, built once per test process."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite'}"
    engine = make_engine(url)
    generate_demo(engine, installations=20_000, seed=7, as_of=AS_OF, progress=lambda *_: None)
    engine.dispose()
    return url


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> Iterator[AppTest]:
    """A fresh app on the demo database with a fixed as-of date and empty caches."""
    monkeypatch.setenv("MAR_DATABASE_URL", demo_url)
    monkeypatch.setenv("MAR_AS_OF", AS_OF.isoformat())
    st.cache_resource.clear()
    st.cache_data.clear()
    yield AppTest.from_file(APP, default_timeout=60)
    st.cache_resource.clear()


@pytest.fixture
def deferred_files(monkeypatch: pytest.MonkeyPatch) -> DeferredFiles:
    """The data callables of every deferred download the app registers in this test."""
    files = DeferredFiles()
    register = MediaFileManager.add_deferred
    monkeypatch.setattr(MediaFileManager, "add_deferred", files.recording(register))
    return files


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback that keeps what it receives."""
    with smtp_server() as sink:
        yield sink
