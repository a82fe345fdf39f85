"""What the screen calls things: labels instead of raw codes, honest deltas, whose figures.

Pages are driven with Streamlit's AppTest on a real demo database, as management and as an
account manager (demo mode, persona picked in the sidebar); the card and caption rules are
pure functions tested directly.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import labels, ui
from data.db import make_engine
from data.demo import generate_demo
from data.schema import audit_log
from queries.conversions import WAITING_BUCKETS
from queries.kpis import KPIS
from tests.apptest_support import APP, PAGES

AS_OF = dt.date(2026, 11, 25)
#: A code as the data holds it: lower case words joined by underscores ("contract_signed").
SNAKE_CASE = re.compile(r"[a-z]+(_[a-z0-9]+)+")
#: Every enumeration value whose label differs from the code.
CODES = {code for values in labels.VALUES.values() for code, label in values.items()} - {
    label for values in labels.VALUES.values() for label in values.values()
}
KPI = {kpi.name: kpi for kpi in KPIS}


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('labels') / 'demo.sqlite'}"
    engine = make_engine(url)
    generate_demo(engine, installations=20_000, seed=7, as_of=AS_OF, progress=lambda *_: None)
    with engine.begin() as connection:
        connection.execute(
            audit_log.insert().values(
                at=dt.datetime(2026, 11, 20, 9, 30),
                who="manager@example.com",
                report="throughput",
                filters=json.dumps({"from": ["2025-11-26"], "segment": ["nonprofit"]}),
                row_count=12,
            )
        )
    engine.dispose()
    return url


def _scalar(url: str, sql: str, **params: object) -> Any:
    engine = make_engine(url)
    with engine.connect() as connection:
        value = connection.execute(sa.text(sql), params).scalar_one()
    engine.dispose()
    return value


@pytest.fixture(scope="module")
def account_manager_email(demo_url: str) -> str:
    return str(_scalar(demo_url, "SELECT min(email) FROM users WHERE role = 'account_manager'"))


@pytest.fixture(scope="module")
def partner_of(demo_url: str) -> dict[str | None, str]:
    """A partner each persona may open on the partner detail page (None: management)."""
    sql = (
        "SELECT min(p.id) FROM partners p JOIN users u "
        "ON u.account_manager_id = p.account_manager_id WHERE u.email = :email"
    )
    managers = _scalar(demo_url, "SELECT min(email) FROM users WHERE role = 'account_manager'")
    return {
        None: str(_scalar(demo_url, "SELECT min(id) FROM partners")),
        str(managers): str(_scalar(demo_url, sql, email=managers)),
    }


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> Iterator[AppTest]:
    monkeypatch.setenv("MAR_DATABASE_URL", demo_url)
    monkeypatch.setenv("MAR_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("MAR_REQUIRE_AUTH", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield AppTest.from_file(APP, default_timeout=60)
    st.cache_resource.clear()
    st.cache_data.clear()


def _open_as(app: AppTest, persona: str | None, page: str, partner: str | None = None) -> AppTest:
    """Pick the demo persona (None: the first, management), then open `page` (with one
    partner in the URL when given)."""
    if partner is not None:
        app.query_params["partner"] = partner
    app.run()
    if persona is not None:
        app.sidebar.selectbox(key="w_persona").set_value(persona).run()
    if page != "overview":
        app.switch_page(f"dashboard/pages/{page}.py")
        app.run()
    assert not app.exception, app.exception
    return app


def _chart_texts(spec: dict[str, Any]) -> Iterator[str]:
    """Trace names, category values, text labels and titles of a Plotly figure."""
    for trace in spec.get("data", []):
        for key in ("name", "x", "y", "text", "labels"):
            value = trace.get(key)
            values = value if isinstance(value, list) else [value]
            yield from (v for v in values if isinstance(v, str))
    layout = spec.get("layout", {})
    for key, part in layout.items():
        if isinstance(part, dict) and isinstance(part.get("title"), dict):
            yield str(part["title"].get("text") or "")
        if key == "title" and isinstance(part, dict):
            yield str(part.get("text") or "")


def _shown_texts(app: AppTest) -> Iterator[tuple[str, str]]:
    """(where, text) for every table cell, card, tab and chart label on the page."""
    for table in app.dataframe:
        frame = pl.from_pandas(table.value)
        for name, dtype in frame.schema.items():
            if dtype == pl.String:
                yield from ((f"table column {name}", v) for v in frame[name] if v)
    for metric in app.metric:
        yield ("card", metric.label)
        yield ("card", str(metric.value))
    for tab in app.tabs:
        yield ("tab", tab.label)
    for chart in app.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        yield from (("chart", text) for text in _chart_texts(spec))


def _raw_codes(app: AppTest) -> list[tuple[str, str]]:
    return [
        (where, text)
        for where, text in _shown_texts(app)
        if text in CODES or SNAKE_CASE.fullmatch(text)
    ]


@pytest.mark.parametrize("page", (*PAGES, "audit"))
def test_no_page_shows_management_a_raw_code(
    app: AppTest, partner_of: dict[str | None, str], page: str
) -> None:
    partner = partner_of[None] if page == "partner_detail" else None
    shown = _open_as(app, None, page, partner)

    assert list(_shown_texts(shown))
    assert _raw_codes(shown) == []


@pytest.mark.parametrize("page", PAGES)
def test_no_page_shows_an_account_manager_a_raw_code(
    app: AppTest, account_manager_email: str, partner_of: dict[str | None, str], page: str
) -> None:
    partner = partner_of[account_manager_email] if page == "partner_detail" else None
    shown = _open_as(app, account_manager_email, page, partner)

    assert list(_shown_texts(shown))
    assert _raw_codes(shown) == []


def test_the_stuck_list_shows_stages_by_label_and_waits_in_buckets(app: AppTest) -> None:
    # Mid-2021, while RRPs were still converting: by AS_OF the demo has lost every RRP that
    # went silent for a year, so nobody is stuck any more.
    app.query_params["as_of"] = "2021-06-30"
    _open_as(app, None, "conversions")

    tabs = [tab.label for tab in app.tabs]
    assert any(label.startswith("Contract signed (") for label in tabs)
    stuck = next(
        pl.from_pandas(t.value) for t in app.dataframe if "days_at_stage" in t.value.columns
    )
    assert set(stuck["waiting"]) <= {name for name, _, _ in WAITING_BUCKETS}


def test_the_stock_table_marks_the_partners_in_view_for_an_account_manager(
    app: AppTest, account_manager_email: str
) -> None:
    _open_as(app, account_manager_email, "stock")

    assert any("whatever the partner filters" in caption.value for caption in app.caption)
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    names = {trace.get("name") for spec in charts for trace in spec["data"]}
    assert "Partner stock (partners in view)" in names


def test_the_overview_says_whose_installations_a_managers_projection_is_about(
    app: AppTest, account_manager_email: str
) -> None:
    _open_as(app, account_manager_email, "overview")

    assert any("partners in view (not the company's)" in c.value for c in app.caption)


def test_the_audit_log_shows_its_filters_as_words(app: AppTest) -> None:
    _open_as(app, None, "audit")

    [entries] = [pl.from_pandas(t.value) for t in app.dataframe]
    assert entries["filters"].to_list() == ["2025-11-26 to … · segment Non-profit"]


def test_filters_are_described_in_the_order_a_reader_expects() -> None:
    text = labels.filters_text(
        json.dumps({"from": ["2025-12-01"], "to": ["2026-11-25"], "partner": ["3", "7"]})
    )

    assert text == "2025-12-01 to 2026-11-25 · partner 3, 7"


# --- KPI deltas -----------------------------------------------------------------------------


def test_a_zero_change_is_neutral_without_an_arrow() -> None:
    assert ui.kpi_delta(KPI["converted_rrps"], 187, 187) == ui.Delta("no change", "off", "off")


def test_a_change_that_rounds_to_zero_is_neutral() -> None:
    # 60.31 % against 60.28 %: +0.03pp, shown to one decimal as 0.0pp.
    delta = ui.kpi_delta(KPI["conversion_rate"], 0.6031, 0.6028)

    assert delta == ui.Delta("no change", "off", "off")


def test_a_rise_carries_its_sign_and_is_good_where_up_is_good() -> None:
    assert ui.kpi_delta(KPI["installations"], 1172, 1000) == ui.Delta("+172", "normal", "auto")


def test_a_fall_carries_its_sign() -> None:
    assert ui.kpi_delta(KPI["active_partners"], 8, 10) == ui.Delta("-2", "normal", "auto")


def test_more_partners_behind_on_reporting_is_bad_news() -> None:
    delta = ui.kpi_delta(KPI["partners_behind_on_reporting"], 12, 9)

    assert delta == ui.Delta("+3", "inverse", "auto")


def test_a_change_in_keys_in_stock_is_neither_good_nor_bad() -> None:
    assert ui.kpi_delta(KPI["keys_in_stock"], 900, 1000).colour == "off"


def test_percent_kpis_change_in_percentage_points() -> None:
    assert ui.kpi_delta(KPI["conversion_rate"], 0.62, 0.60).text == "+2.0pp"


def test_no_previous_value_gives_no_delta() -> None:
    assert ui.kpi_delta(KPI["days_of_cover"], 14.0, None).text is None


# --- the milestone sentence -----------------------------------------------------------------

PROJECTION = {
    "milestone": 100_000,
    "remaining": 71_794,
    "rate_per_day": 19.2,
    "projected_on": dt.date(2037, 3, 3),
}


def test_the_companys_milestone_projection_names_the_company() -> None:
    assert ui.milestone_caption(PROJECTION, narrowed=False) == (
        "Next milestone 100,000 for the company: 71,794 to go at 19.2 per day (last 28 days) "
        "→ projected for **2037-03-03**."
    )


def test_a_narrowed_projection_says_it_is_not_the_companys() -> None:
    caption = ui.milestone_caption(PROJECTION, narrowed=True)

    assert caption is not None
    assert caption.startswith("Next milestone 100,000 for the partners in view (not the company's)")
