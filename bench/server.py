"""A Streamlit server of our own for the benchmarks: started on a free loopback port with the
project's `.streamlit/config.toml` (the production settings), watched through `/proc` for its
CPU time and memory, stopped when the block ends."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
SERVER_START_SECONDS = 90
OUR_APP = ROOT / "streamlit_app.py"
FLOOR_APP = ROOT / "bench" / "floor_app.py"


def free_port() -> int:
    """A free TCP port on the loopback address, for a server of our own."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(base: str) -> bool:
    """Whether the Streamlit server at `base` answers its health check."""
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
            return bool(response.read().strip() == b"ok")
    except (urllib.error.URLError, OSError):
        return False


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process `pid` so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float | None:
    """Resident memory of process `pid` in MB (Linux), else None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


@dataclasses.dataclass
class Server:
    """The running server: its base URL and process, for its CPU time and memory."""

    base: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.process.pid)

    def rss_mb(self) -> float | None:
        return process_rss_mb(self.process.pid)


@contextmanager
def serve(
    log: Path,
    *,
    script: Path = OUR_APP,
    port: int = 0,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Run `streamlit run SCRIPT` on 127.0.0.1 until the block ends.

    The working directory is the project root, so every app served here (ours and the floor)
    reads the same `.streamlit/config.toml`.
    """
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.port",
        str(port),
        "--server.address",
        HOST,
        "--browser.gatherUsageStats",
        "false",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not healthy(base):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"streamlit did not start; its output:\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.25)
        yield Server(base, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def tracebacks(log: Path) -> tuple[int, str]:
    """How many tracebacks the server logged, and the end of the first one."""
    text = log.read_text(errors="replace")
    marker = "Traceback (most recent call last)"
    first = text.split(marker, 2)[1] if marker in text else ""
    lines = [line for line in first.splitlines() if line.strip()]
    return text.count(marker), "\n".join(lines[-8:])
