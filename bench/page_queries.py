"""Side-by-side benchmark of every page's queries on a large PostgreSQL demo.

    .venv/bin/python -m bench.page_queries [--url URL] [--installations 10000000] [--runs 5]

Builds the demo database at --url when it is empty (or reuses it), refreshes the rollups,
then for each page measures, in one run and as medians of --runs (the demo's last day plays
today: the rollups answer up to the day before and that day is read from the raw tables):

- cold: the page's metric calls through the query layer, nothing cached in the app;
- warm: the same calls through the dashboard's `st.cache_data` runner, already filled;
- bare: the exact SQL statements those calls sent, replayed on a raw psycopg2 cursor (in
  turns with cold, so both see the same spells of a shared machine);
- raw: the page's metric calls with the rollups switched off (the unaggregated path);
- naive: the pattern the rollups replace — pull the range's raw installation rows into
  Polars and aggregate there (the installations chart of the page), with its peak memory;
- per metric: each metric call alone against the statements it sent, both on connections
  already open.

It prints a table of medians and ratios per page, the peak RSS of the dashboard process
clicking through all pages (AppTest, fresh process), and a table per metric call.  Nothing
here is asserted: the figures go to the README.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from data.db import make_engine
from data.demo import generate_demo
from data.rollups import complete_through, refresh_all
from data.schema import create_schema, has_data_tables, rollup_state
from data.settings import DEFAULT_MILESTONES
from queries import (
    activations,
    citizenship,
    coa,
    conversions,
    key_pipeline,
    kpis,
    misuse,
    partner_risk,
    partners,
    reporting,
    returns,
    stock,
    throughput,
    volumes,
)
from queries.filters import Filters

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/mar_bench10m"
AS_OF = dt.date(2026, 11, 25)
Call = Callable[[sa.Connection, Filters], Any]


#: What each page asks the query layer for with the default filters (see dashboard/pages),
#: by the name the per-metric table shows.
PAGES: dict[str, dict[str, Call]] = {
    "overview": {
        "overview_kpis": kpis.overview_kpis,
        "throughput (day)": lambda c, f: throughput.throughput(c, f, "day"),
        "milestones": lambda c, f: throughput.milestones(c, f, DEFAULT_MILESTONES),
        "next_milestone": lambda c, f: throughput.next_milestone(c, f, DEFAULT_MILESTONES),
        "stock_on_hand": stock.stock_on_hand,
    },
    "partners": {
        "partner_volumes": volumes.partner_volumes,
        "partner_volume_series (5 partners)": lambda c, f: volumes.partner_volume_series(
            c, f.replace(partner_ids=(1, 2, 3, 4, 5))
        ),
        "installation_breakdown (product)": lambda c, f: throughput.installation_breakdown(
            c, f, "product"
        ),
        "installation_breakdown (segment)": lambda c, f: throughput.installation_breakdown(
            c, f, "segment"
        ),
    },
    "partner_detail": {
        "partner_profile": lambda c, f: partners.partner_profile(c, f, 1),
        "allocation_vs_consumption (1 partner)": lambda c, f: stock.allocation_vs_consumption(
            c, f.replace(partner_ids=(1,))
        ),
        "throughput (week, 1 partner)": lambda c, f: throughput.throughput(
            c, f.replace(partner_ids=(1,)), "week"
        ),
        "report_status (1 partner)": lambda c, f: reporting.report_status(
            c, f.replace(partner_ids=(1,))
        ),
    },
    "conversions": {
        "conversion_summary": conversions.conversion_summary,
        "conversion_funnel": conversions.conversion_funnel,
        "time_to_convert": conversions.time_to_convert,
        "conversions_over_time": conversions.conversions_over_time,
        "stuck_partners": conversions.stuck_partners,
        "lost_reasons": conversions.lost_reasons,
        "lost_partners": conversions.lost_partners,
    },
    "stock": {
        "stock_on_hand": stock.stock_on_hand,
        "allocation_vs_consumption": stock.allocation_vs_consumption,
    },
    "throughput": {
        "throughput (week)": lambda c, f: throughput.throughput(c, f, "week"),
        "installation_breakdown (product)": lambda c, f: throughput.installation_breakdown(
            c, f, "product"
        ),
        "installation_breakdown (site)": lambda c, f: throughput.installation_breakdown(
            c, f, "site"
        ),
        "milestones": lambda c, f: throughput.milestones(c, f, DEFAULT_MILESTONES),
        "next_milestone": lambda c, f: throughput.next_milestone(c, f, DEFAULT_MILESTONES),
    },
    "reporting": {
        "reporting_backlog": reporting.reporting_backlog,
        "late_report_trend": reporting.late_report_trend,
        "report_status": reporting.report_status,
    },
    "compliance": {
        "key_pipeline": key_pipeline.key_pipeline,
        "stuck_keys": lambda c, f: key_pipeline.stuck_keys(c, f),
        "activation_denials": activations.activation_denials,
        "denials_over_time": activations.denials_over_time,
        "denial_rate": activations.denial_rate,
        "duplicate_devices": misuse.duplicate_devices,
        "reused_keys": misuse.reused_keys,
        "citizenship_caps": lambda c, f: citizenship.citizenship_caps(c, f),
        "return_window": lambda c, f: returns.return_window(c, f),
        "returns_in_range": returns.returns_in_range,
        "coa_after_sunset": lambda c, f: coa.coa_after_sunset(c, f),
        "partner_risk": lambda c, f: partner_risk.partner_risk(c, f),
    },
}


@dataclasses.dataclass
class MetricTiming:
    page: str
    metric: str
    cold: float
    bare: float


@dataclasses.dataclass
class Timing:
    page: str
    cold: float
    warm: float
    bare: float
    raw: float
    naive: float | None
    naive_peak_mb: float | None
    metrics: list[MetricTiming]


def _median(run: Callable[[], object], runs: int) -> float:
    return _medians([run], runs)[0]


def _medians(contenders: Sequence[Callable[[], object]], runs: int) -> list[float]:
    """Median times of each contender, run in turns (a, b, a, b, …) so that a slow spell of
    the shared machine hits both alike instead of one measured after the other."""
    samples: list[list[float]] = [[] for _ in contenders]
    for _ in range(runs):
        for run, times in zip(contenders, samples, strict=True):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in samples]


@contextlib.contextmanager
def _captured(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)


def _page_calls(engine: sa.Engine, calls: list[Call], filters: Filters) -> None:
    with engine.connect() as connection:
        for call in calls:
            call(connection, filters)


def _replay(engine: sa.Engine, statements: list[tuple[str, Any]]) -> None:
    raw = engine.raw_connection()
    try:
        _replay_on(raw, statements)
    finally:
        raw.close()


def _replay_on(raw: Any, statements: list[tuple[str, Any]]) -> None:
    cursor = raw.cursor()
    for statement, parameters in statements:
        cursor.execute(statement, parameters)
        cursor.fetchall()
    cursor.close()


@contextlib.contextmanager
def _rollups_through(engine: sa.Engine, day: dt.date | None) -> Iterator[None]:
    """Let the query layer read the rollups up to `day` only (None: not at all), and the raw
    tables after it; the rollup state is restored afterwards."""
    with engine.connect() as connection:
        saved = connection.execute(sa.select(rollup_state)).all()
    with engine.begin() as connection:
        if day is None:
            connection.execute(rollup_state.delete())
        else:
            connection.execute(rollup_state.update().values(complete_through=day))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(rollup_state.delete())
            connection.execute(rollup_state.insert(), [row._asdict() for row in saved])


_NAIVE_SCRIPT = """
import datetime as dt, resource, sys, time, polars as pl, sqlalchemy as sa
url, first, last = sys.argv[1:4]
engine = sa.create_engine(url)
start = time.perf_counter()
with engine.connect() as connection:
    rows = pl.read_database(
        sa.text(
            "SELECT i.installed_at, i.status, i.partner_id, p.code AS product"
            " FROM installations i JOIN products p ON p.id = i.product_id"
            " WHERE i.installed_at >= :first AND i.installed_at < :last"
        ),
        connection,
        execute_options={"parameters": {"first": dt.datetime.fromisoformat(first),
                                        "last": dt.datetime.fromisoformat(last)}},
    )
if rows.schema["installed_at"] == pl.String:  # SQLite hands timestamps over as text
    rows = rows.with_columns(pl.col("installed_at").str.to_datetime())
weekly = (
    rows.filter(pl.col("status") == "success")
    .group_by(pl.col("installed_at").dt.truncate("1w"), "product").len()
)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _naive(url: str, filters: Filters) -> tuple[float, float]:
    """The naive dashboard in a fresh process: raw rows into Polars, aggregated there."""
    last = filters.range_end + dt.timedelta(days=1)
    result = subprocess.run(
        [sys.executable, "-c", _NAIVE_SCRIPT, url, str(filters.date_from), str(last)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak = result.stdout.split()
    return float(seconds), float(peak)


_APPTEST_SCRIPT = """
import resource, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300)
at.run()
for page in sys.argv[2:]:
    at.switch_page(f"dashboard/pages/{page}.py")
    at.run()
    assert not at.exception, page
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _dashboard_peak_rss(url: str, as_of: dt.date) -> float:
    env = {**os.environ, "MAR_DATABASE_URL": url, "MAR_AS_OF": as_of.isoformat()}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _APPTEST_SCRIPT,
            str(ROOT / "streamlit_app.py"),
            *[page for page in PAGES if page != "overview"],
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(result.stdout.split()[-1])


def _warm_runner(engine: sa.Engine, calls: list[Call], filters: Filters) -> Callable[[], None]:
    """The page's calls through a `st.cache_data` cache, as the dashboard makes them."""
    import streamlit as st

    @st.cache_data(show_spinner=False)
    def cached(index: int, filters: Filters) -> object:
        with engine.connect() as connection:
            return calls[index](connection, filters)

    def run() -> None:
        for index in range(len(calls)):
            cached(index, filters)

    run()
    return run


def ensure_demo(engine: sa.Engine, installations: int, as_of: dt.date = AS_OF) -> None:
    with engine.connect() as connection:
        present = has_data_tables(connection)
    if not present:
        print(f"building a {installations:,}-installation demo …", file=sys.stderr)
        generate_demo(engine, installations=installations, seed=42, as_of=as_of)
    with engine.begin() as connection:
        create_schema(connection)
        if complete_through(connection) is None:
            print("refreshing rollups …", file=sys.stderr)
            refresh_all(connection)


def measure(
    url: str,
    runs: int,
    naive: bool = True,
    pages: Sequence[str] = tuple(PAGES),
    as_of: dt.date = AS_OF,
) -> list[Timing]:
    engine = make_engine(url)
    filters = Filters.default(as_of)
    timings = []
    # The demo's last day plays today: in use the rollups end the day before and today's
    # partial day is read from the raw tables.
    with _rollups_through(engine, as_of - dt.timedelta(days=1)):
        for page in pages:
            metrics = PAGES[page]
            timings.append(_measure_page(url, engine, page, metrics, filters, runs, naive))
            print(f"measured {page}", file=sys.stderr)
    engine.dispose()
    return timings


def _measure_page(
    url: str,
    engine: sa.Engine,
    page: str,
    metrics: dict[str, Call],
    filters: Filters,
    runs: int,
    naive: bool,
) -> Timing:
    calls = list(metrics.values())
    _page_calls(engine, calls, filters)  # the database's own caches warm, as in use
    page_run = functools.partial(_page_calls, engine, calls, filters)
    with _captured(engine) as statements:
        _page_calls(engine, calls, filters)
    cold, bare = _medians([page_run, functools.partial(_replay, engine, statements)], runs)
    warm = _median(_warm_runner(engine, calls, filters), runs)
    with _rollups_through(engine, None):
        raw = _median(page_run, max(1, runs // 2))
    naive_seconds, naive_peak = (
        _naive(url, filters)
        if naive and page in ("overview", "partners", "throughput")
        else (None, None)
    )
    per_metric = _measure_metrics(engine, page, metrics, filters, runs)
    return Timing(page, cold, warm, bare, raw, naive_seconds, naive_peak, per_metric)


def _measure_metrics(
    engine: sa.Engine, page: str, metrics: dict[str, Call], filters: Filters, runs: int
) -> list[MetricTiming]:
    """Each metric call alone against the statements it sent, both on connections already
    open: the query layer's own cost per metric, without the page's connection checkout."""
    timings = []
    raw = engine.raw_connection()
    try:
        with engine.connect() as connection:
            for name, call in metrics.items():
                run = functools.partial(call, connection, filters)
                with _captured(engine) as statements:
                    run()
                replay = functools.partial(_replay_on, raw, statements)
                cold, bare = _medians([run, replay], runs)
                timings.append(MetricTiming(page, name, cold, bare))
    finally:
        raw.close()
    return timings


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.1f} ms"


def report(timings: Sequence[Timing], peak_rss: float | None) -> str:
    lines = [
        "| page | cold | warm | bare SQL | cold ÷ bare | raw tables | raw ÷ cold | naive | "
        "naive ÷ cold | naive peak | naive peak ÷ dashboard peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        naive_ratio = "—" if t.naive is None else f"{t.naive / t.cold:,.0f}x"
        peak = "—" if t.naive_peak_mb is None else f"{t.naive_peak_mb:,.0f} MB"
        memory_ratio = (
            "—" if t.naive_peak_mb is None or not peak_rss else f"{t.naive_peak_mb / peak_rss:.1f}x"
        )
        lines.append(
            f"| {t.page} | {_ms(t.cold)} | {_ms(t.warm)} | {_ms(t.bare)} | "
            f"{t.cold / t.bare:.2f} | {_ms(t.raw)} | {t.raw / t.cold:,.1f}x | {_ms(t.naive)} | "
            f"{naive_ratio} | {peak} | {memory_ratio} |"
        )
    if peak_rss is not None:
        lines.append(f"\nDashboard process peak RSS through all pages: {peak_rss:,.0f} MB")
    lines += [
        "",
        "| page | metric call | cold | bare SQL | cold ÷ bare |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for t in timings:
        lines.extend(
            f"| {m.page} | {m.metric} | {_ms(m.cold)} | {_ms(m.bare)} | {m.cold / m.bare:.2f} |"
            for m in t.metrics
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--installations", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=AS_OF,
        help="the demo's last day, which plays today (a demo built by `mar-insight demo` "
        "ends on the day it was built)",
    )
    parser.add_argument(
        "--pages", nargs="+", choices=list(PAGES), default=list(PAGES), help="only these pages"
    )
    args = parser.parse_args(argv)
    engine = make_engine(args.url)
    ensure_demo(engine, args.installations, args.as_of)
    engine.dispose()
    timings = measure(
        args.url, args.runs, naive=not args.skip_naive, pages=args.pages, as_of=args.as_of
    )
    peak = None if args.skip_rss else _dashboard_peak_rss(args.url, args.as_of)
    print(report(timings, peak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
