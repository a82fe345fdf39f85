"""Engines for both supported databases, with the same behaviour on each.

SQLite needs foreign keys switched on per connection; PostgreSQL gets connect and
statement timeouts so a stuck server never hangs a page.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

#: How long a page waits for a pooled connection when no statement timeout bounds the wait.
POOL_WAIT_SECONDS = 30


#: The drivers the project installs, by the URL schemes people write for them.
DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg2",
    "postgres": "postgresql+psycopg2",
    "postgresql+psycopg2": "postgresql+psycopg2",
}


def database_url(url: str) -> str:
    """The URL with the driver the project installs: `postgresql://` and `postgres://` (how
    most people and hosting platforms write it) mean psycopg2, which SQLAlchemy 2.1 would
    otherwise read as psycopg 3.  Raises ValueError, in words, for anything else."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator or (not rest and scheme != "sqlite"):
        raise ValueError("it is not a database URL such as postgresql://user@host/db")
    driver = DRIVERS.get(scheme.lower())
    if driver is None:
        raise ValueError(
            f"the scheme '{scheme[:30]}' is not supported; use postgresql:// or sqlite:///"
        )
    normalised = f"{driver}://{rest}"
    try:
        make_url(normalised)
    except (ArgumentError, ValueError):
        raise ValueError("it is not a valid database URL") from None
    return normalised


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(
    url: str,
    *,
    connect_timeout_seconds: int = 5,
    statement_timeout_seconds: int | None = None,
    pool_size: int = 5,
) -> sa.Engine:
    """Create an engine with a bounded, pre-pinging pool and the timeouts from settings.

    Without `statement_timeout_seconds` statements may run as long as they need: loaders
    rebuilding rollups over millions of rows must not be cut off like a page query.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed, connect_args={"timeout": connect_timeout_seconds}, pool_pre_ping=True
        )
        sa.event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    settings = [f"-c statement_timeout={(statement_timeout_seconds or 0) * 1000}"]
    if extra := parsed.query.get("options"):
        settings.append(str(extra))
        parsed = parsed.difference_update_query(["options"])
    options = " ".join(settings)
    return sa.create_engine(
        parsed,
        connect_args={"connect_timeout": connect_timeout_seconds, "options": options},
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=0,
        # A checkout waits as long as a statement may run: by then a connection in use has
        # been freed or its statement cancelled.  Waiting only the connect timeout made busy
        # pages fail under load (20 concurrent first visits) although nothing was wrong.
        pool_timeout=max(connect_timeout_seconds, statement_timeout_seconds or POOL_WAIT_SECONDS),
    )


def is_postgres(bind: sa.Engine | sa.Connection) -> bool:
    """Whether the bind talks to PostgreSQL (bulk loading and some SQL differ)."""
    return bind.dialect.name == "postgresql"
