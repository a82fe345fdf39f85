"""Load without browsers: sessions that speak Streamlit's own websocket protocol.

Each session is what one browser tab does to the server, without the browser: it opens the
app's URL (so cookies set there — e.g. a proxy's affinity cookie — come along), connects to
`/_stcore/stream` and sends `BackMsg.rerun_script` with the page, query string and widget
states a tab would send, then reads `ForwardMsg`s until the script run has finished.  Both
message types come from the installed `streamlit` package, so the driver speaks the protocol
of the server it loads.  The load is then the server's alone: 50 sessions cost the client a
few percent of one core, where 50 Chromium tabs would take the whole machine.

A page view counts from sending the rerun to receiving `script_finished`; it fails on an
exception box, an error box (`st.error`), a page-not-found message, a compile error, a closed
socket or a timeout, and each failure is reported with its view.  A download is fetched as a
tab fetches it: a deferred-file request for a button the last run drew, then an HTTP GET of
the URL the server answers with.

    .venv/bin/python -m bench.protocol_load --url sqlite:///mar_demo.sqlite --sessions 50
    .venv/bin/python -m bench.protocol_load --base-url http://127.0.0.1:8080 --sessions 50

With `--url` the driver serves the dashboard itself (and, with `--floor`, the bare floor app
too, loaded the same way) and reports the server's CPU per view and its memory: idle (after a
warm-up session has left), at the peak, and after the sessions disconnected.  With
`--base-url` it loads a server that is already running, e.g. behind nginx; `--server-pid`
then adds its CPU and memory.  Importable: `drive(base_url, ...)` returns every view.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import http.cookiejar
import itertools
import math
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ContextInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from bench.server import (
    FLOOR_APP,
    OUR_APP,
    process_cpu_seconds,
    process_rss_mb,
    serve,
    tracebacks,
)

DEFAULT_AS_OF = "2026-11-25"
SEGMENTS = ("education", "authority", "nonprofit")
VIEW_TIMEOUT_SECONDS = 120.0
#: Memory may exceed its idle size by this share once the sessions have gone (issue 15).
MEMORY_TOLERANCE = 0.20
#: Streamlit keeps a disconnected session this long for a reconnect
#: (`server.disconnectedSessionTTL`, 120 s by default), so memory is watched a little longer.
SETTLE_SECONDS = 150.0
RUN_FINISHED = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


@dataclasses.dataclass(frozen=True)
class Visit:
    """What one page view asks for: the page (URL path, "" for the default page), the query
    string of the URL, and widgets changed on the way (label of a multiselect → options)."""

    page: str
    query: str = ""
    widgets: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        changed = "; ".join(f"{label}={list(values)}" for label, values in self.widgets.items())
        return " ".join(part for part in (self.query and f"?{self.query}", changed) if part)


@dataclasses.dataclass(frozen=True)
class View:
    """One page view as the session saw it; `error` is None when the page drew cleanly."""

    session: int
    page: str
    asked: str
    seconds: float
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class Download:
    """One download as the session saw it: `url` once the server generated the file (and so
    audited it), `body` once the file was fetched from there; `view.error` says what failed."""

    view: View
    url: str | None = None
    body: bytes | None = None


class ProtocolError(Exception):
    """The server ended the session or broke the protocol."""


class Session:
    """One viewer's tab, speaking BackMsg/ForwardMsg over `/_stcore/stream`.

    `headers` go with the page request and the websocket handshake (e.g. a trusted user
    header); cookies the page request sets (a proxy's affinity cookie, Streamlit's XSRF
    cookie) go with the handshake, as a browser would send them.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = VIEW_TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.pages: dict[str, str] = {}  # URL path → page script hash, from the navigation
        self.visible: list[str] = []  # URL paths of the pages the navigation shows
        self.default_page = ""  # its URL path ("" when it is the root)
        self.default_title = ""
        self.query = ""  # the URL's query string after the last run, as the page set it
        self.drawn: dict[str, str] = {}  # label → id of the widgets the last run drew
        self.files: dict[str, str] = {}  # label → deferred file id, downloads the last run drew
        self._session_id = ""  # the server's id of this session, which file requests carry
        self._cookies = ""  # what the page request set, sent again with every request
        self._socket: ClientConnection | None = None
        self._cached: dict[str, str | None] = {}  # message hash → its error, as a tab caches
        # message hash → the widget's label, id and deferred file id ("" when it has none)
        self._cached_widgets: dict[str, tuple[str, str, str]] = {}
        self._widget_ids: dict[str, str] = {}  # widget label → id, the latest on any page
        self._requests = itertools.count(1)

    async def open(self) -> None:
        jar = http.cookiejar.CookieJar()
        await asyncio.to_thread(self._get_page, jar)
        self._cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)
        split = urllib.parse.urlsplit(self.base_url)
        scheme = "wss" if split.scheme == "https" else "ws"
        origin = f"{split.scheme}://{split.netloc}"
        headers = {"Origin": origin, **self._with_cookies()}
        self._socket = await connect(
            f"{scheme}://{split.netloc}{split.path.rstrip('/')}/_stcore/stream",
            subprotocols=["streamlit"],  # type: ignore[list-item]
            additional_headers=headers,
            max_size=None,
            open_timeout=self.timeout,
            ping_interval=None,
        )

    def _with_cookies(self) -> dict[str, str]:
        return {**self.headers, **({"Cookie": self._cookies} if self._cookies else {})}

    def _get_page(self, jar: http.cookiejar.CookieJar) -> None:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        request = urllib.request.Request(f"{self.base_url}/", headers=self.headers)
        with opener.open(request, timeout=self.timeout) as response:
            response.read()

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
            self._socket = None

    async def visit(self, visit: Visit, number: int = 0) -> View:
        """Run one page and wait until the script has finished; never raises."""
        started = time.perf_counter()
        try:
            error = await asyncio.wait_for(self._run(visit), timeout=self.timeout)
        except TimeoutError:
            error = f"no script_finished within {self.timeout:.0f} s"
        except (ProtocolError, WebSocketException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        page = visit.page or self.default_page or self.default_title
        return View(number, page, visit.describe(), time.perf_counter() - started, error)

    async def download(self, label: str, page: str = "", number: int = 0) -> Download:
        """Fetch the file of the download button `label` the last run drew; never raises.

        As a tab does after the click: ask the server for the deferred file (it generates the
        file, which for our app writes the audit row, and answers with its URL), then GET it.
        No rerun is sent.  A label the last run did not draw fails unsent, as a browser
        cannot click it.  `page` only names the download in its view."""
        started = time.perf_counter()
        url: str | None = None
        body: bytes | None = None
        error: str | None = None
        try:
            url = await asyncio.wait_for(self._generate(label), timeout=self.timeout)
            body = await asyncio.to_thread(self._get_file, url)
        except TimeoutError:
            error = f"no file within {self.timeout:.0f} s"
        except (ProtocolError, WebSocketException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        view = View(number, page, f"download {label!r}", time.perf_counter() - started, error)
        return Download(view, url, body)

    async def _generate(self, label: str) -> str:
        """The URL of the deferred file of `label`, once the server has generated it."""
        if self._socket is None:
            raise ProtocolError("the session is not open")
        if label not in self.files:
            raise ProtocolError(f"no download labelled {label!r} on the previous page")
        message = BackMsg()
        request = message.backend_operation_request
        request.request_id = f"download-{next(self._requests)}"
        request.session_id = self._session_id
        request.deferred_file.file_id = self.files[label]
        await self._socket.send(message.SerializeToString())
        while True:
            answer = await self._receive()
            if answer.WhichOneof("type") != "backend_operation_response":
                continue
            response = answer.backend_operation_response
            if response.request_id != request.request_id:
                continue
            if response.error_msg:
                raise ProtocolError(f"the server did not generate the file: {response.error_msg}")
            return str(response.deferred_file.url)

    def _get_file(self, url: str) -> bytes:
        request = urllib.request.Request(f"{self.base_url}{url}", headers=self._with_cookies())
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            body: bytes = response.read()
            return body

    async def _receive(self) -> ForwardMsg:
        if self._socket is None:
            raise ProtocolError("the session is not open")
        data = await self._socket.recv()
        if isinstance(data, str):
            raise ProtocolError("the server sent text, not a ForwardMsg")
        message = ForwardMsg()
        message.ParseFromString(data)
        return message

    def _rerun(self, visit: Visit) -> BackMsg:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = visit.query
        state.page_name = visit.page
        state.page_script_hash = self.pages.get(visit.page, "")
        state.cached_message_hashes.extend(self._cached)
        state.context_info.CopyFrom(
            ContextInfo(
                timezone="UTC",
                timezone_offset=0,
                locale="en-US",
                url=f"{self.base_url}/{visit.page}" + (f"?{visit.query}" if visit.query else ""),
                color_scheme="light",
            )
        )
        for label, values in visit.widgets.items():
            if label not in self._widget_ids:
                raise ProtocolError(f"no widget labelled {label!r} on the previous page")
            widget = WidgetState(id=self._widget_ids[label])
            widget.string_array_value.data.extend(values)
            state.widget_states.widgets.append(widget)
        return message

    async def _run(self, visit: Visit) -> str | None:
        if self._socket is None:
            raise ProtocolError("the session is not open")
        await self._socket.send(self._rerun(visit).SerializeToString())
        self.drawn = {}
        self.files = {}
        errors: list[str] = []
        while True:
            message = await self._receive()
            kind = message.WhichOneof("type")
            if kind == "script_finished" and message.script_finished in RUN_FINISHED:
                if message.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    errors.append("the script did not compile")
                return "; ".join(errors) or None
            if kind == "new_session":
                self._session_id = message.new_session.initialize.session_id
            elif kind == "navigation":
                listed = message.navigation.app_pages
                self.pages = {p.url_pathname: p.page_script_hash for p in listed}
                self.visible = [p.url_pathname for p in listed if not p.is_hidden]
                default = next((p for p in listed if p.is_default), None)
                self.default_page = default.url_pathname if default else ""
                self.default_title = default.page_name if default else ""
            elif kind == "page_info_changed":
                self.query = message.page_info_changed.query_string
            elif kind == "page_not_found":
                errors.append(f"page not found: {message.page_not_found.page_name!r}")
            elif kind == "ref_hash":
                found = self._cached.get(message.ref_hash)
                if message.ref_hash in self._cached_widgets:
                    label, widget_id, file_id = self._cached_widgets[message.ref_hash]
                    self._drew(label, widget_id, file_id)
                if found:
                    errors.append(found)
            elif kind == "delta":
                found = self._element(message)
                if found:
                    errors.append(found)

    def _element(self, message: ForwardMsg) -> str | None:
        """Note widget ids and cacheable messages; the element's error, if it shows one."""
        delta = message.delta
        if delta.WhichOneof("type") != "new_element":
            return None
        element = delta.new_element
        kind = element.WhichOneof("type")
        error = None
        if kind == "exception":
            error = f"exception box: {element.exception.type}: {element.exception.message[:200]}"
        elif kind == "alert" and element.alert.format == Alert.ERROR:
            error = f"error box: {element.alert.body[:200]}"
        elif kind is not None:
            widget: Any = getattr(element, kind)
            label = getattr(widget, "label", None)
            if label and hasattr(widget, "id"):
                file_id = str(getattr(widget, "deferred_file_id", ""))
                self._drew(str(label), str(widget.id), file_id)
                if message.metadata.cacheable:
                    self._cached_widgets[message.hash] = (str(label), str(widget.id), file_id)
        if message.metadata.cacheable:
            self._cached[message.hash] = error
        return error

    def _drew(self, label: str, widget_id: str, file_id: str) -> None:
        self._widget_ids[label] = self.drawn[label] = widget_id
        if file_id:
            self.files[label] = file_id


def plan(pages: Sequence[str], session: int, rounds: int = 3) -> list[Visit]:
    """Every page `rounds` times, each round with other filters, different per session:
    a segment in the URL; a half-year and another segment in the URL; then the Segment
    filter changed in the sidebar (a widget state), the URL of the round before kept."""
    first = f"segment={SEGMENTS[session % 3]}"
    second = f"from=2026-01-01&to=2026-06-30&segment={SEGMENTS[(session + 1) % 3]}"
    chosen = {"Segment": [SEGMENTS[(session + 2) % 3]]}
    shapes = [Visit("", first), Visit("", second), Visit("", second, chosen)]
    return [
        dataclasses.replace(shapes[number % len(shapes)], page=page)
        for number in range(rounds)
        for page in pages
    ]


async def run_session(
    base_url: str,
    number: int,
    *,
    rounds: int = 3,
    headers: Mapping[str, str] | None = None,
    timeout: float = VIEW_TIMEOUT_SECONDS,
) -> list[View]:
    """One session: open the app, learn its pages from the first view, then visit them all."""
    session = Session(base_url, headers=headers, timeout=timeout)
    try:
        await session.open()
    except (WebSocketException, OSError) as exc:
        return [View(number, "", "", 0.0, f"could not connect: {type(exc).__name__}: {exc}")]
    try:
        views = [await session.visit(Visit("", plan([""], number)[0].query), number)]
        pages = [page for page in session.visible if page != session.default_page]
        for visit in plan([session.default_page, *pages], number, rounds)[1:]:
            views.append(await session.visit(visit, number))
        return views
    finally:
        await session.close()


@dataclasses.dataclass
class LoadRun:
    """Every view of one load run, with its wall time."""

    sessions: int
    rounds: int
    views: list[View]
    seconds: float

    @property
    def errors(self) -> list[View]:
        return [view for view in self.views if view.error is not None]

    @property
    def times(self) -> list[float]:
        return [view.seconds for view in self.views if view.error is None]

    @property
    def views_per_second(self) -> float:
        return len(self.times) / self.seconds if self.seconds else 0.0


async def drive(
    base_url: str,
    sessions: int,
    *,
    rounds: int = 3,
    headers: Mapping[str, str] | None = None,
    timeout: float = VIEW_TIMEOUT_SECONDS,
) -> LoadRun:
    """`sessions` concurrent sessions against `base_url`, each visiting every page `rounds`
    times with different filters."""
    started = time.perf_counter()
    runs = [
        run_session(base_url, number, rounds=rounds, headers=headers, timeout=timeout)
        for number in range(1, sessions + 1)
    ]
    views = [view for run in await asyncio.gather(*runs) for view in run]
    return LoadRun(sessions, rounds, views, time.perf_counter() - started)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of values <= it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1] if ordered else math.nan


@dataclasses.dataclass
class Measured:
    """A load run on a server whose process we can watch: CPU and memory around it."""

    name: str
    run: LoadRun
    cpu_seconds: float | None = None
    idle_mb: float | None = None
    peak_mb: float | None = None
    after_mb: float | None = None
    settle_seconds: float | None = None

    @property
    def memory_returned(self) -> bool | None:
        if self.after_mb is None or self.idle_mb is None:
            return None
        return self.after_mb <= self.idle_mb * (1 + MEMORY_TOLERANCE)


async def _sample_peak(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak.append(process_rss_mb(pid) or 0.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)


async def measure(
    name: str,
    base_url: str,
    sessions: int,
    *,
    pid: int | None,
    rounds: int = 3,
    headers: Mapping[str, str] | None = None,
    timeout: float = VIEW_TIMEOUT_SECONDS,
    settle_seconds: float = SETTLE_SECONDS,
) -> Measured:
    """Warm up with one session, note the idle memory, run the load, then watch the memory
    until it is back within the tolerance of idle (or `settle_seconds` have passed)."""
    await run_session(base_url, 0, rounds=1, headers=headers, timeout=timeout)
    if pid is None:
        run = await drive(base_url, sessions, rounds=rounds, headers=headers, timeout=timeout)
        return Measured(name, run)
    await asyncio.sleep(2)
    idle = process_rss_mb(pid)
    cpu_before = process_cpu_seconds(pid)
    peak: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_peak(pid, peak, stop))
    run = await drive(base_url, sessions, rounds=rounds, headers=headers, timeout=timeout)
    stop.set()
    await sampler
    cpu_after = process_cpu_seconds(pid)
    disconnected = time.monotonic()
    after = process_rss_mb(pid)
    while (
        idle is not None
        and after is not None
        and after > idle * (1 + MEMORY_TOLERANCE)
        and time.monotonic() - disconnected < settle_seconds
    ):
        await asyncio.sleep(5)
        after = process_rss_mb(pid)
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Measured(
        name,
        run,
        cpu_seconds=cpu,
        idle_mb=idle,
        peak_mb=max(peak, default=None),
        after_mb=after,
        settle_seconds=time.monotonic() - disconnected,
    )


def _figure(value: float | None, pattern: str) -> str:
    return "—" if value is None or math.isnan(value) else pattern.format(value)


def report(results: Sequence[Measured]) -> str:
    """A Markdown table per app (ours, the floor), then per page, then the first errors."""
    lines = [
        "| app | sessions | views | errors | views/s | p50 s | p95 s | max s | CPU s/view "
        "| RSS idle MB | RSS peak MB | RSS after MB | back within 20 % |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| --- |",
    ]
    for result in results:
        run = result.run
        times = run.times
        cpu = None if result.cpu_seconds is None else result.cpu_seconds / max(len(run.views), 1)
        back = result.memory_returned
        settled = (
            "—"
            if back is None
            else f"{'yes' if back else 'NO'} (after {result.settle_seconds or 0:.0f} s)"
        )
        lines.append(
            f"| {result.name} | {run.sessions} | {len(run.views)} | {len(run.errors)} "
            f"| {run.views_per_second:.2f} | {_figure(percentile(times, 0.5), '{:.2f}')} "
            f"| {_figure(percentile(times, 0.95), '{:.2f}')} "
            f"| {_figure(max(times, default=None), '{:.2f}')} | {_figure(cpu, '{:.3f}')} "
            f"| {_figure(result.idle_mb, '{:.0f}')} | {_figure(result.peak_mb, '{:.0f}')} "
            f"| {_figure(result.after_mb, '{:.0f}')} | {settled} |"
        )
    for result in results:
        lines += ["", f"{result.name}, per page:", "", "| page | views | errors | p50 s | p95 s |"]
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        pages = dict.fromkeys(view.page for view in result.run.views)
        for page in pages:
            views = [view for view in result.run.views if view.page == page]
            times = [view.seconds for view in views if view.error is None]
            failed = sum(view.error is not None for view in views)
            lines.append(
                f"| {page or '(none)'} | {len(views)} | {failed} "
                f"| {_figure(percentile(times, 0.5), '{:.2f}')} "
                f"| {_figure(percentile(times, 0.95), '{:.2f}')} |"
            )
        for view in result.run.errors[:10]:
            lines.append(f"  error, session {view.session}, {view.page} {view.asked}: {view.error}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.protocol_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="database URL: serve the dashboard on it ourselves")
    target.add_argument("--base-url", help="load a running server instead, e.g. via nginx")
    parser.add_argument("--sessions", type=int, default=50, help="concurrent sessions")
    parser.add_argument("--rounds", type=int, default=3, help="visits of every page per session")
    parser.add_argument("--as-of", default=DEFAULT_AS_OF, help="MAR_AS_OF when serving ourselves")
    parser.add_argument("--floor", action="store_true", help="also load the bare floor app")
    parser.add_argument("--server-pid", type=int, help="with --base-url: the server to watch")
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME:VALUE", help="repeatable"
    )
    parser.add_argument("--timeout", type=float, default=VIEW_TIMEOUT_SECONDS)
    parser.add_argument("--settle-seconds", type=float, default=SETTLE_SECONDS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load and print its tables; 0 when no view failed and nothing was logged."""
    args = _parser().parse_args(argv)
    bad = [h for h in args.header if ":" not in h]
    if bad or args.sessions < 1 or args.rounds < 1:
        problem = f"--header needs NAME:VALUE, not {bad[0]!r}" if bad else "needs at least 1"
        print(f"protocol_load: {problem} (sessions and rounds).", file=sys.stderr)
        return 2
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {name.strip(): value.strip() for name, value in headers.items()}

    def load(name: str, base: str, pid: int | None) -> Measured:
        return asyncio.run(
            measure(
                name,
                base,
                args.sessions,
                pid=pid,
                rounds=args.rounds,
                headers=headers,
                timeout=args.timeout,
                settle_seconds=args.settle_seconds,
            )
        )

    results: list[Measured] = []
    logged = 0
    if args.base_url:
        results.append(load("server", args.base_url, args.server_pid))
    else:
        apps = [("ours", OUR_APP), ("floor", FLOOR_APP)][: 2 if args.floor else 1]
        env = {"MAR_DATABASE_URL": args.url, "MAR_AS_OF": args.as_of}
        with tempfile.TemporaryDirectory(prefix="mar-protocol-") as scratch:
            for name, script in apps:
                log = Path(scratch) / f"{name}.log"
                with serve(log, script=script, env=env) as server:
                    results.append(load(name, server.base, server.process.pid))
                count, first = tracebacks(log)
                logged += count
                if first:
                    print(f"{name} server logged {count} tracebacks; the first ends:\n{first}")
    print(
        f"{args.sessions} sessions x {args.rounds} rounds of every page; machine: "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(report(results))
    failed = sum(len(result.run.errors) for result in results) + logged
    print(f"Errors: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
