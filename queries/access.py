"""Who the viewer is and what they may see, read from the `users` table.

Management and admins see every partner; an account manager sees only the partners they
manage.  The scope travels inside `Filters`, so every metric applies it (queries/scope.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl
import sqlalchemy as sa

from data.schema import account_managers, users
from i18n import Language, is_language
from queries.filters import Filters
from queries.run import fetch


@dataclasses.dataclass(frozen=True)
class Viewer:
    """A signed-in person (or a demo persona) and the role that decides their scope."""

    email: str
    role: str
    account_manager_id: int | None = None
    name: str = ""
    #: The language of their digests and alerts; None: MAR_LANGUAGE's.
    language: Language | None = None

    @property
    def scope_account_manager_id(self) -> int | None:
        """The manager whose partners bound this viewer's data; None means everything."""
        return self.account_manager_id if self.role == "account_manager" else None

    @property
    def sees_audit_log(self) -> bool:
        return self.role in ("management", "admin")

    def restrict(self, filters: Filters) -> Filters:
        return filters.replace(scope_account_manager_id=self.scope_account_manager_id)


def _viewers() -> sa.Select[Any]:
    return (
        sa.select(
            users.c.email,
            users.c.role,
            users.c.account_manager_id,
            account_managers.c.name,
            users.c.language,
        )
        .outerjoin(account_managers, account_managers.c.id == users.c.account_manager_id)
        .order_by(users.c.role.desc(), account_managers.c.name, users.c.email)
    )


def viewer_for_email(connection: sa.Connection, email: str) -> Viewer | None:
    """The viewer for a signed-in e-mail address (case-insensitive), or None if unknown."""
    row = connection.execute(
        _viewers().where(sa.func.lower(users.c.email) == email.strip().lower())
    ).first()
    if row is None:
        return None
    language = row[4] if is_language(row[4]) else None
    return Viewer(
        email=row[0],
        role=row[1],
        account_manager_id=row[2],
        name=row[3] or row[0],
        language=language,
    )


def demo_personas(connection: sa.Connection) -> pl.DataFrame:
    """The users a demo visitor may act as: management first, then each account manager."""
    statement = _viewers().where(users.c.role.in_(("management", "account_manager")))
    return fetch(
        connection,
        statement,
        {
            "email": pl.String,
            "role": pl.String,
            "account_manager_id": pl.Int64,
            "name": pl.String,
            "language": pl.String,
        },
    )
