"""The load script runs end to end: two browser sessions, one round, no errors.

Needs Debian's chromium (`make browser`); without it the test is skipped, or fails under
`CI=true`.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from bench import load_test
from data.db import make_engine
from data.demo import generate_demo

pytestmark = pytest.mark.browser

AS_OF = dt.date(2026, 11, 25)


@pytest.fixture
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('load') / 'demo.sqlite'}"
    engine = make_engine(url)
    try:
        generate_demo(engine, installations=1_000, seed=5, as_of=AS_OF, progress=lambda *_: None)
    finally:
        engine.dispose()
    return url


def test_two_sessions_load_every_page_without_errors(
    demo_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not load_test.CHROMIUM.exists():
        message = f"{load_test.CHROMIUM} is missing; install it with 'make browser'."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    status = load_test.main(
        ["--url", demo_url, "--sessions", "2", "--rounds", "1", "--as-of", AS_OF.isoformat()]
    )
    output = capsys.readouterr().out
    assert status == 0, output
    assert "| all | 12 | 0 |" in output
    assert "Errors: 0" in output
