"""
CRM to SMS: extract contacts from a CRM export, clean and personalise them, gate on the cost, send.

The user story: marketing exports its contacts from the CRM (``data/crm_contacts.csv``, 3,000
rows with the usual mess: numbers typed with spaces, ``+`` or ``00``, the same person twice,
national-format or missing numbers, contacts who opted out) and wants each reachable person
texted once, by first name, with the text for their segment.

1. ``extract_contacts`` snapshots the export into this run's working folder, so a retry sends to
   exactly the audience the first try saw (the send operator refuses a changed audience rather
   than guess which batches went out).
2. ``transform_contacts`` personalises each contact's text and writes the audience to a CSV, and
   the numbers of everyone who opted out (under any of their records) to another; numbers stay
   as written. The send operator reads both with the same rules: it drops invalid numbers (with
   the reason), duplicates and the opted-out (``exclude=``). Only counts and the files' paths go
   to XCom: the audience never does.
3. ``plan_campaign`` reads the audience exactly as the send will (``dry_run=True``: nothing is
   sent) and prices it: SMS segments of every text x ``price_per_segment``, and the
   ``required_balance`` (that cost plus the connection's ``minimum_balance``, which FullSMS keeps
   back).
4. ``wait_for_balance`` waits (rescheduling, so no worker slot is held) until the account holds
   the plan's ``required_balance``.
5. ``send_campaign`` streams the audience file in batches of 500 with
   :class:`~airflow_provider_fullsms.operators.fullsms.FullSmsSendToNumbersOperator`, refusing an
   audience that changed since the plan (``expected_fingerprint``); a retry resumes without
   texting anybody twice.
6. ``publish_summary`` logs and returns what happened: who was texted, who was dropped and why,
   the campaign ids and the balance before and after.

Run it against the sandbox with ``make demo``. The working folder is local disk
(``params.work_dir``, default ``<tmp>/fullsms-examples``); on Celery or Kubernetes workers point it
at shared storage, e.g. an ``ObjectStoragePath`` (``s3://...``), which the operator reads too.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor

CRM_EXPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "crm_contacts.csv")
#: One text per CRM segment, filled with the contact's first name. Plain GSM-7 and no links (FullSMS
#: refuses shortlinks unless the account allows them), so most texts are one segment.
MESSAGES = {
    "regular": "Hi {first_name}, our spring sale is on: 20% off everything at Coperato until Sunday. "
    "Reply STOP to opt out.",
    "vip": "Hi {first_name}, as a VIP you shop our spring sale first: 30% off from today. "
    "Reply STOP to opt out.",
    "lapsed": "Hi {first_name}, we miss you! Here is 25% off your next Coperato order, valid until "
    "Sunday. Reply STOP to opt out.",
}


def _run_dir(context: Any) -> str:
    """This run's working folder: one per DAG run, so runs never share (or overwrite) an audience."""
    import re
    import tempfile

    base = context["params"].get("work_dir") or os.path.join(tempfile.gettempdir(), "fullsms-examples")
    run = re.sub(r"[^A-Za-z0-9_.-]", "_", context["run_id"])
    path = os.path.join(base, context["dag"].dag_id, run)
    os.makedirs(path, exist_ok=True)
    return path


def _is_true(value: str) -> bool:
    return value.strip().lower() in {"true", "yes", "1", "y"}


@dag(
    dag_id="fullsms_crm_to_sms",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["fullsms", "example"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "crm_export": Param(CRM_EXPORT, type="string", description="The CRM export (CSV) to read."),
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
def fullsms_crm_to_sms() -> None:
    @task
    def extract_contacts(**context: Any) -> dict[str, Any]:
        """Snapshot the CRM export for this run; return its path and row count (never its rows)."""
        import shutil

        source = context["params"]["crm_export"]
        target = os.path.join(_run_dir(context), "crm_contacts.csv")
        shutil.copyfile(source, target)
        with open(target, encoding="utf-8") as stream:
            rows = sum(1 for _ in stream) - 1
        return {"contacts_file": target, "rows": rows}

    @task
    def transform_contacts(extract: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Personalise each contact's text; write the audience and the opt-outs (numbers as written)."""
        import csv

        run_dir = _run_dir(context)
        audience_file = os.path.join(run_dir, "audience.csv")
        optouts_file = os.path.join(run_dir, "optouts.txt")
        stats: dict[str, Any] = {"rows": 0, "opted_out_rows": 0, "by_segment": {}}
        with (
            open(extract["contacts_file"], encoding="utf-8", newline="") as source,
            open(audience_file, "w", encoding="utf-8", newline="") as audience,
            open(optouts_file, "w", encoding="utf-8") as optouts,
        ):
            writer = csv.writer(audience)
            writer.writerow(["number", "first_name", "message"])
            optouts.write("number\n")
            for row in csv.DictReader(source):
                stats["rows"] += 1
                if _is_true(row["opted_out"]):
                    # Excluded under any of the person's records: the operator reads both files
                    # with the same number rules, so "+44 7700 900123" here stops "447700900123".
                    stats["opted_out_rows"] += 1
                    optouts.write(row["phone"] + "\n")
                segment = row["segment"] if row["segment"] in MESSAGES else "regular"
                first_name = row["first_name"].strip().title() or "there"
                stats["by_segment"][segment] = stats["by_segment"].get(segment, 0) + 1
                writer.writerow([row["phone"], first_name, MESSAGES[segment].format(first_name=first_name)])
        stats.update(audience_file=audience_file, optouts_file=optouts_file)
        print(f"{stats['rows']} CRM rows, {stats['opted_out_rows']} of them opted out: {stats['by_segment']}")
        return stats

    @task
    def publish_summary(
        stats: dict[str, Any],
        plan: dict[str, Any],
        summary: dict[str, Any],
        balance_before: float,
        **context: Any,
    ) -> dict[str, Any]:
        """Log and return the campaign's outcome (counts and ids only: no phone numbers but invalid ones)."""
        from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

        balance_after = FullSmsHook(fullsms_conn_id="fullsms_default").get_balance()
        report = {
            "crm_rows": stats["rows"],
            "texted": summary["sent"],
            "recipients": summary["recipients"],
            "dropped": {
                "opted_out": summary["excluded"],
                "duplicates": summary["duplicates"],
                "invalid": summary["invalid"]["count"],
            },
            "invalid_examples": summary["invalid"]["numbers"][:10],
            "by_segment": stats["by_segment"],
            "segments": plan["segments"],
            "estimated_cost": plan["estimated_cost"],
            "campaign_ids": len(summary["campaign_ids"]),
            "batches": summary["batches"]["total"],
            "balance_before": balance_before,
            "balance_after": balance_after,
            "spent": round(balance_before - balance_after, 2),
        }
        print(f"FullSMS campaign summary: {report}")
        return report

    extracted = extract_contacts()
    stats = transform_contacts(extracted)
    audience = {
        "numbers_file": "{{ ti.xcom_pull(task_ids='transform_contacts')['audience_file'] }}",
        "message_column": "message",
        # Opt-outs: one number a line, read like the audience. The export has an opted-out row
        # whose number is not one ("44770"): reported, not fatal — it can match nobody.
        "exclude": "{{ ti.xcom_pull(task_ids='transform_contacts')['optouts_file'] }}",
        "on_invalid_exclude": "report",
    }
    plan_campaign = FullSmsSendToNumbersOperator(
        task_id="plan_campaign", dry_run=True, price_per_segment="{{ params.price_per_segment }}", **audience
    )
    wait_for_balance = FullSmsBalanceSensor(
        task_id="wait_for_balance",
        min_balance=plan_campaign.output["required_balance"],
        mode="reschedule",
        poke_interval=300,
        timeout=6 * 3600,
    )
    send_campaign = FullSmsSendToNumbersOperator(
        task_id="send_campaign", expected_fingerprint=plan_campaign.output["fingerprint"], **audience
    )
    stats >> plan_campaign >> wait_for_balance >> send_campaign
    publish_summary(stats, plan_campaign.output, send_campaign.output, wait_for_balance.output)


fullsms_crm_to_sms()
