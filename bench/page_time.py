"""Page time as people feel it: ours beside the bare floor app, in one headless Chromium.

Serves the dashboard on --url and the floor app (`bench/floor_app.py`: the same navigation, a
sidebar of ten filter widgets, one 400-row table, nothing behind it) with the same settings,
then visits every page of each in turns — ours, floor, floor, ours, … — so both see the same
spells of a shared machine.  For each visit it measures:

- settle: from navigation until nothing on the page changes any more — the script run has
  finished and no DOM mutation followed for QUIET_MS; the time of the last mutation counts;
- server CPU: the server process's CPU time spent from before the navigation to settling.

The first visit of a new session (a fresh browser context: nothing cached) is measured the
same way.  It prints medians per page and their ratios to the floor against the targets of
issue 15.  Nothing is asserted: the figures go to the README.

    .venv/bin/python -m bench.page_time --url sqlite:///mar_demo.sqlite --runs 3
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, ViewportSize, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from bench.floor_app import PAGES
from bench.load_test import CHROMIUM, CHROMIUM_ARGS
from bench.server import FLOOR_APP, OUR_APP, Server, serve, tracebacks

DEFAULT_AS_OF = "2026-11-25"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
QUIET_MS = 500
TIMEOUT_MS = 120_000
#: Targets of issue 15, as ratios to the floor.
PAGE_TARGET = 1.5
MEAN_TARGET = 1.2
FIRST_VISIT_TARGET = 1.5
CPU_TARGET = 1.5
#: Records the time of every DOM change, from the first byte of the document on.
WATCH_CHANGES = """
window.__lastChange = performance.now();
new MutationObserver(() => { window.__lastChange = performance.now(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
FINISHED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]')
        && performance.now() - window.__lastChange >= QUIET;
}""".replace("QUIET", str(QUIET_MS))


@dataclasses.dataclass
class Sample:
    """Settle seconds and server CPU seconds of the visits of one page of one app."""

    settle: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class App:
    """One served app and the browser context its visits share (its cache stays warm)."""

    name: str
    server: Server
    context: BrowserContext
    samples: dict[str, Sample]
    first_visit: Sample


def visit(context: BrowserContext, url: str, server: Server, into: Sample) -> None:
    """Open `url` in a new tab of `context`, wait until it settles, and record the visit (or
    why it failed: a page that never settles or shows an exception box)."""
    page = context.new_page()
    try:
        before = server.cpu_seconds() or 0.0
        page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        page.wait_for_function(FINISHED, timeout=TIMEOUT_MS, polling=50)
        settled_ms = page.evaluate("window.__lastChange")
        cpu = (server.cpu_seconds() or 0.0) - before
        errors = page.locator('[data-testid="stException"]').count()
        if errors:
            into.failures.append(f"{url}: {errors} exception boxes")
        else:
            into.cpu.append(cpu)
            into.settle.append(settled_ms / 1000)
    except PlaywrightError as exc:
        into.failures.append(f"{url}: {str(exc).splitlines()[0]}")
    finally:
        page.close()


def fresh_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(WATCH_CHANGES)
    return context


def in_turns(apps: Sequence[App], runs: int) -> Iterator[tuple[int, App]]:
    """Each run visits the apps in turn, the order flipped every run (ours first, then the
    floor first), so neither always follows the other."""
    for run in range(runs):
        for app in apps if run % 2 == 0 else reversed(apps):
            yield run, app


def measure(browser: Browser, apps: Sequence[App], runs: int) -> None:
    for app in apps:  # one warm-up of every page: imports, caches, the browser's static files
        for path, _, _ in PAGES:
            visit(app.context, f"{app.server.base}/{_url_path(path)}", app.server, Sample())
    for _, app in in_turns(apps, runs):
        context = fresh_context(browser)
        try:
            visit(context, f"{app.server.base}/", app.server, app.first_visit)
        finally:
            context.close()
    for path, _, _ in PAGES:
        for _, app in in_turns(apps, runs):
            visit(
                app.context, f"{app.server.base}/{_url_path(path)}", app.server, app.samples[path]
            )


def _url_path(path: str) -> str:
    return "" if path == PAGES[0][0] else path


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(ours: App, floor: App) -> str:
    """The table of medians and ratios, then one line per target: met or not."""
    lines = [
        "| page | ours settle s | floor settle s | ratio | ours CPU s/view | floor CPU s/view "
        "| ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, mine: Sample, theirs: Sample) -> tuple[float, float, float, float]:
        figures = (
            _median(mine.settle),
            _median(theirs.settle),
            _median(mine.cpu),
            _median(theirs.cpu),
        )
        settle, floor_settle, cpu, floor_cpu = figures
        lines.append(
            f"| {name} | {settle:.2f} | {floor_settle:.2f} | {settle / floor_settle:.2f}x "
            f"| {cpu:.3f} | {floor_cpu:.3f} | {cpu / max(floor_cpu, 1e-3):.2f}x |"
        )
        return figures

    per_page = [row(title, ours.samples[path], floor.samples[path]) for path, title, _ in PAGES]
    means = [statistics.fmean(column) for column in zip(*per_page, strict=True)]
    lines.append(
        f"| **mean over pages** | {means[0]:.2f} | {means[1]:.2f} | {means[0] / means[1]:.2f}x "
        f"| {means[2]:.3f} | {means[3]:.3f} | {means[2] / max(means[3], 1e-3):.2f}x |"
    )
    first = row("first visit (new session)", ours.first_visit, floor.first_visit)
    worst = max(per_page, key=lambda figures: figures[0] / figures[1])
    worst_name = PAGES[per_page.index(worst)][1]
    verdicts: list[tuple[str, float, float]] = [
        (
            f"every page ≤ {PAGE_TARGET}x the floor (worst: {worst_name})",
            worst[0] / worst[1],
            PAGE_TARGET,
        ),
        (f"mean page ≤ {MEAN_TARGET}x the floor", means[0] / means[1], MEAN_TARGET),
        (
            f"first visit ≤ {FIRST_VISIT_TARGET}x the floor's",
            first[0] / first[1],
            FIRST_VISIT_TARGET,
        ),
        (
            f"mean server CPU per view ≤ {CPU_TARGET}x the floor's",
            means[2] / max(means[3], 1e-3),
            CPU_TARGET,
        ),
    ]
    lines.append("")
    for text, ratio, target in verdicts:
        lines.append(f"- {text}: {ratio:.2f}x — {'met' if ratio <= target else 'NOT met'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.page_time",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="database URL of the demo to serve")
    parser.add_argument("--runs", type=int, default=3, help="visits per page and app (median)")
    parser.add_argument("--as-of", default=DEFAULT_AS_OF, help="MAR_AS_OF for our server")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing; install it with 'make browser'.", file=sys.stderr)
        return 2
    env = {"MAR_DATABASE_URL": args.url, "MAR_AS_OF": args.as_of}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mar-page-time-") as scratch, ExitStack() as stack:
        logs = {name: Path(scratch) / f"{name}.log" for name in ("ours", "floor")}
        servers = {
            "ours": stack.enter_context(serve(logs["ours"], script=OUR_APP, env=env)),
            "floor": stack.enter_context(serve(logs["floor"], script=FLOOR_APP, env=env)),
        }
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        stack.callback(browser.close)
        apps = [
            App(
                name,
                server,
                fresh_context(browser),
                {path: Sample() for path, _, _ in PAGES},
                Sample(),
            )
            for name, server in servers.items()
        ]
        measure(browser, apps, args.runs)
        logged = {name: tracebacks(log)[0] for name, log in logs.items()}
    print(
        f"{args.runs} visits per page and app, in turns, Chromium {VIEWPORT['width']}x"
        f"{VIEWPORT['height']}, {time.perf_counter() - started:.0f} s in all; machine: "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(report(apps[0], apps[1]))
    failures = [
        f"{app.name}: {failure}"
        for app in apps
        for sample in (app.first_visit, *app.samples.values())
        for failure in sample.failures
    ]
    print(f"Failed visits: {len(failures)}", *failures, sep="\n  ")
    print(f"Server tracebacks: ours {logged['ours']}, floor {logged['floor']}")
    return 1 if failures or any(logged.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
