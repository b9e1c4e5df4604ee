"""
``fullsms-batches`` (or ``python -m airflow_provider_fullsms.cli``): settle a campaign's unknown
batches without editing the DAG.

Show the batches a send task recorded, and for each batch whose outcome is unknown record what a
person found in FullSMS — it was sent, or send it again — then clear the task. A decision is about
the batch's current attempt and applies once; until a try applies it, ``settle`` again changes it
and ``withdraw`` takes it back::

    fullsms-batches show     --dag-id D --run-id R --task-id T
    fullsms-batches settle   --dag-id D --run-id R --task-id T --batch 3 --sent
    fullsms-batches settle   --dag-id D --run-id R --task-id T --batch 5 --resend --clear
    fullsms-batches withdraw --dag-id D --run-id R --task-id T --batch 3
    fullsms-batches clean    [--dry-run]

Before Airflow 3.3 the ledger is kept in Airflow Variables, which never expire and outlive their
DAG run: ``clean`` deletes those of DAG runs Airflow no longer has and those past their expiry.

It talks to Airflow's api-server (``--api-url``, default ``$AIRFLOW_API_URL`` or
``http://localhost:8080``) with a token (``--token`` / ``$AIRFLOW_API_TOKEN``) or a user name and
password (``$AIRFLOW_USERNAME`` / ``$AIRFLOW_PASSWORD``). The same keys can be written with any
HTTP client: ``PUT /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/state-store/
fullsms.decision.{index}`` with ``{"value": "sent", "expires_at": null}`` or ``"resend"``: a plain
value applies to the attempt current when the next try reads it.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import requests

from airflow_provider_fullsms.campaigns.ledger import Settlement
from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.settlement import (
    TRY_RUNNING_STATES,
    AirflowApi,
    BatchRecord,
    TaskAddress,
    read_batches,
    settle,
    withdraw,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

#: The console script (``[project.scripts]``); ``python -m airflow_provider_fullsms.cli`` is the same.
COMMAND = "fullsms-batches"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Settle FullSMS batches whose outcome is unknown, then let the task's retry finish.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="list the batches a send task recorded")
    settle_cmd = commands.add_parser("settle", help="record (or change) what happened to unknown batches")
    withdraw_cmd = commands.add_parser("withdraw", help="take back decisions no try has applied yet")
    clean_cmd = commands.add_parser(
        "clean", help="delete ledger Variables (Airflow < 3.3) of DAG runs that are gone, or expired"
    )
    clean_cmd.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    for command in (show, settle_cmd, withdraw_cmd):
        command.add_argument("--dag-id", required=True)
        command.add_argument("--run-id", required=True)
        command.add_argument("--task-id", required=True)
        command.add_argument("--map-index", type=int, default=-1)
    for command in (show, settle_cmd, withdraw_cmd, clean_cmd):
        command.add_argument("--api-url", default=os.environ.get("AIRFLOW_API_URL", "http://localhost:8080"))
        command.add_argument("--token", default=os.environ.get("AIRFLOW_API_TOKEN"), help=argparse.SUPPRESS)
    for command in (settle_cmd, withdraw_cmd):
        command.add_argument(
            "--batch", type=int, action="append", required=True, help="a batch index (repeat)"
        )
    outcome = settle_cmd.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--sent", action="store_const", const=Settlement.SENT, dest="settlement")
    outcome.add_argument("--resend", action="store_const", const=Settlement.RESEND, dest="settlement")
    settle_cmd.add_argument(
        "--clear", action="store_true", help="clear the task afterwards, so it runs again"
    )
    return parser


def _api(args: argparse.Namespace) -> AirflowApi:
    if args.token:
        return AirflowApi(args.api_url, args.token)
    username, password = os.environ.get("AIRFLOW_USERNAME"), os.environ.get("AIRFLOW_PASSWORD")
    if not (username and password):
        raise CampaignInputError(
            "No credentials for Airflow's API: set AIRFLOW_API_TOKEN (or --token), or AIRFLOW_USERNAME "
            "and AIRFLOW_PASSWORD."
        )
    return AirflowApi.login(args.api_url, username, password)


def _needs(batch: BatchRecord, task_state: str | None) -> str:
    """The decision column: the one a try would apply, or what the batch waits for."""
    if batch.decision:
        return batch.decision
    if not batch.settleable:
        return ""
    if batch.state == "in_flight" and task_state in TRY_RUNNING_STATES:
        return f"(in flight: the task is {task_state})"
    return "(needs one)"


def _show(api: AirflowApi, task: TaskAddress) -> None:
    batches = read_batches(api.state_store(task))
    task_state = api.task_state(task) if any(b.state == "in_flight" for b in batches) else None
    print(f"{'batch':>6}  {'state':<13} {'recipients':>10}  {'text':<16}  {'sent at':<25}  decision")
    for b in batches:
        print(
            f"{b.index:>6}  {b.state:<13} {b.recipients:>10}  {b.text_hash or '-':<16}  "
            f"{b.sent_at or '-':<25}  {_needs(b, task_state)}"
        )
    if api.in_variables(task):
        print(f"(kept in Airflow Variables {task.variable_prefix()}…: Airflow before 3.3)")


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the command (the ``fullsms-batches`` console script's entry point).

    :param argv: command-line arguments (default: ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    try:
        api = _api(args)
        if args.command == "clean":
            deleted = api.variables.clean(datetime.now(UTC), dry_run=args.dry_run)
            verb = "would delete" if args.dry_run else "deleted"
            print(f"{verb} {len(deleted)} ledger Variable(s)", *deleted, sep="\n  ")
            return 0
        task = TaskAddress(args.dag_id, args.run_id, args.task_id, args.map_index)
        if args.command == "show":
            _show(api, task)
            return 0
        if args.command == "withdraw":
            for b in withdraw(api, task, args.batch):
                print(f"batch {b.index} ({b.recipients} recipients): no decision; it waits for one")
            return 0
        settled = settle(api, task, args.batch, args.settlement)
        what = "it was sent" if args.settlement is Settlement.SENT else "send it again"
        for b in settled:
            print(f"batch {b.index} ({b.recipients} recipients, attempt {b.attempt}): {what}")
        if args.clear:
            api.clear(task)
            print(f"cleared {task.task_id!r}: its next try applies the decisions")
        else:
            print("clear the task to apply the decisions (or run again with --clear)")
        return 0
    except CampaignInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except requests.RequestException as error:
        print(f"error: could not reach Airflow's API at {args.api_url}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
