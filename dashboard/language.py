"""The viewer's language: `?lang=` in the URL, else the browser's, else MAR_LANGUAGE.

The entrypoint resolves it once per run, before any page draws, and keeps it in the session;
`_` and `ngettext` translate into it, and the switch in the sidebar writes `?lang=` so that a
shared link opens in the language it was sent in.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data_access
from data.settings import SettingsError
from i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    NATIVE_NAMES,
    Language,
    is_language,
    language_of_locale,
)
from i18n.catalogs import translations

PARAMETER = "lang"
_LANGUAGE = "mar.language"
_SWITCH = "w_language"


def current() -> Language:
    """The language `resolve` chose for this run (the setting's, before it has run)."""
    value = st.session_state.get(_LANGUAGE)
    return value if is_language(value) else _configured()


def _configured() -> Language:
    """MAR_LANGUAGE, or English while the settings cannot be read (the page then shows the
    sentence naming the wrong setting, which must not fail in turn)."""
    try:
        return data_access.settings().language
    except SettingsError:
        return DEFAULT_LANGUAGE


def _(message: str) -> str:
    """`message` in the viewer's language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form of a message for `count`, in the viewer's language."""
    return translations(current()).ngettext(singular, plural, count)


def _fallback() -> Language:
    return language_of_locale(st.context.locale) or _configured()


def resolve() -> str | None:
    """Choose this run's language; return the sentence to show when `?lang=` is unknown.

    An unknown value does not stop the page: it is read in the browser's or the configured
    language, and the sentence says which values there are.
    """
    wanted = st.query_params.get(PARAMETER)
    if wanted is None or is_language(wanted):
        st.session_state[_LANGUAGE] = wanted or _fallback()
        return None
    st.session_state[_LANGUAGE] = _fallback()
    return _(
        "The parameter 'lang' names '{value}', which is not a language of MAR Insight; "
        "use de, fr or en."
    ).format(value=wanted[:40])


def _on_switch() -> None:
    st.query_params[PARAMETER] = st.session_state[_SWITCH]


def switch() -> None:
    """The language switch in the sidebar, showing each language in its own name."""
    st.session_state[_SWITCH] = current()
    st.sidebar.segmented_control(
        _("Language"),
        LANGUAGES,
        key=_SWITCH,
        format_func=NATIVE_NAMES.__getitem__,
        required=True,
        on_change=_on_switch,
    )
