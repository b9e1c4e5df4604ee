"""
Operators that send FullSMS campaigns and read the balance.

* :class:`FullSmsSendToNumbersOperator` -- numbers from a list, a list of row dicts, or a CSV /
  JSON-lines file streamed in batches of 500, with personalised texts grouped into shared batches.
* :class:`FullSmsSendToListsOperator` -- one campaign to the account's contact lists.
* :class:`FullSmsGetBalanceOperator` -- the balance to XCom, optionally failing below a minimum.

Sends never text anyone twice on a retry: every batch is recorded in the task's
``task_state_store`` (see :mod:`airflow_provider_fullsms.campaigns`), accepted batches are skipped
by a retry, and a batch whose outcome is unknown is never resent automatically.

Importing this module costs nothing beyond ``airflow.sdk``: the hook, ``requests``, ``csv`` and
the bookkeeping are imported when a task runs, not when a DAG file is parsed.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator, Sequence
    from datetime import datetime

    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_fullsms.campaigns import (
        Batch,
        CampaignPlan,
        CampaignReport,
        Entry,
        Failure,
        MessageSource,
        SendResult,
    )
    from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

__all__ = ["FullSmsGetBalanceOperator", "FullSmsSendToListsOperator", "FullSmsSendToNumbersOperator"]

#: XCom key of the send summary, pushed also when the task fails (the return value is not).
SUMMARY_XCOM_KEY = "fullsms_summary"
#: The most batches named in a failure message.
_NAMED_BATCHES = 20


def _fail(message: str) -> Exception:
    """An error that fails the task without retry: retrying cannot fix bad input."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


def _raise_for(error: BaseException) -> NoReturn:
    """
    Re-raise a hook error the way Airflow should treat it.

    Anything the retry policy calls transient (refused connection, 429, 503 after the hook's own
    retries) stays a normal exception so the task's ``retries`` apply; a client-side error (a 4xx
    FullSMS answered, a bad setting) becomes ``AirflowFailException``: retrying cannot fix it.
    """
    from airflow_provider_fullsms.campaigns import CampaignInputError
    from airflow_provider_fullsms.exceptions import FullSmsApiError, FullSmsConfigurationError

    if isinstance(error, CampaignInputError | FullSmsConfigurationError):
        raise _fail(str(error)) from error
    if isinstance(error, FullSmsApiError) and not error.retryable and error.status_code < 500:
        raise _fail(str(error)) from error
    raise error


def classify_failure(error: BaseException) -> Failure:
    """
    What a failed batch means for the people in it (see :class:`~airflow_provider_fullsms.campaigns.Failure`).

    Only an error that proves FullSMS did not act on the request may lead to a resend; anything
    else, including an error this function does not know, counts as "outcome unknown".

    :param error: what :meth:`FullSmsHook.send_to_numbers` raised.
    """
    from airflow_provider_fullsms.campaigns import CampaignInputError, Failure
    from airflow_provider_fullsms.exceptions import (
        FullSmsApiError,
        FullSmsConfigurationError,
        FullSmsError,
        FullSmsOutcomeUnknownError,
        FullSmsUnexpectedResponseError,
    )

    if isinstance(error, FullSmsOutcomeUnknownError):
        return Failure.UNKNOWN
    if isinstance(error, FullSmsUnexpectedResponseError) and error.status_code < 300:
        return Failure.UNKNOWN  # a 2xx we could not read: it was accepted, but we lack its id
    if isinstance(error, FullSmsConfigurationError | CampaignInputError):
        return Failure.REFUSED
    if isinstance(error, FullSmsError) and error.retryable:
        return Failure.TRANSIENT
    if isinstance(error, FullSmsApiError) and error.status_code < 500:
        return Failure.REFUSED
    return Failure.UNKNOWN


class _FullSmsSendOperator(BaseOperator):
    """What both send operators share: message, sender, ``send_at``, the ledger and the results."""

    def __init__(
        self,
        *,
        message: str | None = None,
        template_id: int | str | None = None,
        sender: str | None = None,
        send_at: datetime | str | None = None,
        send_at_tolerance: float = 600.0,
        on_unknown_outcome: str = "fail",
        fullsms_conn_id: str = "fullsms_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.message = message
        self.template_id = template_id
        self.sender = sender
        self.send_at = send_at
        self.send_at_tolerance = send_at_tolerance
        self.on_unknown_outcome = on_unknown_outcome
        self.fullsms_conn_id = fullsms_conn_id

    @cached_property
    def hook(self) -> FullSmsHook:
        """The hook, created on first use (never while the DAG file is parsed)."""
        from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

        return FullSmsHook(fullsms_conn_id=self.fullsms_conn_id)

    # -- checks before anything is sent ---------------------------------------------------------

    def _check_message_choice(self) -> None:
        from airflow_provider_fullsms.campaigns import ON_UNKNOWN_CHOICES

        if self.on_unknown_outcome not in ON_UNKNOWN_CHOICES:
            raise _fail(
                f"on_unknown_outcome={self.on_unknown_outcome!r}: use 'fail' (report batches whose "
                "outcome is unknown and never resend them), 'assume_sent' or 'resend'."
            )
        if self.template_id not in (None, "") and self.message not in (None, ""):
            raise _fail("Pass message= or template_id=, not both: a template is a message stored in FullSMS.")

    def _resolve_send_at(self, context: Context) -> str | None:
        """
        ``send_at`` in FullSMS's format, or ``None`` to send now.

        A time in the past by more than ``send_at_tolerance`` seconds is refused: a backfilled or
        late run must not text people at the wrong time. A time just past (a run that starts a
        little after ``data_interval_end``) sends now. A retry of a campaign an earlier try already
        started (its plan is in ``task_state_store``) is not refused for lateness: part of the
        audience has it, so the rest goes out now rather than never.
        """
        from datetime import UTC, datetime, timedelta

        from airflow_provider_fullsms.campaigns import LEDGER_PREFIX
        from airflow_provider_fullsms.hooks.fullsms import SEND_AT_FORMAT, format_send_at

        try:
            formatted = format_send_at(self.send_at, self.hook.config.tz)
        except Exception as err:
            _raise_for(err)
        if formatted is None:
            return None
        tz = self.hook.config.tz
        when = datetime.strptime(formatted, SEND_AT_FORMAT).replace(tzinfo=tz)
        now = datetime.now(UTC)
        late = (now - when).total_seconds()
        store = context.get("task_state_store")
        if late > self.send_at_tolerance and store is not None and store.get(f"{LEDGER_PREFIX}.plan"):
            self.log.warning(
                "send_at %s is %s in the past, but an earlier try of this task started the campaign: "
                "sending its remaining batches now.",
                formatted,
                timedelta(seconds=int(late)),
            )
            return None
        if late > self.send_at_tolerance:
            raise _fail(
                f"send_at={self.send_at!s} ({formatted} {self.hook.config.timezone}) is "
                f"{timedelta(seconds=int(late))} in the past: the campaign would go out late, so nothing "
                "was sent. Pass a future time, or no send_at to send now (a backfilled run usually "
                "should not send at all)."
            )
        if late >= 0:
            self.log.info("send_at %s is %.0fs ago (within send_at_tolerance): sending now.", formatted, late)
            return None
        return formatted

    def _check_sender(self) -> str:
        """The sender, checked once against the account's numbers and approved sender IDs."""
        from airflow_provider_fullsms.hooks.fullsms import resolve_sender
        from airflow_provider_fullsms.sms import InvalidNumberError, normalise_number

        try:
            sender = resolve_sender(self.sender, self.hook.config)
            owned = [n.number for n in self.hook.get_numbers()]
            try:
                as_number: str | None = normalise_number(sender)
            except InvalidNumberError:
                as_number = None
            if as_number is not None and as_number in owned:
                return as_number
            sender_ids = self.hook.get_sender_ids()
        except Exception as err:
            _raise_for(err)
        if sender in sender_ids:
            return sender
        raise _fail(
            f"sender={sender!r} is neither a number this FullSMS account owns ({', '.join(owned) or 'none'}) "
            f"nor an approved sender ID ({', '.join(sender_ids) or 'none'}): pass one of those, or have "
            "the sender ID approved in FullSMS first."
        )

    def _check_template(self) -> str | None:
        if self.template_id in (None, ""):
            return None
        template_id = str(self.template_id).strip()
        try:
            templates = self.hook.get_templates()
        except Exception as err:
            _raise_for(err)
        known = {str(t.template_id): t.name for t in templates}
        if template_id not in known:
            listed = ", ".join(f"{k} ({v})" for k, v in known.items()) or "none"
            raise _fail(
                f"template_id={self.template_id!r} is not a template of this FullSMS account (templates: "
                f"{listed}): pass one of those ids, or send the text with message=."
            )
        return template_id

    # -- running --------------------------------------------------------------------------------

    def _run(
        self,
        context: Context,
        batches: Callable[[], Iterator[Batch]],
        send: Callable[[Batch], SendResult],
        plan: CampaignPlan,
        *,
        max_concurrency: int,
        send_at: str | None,
    ) -> dict[str, Any]:
        """Send the batches with the ledger, then return the summary or fail the way Airflow should."""
        from airflow_provider_fullsms.campaigns import CampaignInputError, Ledger, run_batches

        store = context.get("task_state_store")
        if store is None:
            self.log.warning(
                "No task_state_store in the context: resumption is off. Batches are not recorded "
                "between tries (a batch whose outcome is unknown is still never resent in this try)."
            )
        ledger = Ledger(store)
        try:
            if ledger.open(plan):
                self.log.info(
                    "Resuming: an earlier try of this task recorded batches; accepted ones are skipped."
                )
            report = run_batches(
                batches(),
                send,
                ledger,
                classify=classify_failure,
                on_unknown=self.on_unknown_outcome,
                max_concurrency=max_concurrency,
                total_batches=plan.batches,
                total_recipients=plan.recipients,
                log=self.log.info,
            )
        except CampaignInputError as err:
            raise _fail(str(err)) from err
        report.scheduled = send_at is not None
        summary = report.summary(plan.stats)
        summary["send_at"] = send_at
        self._report(context, summary)
        self._raise_for_report(report, summary)
        return summary

    def _report(self, context: Context, summary: dict[str, Any]) -> None:
        b = summary["batches"]
        self.log.info(
            "FullSMS campaign: %d recipients, %d sent%s, %d invalid, %d duplicates; batches: %d total, "
            "%d accepted, %d skipped (accepted earlier), %d assumed sent, %d unknown, %d not sent",
            summary["recipients"],
            summary["sent"],
            f" (scheduled for {summary['send_at']})" if summary.get("send_at") else "",
            summary["invalid"]["count"],
            summary["duplicates"],
            b["total"],
            b["accepted"],
            b["skipped_already_accepted"],
            b["assumed_sent"],
            len(b["unknown"]),
            len(b["not_sent"]),
        )
        ti = context.get("ti")
        if ti is not None and (b["unknown"] or b["not_sent"]):
            # The return value is lost when the task fails; this XCom is not.
            try:
                ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
            except Exception:
                self.log.warning("Could not push the summary to XCom", exc_info=True)

    def _raise_for_report(self, report: CampaignReport, summary: dict[str, Any]) -> None:
        from airflow.sdk.exceptions import AirflowException

        from airflow_provider_fullsms.campaigns import Failure

        accepted = report.accepted + report.skipped_accepted + report.assumed_sent
        if report.stopped_by is not None:
            not_sent = report.not_sent
            what = (
                f"{len(not_sent)} batch(es) ({sum(b['recipients'] for b in not_sent)} recipients) were not "
                f"accepted by FullSMS: {report.stopped_by}. {accepted} of {report.batches_total} batches "
                "are accepted and recorded"
            )
            if report.stop_kind is Failure.REFUSED:
                raise _fail(f"{what}; fix the cause, then clear the task: accepted batches are skipped.")
            raise AirflowException(
                f"{what}; the task's retries send the rest and skip accepted batches."
            ) from report.stopped_by
        if report.unknown and self.on_unknown_outcome == "fail":
            named = ", ".join(
                f"batch {u['index']} ({u['recipients']} recipients)" for u in report.unknown[:_NAMED_BATCHES]
            )
            more = (
                f" and {len(report.unknown) - _NAMED_BATCHES} more"
                if len(report.unknown) > _NAMED_BATCHES
                else ""
            )
            raise _fail(
                f"The outcome of {len(report.unknown)} batch(es) is unknown: {named}{more}, "
                f"{report.unknown_recipients} recipients in all. FullSMS may or may not have sent them; they "
                f"were not sent again, so nobody is texted twice. The other {accepted} batches are sent "
                f"(summary in XCom {SUMMARY_XCOM_KEY!r}). Check FullSMS, then clear the task with "
                "on_unknown_outcome='assume_sent' if they went out, or 'resend' if they did not."
            )


class FullSmsSendToNumbersOperator(_FullSmsSendOperator):
    """
    Send (or schedule) an SMS campaign to phone numbers, in batches of at most 500.

    The audience is one of ``numbers`` (a list), ``recipients`` (a list of dicts, one per person) or
    ``numbers_file`` (a CSV with a header row, or JSON lines, read as a stream so a million rows
    never sit in memory or XCom). Numbers are normalised to E.164 digits and de-duplicated; invalid
    ones are counted and listed (capped) in the result, never sent.

    **Personalised texts.** With rows (``recipients`` or a file), ``message`` may name columns,
    e.g. ``"Hi {first_name}, your order {order_id} has shipped"``; or ``message_column`` names a
    column holding each person's ready text. Recipients whose texts are identical share batches,
    so a few distinct texts cost about ``recipients / 500`` requests.

    **No duplicates on retry.** Each batch is recorded in ``context["task_state_store"]``; a retry
    skips accepted batches and resumes the rest. A batch whose outcome is unknown (a timeout or a
    dropped connection after the request went out) is never resent automatically: the other
    batches are finished, then the task fails without retry, naming it (see
    ``on_unknown_outcome``). Keep the audience and message the same between tries: a changed
    campaign is refused, not guessed.

    Everything is checked before the first send: the messages (length, encoding), ``send_at``, the
    audience (somebody valid to send to), the template and the sender against the account.

    :param numbers: phone numbers (``"+44 7700 900001"``, ``"447700900001"``, ints). Templated.
    :param recipients: rows (dicts) with a ``number_column`` key and the columns ``message`` uses.
        Templated.
    :param numbers_file: path or ``ObjectStoragePath`` (``"s3://bucket/audience.csv"`` works too) of a
        CSV or JSON-lines file. Templated.
    :param number_column: the column / key holding the phone number.
    :param file_format: ``"csv"`` or ``"jsonl"``; default: from the file name.
    :param message: the text, or a template filled from each row's columns. Templated.
    :param message_column: a column holding each recipient's own text (wins over ``message``).
    :param personalise: fill ``message`` from row columns; default: when rows are given and
        ``message`` names a column. Pass ``False`` to send braces literally.
    :param template_id: a FullSMS template's id instead of ``message`` (see ``get_templates``).
        Templated.
    :param sender: an owned number or approved sender ID; default: the connection's
        ``default_sender``. Templated.
    :param send_at: when to deliver: an aware datetime, an ISO 8601 string with an offset (e.g. a
        rendered ``{{ data_interval_end }}``) or ``YYYY-MM-DD HH:MM:SS`` in the connection's
        timezone. Templated.
    :param send_at_tolerance: seconds ``send_at`` may lie in the past (sent at once); further in the
        past the task fails and sends nothing.
    :param max_concurrency: requests out at once; default: the connection's ``max_concurrency``.
    :param on_unknown_outcome: for batches whose outcome is unknown (now or from an earlier try):
        ``"fail"`` (default: report them, never resend), ``"assume_sent"`` or ``"resend"``. Templated.
    :param fullsms_conn_id: the FullSMS connection.
    :return: a summary (campaign ids, recipients, sent, invalid numbers capped, duplicates, batches
        with unknown or unsent ones) -- never the audience.
    """

    template_fields: Sequence[str] = (
        "numbers",
        "recipients",
        "numbers_file",
        "message",
        "template_id",
        "sender",
        "send_at",
        "on_unknown_outcome",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        numbers: Sequence[str | int] | str | None = None,
        recipients: Sequence[dict[str, Any]] | None = None,
        numbers_file: str | os.PathLike[str] | ObjectStoragePath | None = None,
        number_column: str = "number",
        file_format: str | None = None,
        message: str | None = None,
        message_column: str | None = None,
        personalise: bool | None = None,
        template_id: int | str | None = None,
        sender: str | None = None,
        send_at: datetime | str | None = None,
        send_at_tolerance: float = 600.0,
        max_concurrency: int | None = None,
        on_unknown_outcome: str = "fail",
        fullsms_conn_id: str = "fullsms_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            message=message,
            template_id=template_id,
            sender=sender,
            send_at=send_at,
            send_at_tolerance=send_at_tolerance,
            on_unknown_outcome=on_unknown_outcome,
            fullsms_conn_id=fullsms_conn_id,
            **kwargs,
        )
        self.numbers = numbers
        self.recipients = recipients
        self.numbers_file = numbers_file
        self.number_column = number_column
        self.file_format = file_format
        self.message_column = message_column
        self.personalise = personalise
        self.max_concurrency = max_concurrency

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_fullsms.campaigns import (
            Batcher,
            CampaignInputError,
            SendResult,
            fingerprint,
            plan_campaign,
        )

        self._check_message_choice()
        source = self._message_source()
        concurrency = self._concurrency()
        send_at = self._resolve_send_at(context)
        template_id = self._check_template()
        sender = self._check_sender()
        # The send_at asked for, not the resolved one: that turns from a time into "now" once it
        # has passed, and a retry must still recognise the campaign it is resuming.
        campaign_key = fingerprint("to_numbers", sender, self.send_at, template_id)
        try:
            plan = plan_campaign(self._entries(source), source, campaign_key=campaign_key)
        except CampaignInputError as err:
            raise _fail(str(err)) from err
        self.log.info(
            "Audience: %d rows, %d unique valid numbers, %d duplicates, %d invalid; "
            "%d batches, %s distinct texts",
            plan.stats.rows,
            plan.recipients,
            plan.stats.duplicates,
            plan.stats.invalid_count,
            plan.batches,
            plan.distinct_texts,
        )

        def batches() -> Iterator[Batch]:
            return Batcher(source, campaign_key=campaign_key).batches(self._entries(source))

        hook = self.hook

        def send(batch: Batch) -> SendResult:
            campaign = hook.send_to_numbers(
                batch.numbers, message=batch.text, template_id=template_id, sender=sender, send_at=send_at
            )
            return SendResult(
                campaign_id=campaign.campaign_id,
                total_sent=campaign.total_sent if campaign.total_sent is not None else len(batch.numbers),
                status=campaign.status,
                invalid=campaign.invalid_numbers,
                invalid_count=len(campaign.invalid_numbers),
            )

        return self._run(context, batches, send, plan, max_concurrency=concurrency, send_at=send_at)

    # -- audience -------------------------------------------------------------------------------

    def _message_source(self) -> MessageSource:
        from airflow_provider_fullsms.campaigns import CampaignInputError, MessageSource, template_fields_of

        sources = [
            name
            for name, value in (
                ("numbers", self.numbers),
                ("recipients", self.recipients),
                ("numbers_file", self.numbers_file),
            )
            if value not in (None, "")
        ]
        if len(sources) != 1:
            raise _fail(
                "Pass exactly one audience: numbers= (a list), recipients= (a list of dicts) or "
                f"numbers_file= (a CSV or JSON-lines file); got {', '.join(sources) or 'none'}."
            )
        has_rows = self.numbers in (None, "")
        if self.template_id not in (None, ""):
            if self.message_column or self.personalise:
                raise _fail(
                    "template_id= sends the template's text to everyone: drop message_column=/personalise=, "
                    "or pass the personalised text as message=."
                )
            return MessageSource(template_id=str(self.template_id).strip())
        if self.message in (None, "") and not (has_rows and self.message_column):
            raise _fail(
                "Nothing to send: pass message= (the text), template_id= (a FullSMS template) or, with "
                "recipients=/numbers_file=, message_column= (a column with each person's text)."
            )
        if self.message_column and not has_rows:
            raise _fail("message_column= needs rows: pass recipients= or numbers_file= instead of numbers=.")
        message = self.message if self.message not in (None, "") else None
        personalise = self.personalise
        try:
            fields = template_fields_of(message) if message is not None else []
        except CampaignInputError as err:
            if personalise is False or not has_rows:
                fields = []
            else:
                raise _fail(str(err)) from err
        if personalise is None:
            personalise = has_rows and bool(fields)
        if personalise and not has_rows:
            raise _fail("personalise=True needs rows: pass recipients= or numbers_file= instead of numbers=.")
        if message is not None and not personalise:
            from airflow_provider_fullsms.sms import InvalidMessageError, check_message

            try:
                check_message(message)
            except InvalidMessageError as err:
                raise _fail(f"message cannot be sent: {err}") from None
        return MessageSource(
            message=message, message_column=self.message_column, personalise=bool(personalise)
        )

    def _concurrency(self) -> int:
        from airflow_provider_fullsms.hooks.fullsms import MAX_CONCURRENCY

        value = self.max_concurrency if self.max_concurrency is not None else self.hook.config.max_concurrency
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1 or number > MAX_CONCURRENCY:
            raise _fail(
                f"max_concurrency={value!r}: use a whole number from 1 to {MAX_CONCURRENCY} "
                "(requests out at once)."
            )
        return number

    def _entries(self, source: MessageSource) -> Iterator[Entry]:
        """A fresh pass over the audience (it is read twice: once to check, once to send)."""
        from airflow_provider_fullsms.campaigns import entries_from_numbers, entries_from_rows

        if self.numbers not in (None, ""):
            return entries_from_numbers(_as_number_list(self.numbers))
        if self.recipients not in (None, ""):
            if not isinstance(self.recipients, list | tuple):
                raise _fail(
                    f"recipients= must be a list of dicts, got a {type(self.recipients).__name__}: with an "
                    "XCom, set render_template_as_native_obj=True on the DAG or pass the list itself."
                )
            return entries_from_rows(self.recipients, number_column=self.number_column)
        return self._file_entries(source)

    def _file_entries(self, source: MessageSource) -> Iterator[Entry]:
        from pathlib import Path

        from airflow_provider_fullsms.campaigns import (
            CampaignInputError,
            detect_file_format,
            read_audience_file,
        )

        raw = self.numbers_file
        path: Any
        if isinstance(raw, str) and "://" in raw:
            from airflow.sdk import ObjectStoragePath

            path = ObjectStoragePath(raw)
        elif isinstance(raw, str):
            path = Path(raw)
        else:
            path = raw
        name = str(getattr(path, "name", "") or path)
        try:
            file_format = detect_file_format(name, self.file_format)
        except CampaignInputError as err:
            raise _fail(str(err)) from err
        try:
            stream = path.open("r", encoding="utf-8-sig", newline="")
        except FileNotFoundError:
            raise _fail(
                f"numbers_file={str(raw)!r} does not exist: check the path and the upstream task "
                "that writes it."
            ) from None
        with stream:
            yield from read_audience_file(
                stream,
                file_format=file_format,
                number_column=self.number_column,
                rows=source.per_row,
                name=name,
            )


def _as_number_list(value: Any) -> list[Any]:
    """``numbers`` as a list: a list as is, a JSON list string, or numbers separated by commas or lines."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                return parsed
        import re

        return [part for part in re.split(r"[,;\n]", text) if part.strip()]
    if isinstance(value, int):
        return [value]
    raise _fail(f"numbers= must be a list of phone numbers, got a {type(value).__name__}.")


class FullSmsSendToListsOperator(_FullSmsSendOperator):
    """
    Send (or schedule) one campaign to the subscribed contacts of the account's contact lists.

    The list ids are checked against the account before sending (a missing id fails, naming the
    lists that exist), as are the template, the sender and ``send_at``. The send is recorded in
    ``task_state_store`` like one batch, so a retry never sends it twice.

    :param list_ids: contact list ids (see ``FullSmsHook.get_contact_lists``). Templated.
    :param message: the text. Templated.
    :param template_id: a FullSMS template's id instead of ``message``. Templated.
    :param sender: an owned number or approved sender ID; default: the connection's
        ``default_sender``. Templated.
    :param send_at: when to deliver (see :class:`FullSmsSendToNumbersOperator`). Templated.
    :param send_at_tolerance: seconds ``send_at`` may lie in the past (sent at once).
    :param on_unknown_outcome: ``"fail"`` (default), ``"assume_sent"`` or ``"resend"``. Templated.
    :param fullsms_conn_id: the FullSMS connection.
    :return: a summary: the campaign id, and as ``recipients`` the sum of the lists' subscribed
        contacts when sent -- an upper bound, since FullSMS does not answer a count for list sends
        and texts a contact on two of the lists once.
    """

    template_fields: Sequence[str] = (
        "list_ids",
        "message",
        "template_id",
        "sender",
        "send_at",
        "on_unknown_outcome",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        list_ids: Sequence[int | str] | int | str,
        message: str | None = None,
        template_id: int | str | None = None,
        sender: str | None = None,
        send_at: datetime | str | None = None,
        send_at_tolerance: float = 600.0,
        on_unknown_outcome: str = "fail",
        fullsms_conn_id: str = "fullsms_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            message=message,
            template_id=template_id,
            sender=sender,
            send_at=send_at,
            send_at_tolerance=send_at_tolerance,
            on_unknown_outcome=on_unknown_outcome,
            fullsms_conn_id=fullsms_conn_id,
            **kwargs,
        )
        self.list_ids = list_ids

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_fullsms.campaigns import (
            AudienceStats,
            Batch,
            CampaignPlan,
            SendResult,
            fingerprint,
        )

        self._check_message_choice()
        if self.template_id in (None, "") and self.message in (None, ""):
            raise _fail("Nothing to send: pass message= (the text) or template_id= (a FullSMS template).")
        if self.message not in (None, ""):
            from airflow_provider_fullsms.sms import InvalidMessageError, check_message

            try:
                check_message(str(self.message))
            except InvalidMessageError as err:
                raise _fail(f"message cannot be sent: {err}") from None
        list_ids = self._list_ids()
        send_at = self._resolve_send_at(context)
        subscribed = self._check_lists(list_ids)
        template_id = self._check_template()
        sender = self._check_sender()
        text = None if template_id is not None else str(self.message)
        batch = Batch(
            index=0,
            numbers=(),
            text=text,
            # self.send_at, not the resolved send_at: see FullSmsSendToNumbersOperator.execute.
            fingerprint=fingerprint("to_lists", sender, self.send_at, template_id, text, list_ids),
            recipients=subscribed,
        )
        stats = AudienceStats(rows=subscribed, unique=subscribed)
        plan = CampaignPlan(
            batches=1, recipients=subscribed, fingerprint=batch.fingerprint, stats=stats, distinct_texts=1
        )
        hook = self.hook

        def send(batch: Batch) -> SendResult:
            campaign = hook.send_to_lists(
                list_ids, message=batch.text, template_id=template_id, sender=sender, send_at=send_at
            )
            return SendResult(
                campaign_id=campaign.campaign_id, total_sent=batch.recipients, status=campaign.status
            )

        summary = self._run(context, lambda: iter([batch]), send, plan, max_concurrency=1, send_at=send_at)
        summary["list_ids"] = list_ids
        return summary

    def _list_ids(self) -> list[int]:
        raw = self.list_ids
        items = _as_number_list(raw) if not isinstance(raw, list | tuple) else list(raw)
        ids = []
        for item in items:
            try:
                ids.append(int(str(item).strip()))
            except ValueError:
                raise _fail(f"List id {item!r} is not a number: list ids are integers such as 7.") from None
        if not ids:
            raise _fail("list_ids is empty: pass the ids of the contact lists to send to.")
        return list(dict.fromkeys(ids))

    def _check_lists(self, list_ids: list[int]) -> int:
        """Refuse unknown list ids before sending; return the lists' subscribed contacts."""
        try:
            lists = {item.list_id: item for item in self.hook.get_contact_lists()}
        except Exception as err:
            _raise_for(err)
        missing = [i for i in list_ids if i not in lists]
        if missing:
            existing = ", ".join(f"{i} ({item.name})" for i, item in lists.items()) or "none"
            raise _fail(
                f"Contact list {', '.join(map(str, missing))} does not exist in this FullSMS account "
                f"(lists: {existing}): pass ids from that list. Nothing was sent."
            )
        return sum(lists[i].subscribed_contacts for i in list_ids)


class FullSmsGetBalanceOperator(BaseOperator):
    """
    Read the FullSMS balance and return it (a float) to XCom.

    :param min_balance: fail the task (without retry) when the balance is lower. Templated, so an
        upstream cost estimate can set it (``"{{ ti.xcom_pull(task_ids='cost') }}"``).
    :param fullsms_conn_id: the FullSMS connection.
    """

    template_fields: Sequence[str] = ("min_balance",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        min_balance: float | str | None = None,
        fullsms_conn_id: str = "fullsms_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_balance = min_balance
        self.fullsms_conn_id = fullsms_conn_id

    @cached_property
    def hook(self) -> FullSmsHook:
        """The hook, created on first use (never while the DAG file is parsed)."""
        from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

        return FullSmsHook(fullsms_conn_id=self.fullsms_conn_id)

    def execute(self, context: Context) -> float:
        threshold = _min_balance(self.min_balance)
        try:
            balance = self.hook.get_balance()
        except Exception as err:
            _raise_for(err)
        self.log.info("FullSMS balance: %g", balance)
        if threshold is not None and balance < threshold:
            raise _fail(
                f"FullSMS balance {balance:g} is below min_balance {threshold:g}: top up the account "
                "before sending (nothing was sent)."
            )
        return balance


def _min_balance(value: object) -> float | None:
    import math

    if value is None or value == "":
        return None
    number = math.nan
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
    if not math.isfinite(number):
        raise _fail(
            f"min_balance={value!r} is not a number: pass a number such as 12.5, or a template "
            "rendering to one."
        )
    return number
