"""
A large send split into shards: planned and priced, gated on the balance, approved by a person, sent.

The user story: an audience too large for one task (here generated: ``params.shards`` files of
``params.shard_size`` numbers) is sent by one mapped task per shard, so shards run on different
workers and a failed shard is retried alone. Before anything goes out:

1. ``plan_shard`` reads each shard exactly as the send will (``dry_run=True``: zero send requests)
   and prices it; ``campaign_plan`` adds the shards up (``combine_plans``): recipients, segments,
   cost, and the ``required_balance`` (the cost plus the connection's ``minimum_balance``).
2. ``wait_for_balance``, a deferrable
   :class:`~airflow_provider_fullsms.sensors.fullsms.FullSmsBalanceSensor`, waits in the triggerer
   (holding no worker slot) until the account holds that ``required_balance``.
3. ``approve_send``, Airflow's ``ApprovalOperator`` (Human-in-the-loop, Airflow 3.1 and later), shows
   the plan: counts, cost and sample texts with the numbers masked. *Reject* skips the send. On an
   older Airflow this DAG fails to parse, saying so
   (:mod:`airflow_provider_fullsms.operators.approval` says what replaces the step there).
4. ``send_shard`` sends each shard with ``expected_fingerprint``: a shard that changed since it was
   approved (other numbers, texts, sender or schedule) fails before its first request.

Each shard is resumable: the send operator records every accepted batch of 500 in the task's
state store, so a retry (``retries=2``) sends only the batches the failed try did not, and a batch
whose outcome is unknown is reported, never resent. Nobody is texted twice.

The shard files live in this run's working folder (``params.work_dir``, default
``<tmp>/fullsms-examples``): local disk is enough on one machine; on Celery or Kubernetes workers use
shared storage, e.g. an ``s3://`` path (``numbers_file`` accepts an ``ObjectStoragePath``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_provider_fullsms.operators.approval import ApprovalOperator
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor

MESSAGE = "Your Coperato parcel is ready for collection at your local store. Reply STOP to opt out."


def _run_dir(context: Any) -> str:
    """This run's working folder: one per DAG run, so runs never share (or overwrite) shards."""
    import re
    import tempfile

    base = context["params"].get("work_dir") or os.path.join(tempfile.gettempdir(), "fullsms-examples")
    run = re.sub(r"[^A-Za-z0-9_.-]", "_", context["run_id"])
    path = os.path.join(base, context["dag"].dag_id, run)
    os.makedirs(path, exist_ok=True)
    return path


@dag(
    dag_id="fullsms_balance_gated_batches",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["fullsms", "example"],
    doc_md=__doc__,
    params={
        "shards": Param(3, type="integer", minimum=1, maximum=100, description="Mapped send tasks."),
        "shard_size": Param(600, type="integer", minimum=1, description="Numbers per shard."),
        "price_per_segment": Param(
            0.05,
            type="number",
            minimum=0,
            description="Your FullSMS price per SMS segment (the connection's price_per_segment extra "
            "says the same for every DAG).",
        ),
        "work_dir": Param("", type="string", description="Working folder; empty: <tmp>/fullsms-examples."),
    },
)
def fullsms_balance_gated_batches() -> None:
    @task
    def build_shards(**context: Any) -> list[str]:
        """Write the audience as shard files; only their paths go to XCom (and map the sends)."""
        params = context["params"]
        folder = _run_dir(context)
        paths = []
        for shard in range(int(params["shards"])):
            path = os.path.join(folder, f"shard-{shard:03d}.csv")
            with open(path, "w", encoding="utf-8") as stream:
                stream.write("number\n")
                # Distinct numbers across shards: shard s holds 4477<s:02d><i:06d>.
                stream.writelines(f"4477{shard:02d}{i:06d}\n" for i in range(int(params["shard_size"])))
            paths.append(path)
        return paths

    @task(multiple_outputs=True)
    def campaign_plan(plans: list[dict[str, Any]]) -> dict[str, Any]:
        """The shards' plans added up, and the plan in words for the person who approves it."""
        from airflow_provider_fullsms.campaigns import combine_plans, describe_plan

        plan = combine_plans(plans)
        return {**plan, "approval": describe_plan(plan)}

    @task
    def approved_sends(shards: list[str], fingerprints: list[str]) -> list[dict[str, Any]]:
        """One send per shard, each bound to the fingerprint of the shard's approved plan."""
        return [
            {"numbers_file": shard, "expected_fingerprint": fingerprint}
            for shard, fingerprint in zip(shards, fingerprints, strict=True)
        ]

    @task
    def report(summaries: list[dict[str, Any]]) -> dict[str, Any]:
        """Add up the shards' summaries."""
        total = {
            "shards": 0,
            "recipients": 0,
            "sent": 0,
            "invalid": 0,
            "batches": 0,
            "skipped_already_accepted": 0,
            "campaign_ids": 0,
        }
        for summary in summaries:
            total["shards"] += 1
            total["recipients"] += summary["recipients"]
            total["sent"] += summary["sent"]
            total["invalid"] += summary["invalid"]["count"]
            total["batches"] += summary["batches"]["total"]
            total["skipped_already_accepted"] += summary["batches"]["skipped_already_accepted"]
            total["campaign_ids"] += len(summary["campaign_ids"])
        print(f"FullSMS sharded campaign: {total}")
        return total

    shards = build_shards()
    plan_shard = FullSmsSendToNumbersOperator.partial(
        task_id="plan_shard",
        message=MESSAGE,
        dry_run=True,
        price_per_segment="{{ params.price_per_segment }}",
    ).expand(numbers_file=shards)
    plan = campaign_plan(plan_shard.output)
    wait_for_balance = FullSmsBalanceSensor(
        task_id="wait_for_balance",
        min_balance=plan["required_balance"],
        deferrable=True,
        poke_interval=5,
        timeout=24 * 3600,
    )
    approve_send = ApprovalOperator(
        task_id="approve_send",
        subject="Send the FullSMS campaign {{ dag_run.run_id }}?",
        body=plan["approval"],
    )
    send_shard = FullSmsSendToNumbersOperator.partial(
        task_id="send_shard",
        message=MESSAGE,
        retries=2,
        retry_delay=timedelta(seconds=30),
    ).expand_kwargs(approved_sends(shards, plan["fingerprints"]))
    wait_for_balance >> approve_send >> send_shard
    report(send_shard.output)


fullsms_balance_gated_batches()
