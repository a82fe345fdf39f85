"""The parts of a scaled-out installation, stood up on loopback for tests and benchmarks.

PostgreSQL clusters of our own (a primary and its streaming replica, each `initdb`'d or
`pg_basebackup`'d into a temporary directory on a free port) so a test can stop, lag or
replicate a server without touching the machine's PostgreSQL.  As root, initdb and the server
refuse to run, so every PostgreSQL command runs as the `postgres` OS user.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

PG_BIN = Path(os.environ.get("MAR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


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
