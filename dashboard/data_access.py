"""The dashboard's only door to the database: cached engines, cached metric results.

Reads go to `MAR_READ_DATABASE_URL` (a streaming replica when the operator runs one, else the
primary); the few writes (the audit log) go to the primary, `MAR_DATABASE_URL`.
Caching lives here and only here: the engines with `st.cache_resource`, metric frames with
`st.cache_data` keyed by metric, filters (which carry the viewer's scope) and arguments, so one
viewer's cached result never serves another scope.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import polars as pl
import sqlalchemy as sa
import streamlit as st

from data.db import make_engine
from data.logs import configure_logging
from data.replica import replica_lag as _replica_lag
from data.schema import has_schema, require_current_schema
from data.settings import Settings, load_settings
from queries.filters import Filters

Metric = Callable[..., pl.DataFrame]


@st.cache_resource
def _settings() -> Settings:
    """Read once; a bad setting raises SettingsError (one sentence) and is not cached."""
    config = load_settings()
    configure_logging(config.log_file, config.log_format)
    return config


def settings() -> Settings:
    """The settings, read once per server process (restart to pick up changes)."""
    return _settings()


#: How long one look at the replica's lag serves every session of the process.
REPLICA_LAG_TTL_SECONDS = 15


@st.cache_resource
def _engine(url: str) -> sa.Engine:
    """One engine per URL, with its bounded pool, for every session of the server process."""
    config = settings()
    return make_engine(
        url,
        connect_timeout_seconds=config.connect_timeout_seconds,
        statement_timeout_seconds=config.statement_timeout_seconds,
    )


def engine() -> sa.Engine:
    """The engine every read goes through: the replica when one is configured."""
    return _engine(settings().reads_url)


def primary_engine() -> sa.Engine:
    """The engine for writes (the audit log): always the primary, never a read-only replica.

    Without a replica it is the same engine (and pool) as `engine()`.
    """
    return _engine(settings().database_url)


@st.cache_data(ttl=REPLICA_LAG_TTL_SECONDS, show_spinner=False)
def replica_lag() -> dt.timedelta | None:
    """How far the read engine's server is behind the primary; None when it is the primary."""
    with engine().connect() as connection:
        return _replica_lag(connection)


def schema_exists() -> bool:
    """Whether the database holds the product's tables; a schema older than the code raises
    `UserError` with the sentence that names `mar-insight upgrade`."""
    with engine().connect() as connection:
        return require_current_schema(connection) and has_schema(connection)


@functools.cache
def _cached_runner(ttl_seconds: int) -> Callable[..., pl.DataFrame]:
    @st.cache_data(ttl=ttl_seconds, show_spinner=False, max_entries=500)
    def run(metric_name: str, filters: Filters | None, *args: Any) -> pl.DataFrame:
        metric = _METRICS[metric_name]
        with engine().connect() as connection:
            if filters is None:
                return metric(connection, *args)
            return metric(connection, filters, *args)

    return run


_METRICS: dict[str, Metric] = {}


def _cached(metric: Metric, filters: Filters | None, *args: Any) -> pl.DataFrame:
    name = f"{metric.__module__}.{metric.__qualname__}"
    _METRICS.setdefault(name, metric)
    # Metrics take the grain as an argument; without it in the key, switching the grain
    # keeps every other figure of the page in the cache.
    rows = None if filters is None else filters.without("report")
    return _cached_runner(settings().cache_ttl_seconds)(name, rows, *args)


def load(metric: Metric, filters: Filters, *args: Any) -> pl.DataFrame:
    """The metric's frame for these filters, from the cache when it is fresh."""
    return _cached(metric, filters, *args)


def lookup(metric: Callable[[sa.Connection], pl.DataFrame]) -> pl.DataFrame:
    """For the few lookups that take no filters (the product list, the demo personas), from
    the same cache: the sidebar and the sign-in read them on every rerun."""
    return _cached(metric, None)


def clear_cache() -> None:
    """Forget every cached result, so the next page load reads fresh data."""
    st.cache_data.clear()
