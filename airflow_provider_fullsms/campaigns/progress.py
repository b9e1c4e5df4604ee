"""
Progress lines for a campaign's log: what is sent, how fast, and what is left.

:class:`ProgressLog` writes at most one line every ``interval`` seconds while the batches go out
(and one at the end); :class:`Progress` is one line's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_fullsms.campaigns.report import CampaignReport


class ProgressLog:
    """Log a progress line at most every ``interval`` seconds."""

    def __init__(
        self, report: CampaignReport, log: Callable[[str], None], interval: float, clock: Callable[[], float]
    ) -> None:
        self.report, self.log, self.interval, self.clock = report, log, interval, clock
        self.started = self.last = clock()

    def maybe_log(self) -> None:
        if self.clock() - self.last >= self.interval:
            self.log_now()

    def log_now(self) -> None:
        self.last = now = self.clock()
        report = self.report
        self.log(
            Progress(
                done_recipients=report.sent_recipients,
                total_recipients=report.recipients_total,
                done_batches=report.sent_batches,
                total_batches=report.batches_total,
                elapsed=now - self.started,
                unknown_recipients=report.unknown_recipients,
                unknown_batches=report.unknown_batches,
            ).describe()
        )


@dataclass(frozen=True)
class Progress:
    """A progress snapshot for the log."""

    done_recipients: int
    total_recipients: int
    done_batches: int
    total_batches: int
    elapsed: float
    unknown_recipients: int = 0
    unknown_batches: int = 0

    def describe(self) -> str:
        """
        E.g. ``"Sent 120000/1000000 recipients (240/2000 batches), 4000/s, ETA 3m40s"``.

        Only recipients counted as sent are "sent"; those whose outcome is unknown are named apart.
        """
        handled = self.done_recipients + self.unknown_recipients
        rate = handled / self.elapsed if self.elapsed > 0 else 0.0
        remaining = max(self.total_recipients - handled, 0)
        eta = _duration(remaining / rate) if rate > 0 else "unknown"
        unknown = (
            f"; outcome unknown: {self.unknown_recipients} recipients ({self.unknown_batches} batches)"
            if self.unknown_batches
            else ""
        )
        return (
            f"Sent {self.done_recipients}/{self.total_recipients} recipients "
            f"({self.done_batches}/{self.total_batches} batches){unknown}, {rate:,.0f}/s, ETA {eta}"
        )


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
