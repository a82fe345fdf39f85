"""The protocol-level load driver runs end to end without a browser: small N, no times
asserted, only that every view was made, none failed, and the report names both apps."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench import floor_app, protocol_load
from bench.protocol_load import Download, Session, View, Visit
from bench.server import Server, serve
from data.db import make_engine
from data.demo import generate_demo

AS_OF = dt.date(2026, 11, 25)


@pytest.fixture
def demo_url(sqlite_url: str) -> str:
    engine = make_engine(sqlite_url)
    try:
        generate_demo(engine, installations=1_000, seed=5, as_of=AS_OF, progress=lambda *_: None)
    finally:
        engine.dispose()
    return sqlite_url


def test_two_sessions_visit_every_page_three_times_on_ours_and_the_floor_without_errors(
    demo_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = protocol_load.main(
        [
            *("--url", demo_url, "--sessions", "2", "--floor", "--settle-seconds", "0"),
            *("--as-of", AS_OF.isoformat()),
        ]
    )
    output = capsys.readouterr().out
    assert status == 0, output
    rows = {
        cells[0]: cells[1:4]
        for line in output.splitlines()
        if (cells := [c.strip() for c in line.strip("|").split("|")])[0] in ("ours", "floor")
    }
    pages = len(floor_app.PAGES)  # the floor's navigation is ours; management sees every page
    assert rows["ours"] == ["2", str(pages * 3 * 2), "0"]
    assert rows["floor"] == ["2", str(pages * 3 * 2), "0"]
    assert "Errors: 0" in output


@pytest.fixture
def server(demo_url: str, tmp_path: Path) -> Iterator[Server]:
    env = {"MAR_DATABASE_URL": demo_url, "MAR_AS_OF": AS_OF.isoformat()}
    with serve(tmp_path / "streamlit.log", env=env) as running:
        yield running


async def _views(base_url: str, visits: list[Visit]) -> tuple[list[View], Session]:
    session = Session(base_url)
    await session.open()
    try:
        return [await session.visit(visit) for visit in visits], session
    finally:
        await session.close()


def test_a_sidebar_change_sent_as_a_widget_state_reaches_the_url(server: Server) -> None:
    visits = [
        Visit("", "segment=education"),
        Visit("stock", "segment=education", {"Segment": ["nonprofit"]}),
    ]
    views, session = asyncio.run(_views(server.base, visits))
    assert [view.error for view in views] == [None, None]
    assert "segment=nonprofit" in session.query.split("&")


def test_a_view_that_shows_an_error_box_is_reported_with_its_page_and_message(
    server: Server,
) -> None:
    views, _ = asyncio.run(_views(server.base, [Visit("partners", "partner=999999")]))
    assert views[0].page == "partners"
    assert views[0].error is not None
    assert views[0].error.startswith("error box:")
    assert "999999" in views[0].error


def _audit_rows(url: str) -> list[tuple[str, str, int, dict[str, list[str]]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT who, report, row_count, filters FROM audit_log ORDER BY id")
            return [
                (who, report, rows, json.loads(filters))
                for who, report, rows, filters in connection.execute(query)
            ]
    finally:
        engine.dispose()


async def _download_after(base_url: str, visits: list[Visit], label: str | None = None) -> Download:
    """Make `visits`, then fetch the file of `label` (by default the first CSV download the
    last of them drew) as a tab fetches it, without any click or rerun."""
    session = Session(base_url)
    await session.open()
    try:
        for visit in visits:
            await session.visit(visit)
        drawn = [name for name in session.files if name.startswith("Download CSV")]
        return await session.download(label or drawn[0])
    finally:
        await session.close()


def _an_account_manager(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            query = "SELECT min(email) FROM users WHERE role = 'account_manager'"
            return str(connection.execute(sa.text(query)).scalar_one())
    finally:
        engine.dispose()


def test_a_file_fetched_without_a_click_writes_one_audit_row_with_its_viewer_and_filters(
    server: Server, demo_url: str
) -> None:
    persona = _an_account_manager(demo_url)
    query = urllib.parse.urlencode({"segment": "education", "as": persona})
    download = asyncio.run(_download_after(server.base, [Visit("partners", query)]))
    assert download.view.error is None
    assert download.body is not None
    rows = len(download.body.decode().splitlines()) - 1  # the header is not a row
    [(who, report, row_count, filters)] = _audit_rows(demo_url)
    assert (who, report, row_count) == (persona, "partner-volumes", rows)
    assert filters["segment"] == ["education"]


def test_a_file_the_audit_log_refuses_is_not_served(
    server: Server, demo_url: str, log_file: Path
) -> None:
    engine = make_engine(demo_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'the audit log is full'); END"
                )
            )
    finally:
        engine.dispose()
    download = asyncio.run(_download_after(server.base, [Visit("partners")]))
    assert (download.url, download.body) == (None, None)
    assert download.view.error is not None
    assert "Failed to generate file" in download.view.error
    logged = log_file.read_text(encoding="utf-8")
    assert "download partner-volumes by " in logged
    assert "refused: its audit row was not written" in logged
    assert "the audit log is full" in logged


def test_a_download_the_last_page_did_not_draw_fails_unsent(server: Server, demo_url: str) -> None:
    visits = [Visit("partners", "segment=education")]
    download = asyncio.run(_download_after(server.base, visits, "Download CSV (no such table)"))
    assert download.view.error is not None
    assert "no download labelled 'Download CSV (no such table)'" in download.view.error
    assert _audit_rows(demo_url) == []
