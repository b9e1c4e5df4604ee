"""
Benchmark: one triggerer, a thousand deferred balance sensors on one connection.

A real ``airflow triggerer`` process (SQLite metadata database, its own process group) runs
1,000 deferred ``FullSmsBalanceSensor`` task instances (one mapped task, one ``min_balance``
each) against a sandbox whose balance is too low, beside a probe trigger that measures the
event loop's lag from inside the triggerer. The deferrals are written to the database as the
task runner leaves them (``TaskInstance`` deferred on a ``Trigger`` row), so no worker has to
run 1,000 tasks first. Measured while the sensors wait: balance requests the sandbox sees per
poke interval, the triggerer's RSS growth (the process and its trigger runner) and the event
loop's worst lag; then a top-up, and how long until every sensor's event is in the database.

Targets: <= 1 balance request per interval and connection, <= 50 MB RSS growth, <= 100 ms lag.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_triggerer             # 1,000 sensors, 5 s interval
    .venv/bin/python -m benchmarks.bench_triggerer --small     # 50 sensors, 2 s interval
    .venv/bin/python -m benchmarks.bench_triggerer --compare   # also the unshared poll, side by side
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import BENCH_TOKEN, Check, connection_json, markdown_table, report

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "fullsms_triggerer_bench"
SENSOR_TASK = "wait_for_balance"
PROBE_TASK = "lag_probe"
COSTS_TASK = "campaign_costs"
SHARED = "airflow_provider_fullsms.triggers.fullsms.FullSmsBalanceTrigger"
UNSHARED = "benchmarks.triggerer_probe.UnsharedBalanceTrigger"
PROBE = "benchmarks.triggerer_probe.LagProbeTrigger"
BALANCE_PATH = "/account/balance"
#: What a sensor's trigger log says on its first reading, and when it fires.
WAITING, FIRED = "FullSMS balance is", "Trigger fired event"
LOW_BALANCE, NEEDED, TOP_UP = 5.0, 100.0, 1_000.0

FULL = {"sensors": 1_000, "interval": 5.0, "intervals": 6}
SMALL = {"sensors": 50, "interval": 2.0, "intervals": 3}
#: How long the sensors may take to fire after the top-up before the run reports the missing ones.
FIRE_TIMEOUT = 120.0
#: Beyond one interval, for the check's request itself and the trigger's log line.
FIRE_SLACK = 1.0
GOAL_REQUESTS_PER_INTERVAL = 1
GOAL_RSS_MB = 50.0
GOAL_LAG_MS = 100.0
COMMAND = ".venv/bin/python -m benchmarks.bench_triggerer"


@dataclass
class Phase:
    """What one triggerer showed with ``sensors`` deferred balance triggers of one class."""

    label: str
    sensors: int
    interval: float
    max_requests_per_interval: int
    mean_requests_per_interval: float
    rss_before_mb: float
    rss_after_mb: float
    lag_steady_ms: float
    lag_startup_ms: float
    blocked_warnings: int
    waiting: int
    seconds_to_wait: float
    fired: int
    seconds_to_fire: float
    seconds_to_last: float
    seconds_to_db: float

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_after_mb - self.rss_before_mb


# -- the metadata database (run in a subprocess, with the benchmark's AIRFLOW_HOME) ----------------


def seed(run_id: str, sensors: int, interval: float, classpath: str, probe_out: str | None) -> None:
    """
    Register the benchmark DAG (``sensors`` mapped sensors, and the probe task) and create
    ``run_id`` with the probe deferred (given ``probe_out``), or else every sensor deferred.

    Each deferral is what the task runner leaves when ``FullSmsBalanceSensor.execute`` defers:
    the task instance ``deferred`` on a new ``Trigger`` row with the serialised trigger kwargs.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.taskmap import TaskMap
    from airflow.models.trigger import Trigger
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor

    with DAG(dag_id=DAG_ID, schedule=None) as dag:
        EmptyOperator(task_id=PROBE_TASK)
        # As in a real campaign DAG, the sensors are mapped over an upstream task's XCom.
        costs = EmptyOperator(task_id=COSTS_TASK)
        FullSmsBalanceSensor.partial(
            task_id=SENSOR_TASK, deferrable=True, poke_interval=interval, timeout=3600
        ).expand(min_balance=costs.output)
    DagBundlesManager().sync_bundles_to_db()
    with create_session() as session:
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )
    with create_session() as session:
        serialized = SerializedDagModel.get_dag(DAG_ID, session=session)
        assert serialized is not None
        serialized.create_dagrun(
            run_id=run_id,
            run_after=_now(),
            run_type=DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.TEST,
            state=DagRunState.RUNNING,
            session=session,
        )
        session.flush()
        deferrals: list[tuple[str, int, str, dict[str, Any]]] = []
        if probe_out:
            deferrals.append((PROBE_TASK, -1, PROBE, {"out": probe_out, "tick": 0.02}))
        else:
            # What the upstream task's return value of ``sensors`` costs leaves for the scheduler.
            costs_ti = _task_instance(session, run_id, COSTS_TASK, -1)
            costs_ti.state = TaskInstanceState.SUCCESS
            session.add(TaskMap.from_task_instance_xcom(costs_ti, [NEEDED] * sensors))
            session.flush()
            TaskMap.expand_mapped_task(serialized.get_task(SENSOR_TASK), run_id, session=session)
            kwargs = {"fullsms_conn_id": "fullsms_default", "poke_interval": interval}
            deferrals += [
                (SENSOR_TASK, i, classpath, {"min_balance": NEEDED + i / 100, **kwargs})
                for i in range(sensors)
            ]
        for task_id, map_index, trigger_classpath, trigger_kwargs in deferrals:
            ti = _task_instance(session, run_id, task_id, map_index)
            trigger = Trigger(classpath=trigger_classpath, kwargs=trigger_kwargs)
            session.add(trigger)
            session.flush()
            ti.state = TaskInstanceState.DEFERRED
            ti.trigger_id = trigger.id
            ti.next_method = "execute_complete"
            ti.start_date = _now()


def _task_instance(session: Any, run_id: str, task_id: str, map_index: int) -> Any:
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    ti = session.scalar(
        select(TaskInstance).where(
            TaskInstance.dag_id == DAG_ID,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
        )
    )
    if ti is None:
        raise LookupError(f"no task instance {task_id}[{map_index}] in {run_id}")
    return ti


def _now() -> Any:
    from airflow._shared.timezones import timezone

    return timezone.utcnow()


def _seed_in_home(env: dict[str, str], **kwargs: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_triggerer", "seed", json.dumps(kwargs)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode:
        raise RuntimeError(f"seeding the benchmark's deferrals failed:\n{result.stderr[-3000:]}")


def _count_fired(home: Path, run_id: str) -> int:
    """Sensors whose event is in the database: the triggerer set them ``scheduled`` to resume."""
    with contextlib.closing(sqlite3.connect(home / "airflow.db", timeout=30)) as db:
        row = db.execute(
            "SELECT count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?"
            " AND state = 'scheduled'",
            (DAG_ID, run_id, SENSOR_TASK),
        ).fetchone()
    return int(row[0])


# -- the triggerer process -------------------------------------------------------------------------


class Triggerer:
    """``airflow triggerer`` in its own process group; stopped by that group's id."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "airflow"), "triggerer"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def rss_mb(self) -> float:
        """Resident memory of the triggerer and its trigger runner (every descendant), MB."""
        try:
            root = psutil.Process(self.process.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total / 1e6

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"the triggerer exited:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)
                return


def _wait(what: str, done: Any, timeout: float, triggerer: Triggerer, every: float = 0.2) -> float:
    started = time.monotonic()
    while not done():
        triggerer.check_alive()
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - started


def _lags(probe_out: Path, since: float, until: float) -> list[float]:
    if not probe_out.exists():
        return []
    values = []
    for line in probe_out.read_text().splitlines():
        stamp, lag = line.split()
        if since <= float(stamp) <= until:
            values.append(float(lag))
    return values


def _most_in_one_interval(samples: list[tuple[float, int]], interval: float) -> int:
    """
    The most requests counted between two samples less than one interval apart: requests that
    all fell within less than one interval (a floor of the true figure, to the sampling step).
    """
    most, first = 0, 0
    for time_j, count_j in samples:
        while time_j - samples[first][0] >= interval:
            first += 1
        most = max(most, count_j - samples[first][1])
    return most


def measure(label: str, classpath: str, sensors: int, interval: float, intervals: int) -> Phase:
    """One triggerer, its probe, then ``sensors`` deferred triggers of ``classpath``; stop it all."""
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    with (
        tempfile.TemporaryDirectory(prefix="fullsms-bench-triggerer-") as tmp,
        SandboxProcess(balance=LOW_BALANCE, token=BENCH_TOKEN) as sandbox,
    ):
        home = Path(tmp)
        (home / "dags").mkdir()
        env = _environment(home, connection_json(sandbox.url, sandbox.token), sensors)
        subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        probe_out = home / "lag.txt"
        _seed_in_home(
            env,
            run_id="probe",
            sensors=sensors,
            interval=interval,
            classpath=classpath,
            probe_out=str(probe_out),
        )
        triggerer = Triggerer(env, home / "triggerer.log")
        try:
            _wait("the lag probe to start", lambda: len(_lags(probe_out, 0, 1e12)) >= 3, 120, triggerer)
            rss_before = sorted(triggerer.rss_mb() for _ in _ticks(5, 0.5))[2]
            seeded = time.time()
            _seed_in_home(
                env, run_id="sensors", sensors=sensors, interval=interval, classpath=classpath, probe_out=None
            )
            client = sandbox.client
            trigger_logs = TriggerLogs(home)
            # Every sensor has started and seen its first reading (Airflow's own start-up of a
            # thousand triggers included), then one more interval to settle.
            with contextlib.suppress(TimeoutError):
                _wait(
                    "every sensor to wait", lambda: trigger_logs.count(WAITING) >= sensors, 300, triggerer, 1
                )
            seconds_to_wait = time.time() - seeded
            waiting = trigger_logs.count(WAITING)
            time.sleep(interval)
            steady = time.time()
            samples: list[tuple[float, int]] = []
            rss: list[float] = []
            for _ in _ticks(intervals * interval, 0.1):
                samples.append((time.monotonic(), client.requests_count(BALANCE_PATH)))
                if len(samples) % 10 == 0:
                    rss.append(triggerer.rss_mb())
            ended = time.time()
            client.set_balance(TOP_UP)
            with contextlib.suppress(TimeoutError):
                _wait(
                    "every event in the database",
                    lambda: _count_fired(home, "sensors") >= sensors,
                    FIRE_TIMEOUT,
                    triggerer,
                    0.2,
                )
            seconds_to_db = time.time() - ended
            fired = _count_fired(home, "sensors")
            fired_at = trigger_logs.times(FIRED)
            seconds_to_fire = min(fired_at, default=float("nan")) - ended
            seconds_to_last = max(fired_at, default=float("nan")) - ended
            log = (home / "triggerer.log").read_text(errors="replace")
            lag_steady = _lags(probe_out, steady, ended)
            lag_startup = _lags(probe_out, seeded, steady)
        finally:
            triggerer.stop()
    requests = samples[-1][1] - samples[0][1]
    return Phase(
        label=label,
        sensors=sensors,
        interval=interval,
        max_requests_per_interval=_most_in_one_interval(samples, interval),
        mean_requests_per_interval=requests / ((samples[-1][0] - samples[0][0]) / interval),
        rss_before_mb=rss_before,
        rss_after_mb=max(rss),
        lag_steady_ms=max(lag_steady, default=float("nan")),
        lag_startup_ms=max(lag_startup, default=float("nan")),
        blocked_warnings=log.count("async thread was blocked"),
        waiting=waiting,
        seconds_to_wait=seconds_to_wait,
        fired=fired,
        seconds_to_fire=seconds_to_fire,
        seconds_to_last=seconds_to_last,
        seconds_to_db=seconds_to_db,
    )


class TriggerLogs:
    """
    The sensors' own trigger logs (one file per task instance, as Airflow writes them): which
    have logged a line, and when.
    """

    def __init__(self, home: Path) -> None:
        self.folder = home / "logs" / f"dag_id={DAG_ID}" / "run_id=sensors" / f"task_id={SENSOR_TASK}"

    def _lines(self, what: str) -> list[dict[str, Any]]:
        found = []
        for path in self.folder.glob("map_index=*/*.trigger.*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if what in line:
                    found.append(json.loads(line))
                    break
        return found

    def count(self, what: str) -> int:
        """How many sensors logged a line containing ``what``."""
        return len(self._lines(what))

    def times(self, what: str) -> list[float]:
        """When each sensor first logged ``what`` (unix time)."""
        from datetime import datetime

        return [datetime.fromisoformat(line["timestamp"]).timestamp() for line in self._lines(what)]


def _ticks(seconds: float, every: float) -> Any:
    """Yield every ``every`` seconds for ``seconds`` seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        yield
        time.sleep(every)


def _environment(home: Path, connection: str, sensors: int) -> dict[str, str]:
    from tests.e2e.airflow_stack import free_port

    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Seeding a thousand deferrals holds SQLite's write lock for a while: wait for it, don't fail.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}?timeout=60",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__TRIGGERER__CAPACITY": str(sensors + 10),
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW_CONN_FULLSMS_DEFAULT": connection,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


# -- the report ---------------------------------------------------------------------------------


def run(size: dict[str, Any] = FULL, *, compare: bool = False) -> dict[str, Any]:
    """
    Measure the shared poll (and with ``compare`` the unshared one, for reference).

    :return: ``{"rows": [Phase, ...], "checks": [...], "text": <the printed section>}``.
    """
    phases = [measure("shared poll (this provider)", SHARED, **size)]
    if compare:
        phases.append(measure("one poll per trigger (before)", UNSHARED, **size))
    ours = phases[0]
    checks = [
        Check(
            "balance requests per interval per connection",
            str(ours.max_requests_per_interval),
            f"<= {GOAL_REQUESTS_PER_INTERVAL}",
            ours.max_requests_per_interval <= GOAL_REQUESTS_PER_INTERVAL,
        ),
        Check(
            f"triggerer RSS growth, {ours.sensors:,} sensors",
            f"{ours.rss_growth_mb:.1f} MB",
            f"<= {GOAL_RSS_MB:g} MB",
            ours.rss_growth_mb <= GOAL_RSS_MB,
        ),
        Check(
            "event-loop lag while they wait (max)",
            f"{ours.lag_steady_ms:.0f} ms",
            f"<= {GOAL_LAG_MS:g} ms",
            ours.lag_steady_ms <= GOAL_LAG_MS,
        ),
        Check(
            "top-up seen by the poll (first event), all sensors fired",
            f"{ours.seconds_to_fire:.1f} s, {ours.fired:,}/{ours.sensors:,}",
            f"<= {ours.interval:g} s + {FIRE_SLACK:g} s, {ours.sensors:,}",
            ours.fired == ours.sensors and ours.seconds_to_fire <= ours.interval + FIRE_SLACK,
        ),
    ]
    table = markdown_table(
        ["", *(p.label for p in phases)],
        [
            ("sensors deferred (poke interval)", *(f"{p.sensors:,} ({p.interval:g} s)" for p in phases)),
            ("all waiting, after deferral", *(f"{p.waiting:,} in {p.seconds_to_wait:.0f} s" for p in phases)),
            ("balance requests in one interval (max)", *(str(p.max_requests_per_interval) for p in phases)),
            (
                "balance requests per interval (mean)",
                *(f"{p.mean_requests_per_interval:.2f}" for p in phases),
            ),
            (
                "triggerer RSS before -> while waiting",
                *(f"{p.rss_before_mb:.0f} -> {p.rss_after_mb:.0f} MB" for p in phases),
            ),
            ("triggerer RSS growth", *(f"{p.rss_growth_mb:.1f} MB" for p in phases)),
            ("event-loop lag while waiting (max)", *(f"{p.lag_steady_ms:.0f} ms" for p in phases)),
            ("event-loop lag while they start (max)", *(f"{p.lag_startup_ms:.0f} ms" for p in phases)),
            ("Airflow's 'thread was blocked' warnings", *(str(p.blocked_warnings) for p in phases)),
            ("top-up -> first trigger fired", *(f"{p.seconds_to_fire:.1f} s" for p in phases)),
            ("top-up -> last trigger fired", *(f"{p.seconds_to_last:.1f} s" for p in phases)),
            (
                "top-up -> every event in the database",
                *(f"{p.fired:,} in {p.seconds_to_db:.1f} s" for p in phases),
            ),
        ],
        align="l" + "r" * len(phases),
    )
    note = (
        "A real `airflow triggerer` (LocalExecutor settings, SQLite) and a sandbox on loopback; the "
        "deferrals are written to the database as a deferring task leaves them. RSS is the triggerer "
        "and its trigger runner, before the sensors are deferred and at most while they wait. Lag is "
        "how late a probe trigger in the same event loop woke, at worst (it asks every 20 ms); "
        "Airflow's watchdog warns of lag past 100 ms. 'While they start' is mostly Airflow inflating a "
        "thousand trigger workloads and the first import of the hook. Requests are counted by the "
        "sandbox every 0.1 s. Every sensor gets the reading that fires the first one at once; the "
        "time to the last is Airflow handling a thousand events (log lines, database). Other load "
        "on the machine shows as lag: read it on a quiet machine."
    )
    command = COMMAND + (" --small" if size is SMALL else "") + (" --compare" if compare else "")
    text = report("One triggerer, a thousand balance sensors", table, checks, command, note)
    return {"rows": phases, "checks": checks, "text": text}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the section (or seed the database, for the benchmark itself)."""
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["seed"]:
        seed(**json.loads(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="50 sensors, 2 s interval")
    parser.add_argument("--compare", action="store_true", help="also measure one poll per trigger")
    args = parser.parse_args(argv)
    print(run(SMALL if args.small else FULL, compare=args.compare)["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
