"""`mar-insight upgrade`: bring a database to the current schema without losing a row.

The revisions of `data/migrations` run in one transaction: on PostgreSQL (transactional DDL)
and on SQLite (a connection of its own that issues BEGIN itself, since Python's driver would
commit around each DDL statement), so a failed upgrade leaves the database as it was.  SQLite
copies a table to change it (batch mode); its foreign keys are switched off for the copy, as
SQLite's manual prescribes, and checked over the whole database before the commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import command

from data.errors import Message, UserError
from data.migrations import (
    alembic_config,
    current_revision,
    head,
    outdated_schema,
    schema_differences,
    scripts,
    stamp_head,
)
from data.schema import has_data_tables, metadata
from i18n.catalogs import N_


def upgrade_database(engine: sa.Engine) -> list[Message]:
    """Run every revision the database lacks; return one line per step (none: it was current),
    to be shown in the reader's language."""
    with _migration_connection(engine) as connection:
        try:
            with connection.begin():
                steps = _upgrade(connection)
                if connection.dialect.name == "sqlite":
                    _check_foreign_keys(connection)
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            raise UserError(
                N_("The upgrade stopped and was undone, so the database is as it was: {reason}."),
                reason=reason,
            ) from exc
    return steps


def _upgrade(connection: sa.Connection) -> list[Message]:
    start = current_revision(connection)
    if start == head():
        return []
    known = {script.revision for script in scripts().walk_revisions()}
    if start is not None and start not in known:
        raise UserError(outdated_schema(start))
    # A database from before schema versions is taken for the first revision (the release
    # that had no version table), unless it matches the metadata already: an unreleased
    # version created it with the newest columns.
    base = scripts().get_base()
    assert base is not None, "data/migrations/versions holds no revision"
    steps: list[Message] = []
    if start is None and not has_data_tables(connection):
        steps.append(Message(N_("created the tables of {revision}"), revision=base))
    elif start is None and _matches_metadata(connection):
        stamp_head(connection)
        return [
            Message(
                N_("recognised a database from before schema versions as {revision}; recorded it"),
                revision=head(),
            )
        ]
    elif start is None:
        steps.append(
            Message(
                N_("recognised a database from before schema versions as {revision}"), revision=base
            )
        )
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    pending = reversed(list(scripts().iterate_revisions(head(), start or base)))
    # A revision's description is its docstring: the schema's changelog, kept in English.
    steps += [
        Message(
            "{start} → {end}: {doc}",
            start=step.down_revision,
            end=step.revision,
            doc=_one_line(step.doc),
        )
        for step in pending
    ]
    return steps


def _matches_metadata(connection: sa.Connection) -> bool:
    """Whether Alembic's autogenerate finds nothing to change for the current metadata."""
    return not schema_differences(connection, metadata)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@contextmanager
def _migration_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    if engine.dialect.name != "sqlite":
        with engine.connect() as connection:
            yield connection
        return
    own = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    sa.event.listen(own, "connect", _sqlite_manual_transactions)
    sa.event.listen(own, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with own.connect() as connection:
            yield connection
    finally:
        own.dispose()


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    """Let SQLAlchemy's BEGIN span DDL, with foreign keys off while tables are copied."""
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def _check_foreign_keys(connection: sa.Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table = broken[0][0]
        raise UserError(
            N_(
                "The upgrade was undone, so the database is as it was: {count} row(s) of"
                " {table} (and maybe others) refer to rows that do not exist."
            ),
            count=len(broken),
            table=table,
        )
