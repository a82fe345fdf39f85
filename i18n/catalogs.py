"""The gettext catalogs: compiled `.mo` files under `i18n/locale`, one per language.

Strings are written in English in the code and marked with `_` (translated where they are
shown) or `N_` (defined at import time, e.g. in a dict of labels, and translated by the code
that shows them); `make catalogs` extracts them, merges them into the `.po` files and compiles.
English has a catalog too, so wording can be changed without touching the code and every
language takes the same path.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

from i18n import Language

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


@cache
def translations(language: Language) -> gettext.GNUTranslations:
    """The compiled catalog of `language`.

    A missing catalog is a packaging fault, not something a viewer can fix, so it raises.
    """
    translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    assert isinstance(translation, gettext.GNUTranslations)
    return translation


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it yet (it is defined at import
    time, before anyone's language is known)."""
    return message
