"""
Chaos on a real Airflow 3.3: its own components stopped mid-campaign, and what a person must do.

A real deployment (``tests/e2e/airflow_stack.py``: api-server, scheduler, triggerer and
dag-processor, LocalExecutor on SQLite; ``--postgres``: on PostgreSQL) runs a
10,000-recipient campaign (20 batches, ``max_concurrency=2``, ``retries=2``) against a sandbox
process whose every send takes 0.4 s. One batch -- the first, a middle one or the last -- is held:
FullSMS acts on it at once but answers 12 s later. As soon as its request is out, one fault:

* the api-server SIGKILLed (with its workers), started again 10 s later, as a process supervisor
  does;
* the api-server hung (SIGSTOP, connections open, no answers) for 40 s;
* the scheduler's main process SIGKILLed and started again 10 s later (its LocalExecutor workers
  and task runners live on);
* PostgreSQL stopped for 10 s (``--postgres``).

As in a real deployment, a process supervisor starts again, 5 s later, any Airflow component that
exits on its own (the scheduler and the triggerer exit when the database refuses connections);
the table says which it restarted.

The stack sets ``[workers] max_failed_heartbeats`` to 20 (``--default-heartbeats`` keeps
Airflow's 3): with 3, a task's own supervisor kills it after 30-60 s without an api-server,
whatever the ledger's window.

Per scenario: the DAG run's outcome and tries, texts sent / distinct phones / most texts to one
phone (the sandbox inbox), batches left unknown or in flight in the ledger, whether a person is
needed (a run not green, or a batch to settle), and how long the task waited to write its ledger
(its log's "can be written again" line). Targets: nobody texted twice anywhere; every scenario
whose outage is shorter than the ledger's write window finishes green with everyone texted once
and no batch unknown.

Reproduce with::

    make chaos                                       # = .venv/bin/python -m benchmarks.chaos
    .venv/bin/python -m benchmarks.chaos --short     # the two api-server restarts (make reliability)
    .venv/bin/python -m benchmarks.chaos --postgres  # on PostgreSQL, with a database restart
"""

from __future__ import annotations

import argparse
import contextlib
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import (
    BIG_BALANCE,
    EVERY_REQUEST,
    SEND_PATH,
    Check,
    connection_json,
    machine_table,
    markdown_table,
    report,
    verdict,
)

COMMAND = ".venv/bin/python -m benchmarks.chaos"
DAG_ID = "fullsms_chaos"
AUDIENCE = 10_000
BATCHES = AUDIENCE // 500
LATENCY_MS = 400
#: Seconds FullSMS holds the answer to the batch a fault is timed on (it acts on it at once).
HOLD = 12.0
#: The ledger's write window in the DAG (the operator's default).
WINDOW = 120.0
RUN_TIMEOUT = 900.0
#: ``[workers] max_failed_heartbeats`` of the stack: Airflow's default (3) lets a task's own
#: supervisor kill it after about 30-60 s without an api-server, before the ledger's window
#: matters; docs/executors.md says why and what to set.
MAX_FAILED_HEARTBEATS = 20

DAG_FILE = """
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

with DAG("fullsms_chaos", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    FullSmsSendToNumbersOperator(
        task_id="send",
        numbers_file="{{ dag_run.conf['file'] }}",
        message="Chaos test: your order has shipped.",
        max_concurrency=2,
        retries=2,
        retry_delay=timedelta(seconds=5),
    )
"""


@dataclass(frozen=True)
class Chaos:
    """
    One fault in one campaign.

    :param target: ``api-server``, ``scheduler`` or ``postgres``.
    :param action: ``kill`` (SIGKILL, restarted after ``outage`` s), ``hang`` (SIGSTOP for
        ``outage`` s) or ``stop`` (PostgreSQL's shutdown, started after ``outage`` s).
    :param at: the batch out when it strikes: ``first``, ``middle`` or ``last``.
    """

    name: str
    target: str
    action: str
    at: str
    outage: float

    @property
    def batch(self) -> int:
        return {"first": 0, "middle": BATCHES // 2, "last": BATCHES - 1}[self.at]


SHORT = (
    Chaos("api-server SIGKILLed while the last batch is out", "api-server", "kill", "last", 10),
    Chaos("api-server SIGKILLed early (the first batch out)", "api-server", "kill", "first", 10),
)
FULL = (
    *SHORT,
    Chaos("api-server SIGKILLed mid-campaign", "api-server", "kill", "middle", 10),
    Chaos("api-server hung (SIGSTOP) mid-campaign", "api-server", "hang", "middle", 40),
    Chaos("scheduler's main process SIGKILLed mid-campaign", "scheduler", "kill", "middle", 10),
)
POSTGRES = (*SHORT[:1], Chaos("PostgreSQL stopped mid-campaign", "postgres", "stop", "middle", 10))


def _strike(chaos: Chaos, stack: Any, postgres: Any) -> float:
    """Cause ``chaos``'s fault, then end it; return how long it lasted (until all answered again)."""
    began = time.monotonic()
    if chaos.target == "postgres":
        postgres.restart(chaos.outage)
    elif chaos.action == "hang":
        stack.hang(chaos.target)
        time.sleep(chaos.outage)
        stack.hang(chaos.target, resume=True)
    else:
        stack.kill(chaos.target, descendants=chaos.target != "scheduler")
        time.sleep(chaos.outage)
        stack.restart(chaos.target)
    return time.monotonic() - began


def _scenario(
    chaos: Chaos, number: int, stack: Any, sandbox: Any, postgres: Any, work: Path
) -> dict[str, Any]:
    client = sandbox.client
    client.reset()
    client.set_balance(BIG_BALANCE)
    client.inject_fault("latency", path=SEND_PATH, ms=LATENCY_MS, count=EVERY_REQUEST)
    client.inject_fault("slow", path=SEND_PATH, after=chaos.batch, seconds=HOLD)
    audience = work / "audience.csv"
    if not audience.exists():
        audience.write_text("number\n" + "".join(f"{447700000000 + i}\n" for i in range(AUDIENCE)))
    run_id = f"chaos_{number}"
    stack.trigger(DAG_ID, run_id, conf={"file": str(audience)})
    stack.wait_until(
        f"batch {chaos.batch} to be out",
        lambda: client.requests_count(SEND_PATH) > chaos.batch,
        timeout=300,
        interval=0.2,
    )
    restarted = stack.restarts.copy()
    lasted = _strike(chaos, stack, postgres)
    state = stack.wait_for_run(DAG_ID, run_id, RUN_TIMEOUT)
    restarted = stack.restarts - restarted
    per_phone = Counter(message["to"] for message in client.messages())
    ledger = stack.state_store(DAG_ID, run_id, "send")
    batches = [v.get("s") for k, v in ledger.items() if k.startswith("fullsms.batch.")]
    unknown = sum(s in ("unknown", "in_flight") for s in batches)
    tries = stack.tries(DAG_ID, run_id, "send")
    return {
        "scenario": chaos.name,
        "outage": f"{chaos.action} {chaos.outage:g} s ({lasted:.0f} s until back)",
        "outcome": state,
        "tries": ", ".join(f"{t['try_number']}: {t['state']}" for t in tries),
        "texts": sum(per_phone.values()),
        "distinct": len(per_phone),
        "max_per_phone": max(per_phone.values(), default=0),
        "unknown": unknown,
        "person": state != "success" or unknown > 0,
        "waited": _ledger_waits(stack.home, run_id),
        "restarted": ", ".join(f"{name} ({times})" for name, times in sorted(restarted.items())) or "-",
        "short_outage": lasted < WINDOW,
    }


def _ledger_waits(home: Path, run_id: str) -> str:
    """How long the task waited to write its ledger, from its log ("can be written again, after N s")."""
    waits = []
    for path in sorted((home / "logs").glob(f"dag_id={DAG_ID}/run_id={run_id}/task_id=send/*.log*")):
        waits += re.findall(r"can be written again, after (\d+) s", path.read_text(errors="replace"))
    return ", ".join(f"{w} s" for w in waits) or "-"


@contextlib.contextmanager
def _stack(root: Path, env: dict[str, str], postgres: bool) -> Iterator[tuple[Any, Any]]:
    from tests.e2e.airflow_stack import AirflowStack
    from tests.e2e.servers import PostgresServer

    dags = root / "dags"
    dags.mkdir()
    (dags / "fullsms_chaos.py").write_text(DAG_FILE)
    home = root / "airflow"
    home.mkdir()
    with contextlib.ExitStack() as servers:
        database = servers.enter_context(PostgresServer()) if postgres else None
        if database is not None:
            env = {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database.url}
        stack = servers.enter_context(AirflowStack(home, dags, env, supervise=True))
        stack.wait_for_dag(DAG_ID)
        yield stack, database


def run(short: bool = False, postgres: bool = False, default_heartbeats: bool = False) -> dict[str, Any]:
    """
    Every scenario, one after the other on one stack; the table and the targets.

    :param short: the two api-server restarts only (what ``make reliability`` runs).
    :param postgres: the stack on PostgreSQL, with a database restart.
    :param default_heartbeats: keep Airflow's ``[workers] max_failed_heartbeats`` (3), to show
        what it does, instead of :data:`MAX_FAILED_HEARTBEATS`.
    """
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    scenarios = POSTGRES if postgres else SHORT if short else FULL
    started = time.monotonic()
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="fullsms-chaos-") as tmp,
        SandboxProcess(balance=BIG_BALANCE) as sandbox,
    ):
        root = Path(tmp)
        env = {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection_json(sandbox.url, sandbox.token)}
        if not default_heartbeats:
            env["AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS"] = str(MAX_FAILED_HEARTBEATS)
        with _stack(root, env, postgres) as (stack, database):
            for number, chaos in enumerate(scenarios):
                rows.append(_scenario(chaos, number, stack, sandbox, database, root))
    heartbeats = 3 if default_heartbeats else MAX_FAILED_HEARTBEATS
    return _render(rows, short, postgres, heartbeats, time.monotonic() - started)


def _render(
    rows: list[dict[str, Any]], short: bool, postgres: bool, heartbeats: int, seconds: float
) -> dict[str, Any]:
    twice = sum(r["max_per_phone"] > 1 for r in rows)
    short_outages = [r for r in rows if r["short_outage"]]
    green = [
        r
        for r in short_outages
        if r["outcome"] == "success" and r["distinct"] == r["texts"] == AUDIENCE and not r["person"]
    ]
    checks = [
        Check("scenarios where someone was texted twice", str(twice), "= 0", twice == 0),
        Check(
            "outages shorter than the window: green, everyone once, no batch unknown",
            f"{len(green)}/{len(short_outages)}",
            "all",
            len(green) == len(short_outages),
        ),
    ]
    table = markdown_table(
        [
            "scenario",
            "outage",
            "outcome (tries)",
            "texts / distinct / max per phone",
            "unknown batches",
            "person needed?",
            "ledger waited",
            "restarted by the supervisor",
        ],
        [
            (
                r["scenario"],
                r["outage"],
                f"{r['outcome']} ({r['tries']})",
                f"{r['texts']:,} / {r['distinct']:,} / {r['max_per_phone']}",
                r["unknown"],
                "yes" if r["person"] else "no",
                r["waited"],
                r["restarted"],
            )
            for r in rows
        ],
        align="llllrlll",
    )
    database = "PostgreSQL" if postgres else "SQLite"
    body = "\n".join(
        [
            f"{AUDIENCE:,} recipients in {BATCHES} batches, `max_concurrency=2`, `retries=2`; LocalExecutor "
            f"on {database}; `[workers] max_failed_heartbeats = {heartbeats}`"
            + (" (Airflow's default)" if heartbeats == 3 else "")
            + f", Airflow's other settings at their defaults; every send takes {LATENCY_MS} ms and the batch "
            f"a fault is timed on is answered {HOLD:g} s after FullSMS acted on it.",
            "",
            table,
        ]
    )
    form = "PostgreSQL" if postgres else "short" if short else "full"
    command = COMMAND + (" --postgres" if postgres else " --short" if short else "")
    command += " --default-heartbeats" if heartbeats == 3 else ""
    text = report(f"Chaos ({form}, {seconds:.0f} s)", body, checks, command, machine_table())
    return {"rows": rows, "checks": checks, "text": text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="the two api-server restarts only")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, with a database restart")
    parser.add_argument(
        "--default-heartbeats", action="store_true", help="keep Airflow's [workers] max_failed_heartbeats (3)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    result = run(args.short, args.postgres, args.default_heartbeats)
    print(result["text"])
    print(verdict(result["checks"]))
    return 1 if (args.strict and not all(c.passed for c in result["checks"])) else 0


if __name__ == "__main__":
    raise SystemExit(main())
