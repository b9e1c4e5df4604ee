"""
Operators that send FullSMS campaigns and read the balance.

* :class:`FullSmsSendToNumbersOperator` -- numbers from a list, a list of row dicts, or a CSV /
  JSON-lines file streamed in batches of 500, with personalised texts grouped into shared batches.
* :class:`FullSmsSendToListsOperator` -- one campaign to the account's contact lists (in
  :mod:`.lists`, importable from here).
* :class:`FullSmsGetBalanceOperator` -- the balance to XCom, optionally failing below a minimum
  (in :mod:`.balance`, importable from here).

The operators are thin: they gather their parameters, ask the hook (account checks, sends) and the
campaign engine (:mod:`airflow_provider_fullsms.campaigns`: audience, plan, ledger, runner,
report), and map the outcome to Airflow (:mod:`airflow_provider_fullsms.outcomes`). Sends never
text anyone twice on a retry: every batch is recorded in the task's ``task_state_store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.operators.balance import FullSmsGetBalanceOperator
from airflow_provider_fullsms.operators.base import SEND_TEMPLATE_FIELDS, FullSmsBaseSendOperator
from airflow_provider_fullsms.operators.lists import FullSmsSendToListsOperator
from airflow_provider_fullsms.outcomes import SUMMARY_XCOM_KEY

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Sequence

    import jinja2
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath

    from airflow_provider_fullsms.campaigns import (
        Audience,
        Batch,
        SendResult,
    )
    from airflow_provider_fullsms.campaigns.exclusions import Exclusions

__all__ = [
    "SUMMARY_XCOM_KEY",
    "FullSmsGetBalanceOperator",
    "FullSmsSendToListsOperator",
    "FullSmsSendToNumbersOperator",
]


class FullSmsSendToNumbersOperator(FullSmsBaseSendOperator):
    """
    Send (or schedule) an SMS campaign to phone numbers, in batches of at most 500.

    The audience is one of ``numbers`` (a list), ``recipients`` (a list of dicts, one per person) or
    ``numbers_file`` (a CSV with a header row, or JSON lines, read as a stream so a million rows
    never sit in memory or XCom). Numbers are normalised to E.164 digits and de-duplicated; invalid
    ones are counted per reason and listed (capped) in the result, never sent. A number is either
    the one the person wrote (``"+44 (0) 7700 900001"``, ``"tel:+447700900001"``, national
    numbers with ``default_region``, ``"447700900001.0"`` from a spreadsheet) or invalid: never a
    different one.

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
    :param file_encoding: the file's text encoding, e.g. ``"latin-1"`` or ``"cp1252"`` for a
        spreadsheet export; default ``"utf-8"`` (a byte-order mark is skipped). A file that is not
        in it fails before any send, naming the byte that could not be decoded.
    :param default_region: ISO country code (``"GB"``) for numbers written in national format:
        ``"07700 900123"`` becomes ``447700900123``. Without it such numbers are invalid (reason
        ``no_region``). Default: the connection's ``default_region`` extra.
    :param number_validation: ``"possible"`` (default: length and country code plausible) or
        ``"valid"`` (libphonenumber's full validation: a range in use). Default: the connection's
        ``number_validation`` extra, else ``"possible"``.
    :param exclude: numbers never to text (opt-outs): a list, or a path / ``ObjectStoragePath`` of a
        CSV (with ``exclude_column``), JSON-lines or one-number-a-line file (``.txt`` or any other
        name), read with the audience's ``default_region`` and ``file_encoding`` and streamed (a
        million numbers take about 16 MB). Excluded recipients are counted in the result's
        ``excluded``; ``exclude`` in the result says how many numbers the list held. Blank entries
        are skipped. Templated.
    :param exclude_column: the column / key of the number in a CSV or JSON-lines ``exclude`` file;
        default: ``number_column``.
    :param on_invalid_exclude: what an ``exclude`` entry that is not a phone number does (it stands
        for somebody who opted out): ``"fail"`` (default: the task fails before any send, naming
        the entries) or ``"report"`` (send, and list them in the result's ``exclude.invalid``).
    :param send_window: quiet hours: ``("09:00", "20:00")`` (or ``"09:00-20:00"``) texts each
        recipient only between those times of their own local time, the zones taken from the
        number (libphonenumber's data; where a number may be in several zones, the window must be
        open in all of them). Recipients outside it are scheduled (FullSMS ``send_at``) at its next
        opening, worked out as each batch goes out; with ``send_at``, the later of the two.
        Batches hold one text and one set of zones. A recipient whose zones are never all inside the
        window at once is not sent: the result's ``outside_window`` counts them and lists them
        masked, and everyone else is sent. A window that is not one (``"09:00+02:00"``: no offsets,
        the window is local) fails before any request. Templated.
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
        ``"fail"`` (default: report them, never resend), ``"assume_sent"`` or ``"resend"`` (once
        per batch: a resend whose outcome is unknown too waits for a person). Templated.
    :param ledger_retention: how long Airflow keeps each key of the ledger after its last write;
        default ``None``: never expires (``airflow state-store clean`` leaves it; it goes with the
        DAG run). With a retention, a try that starts after the campaign's plan record expired
        would send the whole campaign again.
    :param ledger_write_window: seconds a batch's ledger write is retried while Airflow's
        api-server (or its database) is unreachable, e.g. restarting; no new batch starts meanwhile
        and the requests out are waited for. Default: the connection's ``ledger_write_window``
        extra, else 120. Past it the try fails, naming what it could not record and since when.
    :param dry_run: read the audience exactly as a send would, send nothing, and return the plan:
        ``recipients``, ``invalid``, ``duplicates``, ``excluded``, ``batches``, ``segments``,
        ``by_encoding``, ``estimated_cost``, ``required_balance``, ``samples`` (numbers masked) and
        ``fingerprint``.
    :param price_per_segment: the price of one SMS segment, to price a dry run; default: the
        connection's ``price_per_segment`` extra (without either the cost is ``None``). Templated.
    :param expected_fingerprint: an approved plan's ``fingerprint``: when the recipients, the texts
        (a template's content included), which text each recipient gets, the sender, the schedule,
        the send window or the ``exclude`` list differ from it, the task fails before the first
        send, naming what changed. Templated (e.g. ``plan.output["fingerprint"]``). A file read
        again to send is checked batch by batch against the plan: one that changed in between
        stops the campaign before its first changed batch.
    :param fullsms_conn_id: the FullSMS connection.
    :return: a summary (campaign ids, recipients, sent, invalid numbers capped, duplicates, batches
        with unknown or unsent ones, the campaign's fingerprint) -- never the audience. With
        ``dry_run``, the plan.
    """

    template_fields: Sequence[str] = (
        "numbers",
        "recipients",
        "numbers_file",
        "exclude",
        "send_window",
        *SEND_TEMPLATE_FIELDS,
    )

    def __init__(
        self,
        *,
        numbers: Sequence[str | int] | str | None = None,
        recipients: Sequence[dict[str, Any]] | None = None,
        numbers_file: str | os.PathLike[str] | ObjectStoragePath | None = None,
        number_column: str = "number",
        file_format: str | None = None,
        file_encoding: str | None = None,
        default_region: str | None = None,
        number_validation: str | None = None,
        exclude: Sequence[str | int] | str | os.PathLike[str] | ObjectStoragePath | None = None,
        exclude_column: str | None = None,
        on_invalid_exclude: str = "fail",
        message_column: str | None = None,
        personalise: bool | None = None,
        max_concurrency: int | None = None,
        send_window: Sequence[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not _templated(send_window) and not any(map(_templated, _items(send_window))):
            from airflow_provider_fullsms.campaigns.window import SendWindow

            SendWindow.parse(send_window)  # a window that is not one fails as the DAG is parsed
        self.send_window = send_window
        self.numbers = numbers
        self.recipients = recipients
        self.numbers_file = numbers_file
        self.number_column = number_column
        self.file_format = file_format
        self.file_encoding = file_encoding
        self.default_region = default_region
        self.number_validation = number_validation
        self.exclude = exclude
        self.exclude_column = exclude_column
        self.on_invalid_exclude = on_invalid_exclude
        self.message_column = message_column
        self.personalise = personalise
        self.max_concurrency = max_concurrency

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """
        Render the templated fields, except the audience when it is plain data.

        A list of numbers or rows is data, not templates: it is used as given, so rendering costs
        nothing per recipient (Jinja would compile every number) and a CRM value such as
        ``"{{ 7*7 }}"`` in a row stays text. A templated string (``numbers="{{ ... }}"``), an
        ``XComArg``, and a number written as a template inside a list still render.
        """
        audience = {}
        for name in ("numbers", "recipients", "exclude"):
            value = getattr(self, name)
            if isinstance(value, list | tuple):
                audience[name] = value
                setattr(self, name, None)  # skipped by Airflow's rendering: it renders non-empty fields
        try:
            super().render_template_fields(context, jinja_env)
        finally:
            for name, value in audience.items():
                setattr(self, name, value)
        if isinstance(self.numbers, list | tuple) and any(_templated(number) for number in self.numbers):
            jinja_env = jinja_env or self.get_template_env()
            self.numbers = [
                self.render_template(number, context, jinja_env) if _templated(number) else number
                for number in self.numbers
            ]

    def _execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_fullsms import campaigns  # at run time: see FullSmsBaseSendOperator
        from airflow_provider_fullsms.campaigns.window import OutsideWindowTally, SendWindow

        on_unknown = campaigns.OnUnknownOutcome.parse(self.on_unknown_outcome)
        config = self.hook.config  # the connection's extras; no request
        audience = campaigns.Audience.from_params(
            numbers=self.numbers,
            recipients=self.recipients,
            numbers_file=self.numbers_file,
            number_column=self.number_column,
            file_format=self.file_format,
            file_encoding=self.file_encoding,
            default_region=self.default_region or config.default_region,
            number_validation=self.number_validation or config.number_validation,
        )
        source = campaigns.MessageSource.from_params(
            message=self.message,
            template_id=self.template_id,
            message_column=self.message_column,
            personalise=self.personalise,
            has_rows=audience.has_rows,
        )
        exclusions = self._exclusions(audience)
        exclude = exclusions.numbers if exclusions else None
        concurrency = self._concurrency()
        ledger = self._ledger(context)
        send_at = self._send_at(ledger)
        template = self._template(source)
        template_id = str(template.template_id) if template else None
        sender = self.hook.check_sender(self.sender)
        window = SendWindow.parse(self.send_window, fallback_zone=config.timezone)
        # The send_at asked for, not the resolved one: that turns from a time into "now" once it
        # has passed, and a retry must still recognise the campaign it is resuming.
        campaign_key = campaigns.fingerprint("to_numbers", sender, self.send_at, template_id)
        if window is not None:
            campaign_key = campaigns.fingerprint(campaign_key, str(window))
        inspector = self._inspector(template)
        # With a window, the plan also counts who is never inside it (a dry run reports them).
        outside = OutsideWindowTally(window, inspector, send_at, config.tz) if window is not None else None
        plan = campaigns.plan_campaign(
            audience.entries(rows=source.per_row),
            source,
            campaign_key=campaign_key,
            parse_number=audience.parse_number,
            on_batch=inspector if outside is None else outside,
            exclude=exclude,
            group_of=window.group_of if window is not None else None,
            keep=audience.file is None,
        )
        stats = plan.stats
        self.log.info(
            "Audience: %d rows, %d unique valid numbers, %d duplicates, %d invalid, %d excluded; "
            "%d batches, %s distinct texts",
            stats.rows,
            plan.recipients,
            stats.duplicates,
            stats.invalid_count,
            stats.excluded,
            plan.batches,
            plan.distinct_texts,
        )
        fingerprint = self._fingerprint(
            inspector,
            recipients=plan.recipients_fingerprint,
            sender=sender,
            template=template,
            send_window=window,
            exclusions=exclusions.fingerprint() if exclusions else None,
        )
        details = {
            "fingerprint": fingerprint,
            "message": self._message_details(source, sender, template_id),
            **({"exclude": exclusions.summary()} if exclusions else {}),
        }
        if window is not None:
            details["send_window"] = str(window)
        planned = self._plan_or_check(
            plan,
            inspector,
            fingerprint,
            send_at=send_at,
            details={**details, "outside_window": outside.summary()} if outside is not None else details,
        )
        if planned is not None:
            return planned
        # The plan kept its batches unless the audience is big or a file: then it is read again to
        # send, and each batch must be the one checked before it goes out.
        batches: Iterable[Batch] | None = plan.kept
        if batches is None:
            batcher = campaigns.Batcher(
                source,
                campaign_key=campaign_key,
                parse_number=audience.parse_number,
                exclude=exclude,
                group_of=window.group_of if window is not None else None,
            )
            what = "The audience" if audience.file is None else f"The audience file {audience.file}"
            batches = campaigns.as_planned(batcher.batches(audience.entries(rows=source.per_row)), plan, what)
        hook, tz = self.hook, config.tz

        def send(batch: Batch) -> SendResult:
            def request(batch_send_at: str | None) -> SendResult:
                # Numbers FullSMS refuses one by one are dropped and the rest of the batch sent at once.
                return campaigns.send_batch(
                    batch,
                    lambda numbers: hook.send_to_numbers(
                        numbers,
                        message=batch.text,
                        template_id=template_id,
                        sender=sender,
                        send_at=batch_send_at,
                    ),
                )

            # Its send_at is worked out as the batch goes out, so one resumed hours later still
            # respects the window; a batch whose zones never share the window is reported, not sent.
            return request(send_at) if window is None else window.send_batch(batch, send_at, tz, request)

        return self._run(
            context,
            ledger,
            plan,
            batches,
            send,
            inspector=inspector,
            on_unknown=on_unknown,
            max_concurrency=concurrency,
            send_at=send_at,
            details=details,
        )

    def _lineage_inputs(self, host: str) -> list[Any]:
        from airflow_provider_fullsms.lineage import audience_inputs

        return audience_inputs(
            numbers_file=self.numbers_file,
            file_format=self.file_format,
            file_encoding=self.file_encoding,
            exclude=self.exclude,
        )

    def _exclusions(self, audience: Audience) -> Exclusions | None:
        """The ``exclude`` numbers, read once with the audience's rules; ``None`` without any."""
        from airflow_provider_fullsms.campaigns.exclusions import read_exclusions

        if self.exclude is None or self.exclude == "":
            return None
        exclusions = read_exclusions(
            self.exclude,
            parse_number=audience.parse_number,
            number_column=self.exclude_column or self.number_column,
            file_encoding=self.file_encoding,
            on_invalid=self.on_invalid_exclude,
        )
        self.log.info("Exclude: %d numbers never to text", len(exclusions.numbers))
        if exclusions.invalid_count:
            self.log.warning(
                "Exclude: %d entries are not phone numbers, sent anyway (on_invalid_exclude='report'): %s",
                exclusions.invalid_count,
                exclusions.invalid,
            )
        return exclusions

    def _concurrency(self) -> int:
        from airflow_provider_fullsms.connection import check_concurrency

        if self.max_concurrency is None:
            return self.hook.config.max_concurrency
        return check_concurrency(self.max_concurrency)


def _items(value: object) -> Sequence[object]:
    return value if isinstance(value, list | tuple) else ()


def _templated(value: object) -> bool:
    """Whether a number in a list is written as a Jinja template."""
    return type(value) is str and "{" in value
