"""
When a campaign goes out: ``send_at`` in FullSMS's format, and the rule for a late run.

A ``send_at`` in the past by more than a tolerance is refused, so a backfilled or late run does
not text people at the wrong time; one just past (a run that starts a little after
``data_interval_end``) sends now. A retry of a campaign an earlier try already started is not
refused for lateness: part of the audience has the text, so the rest goes out now rather than never.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from airflow_provider_fullsms.connection import SEND_AT_FORMAT, format_send_at
from airflow_provider_fullsms.exceptions import CampaignInputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pendulum.tz.timezone import FixedTimezone, Timezone


def resolve_send_at(
    send_at: datetime | str | None,
    tz: Timezone | FixedTimezone,
    *,
    tolerance: float,
    resuming: bool,
    log: Callable[[str], None],
    now: datetime | None = None,
) -> str | None:
    """
    ``send_at`` in FullSMS's ``YYYY-MM-DD HH:MM:SS`` (the account's timezone), or ``None`` to send now.

    :param tz: the connection's timezone.
    :param tolerance: seconds ``send_at`` may lie in the past; it is then sent at once.
    :param resuming: whether an earlier try of the task started this campaign.
    :param log: receives a line when the campaign is sent now instead of at ``send_at``.
    :raises CampaignInputError: a ``send_at`` further in the past than ``tolerance`` on a first try.
    """
    formatted = format_send_at(send_at, tz)
    if formatted is None:
        return None
    when = datetime.strptime(formatted, SEND_AT_FORMAT).replace(tzinfo=tz)
    late = ((now or datetime.now(UTC)) - when).total_seconds()
    if late > tolerance and resuming:
        log(
            f"send_at {formatted} is {timedelta(seconds=int(late))} in the past, but an earlier try of "
            "this task started the campaign: sending its remaining batches now."
        )
        return None
    if late > tolerance:
        raise CampaignInputError(
            f"send_at={send_at!s} ({formatted} {tz.name}) is {timedelta(seconds=int(late))} in the past, "
            "so nothing was sent: pass a future time, or no send_at to send now (a backfilled run "
            "usually should not send at all)."
        )
    if late >= 0:
        log(f"send_at {formatted} is {late:.0f}s ago (within send_at_tolerance): sending now.")
        return None
    return formatted


def utc_send_at(send_at: str, tz: Timezone | FixedTimezone) -> str:
    """
    FullSMS's ``send_at`` (``YYYY-MM-DD HH:MM:SS`` in the account's timezone) as ISO 8601 in UTC.

    :param tz: the connection's timezone.
    """
    return datetime.strptime(send_at, SEND_AT_FORMAT).replace(tzinfo=tz).astimezone(UTC).isoformat()
