"""
A real Airflow deployment for end-to-end tests, on the LocalExecutor or the CeleryExecutor.

LocalExecutor: api-server, scheduler, triggerer and dag-processor on SQLite. CeleryExecutor: the
same four on a PostgreSQL metadata database, plus one ``airflow celery worker`` per worker name,
with Redis as the broker (see :mod:`tests.e2e.servers` for those two servers).

On Airflow 2 (the interpreter running the tests decides): the webserver in place of the
api-server (its REST API is ``/api/v1``, with a user and password), the scheduler parsing the
DAGs, and the triggerer; the stack's methods call the same endpoints there. Airflow 2 refuses the
LocalExecutor on SQLite: give it a PostgreSQL database (``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``).

Each process runs in its own session (process group) on free loopback ports with a throw-away
AIRFLOW_HOME, and is stopped by its process group id, and those of its descendants, on exit, also
when the test fails, so no worker, task runner or log server outlives the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import requests

from airflow_provider_fullsms.settlement import AirflowApi, TaskAddress
from airflow_provider_fullsms.variable_ledger import VariableLedger
from tests.e2e import worker_hostname
from tests.e2e.processes import free_port, kill_like_a_dead_machine, process_groups, spawn, stop

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def _minor(distribution: str) -> tuple[int, int]:
    """The installed ``distribution``'s major and minor version, read without importing it."""
    major, minor = version(distribution).split(".")[:2]
    return int(major), int(minor)


#: Whether the Airflow installed beside this interpreter is Airflow 2 (webserver, ``/api/v1``).
AIRFLOW_2 = _minor("apache-airflow") < (3, 0)
PROCESSES = (
    ("webserver", "scheduler", "triggerer")
    if AIRFLOW_2
    else ("api-server", "scheduler", "triggerer", "dag-processor")
)
#: Whether that Airflow keeps task state stores (3.3+); before, the provider's ledger is in Variables.
TASK_STATE_STORE = _minor("apache-airflow") >= (3, 3)
#: Whether ``airflow celery worker --celery-hostname`` starts a working pool (Celery provider 3.20+).
CELERY_NAMES_WORKERS_SAFELY = _minor("apache-airflow-providers-celery") >= (3, 20)
#: The user the stack creates on Airflow 2, whose REST API needs one (basic auth).
AIRFLOW_2_USER = ("e2e-admin", "e2e-only-password")


@dataclass(frozen=True)
class CeleryDeployment:
    """
    What the CeleryExecutor runs on.

    :param database_url: the metadata database, e.g. ``postgresql+psycopg2://…`` (with SQLAlchemy
        2.1 a bare ``postgresql://`` means psycopg 3). Celery's result backend is the same database,
        ``db+`` in front.
    :param broker_url: the Celery broker, e.g. ``redis://127.0.0.1:6379/0``.
    :param workers: one Celery worker per name; the name is also its hostname in Airflow.
    :param concurrency: task slots per worker.
    """

    database_url: str
    broker_url: str
    workers: Sequence[str] = ("worker-a", "worker-b")
    concurrency: int = 2

    def environment(self) -> dict[str, str]:
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(4 * len(self.workers) * self.concurrency),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.database_url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
        }


class AirflowStack:
    """
    Start Airflow's long-running processes; talk to the REST API of the api-server.

    :param home: an empty directory for AIRFLOW_HOME.
    :param dags_folder: the DAGs to load.
    :param env: extra environment (connections, configuration) for every process.
    :param celery: run the CeleryExecutor on these servers and workers; default: the
        LocalExecutor on SQLite.
    :param supervise: start again, ``restart_after`` seconds later, any of :data:`PROCESSES` that
        exits on its own, as a process supervisor (systemd's ``Restart=always``, Kubernetes) does
        in a real deployment: the scheduler and the triggerer exit when the metadata database
        refuses connections. A process :meth:`kill` stopped is left to :meth:`restart`.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        env: dict[str, str],
        *,
        celery: CeleryDeployment | None = None,
        supervise: bool = False,
        restart_after: float = 5.0,
    ) -> None:
        self.home = home
        self.celery = celery
        self.api_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__SECRET_KEY": "e2e-only-secret",
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-only-jwt-secret",
            # Airflow recommends one; 3.0 needs one: unset, it signs ``"iss": []``, which PyJWT 2.10+
            # refuses, so every token (the api-server's and each task's) fails with a 500.
            "AIRFLOW__API_AUTH__JWT_ISSUER": "fullsms-e2e",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # Airflow 2: the webserver on the same port, its REST API with basic auth.
            "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(self.api_port),
            "AIRFLOW__WEBSERVER__SECRET_KEY": "e2e-only-secret",
            "AIRFLOW__WEBSERVER__WORKERS": "1",
            "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth",
            # INFO whatever the caller's environment says (benchmarks quieten it): the stack's
            # logs are read, e.g. by respond(), and shown when a test fails.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            **(celery.environment() if celery else {}),
            # This checkout's provider and tests, not the one an editable install points at: every
            # venv has the package installed editable from the main worktree.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **env,
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._token: str | None = None
        #: Process groups left by a process killed alone (its children live on until stop()).
        self._leftovers: set[int] = set()
        #: How many times the supervisor started each process again.
        self.restarts: Counter[str] = Counter()
        self._supervise = supervise
        self._restart_after = restart_after
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def __enter__(self) -> AirflowStack:
        try:
            self._airflow("db", "migrate")
            if AIRFLOW_2:
                user, password = AIRFLOW_2_USER
                self._airflow(
                    "users", "create", "--role", "Admin", "--username", user, "--password", password,
                    "--email", "e2e@example.invalid", "--firstname", "E2E", "--lastname", "Admin",
                )  # fmt: skip
            for name in PROCESSES:
                self._start(name, self._args(name), self.env)
            for name in self.celery.workers if self.celery else ():
                self.start_worker(name)
            self._wait_for_api()
            if self._supervise:
                self._supervisor = threading.Thread(target=self._supervisor_loop, daemon=True)
                self._supervisor.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.processes[name] = spawn([str(BIN / "airflow"), *args], self.home / f"{name}.log", env)

    def _args(self, name: str) -> list[str]:
        return [name, "--port", str(self.api_port)] if name in ("api-server", "webserver") else [name]

    def _supervisor_loop(self) -> None:
        """Every second: any of :data:`PROCESSES` that has exited is started again after the delay."""
        exited: dict[str, float] = {}
        while not self._stopping.wait(1.0):
            with self._lock:
                for name in PROCESSES:
                    process = self.processes.get(name)
                    if process is None or process.poll() is None:
                        exited.pop(name, None)
                        continue
                    since = exited.setdefault(name, time.monotonic())
                    if time.monotonic() - since >= self._restart_after:
                        exited.pop(name)
                        self._leftovers.add(process.pid)
                        self.restarts[name] += 1
                        self._start(name, self._args(name), self.env)

    # -- chaos: Airflow's own components crashing, restarting or hanging ----------------------

    def kill(self, name: str, *, descendants: bool = True) -> None:
        """
        SIGKILL one of :data:`PROCESSES` as a crash does: its process group and those of its
        descendants, or with ``descendants=False`` its main process only (an OOM kill: the
        scheduler's LocalExecutor workers and their task runners live on, and are stopped with
        the stack).
        """
        with self._lock:
            process = self.processes.pop(name)
        if descendants:
            kill_like_a_dead_machine(process.pid)
        else:
            self._leftovers |= process_groups(process.pid)
            process.kill()
        process.wait()

    def restart(self, name: str) -> None:
        """Start ``name`` again (as a process supervisor would) and, for the api-server, wait for it."""
        with self._lock:
            self._start(name, self._args(name), self.env)
        if name in ("api-server", "webserver"):
            self._wait_for_api()

    def hang(self, name: str, resume: bool = False) -> None:
        """SIGSTOP ``name``'s process groups (a hung process: connections open, no answers); SIGCONT."""
        for group in sorted(process_groups(self.processes[name].pid)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGCONT if resume else signal.SIGSTOP)

    def stop(self) -> None:
        """Stop every process group: SIGTERM, then SIGKILL what is still there after 20 s."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
        stop(self.processes.values())
        for group in sorted(self._leftovers):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)

    # -- Celery workers -----------------------------------------------------------------------

    def start_worker(self, name: str) -> None:
        """
        Start the Celery worker ``name``: its own log server port, and ``name`` as its hostname.
        """
        assert self.celery is not None, "workers need a CeleryDeployment"
        env = {
            **self.env,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{worker_hostname.__name__}.from_environment",
            worker_hostname.VARIABLE: name,
        }
        # The Celery provider before 3.20 (all Airflow 3.0 can run) asks the broker whether a worker
        # of that name is up, before forking its pool: the pool's processes then hang for good on
        # the inherited Redis connection (celery/celery#8874). Its Celery node name stays the
        # default there; the task's hostname, which the tests read, is ``name`` either way.
        named = ["--celery-hostname", name] if CELERY_NAMES_WORKERS_SAFELY else []
        self._start(name, ["celery", "worker", *named], env)

    def stop_worker(self, name: str) -> None:
        """Stop the worker ``name`` the way an operator would (warm shutdown)."""
        stop([self.processes.pop(name)])

    def kill_worker(self, name: str) -> list[int]:
        """
        SIGKILL worker ``name`` as a dead machine dies: its process group and its task runners'.

        :return: the process groups killed.
        """
        process = self.processes.pop(name)
        groups = kill_like_a_dead_machine(process.pid)
        process.wait()
        return groups

    def logs(self) -> str:
        """The tail of every process log and of every task try's log, for a failing test's report."""
        parts = []
        for path in sorted(self.home.glob("*.log")):
            parts.append(f"--- {path.stem} ---\n" + path.read_text(errors="replace")[-3000:])
        for path in sorted((self.home / "logs").glob("dag_id=*/run_id=*/task_id=*/*.log*")):
            parts.append(f"--- task {path.relative_to(self.home / 'logs')} ---\n" + _events(path)[-4000:])
        return "\n".join(parts)

    def _airflow(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if result.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def _wait_for_api(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = "/health" if AIRFLOW_2 else "/api/v2/monitor/health"
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}{health}", timeout=2).ok:
                    return
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited early:\n{self.logs()}")
            time.sleep(0.5)
        raise TimeoutError(f"the api-server did not answer within {timeout}s:\n{self.logs()}")

    # -- REST API -----------------------------------------------------------------------------

    def token(self) -> str:
        """
        A bearer token for Airflow 3's REST API: the simple auth manager's all-admins login.

        Airflow 3.0 and 3.2+ put such a token on a request that has none; 3.1 does not (401), so
        the stack always sends one. Fetched once: it lives a day (``[api_auth] jwt_expiration_time``).
        """
        if self._token is None:
            response = requests.get(f"{self.url}/auth/token", timeout=30)
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """
        A call to Airflow's REST API: ``/api/v2`` with :meth:`token` (``/api/v1`` with the stack's
        user on Airflow 2).
        """
        if AIRFLOW_2:
            kwargs.setdefault("auth", AIRFLOW_2_USER)
        else:
            kwargs["headers"] = {"Authorization": f"Bearer {self.token()}", **kwargs.get("headers", {})}
        prefix = "api/v1" if AIRFLOW_2 else "api/v2"
        response = requests.request(method, f"{self.url}/{prefix}/{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed ``dag_id``, then unpause it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.HTTPError):
                self.api("GET", f"dags/{dag_id}")
                self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
                return
            time.sleep(1)
        raise TimeoutError(f"{dag_id} was not parsed within {timeout}s:\n{self.logs()}")

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> None:
        body = {"dag_run_id": run_id, "conf": conf or {}}
        self.api("POST", f"dags/{dag_id}/dagRuns", json=body if AIRFLOW_2 else {**body, "logical_date": None})

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id or task_id[map_index]: state}`` of one run."""
        body = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return {
            ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti["state"]
            for ti in body["task_instances"]
        }

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_until(self, what: str, predicate: Any, timeout: float, interval: float = 1.0) -> None:
        """Poll ``predicate()`` until true; on timeout fail with the process logs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}:\n{self.logs()}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Wait until the run has finished; return its state."""
        self.wait_until(
            f"{dag_id} {run_id} to finish",
            lambda: self.run_state(dag_id, run_id) in {"success", "failed"},
            timeout,
        )
        return self.run_state(dag_id, run_id)

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """A (not mapped) task instance: ``state``, ``try_number``, ``hostname``, ``pid``, …"""
        return dict(self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of a task instance so far (``try_number``, ``state``, ``hostname``, …)."""
        index = f"/{map_index}" if map_index >= 0 else ""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}{index}/tries"
        return list(self.api("GET", path)["task_instances"])

    def state_store(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """
        A task instance's ``task_state_store``: ``{key: value}``; before Airflow 3.3, the ledger
        Variables the provider keeps in its place, read as ``fullsms-batches`` reads them.
        """
        if not TASK_STATE_STORE:
            task = TaskAddress(dag_id, run_id, task_id, map_index)
            return {key: entry["value"] for key, entry in self._variables().entries(task).items()}
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/state-store"
        body = self.api("GET", path, params={"map_index": map_index, "limit": 1000})
        return {entry["key"]: entry["value"] for entry in body["task_state_store"]}

    def set_state(self, dag_id: str, run_id: str, task_id: str, key: str, value: Any) -> None:
        """Write one key of a (not mapped) task instance's ``task_state_store`` (or its Variables)."""
        if not TASK_STATE_STORE:
            self._variables().write(TaskAddress(dag_id, run_id, task_id), key, value, expires_at=None)
            return
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/state-store/{key}"
        self.api("PUT", path, json={"value": value})

    def _variables(self) -> VariableLedger:
        """The provider's ledger Variables, through this stack's REST API (Airflow before 3.3)."""
        if AIRFLOW_2:
            api = AirflowApi(self.url, None, basic_auth=AIRFLOW_2_USER)
        else:
            api = AirflowApi(self.url, self.token())
        return api.variables

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value of a (not mapped) task instance, as JSON."""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        # Airflow 2 answers a Python repr unless asked for the value itself.
        return self.api("GET", path, params={"stringify": "false"} if AIRFLOW_2 else None)["value"]

    def hitl_detail(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """A Human-in-the-loop task's request (``subject``, ``body``, ``options``) and response."""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails"
        return dict(self.api("GET", path))

    def respond(self, dag_id: str, run_id: str, task_id: str, option: str, map_index: int = -1) -> None:
        """
        Answer a Human-in-the-loop task (e.g. ``ApprovalOperator``'s ``"Approve"`` or ``"Reject"``), as
        the UI's *Required actions* page does, once the task waits for it.
        """
        # Answered before the scheduler has processed the executor's report that the task parked,
        # Airflow 3.3 takes the task for killed externally and fails it; a person is never that
        # fast, a test is: wait for the scheduler's line about it.
        parked = f"TaskInstance Finished: dag_id={dag_id}, task_id={task_id}, run_id={run_id}, "
        key = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        self.wait_until(
            f"{task_id} to wait for a response",
            lambda: (
                self.task_states(dag_id, run_id).get(key) == "awaiting_input"
                and any(parked in path.read_text(errors="replace") for path in self.home.glob("*.log"))
            ),
            timeout=120,
        )
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails"
        self.api("PATCH", path, json={"chosen_options": [option]})

    def clear(self, dag_id: str, run_id: str, task_ids: list[str]) -> None:
        """Clear task instances, as the UI's *Clear* does: they run again, their run too."""
        self.api(
            "POST",
            f"dags/{dag_id}/clearTaskInstances",
            json={
                "dag_run_id": run_id,
                "task_ids": task_ids,
                "only_failed": False,
                "dry_run": False,
                "reset_dag_runs": True,
            },
        )


@contextlib.contextmanager
def celery_stack(
    root: Path, dags_folder: Path, env: dict[str, str], workers: Sequence[str] = ("worker-a", "worker-b")
) -> Iterator[AirflowStack]:
    """
    PostgreSQL, Redis and an :class:`AirflowStack` on the CeleryExecutor with ``workers``.

    :param root: an empty directory; AIRFLOW_HOME is ``root / "airflow"``.
    """
    from tests.e2e.servers import PostgresServer, RedisServer

    home = root / "airflow"
    home.mkdir()
    with PostgresServer() as postgres, RedisServer() as redis:
        deployment = CeleryDeployment(postgres.url, redis.url, workers=workers)
        with AirflowStack(home, dags_folder, env, celery=deployment) as stack:
            yield stack


def _events(path: Path) -> str:
    """A task log's JSON lines as ``level event`` lines (other lines as they are)."""
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        is_event = isinstance(entry, dict)
        lines.append(f"{entry.get('level', '?')} {entry.get('event', '')}" if is_event else line)
    return "\n".join(lines)
