"""
What the benchmarks share: a throw-away Airflow home, a sandbox with a big balance, the
connection pointing at it, markdown tables with target verdicts, and the machine's description.

Nothing here imports Airflow: :func:`ensure_airflow_home` must run before the first Airflow
import, because Airflow reads its configuration when it is imported.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

#: The vendor path every campaign send goes to.
SEND_PATH = "/messages/send/to_numbers"
#: An approved sender ID of the sandbox's default seed.
SENDER = "COPERATO"
#: A token nobody would type by accident, so a leak is unmistakable in a scan.
BENCH_TOKEN = "bench|tok-SECRET-n0tInL0gs-7d3a"
#: Enough for any benchmark here: 1,000,000 recipients x 2 segments x 0.05 is 100,000.
BIG_BALANCE = 1_000_000_000
#: FullSMS accepts at most this many numbers per request.
BATCH_SIZE = 500
#: Effectively "every request" for a fault that must hit a whole run.
EVERY_REQUEST = 10_000_000


def ensure_airflow_home() -> str:
    """
    Point Airflow at a throw-away home unless one is set already (the test suite sets its own).

    The benchmarks need no metadata database (the operator reads its connection from
    ``AIRFLOW_CONN_FULLSMS_DEFAULT``), so a home that is already set is only read.
    """
    if "AIRFLOW_HOME" not in os.environ:
        home = tempfile.mkdtemp(prefix="fullsms-bench-airflow-")
        os.environ["AIRFLOW_HOME"] = home
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        # Standalone runs only: the operator's progress lines would bury the tables. Under a
        # test session the environment is the session's, so it is left alone.
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    return os.environ["AIRFLOW_HOME"]


def connection_json(url: str, token: str, **extra: Any) -> str:
    """An ``AIRFLOW_CONN_FULLSMS_DEFAULT`` value for the sandbox, default sender included."""
    return json.dumps(
        {
            "conn_type": "fullsms",
            "host": url,
            "password": token,
            "extra": {"default_sender": SENDER, **extra},
        }
    )


@contextmanager
def bench_sandbox(**extra: Any) -> Iterator[SandboxProcess]:
    """
    A sandbox process on a free loopback port, with ``fullsms_default`` pointing at it.

    :param extra: connection extras (e.g. ``timeout``).
    """
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    previous = os.environ.get("AIRFLOW_CONN_FULLSMS_DEFAULT")
    with SandboxProcess(balance=BIG_BALANCE, token=BENCH_TOKEN) as sandbox:
        os.environ["AIRFLOW_CONN_FULLSMS_DEFAULT"] = connection_json(sandbox.url, sandbox.token, **extra)
        try:
            yield sandbox
        finally:
            if previous is None:
                os.environ.pop("AIRFLOW_CONN_FULLSMS_DEFAULT", None)
            else:
                os.environ["AIRFLOW_CONN_FULLSMS_DEFAULT"] = previous


def fresh(sandbox: SandboxProcess, *, latency_ms: float = 0) -> None:
    """Reset the sandbox (empty inbox, zero counts, no faults), refill it, and arm the latency."""
    sandbox.client.reset()
    sandbox.client.set_balance(BIG_BALANCE)
    if latency_ms:
        sandbox.client.inject_fault("latency", path=SEND_PATH, ms=latency_ms, count=EVERY_REQUEST)


def chunks(items: Sequence[str], size: int = BATCH_SIZE) -> list[list[str]]:
    """``items`` in consecutive lists of at most ``size``."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def numbers(count: int, start: int = 447_700_000_000) -> list[str]:
    """``count`` distinct, already normalised UK mobile numbers."""
    return [str(start + i) for i in range(count)]


@dataclass(frozen=True)
class Check:
    """One target beside its measurement."""

    name: str
    measured: str
    target: str
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """
    A markdown table; ``align`` holds one ``l``/``r`` per column (default: first left, rest right).
    """
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def checks_table(checks: Sequence[Check]) -> str:
    """The targets as a table: check, measured, target, PASS/FAIL."""
    return markdown_table(
        ["target", "measured", "limit", "result"],
        [(c.name, c.measured, c.target, f"**{c.verdict}**") for c in checks],
        align="lrrl",
    )


def verdict(checks: Sequence[Check]) -> str:
    """E.g. ``"**11 of 12 targets PASS**; FAIL: p99 latency"``."""
    failed = [c.name for c in checks if not c.passed]
    return f"**{len(checks) - len(failed)} of {len(checks)} targets PASS**" + (
        f"; FAIL: {', '.join(failed)}" if failed else ""
    )


def report(title: str, body: str, checks: Sequence[Check], command: str, note: str = "") -> str:
    """A benchmark's whole printed section: title, figures, targets, how to reproduce."""
    parts = [f"### {title}", "", body, ""]
    if checks:
        parts += [checks_table(checks), ""]
    if note:
        parts += [note, ""]
    parts += [f"Reproduce: `{command}`", ""]
    return "\n".join(parts)


def machine() -> dict[str, str]:
    """The machine a run measured: cores, CPU model, memory, Python, Airflow."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kb = int(info.readline().split()[1])
            memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        from importlib.metadata import version

        airflow_version = version("apache-airflow")
    except Exception:
        airflow_version = "?"
    return {
        "cores (nproc)": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "CPU": cpu,
        "memory": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "Airflow": airflow_version,
    }


def machine_table() -> str:
    """:func:`machine` as a two-column table."""
    return markdown_table(["machine", ""], list(machine().items()), align="ll")


class TaskSideStateStore:
    """
    Airflow 3.3's own ``context["task_state_store"]`` (``TaskStateStoreAccessor``), answered in process.

    Each ``set`` runs what Airflow runs in the task's process -- its config reads, the
    ``SetTaskStateStore`` message, the msgpack frame for the supervisor -- and a stand-in supervisor
    keeps the value; each ``get`` is answered the same way. Left out: the socket write, and the
    supervisor's call to the API server, which run in other processes.

    :attr:`sets` and :attr:`seconds` count the writes and the time they took.
    """

    def __init__(self) -> None:
        import uuid

        from airflow.sdk._shared.state import TaskScope
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.context import TaskStateStoreAccessor

        self._task_runner = task_runner
        self._accessor = TaskStateStoreAccessor(
            ti_id=uuid.uuid4(), scope=TaskScope(dag_id="bench", run_id="bench", task_id="bench")
        )
        self._supervisor = _StandInSupervisor()
        self.sets = 0
        self.seconds = 0.0

    def get(self, key: str, default: Any = None) -> Any:
        with self._supervisor.attached(self._task_runner):
            return self._accessor.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        import time

        started = time.perf_counter()
        with self._supervisor.attached(self._task_runner):
            self._accessor.set(key, value, retention=retention)
        self.seconds += time.perf_counter() - started
        self.sets += 1


class _StandInSupervisor:
    """``SUPERVISOR_COMMS`` for :class:`TaskSideStateStore`: frames each message, keeps the values."""

    def __init__(self) -> None:
        import itertools

        self.values: dict[str, Any] = {}
        self.ids = itertools.count()

    @contextmanager
    def attached(self, task_runner: Any) -> Iterator[None]:
        previous = getattr(task_runner, "SUPERVISOR_COMMS", None)
        task_runner.SUPERVISOR_COMMS = self
        try:
            yield
        finally:
            task_runner.SUPERVISOR_COMMS = previous

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time.comms import SetTaskStateStore, TaskStateStoreResult, _RequestFrame

        _RequestFrame(id=next(self.ids), body=msg.model_dump()).as_bytes()  # what CommsDecoder.send writes
        if isinstance(msg, SetTaskStateStore):
            self.values[msg.key] = msg.value
            return None
        if msg.key in self.values:
            return TaskStateStoreResult(value=self.values[msg.key])
        return None
