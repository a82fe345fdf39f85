"""The viewer's language: `?lang=` in the URL, else the browser's, else MAR_LANGUAGE; a switch
in the sidebar; figures and downloads in that language.

Driven with AppTest on the demo database of `tests/test_pages.py`.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_support import open_page
from tests.test_pages import _scalar

NNBSP = "\u202f"
LAST_365_DAYS = (
    "SELECT count(*) FROM installations WHERE status = 'success' "
    "AND installed_at >= '2025-11-26' AND installed_at < '2026-11-26'"
)


def _switch(app: AppTest) -> str:
    value: str = app.segmented_control(key="w_language").value
    return value


def test_lang_in_the_url_chooses_german(app: AppTest) -> None:
    open_page(app, "overview", lang="de")

    assert _switch(app) == "de"
    assert app.segmented_control(key="w_language").label == "Sprache"


def test_figures_are_grouped_as_the_language_groups(app: AppTest, demo_url: str) -> None:
    expected = _scalar(demo_url, LAST_365_DAYS)
    assert expected >= 1000  # so that there is a group to separate

    german = open_page(app, "overview", lang="de").metric[0].value
    french = open_page(app, "overview", lang="fr").metric[0].value

    assert german == f"{expected:,}".replace(",", ".")
    assert french == f"{expected:,}".replace(",", NNBSP)


def test_an_unknown_language_is_one_sentence_and_the_page_still_shows(app: AppTest) -> None:
    open_page(app, "overview", lang="xx")

    assert [w.value for w in app.warning] == [
        "The parameter 'lang' names 'xx', which is not a language of MAR Insight; use de, fr or en."
    ]
    assert not app.exception
    assert _switch(app) == "en"


def test_without_lang_the_configured_language_applies(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAR_LANGUAGE", "fr")

    open_page(app, "overview")

    assert _switch(app) == "fr"


def test_the_switch_writes_the_language_into_the_url(app: AppTest) -> None:
    open_page(app, "overview")

    app.segmented_control(key="w_language").set_value("de").run()

    assert app.query_params["lang"] == "de"
    assert _switch(app) == "de"


def test_every_table_offers_the_machine_csv_and_a_csv_for_excel_in_the_language(
    app: AppTest,
) -> None:
    open_page(app, "overview", lang="de")

    labels = [button.label for button in app.get("download_button")]  # type: ignore[attr-defined]
    assert labels[:2] == ["CSV herunterladen (4 Zeilen)", "CSV für Excel"]
