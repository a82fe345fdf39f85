"""Who sees what (README): an account manager's scope cannot be bypassed.

Pages are driven with Streamlit's AppTest in signed-in mode (`at.secrets` with an `[auth]`
section, `at.user` as the OIDC claims) and in demo mode; exports go through
`mar-insight export --as-user`.  Who owns which partner is read with plain SQL from
`partners.account_manager_id`, never through the query layer under test.
The least-privilege database role is tested in test_least_privilege.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from cli.main import main as cli
from dashboard import auth, data_access
from data.db import make_engine
from data.demo import generate_demo
from queries.exports import REPORTS
from queries.filters import Filters
from queries.partners import unknown_partner_message
from queries.volumes import partner_volumes
from tests.apptest_support import APP, AUTH_SECRETS, PAGES, DeferredFiles, open_page

AS_OF = dt.date(2026, 11, 25)
RANGE_START = AS_OF - dt.timedelta(days=364)  # the default range: the last 365 days
DAY_AFTER = AS_OF + dt.timedelta(days=1)
UNKNOWN = 999_999


# -- the demo database and who owns what -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Manager:
    """An account manager's login and the partners they own (read with plain SQL)."""

    email: str
    account_manager_id: int
    partner_ids: frozenset[int]


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small demo database, built once per test process."""
    url = f"sqlite:///{tmp_path_factory.mktemp('access') / 'demo.sqlite'}"
    engine = make_engine(url)
    generate_demo(engine, installations=20_000, seed=7, as_of=AS_OF, progress=lambda *_: None)
    engine.dispose()
    return url


def _rows(url: str, sql: str, **params: object) -> list[sa.Row[Any]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = list(connection.execute(sa.text(sql), params))
    engine.dispose()
    return rows


@pytest.fixture(scope="session")
def owners(demo_url: str) -> dict[int, int | None]:
    """partner id → account manager id, the map every scope is checked against."""
    rows = _rows(demo_url, "SELECT id, account_manager_id FROM partners")
    return {row.id: row.account_manager_id for row in rows}


@pytest.fixture(scope="session")
def managers(demo_url: str, owners: dict[int, int | None]) -> list[Manager]:
    """Every user with the role account_manager, with the partners they own."""
    rows = _rows(
        demo_url,
        "SELECT email, account_manager_id FROM users WHERE role = 'account_manager' ORDER BY email",
    )
    result = [
        Manager(
            email=row.email,
            account_manager_id=row.account_manager_id,
            partner_ids=frozenset(p for p, m in owners.items() if m == row.account_manager_id),
        )
        for row in rows
    ]
    assert len(result) >= 2, "the demo needs several account managers to test scopes"
    assert all(manager.partner_ids for manager in result)
    return result


@pytest.fixture(scope="session")
def manager(demo_url: str, managers: list[Manager]) -> Manager:
    """The account manager with the most partners behind on reporting or stuck, so that every
    table of every page has rows for them."""
    return max(
        managers,
        key=lambda m: len(_behind_on_reporting(demo_url, m)) + len(_stuck(demo_url, m)),
    )


@pytest.fixture(scope="session")
def management_email(demo_url: str) -> str:
    rows = _rows(demo_url, "SELECT email FROM users WHERE role = 'management' ORDER BY email")
    return str(rows[0][0])


def _someone_elses_partner(manager: Manager, owners: dict[int, int | None]) -> int:
    return min(p for p, m in owners.items() if m != manager.account_manager_id)


def _behind_on_reporting(url: str, manager: Manager) -> set[int]:
    """The manager's TPRs with a report due before the as-of day and not submitted by it: a
    report row, or a month with successful installations and no row, due on day 10 of the
    next month, so (as of 2026-11-25) any month up to October 2026."""
    tpr = "(p.kind IS NULL OR p.kind = 'tpr') AND p.account_manager_id = :manager"
    rows = _rows(
        url,
        "SELECT r.partner_id FROM licence_reports r "
        f"JOIN partners p ON p.id = r.partner_id WHERE {tpr} AND r.due_at < :as_of "
        "AND (r.submitted_at IS NULL OR r.submitted_at >= :day_after) "
        "UNION SELECT i.partner_id FROM installations i "
        f"JOIN partners p ON p.id = i.partner_id WHERE {tpr} AND i.status = 'success' "
        "AND i.installed_at < '2026-11-01' AND NOT EXISTS (SELECT 1 FROM licence_reports r "
        "WHERE r.partner_id = i.partner_id AND r.period = date(i.installed_at, 'start of month'))",
        manager=manager.account_manager_id,
        as_of=AS_OF,
        day_after=DAY_AFTER,
    )
    return {row[0] for row in rows}


def _stuck(url: str, manager: Manager) -> set[int]:
    """The manager's former RRPs registered, not lost and without a first order at as-of."""
    rows = _rows(
        url,
        "SELECT c.partner_id FROM conversions c JOIN partners p ON p.id = c.partner_id "
        "WHERE p.account_manager_id = :manager AND c.rrp_registered_at < :day_after "
        "AND (c.first_order_at IS NULL OR c.first_order_at >= :day_after) "
        "AND (c.lost_at IS NULL OR c.lost_at >= :day_after)",
        manager=manager.account_manager_id,
        day_after=DAY_AFTER,
    )
    return {row[0] for row in rows}


def _installations(url: str, manager: Manager) -> int:
    """Successful installations of the manager's partners in the default range."""
    rows = _rows(
        url,
        "SELECT count(*) FROM installations i JOIN partners p ON p.id = i.partner_id "
        "WHERE p.account_manager_id = :manager AND i.status = 'success' "
        "AND i.installed_at >= :start AND i.installed_at < :day_after",
        manager=manager.account_manager_id,
        start=RANGE_START,
        day_after=DAY_AFTER,
    )
    return int(rows[0][0])


def _last_audit_id(url: str) -> int:
    return int(_rows(url, "SELECT coalesce(max(id), 0) FROM audit_log")[0][0])


def _audit_rows_after(url: str, last_id: int) -> list[tuple[Any, ...]]:
    rows = _rows(
        url,
        "SELECT who, report, row_count, filters FROM audit_log WHERE id > :last ORDER BY id",
        last=last_id,
    )
    return [tuple(row) for row in rows]


# -- the app -----------------------------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> Iterator[None]:
    """The demo database, a fixed as-of date and empty caches."""
    monkeypatch.setenv("MAR_DATABASE_URL", demo_url)
    monkeypatch.setenv("MAR_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("MAR_REQUIRE_AUTH", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def sign_in(environment: None) -> Callable[[dict[str, Any]], AppTest]:
    """An app with an OIDC provider configured, for the given `st.user` claims."""

    def make(user: dict[str, Any]) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=60)
        app.secrets = json.loads(json.dumps(AUTH_SECRETS))
        app.user = user
        return app

    return make


@pytest.fixture
def signed_in(sign_in: Callable[[dict[str, Any]], AppTest]) -> Callable[[str], AppTest]:
    """An app signed in with the given e-mail address."""
    return lambda email: sign_in({"is_logged_in": True, "email": email, "name": email})


@pytest.fixture
def demo_app(environment: None) -> AppTest:
    """An app without `[auth]`: demo mode."""
    return AppTest.from_file(APP, default_timeout=60)


def _open(app: AppTest, page: str, **params: str) -> AppTest:
    open_page(app, page, **params)
    assert not app.exception, app.exception
    return app


def _frames(app: AppTest, column: str) -> list[pl.DataFrame]:
    """Every table on the page that has `column`."""
    frames = [pl.from_pandas(table.value) for table in app.dataframe]
    return [frame for frame in frames if column in frame.columns]


def _partners_in_tables(app: AppTest, having: str = "partner_id") -> set[int]:
    """The partner ids of every table that has the column `having`."""
    return {int(p) for frame in _frames(app, having) for p in frame["partner_id"]}


def _partner_volumes_shown(app: AppTest) -> set[int]:
    (frame,) = _frames(app, "keys_allocated")
    return set(frame["partner_id"])


def _sidebar_partner_choices(app: AppTest) -> set[int]:
    """The ids of the sidebar's partner choices, labelled 'Name · #id'."""
    labels = app.multiselect(key="w_partner").options
    return {int(re.search(r"#(\d+)$", label)[1]) for label in labels}  # type: ignore[index]


def _assert_shows_no_data(app: AppTest) -> None:
    assert not app.dataframe
    assert not app.metric
    assert not app.get("plotly_chart")
    assert not app.download_button
    assert not app.sidebar.multiselect
    assert not app.sidebar.date_input


# -- signed-in mode: management ----------------------------------------------------------------


@pytest.mark.parametrize("page", [*PAGES, "audit"])
def test_management_sees_every_page(
    signed_in: Callable[[str], AppTest], management_email: str, page: str
) -> None:
    app = _open(signed_in(management_email), page)
    assert not app.error
    assert app.title


def test_management_partners_table_lists_every_partner(
    signed_in: Callable[[str], AppTest], management_email: str, owners: dict[int, int | None]
) -> None:
    app = _open(signed_in(management_email), "partners")
    assert _partner_volumes_shown(app) == set(owners)


def test_management_has_the_audit_log_in_the_navigation(
    signed_in: Callable[[str], AppTest], management_email: str
) -> None:
    app = _open(signed_in(management_email), "overview")
    app.switch_page("dashboard/pages/audit.py").run()
    assert [title.value for title in app.title] == ["Audit log"]


# -- signed-in mode: account managers ----------------------------------------------------------


def test_each_account_manager_sees_only_their_partners_on_the_partners_page(
    signed_in: Callable[[str], AppTest], managers: list[Manager]
) -> None:
    # One process and no cache clearing between managers: a cached result of one scope
    # must never serve another.
    for manager in managers:
        app = _open(signed_in(manager.email), "partners")
        assert _partner_volumes_shown(app) == manager.partner_ids, manager.email


def test_each_account_managers_reporting_backlog_lists_only_their_partners(
    signed_in: Callable[[str], AppTest], managers: list[Manager], demo_url: str
) -> None:
    for manager in managers:
        app = _open(signed_in(manager.email), "reporting")
        backlog = _partners_in_tables(app, having="missing_reports")
        assert backlog == _behind_on_reporting(demo_url, manager), manager.email


def test_each_account_managers_stuck_partners_are_only_their_own(
    signed_in: Callable[[str], AppTest], managers: list[Manager], demo_url: str
) -> None:
    for manager in managers:
        app = _open(signed_in(manager.email), "conversions")
        stuck = _partners_in_tables(app, having="days_at_stage")
        assert stuck == _stuck(demo_url, manager), manager.email


def test_each_account_managers_overview_counts_only_their_installations(
    signed_in: Callable[[str], AppTest], managers: list[Manager], demo_url: str
) -> None:
    for manager in managers:
        app = _open(signed_in(manager.email), "overview")
        shown = next(m.value for m in app.metric if m.label == "Installations")
        assert shown == f"{_installations(demo_url, manager):,}", manager.email


@pytest.mark.parametrize("page", PAGES)
def test_no_table_of_an_account_manager_shows_another_managers_partner(
    signed_in: Callable[[str], AppTest], manager: Manager, page: str
) -> None:
    params = {"partner": str(min(manager.partner_ids))} if page == "partner_detail" else {}
    app = _open(signed_in(manager.email), page, **params)
    assert not app.error
    assert _partners_in_tables(app) <= manager.partner_ids
    assert _sidebar_partner_choices(app) == manager.partner_ids


def test_the_partner_chooser_offers_only_the_managers_partners(
    signed_in: Callable[[str], AppTest], manager: Manager, demo_url: str
) -> None:
    names = _rows(
        demo_url,
        "SELECT name FROM partners WHERE account_manager_id = :manager",
        manager=manager.account_manager_id,
    )
    app = _open(signed_in(manager.email), "partner_detail")
    (chooser,) = app.main.selectbox
    assert sorted(chooser.options) == sorted(row[0] for row in names)


@pytest.mark.parametrize("page", ["overview", "partners", "partner_detail", "reporting"])
def test_another_managers_partner_in_the_url_reads_like_an_unknown_id(
    signed_in: Callable[[str], AppTest],
    manager: Manager,
    owners: dict[int, int | None],
    page: str,
) -> None:
    other = _someone_elses_partner(manager, owners)
    refused = _open(signed_in(manager.email), page, partner=str(other))
    unknown = _open(signed_in(manager.email), page, partner=str(UNKNOWN))
    assert [e.value for e in refused.error] == [str(unknown_partner_message(other))]
    assert [e.value for e in unknown.error] == [str(unknown_partner_message(UNKNOWN))]
    _assert_shows_no_data(refused)


def test_another_account_manager_in_the_url_reads_like_an_unknown_one(
    signed_in: Callable[[str], AppTest], manager: Manager, managers: list[Manager]
) -> None:
    other = next(m for m in managers if m != manager).account_manager_id
    refused = _open(signed_in(manager.email), "partners", am=str(other))
    unknown = _open(signed_in(manager.email), "partners", am=str(UNKNOWN))
    assert [e.value for e in refused.error] == [
        e.value.replace(str(UNKNOWN), str(other)) for e in unknown.error
    ]
    _assert_shows_no_data(refused)


def test_an_account_manager_does_not_have_the_audit_log_in_the_navigation(
    signed_in: Callable[[str], AppTest], manager: Manager
) -> None:
    app = _open(signed_in(manager.email), "overview")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("dashboard/pages/audit.py")


def test_the_audit_log_stays_out_of_an_account_managers_navigation_after_a_rerun(
    signed_in: Callable[[str], AppTest], manager: Manager
) -> None:
    app = _open(signed_in(manager.email), "overview")
    app.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("dashboard/pages/audit.py")


def test_a_deep_link_applies_the_signed_in_managers_scope(
    signed_in: Callable[[str], AppTest], manager: Manager
) -> None:
    app = signed_in(manager.email)
    app.switch_page("dashboard/pages/partners.py").run()
    assert not app.exception
    assert _partner_volumes_shown(app) == manager.partner_ids


def test_the_email_is_matched_without_regard_to_case(
    signed_in: Callable[[str], AppTest], manager: Manager
) -> None:
    app = _open(signed_in(manager.email.upper()), "partners")
    assert _partner_volumes_shown(app) == manager.partner_ids


# -- signed-in mode: strangers -----------------------------------------------------------------


def test_an_unknown_email_sees_only_the_no_access_page(
    signed_in: Callable[[str], AppTest],
) -> None:
    app = signed_in("stranger@elsewhere.example")
    app.run()
    assert not app.exception
    assert [title.value for title in app.title] == ["No access"]
    assert "stranger@elsewhere.example" in app.markdown[0].value
    assert [button.label for button in app.button] == ["Sign out"]
    assert not app.sidebar.selectbox
    _assert_shows_no_data(app)


def test_a_signed_out_visitor_sees_only_the_sign_in_button(
    sign_in: Callable[[dict[str, Any]], AppTest],
) -> None:
    app = sign_in({"is_logged_in": False})
    app.run()
    assert not app.exception
    assert [button.label for button in app.button] == ["Sign in"]
    assert not app.sidebar.selectbox
    _assert_shows_no_data(app)


def test_a_deep_link_asks_a_signed_out_visitor_to_sign_in(
    sign_in: Callable[[dict[str, Any]], AppTest],
) -> None:
    app = sign_in({"is_logged_in": False})
    app.switch_page("dashboard/pages/partners.py").run()
    assert not app.exception
    assert [button.label for button in app.button] == ["Sign in"]
    _assert_shows_no_data(app)


def test_configuring_a_provider_switches_demo_mode_off(
    signed_in: Callable[[str], AppTest], management_email: str
) -> None:
    app = _open(signed_in(management_email), "overview")
    assert not any("Demo mode" in info.value for info in app.info)
    assert "w_persona" not in [box.key for box in app.selectbox]


# -- demo mode and MAR_REQUIRE_AUTH ------------------------------------------------------------


def test_demo_mode_says_so_and_offers_every_persona(
    demo_app: AppTest, managers: list[Manager], management_email: str
) -> None:
    app = _open(demo_app, "overview")
    assert any(info.value.startswith("Demo mode") for info in app.info)
    persona = app.selectbox(key="w_persona")
    assert persona.value == management_email
    assert len(persona.options) == 1 + len(managers)


def test_choosing_an_account_manager_persona_limits_the_partners_table(
    demo_app: AppTest, manager: Manager
) -> None:
    app = _open(demo_app, "partners")
    app.selectbox(key="w_persona").select(manager.email).run()
    assert not app.exception
    assert _partner_volumes_shown(app) == manager.partner_ids


def test_a_chosen_persona_is_written_to_the_url(demo_app: AppTest, manager: Manager) -> None:
    app = _open(demo_app, "overview")
    app.selectbox(key="w_persona").select(manager.email).run()
    assert app.query_params["as"] == manager.email


def test_the_persona_in_the_url_survives_a_reload(demo_app: AppTest, manager: Manager) -> None:
    # Issue 11: in demo mode the persona was lost on reload.
    app = _open(demo_app, "partners", **{"as": manager.email})
    assert app.selectbox(key="w_persona").value == manager.email
    assert _partner_volumes_shown(app) == manager.partner_ids


def test_an_account_manager_is_told_whose_partners_they_see(
    demo_app: AppTest, manager: Manager, demo_url: str
) -> None:
    # Issue 11: no line said whose partners an account manager was looking at.
    [(name,)] = _rows(
        demo_url,
        "SELECT name FROM account_managers WHERE id = :id",
        id=manager.account_manager_id,
    )
    app = _open(demo_app, "overview", **{"as": manager.email})
    expected = f"You are looking at the partners of {name}, and only at them."
    assert expected in [caption.value for caption in app.caption]


def test_an_unknown_persona_in_the_url_is_one_sentence(demo_app: AppTest) -> None:
    app = _open(demo_app, "overview", **{"as": "nobody@example.com"})
    assert [e.value for e in app.error] == [
        "There is no demo persona 'nobody@example.com' (parameter 'as'); remove it from the "
        "address to start as management."
    ]
    _assert_shows_no_data(app)


def test_require_auth_without_a_provider_refuses_to_show_anything(
    demo_app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAR_REQUIRE_AUTH", "true")
    demo_app.run()
    assert not demo_app.exception
    assert [e.value for e in demo_app.error] == [auth.REQUIRE_AUTH_WITHOUT_PROVIDER]
    assert not demo_app.sidebar.selectbox
    _assert_shows_no_data(demo_app)


# -- cache -------------------------------------------------------------------------------------


def test_cached_results_are_keyed_by_scope(
    environment: None, managers: list[Manager], owners: dict[int, int | None]
) -> None:
    """st.cache_data also works outside a script run ("bare mode"): `load` is called directly,
    and the SQL statements are counted to show the cache is really in use."""
    statements: list[str] = []
    sa.event.listen(
        data_access.engine(), "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    first, second = managers[0], managers[1]
    everyone = Filters.default(AS_OF)
    scoped = everyone.replace(scope_account_manager_id=first.account_manager_id)
    mine = data_access.load(partner_volumes, scoped)
    asked = len(statements)
    assert data_access.load(partner_volumes, scoped).equals(mine)
    assert len(statements) == asked, "an identical second load must come from the cache"
    other = everyone.replace(scope_account_manager_id=second.account_manager_id)
    theirs = data_access.load(partner_volumes, other)
    every = data_access.load(partner_volumes, everyone)
    assert set(mine["partner_id"]) == first.partner_ids
    assert set(theirs["partner_id"]) == second.partner_ids
    assert set(every["partner_id"]) == set(owners)


# -- downloads and the audit log ---------------------------------------------------------------


def _download_partner_volumes(app: AppTest, files: DeferredFiles) -> int:
    """Fetch the Partners page's CSV download; return how many rows the table showed."""
    _open(app, "partners")
    rows = len(_partner_volumes_shown(app))
    files.fetch(app, "download-partner-volumes")
    return rows


def test_a_download_writes_one_audit_row_with_the_viewer(
    signed_in: Callable[[str], AppTest],
    manager: Manager,
    demo_url: str,
    deferred_files: DeferredFiles,
) -> None:
    last = _last_audit_id(demo_url)
    rows = _download_partner_volumes(signed_in(manager.email), deferred_files)
    [(who, report, row_count, filters)] = _audit_rows_after(demo_url, last)
    assert (who, report, row_count) == (manager.email, "partner-volumes", rows)
    assert json.loads(filters)["from"] == [RANGE_START.isoformat()]


def test_a_click_on_a_download_without_its_file_writes_no_audit_row(
    signed_in: Callable[[str], AppTest], manager: Manager, demo_url: str
) -> None:
    app = _open(signed_in(manager.email), "partners")
    last = _last_audit_id(demo_url)
    app.download_button(key="download-partner-volumes").click().run()
    assert not app.exception
    assert _audit_rows_after(demo_url, last) == []


def test_the_audit_log_page_shows_a_download_to_management(
    signed_in: Callable[[str], AppTest],
    manager: Manager,
    management_email: str,
    deferred_files: DeferredFiles,
) -> None:
    rows = _download_partner_volumes(signed_in(manager.email), deferred_files)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    # The demo's as-of lies in the past; the log is read at today's date (DESIGN §4: a range
    # may not start after the as-of date).
    app = _open(
        signed_in(management_email), "audit", **{"as_of": today, "from": today, "to": today}
    )
    (log,) = _frames(app, "who")
    assert (manager.email, "partner-volumes", rows) in log.select("who", "report", "rows").rows()


# -- mar-insight export --as-user --------------------------------------------------------------


def _export(url: str, report: str, out: Path, *options: str) -> int:
    """Run `mar-insight export REPORT --out OUT` on the demo at the fixed as-of date."""
    argv = ["export", report, "--url", url, "--as-of", AS_OF.isoformat(), "--out", str(out)]
    return cli([*argv, *options])


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_an_export_as_an_account_manager_equals_the_export_filtered_to_them(
    demo_url: str, managers: list[Manager], tmp_path: Path, report: str
) -> None:
    scoped, filtered = tmp_path / "scoped.csv", tmp_path / "filtered.csv"
    for manager in managers:
        assert _export(demo_url, report, scoped, "--as-user", manager.email) == 0
        manager_id = str(manager.account_manager_id)
        assert _export(demo_url, report, filtered, "--account-manager", manager_id) == 0
        assert scoped.read_bytes() == filtered.read_bytes(), manager.email


def test_a_partner_volumes_export_as_an_account_manager_lists_exactly_their_partners(
    demo_url: str, managers: list[Manager], tmp_path: Path
) -> None:
    out = tmp_path / "volumes.csv"
    for manager in managers:
        assert _export(demo_url, "partner-volumes", out, "--as-user", manager.email) == 0
        assert set(pl.read_csv(out)["partner_id"]) == manager.partner_ids, manager.email


def test_a_backlog_export_as_an_account_manager_lists_only_their_partners(
    demo_url: str, managers: list[Manager], tmp_path: Path
) -> None:
    out = tmp_path / "backlog.csv"
    for manager in managers:
        assert _export(demo_url, "reporting-backlog", out, "--as-user", manager.email) == 0
        shown = set(pl.read_csv(out)["partner_id"])
        assert shown == _behind_on_reporting(demo_url, manager), manager.email


def test_a_throughput_export_as_an_account_manager_counts_only_their_installations(
    demo_url: str, managers: list[Manager], tmp_path: Path
) -> None:
    out = tmp_path / "throughput.csv"
    for manager in managers:
        assert _export(demo_url, "throughput", out, "--as-user", manager.email) == 0
        total = pl.read_csv(out)["installations"].sum()
        assert total == _installations(demo_url, manager), manager.email


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_every_export_writes_one_audit_row(
    demo_url: str, manager: Manager, tmp_path: Path, report: str
) -> None:
    out = tmp_path / "report.csv"
    last = _last_audit_id(demo_url)
    assert _export(demo_url, report, out, "--as-user", manager.email) == 0
    [(who, logged_report, row_count, _)] = _audit_rows_after(demo_url, last)
    assert who.endswith(f" as {manager.email}")
    assert (logged_report, row_count) == (report, pl.read_csv(out).height)


def test_an_export_of_another_managers_partner_reads_like_an_unknown_id(
    demo_url: str,
    manager: Manager,
    owners: dict[int, int | None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = _someone_elses_partner(manager, owners)
    last = _last_audit_id(demo_url)
    outcomes = []
    for partner in (other, UNKNOWN):
        out = tmp_path / f"{partner}.csv"
        options = ("--as-user", manager.email, "--partner", str(partner))
        code = _export(demo_url, "partner-volumes", out, *options)
        outcomes.append((code, capsys.readouterr().err, out.exists()))
    assert outcomes == [
        (2, f"mar-insight: {unknown_partner_message(other)}\n", False),
        (2, f"mar-insight: {unknown_partner_message(UNKNOWN)}\n", False),
    ]
    assert _audit_rows_after(demo_url, last) == []


def test_an_export_as_an_unknown_user_is_refused(
    demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.csv"
    code = _export(demo_url, "partner-volumes", out, "--as-user", "stranger@elsewhere.example")
    assert code == 2
    assert "stranger@elsewhere.example" in capsys.readouterr().err
    assert not out.exists()
