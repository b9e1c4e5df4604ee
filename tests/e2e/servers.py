"""
The servers a distributed Airflow needs, from their own binaries: PostgreSQL and Redis.

Each runs in its own process group on 127.0.0.1 and a free port, with its data in a throw-away
directory, and is stopped by that group when the ``with`` block ends (also after a failure).
``scripts/install_debian_packages.sh`` (run by ``make test``) installs the Debian packages when missing.

PostgreSQL refuses to run as root, and CI runs as root: then ``initdb`` and ``postgres`` run as
the ``postgres`` user the Debian package creates, in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.processes import free_port, spawn, stop

INSTALL_HINT = "run scripts/install_debian_packages.sh (make test does) to install PostgreSQL and Redis"


def _binary(name: str, *, debian_glob: str = "") -> str:
    """``name`` on PATH, else the newest Debian install matching ``debian_glob``."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        Path("/").glob(debian_glob.lstrip("/")) if debian_glob else [],
        key=lambda path: [int(part) for part in re.findall(r"\d+", str(path))],
    )
    if not candidates:
        raise FileNotFoundError(f"no {name} binary: {INSTALL_HINT}")
    return str(candidates[-1])


def _wait(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not answer within 60 s:\n{log.read_text(errors='replace')}")


class PostgresServer:
    """
    A PostgreSQL server with a database ``airflow`` owned by the superuser ``airflow`` (trust auth).

    ``url`` is the SQLAlchemy URL with the psycopg2 driver: with SQLAlchemy 2.1, a bare
    ``postgresql://`` would mean psycopg 3.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"
        self.directory = Path(tempfile.mkdtemp(prefix="fullsms-e2e-postgres-"))
        self.log = self.directory / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return args
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *args]

    def __enter__(self) -> PostgresServer:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        import psycopg2

        postgres = _binary("postgres", debian_glob="/usr/lib/postgresql/*/bin/postgres")
        data = self.directory / "data"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            self._as_owner(
                [
                    str(Path(postgres).resolve().with_name("initdb")),
                    "--pgdata",
                    str(data),
                    "--username",
                    "airflow",
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "200",
            # A throw-away database: durability costs time and buys nothing here.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        self.process = spawn(self._as_owner([postgres, "-D", str(data), *options]), self.log)

        def ready() -> bool:
            psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow", dbname="postgres").close()
            return True

        _wait("postgres", ready, self.process, self.log)
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE airflow")
        connection.close()

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            # SIGINT is PostgreSQL's "fast shutdown": it does not wait for clients to disconnect.
            stop([self.process], sig=signal.SIGINT)
        shutil.rmtree(self.directory, ignore_errors=True)


class RedisServer:
    """A Redis server without persistence; ``url`` is the Celery broker URL (database 0)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = Path(tempfile.mkdtemp(prefix="fullsms-e2e-redis-"))
        self.log = self.directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RedisServer:
        import redis

        redis_server = _binary("redis-server")
        args = [redis_server, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory)]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = spawn(args, self.log)
        try:
            _wait("redis-server", redis.Redis(port=self.port).ping, self.process, self.log)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            stop([self.process])
        shutil.rmtree(self.directory, ignore_errors=True)
