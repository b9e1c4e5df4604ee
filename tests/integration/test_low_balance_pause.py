"""
Credit running out mid-campaign, against the sandbox: what each phone received is the truth.

The end-to-end twin (a real triggerer releasing the task) is in ``tests/e2e/test_end_to_end.py``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, cast

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests.conftest import SANDBOX_TOKEN, connection_json

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess

SEND = "/messages/send/to_numbers"
AUDIENCE = [str(447700000000 + i) for i in range(3000)]
#: One batch of 500 one-segment texts at the sandbox's 0.05, plus the 1.00 it keeps back.
ONE_BATCH = 500 * 0.05 + 1.0


@pytest.fixture
def priced(sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch) -> SandboxClient:
    """The sandbox with credit for one batch, and a connection that knows its prices."""
    sandbox.client.reset()
    sandbox.client.set_balance(ONE_BATCH)
    monkeypatch.setenv(
        "AIRFLOW_CONN_FULLSMS_DEFAULT",
        connection_json(
            sandbox.url, SANDBOX_TOKEN, default_sender="COPERATO", price_per_segment=0.05, minimum_balance=1
        ),
    )
    return sandbox.client


def send(**kwargs: Any) -> FullSmsSendToNumbersOperator:
    return FullSmsSendToNumbersOperator(task_id="send", numbers=AUDIENCE, message="Spring sale", **kwargs)


def test_credit_for_one_batch_pauses_then_a_top_up_finishes_it_with_everyone_texted_once(
    priced: SandboxClient,
) -> None:
    store = MemoryStateStore()
    context = cast("Any", {"task_state_store": store})
    op = send(deferrable=True)
    with pytest.raises(TaskDeferred) as paused:
        op.execute(context)
    assert len(Counter(m["to"] for m in priced.messages())) == 500  # the one batch it could pay for
    # The other 2,500 texts at 0.05, plus the 1.00 FullSMS keeps back.
    assert paused.value.trigger.min_balance == pytest.approx(2500 * 0.05 + 1.0)

    priced.set_balance(200)
    summary = op.execute_complete(
        context, event={"status": "success", "balance": 200.0, "min_balance": 126.0}
    )
    per_phone = Counter(m["to"] for m in priced.messages())
    assert set(per_phone) == set(AUDIENCE)
    assert set(per_phone.values()) == {1}
    assert summary["sent"] == 3000
    assert summary["batches"]["skipped_already_accepted"] == 1
    assert priced.balance() == pytest.approx(200 - 2500 * 0.05)


def test_without_deferrable_the_task_fails_saying_what_the_rest_needs(priced: SandboxClient) -> None:
    with pytest.raises(AirflowFailException, match=r"balance of at least 126 \(2500 segments left"):
        send(deferrable=False).execute(cast("Any", {"task_state_store": MemoryStateStore()}))
    assert len(priced.messages()) == 500
