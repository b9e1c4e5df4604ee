"""
Reliability report: a fault matrix of real DAG runs, a secret scan, and bad-input fuzzing.

1. **Fault matrix.** Every fault the sandbox can inject -- connection refused, 429 with
   Retry-After (FullSMS's JSON, or a proxy's HTML page), 503, 500, a proxy's 502 page echoing the
   request headers (token included), accept-then-drop, a read timeout -- on the first, a middle and the last
   batch of a 2,000-recipient campaign, with task ``retries`` 0 and 2. Each cell is a real
   ``dag.test()`` run of ``FullSmsSendToNumbersOperator`` (``max_concurrency=1``, so "the middle
   batch" is exact). 429 and 503 also run "x6": six answers in a row, more than the hook's own
   five attempts, so only Airflow's task retries can finish the campaign.
   Per cell: delivered (distinct audience numbers in the sandbox inbox), duplicates (a number
   texted twice), what the task reported -- sent, outcome unknown, not sent ("failed") -- and
   the task's final state.
   Targets: 0 duplicates everywhere; reported sent + unknown + failed = audience and
   sent <= delivered <= sent + unknown (nobody silently sent or lost); the transient faults
   (refuse, 429, 503) end with everyone delivered -- for "x6", with retries.
2. **Secret scan.** The matrix and every example DAG (plus a failure path) run with a
   distinctive API token; then every file under the run's ``AIRFLOW_HOME`` (task logs, the
   captured console output, the SQLite DB as raw bytes) and a text dump of every DB table
   (XCom, rendered template fields, task instances, ...) are searched for it. Target: 0 hits.
3. **Bad input.** Property checks of message analysis (hypothesis, against ``gsm0338``) and a
   schemathesis run of every operation of the sandbox's ``/openapi.json``, valid and invalid
   cases. Target: 0 failures (a property broken, or a 5xx from the sandbox).

The runs happen in a child process with its own throw-away ``AIRFLOW_HOME`` (Airflow reads its
configuration at import), so the parent only starts the sandbox, scans and prints.

Reproduce with::

    make reliability                                    # = .venv/bin/python -m benchmarks.reliability
    .venv/bin/python -m benchmarks.reliability --small  # a smoke version (under a minute)

The full report ends with the chaos suite's short form (``benchmarks/chaos.py``: Airflow's
api-server killed and restarted mid-campaign on a real stack); ``--no-chaos`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import (
    BIG_BALANCE,
    SEND_PATH,
    Check,
    connection_json,
    machine_table,
    markdown_table,
    report,
    verdict,
)
from benchmarks.reliability_scenarios import (
    SCENARIOS,
    judge_scenario,
    observed,
    run_scenario,
    scenario_table,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = ROOT / "example_dags"
COMMAND = ".venv/bin/python -m benchmarks.reliability"
#: The API token of every run: distinctive, so a hit in the scan can only be a leak.
TOKEN = "rel|tok-SECRET-r3liab1lity-9e2b"
#: The part of the token searched for: it survives JSON, URL and shell escaping unchanged.
TOKEN_CORE = "tok-SECRET-r3liab1lity-9e2b"
AUDIENCE = 2_000
SMALL_AUDIENCE = 1_000
MESSAGE = "Reliability matrix: your order has shipped."
DAG_ID = "fullsms_reliability_retries_{retries}"
READ_TIMEOUT = 1.0  # the connection's ``timeout`` extra in the read-timeout cells
SLOW_SECONDS = 3.0

DAG_FILE = '''
"""Reliability matrix: the same campaign with task retries 0 and 2, and a personalised one (generated)."""
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator


def _campaign(dag_id, message, **task_options):
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2025, 1, 1), catchup=False) as dag:
        FullSmsSendToNumbersOperator(
            task_id="send",
            numbers_file="{{ dag_run.conf['file'] }}",
            message=message,
            max_concurrency=1,
            **task_options,
        )
    return dag


for _retries in (0, 2):
    _dag_id = f"fullsms_reliability_retries_{_retries}"
    globals()[_dag_id] = _campaign(_dag_id, MESSAGE, retries=_retries, retry_delay=timedelta(0))

personalised = _campaign("fullsms_reliability_personalised", "Hello {name}, your order has shipped.")
'''.replace("MESSAGE", repr(MESSAGE))


@dataclass(frozen=True)
class Fault:
    """One row of the matrix: how to arm it, and whether it is transient (must end delivered)."""

    name: str
    kind: str
    fields: dict[str, Any]
    count: int = 1
    transient: bool = False
    #: Transient, but longer than the hook's own retries: only task retries finish the campaign.
    needs_task_retries: bool = False
    read_timeout: float | None = None


FAULTS = [
    Fault("connection refused (1 s)", "refuse", {"seconds": 1.0}, transient=True),
    Fault("429, Retry-After 1", "rate_limit", {"retry_after": 1}, transient=True),
    Fault("429 x6, Retry-After 1", "rate_limit", {"retry_after": 1}, count=6, needs_task_retries=True),
    Fault("429 HTML page, Retry-After 1", "rate_limit_html", {"retry_after": 1}, transient=True),
    Fault("503", "error", {"status": 503}, transient=True),
    Fault("503 x6", "error", {"status": 503}, count=6, needs_task_retries=True),
    Fault("500", "error", {"status": 500}),
    # The page quotes the token: the secret scan proves no summary, state store or log kept it.
    Fault("echoing proxy (502 page with the token)", "echo", {"status": 502}),
    Fault("accept, then drop", "drop", {}),
    Fault(
        f"read timeout ({READ_TIMEOUT:g} s < {SLOW_SECONDS:g} s)",
        "slow",
        {"seconds": SLOW_SECONDS},
        read_timeout=READ_TIMEOUT,
    ),
]
SMALL_FAULTS = [f for f in FAULTS if f.count == 1]


# -- the child: dag.test() runs -----------------------------------------------------------------


def _arm(client: Any, fault: Fault, position: int) -> None:
    """Arm ``fault`` so that it hits send number ``position`` (0-based) of the campaign."""
    if fault.kind == "refuse":
        # The window opens once `after` matching requests are answered. For the first batch that
        # is the sender check (the operator's last read before sending); otherwise the sends.
        if position == 0:
            client.inject_fault("refuse", path="/account/senderids", after=1, **fault.fields)
        else:
            client.inject_fault("refuse", path=SEND_PATH, after=position, **fault.fields)
        return
    client.inject_fault(fault.kind, path=SEND_PATH, after=position, count=fault.count, **fault.fields)


def _cell(
    dags: dict[int, Any], client: Any, fault: Fault, position: int, retries: int, file: str
) -> dict[str, Any]:
    """One ``dag.test()`` run with ``fault`` on batch ``position``; what the inbox and the task say."""
    client.reset()
    client.set_balance(BIG_BALANCE)
    conn_key = "AIRFLOW_CONN_FULLSMS_DEFAULT"
    normal = os.environ[conn_key]
    if fault.read_timeout is not None:
        os.environ[conn_key] = connection_json(client.url, client.token, timeout=fault.read_timeout)
    _arm(client, fault, position)
    started = time.monotonic()
    try:
        dag_run = dags[retries].test(run_conf={"file": file})
    finally:
        os.environ[conn_key] = normal
    seconds = time.monotonic() - started
    if fault.kind == "slow":
        time.sleep(SLOW_SECONDS)  # let the slow answer finish before the next cell resets the sandbox
    return {
        "fault": fault.name,
        "position": position,
        "retries": retries,
        **{k: v for k, v in observed(client, dag_run, seconds).items() if k != "received"},
    }


def _load_fault_dags(folder: Path) -> dict[Any, Any]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "fullsms_reliability_dags", folder / "reliability_matrix.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags: dict[Any, Any] = {retries: getattr(module, DAG_ID.format(retries=retries)) for retries in (0, 2)}
    dags["personalised"] = module.personalised
    return dags


def _approvals(dag: Any) -> str | None:
    """A pattern of the DAG's human-in-the-loop tasks (``ApprovalOperator`` and kin), or ``None``."""
    from airflow.providers.standard.operators.hitl import HITLOperator

    ids = [task.task_id for task in dag.tasks if isinstance(task, HITLOperator)]
    return "|".join(f"^{task_id}$" for task_id in ids) or None


def _examples(client: Any, work: Path) -> list[dict[str, Any]]:
    """Every example DAG once with a balance that pays, then the scheduled campaign with too little."""
    from airflow.dag_processing.dagbag import DagBag

    if not EXAMPLE_DAGS.is_dir():
        return []
    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    runs: list[dict[str, Any]] = [
        {"dag_id": path, "case": "import error", "state": "import error"} for path in bag.import_errors
    ]
    cases: list[tuple[str, str, float]] = [(dag_id, "normal", BIG_BALANCE) for dag_id in sorted(bag.dags)]
    if "fullsms_scheduled_campaign" in bag.dags:
        cases.append(("fullsms_scheduled_campaign", "balance too low (failure path)", 2.0))
    for dag_id, case, balance in cases:
        dag = bag.dags[dag_id]
        client.reset()
        client.set_balance(balance)
        conf = {"work_dir": str(work / "examples")} if "work_dir" in dag.params else {}
        started = time.monotonic()
        try:
            # dag.test() cannot answer a person's approval (HITL): those tasks are marked approved.
            dag_run = dag.test(run_conf=conf, mark_success_pattern=_approvals(dag))
            state = str(dag_run.state)
        except Exception as err:  # a crash is a result to report, not a reason to stop the report
            state = f"crashed: {type(err).__name__}"
        runs.append(
            {
                "dag_id": dag_id,
                "case": case,
                "state": state,
                "seconds": time.monotonic() - started,
                "messages": len(client.messages()),
            }
        )
    return runs


def child(result_path: str, small: bool) -> int:
    """Run the matrix and the example DAGs (in the environment the parent prepared); write JSON."""
    from airflow_provider_fullsms.sandbox.testing import SandboxClient

    conn = json.loads(os.environ["AIRFLOW_CONN_FULLSMS_DEFAULT"])
    client = SandboxClient(conn["host"], conn["password"])
    home = Path(os.environ["AIRFLOW_HOME"])
    size = SMALL_AUDIENCE if small else AUDIENCE
    audience = home / "audience.csv"
    audience.write_text("number\n" + "".join(f"{447700000000 + i}\n" for i in range(size)))
    batches = -(-size // 500)
    positions = [0, batches - 1] if small else [0, batches // 2, batches - 1]
    faults = SMALL_FAULTS if small else FAULTS
    retries_options = [2] if small else [0, 2]
    dags = _load_fault_dags(home / "reliability_dags")
    cells = []
    for fault in faults:
        for position in positions[:1] if small and fault.kind in ("slow", "refuse") else positions:
            for retries in retries_options:
                cells.append(_cell(dags, client, fault, position, retries, str(audience)))
                print(
                    f"RELIABILITY-CELL {json.dumps({k: v for k, v in cells[-1].items() if k != 'summary'})}"
                )
    scenarios = [run_scenario(dags, client, scenario, home, size) for scenario in SCENARIOS]
    # The smoke version skips them: tests/dags runs every example DAG already.
    examples = [] if small else _examples(client, home)
    Path(result_path).write_text(
        json.dumps(
            {
                "audience": size,
                "batches": batches,
                "cells": cells,
                "scenarios": scenarios,
                "examples": examples,
            }
        )
    )
    return 0


# -- the parent: prepare, run the child, judge, scan, fuzz ----------------------------------------


def judge(cell: dict[str, Any], audience: int) -> dict[str, Any]:
    """Add the reported figures and the verdicts of one cell."""
    fault = next(f for f in FAULTS if f.name == cell["fault"])
    summary = cell["summary"]
    if summary is not None:
        sent = int(summary["sent"])
        unknown = int(summary["unknown_recipients"])
        failed = int(summary["not_sent_recipients"])
    elif cell["state"] == "failed" and cell["delivered"] == 0:
        # Failed before the first send (e.g. the account checks): the failure covers everyone.
        sent, unknown, failed = 0, 0, audience
    else:
        sent = unknown = failed = -1  # nothing reported: the accounting check fails, as it should
    must_deliver = fault.transient or (fault.needs_task_retries and cell["retries"] > 0)
    checks = {
        "no duplicates": cell["duplicates"] == 0,
        "accounted": sent >= 0 and sent + unknown + failed == audience,
        "nobody silently sent or lost": sent >= 0 and sent <= cell["delivered"] <= sent + unknown,
        "transient ends delivered": (not must_deliver)
        or (cell["delivered"] == audience and cell["state"] == "success"),
    }
    return {**cell, "sent": sent, "unknown": unknown, "failed": failed, "checks": checks}


def fault_table(cells: list[dict[str, Any]], batches: int, audience: int) -> str:
    names = {0: "first", batches - 1: "last"}
    rows = []
    for c in cells:
        ok = all(c["checks"].values())
        rows.append(
            (
                c["fault"],
                f"{names.get(c['position'], 'middle')} (batch {c['position'] + 1}/{batches})",
                c["retries"],
                f"{c['delivered']:,}",
                c["duplicates"],
                f"{c['sent']:,}",
                f"{c['unknown']:,}",
                f"{c['failed']:,}",
                f"{audience - c['sent'] - c['unknown'] - c['failed']:,}" if c["sent"] >= 0 else "?",
                f"{c['state']} (try {c['tries']})",
                f"{c['seconds']:.1f}",
                "ok" if ok else "**FAIL: " + ", ".join(k for k, v in c["checks"].items() if not v) + "**",
            )
        )
    return markdown_table(
        [
            "fault",
            "hits",
            "task retries",
            "delivered",
            "duplicates",
            "reported sent",
            "reported unknown",
            "reported failed",
            "in no figure",
            "final task state",
            "s",
            "checks",
        ],
        rows,
        align="lllrrrrrrlrl",
    )


def _variants(token: str) -> list[bytes]:
    """The token as it could appear: raw, its distinctive core, URL-quoted, JSON-escaped."""
    forms = {token, TOKEN_CORE, urllib.parse.quote(token, safe=""), json.dumps(token)[1:-1]}
    return sorted({f.encode() for f in forms} | {f.encode("utf-16-le") for f in forms})


def scan(home: Path, token: str) -> list[dict[str, Any]]:
    """
    Search everything a run left behind for ``token``.

    Files are searched as raw bytes (the DB file too); the DB is also dumped table by table as
    text, so a value stored compressed-free but split across pages is still found row by row.
    """
    variants = _variants(token)
    sources: list[dict[str, Any]] = []
    files = [p for p in sorted(home.rglob("*")) if p.is_file()]
    groups: dict[str, list[Path]] = {}
    for path in files:
        rel = path.relative_to(home)
        group = (
            "task logs (logs/)"
            if rel.parts[0] == "logs"
            else "console output of the runs"
            if path.name == "console.log"
            else "SQLite DB files: .db, -wal, -shm (raw bytes)"
            if path.name.startswith("airflow.db")
            else "other files (config, DAGs, audience, example outputs)"
        )
        groups.setdefault(group, []).append(path)
    for group, paths in sorted(groups.items()):
        hits, size = [], 0
        for path in paths:
            data = path.read_bytes()
            size += len(data)
            if any(v in data for v in variants):
                hits.append(str(path.relative_to(home)))
        sources.append({"source": group, "items": f"{len(paths)} files", "bytes": size, "hits": hits})
    db = home / "airflow.db"
    if db.exists():
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            interesting = ("xcom", "rendered_task_instance_fields", "task_instance", "dag_run", "log")
            for table in sorted(tables, key=lambda t: (t not in interesting, t)):
                rows = connection.execute(f'SELECT * FROM "{table}"').fetchall()
                text = "\n".join(repr(r) for r in rows).encode("utf-8", "backslashreplace")
                hits = [f"{table}: {text.count(v)} x" for v in variants if v in text]
                if table in interesting or hits:
                    sources.append(
                        {
                            "source": f"DB table `{table}` (as text)",
                            "items": f"{len(rows)} rows",
                            "bytes": len(text),
                            "hits": hits,
                        }
                    )
                else:
                    other = next(
                        (s for s in sources if s["source"] == "DB: every other table (as text)"), None
                    )
                    if other is None:
                        other = {
                            "source": "DB: every other table (as text)",
                            "items": "0 rows",
                            "bytes": 0,
                            "hits": [],
                            "n": 0,
                        }
                        sources.append(other)
                    other["n"] += len(rows)
                    other["items"] = f"{other['n']} rows"
                    other["bytes"] += len(text)
        finally:
            connection.close()
    return sources


def positive_control() -> list[dict[str, Any]]:
    """
    Prove the scan finds what it looks for: plant the token (as a connection URI would carry it,
    URL-quoted) in a file and a SQLite row of a scratch folder, and scan that.
    """
    with tempfile.TemporaryDirectory(prefix="fullsms-scan-control-") as scratch:
        folder = Path(scratch)
        (folder / "logs").mkdir()
        (folder / "logs" / "planted.log").write_text(
            f"fullsms://:{urllib.parse.quote(TOKEN, safe='')}@host\n"
        )
        connection = sqlite3.connect(folder / "airflow.db")
        connection.execute("CREATE TABLE xcom (value BLOB)")
        connection.execute("INSERT INTO xcom VALUES (?)", (json.dumps({"token": TOKEN}).encode(),))
        connection.commit()
        connection.close()
        found = scan(folder, TOKEN)
    hits = sum(1 for s in found if s["hits"] and s["source"].startswith(("task logs", "DB table `xcom`")))
    return [
        {
            "source": "positive control: token planted in a scratch log file and XCom row (not counted)",
            "items": "2 plants",
            "bytes": 0,
            "hits": [],
            "control_found": hits,
        }
    ]


def properties(max_examples: int) -> list[dict[str, Any]]:
    """The message-analysis properties (as in ``tests/unit/test_sms_properties.py``), bounded and counted."""
    import gsm0338  # noqa: F401  -- registers the "gsm03.38" reference codec
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from airflow_provider_fullsms.sms import (
        GSM7,
        GSM7_BASIC_CHARACTERS,
        GSM7_EXTENSION_CHARACTERS,
        analyse_message,
    )
    from benchmarks.bench_message_analysis import codec_analysis

    gsm = GSM7_BASIC_CHARACTERS + GSM7_EXTENSION_CHARACTERS
    mixed = gsm + "`\tçПΩ\N{WAVING HAND SIGN}\N{GRINNING FACE}"
    texts = st.one_of(
        st.text(alphabet=gsm, max_size=700), st.text(alphabet=mixed, max_size=400), st.text(max_size=300)
    ).filter(lambda text: "\x1b" not in text)
    tried: Counter[str] = Counter()

    def units_at_least_characters(text: str) -> None:
        tried["GSM-7 text never counts fewer units than characters"] += 1
        analysis = analyse_message(text)
        assert analysis.encoding == GSM7
        assert analysis.units >= len(text)

    def appending_never_lowers_segments(text: str, char: str) -> None:
        tried["appending a character never lowers the segments"] += 1
        assert analyse_message(text + char).segments >= analyse_message(text).segments

    def agrees_with_gsm0338(text: str) -> None:
        tried["encoding and units agree with gsm0338"] += 1
        analysis = analyse_message(text)
        encoding, units, _ = codec_analysis(text)
        assert (analysis.encoding, analysis.units) == (encoding, units)

    checks: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = [
        (
            "GSM-7 text never counts fewer units than characters",
            units_at_least_characters,
            (st.text(alphabet=gsm, max_size=700),),
        ),
        (
            "appending a character never lowers the segments",
            appending_never_lowers_segments,
            (texts, st.characters(blacklist_characters="\x1b")),
        ),
        ("encoding and units agree with gsm0338", agrees_with_gsm0338, (texts,)),
    ]
    results = []
    for name, function, strategies in checks:
        bounded = settings(
            max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )(given(*strategies)(function))
        failure = ""
        try:
            bounded()
        except Exception as err:  # hypothesis re-raises the shrunk counterexample
            failure = f"{type(err).__name__}: {str(err)[:200]}"
        results.append(
            {"check": name, "cases": tried[name], "failures": 1 if failure else 0, "detail": failure}
        )
    return results


def fuzz_sandbox(url: str, token: str, max_examples: int) -> list[dict[str, Any]]:
    """Schemathesis cases for every operation of ``/openapi.json``, valid and invalid; 5xx are failures."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    # Armed faults answer 5xx on purpose (that is what they are for), so arming is left out.
    operations = [op for op in operations if not (op.method == "post" and op.path == "/_sandbox/faults")]
    headers = {"Authorization": f"Bearer {token}"}
    session = requests.Session()
    results = []
    # Filled by every generated case; emptied for each generation mode.
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        statuses.clear()
        failures.clear()
        kind = "valid" if mode is GenerationMode.POSITIVE else "invalid"
        for operation in operations:

            @settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                response = case.call(base_url=url, session=session, headers=headers, timeout=10)
                statuses[response.status_code // 100 * 100] += 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.path} -> {response.status_code}")

            try:
                check()
            except Exception as err:  # a crash of the generator is a failure to report, not to hide
                failures.append(
                    f"{operation.method.upper()} {operation.path}: {type(err).__name__}: {err}"[:200]
                )
        results.append(
            {
                "check": f"sandbox OpenAPI, {kind} cases ({len(operations)} operations)",
                "cases": sum(statuses.values()),
                "failures": len(failures),
                "detail": ", ".join(f"{k // 100}xx: {v}" for k, v in sorted(statuses.items()))
                + (f"; {failures[:3]}" if failures else ""),
            }
        )
    session.close()
    return results


def _child_env(home: Path, sandbox_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    bundles = [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(EXAMPLE_DAGS)},
        },
        {
            "name": "fullsms-reliability",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(home / "reliability_dags")},
        },
    ]
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW_CONN_FULLSMS_DEFAULT": connection_json(sandbox_url, TOKEN),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        }
    )
    return env


def run(small: bool = False, *, keep: bool = False) -> dict[str, Any]:
    """
    The whole report: matrix and examples in a child process, then the scan and the fuzzing.

    :param small: the smoke version (fewer cells, fewer examples, no example DAGs).
    :param keep: leave the run's AIRFLOW_HOME on disk (its path is printed).
    :return: ``{"cells", "examples", "scan", "bad_input", "checks", "text"}``.
    """
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    home = Path(tempfile.mkdtemp(prefix="fullsms-reliability-"))
    started = time.monotonic()
    try:
        (home / "reliability_dags").mkdir()
        (home / "reliability_dags" / "reliability_matrix.py").write_text(DAG_FILE)
        with SandboxProcess(balance=BIG_BALANCE, token=TOKEN) as sandbox:
            env = _child_env(home, sandbox.url)
            subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=env,
                check=True,
                capture_output=True,
                timeout=300,
                cwd=home,
            )
            result_path = home / "result.json"
            args = [sys.executable, "-m", "benchmarks.reliability", "--child", str(result_path)]
            with (home / "console.log").open("wb") as console:
                done = subprocess.run(
                    [*args, *(["--small"] if small else [])],
                    env=env,
                    stdout=console,
                    stderr=subprocess.STDOUT,
                    timeout=1800,
                    check=False,
                    cwd=ROOT,
                )
            if done.returncode != 0 or not result_path.exists():
                tail = (
                    (home / "console.log").read_text(errors="replace")[-4000:].replace(TOKEN_CORE, "<TOKEN>")
                )
                raise RuntimeError(f"the reliability child failed ({done.returncode}):\n{tail}")
            data = json.loads(result_path.read_text())
            sandbox.client.reset()
            bad_input = properties(100 if small else 1000) + fuzz_sandbox(
                sandbox.url, sandbox.token, 3 if small else 30
            )
        secret = scan(home, TOKEN) + positive_control()
    finally:
        if keep:
            print(f"(run kept in {home})")
        else:
            shutil.rmtree(home, ignore_errors=True)
    seconds = time.monotonic() - started
    audience, batches = data["audience"], data["batches"]
    cells = [judge(cell, audience) for cell in data["cells"]]
    scenarios = [judge_scenario(cell) for cell in data["scenarios"]]
    examples = data["examples"]
    return _render(cells, scenarios, examples, secret, bad_input, audience, batches, small, seconds)


def _render(
    cells: list[dict[str, Any]],
    scenarios: list[dict[str, Any]],
    examples: list[dict[str, Any]],
    secret: list[dict[str, Any]],
    bad_input: list[dict[str, Any]],
    audience: int,
    batches: int,
    small: bool,
    seconds: float,
) -> dict[str, Any]:
    def failing(check: str) -> list[dict[str, Any]]:
        return [c for c in cells if not c["checks"][check]]

    secret_hits = sum(len(s["hits"]) for s in secret)
    control = next((s["control_found"] for s in secret if "control_found" in s), 0)
    bad_failures = sum(r["failures"] for r in bad_input)
    checks = [
        Check(
            "duplicates, every cell",
            str(sum(c["duplicates"] for c in cells)),
            "= 0",
            not failing("no duplicates"),
        ),
        Check(
            "sent + unknown + failed = audience, every cell",
            f"{len(cells) - len(failing('accounted'))}/{len(cells)} cells",
            "all",
            not failing("accounted"),
        ),
        Check(
            "sent <= delivered <= sent + unknown, every cell",
            f"{len(cells) - len(failing('nobody silently sent or lost'))}/{len(cells)} cells",
            "all",
            not failing("nobody silently sent or lost"),
        ),
        Check(
            "transient faults end with everyone delivered",
            f"{len(cells) - len(failing('transient ends delivered'))}/{len(cells)} cells",
            "all",
            not failing("transient ends delivered"),
        ),
        Check(
            "scenarios as expected, 0 duplicates, 0 texted outside the audience",
            f"{sum(all(c['checks'].values()) for c in scenarios)}/{len(scenarios)}",
            f"{len(scenarios)}/{len(scenarios)}",
            all(all(c["checks"].values()) for c in scenarios),
        ),
        Check("secret scan hits", str(secret_hits), "= 0", secret_hits == 0),
        Check("secret scan finds planted tokens (control)", f"{control}/2", "2/2", control == 2),
        Check("bad-input failures", str(bad_failures), "= 0", bad_failures == 0),
    ]
    if examples:
        crashed = [e for e in examples if e["state"].startswith(("crashed", "import"))]
        checks.append(Check("example DAG runs that crashed", str(len(crashed)), "= 0", not crashed))
    matrix = fault_table(cells, batches, audience)
    secret_table = markdown_table(
        ["searched", "items", "bytes", "hits"],
        [
            (
                s["source"],
                s["items"],
                f"{s['bytes']:,}",
                f"found {s['control_found']}/2" if "control_found" in s else (", ".join(s["hits"]) or "0"),
            )
            for s in secret
        ],
        align="lrrl",
    )
    bad_table = markdown_table(
        ["check", "cases tried", "failures", "detail"],
        [(r["check"], f"{r['cases']:,}", r["failures"], r["detail"] or "") for r in bad_input],
        align="lrrl",
    )
    parts = [
        f"### Fault matrix: {audience:,} recipients in {batches} batches of 500, `dag.test()` per cell",
        "",
        matrix,
        "",
        "*delivered*: distinct audience numbers in the sandbox inbox; *duplicates*: extra copies of a text "
        "to one number; *reported*: the task's summary (its return value, or the `fullsms_summary` XCom it "
        "pushes when it fails). A batch whose outcome is unknown (500, drop, read timeout) may have been "
        "delivered: FullSMS handled it; the task names it and never resends it, so delivered lies between "
        "*sent* and *sent + unknown*. *in no figure*: audience - sent - unknown - failed, recipients the "
        "summary does not account for (batches never attempted after the run stopped).",
        "",
        "### Scenarios: refused phones, an outage, a person settling, housekeeping, a changed file",
        "",
        scenario_table(scenarios),
        "",
        "*refused by FullSMS*: phones it answered `422 to_numbers.N` for (the rest of their batch is "
        "sent at once). The outage stops after 3 outcomes unknown in a row. Settling: the first run "
        "fails naming two unknown batches (one went out, its connection dropped; one got a 500); the "
        "`fullsms.decision.<index>` keys say `sent` and `resend`, and the same run cleared and run "
        "again finishes with every phone texted once. A 'resend' lost again: the resend's answer is "
        "dropped too; clearing again sends nothing and asks for a new decision, which finishes it. "
        "Clean-up: `airflow state-store clean` run 400 days later (past the default 30-day retention) "
        "leaves the ledger, so the cleared task texts nobody again. A rewritten file: the audience "
        "file is overwritten in place with other phones while the campaign sends; no batch that "
        "differs from what the checks saw goes out (*texted outside the audience* stays 0). *task "
        "state, run by run*: the first run, then each run after a person's decision or a clear.",
        "",
    ]
    if examples:
        parts += [
            "### Example DAGs run for the secret scan",
            "",
            markdown_table(
                ["DAG", "case", "final state", "messages in the inbox", "s"],
                [
                    (e["dag_id"], e["case"], e["state"], e.get("messages", ""), f"{e.get('seconds', 0):.1f}")
                    for e in examples
                ],
                align="lllrr",
            ),
            "",
        ]
    parts += [
        f"### Secret scan: the API token in everything {len(cells) + len(scenarios) + len(examples)} DAG "
        "runs left behind",
        "",
        secret_table,
        "",
        "### Bad input",
        "",
        bad_table,
        "",
    ]
    body = "\n".join(parts)
    command = COMMAND + (" --small" if small else "")
    text = report(
        f"Reliability report ({'small' if small else 'full'}, {seconds:.0f} s)",
        body,
        checks,
        command,
        machine_table(),
    )
    return {
        "cells": cells,
        "scenarios": scenarios,
        "examples": examples,
        "scan": secret,
        "bad_input": bad_input,
        "checks": checks,
        "text": text,
    }


def with_chaos(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the chaos suite's short form (two api-server restarts on a real stack) added."""
    from benchmarks import chaos

    part = chaos.run(short=True)
    return {
        **result,
        "chaos": part["rows"],
        "checks": [*result["checks"], *part["checks"]],
        "text": f"{result['text']}\n{part['text']}",
    }


def main(argv: list[str] | None = None) -> int:
    """Run the report and print it (``--child`` is the internal half that runs the DAGs)."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="a smoke version (under a minute)")
    parser.add_argument("--keep", action="store_true", help="keep the run's AIRFLOW_HOME for inspection")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--no-chaos", action="store_true", help="skip the chaos short form (benchmarks/chaos.py)"
    )
    parser.add_argument("--child", metavar="RESULT_JSON", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.small)
    result = run(args.small, keep=args.keep)
    if not (args.small or args.no_chaos):
        result = with_chaos(result)
    print(result["text"])
    print(verdict(result["checks"]))
    return 1 if (args.strict and not all(c.passed for c in result["checks"])) else 0


if __name__ == "__main__":
    raise SystemExit(main())
