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
from typing import Any, Self

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


class _Server:
    """
    One server process in a throw-away directory: started by ``_start``, stopped by its group.

    Subclasses set ``name``, ``url`` and ``stop_signal`` and start ``self.process`` in ``_start``.
    """

    name = ""
    stop_signal = signal.SIGTERM

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix=f"fullsms-e2e-{self.name}-"))
        self.log = self.directory / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _start(self) -> None:
        raise NotImplementedError

    def _wait(self, ready: Callable[[], object]) -> None:
        """Poll ``ready()`` until it returns without raising; fail with the log if the server exits."""
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log.read_text(errors="replace")
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{log}")
            with contextlib.suppress(Exception):
                ready()
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not answer within 60 s:\n{self.log.read_text(errors='replace')}")

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            stop([self.process], sig=self.stop_signal)
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresServer(_Server):
    """
    A PostgreSQL server with a database ``airflow`` owned by the superuser ``airflow`` (trust auth).

    ``url`` is the SQLAlchemy URL with the psycopg2 driver: with SQLAlchemy 2.1, a bare
    ``postgresql://`` would mean psycopg 3.
    """

    name = "postgres"
    #: PostgreSQL's "fast shutdown": it does not wait for clients to disconnect.
    stop_signal = signal.SIGINT

    def __init__(self) -> None:
        super().__init__()
        self.url = f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return args
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *args]

    def _start(self) -> None:
        import psycopg2

        postgres = _binary("postgres", debian_glob="/usr/lib/postgresql/*/bin/postgres")
        data = self.directory / "data"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        initdb = str(Path(postgres).resolve().with_name("initdb"))
        subprocess.run(
            self._as_owner(
                [initdb, "--pgdata", str(data), "--username", "airflow", "--auth", "trust", "--no-sync"]
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

        def connect() -> Any:
            return psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow", dbname="postgres")

        self._args = self._as_owner([postgres, "-D", str(data), *options])
        self._connect = connect
        self._wait(lambda: connect().close())
        connection = connect()
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE airflow ENCODING 'UTF8' TEMPLATE template0")
        connection.close()

    def restart(self, down: float) -> None:
        """
        Stop PostgreSQL (its fast shutdown: clients are cut off), keep it down ``down`` seconds,
        then start it again on the same data and port and wait until it answers.
        """
        assert self.process is not None
        stop([self.process], sig=self.stop_signal)
        time.sleep(down)
        self.process = spawn(self._args, self.log)
        self._wait(lambda: self._connect().close())


class RedisServer(_Server):
    """A Redis server without persistence; ``url`` is the Celery broker URL (database 0)."""

    name = "redis"

    def __init__(self) -> None:
        super().__init__()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def _start(self) -> None:
        import redis

        args = [_binary("redis-server"), "--bind", "127.0.0.1", "--port", str(self.port)]
        args += ["--dir", str(self.directory), "--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = spawn(args, self.log)
        self._wait(redis.Redis(port=self.port).ping)
