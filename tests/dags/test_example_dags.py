"""
The example DAGs: they parse cleanly and fast, and each runs end to end (``dag.test()``) against the
sandbox, texting exactly the people its story says, once each.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxClient
from airflow_provider_fullsms.sms import InvalidNumberError, normalise_number
from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS
from tests.dags.conftest import EXAMPLE_DAGS
from tests.versions import dag_bag, needs_airflow_3, needs_airflow_3_1

DAG_IDS = {
    "fullsms_crm_to_sms",
    "fullsms_scheduled_campaign",
    "fullsms_balance_gated_batches",
    "fullsms_campaign_report",
    "fullsms_send_on_top_up",
}
#: The example DAGs that need a newer Airflow than the installed one, and what they need: before it
#: they fail to parse, naming it (AirflowTooOldError), and nothing else does.
TOO_NEW = {
    dag_id: needs
    for dag_id, needs, installed in [
        (
            "fullsms_send_on_top_up",
            "An asset watcher (event-driven scheduling, FullSmsBalanceTopUpTrigger) needs Airflow 3.0",
            AIRFLOW_V_3_0_PLUS,
        ),
        (
            "fullsms_balance_gated_batches",
            "Human-in-the-loop approval (ApprovalOperator) needs Airflow 3.1",
            AIRFLOW_V_3_1_PLUS,
        ),
    ]
    if not installed
}
PARSED = DAG_IDS - set(TOO_NEW)
HITL = needs_airflow_3_1("Human-in-the-loop approval (ApprovalOperator), which this DAG uses")
WATCHER = needs_airflow_3("asset watchers (event-driven scheduling), which this DAG is scheduled by")
CRM_EXPORT = EXAMPLE_DAGS / "data" / "crm_contacts.csv"
WAITING_LIST = EXAMPLE_DAGS / "data" / "waiting_list.csv"
ONCALL = "447700900999"
LIST_7 = {"447700900001", "447700900002", "447700900003"}

# Run in a fresh interpreter, so every module is imported for the first time and every warning an
# import emits is seen (in this process, Airflow was imported long ago).
_IMPORT_PROBE = """
import glob, importlib.util, json, sys, time, warnings

results = {"warnings": [], "seconds": {}}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    # what the DAG processor has loaded before it parses a file (the Task SDK; airflow.models on 2.11)
    from airflow.providers.common.compat.sdk import DAG
    results["errors"] = {}
    for path in sorted(glob.glob(sys.argv[1] + "/*.py")):
        name = path.rsplit("/", 1)[-1]
        started = time.perf_counter()
        spec = importlib.util.spec_from_file_location("example_" + name[:-3], path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            results["errors"][name] = f"{type(error).__name__}: {error}"
            continue
        results["seconds"][name] = time.perf_counter() - started
results["warnings"] = [
    {"category": w.category.__name__, "bases": [c.__name__ for c in w.category.__mro__],
     "filename": w.filename, "message": str(w.message)[:300]}
    for w in caught
]
print(json.dumps(results))
"""


def expected_crm_audience() -> tuple[dict[str, dict[str, str]], set[str], int]:
    """Worked out independently of the DAG: who must be texted (first record wins), who opted out."""
    with CRM_EXPORT.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    opted_out: set[str] = set()
    first: dict[str, dict[str, str]] = {}
    invalid = 0
    for row in rows:
        try:
            number = normalise_number(row["phone"])
        except InvalidNumberError:
            invalid += 1
            continue
        if row["opted_out"] == "true":
            opted_out.add(number)
        first.setdefault(number, row)
    return {n: row for n, row in first.items() if n not in opted_out}, opted_out, invalid


class TopUpAfterChecks(threading.Thread):
    """Top the balance up once the sensor has read it ``checks`` times: waiting is then certain."""

    def __init__(self, client: SandboxClient, balance: float, checks: int) -> None:
        super().__init__(daemon=True)
        self.client, self.balance, self.checks = client, balance, checks
        self.stop = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            if self.client.requests_count("/account/balance") >= self.checks:
                self.client.set_balance(self.balance)
                self.done.set()
                return


# -- parsing ------------------------------------------------------------------------------------


def test_every_example_dag_imports_without_errors(dagbag: Any) -> None:
    # A DAG using what the installed Airflow lacks fails to parse, naming the version it needs.
    assert set(dagbag.import_errors) == {str(EXAMPLE_DAGS / f"{dag_id}.py") for dag_id in TOO_NEW}
    for dag_id, needs in TOO_NEW.items():
        assert f"AirflowTooOldError: {needs}" in dagbag.import_errors[str(EXAMPLE_DAGS / f"{dag_id}.py")]
    assert set(dagbag.dag_ids) == PARSED
    for dag_id in PARSED:
        dag = dagbag.dags[dag_id]
        assert "fullsms" in dag.tags
        assert dag.doc_md, f"{dag_id} explains its story in doc_md"


def test_example_dags_import_without_deprecation_warnings_and_parse_fast(airflow_db: None) -> None:
    # With the metadata database: Airflow 2.11 reads it to parse a DAG scheduled on a dataset alias.
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, str(EXAMPLE_DAGS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    for name, seconds in sorted(probe["seconds"].items()):
        print(f"parse {name}: {seconds * 1000:.1f} ms")
    assert set(probe["seconds"]) == {f"{dag_id}.py" for dag_id in PARSED}
    assert set(probe["errors"]) == {f"{dag_id}.py" for dag_id in TOO_NEW}
    for dag_id, needs in TOO_NEW.items():
        assert probe["errors"][f"{dag_id}.py"].startswith(f"AirflowTooOldError: {needs}")
    deprecations = [
        w
        for w in probe["warnings"]
        if {"DeprecationWarning", "PendingDeprecationWarning", "FutureWarning"} & set(w["bases"])
        or "RemovedInAirflow" in w["category"]
    ]
    assert deprecations == []
    ours = [w for w in probe["warnings"] if "example_dags" in w["filename"] or "fullsms" in w["filename"]]
    assert ours == []


# -- fullsms_crm_to_sms -------------------------------------------------------------------------


def test_crm_to_sms_texts_every_reachable_contact_once_by_first_name(
    dagbag: Any, sandbox_conn: SandboxClient, airflow_db: None, work_dir: str, dag_results: Any
) -> None:
    sandbox_conn.set_balance(500)
    expected, opted_out, invalid = expected_crm_audience()

    run = dagbag.dags["fullsms_crm_to_sms"].test(run_conf={"work_dir": work_dir})

    assert run.state == "success"
    messages = sandbox_conn.messages()
    per_number = Counter(m["to"] for m in messages)
    assert set(per_number) == set(expected)
    assert max(per_number.values()) == 1  # nobody twice, duplicates in the export included
    assert not opted_out & set(per_number)  # opted out under any record: nothing
    texts = {m["to"]: m["text"] for m in messages}
    for number, row in list(expected.items())[:50]:
        assert texts[number].startswith(f"Hi {row['first_name']}, ")
    # Row C100001 of the export: Yusuf, segment "regular", phone "972542412352".
    assert texts["972542412352"] == (
        "Hi Yusuf, our spring sale is on: 20% off everything at Coperato until Sunday. Reply STOP to opt out."
    )
    # Names outside GSM-7 make the whole text UCS-2: two segments, and priced as two.
    ucs2 = [m for m in messages if m["encoding"] == "UCS-2"]
    assert ucs2
    assert {m["segments"] for m in ucs2} == {2}

    results = dag_results(run)
    summary = results["publish_summary"]
    assert summary["texted"] == len(expected)
    assert summary["dropped"]["invalid"] == invalid
    assert "unknown" in summary["invalid_examples"]  # invalid numbers are named, not just counted
    assert summary["dropped"]["opted_out"] > 0
    assert summary["dropped"]["duplicates"] > 0
    segments = sum(m["segments"] for m in messages)
    assert summary["segments"] == segments
    plan = results["plan_campaign"]
    assert (plan["recipients"], plan["segments"]) == (len(expected), segments)
    # The connection keeps no minimum balance back: the balance to wait for is the cost.
    assert plan["required_balance"] == plan["estimated_cost"] == pytest.approx(segments * 0.05)
    assert summary["spent"] == pytest.approx(plan["estimated_cost"])
    assert results["send_campaign"]["fingerprint"] == plan["fingerprint"]
    assert summary["balance_after"] == pytest.approx(sandbox_conn.balance())
    # The audience went through a file: no XCom holds a phone number of a recipient.
    assert not any(number in json.dumps(results) for number in list(expected)[:200])


# -- fullsms_scheduled_campaign -----------------------------------------------------------------


def test_scheduled_campaign_schedules_list_7_three_hours_after_the_run_is_due(
    dagbag: Any, sandbox_conn: SandboxClient, airflow_db: None
) -> None:
    run = dagbag.dags["fullsms_scheduled_campaign"].test()

    assert run.state == "success"
    messages = sandbox_conn.messages()
    assert Counter(m["to"] for m in messages) == dict.fromkeys(LIST_7, 1)
    expected_send_at = (run.data_interval_end + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S")
    assert {(m["status"], m["send_at"]) for m in messages} == {("scheduled", expected_send_at)}
    assert {m["text"] for m in messages} == {
        "Coperato this week: 2-for-1 on every coffee from Monday to Wednesday, and live music on "
        "Friday. Reply STOP to opt out."
    }
    assert sandbox_conn.messages(to=ONCALL) == []


def test_scheduled_campaign_texts_the_oncall_and_sends_nothing_when_the_balance_is_low(
    dagbag: Any, sandbox_conn: SandboxClient, airflow_db: None
) -> None:
    sandbox_conn.set_balance(2)

    run = dagbag.dags["fullsms_scheduled_campaign"].test()

    assert run.state == "failed"
    tis = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert tis == {"check_balance": "failed", "send_weekly_campaign": "upstream_failed"}
    alerts = sandbox_conn.messages(to=ONCALL)
    assert len(alerts) == 1  # a balance below the minimum fails at once: no retries, one alert
    assert alerts[0]["text"].startswith("FullSMS weekly campaign: check_balance failed for the run due ")
    assert not LIST_7 & {m["to"] for m in sandbox_conn.messages()}
    assert sandbox_conn.requests_count("/messages/send/to_lists") == 0


# -- fullsms_send_on_top_up ---------------------------------------------------------------------


@WATCHER
def test_send_on_top_up_is_scheduled_on_the_asset_its_balance_watcher_watches(dagbag: Any) -> None:
    from airflow_provider_fullsms.triggers.top_up import FullSmsBalanceTopUpTrigger

    dag = dagbag.dags["fullsms_send_on_top_up"]
    (asset,) = dag.timetable.asset_condition.objects
    (watcher,) = asset.watchers

    assert asset.name == "fullsms_balance_topped_up"
    assert isinstance(watcher.trigger, FullSmsBalanceTopUpTrigger)
    assert watcher.trigger.min_balance == 25.0


@WATCHER
def test_send_on_top_up_texts_the_waiting_list_once_each_by_first_name(
    dagbag: Any, sandbox_conn: SandboxClient, airflow_db: None, dag_results: Any
) -> None:
    with WAITING_LIST.open(encoding="utf-8", newline="") as stream:
        waiting = {row["number"]: row["first_name"] for row in csv.DictReader(stream)}
    sandbox_conn.set_balance(25)

    # Started by hand (dag.test()): no top-up event, the same send.
    run = dagbag.dags["fullsms_send_on_top_up"].test()

    assert run.state == "success"
    texts = {m["to"]: m["text"] for m in sandbox_conn.messages()}
    assert len(sandbox_conn.messages()) == len(waiting) == 120
    assert texts == {
        number: f"Hi {name}, the Coperato grinder you asked about is back in stock. Reply STOP to opt out."
        for number, name in waiting.items()
    }
    results = dag_results(run)
    assert "top_up" not in results  # no event read: it returned None
    assert results["send"]["fingerprint"] == results["plan"]["fingerprint"]
    assert sandbox_conn.balance() == pytest.approx(25 - 120 * 0.05)


# -- fullsms_balance_gated_batches --------------------------------------------------------------


@HITL
def test_balance_gated_batches_wait_for_a_top_up_then_text_every_shard_once(
    dagbag: Any, sandbox_conn: SandboxClient, airflow_db: None, work_dir: str, dag_results: Any
) -> None:
    sandbox_conn.set_balance(10)  # the campaign costs 1800 x 0.05 = 90
    topper = TopUpAfterChecks(sandbox_conn, balance=200, checks=2)
    topper.start()
    try:
        started = time.monotonic()
        # dag.test() cannot answer the approval (tests/e2e approves through the REST API): here it
        # is marked approved.
        run = dagbag.dags["fullsms_balance_gated_batches"].test(
            run_conf={"work_dir": work_dir, "shard_size": 600}, mark_success_pattern="approve_send"
        )
        print(f"balance-gated run took {time.monotonic() - started:.1f}s")
    finally:
        topper.stop.set()
        topper.join(timeout=10)

    assert topper.done.is_set(), "the sensor went on without seeing the low balance twice"
    assert run.state == "success"
    tis = Counter((ti.task_id, ti.state) for ti in run.get_task_instances())
    assert tis[("send_shard", "success")] == 3
    messages = sandbox_conn.messages()
    per_number = Counter(m["to"] for m in messages)
    assert len(per_number) == 1800
    assert set(per_number.values()) == {1}
    shard_files = sorted(Path(work_dir).glob("**/shard-*.csv"))
    assert len(shard_files) == 3
    in_files = {line.strip() for path in shard_files for line in path.read_text().splitlines()[1:]}
    assert in_files == set(per_number)
    results = dag_results(run)
    plan = results["campaign_plan"]
    assert (plan["recipients"], plan["segments"], plan["batches"]) == (1800, 1800, 6)
    assert plan["required_balance"] == 90.0  # the connection keeps no minimum balance back
    assert "**1,800 recipients**" in plan["approval"]
    assert results["report"]["sent"] == 1800
    assert results["report"]["batches"] == 6  # 500 + 100 per shard of 600
    assert [summary["fingerprint"] for summary in results["send_shard"]] == plan["fingerprints"]
    assert results["wait_for_balance"] == 200.0
    assert sandbox_conn.balance() == pytest.approx(200 - 90)


@HITL
def test_a_failed_shard_resumes_on_retry_without_texting_anybody_twice(
    sandbox_conn: SandboxClient, airflow_db: None, work_dir: str, dag_results: Any
) -> None:
    sandbox_conn.set_balance(200)
    # The first shard to run gets its first batch accepted and its second rate-limited on every one
    # of the hook's attempts, so that task fails and Airflow retries it.
    sandbox_conn.inject_fault(
        "rate_limit", path="/messages/send/to_numbers", after=1, count=5, retry_after=0.2
    )
    dag = dag_bag(str(EXAMPLE_DAGS / "fullsms_balance_gated_batches.py")).dags[
        "fullsms_balance_gated_batches"
    ]
    # A private copy of the DAG: the 30 s between tries would only slow the test down.
    dag.task_dict["send_shard"].partial_kwargs["retry_delay"] = timedelta(0)

    run = dag.test(run_conf={"work_dir": work_dir, "shard_size": 600}, mark_success_pattern="approve_send")

    assert run.state == "success"
    tries = {ti.map_index: ti.try_number for ti in run.get_task_instances() if ti.task_id == "send_shard"}
    assert sorted(tries.values()) == [1, 1, 2]
    retried = next(index for index, tries in tries.items() if tries == 2)
    per_number = Counter(m["to"] for m in sandbox_conn.messages())
    assert len(per_number) == 1800
    assert set(per_number.values()) == {1}
    summary = dag_results(run)["send_shard"][retried]
    assert summary["batches"]["skipped_already_accepted"] == 1  # the retry skipped the accepted batch
    assert summary["sent"] == 600


# -- fullsms_campaign_report --------------------------------------------------------------------


def test_campaign_report_runs_on_the_alias_the_crm_send_emits_its_campaign_through(dagbag: Any) -> None:
    from airflow.providers.common.compat.sdk import AssetAlias

    send = dagbag.dags["fullsms_crm_to_sms"].get_task("send_campaign")
    [alias] = [outlet for outlet in send.outlets if isinstance(outlet, AssetAlias)]
    report = dagbag.dags["fullsms_campaign_report"]
    # Airflow 2.11 calls assets "datasets", and wraps the alias in a condition of its own
    condition = getattr(report.timetable, "asset_condition", None) or report.timetable.dataset_condition
    assert "Alias" in type(condition).__name__
    assert condition.name == alias.name


def test_campaign_report_reads_each_campaigns_figures_from_its_event() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("report", EXAMPLE_DAGS / "fullsms_campaign_report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    extra = {"recipients": 40, "accepted": 39, "invalid": 2, "excluded": 3, "unknown": 1, "segments": 39}
    assert module.campaign_report([{**extra, "cost": 1.95, "campaign_ids": ["c-1", "c-2"]}]) == [
        "39 of 40 recipients texted; 2 invalid, 3 opted out, 1 unknown; cost 1.95; campaigns c-1, c-2"
    ]
