"""Alembic's environment: runs revisions on the connection `data.upgrade` hands over.

Run by Alembic, never imported.  The developer's `alembic -c data/migrations/alembic.ini`
(to write a new revision with `revision --autogenerate`) connects to `MAR_DATABASE_URL`.
"""

from __future__ import annotations

from alembic import context

from data.db import make_engine
from data.schema import metadata
from data.settings import load_settings


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables only by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    _engine = make_engine(load_settings().database_url)
    with _engine.begin() as _opened:
        _run(_opened)
    _engine.dispose()
