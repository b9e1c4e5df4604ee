"""
The reliability report's scenarios: stories that concern some recipients, or a person, or Airflow's
housekeeping, each a real ``dag.test()`` run (then ``airflow tasks test`` runs of the same run, as
after clearing the task) against the sandbox.

- a phone FullSMS refuses, in a personalised campaign and inside a 500-number batch;
- an outage (FullSMS answers 500 to everything): the campaign stops after a few requests;
- a person settling two unknown batches, one "it was sent" and one "send it again";
- a "send it again" whose answer is lost too: the next clear asks for a new decision instead of
  sending the batch a third time;
- ``airflow state-store clean`` run past the state store's default retention (``faketime``), then
  the task cleared: the ledger is still there, nobody is texted again;
- the audience file rewritten in place while the campaign is sending: no batch that differs from
  what the checks saw goes out.

Each run's verdicts: nobody texted twice (beyond what a person asked), everyone reported in one
figure, the expected end, and nobody texted who was not in the audience that was checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import EVERY_REQUEST, SEND_PATH, markdown_table

#: The number of the first audience phone; the rewritten file's phones start at STRANGERS.
FIRST_PHONE = 447700000000
STRANGERS = 447800000000
PERSONALISED_SIZE = 20
#: How long the sandbox holds the answer that lets the audience file be rewritten mid-send.
REWRITE_HOLD_SECONDS = 2.0


@dataclass(frozen=True)
class Scenario:
    """
    A row of the scenarios table.

    :param story: what happens (one of the keys of :data:`_STORIES`).
    :param expect: what the final run must show: ``state``, ``missing`` (audience phones never
        texted), ``invalid`` (numbers FullSMS refused), ``max_send_requests``, ``decisions`` (a
        person's decisions in all).
    :param size: recipients; default: the matrix's audience.
    """

    name: str
    story: str
    expect: dict[str, Any]
    personalised: bool = False
    size: int | None = None
    runs: tuple[str, ...] = field(default=())


SCENARIOS = [
    Scenario(
        "a refused phone in a personalised campaign (one text each)",
        "refused phone",
        {"state": "success", "missing": 1, "invalid": 1},
        personalised=True,
        size=PERSONALISED_SIZE,
    ),
    Scenario(
        "422 naming 2 numbers inside a 500-number batch",
        "refused phones in a batch",
        {"state": "success", "missing": 2, "invalid": 2},
    ),
    Scenario(
        "FullSMS answers 500 to everything",
        "outage",
        {"state": "failed", "missing": 2_000, "max_send_requests": 4},
        size=2_000,
    ),
    Scenario(
        "2 unknown batches settled by a person: one 'sent', one 'resend'",
        "settled",
        {"state": "success", "missing": 0, "invalid": 0, "max_send_requests": 5},
        size=2_000,
    ),
    Scenario(
        "a 'resend' whose answer is lost again asks for a new decision",
        "resend lost twice",
        {"state": "success", "missing": 0, "invalid": 0, "max_send_requests": 5},
        size=2_000,
    ),
    Scenario(
        "the task cleared after `airflow state-store clean` 400 days later",
        "clean-up",
        {"state": "success", "missing": 0, "invalid": 0, "max_send_requests": 4},
        size=2_000,
    ),
    Scenario(
        "the audience file rewritten in place mid-send",
        "file rewritten",
        {"state": "failed"},
        size=10_000,
    ),
]


# -- the child: the runs ------------------------------------------------------------------------


def task_outcome(dag_id: str, run_id: str) -> tuple[str, int, dict[str, Any] | None]:
    """The send task's final state, its try number, and its summary (return value, else the failure XCom)."""
    from airflow import settings
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    assert settings.Session is not None
    with settings.Session() as session:
        ti = session.scalar(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        )
        rows = session.execute(
            select(XComModel.key, XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == "send",
                # The summary; not the extra link Airflow keeps beside it (a plain string).
                XComModel.key.in_(("return_value", "fullsms_summary")),
            )
        ).all()
    values = {key: (json.loads(value) if isinstance(value, str) else value) for key, value in rows}
    summary = values.get("return_value") or values.get("fullsms_summary")
    if ti is None:
        return "missing", 0, summary
    return str(ti.state), int(ti.try_number), summary


def observed(client: Any, dag_run: Any, seconds: float) -> dict[str, Any]:
    """What a run came to: the send task's state, tries and summary, and what the inbox received."""
    state, tries, summary = task_outcome(dag_run.dag_id, dag_run.run_id)
    received = Counter(m["to"] for m in client.messages())
    return {
        "state": state,
        "tries": tries,
        "seconds": seconds,
        "delivered": len(received),
        "duplicates": sum(c - 1 for c in received.values()),
        "received": sorted(received),
        "summary": summary,
        "send_requests": client.requests_count(SEND_PATH),
    }


def _unknown_batches(summary: dict[str, Any] | None) -> list[int]:
    return [u["index"] for u in (summary or {}).get("batches", {}).get("unknown", [])]


def _settle(dag_run: Any, decisions: dict[int, str]) -> None:
    """Record a person's decisions in the send task's state store, as Airflow's REST API writes them."""
    from airflow._shared.state import TaskScope
    from airflow.state.metastore import _get_db_backend

    scope = TaskScope(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id="send", map_index=-1)
    for index, decision in decisions.items():
        _get_db_backend().set(scope, f"fullsms.decision.{index}", json.dumps(decision))


def _run_again(dag: Any, dag_run: Any) -> str:
    """
    Run the send task of ``dag_run`` again in this process, as after clearing it; its state after.

    Not ``dag.test()``: it replaces a run with the same id, and the task state store goes with
    the run it belongs to. ``airflow tasks test`` runs the task of the existing run.
    """
    from airflow.cli.cli_parser import get_parser
    from airflow.cli.commands.task_command import task_test

    task_test(get_parser().parse_args(["tasks", "test", dag_run.dag_id, "send", dag_run.run_id]), dag=dag)
    return task_outcome(dag_run.dag_id, dag_run.run_id)[0]


def _clean_state_store_later(days: int) -> str:
    """``airflow state-store clean`` with the clock ``days`` ahead (Debian's ``faketime``); its output."""
    faketime = shutil.which("faketime")
    if faketime is None:
        raise RuntimeError("faketime is missing: install Debian's faketime package (make debian-packages)")
    done = subprocess.run(
        [faketime, "-f", f"+{days}d", sys.executable, "-m", "airflow", "state-store", "clean"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return (done.stdout + done.stderr).strip()[-300:]


def _rewrite_when_sending(client: Any, audience: Path, size: int, after: int) -> threading.Thread:
    """
    Rewrite ``audience`` in place with other phones once ``after`` send requests reached FullSMS.

    In place, as an export job overwriting its file: the campaign's open file sees the new rows
    from where it is reading on. The sandbox holds the answer to request ``after`` so the rewrite
    lands while the campaign is sending.
    """
    client.inject_fault("slow", path=SEND_PATH, after=after - 1, count=1, seconds=REWRITE_HOLD_SECONDS)

    def rewrite() -> None:
        deadline = time.monotonic() + 120
        while client.requests_count(SEND_PATH) < after and time.monotonic() < deadline:
            time.sleep(0.05)
        with audience.open("r+") as file:
            file.write("number\n" + "".join(f"{STRANGERS + i}\n" for i in range(size)))

    thread = threading.Thread(target=rewrite, name="rewrite-audience", daemon=True)
    thread.start()
    return thread


def run_scenario(
    dags: dict[Any, Any], client: Any, scenario: Scenario, home: Path, size: int
) -> dict[str, Any]:
    """One scenario: arm it, run the DAG, then as a person or Airflow's housekeeping would, run it again."""
    client.reset()
    client.set_balance(10**9)
    size = scenario.size or size
    numbers = [str(FIRST_PHONE + i) for i in range(size)]
    audience = home / f"scenario-{SCENARIOS.index(scenario)}.csv"
    if scenario.personalised:
        audience.write_text("number,name\n" + "".join(f"{n},Person {i}\n" for i, n in enumerate(numbers)))
    else:
        audience.write_text("number\n" + "".join(f"{n}\n" for n in numbers))
    dag = dags["personalised"] if scenario.personalised else dags[0]
    story, runs, decisions = scenario.story, [], 0
    rewriter = None
    if story == "refused phone":
        client.set_unreachable([numbers[7]])
    elif story == "refused phones in a batch":
        client.set_unreachable([numbers[600], numbers[900]])
    elif story == "outage":
        client.inject_fault("error", path=SEND_PATH, count=EVERY_REQUEST, status=500)
    elif story == "settled":
        # Batch 1 is processed, then its connection dropped (it went out); batch 2 gets a 500 (it did not).
        client.inject_fault("drop", path=SEND_PATH, after=1, count=1)
        client.inject_fault("error", path=SEND_PATH, after=2, count=1, status=500)
    elif story == "resend lost twice":
        # Batch 1 gets a 500 (FullSMS did not send it); its resend is processed, then dropped.
        client.inject_fault("error", path=SEND_PATH, after=1, count=1, status=500)
        client.inject_fault("drop", path=SEND_PATH, after=4, count=1)
    elif story == "file rewritten":
        rewriter = _rewrite_when_sending(client, audience, size, after=2)
    started = time.monotonic()
    dag_run = dag.test(run_conf={"file": str(audience)})
    first_state, _, first = task_outcome(dag_run.dag_id, dag_run.run_id)
    runs.append(first_state)
    if rewriter is not None:
        rewriter.join(timeout=130)
    if story == "settled":
        _settle(dag_run, dict(zip(_unknown_batches(first), ("sent", "resend"), strict=False)))
        decisions += 2
        runs.append(_run_again(dag, dag_run))
    elif story == "resend lost twice":
        lost = _unknown_batches(first)
        _settle(dag_run, dict.fromkeys(lost, "resend"))  # a person checked: it did not go out
        runs.append(_run_again(dag, dag_run))  # the resend goes out; its answer is lost
        runs.append(_run_again(dag, dag_run))  # cleared again without a new decision: nothing sent
        _settle(dag_run, dict.fromkeys(lost, "sent"))  # a person checked again: it went out
        decisions += 2 * len(lost)
        runs.append(_run_again(dag, dag_run))
    elif story == "clean-up":
        _clean_state_store_later(days=400)
        runs.append(_run_again(dag, dag_run))
    result = observed(client, dag_run, time.monotonic() - started)
    audience_phones = set(numbers)
    return {
        "scenario": scenario.name,
        "audience": size,
        **{k: v for k, v in result.items() if k != "received"},
        "strangers": sum(1 for phone in result["received"] if phone not in audience_phones),
        "runs": runs,
        "decisions": decisions,
        "first_try": {"state": first_state, "unknown_batches": len(_unknown_batches(first))},
    }


# -- the parent: verdicts and the table ---------------------------------------------------------


def judge_scenario(cell: dict[str, Any]) -> dict[str, Any]:
    """Add the reported figures and the verdicts of one scenario."""
    scenario = next(s for s in SCENARIOS if s.name == cell["scenario"])
    expect, audience, summary = scenario.expect, cell["audience"], cell["summary"] or {}
    sent = int(summary.get("sent", -1))
    unknown = int(summary.get("unknown_recipients", 0))
    failed = int(summary.get("not_sent_recipients", 0))
    invalid = int(summary.get("invalid", {}).get("rejected_by_fullsms", 0))
    checks = {
        "no duplicates": cell["duplicates"] == 0,
        "nobody outside the checked audience": cell["strangers"] == 0,
        "expected end": cell["state"] == expect["state"],
        "requests bounded": cell["send_requests"] <= expect.get("max_send_requests", cell["send_requests"]),
    }
    if "missing" in expect:
        checks["accounted"] = sent >= 0 and sent + invalid + unknown + failed == audience
        checks["expected end"] &= cell["delivered"] == audience - expect["missing"]
        checks["refused ones reported"] = invalid == expect.get("invalid", invalid)
    else:
        # The campaign stopped when its audience changed: what went out is what was reported sent.
        checks["accounted"] = sent >= 0 and sent == cell["delivered"]
    return {**cell, "sent": sent, "invalid": invalid, "unknown": unknown, "failed": failed, "checks": checks}


def scenario_table(cells: list[dict[str, Any]]) -> str:
    rows = [
        (
            c["scenario"],
            f"{c['audience']:,}",
            f"{c['delivered']:,}",
            c["duplicates"],
            c["strangers"],
            f"{c['sent']:,}",
            f"{c['invalid']:,}",
            f"{c['unknown']:,}",
            f"{c['failed']:,}",
            c["send_requests"],
            " → ".join(c["runs"]),
            c["decisions"],
            f"{c['seconds']:.1f}",
            "ok"
            if all(c["checks"].values())
            else "**FAIL: " + ", ".join(k for k, v in c["checks"].items() if not v) + "**",
        )
        for c in cells
    ]
    return markdown_table(
        [
            "scenario",
            "recipients",
            "delivered",
            "duplicates",
            "texted outside the audience",
            "reported sent",
            "refused by FullSMS",
            "reported unknown",
            "reported failed",
            "send requests",
            "task state, run by run",
            "decisions",
            "s",
            "checks",
        ],
        rows,
        align="lrrrrrrrrrlrrl",
    )
