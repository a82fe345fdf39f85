"""Every page, driven with Streamlit's AppTest on a real demo database.

Expected figures are counted with plain SQL in the test, not by the query layer.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from cli.main import main as cli
from data.db import make_engine
from data.errors import DATABASE_UNREACHABLE
from tests.apptest_support import AS_OF, PAGES, open_page


def _scalar(url: str, sql: str, **params: object) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        value = connection.execute(sa.text(sql), params).scalar_one()
    engine.dispose()
    return int(value)


def _metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception_or_error(app: AppTest, page: str) -> None:
    open_page(app, page)
    assert not app.exception
    assert not app.error
    assert app.title
    assert "Showing As of 2026-11-25 · 2025-11-26 to 2026-11-25" in [c.value for c in app.caption]


def test_overview_shows_installations_of_the_last_365_days(app: AppTest, demo_url: str) -> None:
    expected = _scalar(
        demo_url,
        "SELECT count(*) FROM installations WHERE status = 'success' "
        "AND installed_at >= '2025-11-26' AND installed_at < '2026-11-26'",
    )
    open_page(app, "overview")
    assert _metric(app, "Installations") == f"{expected:,}"


def test_url_partner_filter_changes_the_overview_figures(app: AppTest, demo_url: str) -> None:
    expected = _scalar(
        demo_url,
        "SELECT count(*) FROM installations WHERE status = 'success' AND partner_id = 3 "
        "AND installed_at >= '2026-01-01' AND installed_at < '2026-07-01'",
    )
    open_page(app, "overview", partner="3", **{"from": "2026-01-01", "to": "2026-06-30"})
    assert _metric(app, "Installations") == f"{expected:,}"
    assert _metric(app, "Active partners") in {"0", "1"}


def test_url_parameters_set_the_sidebar_widgets(app: AppTest) -> None:
    open_page(app, "partners", segment="education", **{"from": "2026-01-01", "to": "2026-06-30"})
    assert app.date_input(key="w_from").value == dt.date(2026, 1, 1)
    assert app.date_input(key="w_to").value == dt.date(2026, 6, 30)
    assert app.multiselect(key="w_segment").value == ["education"]


def test_changing_a_sidebar_widget_writes_the_url(app: AppTest) -> None:
    open_page(app, "overview")
    app.multiselect(key="w_segment").select("nonprofit").run()
    assert app.query_params["segment"] == "nonprofit"


def test_a_preset_sets_the_date_range(app: AppTest) -> None:
    open_page(app, "overview")
    app.selectbox(key="w_preset").select("Last 30 days").run()
    assert app.query_params["from"] == "2026-10-27"
    assert app.query_params["to"] == "2026-11-25"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"from": "not-a-date"}, "'from'"),
        ({"partner": "999999"}, "no partner with id 999999"),
        ({"segment": "retail"}, "'segment'"),
        ({"product": "NOPE"}, "no product with the code 'NOPE'"),
        ({"from": "2030-01-01", "to": "2030-12-31"}, "after the as-of date (2026-11-25)"),
        ({"grain": "year"}, "'grain'"),
        ({"colour": "red"}, "'colour'"),
    ],
)
def test_a_bad_url_parameter_shows_one_clear_sentence(
    app: AppTest, params: dict[str, str], words: str
) -> None:
    open_page(app, "overview", **params)
    assert not app.exception
    assert len(app.error) == 1
    assert words in app.error[0].value


def test_partner_detail_opens_the_partner_named_in_the_url(app: AppTest, demo_url: str) -> None:
    engine = make_engine(demo_url)
    with engine.connect() as connection:
        name = connection.execute(sa.text("SELECT name FROM partners WHERE id = 5")).scalar_one()
    engine.dispose()
    open_page(app, "partner_detail", partner="5")
    assert not app.exception
    assert any(name in header.value for header in app.header)


def test_partner_detail_without_a_partner_offers_a_chooser(app: AppTest) -> None:
    open_page(app, "partner_detail")
    assert not app.exception
    assert [box.label for box in app.main.selectbox] == ["Partner"]


def test_database_without_tables_shows_what_to_do(
    app: AppTest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAR_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    open_page(app, "overview")
    assert not app.exception
    assert "mar-insight demo" in app.error[0].value


def test_unreachable_database_shows_one_sentence(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAR_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:9/none")
    monkeypatch.setenv("MAR_CONNECT_TIMEOUT_SECONDS", "1")
    open_page(app, "overview")
    assert not app.exception
    assert [e.value for e in app.error] == [DATABASE_UNREACHABLE]


@pytest.mark.parametrize(
    ("param", "flag", "value"),
    [
        ("am", "--account-manager", "999"),
        ("product", "--product", "NOPE"),
        ("segment", "--segment", "retail"),
        ("region", "--region", "Atlantis"),
        ("country", "--country", "ZZ"),
        ("partner", "--partner", "999999"),
    ],
)
def test_the_cli_refuses_an_unknown_value_with_the_sidebars_sentence(
    app: AppTest,
    demo_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    param: str,
    flag: str,
    value: str,
) -> None:
    # Issue 14: `export partner-volumes --account-manager 999` exited 0 with an empty CSV.
    open_page(app, "overview", **{param: value})
    out = tmp_path / "report.csv"
    capsys.readouterr()

    code = cli(["export", "partner-volumes", "--url", demo_url, flag, value, "--out", str(out)])

    [sentence] = [e.value for e in app.error]
    assert (code, capsys.readouterr().err, out.exists()) == (2, f"mar-insight: {sentence}\n", False)


def test_a_range_ending_after_the_as_of_date_is_shown_up_to_it(app: AppTest) -> None:
    open_page(app, "overview", **{"from": "2026-11-01", "to": "2030-12-31"})
    assert not app.error
    assert app.date_input(key="w_to").value == AS_OF
    assert app.query_params["to"] == "2030-12-31"


def test_the_partner_chooser_offers_no_select_all_matches(app: AppTest) -> None:
    # Issue 11: its first option "Select 23 matches" picked every fuzzy match of a word.
    open_page(app, "partners")
    assert app.multiselect(key="w_partner").proto.select_all == 0
