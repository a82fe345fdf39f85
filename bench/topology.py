"""The parts of a scaled-out installation, stood up on loopback for tests and benchmarks.

- PostgreSQL clusters of our own (a primary and its streaming replica, each `initdb`'d or
  `pg_basebackup`'d into a temporary directory on a free port), so a test can stop, lag or
  replicate a server without touching the machine's PostgreSQL.  As root, initdb and the
  server refuse to run, so every PostgreSQL command runs as the `postgres` OS user.
- Dashboard processes started the way `deploy/systemd/mar-insight@.service` starts them (its
  working directory, environment file, environment and command line, read from the unit).
- Debian's nginx in the foreground with `deploy/nginx/mar-insight.conf`, only its ports,
  upstream servers and certificate replaced, TLS with a self-signed loopback certificate.

What runs here is what the README tells an operator to install.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.server import HOST, ROOT, free_port, healthy

DEPLOY = ROOT / "deploy"
SITE = DEPLOY / "nginx" / "mar-insight.conf"
UNIT = DEPLOY / "systemd" / "mar-insight@.service"
ENVIRONMENT = DEPLOY / "systemd" / "mar-insight.env"
#: Where the unit expects the installation; here it is this checkout.
INSTALLED_AT = "/opt/mar-insight"
PG_BIN = Path(os.environ.get("MAR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX = Path("/usr/sbin/nginx")
START_SECONDS = 90


def _replace_once(pattern: str, replacement: str, text: str, source: Path) -> str:
    """`text` (read from `source`) with its one line matching `pattern` replaced, so a
    renamed line in deploy/ fails loudly instead of running the wrong configuration."""
    text, found = re.subn(pattern, lambda _match: replacement, text, flags=re.M)
    if found != 1:
        raise ValueError(f"{source} should hold exactly one line matching {pattern!r}")
    return text


def missing_postgres_binaries() -> str | None:
    """One sentence naming what is missing to run our own clusters, or None."""
    for name in ("initdb", "pg_ctl", "pg_basebackup"):
        if not (PG_BIN / name).exists():
            return f"{PG_BIN / name} is missing; install PostgreSQL 15 to run these tests."
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing; initdb and pg_ctl refuse to run as root without it."
    return None


def _as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=300)


def _owned_directory(prefix: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(directory, user="postgres", group="postgres")
    return directory


@dataclasses.dataclass
class Cluster:
    """A PostgreSQL cluster whose data lives in `directory/data`, listening on `port`."""

    directory: Path
    port: int

    @classmethod
    def create(cls, prefix: str, settings: Mapping[str, str] | None = None) -> Cluster:
        """initdb a new cluster (trust authentication, loopback only) in a new temporary
        directory; it is not started yet."""
        cluster = cls(_owned_directory(prefix), free_port())
        _as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(cluster.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        defaults = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
        cluster.configure({**defaults, **(settings or {})})
        return cluster

    def replica(self, prefix: str) -> Cluster:
        """A streaming replica of this running cluster (`pg_basebackup -R`) in a new temporary
        directory, on a port of its own; it is not started yet."""
        replica = Cluster(_owned_directory(prefix), free_port())
        _as_postgres(
            str(PG_BIN / "pg_basebackup"),
            "-D",
            str(replica.data),
            "-h",
            HOST,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",  # a spread checkpoint kept it waiting for about a minute
            "--no-sync",
        )
        replica.configure({})
        return replica

    def configure(self, settings: Mapping[str, str]) -> None:
        """Append settings to postgresql.conf (later lines win), always with this cluster's
        own port, loopback address and socket directory."""
        own = {
            "port": str(self.port),
            "listen_addresses": f"'{HOST}'",
            "unix_socket_directories": f"'{self.directory}'",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in {**settings, **own}.items())

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@{HOST}:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args)

    def start(self) -> None:
        self.pg_ctl("-l", str(self.directory / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        try:
            self.pg_ctl("status")
        except subprocess.CalledProcessError:
            return False
        return True

    def remove(self) -> None:
        """Stop the server if it runs and delete everything it wrote."""
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def missing_nginx() -> str | None:
    """One sentence when Debian's nginx is not installed, or None."""
    if not NGINX.exists():
        return f"{NGINX} is missing; install Debian's nginx (apt-get install nginx)."
    return None


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{log.name}: did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


# --- dashboard processes, as the systemd unit starts them ---------------------------------


def render_environment(values: Mapping[str, str]) -> str:
    """deploy/systemd/mar-insight.env with these variables set (each must be in the file)."""
    text = ENVIRONMENT.read_text(encoding="utf-8")
    for name, value in values.items():
        text = _replace_once(rf"^{name}=.*$", f"{name}={value}", text, ENVIRONMENT)
    return text


def _assignments(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {
        name.strip(): value.strip() for name, value in pairs if not name.lstrip().startswith("#")
    }


@dataclasses.dataclass
class Dashboard:
    """One dashboard process, `mar-insight@PORT`, in its own process group."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        """What `systemctl stop` does: SIGTERM to every process of the unit (`mar-insight
        serve` and the Streamlit server it started), then wait until all of them are gone."""
        group = self.process.pid
        if self.process.poll() is None:
            os.killpg(group, signal.SIGTERM)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _group_alive(group):
            if time.monotonic() > deadline:
                os.killpg(group, signal.SIGKILL)
            time.sleep(0.05)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def start_dashboard(port: int, environment_file: Path, log: Path) -> Dashboard:
    """Start `mar-insight@PORT` from the unit's own lines and wait until it is healthy."""
    unit = UNIT.read_text(encoding="utf-8").replace("%i", str(port))
    unit = unit.replace(INSTALLED_AT, str(ROOT))
    service = unit.split("[Service]", 1)[1].split("\n[", 1)[0]
    lines = [line.split("=", 1) for line in service.splitlines() if "=" in line]
    environment = _assignments(environment_file.read_text(encoding="utf-8"))
    for key, value in lines:
        if key == "Environment":
            environment.update(_assignments(value))
    command = next(value for key, value in lines if key == "ExecStart").split()
    cwd = next(value for key, value in lines if key == "WorkingDirectory")
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    dashboard = Dashboard(port, process)
    try:
        _wait_until(lambda: healthy(dashboard.base), process, log)
    except BaseException:
        dashboard.stop()
        raise
    return dashboard


# --- nginx in front -------------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as the TLS example's two files."""
    certificate, key = directory / "mar-insight.pem", directory / "mar-insight.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={HOST}",
            "-addext",
            f"subjectAltName=IP:{HOST}",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return certificate, key


def render_site(
    *, http_port: int, https_port: int, dashboards: Sequence[int], certificate: Path, key: Path
) -> str:
    """deploy/nginx/mar-insight.conf for loopback: its ports, its upstream servers (one line
    per dashboard port, with the options of the file's first server line) and its
    certificate replaced; everything else as an operator installs it."""
    text = SITE.read_text(encoding="utf-8")
    replacements = {
        r"^\s*listen 80;": f"listen {HOST}:{http_port};",
        r"^\s*listen 443 ssl;": f"listen {HOST}:{https_port} ssl;",
        r"^\s*ssl_certificate .*;": f"ssl_certificate {certificate};",
        r"^\s*ssl_certificate_key .*;": f"ssl_certificate_key {key};",
    }
    for pattern, line in replacements.items():
        text = _replace_once(pattern, f"    {line}", text, SITE)
    servers = re.findall(r"(?m)^\s*server 127\.0\.0\.1:\d+(.*);$", text)
    if not servers:
        raise ValueError(f"{SITE} lists no upstream server on 127.0.0.1")
    lines = "\n".join(f"    server {HOST}:{port}{servers[0]};" for port in dashboards)
    text = re.sub(r"(?m)^\s*server 127\.0\.0\.1:\d+.*;\n", "", text)
    return text.replace("    keepalive ", f"{lines}\n    keepalive ", 1)


@dataclasses.dataclass
class Proxy:
    """nginx running in the foreground; `base` is its HTTPS address."""

    https_port: int
    http_port: int
    certificate: Path
    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def base(self) -> str:
        return f"https://{HOST}:{self.https_port}"

    def routes(self) -> list[tuple[str, str]]:
        """(affinity key, the process that answered) of every proxied request so far, in
        order; a request nginx passed on after a failed process lists the last one."""
        log = self.directory / "access.log"
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        fields = [line.split("\t") for line in lines]
        return [(key, tried.split(", ")[-1]) for key, tried, *_ in fields]

    def trusting_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the proxy's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.certificate))


@contextmanager
def proxy(directory: Path, dashboards: Sequence[int]) -> Iterator[Proxy]:
    """Run nginx with the rendered site in front of these dashboard ports until the block
    ends; everything it writes stays in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)  # the workers (www-data when we are root) read and write here
    certificate, key = self_signed_certificate(directory)
    https_port, http_port = free_port(), free_port()
    site = directory / "mar-insight.conf"
    site.write_text(
        render_site(
            http_port=http_port,
            https_port=https_port,
            dashboards=dashboards,
            certificate=certificate,
            key=key,
        ),
        encoding="utf-8",
    )
    temporary = " ".join(
        f"{kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = directory / "nginx.conf"
    main.write_text(
        ("user www-data;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ {temporary} include {site};\n"
        # Which process served each request, by affinity key: tests read stickiness here.
        "log_format routes '$mar_route\t$upstream_addr\t$status\t$request_uri';\n"
        f"access_log {directory / 'access.log'} routes; }}\n",
        encoding="utf-8",
    )
    log = directory / "nginx.out"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(NGINX), "-p", str(directory), "-c", str(main), "-e", str(directory / "error.log")],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Proxy(https_port, http_port, certificate, process, directory)
    try:
        _wait_until(lambda: _accepts(https_port), process, log)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((HOST, port)) == 0
