"""deploy/ as an operator installs it: two dashboard processes started from the systemd unit
and its environment file, Debian's nginx with the site file in front, TLS on loopback.

Each request's affinity key and the process that served it come from nginx's access log, so
stickiness and failover are read from what nginx did, not inferred.  Without nginx the module
is skipped, or fails under `CI=true`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import os
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from websockets.sync.client import connect

from bench.server import HOST, free_port
from bench.topology import (
    Dashboard,
    Proxy,
    missing_nginx,
    proxy,
    render_environment,
    start_dashboard,
)
from data.db import make_engine
from data.demo import generate_demo

#: One worker runs the whole module, so its topology is built once.
pytestmark = pytest.mark.xdist_group("deploy")
AS_OF = dt.date(2026, 11, 25)
LOG_WAIT_SECONDS = 10


@dataclasses.dataclass
class Site:
    proxy: Proxy
    dashboards: list[Dashboard]
    environment: Path
    directory: Path

    def process(self, dashboard: Dashboard) -> str:
        return f"{HOST}:{dashboard.port}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    if problem := missing_nginx():
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    directory = Path(tempfile.mkdtemp(prefix="mar-deploy-"))
    url = f"sqlite:///{directory / 'mar.sqlite'}"
    engine = make_engine(url)
    generate_demo(engine, installations=2_000, seed=5, as_of=AS_OF, progress=lambda *_: None)
    engine.dispose()
    environment = directory / "mar-insight.env"
    environment.write_text(
        render_environment(
            {
                "MAR_DATABASE_URL": url,
                "MAR_READ_DATABASE_URL": "",
                "STREAMLIT_SERVER_COOKIE_SECRET": "one-secret-for-every-process",
            }
        )
        + f"MAR_AS_OF={AS_OF}\n",
        encoding="utf-8",
    )
    dashboards: list[Dashboard] = []
    try:
        for _ in range(2):
            port = free_port()
            dashboards.append(start_dashboard(port, environment, directory / f"{port}.log"))
        with proxy(directory / "nginx", [d.port for d in dashboards]) as running:
            yield Site(running, dashboards, environment, directory)
    finally:
        for dashboard in dashboards:
            dashboard.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _open_app(site: Site, jar: CookieJar) -> int:
    """GET / through the proxy as a browser would, keeping its cookies; the status code."""
    https = urllib.request.HTTPSHandler(context=site.proxy.trusting_context())
    opener = urllib.request.build_opener(https, urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{site.proxy.base}/", timeout=30) as response:
        response.read()
        return int(response.status)


def _affinity(jar: CookieJar) -> str:
    return next(cookie.value or "" for cookie in jar if cookie.name == "mar_route")


def _answers(site: Site, key: str, at_least: int = 1) -> list[str]:
    """The processes that answered the requests with this affinity key, in order, once nginx
    has logged `at_least` of them (it logs just after the response has gone out)."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        found = [process for affinity, process in site.proxy.routes() if affinity == key]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _served_by(site: Site, key: str, requests: int = 1) -> set[str]:
    return set(_answers(site, key, requests))


def test_http_is_redirected_to_https(site: Site) -> None:
    connection = http.client.HTTPConnection(HOST, site.proxy.http_port, timeout=10)
    connection.request("GET", "/partners?segment=education")
    response = connection.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == "https://127.0.0.1/partners?segment=education"


def test_the_health_check_answers_through_the_proxy(site: Site) -> None:
    health = f"{site.proxy.base}/_stcore/health"
    context = site.proxy.trusting_context()
    with urllib.request.urlopen(health, timeout=10, context=context) as response:
        assert response.read() == b"ok"


def test_a_browser_gets_an_affinity_cookie_and_keeps_to_one_process(site: Site) -> None:
    jar = CookieJar()
    for _ in range(3):
        assert _open_app(site, jar) == 200
    key = _affinity(jar)
    assert len(key) == 32
    assert len(_served_by(site, key, 3)) == 1


def test_the_websocket_is_upgraded_and_reaches_the_same_process_as_the_page(site: Site) -> None:
    jar = CookieJar()
    _open_app(site, jar)
    key = _affinity(jar)
    stream = f"wss://{HOST}:{site.proxy.https_port}/_stcore/stream"
    headers = {"Origin": site.proxy.base, "Cookie": f"mar_route={key}"}
    with connect(
        stream,
        ssl=site.proxy.trusting_context(),
        subprotocols=["streamlit"],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=30,
    ) as socket:
        assert socket.subprotocol == "streamlit"
    assert len(_served_by(site, key, 2)) == 1


def test_new_browsers_are_spread_over_both_processes(site: Site) -> None:
    keys = []
    for _ in range(12):
        jar = CookieJar()
        _open_app(site, jar)
        keys.append(_affinity(jar))
    served = set().union(*(_served_by(site, key) for key in keys))
    assert served == {site.process(d) for d in site.dashboards}


def test_browsers_of_a_stopped_process_go_on_with_the_other(site: Site) -> None:
    stopped, other = site.dashboards
    keys: list[str] = []
    for _ in range(60):  # new browsers until three landed on the process about to stop
        jar = CookieJar()
        _open_app(site, jar)
        if _served_by(site, _affinity(jar)) == {site.process(stopped)}:
            keys.append(_affinity(jar))
        if len(keys) == 3:
            break
    assert len(keys) == 3, "nginx sent no new browser to the first process"
    stopped.stop()
    https = urllib.request.HTTPSHandler(context=site.proxy.trusting_context())
    try:
        for key in keys:
            request = urllib.request.Request(
                f"{site.proxy.base}/", headers={"Cookie": f"mar_route={key}"}
            )
            with urllib.request.build_opener(https).open(request, timeout=30) as response:
                assert response.status == 200
            assert _answers(site, key, 2)[-1] == site.process(other)
    finally:
        site.dashboards[0] = start_dashboard(
            stopped.port, site.environment, site.directory / f"{stopped.port}.log"
        )
