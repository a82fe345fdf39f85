"""Routing: it decides who is looking, then runs the page (started by `streamlit_app.py`).

Every failure ends in one sentence here, never a traceback: the viewer's or the operator's
own (a bad setting, a database down) says what to do; anything unexpected is logged with its
traceback (data/logs.py) and shown with the reference to find it under.
`st.navigation` is called on every run, also for sign-in and error screens, so Streamlit never
falls back to serving the files in `pages/` on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

# Imported before any page runs: Plotly looks pandas up in sys.modules without importing it,
# so a session drawing a chart while another session's thread was still importing pandas got
# a half-initialised module and an exception box (seen in the two-session load test).
import pandas  # noqa: F401
import streamlit as st

from dashboard import auth, data_access, language, ui
from dashboard.language import _
from data.errors import DATABASE_ERRORS, UserError, describe_database_error
from data.logs import log, unexpected
from queries.access import Viewer

HERE = Path(__file__).resolve().parent


def _page(
    name: str, title: str, icon: str, *, url_path: str | None = None, **options: Any
) -> st.Page:
    return st.Page(
        HERE / "pages" / f"{name}.py",
        title=title,
        icon=icon,
        url_path=url_path or name,
        **options,
    )


def _pages(viewer: Viewer) -> list[st.Page]:
    pages = [
        # The overview lives at `/`; `/overview` (as people guess it, and as links written
        # before were) reaches it too, through a page the menu does not list.
        _page("overview", _("Overview"), ":material/dashboard:", url_path="home", default=True),
        _page("overview", _("Overview"), ":material/dashboard:", visibility="hidden"),
        _page("partners", _("Partners"), ":material/groups:"),
        _page("partner_detail", _("Partner detail"), ":material/person_search:"),
        _page("conversions", _("Conversions"), ":material/conversion_path:"),
        _page("stock", _("Keys & stock"), ":material/key:"),
        _page("throughput", _("Throughput"), ":material/speed:"),
        _page("reporting", _("Reporting"), ":material/assignment_late:"),
        _page("compliance", _("Compliance"), ":material/gpp_maybe:"),
    ]
    if viewer.sees_audit_log:
        pages.append(_page("audit", _("Audit log"), ":material/policy:"))
    return pages


def _screen(draw: Callable[[], None]) -> st.Page:
    """A single hidden page for sign-in and error screens."""
    return st.navigation([st.Page(draw, title="MAR Insight")], position="hidden")


def _no_schema() -> None:
    st.error(
        _(
            "The database is missing MAR Insight tables; run 'mar-insight demo' for demo data "
            "or 'mar-insight import DIR' for your own, then reload."
        )
    )


def _route() -> st.Page:
    unknown_language = language.resolve()
    language.switch()
    if unknown_language:
        st.warning(unknown_language)
    if not data_access.schema_exists():
        return _screen(_no_schema)
    viewer = auth.current_viewer()
    if viewer is None:
        return _screen(lambda: None)
    ui.set_viewer(viewer)
    _replica_freshness()
    return st.navigation(_pages(viewer))


def _replica_freshness() -> None:
    """Say how old the figures are when the replica the dashboard reads from lags behind.

    Nothing is shown on a primary, on SQLite, or while the lag stays within the setting.
    """
    lag = data_access.replica_lag()
    if lag is None or lag.total_seconds() <= data_access.settings().replica_lag_warning_seconds:
        return
    seconds = int(lag.total_seconds())
    behind = f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"
    st.caption(
        ":material/history: "
        + _(
            "Figures are {behind} behind: the read replica is still catching up with the "
            "primary, so the latest changes are not shown yet."
        ).format(behind=behind)
    )


def _problem(message: str) -> None:
    st.error(message)


def _sentence(error: Exception) -> str:
    """The one sentence for a failure; database failures and unexpected ones are logged."""
    if isinstance(error, UserError):
        return error.translated(_)
    if isinstance(error, DATABASE_ERRORS):
        message = describe_database_error(error)
        log.warning("page failed: %s", message)
        return _(message)
    return unexpected(error).translated(_)


def main() -> None:
    st.set_page_config(page_title="MAR Insight", page_icon=":material/analytics:", layout="wide")
    st.logo(str(HERE / "logo.svg"), size="large")
    try:
        page = _route()
    except Exception as exc:
        message = _sentence(exc)
        page = _screen(lambda: _problem(message))
    try:
        page.run()
    except Exception as exc:
        icon = ":material/cloud_off:" if isinstance(exc, DATABASE_ERRORS) else None
        st.error(_sentence(exc), icon=icon)


if __name__ == "__main__":
    main()
