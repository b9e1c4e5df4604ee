"""
Benchmark: campaign throughput in real Airflow tasks, the ledger written through the api-server.

:mod:`benchmarks.bench_throughput` calls the operator's ``execute`` in process, with Airflow's
task state store answered in process too. Here a real deployment runs the send
(:class:`tests.e2e.airflow_stack.AirflowStack`: api-server, scheduler, dag-processor and triggerer
with the LocalExecutor on SQLite, on whichever Airflow 3 is installed beside this interpreter), so
each of the ledger's writes takes the path it takes in production: from the task to its
supervisor over the task's socket, from the supervisor to the api-server's execution API, into
the metadata database. The provider picks the store itself: ``task_state_store`` on Airflow 3.3,
Airflow Variables (through the Task SDK) before.

One text to 200,000 recipients (a CSV audience file) through a sandbox that adds 50 ms to every
send request, two DAGs of one task each, triggered alternately:

* (a) **provider**: ``FullSmsSendToNumbersOperator(max_concurrency=8)`` with the ledger on;
* (c) **limit**: the same 500-number payloads sent by 8 threads over keep-alive connections
  (:func:`benchmarks.bench_throughput.run_limit`) and nothing else.

Like with like: both are real tasks in the same stack, each timed from inside its ``execute``
(:mod:`benchmarks.stack_tasks`), so neither pays Airflow's task start-up (scheduling, the
supervisor's fork, the DAG file's parse), which no send can shorten and which would only dilute the
ratio; Airflow's own duration of each task is printed beside. Each task reads the audience file into
a list before its clock starts, so both start from the audience in memory, as in
:mod:`benchmarks.bench_throughput`: (a)'s clock then runs over its whole ``execute`` (account
checks, the pre-send pass that checks, de-duplicates and batches every number, the plan record,
the sends, every ledger write), (c)'s over its sends. ``--file-audience`` gives the provider the
file instead, read on its clock (twice: to check every number, then to send). (a)'s ledger calls
are counted and timed one by one, and their time printed beside the budget (c) leaves them: its
seconds over the number of writes, since only the task's main thread writes the ledger, one write
at a time (and each goes through the one supervisor, one request at a time).

Target: (a)/(c) <= 1.05 on Airflow 3.3 (its task state store), <= 1.10 on older Airflow 3
(Variables), the median of five alternating pairs (two runs back to back share the machine's load
of that moment), after one untimed warm-up run of each DAG. ``--diagnose`` adds two runs that are
no target: (a) with its ledger in the task's memory (JSON-copied, as the real store is), and the
ledger's writes alone (no send), to tell the path's cost from the rest. ``--postgres`` puts the
metadata database on a throw-away PostgreSQL that never waits for the disk, instead of SQLite.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_throughput_stack                       # Airflow 3.3
    .venv-airflow-3.0/bin/python -m benchmarks.bench_throughput_stack           # = make bench-airflow-3.0
    .venv/bin/python -m benchmarks.bench_throughput_stack --small               # one pair, 4,000
    .venv/bin/python -m benchmarks.bench_throughput_stack --diagnose --postgres
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._common import (
    BENCH_TOKEN,
    BIG_BALANCE,
    SEND_PATH,
    Check,
    connection_json,
    ensure_airflow_home,
    fresh,
    markdown_table,
    numbers,
    report,
)
from benchmarks.bench_throughput import CONCURRENCY, LATENCY_MS, REPEAT, SideBySide

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess
    from tests.e2e.airflow_stack import AirflowStack

FULL_RECIPIENTS = 200_000
SMALL_RECIPIENTS = 4_000
WARM_UP_RECIPIENTS = 1_000
#: (a)/(c) on Airflow 3.3 (task state store), and on older Airflow 3 (Variables).
TARGET_STATE_STORE = 1.05
TARGET_VARIABLES = 1.10
#: This interpreter's venv by its folder name (``.venv``, ``.venv-airflow-3.0``), as the repository has it.
COMMAND = f"{Path(sys.executable).parent.parent.name}/bin/python -m benchmarks.bench_throughput_stack"
TASK_ID = "send"
#: The DAGs of the DAG file: side -> DAG id.
DAGS = {
    "provider": "bench_stack_provider",
    "limit": "bench_stack_limit",
    "memory_ledger": "bench_stack_provider_memory_ledger",
    "ledger_writes": "bench_stack_ledger_writes",
}
#: Each side's row in the table.
LABELS = {
    "provider": f"(a) provider: FullSmsSendToNumbersOperator, max_concurrency={CONCURRENCY}, ledger on",
    "limit": f"(c) limit: pre-built payloads, {CONCURRENCY} threads, keep-alive",
    "memory_ledger": "(a0) provider, its ledger in the task's memory",
    "ledger_writes": "ledger writes alone, no send",
}
RUN_TIMEOUT = 600
#: The DAGs, one per side (:data:`DAGS`), copied into the stack's DAGs folder.
DAG_FILE = Path(__file__).with_name("stack_dags") / "bench_throughput_stack.py"


def write_audience(path: Path, count: int, start: int = 447_700_000_000) -> Path:
    """A CSV audience file: a header row, then ``count`` distinct canonical numbers."""
    path.write_text("number\n" + "".join(f"{n}\n" for n in numbers(count, start)), encoding="utf-8")
    return path


def airflow_version() -> str:
    return version("apache-airflow")


class Sides:
    """Runs one side's DAG in the stack against a freshly reset sandbox, and reads its figures."""

    def __init__(self, stack: AirflowStack, sandbox: SandboxProcess, latency_ms: float) -> None:
        self.stack, self.sandbox, self.latency_ms = stack, sandbox, latency_ms
        self.runs = 0

    def measure(self, side: str, audience: Path, size: int, label: str = "") -> dict[str, Any]:
        """
        Trigger ``side``'s DAG on ``audience`` and wait for it; its task's figures, the requests the
        sandbox counted and Airflow's own duration of the task.

        :param label: the side's row label (default: :data:`LABELS`).

        :raises RuntimeError: the run failed, or did not text all ``size`` recipients.
        """
        label = label or LABELS[side]
        fresh(self.sandbox, latency_ms=self.latency_ms)
        self.runs += 1
        dag_id, run_id = DAGS[side], f"{side}_{self.runs}"
        self.stack.trigger(dag_id, run_id, conf={"file": str(audience)})
        state = self.stack.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
        if state != "success":
            raise RuntimeError(f"{label}: run {run_id} {state}:\n{self.stack.logs()}")
        result = dict(self.stack.xcom(dag_id, run_id, TASK_ID, key="bench"))
        result["label"] = label
        result["requests"] = self.sandbox.client.requests_count(SEND_PATH)
        result["task_seconds"] = _start_to_end(self.stack.task_instance(dag_id, run_id, TASK_ID))
        expected = 0 if side == "ledger_writes" else size
        if result["sent"] != expected:
            raise RuntimeError(f"{label}: sent {result['sent']} of {expected}")
        result["recipients_per_s"] = result["sent"] / result["seconds"]
        return result


@dataclass(frozen=True)
class Setup:
    """What a run measured on, for the printed section."""

    recipients: int
    latency_ms: float
    database: str = "SQLite"
    warmed_up: bool = True
    file_audience: bool = False
    #: The load average (1, 5, 15 minutes) before and after the run.
    load: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())


def run(
    recipients: int = FULL_RECIPIENTS,
    *,
    latency_ms: float = LATENCY_MS,
    repeat: int = REPEAT,
    warm_up: bool = True,
    diagnose: bool = False,
    postgres: bool = False,
    file_audience: bool = False,
) -> dict[str, Any]:
    """
    Start the stack and the sandbox, warm up, then measure (c) and (a) alternately ``repeat`` times.

    :param diagnose: in each pair, (a0) too (the provider with its ledger in memory) after (a); then
        the ledger's writes alone, once.
    :param postgres: the metadata database on PostgreSQL (:class:`tests.e2e.servers.PostgresServer`:
        a throw-away server that never waits for the disk) instead of SQLite.
    :param file_audience: the provider reads the audience file itself, on its clock (both sides
        read it before their clocks start otherwise).

    :return: ``{"rows": [(a), (c), ...], "pairs": SideBySide, "checks": [...], "text": <the section>}``.
    """
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess
    from tests.e2e.airflow_stack import AIRFLOW_2, AirflowStack
    from tests.e2e.servers import PostgresServer

    if AIRFLOW_2:
        raise SystemExit("bench_throughput_stack measures Airflow 3 (the execution API); this is Airflow 2")
    ensure_airflow_home()
    load_before = os.getloadavg()
    batches = -(-recipients // 500)
    root = Path(tempfile.mkdtemp(prefix="fullsms-bench-stack-"))
    provider: list[dict[str, Any]] = []
    limit: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    writes_alone = None
    try:
        dags, home = root / "dags", root / "airflow"
        dags.mkdir()
        home.mkdir()
        shutil.copy(DAG_FILE, dags)
        audience = write_audience(root / "audience.csv", recipients)
        small = write_audience(root / "warm_up.csv", WARM_UP_RECIPIENTS, start=447_800_000_000)
        with contextlib.ExitStack() as servers:
            sandbox = servers.enter_context(SandboxProcess(balance=BIG_BALANCE, token=BENCH_TOKEN))
            env = {
                "AIRFLOW_CONN_FULLSMS_DEFAULT": connection_json(sandbox.url, sandbox.token),
                "FULLSMS_BENCH_READ_FIRST": "0" if file_audience else "1",
                "FULLSMS_BENCH_LEDGER_WRITES": str(1 + 2 * batches),
            }
            if postgres:
                env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = servers.enter_context(PostgresServer()).url
            stack = servers.enter_context(AirflowStack(home, dags, env))
            for dag_id in DAGS.values():
                stack.wait_for_dag(dag_id)
            sides = Sides(stack, sandbox, latency_ms)
            if warm_up:  # each DAG's first task pays for cold caches: not what is measured
                for side in ("limit", "provider", *(("memory_ledger",) if diagnose else ())):
                    sides.measure(side, small, WARM_UP_RECIPIENTS, label=f"warm-up {side}")
            for _ in range(max(1, repeat)):
                limit.append(sides.measure("limit", audience, recipients))
                provider.append(sides.measure("provider", audience, recipients))
                if diagnose:
                    memory.append(sides.measure("memory_ledger", audience, recipients))
            if diagnose:
                label = f"(w) {1 + 2 * batches} {LABELS['ledger_writes']}"
                writes_alone = sides.measure("ledger_writes", audience, 0, label=label)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    setup = Setup(
        recipients,
        latency_ms,
        database="PostgreSQL (fsync off)" if postgres else "SQLite",
        warmed_up=warm_up,
        file_audience=file_audience,
        load=(load_before, os.getloadavg()),
    )
    diagnosis = (SideBySide(memory, limit), writes_alone) if diagnose else None
    return section(setup, SideBySide(provider, limit), diagnosis)


def section(
    setup: Setup,
    pairs: SideBySide,
    diagnosis: tuple[SideBySide, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """
    The printed section: each side's fastest run, every pair, the target, the ledger's figures.

    :param diagnosis: (a0) against the same runs of (c), and the ledger's writes alone.
    """
    from tests.e2e.airflow_stack import TASK_STATE_STORE

    target = TARGET_STATE_STORE if TASK_STATE_STORE else TARGET_VARIABLES
    ledger = "task_state_store" if TASK_STATE_STORE else "Airflow Variables (Task SDK)"
    a, c = pairs.best
    rows = [a, c]
    if diagnosis is not None:
        memory, writes_alone = diagnosis
        rows += [memory.best[0], *([writes_alone] if writes_alone else [])]
    sides = markdown_table(
        [
            "side",
            "requests",
            "seconds (in execute)",
            "recipients/s",
            "task (Airflow's start to end) s",
            "ledger writes",
            "in writes s",
            "write median / p95 ms",
        ],
        [_row(r) for r in rows],
    )
    by_pair = markdown_table(
        [
            "pair",
            "(c) s",
            "(a) s",
            "(a) / (c)",
            "(a) ledger writes s",
            "(a) write median ms",
            *(["(a0) s", "(a0) / (c)"] if diagnosis else []),
        ],
        [
            (
                str(i + 1),
                f"{pairs.limit[i]['seconds']:.2f}",
                f"{pairs.provider[i]['seconds']:.2f}",
                f"{pairs.pairs[i]:.3f}",
                f"{pairs.provider[i].get('set_seconds', 0):.2f}",
                f"{pairs.provider[i].get('set_median_ms', 0):.1f}",
                *(
                    [f"{diagnosis[0].provider[i]['seconds']:.2f}", f"{diagnosis[0].pairs[i]:.3f}"]
                    if diagnosis
                    else []
                ),
            )
            for i in range(len(pairs.pairs))
        ],
    )
    checks = [
        Check(
            f"(a) / (c) seconds in real tasks, ledger in {ledger}, median pair",
            f"{pairs.ratio:.3f}",
            f"<= {target}",
            pairs.ratio <= target,
        )
    ]
    writes = a.get("sets", 0)
    budget_ms = 1000 * c["seconds"] / writes if writes else 0.0
    reading = (
        "the provider reads it on its clock, twice: to check every number, then to send"
        if setup.file_audience
        else "each task reads it into a list before its clock starts"
    )
    parts = [
        f"Airflow {airflow_version()}, LocalExecutor on {setup.database}: api-server, scheduler, "
        "dag-processor and triggerer running, the sandbox beside them. "
        f"{setup.recipients:,} recipients from a CSV file ({reading}), one text, {setup.latency_ms:g} ms "
        "added by the sandbox to every send request. Each side is a real task, timed from inside its "
        "`execute`: Airflow's task start-up is in neither (its start-to-end time of the task is printed "
        "beside).",
        f"(a)'s ledger: {ledger} (`{a.get('store', '?')}`), every write from the task through its "
        f"supervisor and the api-server's execution API: {writes:,} writes and {a.get('gets', 0)} read, "
        f"{a.get('set_seconds', 0):.2f} s of writes in the fastest run. The task's main thread writes the "
        "ledger one write at a time (and its supervisor makes one request at a time), so to keep up "
        f"with (c) a write may take at most (c)'s time over the writes, {budget_ms:.1f} ms; the median "
        f"write took {a.get('set_median_ms', 0):.1f} ms.",
    ]
    if diagnosis is not None:
        memory, writes_alone = diagnosis
        parts.append(
            f"Diagnosis: (a0), the same task with its ledger in its memory, ran after (a) in "
            f"each pair: (a0)/(c) median {memory.ratio:.3f}"
            + (
                f"; the {writes_alone['sets']:,} writes alone, no send, took {writes_alone['seconds']:.2f} s "
                f"(median {writes_alone['set_median_ms']:.1f} ms a write)."
                if writes_alone
                else "."
            )
        )
    warmed = ", after a warm-up run of each" if setup.warmed_up else ""
    before, after = setup.load
    parts.append(
        f"Table: the fastest of {len(pairs.provider)} runs of each side, alternating{warmed}. Spread: "
        f"{pairs.spread()}. Load average (1, 5, 15 min) before {_load(before)}, after {_load(after)}: "
        "other work shares the machine's cores."
    )
    options = (
        ("" if setup.recipients == FULL_RECIPIENTS else f" --recipients {setup.recipients}")
        + (" --postgres" if setup.database != "SQLite" else "")
        + (" --file-audience" if setup.file_audience else "")
        + (" --diagnose" if diagnosis else "")
    )
    title = (
        "Campaign throughput in real tasks, ledger through the api-server: "
        f"Airflow {airflow_version()}, {setup.database}"
    )
    text = report(title, f"{sides}\n\n{by_pair}", checks, COMMAND + options, " ".join(parts))
    return {"rows": rows, "pairs": pairs, "checks": checks, "text": text}


def _row(r: dict[str, Any]) -> tuple[str, ...]:
    """One side's cells: requests, seconds, rate, Airflow's time of the task, the ledger's figures."""
    ledger = (
        (f"{r['sets']:,}", f"{r['set_seconds']:.2f}", f"{r['set_median_ms']:.1f} / {r['set_p95_ms']:.1f}")
        if "sets" in r
        else ("-", "-", "-")
    )
    return (
        r["label"],
        f"{r['requests']:,}",
        f"{r['seconds']:.2f}",
        f"{r['recipients_per_s']:,.0f}" if r["sent"] else "-",
        f"{r['task_seconds']:.1f}" if r.get("task_seconds") is not None else "?",
        *ledger,
    )


def _start_to_end(ti: dict[str, Any]) -> float | None:
    """
    Seconds from a task instance's start to its end, as Airflow recorded them (not its ``duration``:
    Airflow 3.0 reports one that can be negative).
    """
    if not ti.get("start_date") or not ti.get("end_date"):
        return None
    start, end = (datetime.fromisoformat(ti[k].replace("Z", "+00:00")) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def _load(values: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def main(argv: list[str] | None = None) -> int:
    """Parse the size, run, print the section."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--small", action="store_true", help=f"{SMALL_RECIPIENTS:,} recipients, one pair, no warm-up"
    )
    parser.add_argument("--recipients", type=int, help=f"default {FULL_RECIPIENTS:,}")
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    parser.add_argument("--repeat", type=int, help=f"alternating pairs (default {REPEAT}; 1 with --small)")
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="also run (a) with its ledger in memory, and the ledger's writes alone (no target)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="the metadata database on PostgreSQL (throw-away: fsync off) instead of SQLite",
    )
    parser.add_argument(
        "--file-audience",
        action="store_true",
        help="the provider reads the audience file itself, on its clock",
    )
    args = parser.parse_args(argv)
    recipients = args.recipients or (SMALL_RECIPIENTS if args.small else FULL_RECIPIENTS)
    repeat = args.repeat or (1 if args.small else REPEAT)
    result = run(
        recipients,
        latency_ms=args.latency_ms,
        repeat=repeat,
        warm_up=not args.small,
        diagnose=args.diagnose,
        postgres=args.postgres,
        file_audience=args.file_audience,
    )
    print(result["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
