"""The list operator: one FullSMS campaign to the subscribed contacts of the account's contact lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.operators.base import SEND_TEMPLATE_FIELDS, FullSmsBaseSendOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fullsms.campaigns import Batch, SendResult


class FullSmsSendToListsOperator(FullSmsBaseSendOperator):
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
    :param ledger_write_window: see :class:`FullSmsSendToNumbersOperator`.
    :param ledger_retention: how long the ledger is kept (see :class:`FullSmsSendToNumbersOperator`).
    :param dry_run: send nothing and return the plan (see :class:`FullSmsSendToNumbersOperator`);
        its ``recipients`` are the lists' subscribed contacts.
    :param price_per_segment: the price of one SMS segment for a dry run. Templated.
    :param expected_fingerprint: an approved plan's ``fingerprint``; a different campaign fails
        before sending, naming what changed. Templated.
    :param fullsms_conn_id: the FullSMS connection.
    :return: a summary: the campaign id, and as ``recipients`` the sum of the lists' subscribed
        contacts when sent -- an upper bound, since FullSMS does not answer a count for list sends
        and texts a contact on two of the lists once. With ``dry_run``, the plan.
    """

    template_fields: Sequence[str] = ("list_ids", *SEND_TEMPLATE_FIELDS)

    def __init__(self, *, list_ids: Sequence[int | str] | int | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.list_ids = list_ids

    def _execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_fullsms import campaigns  # at run time: see FullSmsBaseSendOperator

        on_unknown = campaigns.OnUnknownOutcome.parse(self.on_unknown_outcome)
        source = campaigns.MessageSource.from_params(
            message=self.message, template_id=self.template_id, rows_possible=False
        )
        text = campaigns.checked_text(source.message) if source.message is not None else None
        list_ids = self._list_ids()
        ledger = self._ledger(context)
        send_at = self._send_at(ledger)
        subscribed = sum(item.subscribed_contacts for item in self.hook.get_contact_lists_by_id(list_ids))
        template = self._template(source)
        template_id = str(template.template_id) if template else None
        sender = self.hook.check_sender(self.sender)
        # self.send_at, not the resolved send_at: see FullSmsSendToNumbersOperator._execute.
        campaign_key = campaigns.fingerprint("to_lists", sender, self.send_at, template_id, text, list_ids)
        plan, batch = campaigns.plan_list_campaign(campaign_key, text, subscribed, lists=list_ids)
        inspector = self._inspector(template, audience=f"contact lists {list_ids}")
        inspector(batch)
        fingerprint = self._fingerprint(
            inspector, recipients=plan.recipients_fingerprint, sender=sender, template=template
        )
        details = {
            "list_ids": list_ids,
            "fingerprint": fingerprint,
            "message": self._message_details(source, sender, template_id),
        }
        planned = self._plan_or_check(plan, inspector, fingerprint, send_at=send_at, details=details)
        if planned is not None:
            return planned
        hook = self.hook

        def send(batch: Batch) -> SendResult:
            answer = hook.send_to_lists(
                list_ids, message=batch.text, template_id=template_id, sender=sender, send_at=send_at
            )
            return campaigns.SendResult.of(answer, batch)

        return self._run(
            context,
            ledger,
            plan,
            [batch],
            send,
            inspector=inspector,
            on_unknown=on_unknown,
            max_concurrency=1,
            send_at=send_at,
            details=details,
        )

    def _lineage_inputs(self, host: str) -> list[Any]:
        from airflow_provider_fullsms.lineage import list_dataset

        return [list_dataset(host, list_id) for list_id in self._list_ids()]

    def _list_ids(self) -> list[int]:
        from airflow_provider_fullsms.campaigns import CampaignInputError, as_list

        ids = []
        for item in as_list(self.list_ids, "list_ids"):
            try:
                ids.append(int(str(item).strip()))
            except ValueError:
                raise CampaignInputError(
                    f"List id {item!r} is not a number: list ids are integers such as 7."
                ) from None
        if not ids:
            raise CampaignInputError("list_ids is empty: pass the ids of the contact lists to send to.")
        return list(dict.fromkeys(ids))
