"""The German and French catalogs are complete, compiled and true to the glossary.

The messages are extracted from the source in the test itself (with the project's babel.cfg),
so a new `_("…")` without a translation fails here even when nobody ran `make catalogs`.
"""

from __future__ import annotations

import gettext
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from i18n import LANGUAGES, Language
from i18n.catalogs import LOCALE_DIR, translations

ROOT = Path(__file__).resolve().parents[1]
TRANSLATED: tuple[Language, ...] = ("de", "fr")
#: Abbreviations and names the glossary keeps as they are in every language.
KEPT = ("MAR", "TPR", "RRP", "DPK", "CBR", "MAR Insight")
Message = str | tuple[str, str]


@cache
def _source_messages() -> frozenset[Message]:
    """Every message marked with `_`, `N_` or `ngettext` in the code the catalogs cover."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    return frozenset(
        message if isinstance(message, str) else (message[0], message[1])
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map
        )
    )


@cache
def _catalog(language: Language) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def _id(message: Message) -> str:
    return message if isinstance(message, str) else message[0]


def _forms(language: Language, message: Message) -> list[str]:
    """The translated forms of `message` in the .po file; empty strings for none."""
    entry = _catalog(language).get(_id(message))
    if entry is None:
        return [""]
    return [entry.string] if isinstance(entry.string, str) else list(entry.string)


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w*)[^}]*\}", text))


def test_the_code_marks_messages_for_translation() -> None:
    assert "Overview" in _source_messages()


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_of_the_code_has_a_translation(language: Language) -> None:
    untranslated = sorted(
        str(message)
        for message in _source_messages()
        if not all(_forms(language, message)) or _catalog(language)[_id(message)].fuzzy
    )
    assert untranslated == [], f"{len(untranslated)} messages lack a {language} translation"


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_keeps_the_placeholders_of_its_message(language: Language) -> None:
    """A placeholder lost or renamed would raise KeyError when the sentence is shown."""
    wrong = [
        _id(message)
        for message in _source_messages()
        for form in _forms(language, message)
        if form and _placeholders(form) != _placeholders(_id(message))
    ]
    assert wrong == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_keeps_the_abbreviations_the_glossary_keeps(language: Language) -> None:
    wrong = [
        (_id(message), term)
        for message in _source_messages()
        for term in KEPT
        if re.search(rf"\b{term}\b", _id(message))
        for form in _forms(language, message)
        if not re.search(rf"\b{term}\b", form)
    ]
    assert wrong == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_says_what_the_po_file_says(language: Language) -> None:
    """The shipped .mo files are compiled from the .po files as they are (`make catalogs`)."""
    compiled = translations(language)
    assert isinstance(compiled, gettext.GNUTranslations)
    for entry in _catalog(language):
        forms = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        if not entry.id or not all(forms):
            continue
        if isinstance(entry.id, str):
            assert compiled.gettext(entry.id) == entry.string
        else:
            singular, plural = entry.id[0], entry.id[1]
            assert compiled.ngettext(singular, plural, 1) == entry.string[0]


def test_german_counts_one_row_and_two_rows() -> None:
    german = translations("de")
    assert german.ngettext("{count} row", "{count} rows", 1) == "{count} Zeile"
    assert german.ngettext("{count} row", "{count} rows", 2) == "{count} Zeilen"
