"""Errors the user can fix; their message is one plain sentence shown as it is."""


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


def describe_database_error(error: Exception) -> str:
    """One sentence for a database failure: a cancelled slow query or an unreachable server."""
    if getattr(getattr(error, "orig", None), "pgcode", None) == "57014":
        return STATEMENT_TIMEOUT
    return DATABASE_UNREACHABLE
