"""
Sending one batch when FullSMS refuses some of its numbers: drop them, send the rest at once.

FullSMS answers ``422`` with ``errors: {"to_numbers.N": ["Given number is invalid or could not
receive messages"]}`` when it refuses recipients of a request; it then sent nothing for that
request. Such a refusal concerns those people only, never the campaign: the named numbers are
reported invalid with FullSMS's reason and the rest of the batch is sent again in the same try.
Numbers listed in a ``200`` answer's ``invalid`` are reported the same way, and an answer that
does not add up leaves the rest unknown (:meth:`SendResult.of`). Any other error is left to the
caller (:func:`~airflow_provider_fullsms.outcomes.classify_failure`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_provider_fullsms.campaigns.answers import SendResult
from airflow_provider_fullsms.exceptions import FullSmsApiError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_fullsms.campaigns.batching import Batch
    from airflow_provider_fullsms.models import Campaign

_NUMBER_FIELD = re.compile(r"to_numbers\.(\d+)")


def refused_numbers(error: BaseException, numbers: Sequence[str]) -> dict[str, str]:
    """
    The numbers a 422 names, with FullSMS's reason; empty when the error is about anything else.

    Only a 422 whose every field error names a recipient (``to_numbers.N`` within ``numbers``)
    counts: an error about the message, sender or template concerns every batch.
    """
    if not isinstance(error, FullSmsApiError) or error.status_code != 422 or not error.errors:
        return {}
    refused = {}
    for name, messages in error.errors.items():
        match = _NUMBER_FIELD.fullmatch(name)
        if match is None or int(match.group(1)) >= len(numbers):
            return {}
        refused[numbers[int(match.group(1))]] = " ".join(messages) or "refused by FullSMS"
    return refused


def send_batch(batch: Batch, send_numbers: Callable[[Sequence[str]], Campaign]) -> SendResult:
    """
    Send ``batch`` with ``send_numbers``; numbers FullSMS refuses are dropped and the rest resent.

    Each round drops at least one number, so a batch of 500 makes at most 500 requests; in practice
    one or two.

    :param send_numbers: sends one request (``hook.send_to_numbers`` with the message bound).
    :return: FullSMS's answer for the numbers it accepted, with the refused ones in ``invalid``.
    """
    numbers: list[str] = list(batch.numbers)
    refused: dict[str, str] = {}
    while numbers:
        try:
            campaign = send_numbers(numbers)
        except FullSmsApiError as error:
            named = refused_numbers(error, numbers)
            if not named:
                raise
            refused.update(named)
            numbers = [number for number in numbers if number not in named]
            continue
        # The numbers its answer lists invalid, and whether it adds up, are read there.
        return SendResult.of(campaign, batch, refused=refused)
    return SendResult.nobody(refused)
