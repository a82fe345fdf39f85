"""Alembic's environment: runs revisions on the connection `data.upgrade` hands over.

Run by Alembic, never imported.  The developer's `alembic -c data/migrations/alembic.ini`
(to write a new revision with `revision --autogenerate`, or `check`) connects to
`MAR_DATABASE_URL` instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from data.db import make_engine
from data.schema import metadata
from data.settings import load_settings


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables only by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


_handed_over: sa.Connection | None = context.config.attributes.get("connection")
if _handed_over is not None:
    _run(_handed_over)
else:
    _engine = make_engine(load_settings().database_url)
    with _engine.begin() as _connection:
        _run(_connection)
    _engine.dispose()
