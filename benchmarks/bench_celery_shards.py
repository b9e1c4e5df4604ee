"""
Benchmark: shards across Celery workers -- the same sharded DAG on two workers against one.

``fullsms_balance_gated_batches`` (4 mapped send tasks, one per shard file) runs on a real
CeleryExecutor deployment: PostgreSQL, Redis, api-server, scheduler, dag-processor, triggerer and
two Celery workers of 2 slots each, against a sandbox that adds 200 ms to every send, as a far
away API would. The connection allows one send in flight per task (``max_concurrency=1``), so a
shard's time is its round trips to FullSMS, not the CPU of this machine, which every worker
shares. After a warm-up run, the DAG runs on both workers; then one worker is stopped and the
same DAG runs again on the other alone; the stopped worker is started again, warmed up, and the
pair repeated, three pairs in all. Every run must text every phone once; each pair's figure is
the ratio of its wall times (the DAG run's start to end, as Airflow recorded them, less the time
the run waited for its approval), and of its shard phases (first shard started to last ended).
The DAG's other tasks run one after another on either deployment (about 8 s of scheduling and
task start-up here, give or take a second or two): with shards of 30,000 that chain alone put the
ratio near 0.6 even when the shards scaled perfectly, so a shard is 60,000 numbers (120 sends);
and one pair alone can still land either side of the goal, so the median of the three pairs is
the verdict, every pair printed.

Target: two workers take <= 0.6 x the wall time of one (median of three alternating pairs).

Reproduce with::

    .venv/bin/python -m benchmarks.bench_celery_shards            # 4 shards of 60,000
    .venv/bin/python -m benchmarks.bench_celery_shards --small    # 4 shards of 1,000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._common import (
    BENCH_TOKEN,
    BIG_BALANCE,
    Check,
    connection_json,
    ensure_airflow_home,
    fresh,
    markdown_table,
    report,
)

if TYPE_CHECKING:
    from tests.e2e.airflow_stack import AirflowStack

DAG_ID = "fullsms_balance_gated_batches"
EXAMPLE_DAGS = Path(__file__).resolve().parents[1] / "example_dags"
WORKERS = ("worker-a", "worker-b")
SHARDS = 4
LATENCY_MS = 200
MAX_CONCURRENCY = 1
FULL_SHARD_SIZE = 60_000
SMALL_SHARD_SIZE = 1_000
GOAL = 0.6
PAIRS = 3
COMMAND = ".venv/bin/python -m benchmarks.bench_celery_shards"


@dataclass
class ShardRun:
    """One run of the sharded DAG, as the REST API reports it."""

    state: str
    seconds: float
    shard_seconds: float
    #: The worker (hostname) of each shard's last try, by map index.
    shard_hosts: list[str] = field(default_factory=list)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def run_dag(
    stack: AirflowStack, run_id: str, *, shards: int, shard_size: int, work_dir: Path, timeout: float = 600
) -> ShardRun:
    """
    Trigger the sharded DAG, approve its plan, wait for it to finish, and read its times and workers.

    The run's wall time leaves out the approval: how long a person takes to answer is no property
    of the deployment.
    """
    conf = {"shards": shards, "shard_size": shard_size, "work_dir": str(work_dir)}
    stack.trigger(DAG_ID, run_id, conf=conf)
    stack.respond(DAG_ID, run_id, "approve_send", "Approve")
    state = stack.wait_for_run(DAG_ID, run_id, timeout)
    run = stack.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}")
    tis = stack.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
    shard_tis = sorted(
        (ti for ti in tis["task_instances"] if ti["task_id"] == "send_shard"), key=lambda ti: ti["map_index"]
    )
    approval = next(ti for ti in tis["task_instances"] if ti["task_id"] == "approve_send")
    return ShardRun(
        state=state,
        seconds=_seconds([run]) - _seconds([approval]),
        shard_seconds=_seconds(shard_tis),
        shard_hosts=[ti["hostname"] for ti in shard_tis],
    )


def _seconds(spans: list[dict[str, Any]]) -> float:
    """From the first ``start_date`` to the last ``end_date`` of ``spans`` (runs or task instances)."""
    starts = [_time(span["start_date"]) for span in spans if span["start_date"]]
    ends = [_time(span["end_date"]) for span in spans if span["end_date"]]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")


def run(shard_size: int = FULL_SHARD_SIZE) -> dict[str, Any]:
    """
    Start the deployment, run the DAG on two workers, stop one, run it again.

    :return: ``{"rows": [...], "checks": [...], "text": <the printed section>}``.
    """
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess
    from tests.e2e.airflow_stack import celery_stack

    ensure_airflow_home()
    root = Path(tempfile.mkdtemp(prefix="fullsms-bench-celery-"))
    try:
        dags = root / "dags"
        dags.mkdir()
        shutil.copy(EXAMPLE_DAGS / f"{DAG_ID}.py", dags)
        rows = []
        with SandboxProcess(balance=BIG_BALANCE, token=BENCH_TOKEN) as sandbox:
            connection = connection_json(sandbox.url, sandbox.token, max_concurrency=MAX_CONCURRENCY)
            env = {"AIRFLOW_CONN_FULLSMS_DEFAULT": connection}
            with celery_stack(root, dags, env, WORKERS) as stack:
                stack.wait_for_dag(DAG_ID)
                for pair in range(1, PAIRS + 1):
                    if pair > 1:
                        stack.start_worker(WORKERS[1])
                    # The first tasks on a fresh worker pay for its pool's imports: not what is measured.
                    fresh(sandbox)
                    run_dag(stack, f"warm_up_{pair}", shards=SHARDS, shard_size=10, work_dir=root)
                    for label, stopped in (("two workers", None), ("one worker", WORKERS[1])):
                        if stopped:
                            stack.stop_worker(stopped)
                        fresh(sandbox, latency_ms=LATENCY_MS)
                        run_id = f"{label.replace(' ', '_')}_{pair}"
                        result = run_dag(stack, run_id, shards=SHARDS, shard_size=shard_size, work_dir=root)
                        texts = Counter(message["to"] for message in sandbox.client.messages())
                        rows.append(
                            {
                                "pair": pair,
                                "label": label,
                                "run": result,
                                "phones": len(texts),
                                "max_per_phone": max(texts.values(), default=0),
                                "workers_used": len(set(result.shard_hosts)),
                            }
                        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return _section(rows, shard_size)


def _section(rows: list[dict[str, Any]], shard_size: int) -> dict[str, Any]:
    pairs = [(two["run"], one["run"]) for two, one in zip(rows[::2], rows[1::2], strict=True)]
    ratios = [two.seconds / one.seconds for two, one in pairs]
    shard_ratios = [two.shard_seconds / one.shard_seconds for two, one in pairs]
    ratio = statistics.median(ratios)
    expected = SHARDS * shard_size
    table = markdown_table(
        [
            "pair",
            "deployment",
            "DAG run s",
            "shard phase s",
            "workers used",
            "phones texted",
            "texts per phone",
        ],
        [
            (
                row["pair"],
                row["label"],
                f"{row['run'].seconds:.1f}",
                f"{row['run'].shard_seconds:.1f}",
                row["workers_used"],
                f"{row['phones']:,}",
                f"max {row['max_per_phone']}",
            )
            for row in rows
        ],
    )
    checks = [
        Check(
            "two workers / one worker, DAG run less its approval, median pair",
            f"{ratio:.2f}x",
            f"<= {GOAL}x",
            ratio <= GOAL,
        ),
        Check(
            "every phone texted once, every run",
            ", ".join(f"{r['phones']:,} x{r['max_per_phone']}" for r in rows),
            f"{expected:,} x1",
            all(r["phones"] == expected and r["max_per_phone"] == 1 for r in rows),
        ),
    ]
    body = (
        f"{SHARDS} shards of {shard_size:,} recipients, {LATENCY_MS} ms added to every send, "
        f"{MAX_CONCURRENCY} send in flight per task, workers of 2 slots each; {len(pairs)} alternating "
        f"pairs.\n\n{table}\n\n"
        f"Pair ratios (DAG run): {', '.join(f'{r:.2f}x' for r in ratios)} (median {ratio:.2f}x). "
        f"Shard phase ratios: {', '.join(f'{r:.2f}x' for r in shard_ratios)}."
    )
    command = COMMAND + ("" if shard_size == FULL_SHARD_SIZE else f" --shard-size {shard_size}")
    text = report("Shards across Celery workers: two workers against one", body, checks, command)
    return {"rows": rows, "checks": checks, "text": text}


def main(argv: list[str] | None = None) -> int:
    """Parse the size, run, print the section."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help=f"shards of {SMALL_SHARD_SIZE:,}")
    parser.add_argument("--shard-size", type=int, help=f"default {FULL_SHARD_SIZE:,}")
    args = parser.parse_args(argv)
    print(run(args.shard_size or (SMALL_SHARD_SIZE if args.small else FULL_SHARD_SIZE))["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
