"""The product's languages: gettext catalogs and Babel formats for English, German and French.

Nothing here imports Streamlit, so the dashboard, the command line and the mail all translate
and format through the same catalogs and the same CLDR rules.
"""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

Language = Literal["en", "de", "fr"]
#: Every language with a catalog, in the order the language switch shows them.
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"
#: Each language named in itself, as a switch offers it to someone who does not read the others.
NATIVE_NAMES: dict[Language, str] = {"en": "English", "de": "Deutsch", "fr": "Français"}


def is_language(value: object) -> TypeGuard[Language]:
    """True when `value` is the code of a language with a catalog."""
    return value in LANGUAGES


def language_of_locale(locale: str | None) -> Language | None:
    """The catalog language of a browser or system locale (`de-CH`, `fr_FR.UTF-8`), if any."""
    if not locale:
        return None
    code = locale.replace("_", "-").split("-")[0].split(".")[0].lower()
    return code if is_language(code) else None
