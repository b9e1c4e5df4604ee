"""
A send that starts when the account is topped up: an asset watcher on the FullSMS balance.

The user story: the account is left near empty between campaigns, and finance tops it up when a
campaign is due, on whatever day the invoice is paid. The back-in-stock waiting list
(``data/waiting_list.csv``) is to be texted as soon as the money is in: not on a schedule that
guesses the day, and not by a sensor holding a worker slot, or deferred in the triggerer, for days.

* ``fullsms_balance_topped_up`` is an asset watched by a
  :class:`~airflow_provider_fullsms.triggers.top_up.FullSmsBalanceTopUpTrigger`: the triggerer reads
  the balance every ``POKE_INTERVAL`` seconds (in one poll with any balance sensor deferred on the
  connection) and makes an asset event when it reaches ``TOP_UP`` from below.
* This DAG is scheduled on that asset: each top-up starts one run. A run that leaves the balance at
  or above ``TOP_UP`` starts no other; one that spends it below re-arms the watcher.
* ``top_up`` reads the balance the event carries; ``plan`` prices the list (``dry_run=True``);
  ``send`` sends what was planned (``expected_fingerprint``) with ``deferrable=True``: should the
  top-up not cover it, the send pauses for credit in the triggerer and resumes its remaining
  batches when the next one does, never texting anybody twice.

The DAG needs a running triggerer (the watcher runs there), as ``deferrable=True`` does.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import Asset, dag, task

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.triggers.top_up import AssetWatcher, FullSmsBalanceTopUpTrigger

WAITING_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "waiting_list.csv")
MESSAGE = "Hi {first_name}, the Coperato grinder you asked about is back in stock. Reply STOP to opt out."
#: The balance a top-up reaches: what the campaign costs, with room for the next one.
TOP_UP = 25.0
#: Seconds between two reads of the balance (one request per interval and connection).
POKE_INTERVAL = 60.0

TOPPED_UP = Asset(
    "fullsms_balance_topped_up",
    watchers=[
        AssetWatcher(
            name="fullsms_balance_topped_up_to_25",
            trigger=FullSmsBalanceTopUpTrigger(min_balance=TOP_UP, poke_interval=POKE_INTERVAL),
        )
    ],
)


@dag(
    dag_id="fullsms_send_on_top_up",
    schedule=[TOPPED_UP],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["fullsms", "example"],
    doc_md=__doc__,
)
def fullsms_send_on_top_up() -> None:
    @task
    def top_up(triggering_asset_events: Any = None) -> float | None:
        """The balance the watcher read when it fired (``None`` for a run started by hand)."""
        events = triggering_asset_events[TOPPED_UP] if triggering_asset_events else []
        if not events:
            return None
        balance = float(events[-1].extra["payload"]["balance"])
        print(f"FullSMS balance topped up to {balance:g}")
        return balance

    plan = FullSmsSendToNumbersOperator(
        task_id="plan", numbers_file=WAITING_LIST, message=MESSAGE, dry_run=True
    )
    send = FullSmsSendToNumbersOperator(
        task_id="send",
        numbers_file=WAITING_LIST,
        message=MESSAGE,
        expected_fingerprint=plan.output["fingerprint"],
        deferrable=True,
        retries=2,
    )
    top_up() >> plan >> send


fullsms_send_on_top_up()
