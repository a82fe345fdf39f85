"""Errors the user can fix; their message is one plain sentence shown as it is."""

from collections.abc import Callable, Sequence

import sqlalchemy.exc

from i18n.catalogs import N_


class Message:
    """An English template marked with `N_` and the values that fill it, translated where it
    is shown: the page, the command line and the mail each know their reader's language, the
    code that finds the problem does not.

    A value may itself be a `Message` or a `Listing` (a reason inside a sentence, the list of
    an import's problems); it is translated with the sentence around it.  `str()` is the
    English sentence, for logs and for code that has no language.
    """

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = values

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The sentence in the language of `gettext`."""
        text = gettext(self.template)
        if not self.values:
            return text
        return text.format(**{name: _in(value, gettext) for name, value in self.values.items()})

    def __str__(self) -> str:
        return self.translated(_english)


class Listing:
    """Messages shown one per line, each after `bullet` (an import's problems)."""

    def __init__(self, items: Sequence[Message], bullet: str = "  - ") -> None:
        self.items = tuple(items)
        self.bullet = bullet

    def translated(self, gettext: Callable[[str], str]) -> str:
        return "\n".join(f"{self.bullet}{item.translated(gettext)}" for item in self.items)

    def __str__(self) -> str:
        return self.translated(_english)


def _english(message: str) -> str:
    return message


def _in(value: object, gettext: Callable[[str], str]) -> object:
    return value.translated(gettext) if isinstance(value, Message | Listing) else value


class UserError(Exception):
    """A problem with input or configuration that the user, not the code, must fix.

    It carries a `Message` (or an English template and its values, made into one), so each
    door (page, command line, mail run) can show it in its reader's language; `str()` is the
    English sentence.
    """

    def __init__(self, message: str | Message, **values: object) -> None:
        self.sentence = message if isinstance(message, Message) else Message(message, **values)
        super().__init__(str(self.sentence))

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The sentence in the language of `gettext`."""
        return self.sentence.translated(gettext)


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
