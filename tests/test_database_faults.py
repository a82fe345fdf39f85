"""The app under database faults, on a PostgreSQL cluster this module owns and can stop.

The cluster is created with `initdb` in a temporary directory, listens on a free localhost
port with `max_connections=10`, and is removed at teardown.  Without the PostgreSQL 15
binaries the module is skipped, or fails under `CI=true`.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import threading
import time
from collections.abc import Iterator

import psycopg2
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.topology import Cluster, missing_postgres_binaries
from dashboard import data_access
from data.db import make_engine
from data.demo import generate_demo
from data.errors import DATABASE_BUSY, DATABASE_UNREACHABLE, STATEMENT_TIMEOUT
from queries.filters import Filters
from queries.volumes import partner_volumes
from tests.apptest_support import APP

AS_OF = dt.date(2026, 11, 25)
MAX_CONNECTIONS = 10
POOL_SIZE = 5
THREADS = 20
#: Bound on one AppTest run; a run that needs longer fails the test instead of hanging.
RUN_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A fresh cluster with the schema and a small demo, stopped and deleted at teardown."""
    if problem := missing_postgres_binaries():
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    owned = Cluster.create("mar-faults-", {"max_connections": str(MAX_CONNECTIONS)})
    try:
        owned.start()
        engine = make_engine(owned.url)
        try:
            generate_demo(
                engine, installations=2_000, seed=1, as_of=AS_OF, progress=lambda *_: None
            )
        finally:
            engine.dispose()
        yield owned
    finally:
        owned.remove()


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, cluster: Cluster) -> Iterator[AppTest]:
    """The app on the owned cluster, with fresh caches, so each test builds its own engine."""
    monkeypatch.setenv("MAR_DATABASE_URL", cluster.url)
    monkeypatch.setenv("MAR_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("MAR_CONNECT_TIMEOUT_SECONDS", "2")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_SECONDS)
    st.cache_data.clear()
    data_access.engine().dispose()  # close its connections: the cluster allows only ten
    st.cache_resource.clear()


def _shows_data(app: AppTest) -> bool:
    return not app.exception and not app.error and [t.value for t in app.title] == ["Overview"]


def test_a_stopped_server_shows_only_the_unreachable_sentence(
    app: AppTest, cluster: Cluster
) -> None:
    app.run()
    assert _shows_data(app)
    cluster.stop("fast")
    try:
        app.run()  # raises when the run does not finish within RUN_TIMEOUT_SECONDS
    finally:
        cluster.start()
    assert not app.exception
    assert [e.value for e in app.error] == [DATABASE_UNREACHABLE]


def test_the_same_session_shows_data_again_once_the_server_is_back(
    app: AppTest, cluster: Cluster
) -> None:
    app.run()
    cluster.stop("fast")
    try:
        app.run()
    finally:
        cluster.start()
    assert app.error, "the run with the server down should have shown the unreachable sentence"
    st.cache_data.clear()  # read the database again, through the same engine and its pool
    app.run()
    assert _shows_data(app)


def test_a_query_blocked_past_the_statement_timeout_shows_the_timeout_sentence(
    app: AppTest, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAR_STATEMENT_TIMEOUT_SECONDS", "1")
    locker = make_engine(cluster.url)
    try:
        with locker.connect() as connection:
            # Every page reads the partners (the sidebar lists them).
            connection.execute(sa.text("LOCK TABLE partners IN ACCESS EXCLUSIVE MODE"))
            st.cache_data.clear()
            app.run()
            connection.rollback()  # release the lock
    finally:
        locker.dispose()
    assert not app.exception
    assert [e.value for e in app.error] == [STATEMENT_TIMEOUT]


def test_a_pool_with_no_free_connection_shows_the_busy_sentence(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAR_CONNECT_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("MAR_STATEMENT_TIMEOUT_SECONDS", "1")  # the pool wait: 1 s
    app.run()
    assert _shows_data(app)
    engine = data_access.engine()  # the app's own engine, cached for the server process
    held = [engine.connect() for _ in range(engine.pool.size())]  # type: ignore[attr-defined]
    try:
        st.cache_data.clear()
        app.run()
    finally:
        for connection in held:
            connection.close()
    assert not app.exception
    assert [e.value for e in app.error] == [DATABASE_BUSY]


class _BackendCounter:
    """Polls pg_stat_activity for the backends with one application_name, keeping the peak."""

    def __init__(self, cluster: Cluster, application_name: str) -> None:
        self._connection = psycopg2.connect(
            host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres"
        )
        self._connection.autocommit = True  # a fresh pg_stat_activity snapshot per query
        self._name = application_name
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self.peak = 0

    def count(self) -> int:
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = %s AND backend_type = 'client backend'",
                (self._name,),
            )
            (value,) = cursor.fetchone()
            return int(value)

    def _poll(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.count())
            time.sleep(0.01)

    def __enter__(self) -> _BackendCounter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)
        self.peak = max(self.peak, self.count())
        self._connection.close()


def test_concurrent_metrics_share_a_bounded_pool_within_the_server_limit(
    cluster: Cluster,
) -> None:
    application_name = "mar-pool-test"
    engine = make_engine(f"{cluster.url}?application_name={application_name}", pool_size=POOL_SIZE)
    filters = Filters.default(AS_OF)
    start = threading.Barrier(THREADS)

    def metric(_: int) -> int:
        start.wait(timeout=30)
        with engine.connect() as connection:
            # Hold the connection a moment so the threads really compete for the pool.
            connection.execute(sa.text("SELECT pg_sleep(0.2)"))
            return partner_volumes(connection, filters).height

    try:
        with (
            _BackendCounter(cluster, application_name) as backends,
            concurrent.futures.ThreadPoolExecutor(max_workers=THREADS) as executor,
        ):
            heights = list(executor.map(metric, range(THREADS)))
    finally:
        engine.dispose()
    assert THREADS > MAX_CONNECTIONS
    assert len(heights) == THREADS
    assert all(height > 0 for height in heights)
    assert 1 < backends.peak <= POOL_SIZE
