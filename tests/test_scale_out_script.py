"""bench/scale_out.py end to end at the smallest scale: the whole topology (primary, replica,
two dashboard processes, nginx) comes up, carries the load, survives a stopped process and
goes away, ending with its one result line.  Figures are printed, never asserted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.topology import missing_nginx, missing_postgres_binaries

ROOT = Path(__file__).resolve().parents[1]
RESULT = re.compile(
    r"^scale-out: views/s 1 process=(?P<one>[\d.]+) 2 processes=(?P<two>[\d.]+), "
    r"errors=\d+ of \d+ views \(during the stop \d+ of \d+\), "
    r"audit_lost=(?P<lost>\d+) of (?P<downloads>\d+) downloads, replica lag=[\d.]+ s$"
)


def test_the_script_stands_up_the_topology_loads_it_and_reports_one_line() -> None:
    if problem := missing_postgres_binaries() or missing_nginx():
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    command = [sys.executable, "-m", "bench.scale_out", "--sessions", "2", "--seconds", "4"]
    options = ["--installations", "2000", "--no-warm-up"]
    done = subprocess.run(
        [*command, *options], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    result = RESULT.match(lines[0])
    assert result, lines[0]
    assert float(result["one"]) > 0
    assert float(result["two"]) > 0
    # audit_lost is printed, not asserted here: one run in about ten after the rebase counted
    # one download more than rows found (under investigation, see the issue note).
    assert int(result["downloads"]) > 0
