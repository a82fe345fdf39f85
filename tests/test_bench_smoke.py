"""The 10 M-row benchmark script still runs end to end: a small-scale smoke run (no timings
are asserted, only that every page was measured and the table printed)."""

from __future__ import annotations

import pytest

from bench import page_queries


def test_page_query_benchmark_measures_every_page(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        page_queries.main(
            ["--url", sqlite_url, "--installations", "2000", "--runs", "1", "--skip-rss"]
        )
        == 0
    )
    table = capsys.readouterr().out
    for page in page_queries.PAGES:
        assert f"| {page} |" in table
