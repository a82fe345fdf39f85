"""Errors the user can fix; their message is one plain sentence shown as it is."""

import sqlalchemy.exc


class UserError(Exception):
    """A problem with input or configuration that the user, not the code, must fix."""


DATABASE_UNREACHABLE = (
    "The database cannot be reached; check that it is running and that MAR_DATABASE_URL "
    "points to it, then reload."
)

STATEMENT_TIMEOUT = (
    "The database took too long to answer and the query was cancelled; narrow the date range "
    "or filters, or try again in a moment."
)


DATABASE_BUSY = (
    "The database is busy: every connection stayed in use while this page waited for one; "
    "try again in a moment."
)

#: The failures `describe_database_error` explains: the server, or the pool in front of it.
DATABASE_ERRORS = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError)


def describe_database_error(error: Exception) -> str:
    """One sentence for a database failure: a cancelled slow query, a pool with no free
    connection in time, or an unreachable server."""
    if isinstance(error, sqlalchemy.exc.TimeoutError):
        return DATABASE_BUSY
    if getattr(getattr(error, "orig", None), "pgcode", None) == "57014":
        return STATEMENT_TIMEOUT
    return DATABASE_UNREACHABLE
