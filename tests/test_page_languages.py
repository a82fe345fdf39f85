"""Every page in German and French, for management and for an account manager: it renders
without exception, and no label it shows is still the English one.

A text counts as English-only when the German (or French) page shows exactly the text the
English page shows and a word of it is neither data (partner, product, site, manager names,
lost reasons: data stays data) nor a word the two languages share (`GLOSSARY.md`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pyarrow
import pyarrow.ipc
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from data.db import make_engine
from i18n import NATIVE_NAMES, Language
from tests.apptest_support import APP, PAGES, open_page

#: Names and abbreviations no language translates (GLOSSARY.md).
NEVER_TRANSLATED = frozenset(
    ("MAR", "Insight", "TPR", "TPRs", "RRP", "RRPs", "DPK", "CBR", "COA", "OA3", "CSV", "Excel")
)
#: Words each language writes as English does.
SHARED_WORDS: dict[Language, frozenset[str]] = {
    "de": NEVER_TRANSLATED
    | {"Windows", "Office", "Partner", "Segment", "Region", "Status", "Administrator", "Code"}
    | {"Compliance", "OK"}
    | {"Account", "Manager"},
    "fr": NEVER_TRANSLATED
    | {"Windows", "Office", "Installations", "Conversions", "Segment", "Date", "Site", "Note"}
    | {"Code", "OK"},
}
WORD = re.compile(r"[^\W\d_]+")
#: Plotly placeholders and markup in hover templates, which no reader sees as words.
MARKUP = re.compile(r"%\{[^}]*\}|<[^>]+>|:material/[a-z_]+:")


@cache
def _data_words(url: str) -> frozenset[str]:
    """Every word the database itself holds in names and free text."""
    engine = make_engine(url)
    queries = (
        "SELECT name FROM partners",
        "SELECT region FROM partners",
        "SELECT country FROM partners",
        "SELECT name FROM account_managers",
        "SELECT code FROM products",
        "SELECT name FROM products",
        "SELECT DISTINCT site FROM installations",
        "SELECT DISTINCT lost_reason FROM conversions",
        "SELECT email FROM users",
    )
    words: set[str] = set(NATIVE_NAMES.values())  # the language switch names each in itself
    with engine.connect() as connection:
        for query in queries:
            for (value,) in connection.execute(sa.text(query)):
                words.update(WORD.findall(str(value or "")))
    engine.dispose()
    return frozenset(words)


def _plotly_texts(spec: dict[str, Any]) -> Iterator[str]:
    layout = spec.get("layout", {})
    yield str(layout.get("title", {}).get("text") or "")
    for axis in ("xaxis", "yaxis"):
        yield str(layout.get(axis, {}).get("title", {}).get("text") or "")
    for annotation in layout.get("annotations", []):
        yield str(annotation.get("text") or "")
    for trace in spec.get("data", []):
        yield str(trace.get("name") or "")
        yield str(trace.get("hovertemplate") or "")
        for axis in ("x", "y"):
            values = trace.get(axis)
            if isinstance(values, list):
                yield from (v for v in values if isinstance(v, str))


def _texts(app: AppTest) -> set[str]:
    """Every text the page shows a reader: titles, sentences, labels, options, table headers
    and text cells, chart titles, axes, legends and hover labels."""
    texts: list[str] = []
    for kind in ("title", "header", "subheader", "caption", "markdown", "info", "warning"):
        texts += [str(element.value) for element in getattr(app, kind)]
    texts += [str(element.value) for element in app.error]
    for metric in app.metric:
        texts += [metric.label, metric.proto.help]
    for kind in ("selectbox", "multiselect", "segmented_control", "date_input", "button"):
        for widget in getattr(app, kind):
            texts += [widget.label, widget.proto.help]
            texts += [str(o) for o in getattr(widget, "options", [])]
            texts.append(getattr(widget.proto, "placeholder", ""))
    for button in app.get("download_button"):
        texts += [button.label, button.help]  # type: ignore[attr-defined]
    texts += [tab.label for tab in app.tabs]
    for table in app.dataframe:
        columns = json.loads(table.proto.columns or "{}")
        texts += [str(config.get("label") or "") for config in columns.values()]
        frame = table.value
        for name in frame.columns:
            if frame[name].dtype == object:
                texts += [str(v) for v in frame[name].dropna().unique()]
    for chart in app.get("plotly_chart"):
        texts += list(_plotly_texts(json.loads(chart.proto.spec)))  # type: ignore[attr-defined]
    return {MARKUP.sub(" ", text).strip() for text in texts if text}


def _english_words(text: str, language: Language, data: frozenset[str]) -> list[str]:
    shared = {word.lower() for word in SHARED_WORDS[language]}
    return [w for w in WORD.findall(text) if w not in data and w.lower() not in shared]


def _render(page: str, language: Language, persona: str | None, partner: int) -> AppTest:
    """The page as `persona` (None: management) sees it; the partner detail page opened on
    one of the viewer's partners."""
    app = AppTest.from_file(APP, default_timeout=60)
    if persona:
        app.session_state["w_persona"] = persona
    params = {"partner": str(partner)} if page == "partner_detail" else {}
    return open_page(app, page, lang=language, **params)


def _account_manager(url: str) -> tuple[str, int]:
    """An account manager's e-mail and one of their partners."""
    engine = make_engine(url)
    with engine.connect() as connection:
        email, partner = connection.execute(
            sa.text(
                "SELECT u.email, min(p.id) FROM users u JOIN partners p "
                "ON p.account_manager_id = u.account_manager_id "
                "WHERE u.role = 'account_manager' GROUP BY u.email ORDER BY u.email"
            )
        ).first()  # type: ignore[misc]
    engine.dispose()
    return str(email), int(partner)


@pytest.mark.parametrize("viewer", ["management", "account_manager"])
@pytest.mark.parametrize("page", [*PAGES, "audit"])
def test_every_page_reads_in_german_and_french_with_no_english_left(
    app: AppTest, demo_url: str, page: str, viewer: str
) -> None:
    if page == "audit" and viewer == "account_manager":
        pytest.skip("the audit log is not in an account manager's navigation")
    persona, partner = _account_manager(demo_url) if viewer == "account_manager" else (None, 1)
    english = _texts(_render(page, "en", persona, partner))
    data = _data_words(demo_url)
    for language in ("de", "fr"):
        shown = _render(page, language, persona, partner)
        assert not shown.exception, f"{page} in {language}: {shown.exception}"
        left = sorted(
            text
            for text in _texts(shown)
            if text in english and _english_words(text, language, data)
        )
        assert not left, f"{page} in {language} still shows English: {left}"


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize(("language", "sign"), [("de", ","), ("fr", ","), ("en", ".")])
def test_table_fractions_are_written_in_the_chosen_language_and_stay_numbers(
    language: Language, sign: str
) -> None:
    """Whatever the browser's locale, the cells read with the chosen language's decimal sign
    (the grid shows each cell's written text) while the column still holds numbers, which
    the grid sorts by (in Chromium, days of cover 11,2 < 40,1 < 308,0 < 602,5)."""
    table = _render("stock", language, None, 1).dataframe[0]
    written = pyarrow.ipc.open_stream(table.proto.arrow_data.styler.display_values).read_all()
    numbers = pyarrow.ipc.open_stream(table.proto.arrow_data.data).read_all()
    column = numbers.schema.names.index("consumption_per_day")
    assert pyarrow.types.is_floating(numbers.schema.field(column).type)
    cells = [str(cell) for cell in written.column(column).to_pylist()]
    assert all(re.fullmatch(rf"\d+{re.escape(sign)}\d\d", cell) for cell in cells), cells
