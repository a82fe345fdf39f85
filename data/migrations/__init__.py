"""The versions of the database schema: Alembic's environment and one revision per change.

It lives inside the package, so an installed `mar-insight` finds it from any directory
without an `alembic.ini`.  Revisions are named after the schema version they bring a database
to (`v0.1` is the released schema before versioning, `v0.2` the key lifecycle of DESIGN §3,
`v0.3` the digest's and the alerts' memory); each revision's docstring says what it changes,
and `mar-insight upgrade` prints it.

This module holds what a fresh database needs without running any revision: the head of the
chain and the stamp that records it.  It must not import `data.schema`, which calls it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from data.errors import Message
from i18n.catalogs import N_

HERE = Path(__file__).resolve().parent


def schema_differences(connection: sa.Connection, metadata: sa.MetaData) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match `metadata`.

    An index on an expression is reflected as the database rewrote it (PostgreSQL adds
    parentheses and casts), so one present on both sides under the same name is taken as
    the same: it would otherwise read as removed and added on every comparison.
    """
    differences = compare_metadata(MigrationContext.configure(connection), metadata)
    added = {d[1].name for d in differences if isinstance(d, tuple) and d[0] == "add_index"}
    removed = {d[1].name for d in differences if isinstance(d, tuple) and d[0] == "remove_index"}
    rewritten = {
        name
        for name in added & removed
        for table in metadata.tables.values()
        for index in table.indexes
        if index.name == name and any(not isinstance(e, sa.Column) for e in index.expressions)
    }
    return [
        d
        for d in differences
        if not (
            isinstance(d, tuple)
            and d[0] in ("add_index", "remove_index")
            and d[1].name in rewritten
        )
    ]


def alembic_config() -> Config:
    """Alembic's configuration, built in code: no `alembic.ini` in the working directory."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    """The revisions, read once per process."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The revision the code's metadata describes."""
    revision = scripts().get_current_head()
    assert revision is not None, "data/migrations/versions holds no revision"
    return revision


def current_revision(connection: sa.Connection) -> str | None:
    """The revision recorded in the database; None when it has no version table."""
    return MigrationContext.configure(connection).get_current_revision()


def stamp_head(connection: sa.Connection) -> None:
    """Record that the database holds the current schema (it was created from the metadata)."""
    MigrationContext.configure(connection).stamp(scripts(), head())


def outdated_schema(revision: str | None) -> Message:
    """The sentence that refuses a database whose schema is not the code's."""
    if revision is None:
        return Message(
            N_(
                "The database has an older schema (from before schema versions, this release "
                "needs {head}); run 'mar-insight upgrade' to bring it up to date, which keeps "
                "every row."
            ),
            head=head(),
        )
    if revision in {script.revision for script in scripts().walk_revisions()}:
        return Message(
            N_(
                "The database has an older schema ({found}, this release needs {head}); run "
                "'mar-insight upgrade' to bring it up to date, which keeps every row."
            ),
            found=revision,
            head=head(),
        )
    return Message(
        N_(
            "The database has schema {found}, which this release of MAR Insight does not know "
            "(it knows up to {head}); use the release that upgraded the database."
        ),
        found=revision,
        head=head(),
    )
