"""
A weekly SMS campaign to FullSMS contact lists, delivered at a set hour, with an SMS alert on failure.

The user story: every Monday the newsletter text goes to the subscribers of contact list 7 at
09:00 UTC. The DAG runs at 06:00, checks the balance, and hands the campaign to FullSMS with
``send_at`` = the run's ``data_interval_end`` + ``params.send_delay_hours`` (3 h), so FullSMS
delivers it at 09:00 whatever the worker's queue looks like, and a failure at 06:00 leaves the
on-call three hours to top up and clear the task.

* ``CronTriggerTimetable``: ``data_interval_end`` is the run's own trigger time (06:00), also for a
  manual run (its trigger time), so ``send_at`` is always three hours after the run was due.
* A late run is refused, not sent late: the send operator fails (sending nothing) when ``send_at``
  is more than ``send_at_tolerance`` in the past, e.g. a run cleared days later. ``catchup=False``
  keeps a paused DAG from sending the weeks it missed when it is unpaused.
* Every task's failure texts ``params.oncall_numbers`` (a callback with ``send_fullsms_notification``).
* Sends are recorded in the task's ledger: a retry never sends the campaign twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import Param, dag
from airflow.timetables.trigger import CronTriggerTimetable

from airflow_provider_fullsms.notifications.fullsms import send_fullsms_notification
from airflow_provider_fullsms.operators.fullsms import (
    FullSmsGetBalanceOperator,
    FullSmsSendToListsOperator,
)

#: The sandbox's contact list 7 (``yourlistName``, three subscribed contacts).
LIST_IDS = [7]
MESSAGE = (
    "Coperato this week: 2-for-1 on every coffee from Monday to Wednesday, and live music on "
    "Friday. Reply STOP to opt out."
)
ALERT = (
    "FullSMS weekly campaign: {{ ti.task_id }} failed for the run due {{ data_interval_end | ts }}. "
    "Nothing was sent; fix it and clear the task."
)


@dag(
    dag_id="fullsms_scheduled_campaign",
    schedule=CronTriggerTimetable("0 6 * * 1", timezone="UTC"),
    start_date=datetime(2025, 1, 6),
    catchup=False,
    max_active_runs=1,
    tags=["fullsms", "example"],
    doc_md=__doc__,
    params={
        "send_delay_hours": Param(
            3, type="number", minimum=0, description="Deliver this many hours after the run is due."
        ),
        "min_balance": Param(
            5.0, type="number", minimum=0, description="Fail early (and alert) below this balance."
        ),
        "oncall_numbers": Param(
            "+44 7700 900999", type="string", description="Who is texted when a task fails (comma-separated)."
        ),
    },
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        # A list, so a second alert channel (Slack, e-mail) can be added beside it.
        "on_failure_callback": [
            send_fullsms_notification(numbers="{{ params.oncall_numbers }}", message=ALERT)
        ],
    },
)
def fullsms_scheduled_campaign() -> None:
    check_balance = FullSmsGetBalanceOperator(
        task_id="check_balance",
        min_balance="{{ params.min_balance }}",
    )
    send_weekly_campaign = FullSmsSendToListsOperator(
        task_id="send_weekly_campaign",
        list_ids=LIST_IDS,
        message=MESSAGE,
        send_at="{{ data_interval_end + macros.timedelta(hours=params.send_delay_hours) }}",
    )
    check_balance >> send_weekly_campaign


fullsms_scheduled_campaign()
