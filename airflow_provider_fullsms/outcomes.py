"""
What an error means for a batch and for the task: the one place that maps outcomes to Airflow.

:mod:`~airflow_provider_fullsms.policy` decides what the hook retries within one call; this
module decides what is left after it:

* for a **batch** (:func:`classify_failure`): its outcome is unknown (never resent automatically),
  it was provably not sent and may work later (transient), or it was refused as it is;
* for the **task** (:func:`raise_for`, :func:`raise_for_report`): bad input and refusals fail
  without retry (``AirflowFailException``: retrying cannot fix them); transient errors stay normal
  exceptions so the task's ``retries`` apply.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, NoReturn

from airflow_provider_fullsms.exceptions import (
    FullSmsApiError,
    FullSmsBalanceBelowMinimumError,
    FullSmsConfigurationError,
    FullSmsError,
    FullSmsOutcomeUnknownError,
    FullSmsUnexpectedResponseError,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fullsms.campaigns.report import CampaignReport

#: XCom key of the send summary, pushed also when the task fails (the return value is not).
SUMMARY_XCOM_KEY = "fullsms_summary"
#: The most batches named in a failure message.
_NAMED_BATCHES = 20


class Failure(enum.StrEnum):
    """What a failed send means for the people in its batch."""

    UNKNOWN = "unknown"  # may have been processed: never resend automatically
    TRANSIENT = "transient"  # provably not processed, may work later: stop, let Airflow retry
    REFUSED = "refused"  # provably not processed, will not work as is: stop, fail


def classify_failure(error: BaseException) -> Failure:
    """
    What a failed batch means for the people in it.

    Only an error that proves FullSMS did not act on the request may lead to a resend; anything
    else, including an error this function does not know, counts as "outcome unknown".

    :param error: what :meth:`FullSmsHook.send_to_numbers` raised.
    """
    if isinstance(error, FullSmsOutcomeUnknownError):
        return Failure.UNKNOWN
    if isinstance(error, FullSmsUnexpectedResponseError) and error.status_code < 300:
        return Failure.UNKNOWN  # a 2xx we could not read: it was accepted, but we lack its id
    if isinstance(error, FullSmsConfigurationError):
        return Failure.REFUSED
    if isinstance(error, FullSmsError) and error.retryable:
        return Failure.TRANSIENT
    if isinstance(error, FullSmsApiError) and error.status_code < 500:
        return Failure.REFUSED
    return Failure.UNKNOWN


def fail(message: str) -> Exception:
    """An error that fails the task without retry."""
    from airflow.providers.common.compat.sdk import (
        AirflowFailException,  # the Task SDK, only when a task fails
    )

    return AirflowFailException(message)


def raise_for(error: BaseException) -> NoReturn:
    """
    Re-raise ``error`` the way Airflow should treat it.

    Bad input (:class:`FullSmsConfigurationError` and its subclasses), a balance below the task's
    minimum and a 4xx FullSMS answered become ``AirflowFailException``: retrying cannot fix them.
    Anything the retry policy calls transient (refused connection, 429, 503 after the hook's own
    retries) and anything else stays as it is, so the task's ``retries`` apply.
    """
    if isinstance(error, FullSmsConfigurationError | FullSmsBalanceBelowMinimumError):
        raise fail(str(error)) from error
    if isinstance(error, FullSmsApiError) and not error.retryable and error.status_code < 500:
        raise fail(str(error)) from error
    raise error


def raise_for_report(report: CampaignReport, *, task: str = "", page: str = "", advice: str = "") -> None:
    """
    Fail the task when a campaign did not reach everyone; return when it did.

    A campaign with any batch whose outcome is unknown never ends green: a person settles each one
    (see :class:`~airflow_provider_fullsms.campaigns.ledger.Settlement`), then clears the task.
    Nor does a try in which FullSMS accepted a batch with an answer that does not add up: a person
    checks its campaign in FullSMS; a retry never sends it again, and counts it as the first did.

    :param task: the CLI options naming the task (``--dag-id … --run-id … --task-id …``), for
        the settle command in the message.
    :param page: the path of the campaign's page in the Airflow UI (:func:`campaign_page_path`);
        default: the FullSMS page's list of campaigns.
    :param advice: what to do about a refusal, instead of the generic "fix the cause" (e.g. the
        balance a campaign stopped by ``balance_low`` needs).
    :raises AirflowFailException: a batch was refused, an outage stopped the campaign, a batch's
        outcome is unknown, or FullSMS's answer for a batch accepted in this try does not add up.
    :raises AirflowException: a transient failure stopped the campaign: the task's retries resume it.
    """
    from airflow.providers.common.compat.sdk import AirflowException

    sent = report.sent_batches
    accounted = f"{sent} of {report.batches_total} batches are sent and recorded"
    if report.unknown_batches:
        from airflow_provider_fullsms.plugins.fullsms_ui import URL_PREFIX

        settle = _settle_advice(report, task, page or f"{URL_PREFIX}/")
    else:
        settle = ""
    if report.discrepant_now:
        settle = f"{settle} {_discrepancy_advice(report)}".strip()
    if report.stopped_by is not None and report.stop_kind is Failure.UNKNOWN:
        raise fail(
            f"FullSMS looks down: {report.unknown_batches} batch(es) in a row got no clear answer (last: "
            f"{report.stopped_by}), so no new batch was started; {accounted}, "
            f"{report.not_started_batches} batch(es) ({report.not_sent_recipients} recipients) were "
            f"never started and are safe to send later. {settle}"
        )
    if report.stopped_by is not None:
        what = (
            f"{report.not_sent_batches} batch(es) were not accepted by FullSMS: {report.stopped_by}. "
            f"{accounted}"
        )
        if report.stop_kind is Failure.REFUSED:
            fix = advice or "Fix the cause, then clear the task: accepted batches are skipped."
            raise fail(f"{what}. {fix} {settle}".rstrip())
        if settle:
            raise fail(f"{what}. {settle}")
        raise AirflowException(
            f"{what}; the task's retries send the rest and skip accepted batches."
        ) from report.stopped_by
    if settle:
        raise fail(f"{accounted} (summary in XCom {SUMMARY_XCOM_KEY!r}). {settle}")


def _discrepancy_advice(report: CampaignReport) -> str:
    """Name each batch FullSMS accepted with an answer that does not add up, and what a person does."""
    named = "; ".join(
        f"batch {d['index']} ({d['recipients']} recipients, {d['unknown']} unknown): {d['answer']}"
        for d in report.discrepant[:_NAMED_BATCHES]
    )
    more = report.discrepant_batches - min(len(report.discrepant), _NAMED_BATCHES)
    return (
        f"FullSMS accepted {report.discrepant_batches} batch(es) with an answer that does not add up, so "
        f"their recipients are not all counted as sent: {named}{f' and {more} more' if more > 0 else ''}. "
        "They are never sent again, by this task or its retries, so nobody is texted twice. Look each "
        "campaign id up in FullSMS to see who got the text, and send to anybody it missed in a new run; "
        "clearing the task sends the rest of the campaign and counts these batches as this try did."
    )


def _settle_advice(report: CampaignReport, task: str, page: str) -> str:
    """Name each unknown batch and say how a person settles it: on the FullSMS page, or by CLI."""
    from airflow_provider_fullsms.cli import COMMAND

    named = "; ".join(
        f"batch {u['index']} ({u['recipients']} recipients, text {u['text_hash']}, sent {u['sent_at']})"
        for u in report.unknown[:_NAMED_BATCHES]
    )
    more = report.unknown_batches - min(len(report.unknown), _NAMED_BATCHES)
    cli = f"{COMMAND} settle {task or '--dag-id … --run-id … --task-id …'}"
    return (
        f"The outcome of {report.unknown_batches} batch(es) is unknown: {named}"
        f"{f' and {more} more' if more > 0 else ''}, {report.unknown_recipients} recipients in all. "
        "They were not sent again, so nobody is texted twice. Check them in FullSMS, then record for "
        f"each whether it went out: on the FullSMS page of the Airflow UI ({page}: It was sent / Send "
        f"it again, then Clear the task), or `{cli} --batch <index> --sent` (or `--resend`, then clear "
        'the task), or the state-store key fullsms.decision.<index> = "sent"/"resend" through '
        "Airflow's REST API. The task's next try applies each decision."
    )


def campaign_page_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The path of a campaign's page in the Airflow UI (under the api-server's base URL)."""
    from urllib.parse import urlencode

    from airflow_provider_fullsms.plugins.fullsms_ui import URL_PREFIX

    query = urlencode({"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index})
    return f"{URL_PREFIX}/campaign?{query}"


def settle_options(context: Context) -> str:
    """The settle CLI's options naming the context's task instance (``--dag-id d --run-id r --task-id t``)."""
    ti = _task_instance(context)
    if ti is None:
        return ""
    dag_id, run_id, task_id, map_index = ti
    options = f"--dag-id {dag_id} --run-id {run_id} --task-id {task_id}"
    return options if map_index == -1 else f"{options} --map-index {map_index}"


def campaign_page(context: Context) -> str:
    """The path of the context's campaign on the FullSMS page (``""`` outside a task run)."""
    ti = _task_instance(context)
    return "" if ti is None else campaign_page_path(*ti)


def _task_instance(context: Context) -> tuple[str, str, str, int] | None:
    """The context's task instance as DAG, run, task and map index (-1 unmapped), or ``None``."""
    ti = context.get("ti")
    if ti is None:
        return None
    map_index = getattr(ti, "map_index", -1)
    return ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else map_index
