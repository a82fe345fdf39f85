"""Errors the user can fix; their message is one plain sentence shown as it is."""

from collections.abc import Callable

import sqlalchemy.exc

from i18n.catalogs import N_


class UserError(Exception):
    """A problem with input or configuration that the user, not the code, must fix.

    The message is an English template marked with `N_` and the values that fill it, so each
    door (page, command line) can show it in its reader's language; `str()` is the English
    sentence, for logs and for code that has no language.
    """

    def __init__(self, message: str, **values: object) -> None:
        self.message = message
        self.values = values
        super().__init__(message.format(**values) if values else message)

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The sentence in the language of `gettext`."""
        text = gettext(self.message)
        return text.format(**self.values) if self.values else text


DATABASE_UNREACHABLE = N_(
    "The database cannot be reached; check that it is running and that MAR_DATABASE_URL "
    "points to it, then reload."
)

STATEMENT_TIMEOUT = N_(
    "The database took too long to answer and the query was cancelled; narrow the date range "
    "or filters, or try again in a moment."
)


DATABASE_BUSY = N_(
    "The database is busy: every connection stayed in use while this page waited for one; "
    "try again in a moment."
)

#: The failures `describe_database_error` explains: the server, or the pool in front of it.
DATABASE_ERRORS = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError)


def describe_database_error(error: Exception) -> str:
    """One sentence for a database failure: a cancelled slow query, a pool with no free
    connection in time, or an unreachable server (in English: translate it where it is
    shown, it is a catalog message)."""
    if isinstance(error, sqlalchemy.exc.TimeoutError):
        return DATABASE_BUSY
    if getattr(getattr(error, "orig", None), "pgcode", None) == "57014":
        return STATEMENT_TIMEOUT
    return DATABASE_UNREACHABLE
