"""
The plan of a campaign, before anything is sent: counts, segments, price, samples, fingerprint.

A dry run (``dry_run=True`` on the send operators) and a send read the audience through the same
:func:`~airflow_provider_fullsms.campaigns.batching.plan_campaign`; a :class:`PlanInspector` watches
its batches go by. The fingerprint is made of short hashes, one per thing a person approves, so a
send given the approved fingerprint can say which of them changed (:mod:`.approval`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.campaigns.approval import FINGERPRINT_PARTS, BatchHashes, check_fingerprint
from airflow_provider_fullsms.campaigns.audience import MAX_LISTED_INVALID
from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.sms import MessageAnalysis, analyse_message

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_provider_fullsms.campaigns.batching import Batch, CampaignPlan

__all__ = [  # check_fingerprint and FINGERPRINT_PARTS live in .approval, importable from here too
    "FINGERPRINT_PARTS",
    "MAX_SAMPLES",
    "PlanInspector",
    "Pricing",
    "check_fingerprint",
    "combine_plans",
    "describe_plan",
    "mask_number",
    "plan_summary",
]

#: How many rendered texts a plan shows.
MAX_SAMPLES = 3


def mask_number(number: str) -> str:
    """
    A number recognisable to its owner but not usable: at most half its digits show, never more
    than its first three (the country code) and its last two. ``447700900001`` becomes
    ``447•••••••01``; fewer than six digits are hidden whole.

    Any notation works: each hidden digit becomes one ``•`` and everything else stays, so
    ``+44 7700 900001`` becomes ``+44 7••• ••••01``. Three leading digits at most, not half of
    them: where one run of digits holds two numbers (``7700900 7700901``), each still shows at
    most half of its own.

    :param number: E.164 digits, or a number as written (digits are Unicode decimal digits).
    """
    digits = sum(char.isdecimal() for char in number)
    head, tail = (min(3, digits // 2 - 2), 2) if digits >= 6 else (0, 0)
    seen, shown = 0, []
    for char in number:
        if char.isdecimal():
            seen += 1
            if head < seen <= digits - tail:
                char = "•"
        shown.append(char)
    return "".join(shown)


@dataclass(frozen=True)
class Pricing:
    """
    What a campaign costs and the balance it needs.

    :param price_per_segment: the account's price of one SMS segment; ``None`` when unknown.
    :param minimum_balance: what FullSMS keeps back: it refuses sends when the balance is below it
        (its ``balance_low`` answer says "Balance must be over $…").
    """

    price_per_segment: float | None = None
    minimum_balance: float = 0.0

    def of(self, segments: int) -> dict[str, Any]:
        """``estimated_cost`` and ``required_balance`` of ``segments``, or ``None`` and why not."""
        if self.price_per_segment is None:
            return {
                "price_per_segment": None,
                "minimum_balance": self.minimum_balance,
                "estimated_cost": None,
                "required_balance": None,
                "price_unknown": "No price per segment: set the connection's 'price_per_segment' extra "
                "or pass price_per_segment= to the operator.",
            }
        cost = round(segments * self.price_per_segment, 6)  # 2732 x 0.05 is 136.6, not 136.60000000000002
        return {
            "price_per_segment": self.price_per_segment,
            "minimum_balance": self.minimum_balance,
            "estimated_cost": cost,
            "required_balance": round(cost + self.minimum_balance, 6),
        }


class PlanInspector:
    """
    Watch a campaign's batches: the fingerprint's text and pairing hashes, and when ``analyse`` is
    on, segments per encoding and a few rendered samples.

    Pass it as ``plan_campaign(..., on_batch=inspector)``; a send to lists calls it with its one batch.

    :param analyse: count segments and keep samples (a dry run); a send needs only the hashes.
    :param template_text: the FullSMS template's content when a template is sent (batches then
        carry no text); part of the texts hash.
    :param audience: what names the recipients when batches carry no numbers (a send to lists: its
        list ids); part of the pairing hash, and how samples name their recipient.
    """

    def __init__(
        self, *, analyse: bool = True, template_text: str | None = None, audience: str | None = None
    ) -> None:
        self.analyse = analyse
        self.template_text = template_text
        self.audience = audience
        self.segments = 0
        self.by_encoding: dict[str, dict[str, int]] = {}
        self.samples: list[dict[str, str]] = []
        self._hashes = BatchHashes(audience)
        self._analysed: dict[str, MessageAnalysis] = {}

    def __call__(self, batch: Batch) -> None:
        self._hashes(batch)
        if not self.analyse:
            return
        text = batch.text if batch.text is not None else self.template_text
        if text is None:
            return
        analysis = self._analysis(text)
        self.segments += analysis.segments * batch.recipients
        figures = self.by_encoding.setdefault(analysis.encoding, {"recipients": 0, "segments": 0})
        figures["recipients"] += batch.recipients
        figures["segments"] += analysis.segments * batch.recipients
        if len(self.samples) < MAX_SAMPLES and all(sample["text"] != text for sample in self.samples):
            to = mask_number(batch.numbers[0]) if batch.numbers else (self.audience or "")
            self.samples.append({"to": to, "text": text})

    def _analysis(self, text: str) -> MessageAnalysis:
        analysis = self._analysed.get(text)
        if analysis is None:
            if len(self._analysed) >= 4096:  # fully personalised texts: keep memory flat
                self._analysed.clear()
            analysis = self._analysed[text] = analyse_message(text)
        return analysis

    def fingerprint(
        self,
        *,
        recipients: object,
        sender: object,
        schedule: object,
        template_id: object = None,
        window: object = None,
        exclusions: object = None,
    ) -> str:
        """
        The campaign's fingerprint (see :mod:`.approval`), once every batch went by.

        :param recipients: who is texted: the plan's
            :attr:`~airflow_provider_fullsms.campaigns.batching.CampaignPlan.recipients_fingerprint`.
        :param template_id: the FullSMS template sent, if any (its content is the inspector's).
        :param window: the ``send_window`` and what places a number nowhere; ``None`` without one.
        :param exclusions: the ``exclude`` list's content hash; ``None`` without one.
        """
        template = None if template_id is None else (template_id, self.template_text)
        return self._hashes.fingerprint(
            recipients=recipients,
            sender=sender,
            schedule=schedule,
            template=template,
            window=window,
            exclusions=exclusions,
        )


def plan_summary(
    plan: CampaignPlan,
    inspector: PlanInspector,
    pricing: Pricing,
    *,
    fingerprint: str,
    send_at: str | None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """
    The dry run's result (XCom): what the send would do and cost; never the audience.

    :param details: extra entries (e.g. the list ids of a send to lists).
    """
    stats = plan.stats
    return {
        "dry_run": True,
        "recipients": plan.recipients,
        "invalid": {
            "count": stats.invalid_count,
            "numbers": list(stats.invalid),
            "reasons": dict(stats.reasons),
        },
        "duplicates": stats.duplicates,
        "excluded": stats.excluded,
        "batches": plan.batches,
        "segments": inspector.segments,
        "by_encoding": {name: dict(figures) for name, figures in inspector.by_encoding.items()},
        **pricing.of(inspector.segments),
        "samples": list(inspector.samples),
        "scheduled": send_at is not None,
        "send_at": send_at,
        "fingerprint": fingerprint,
        **(details or {}),
    }


def combine_plans(plans: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """
    The plan of a campaign sent in parts (shards, one send task each), from the parts' plans.

    Counts, segments and costs add up; the minimum balance is kept back once, so
    ``required_balance`` is the total cost plus it. ``fingerprints`` lists each part's, in order,
    for its send's ``expected_fingerprint``.
    """
    parts = list(plans)
    if not parts:
        raise CampaignInputError("No plans to combine: plan at least one part with dry_run=True.")
    first = parts[0]
    by_encoding: dict[str, dict[str, int]] = {}
    samples: list[dict[str, str]] = []
    for part in parts:
        for name, figures in part["by_encoding"].items():
            total = by_encoding.setdefault(name, {"recipients": 0, "segments": 0})
            for key in total:
                total[key] += figures[key]
        samples.extend(s for s in part["samples"] if all(s["text"] != k["text"] for k in samples))
    pricing = Pricing(first["price_per_segment"], first["minimum_balance"])
    segments = sum(part["segments"] for part in parts)
    return {
        "dry_run": True,
        "parts": len(parts),
        "recipients": sum(part["recipients"] for part in parts),
        "invalid": {
            "count": sum(part["invalid"]["count"] for part in parts),
            "numbers": [n for part in parts for n in part["invalid"]["numbers"]][:MAX_LISTED_INVALID],
            "reasons": dict(sum((Counter(part["invalid"]["reasons"]) for part in parts), Counter())),
        },
        "duplicates": sum(part["duplicates"] for part in parts),
        "excluded": sum(part["excluded"] for part in parts),
        "batches": sum(part["batches"] for part in parts),
        "segments": segments,
        "by_encoding": by_encoding,
        **pricing.of(segments),
        "samples": samples[:MAX_SAMPLES],
        "scheduled": first["scheduled"],
        "send_at": first["send_at"],
        "fingerprints": [part["fingerprint"] for part in parts],
    }


def describe_plan(plan: Mapping[str, Any]) -> str:
    """A plan in Markdown, for a person to approve (e.g. the ``body`` of Airflow's ``ApprovalOperator``)."""
    cost = plan["estimated_cost"]
    encodings = ", ".join(f"{f['recipients']:,} {name}" for name, f in sorted(plan["by_encoding"].items()))
    lines = [
        f"**{plan['recipients']:,} recipients**, {plan['segments']:,} SMS segments ({encodings}), "
        f"{plan['batches']:,} requests" + (f", scheduled for {plan['send_at']}" if plan["send_at"] else ""),
        "",
        f"- estimated cost: **{cost:,.2f}**, required balance {plan['required_balance']:,.2f}"
        if cost is not None
        else f"- estimated cost: unknown ({plan['price_unknown']})",
        f"- left out: {plan['invalid']['count']:,} invalid, {plan['duplicates']:,} duplicates, "
        f"{plan['excluded']:,} excluded",
        "",
        "Samples:",
        "",
        *(f"- to {sample['to']}: {sample['text']}" for sample in plan["samples"]),
    ]
    return "\n".join(lines)


def describe_plan_briefly(plan: Mapping[str, Any]) -> str:
    """
    A plan in one line of plain text, short enough for one SMS with a subject before it: e.g. the
    text a :class:`~airflow_provider_fullsms.notifications.fullsms.FullSmsNotifier` sends the
    approver when an ``ApprovalOperator`` starts waiting (``"1,800 recipients, 1,800 SMS segments,
    cost 90.00"``).
    """
    cost = plan["estimated_cost"]
    return (
        f"{plan['recipients']:,} recipients, {plan['segments']:,} SMS segments, "
        + (f"cost {cost:,.2f}" if cost is not None else "cost unknown (no price_per_segment)")
        + (f", scheduled for {plan['send_at']}" if plan.get("send_at") else "")
    )
