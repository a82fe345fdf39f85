"""How much memory a big CSV download needs: peak RSS growth while `to_csv` builds it.

    .venv/bin/python -m bench.big_download [--rows 1000000]

Builds a synthetic report frame of four columns (id, name, date, figure), then measures the
process's peak resident memory while `queries.exports.to_csv` turns it into bytes.  On Linux
the peak is reset just before (`/proc/self/clear_refs`), so the figure is the growth caused
by building the CSV alone; elsewhere `getrusage` gives an upper bound.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from queries.exports import to_csv

MIB = 1024 * 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def synthetic_frame(rows: int) -> pl.DataFrame:
    """`rows` rows like a report's: an id, a name, a date and a figure."""
    index = pl.int_range(rows, dtype=pl.Int64)
    return pl.select(
        partner_id=index,
        partner_name=pl.format("Partner {}", index),
        day=pl.lit(dt.date(2020, 1, 1)) + pl.duration(days=index % 2_000),
        installations=(index % 997) / 3,
    )


def _status_kib(field: str) -> int | None:
    """A `VmRSS`/`VmHWM`-style figure of /proc/self/status, in KiB; None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Make the kernel's peak RSS (VmHWM) start again from the current RSS."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def measure(rows: int) -> dict[str, float]:
    """Build the frame, then its CSV; return sizes (MiB), peak growth (MiB) and seconds."""
    frame = synthetic_frame(rows)
    exact = _reset_peak()
    before_kib = _status_kib("VmRSS") if exact else None
    if before_kib is None:  # no /proc: the lifetime peak so far is the baseline
        exact = False
        before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    body = to_csv(frame)
    seconds = time.perf_counter() - started
    peak_kib = _status_kib("VmHWM") if exact else None
    if peak_kib is None:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": rows,
        "frame_mib": frame.estimated_size() / MIB,
        "csv_mib": len(body) / MIB,
        "peak_growth_mib": (peak_kib - before_kib) / 1024,
        "seconds": seconds,
        "exact": float(exact),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.big_download", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    figures = measure(args.rows)
    method = "VmHWM after clear_refs" if figures["exact"] else "getrusage ru_maxrss"
    print(
        f"to_csv of {figures['rows']:,.0f} rows x 4 columns: frame {figures['frame_mib']:.1f} MiB,"
        f" CSV {figures['csv_mib']:.1f} MiB, built in {figures['seconds']:.2f} s;"
        f" peak RSS growth {figures['peak_growth_mib']:.1f} MiB ({method})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
