"""Scale-out on one machine: a PostgreSQL primary and its streaming replica, two dashboard
processes, nginx in front, and the protocol-level load driver (bench/protocol_load.py)
through nginx.

    .venv/bin/python -m bench.scale_out --sessions 20 --seconds 30

Everything is stood up on loopback from deploy/ (bench/topology.py) and torn down at the end:
the primary is `initdb`'d with a demo of `--installations`, the replica made with
`pg_basebackup -R`, the dashboards read from the replica and write their audit rows to the
primary.  Three phases of `--seconds` each, with `--sessions` concurrent sessions that visit
every page in turn and download the partners page's CSV (one audit row each):

1. nginx in front of one process: page views per second;
2. nginx in front of both: page views per second;
3. both again, and one process is stopped halfway: its sessions see their view fail,
   reconnect (nginx sends them to the other process) and go on, as a browser tab does.  The
   phase lasts at least half a phase more once the process is gone (stopping takes a while),
   so that the sessions are seen to go on.

The last line is the result:

    scale-out: views/s 1 process=…, 2 processes=…, errors=… (during the stop …),
    audit_lost=…, replica lag=… s

`audit_lost` = downloads the driver saw done (a file of a button the partners view drew, whose
URL the server sent back: the file's data callable writes the audit row before it answers)
minus audit rows found on the primary;
`replica lag` is the largest lag seen on the replica during the load.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import itertools
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import sqlalchemy as sa
from websockets.exceptions import WebSocketException

from bench.protocol_load import Session, View, plan
from bench.server import free_port
from bench.topology import (
    Cluster,
    Dashboard,
    Proxy,
    missing_nginx,
    missing_postgres_binaries,
    proxy,
    render_environment,
    start_dashboard,
)
from data.db import make_engine
from data.demo import generate_demo
from data.replica import replica_lag

AS_OF = dt.date(2026, 11, 25)
DOWNLOAD = "Download CSV"
#: The page whose download each session fetches once per round (an audit row).
AUDITED_PAGE = "partners"
VIEW_TIMEOUT_SECONDS = 60.0
RECONNECT_PAUSE_SECONDS = 0.5
#: URL paths of the pages every session visits in turn ("" is the overview).
PAGES = ("", "partners", "partner_detail", "conversions", "stock", "throughput", "reporting")


@dataclasses.dataclass
class Phase:
    """What the sessions saw in one phase; `downloads` counts the files of a download button
    of the view just made whose URL the server sent back (the audit row is written before
    the URL is), not requests merely sent."""

    name: str
    seconds: float
    views: list[View] = dataclasses.field(default_factory=list)
    downloads: int = 0

    @property
    def errors(self) -> list[View]:
        return [view for view in self.views if view.error is not None]

    @property
    def views_per_second(self) -> float:
        return (len(self.views) - len(self.errors)) / self.seconds


@dataclasses.dataclass
class Deadline:
    """When the sessions of a phase stop; a stopped process moves it later."""

    at: float

    def passed(self) -> bool:
        return time.monotonic() >= self.at


async def _session(base: str, number: int, until: Deadline, phase: Phase) -> None:
    """One viewer until `until`: every page in turn with changing filters, a download on the
    partners page; after a failed view it reconnects and goes on, as a browser tab does."""
    session = Session(base, timeout=VIEW_TIMEOUT_SECONDS)
    visits = itertools.cycle(plan(PAGES, number))
    connected = False
    try:
        while not until.passed():
            if not connected:
                try:
                    await session.close()
                    await session.open()
                    connected = True
                except (OSError, WebSocketException) as exc:
                    phase.views.append(View(number, "", "connect", 0.0, f"{exc}"))
                    await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                    continue
            visit = next(visits)
            view = await session.visit(visit, number)
            phase.views.append(view)
            if view.error is None and view.page == AUDITED_PAGE:
                # Only a file of a button this very view drew (`Session.files` holds no
                # other): a file id remembered from before a reconnect names nothing on the
                # server the session reaches now.
                drawn = [name for name in session.files if name.startswith(DOWNLOAD)]
                if drawn:
                    download = await session.download(drawn[0], AUDITED_PAGE, number)
                    phase.views.append(download.view)
                    phase.downloads += download.url is not None
                    view = download.view
            connected = view.error is None
    finally:
        await session.close()


async def _load(base: str, sessions: int, phase: Phase, stop: Dashboard | None) -> None:
    started = time.monotonic()
    until = Deadline(started + phase.seconds)
    runs = [_session(base, number, until, phase) for number in range(1, sessions + 1)]
    if stop is not None:
        runs.append(_stop_halfway(stop, started + phase.seconds / 2, until))
    await asyncio.gather(*runs)
    phase.seconds = time.monotonic() - started


async def _stop_halfway(dashboard: Dashboard, at: float, until: Deadline) -> None:
    """Stop `dashboard` at `at`; once it is gone the sessions go on for at least as long as
    the phase had left when the stop began."""
    await asyncio.sleep(max(at - time.monotonic(), 0))
    started = time.monotonic()
    await asyncio.to_thread(dashboard.stop)
    until.at = max(until.at, time.monotonic() + until.at - started)


async def _watch_lag(url: str, peak: list[float], done: asyncio.Event) -> None:
    """Sample the replica's lag every second while the load runs, keeping the largest."""
    engine = make_engine(url)
    try:
        while not done.is_set():
            with engine.connect() as connection:
                lag = replica_lag(connection)
            peak.append(lag.total_seconds() if lag is not None else 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=1.0)
    finally:
        engine.dispose()


async def _phase(
    replica: Cluster,
    base: str,
    sessions: int,
    phase: Phase,
    lags: list[float],
    stop: Dashboard | None = None,
) -> Phase:
    done = asyncio.Event()
    watcher = asyncio.create_task(_watch_lag(replica.url, lags, done))
    try:
        await _load(base, sessions, phase, stop)
    finally:
        done.set()
        await watcher
    return phase


@contextlib.contextmanager
def _trusting(nginx: Proxy) -> Iterator[None]:
    """Trust the proxy's self-signed certificate in this process, as an operator's clients
    trust an internal CA: the driver's HTTPS and wss connections use the default context,
    which reads SSL_CERT_FILE whenever one is made."""
    before = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(nginx.certificate)
    try:
        yield
    finally:
        if before is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = before


def _audit_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one())
    finally:
        engine.dispose()


async def _visit_every_page(base: str) -> None:
    session = Session(base, timeout=VIEW_TIMEOUT_SECONDS)
    try:
        await session.open()
        for visit in plan(PAGES, 0, rounds=1):
            await session.visit(visit)
    finally:
        await session.close()


async def _warm_up(dashboards: Sequence[Dashboard]) -> None:
    """Every page once on each process, so that no phase pays for a cold cache."""
    await asyncio.gather(*(_visit_every_page(dashboard.base) for dashboard in dashboards))


def run(sessions: int, seconds: float, installations: int, log: Path, *, warm_up: bool) -> str:
    """Stand the topology up, run the three phases, tear it down; the result line."""
    primary = Cluster.create("mar-scale-primary-", {"wal_level": "replica"})
    replica: Cluster | None = None
    dashboards: list[Dashboard] = []
    try:
        primary.start()
        engine = make_engine(primary.url)
        try:
            generate_demo(engine, installations=installations, as_of=AS_OF, progress=_quiet)
        finally:
            engine.dispose()
        replica = primary.replica("mar-scale-replica-")
        replica.start()
        environment = log / "mar-insight.env"
        environment.write_text(
            render_environment(
                {
                    "MAR_DATABASE_URL": primary.url,
                    "MAR_READ_DATABASE_URL": replica.url,
                    "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_urlsafe(48),
                }
            )
            + f"MAR_AS_OF={AS_OF}\n",
            encoding="utf-8",
        )
        ports = [free_port(), free_port()]
        with concurrent.futures.ThreadPoolExecutor() as pool:
            starting = [
                pool.submit(start_dashboard, port, environment, log / f"dashboard-{port}.log")
                for port in ports
            ]
            for started in concurrent.futures.as_completed(starting):
                dashboards.append(started.result())
        dashboards.sort(key=lambda dashboard: dashboard.port)
        if warm_up:
            asyncio.run(_warm_up(dashboards))
        audit_before = _audit_rows(primary.url)
        lags: list[float] = []
        one, two, stop = (Phase(name, seconds) for name in ("1 process", "2 processes", "stop"))
        with proxy(log / "nginx-one", [dashboards[0].port]) as nginx, _trusting(nginx):
            asyncio.run(_phase(replica, nginx.base, sessions, one, lags))
        with proxy(log / "nginx-two", [d.port for d in dashboards]) as nginx, _trusting(nginx):
            asyncio.run(_phase(replica, nginx.base, sessions, two, lags))
            asyncio.run(_phase(replica, nginx.base, sessions, stop, lags, dashboards[1]))
        for phase in (one, two, stop):
            for error in sorted({view.error or "" for view in phase.errors})[:5]:
                print(f"{phase.name}: {error}", file=sys.stderr)
        expected = one.downloads + two.downloads + stop.downloads
        lost = max(expected - (_audit_rows(primary.url) - audit_before), 0)
        errors = len(one.errors) + len(two.errors) + len(stop.errors)
        views = len(one.views) + len(two.views) + len(stop.views)
        return (
            f"scale-out: views/s 1 process={one.views_per_second:.2f} "
            f"2 processes={two.views_per_second:.2f}, errors={errors} of {views} views "
            f"(during the stop {len(stop.errors)} of {len(stop.views)}), "
            f"audit_lost={lost} of {expected} downloads, replica lag={max(lags, default=0):.1f} s"
        )
    finally:
        for dashboard in dashboards:
            dashboard.stop()
        if replica is not None:
            replica.remove()
        primary.remove()


def _quiet(*_: object) -> None:
    """Progress of the demo generator: not shown, the result line is what counts."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale_out", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of a phase (30)")
    parser.add_argument(
        "--installations", type=int, default=20_000, help="demo size on the primary (20000)"
    )
    parser.add_argument(
        "--warm-up",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="visit every page on each process before measuring (default: on)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.sessions < 1 or args.seconds <= 0:
        print("scale-out: --sessions must be at least 1 and --seconds above 0.", file=sys.stderr)
        return 2
    if problem := missing_postgres_binaries() or missing_nginx():
        print(f"scale-out: {problem}", file=sys.stderr)
        return 2
    log = Path(tempfile.mkdtemp(prefix="mar-scale-out-"))
    try:
        print(run(args.sessions, args.seconds, args.installations, log, warm_up=args.warm_up))
    finally:
        shutil.rmtree(log, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
