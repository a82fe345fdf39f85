"""`mar-insight serve` listens where Streamlit's own port setting says, not on a forced 8501:
an operator sets the port the way Streamlit documents (environment or config file)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.server import free_port, healthy
from data.db import make_engine
from data.demo import generate_demo

MAR_INSIGHT = Path(sys.executable).parent / "mar-insight"
START_SECONDS = 60


@pytest.fixture
def demo_url(sqlite_url: str) -> str:
    engine = make_engine(sqlite_url)
    try:
        generate_demo(
            engine,
            installations=1_000,
            seed=3,
            as_of=dt.date(2026, 11, 25),
            progress=lambda *_: None,
        )
    finally:
        engine.dispose()
    return sqlite_url


@contextmanager
def served(url: str, env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`mar-insight serve --url URL` without `--port`, stopped when the block ends."""
    process = subprocess.Popen(
        [str(MAR_INSIGHT), "serve", "--url", url],
        cwd=cwd,
        env={**os.environ, "STREAMLIT_SERVER_ADDRESS": "127.0.0.1", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def answers_on(port: int, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        if healthy(f"http://127.0.0.1:{port}"):
            return True
        time.sleep(0.25)
    return False


def test_serve_listens_on_the_port_in_streamlit_server_port(demo_url: str, tmp_path: Path) -> None:
    port = free_port()
    with served(demo_url, {"STREAMLIT_SERVER_PORT": str(port)}, tmp_path) as process:
        assert answers_on(port, process)


def test_serve_listens_on_the_port_in_the_operators_streamlit_config_file(
    demo_url: str, tmp_path: Path
) -> None:
    port = free_port()
    home = tmp_path / "home"
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "config.toml").write_text(f"[server]\nport = {port}\n")
    with served(demo_url, {"HOME": str(home)}, tmp_path) as process:
        assert answers_on(port, process)


def test_stopping_serve_stops_the_server_it_started(demo_url: str, tmp_path: Path) -> None:
    port = free_port()
    with served(demo_url, {"STREAMLIT_SERVER_PORT": str(port)}, tmp_path) as process:
        assert answers_on(port, process)
    assert not healthy(f"http://127.0.0.1:{port}")
