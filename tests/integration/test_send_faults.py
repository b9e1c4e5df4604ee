"""
Faults on the first, a middle and the last batch of a real DAG run (``dag.test()`` with retries).

Whatever happens, no phone gets the campaign twice, and every recipient is either delivered or
named in the result as part of a batch whose outcome is unknown. Transient faults end in a
complete campaign, through the hook's own retries or Airflow's task retries.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_fullsms.campaigns.ledger import has_task_state_store
from airflow_provider_fullsms.campaigns.variable_store import VARIABLE_PREFIX
from tests.conftest import SANDBOX_TOKEN, connection_json
from tests.versions import without_mask_requests

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess

SEND = "/messages/send/to_numbers"
RECIPIENTS = 1500  # three batches of 500
DAG_ID = "fullsms_fault_matrix"
DAG_FILE = f'''
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

with DAG(dag_id="{DAG_ID}", schedule=None, start_date=datetime(2025, 1, 1), catchup=False) as dag:
    FullSmsSendToNumbersOperator(
        task_id="send",
        numbers_file="{{{{ dag_run.conf['file'] }}}}",
        message="Fault matrix",
        max_concurrency=1,
        retries=3,
        retry_delay=timedelta(0),
    )
'''

_real_sleep = time.sleep
#: Where the ledger can live on this Airflow: Variables everywhere, the task state store from 3.3.
LEDGER_STORES = ["task_state_store", "variables"] if has_task_state_store() else ["variables"]


@pytest.fixture(scope="module")
def fault_dag(airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The DAG, in a DAG bundle of its own next to the configured dags folder."""
    folder = tmp_path_factory.mktemp("fault-dags")
    (folder / "fault_matrix.py").write_text(DAG_FILE)
    from airflow import settings

    bundles = [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": settings.DAGS_FOLDER},
        },
        {
            "name": "fullsms-fault-tests",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(folder)},
        },
    ]
    key = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"
    previous = os.environ.get(key)
    os.environ[key] = json.dumps(bundles)
    spec = importlib.util.spec_from_file_location("fullsms_fault_matrix", folder / "fault_matrix.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        yield module.dag
    finally:
        if previous is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = previous


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's backoff and Retry-After waits, capped so the matrix stays fast."""
    monkeypatch.setattr(
        "airflow_provider_fullsms.hooks.fullsms.time.sleep", lambda s: _real_sleep(min(s, 0.3))
    )


@pytest.fixture
def sbx(sandbox_conn: SandboxClient, short_waits: None) -> SandboxClient:
    sandbox_conn.set_balance(100_000)
    return sandbox_conn


def audience(tmp_path: Path) -> str:
    path = tmp_path / "audience.csv"
    path.write_text("number\n" + "".join(f"{447700000000 + i}\n" for i in range(RECIPIENTS)))
    return str(path)


def run(dag: Any, file: str) -> tuple[str, int, dict[str, Any] | None, str]:
    """Run the DAG once; return the task's final state, its try number, its summary and the run id."""
    from airflow import settings
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    try:
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2: the table's model is XCom, its values serialised JSON bytes
        from airflow.models.xcom import XCom as XComModel

    run = dag.test(run_conf={"file": file})
    assert settings.Session is not None
    with settings.Session() as session:
        ti = session.scalar(
            select(TaskInstance).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run.run_id)
        )
        assert ti is not None
        rows = session.execute(
            select(XComModel.key, XComModel.value).where(
                XComModel.dag_id == DAG_ID,
                XComModel.run_id == run.run_id,
                XComModel.task_id == "send",
                # The summary; not the extra link Airflow keeps beside it (a plain string).
                XComModel.key.in_(("return_value", "fullsms_summary")),
            )
        ).all()
    values = {key: (json.loads(value) if isinstance(value, str | bytes) else value) for key, value in rows}
    summary = values.get("return_value") or values.get("fullsms_summary")
    return str(ti.state), int(ti.try_number), summary, run.run_id


# (fault kind, fields, position) -> what must happen. Position 0/1/2 is the batch hit.
TRANSIENT = [
    ("refuse", {"seconds": 1.0}),
    ("rate_limit", {"retry_after": 1}),  # the hook waits Retry-After and tries again
    ("rate_limit_html", {"retry_after": 1}),  # a proxy's 429 page is a rate limit too
    ("rate_limit_long", {"retry_after": 1, "count": 6}),  # beyond the hook's 5 attempts: Airflow retries
    ("error_503", {"status": 503, "count": 6}),
]
#: Tries the task needs: a fault outlasting the hook's own 5 attempts costs one Airflow retry.
EXPECTED_TRIES = {"rate_limit": 1, "rate_limit_html": 1, "rate_limit_long": 2, "error_503": 2}
UNKNOWN = [
    ("error_500", {"status": 500}),
    ("drop", {}),
    ("slow", {"seconds": 3.0}),  # with a 1 s read timeout
]
POSITIONS = [0, 1, 2]


def arm(sbx: SandboxClient, kind: str, fields: dict[str, Any], position: int) -> None:
    fields = dict(fields)
    count = fields.pop("count", 1)
    api_kind = "error" if kind.startswith("error") else kind.removesuffix("_long")
    if kind == "refuse":
        # The window opens once the request before the hit batch is answered.
        if position == 0:
            sbx.inject_fault("refuse", path="/account/senderids", after=0, **fields)
        else:
            sbx.inject_fault("refuse", path=SEND, after=position, **fields)
        return
    sbx.inject_fault(api_kind, path=SEND, after=position, count=count, **fields)


def assert_nobody_texted_twice(sbx: SandboxClient) -> Counter[str]:
    received = Counter(m["to"] for m in sbx.messages())
    assert received, "nothing was delivered"
    assert max(received.values()) == 1, [n for n, c in received.items() if c > 1][:5]
    return received


@pytest.mark.parametrize("position", POSITIONS, ids=["first", "middle", "last"])
@pytest.mark.parametrize(("kind", "fields"), TRANSIENT, ids=[k for k, _ in TRANSIENT])
def test_transient_faults_end_in_a_complete_campaign(
    fault_dag: Any, sbx: SandboxClient, tmp_path: Path, kind: str, fields: dict[str, Any], position: int
) -> None:
    arm(sbx, kind, fields, position)
    state, tries, summary, _ = run(fault_dag, audience(tmp_path))
    received = assert_nobody_texted_twice(sbx)
    assert state == "success"
    if kind in EXPECTED_TRIES:
        assert tries == EXPECTED_TRIES[kind]
    assert len(received) == RECIPIENTS
    assert summary is not None
    assert summary["sent"] == RECIPIENTS
    assert len(summary["campaign_ids"]) == 3
    assert summary["batches"]["unknown"] == []
    if tries > 1:
        assert summary["batches"]["skipped_already_accepted"] == position


@pytest.mark.parametrize("position", POSITIONS, ids=["first", "middle", "last"])
@pytest.mark.parametrize(("kind", "fields"), UNKNOWN, ids=[k for k, _ in UNKNOWN])
def test_unknown_outcomes_are_never_resent_and_are_named(
    fault_dag: Any,
    sbx: SandboxClient,
    sandbox: SandboxProcess,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
    fields: dict[str, Any],
    position: int,
) -> None:
    if kind == "slow":
        monkeypatch.setenv(
            "AIRFLOW_CONN_FULLSMS_DEFAULT",
            connection_json(sandbox.url, SANDBOX_TOKEN, default_sender="COPERATO", timeout=1),
        )
    arm(sbx, kind, fields, position)
    state, tries, summary, _ = run(fault_dag, audience(tmp_path))
    if kind == "slow":
        _real_sleep(fields["seconds"])  # let the slow answer finish before the next test resets
    received = assert_nobody_texted_twice(sbx)
    assert state == "failed"
    assert tries == 1  # failed without retry: a retry could not tell more
    assert summary is not None
    unknown = summary["batches"]["unknown"]
    assert [u["index"] for u in unknown] == [position]
    assert summary["unknown_recipients"] == 500
    # Everyone else got it exactly once; the unknown batch got it at most once.
    assert summary["sent"] == RECIPIENTS - 500
    assert len(received) in (RECIPIENTS - 500, RECIPIENTS)
    assert summary["batches"]["accepted"] == 2


def stored_ledger(run_id: str, store: str = LEDGER_STORES[0]) -> list[str]:
    """
    Every value the ledger stored in run ``run_id`` of :data:`DAG_ID`, as the database holds it.

    :param store: one of :data:`LEDGER_STORES`.
    """
    from airflow import settings
    from sqlalchemy import select

    assert settings.Session is not None
    with settings.Session() as session:
        if store == "task_state_store":
            from airflow.models.task_state_store import TaskStateStoreModel

            query = select(TaskStateStoreModel.value).where(
                TaskStateStoreModel.dag_id == DAG_ID, TaskStateStoreModel.run_id == run_id
            )
            return list(session.scalars(query).all())
        from airflow.models.variable import Variable

        rows = session.scalars(select(Variable).where(Variable.key.startswith(VARIABLE_PREFIX))).all()
        ours = {"dag_id": DAG_ID, "run_id": run_id}
        return [row.val for row in rows if ours.items() <= json.loads(row.val)["task"].items()]


@pytest.fixture(params=LEDGER_STORES)
def ledger_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """
    Where the ledger lives: the task state store (Airflow 3.3), or Airflow Variables (what older
    Airflow versions use; on 3.3 chosen here by hiding the state store from the operator).
    """
    if request.param == "variables" and has_task_state_store():
        from airflow_provider_fullsms.campaigns.variable_store import VariableStore

        monkeypatch.setattr(
            "airflow_provider_fullsms.operators.base._ledger_store",
            lambda context: VariableStore.for_task_instance(context["ti"]),
        )
    return str(request.param)


@pytest.mark.parametrize(("kind", "fields"), [TRANSIENT[-1], UNKNOWN[1]], ids=["error_503", "drop"])
def test_either_ledger_store_resumes_a_retry_and_never_resends_an_unknown_batch(
    fault_dag: Any, sbx: SandboxClient, tmp_path: Path, ledger_store: str, kind: str, fields: dict[str, Any]
) -> None:
    arm(sbx, kind, fields, position=1)
    state, tries, summary, run_id = run(fault_dag, audience(tmp_path))

    received = assert_nobody_texted_twice(sbx)
    assert summary is not None
    stored = [json.loads(value) for value in stored_ledger(run_id, ledger_store)]
    if ledger_store == "variables":
        stored = [entry["value"] for entry in stored]
    batches = sorted(entry["s"] for entry in stored if isinstance(entry, dict) and "s" in entry)
    if kind == "error_503":  # the hook gave up: Airflow's retry sent the rest, skipping batch 0
        assert (state, tries, len(received)) == ("success", 2, RECIPIENTS)
        assert summary["batches"]["skipped_already_accepted"] == 1
        assert batches == ["accepted"] * 3
    else:  # dropped after FullSMS acted: named, never resent
        assert (state, tries) == ("failed", 1)
        assert [u["index"] for u in summary["batches"]["unknown"]] == [1]
        assert batches == ["accepted", "accepted", "unknown"]


def test_an_echoing_proxy_leaves_the_token_in_no_summary_state_store_or_log(
    fault_dag: Any, sbx: SandboxClient, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # A proxy answers the middle batch with a 502 page that quotes the request, token included.
    sbx.inject_fault("echo", path=SEND, after=1, status=502)
    state, _, summary, run_id = run(fault_dag, audience(tmp_path))

    assert_nobody_texted_twice(sbx)
    assert state == "failed"
    assert summary is not None
    assert [u["index"] for u in summary["batches"]["unknown"]] == [1]  # a 502 on a send: unknown
    assert "502 Bad Gateway" in json.dumps(summary)  # the proxy's page is kept, redacted
    assert summary["sent"] == RECIPIENTS - 500
    stored = stored_ledger(run_id)
    assert any("502" in value for value in stored)
    assert SANDBOX_TOKEN not in json.dumps(summary)
    assert not [value for value in stored if SANDBOX_TOKEN in value]
    out, err = capfd.readouterr()
    assert SANDBOX_TOKEN not in without_mask_requests(out + err)
