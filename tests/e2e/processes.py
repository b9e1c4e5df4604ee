"""
Process groups for the end-to-end suites: start a server in its own session, stop it by its group.

Every process the suites start runs in a new session, so its process group id is its pid and
everything it forks stays in that group -- except what makes a group of its own, such as each
task runner of Airflow 3.3's supervisor. So a process is stopped by its group *and* the groups of
its descendants, listed before the first signal, by id, never by a process name: a test never
touches a process it did not start, and nothing it started outlives it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import psutil


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spawn(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """
    Start ``args`` in a new session (its own process group), stdout and stderr appended to ``log``.
    """
    with log.open("ab") as output:
        return subprocess.Popen(
            list(args), env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def process_groups(pid: int) -> set[int]:
    """The process group of ``pid`` and every group one of its descendants belongs to."""
    groups = set()
    with contextlib.suppress(ProcessLookupError):
        groups.add(os.getpgid(pid))
    with contextlib.suppress(psutil.NoSuchProcess):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(ProcessLookupError):
                groups.add(os.getpgid(child.pid))
    return groups


def _kill_groups(groups: Iterable[int], sig: int) -> None:
    for group in sorted(groups):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)


def stop(processes: Iterable[subprocess.Popen[bytes]], grace: float = 20, sig: int = signal.SIGTERM) -> None:
    """
    Send ``sig`` to each process's group, wait up to ``grace`` seconds in all, then SIGKILL what is
    left of those groups and of the groups their descendants had made.
    """
    processes = list(processes)
    groups = set().union(*(process_groups(process.pid) for process in processes))
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    _kill_groups(groups | {process.pid for process in processes}, signal.SIGKILL)
    for process in processes:
        process.wait()


def kill_like_a_dead_machine(pid: int) -> list[int]:
    """
    SIGKILL, at once, the process group of ``pid`` and every group one of its descendants is in.

    A machine that dies (OOM, node drain, spot reclaim) takes every process with it, with no
    chance to clean up or to finish a request. Killing only the leader's group is not that: a
    task runner in a group of its own would live on as an orphan.

    :return: the process group ids killed.
    """
    groups = process_groups(pid)
    _kill_groups(groups, signal.SIGKILL)
    return sorted(groups)
