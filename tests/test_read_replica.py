"""The read/write split on a real PostgreSQL streaming replica.

This module owns a primary (`wal_level=replica`) and a replica made from it with
`pg_basebackup -R`, each on a free loopback port under a temporary directory.  The dashboard
reads from the replica (`MAR_READ_DATABASE_URL`) and writes its audit rows to the primary
(`MAR_DATABASE_URL`): the replica refuses every write, so a page or download that wrote there
would fail.  Without the PostgreSQL 15 binaries the module is skipped, or fails under `CI=true`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.topology import Cluster, missing_postgres_binaries
from dashboard import data_access
from data.db import make_engine
from data.demo import generate_demo
from data.replica import replica_lag
from data.settings import load_settings
from tests.apptest_support import APP, PAGES, DeferredFiles, open_page

#: One worker runs the whole module, so its topology is built once.
pytestmark = pytest.mark.xdist_group("read-replica")
AS_OF = dt.date(2026, 11, 25)
#: Every page of the management persona, which also sees the audit log.
ALL_PAGES = (*PAGES, "audit")
#: Bound on waiting for the replica to replay what the primary wrote.
CATCH_UP_SECONDS = 60
RENAMED = "Renamed on the primary"


@dataclasses.dataclass
class Pair:
    primary: Cluster
    replica: Cluster


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    """A primary holding a small demo and its running streaming replica, removed at the end."""
    if problem := missing_postgres_binaries():
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    primary = Cluster.create("mar-primary-", {"wal_level": "replica", "max_wal_senders": "4"})
    replica: Cluster | None = None
    try:
        primary.start()
        engine = make_engine(primary.url)
        try:
            generate_demo(
                engine, installations=2_000, seed=3, as_of=AS_OF, progress=lambda *_: None
            )
        finally:
            engine.dispose()
        replica = primary.replica("mar-replica-")
        replica.start()
        yield Pair(primary, replica)
    finally:
        if replica is not None:
            replica.remove()
        primary.remove()


def _scalar(url: str, sql: str, **params: object) -> object:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(sql), params)
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def _audit_rows(url: str) -> int:
    return int(str(_scalar(url, "SELECT count(*) FROM audit_log")))


def _caught_up(pair: Pair) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    target = _scalar(pair.primary.url, "SELECT pg_current_wal_lsn()::text")
    query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while not _scalar(pair.replica.url, query):
        assert time.monotonic() < deadline, "the replica did not catch up with the primary"
        time.sleep(0.1)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, pair: Pair) -> Iterator[AppTest]:
    """The app in demo mode (management persona): reads on the replica, writes on the primary."""
    monkeypatch.setenv("MAR_DATABASE_URL", pair.primary.url)
    monkeypatch.setenv("MAR_READ_DATABASE_URL", pair.replica.url)
    monkeypatch.setenv("MAR_AS_OF", AS_OF.isoformat())
    st.cache_resource.clear()
    st.cache_data.clear()
    yield AppTest.from_file(APP, default_timeout=60)
    data_access.engine().dispose()
    data_access.primary_engine().dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


def test_reads_go_to_the_primary_unless_a_read_url_is_set() -> None:
    primary = "postgresql+psycopg2://u@primary/mar"
    assert load_settings(database_url=primary).reads_url == primary
    assert load_settings(database_url=primary, read_database_url="").reads_url == primary
    replica = "postgresql://u@replica/mar"
    reads = load_settings(database_url=primary, read_database_url=replica).reads_url
    assert reads == "postgresql+psycopg2://u@replica/mar"


def test_the_replica_refuses_writes(pair: Pair) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
        _scalar(pair.replica.url, "INSERT INTO audit_log (at, who, report) SELECT now(), 'a', 'b'")


@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_renders_from_the_replica(app: AppTest, page: str) -> None:
    open_page(app, page)
    assert not app.exception
    assert not app.error
    assert app.title


@pytest.mark.parametrize("page", PAGES)  # the audit page lists nothing before the as-of date
def test_every_download_of_a_page_is_audited_on_the_primary(
    app: AppTest, pair: Pair, page: str, deferred_files: DeferredFiles
) -> None:
    open_page(app, page, **({"partner": "1"} if page == "partner_detail" else {}))
    keys = [button.key for button in app.get("download_button")]
    assert keys, "every page offers at least one download"
    before = _audit_rows(pair.primary.url)
    for key in keys:
        deferred_files.fetch(app, key)
    assert _audit_rows(pair.primary.url) == before + len(keys)


def test_a_caught_up_replica_has_no_lag_and_the_pages_say_nothing(app: AppTest, pair: Pair) -> None:
    _caught_up(pair)
    engine = make_engine(pair.replica.url)
    with engine.connect() as connection:
        lag = replica_lag(connection)
    engine.dispose()
    assert lag == dt.timedelta(0)
    open_page(app, "overview")
    assert not [c.value for c in app.caption if "behind" in c.value]


def test_a_primary_and_sqlite_report_no_replica_lag(pair: Pair, sqlite_url: str) -> None:
    for url in (pair.primary.url, sqlite_url):
        engine = make_engine(url)
        with engine.connect() as connection:
            assert replica_lag(connection) is None
        engine.dispose()


@pytest.fixture
def paused_replica(pair: Pair) -> Iterator[Pair]:
    """The replica with replay paused and the primary writing on: the replica falls behind.

    The primary renames partner 1 to RENAMED, which the replica does not show until replay resumes.
    """
    _scalar(pair.replica.url, "SELECT pg_wal_replay_pause()")
    old_name = _scalar(pair.primary.url, "SELECT name FROM partners WHERE id = 1")
    try:
        _scalar(pair.primary.url, "UPDATE partners SET name = :name WHERE id = 1", name=RENAMED)
        time.sleep(1.1)  # the replica's last replayed commit is now more than a second old
        yield pair
    finally:
        _scalar(pair.replica.url, "SELECT pg_wal_replay_resume()")
        _scalar(pair.primary.url, "UPDATE partners SET name = :name WHERE id = 1", name=old_name)
        _caught_up(pair)


def test_pages_show_the_replica_not_the_primary(app: AppTest, paused_replica: Pair) -> None:
    open_page(app, "partner_detail", partner="1")
    assert not app.exception
    replica_name = _scalar(paused_replica.replica.url, "SELECT name FROM partners WHERE id = 1")
    assert [header.value for header in app.header] == [f"{replica_name} · #1"]


def test_a_lagging_replica_is_named_above_every_page(
    app: AppTest, paused_replica: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAR_REPLICA_LAG_WARNING_SECONDS", "1")
    open_page(app, "overview")
    captions = [c.value for c in app.caption if "behind" in c.value]
    assert len(captions) == 1
    assert "the read replica is still catching up with the primary" in captions[0]
