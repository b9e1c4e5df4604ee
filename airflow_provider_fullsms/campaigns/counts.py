"""
A campaign's figures in one flat shape, read from its summary: what lineage, metrics and asset
events report, so all three say the same thing. Pure Python: no Airflow, no OpenLineage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

#: The summary entries an asset event's ``extra`` carries besides the counts (all small).
_EXTRA_KEYS = ("campaign_ids", "send_at", "scheduled", "fingerprint")


@dataclass(frozen=True)
class CampaignCounts:
    """
    What a campaign came to, per recipient and in money.

    :param recipients: unique valid recipients planned (after duplicates and exclusions).
    :param accepted: recipients FullSMS accepted (sent, or scheduled with ``send_at``).
    :param invalid: numbers refused, here or by FullSMS.
    :param excluded: valid recipients left out because they are on the ``exclude`` list.
    :param unknown: recipients of batches whose outcome is unknown (never resent automatically).
    :param segments: SMS segments of the campaign, when known (a price, or a dry run).
    :param cost: the campaign's cost at ``price_per_segment``; ``None`` without a price.
    """

    recipients: int
    accepted: int
    invalid: int
    excluded: int
    unknown: int
    segments: int | None
    cost: float | None

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> CampaignCounts:
        """The figures of a send operator's summary (its return value and XCom)."""
        invalid = summary.get("invalid") or {}
        return cls(
            recipients=int(summary.get("recipients") or 0),
            accepted=int(summary.get("sent") or 0),
            invalid=int(invalid.get("count") or 0) if isinstance(invalid, dict) else 0,
            excluded=int(summary.get("excluded") or 0),
            unknown=int(summary.get("unknown_recipients") or 0),
            segments=_optional_int(summary.get("segments")),
            cost=_optional_float(summary.get("estimated_cost")),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def asset_extra(summary: dict[str, Any], *, nested: bool = True) -> dict[str, Any]:
    """
    What an asset event of a finished campaign carries in ``extra``: its counts, campaign ids,
    schedule and fingerprint (JSON-able and small: never a number of the audience).

    :param nested: whether Airflow takes lists and dicts as values of an asset alias event's
        ``extra``. Airflow 2.11 and 3.0 hash the extra (``frozenset(extra.items())``) and fail the
        task that emitted it when a value is a list or a dict; with ``nested=False`` those values
        are JSON text instead. :func:`read_asset_extra` reads either shape.
    """
    extra = {
        **CampaignCounts.from_summary(summary).as_dict(),
        **{key: summary[key] for key in _EXTRA_KEYS if key in summary},
        "batches": {
            key: (summary.get("batches") or {}).get(key, 0)
            for key in ("total", "accepted", "skipped_already_accepted", "assumed_sent")
        },
    }
    if nested:
        return extra
    return {
        key: json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value
        for key, value in extra.items()
    }


def read_asset_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """
    A campaign asset event's ``extra`` as :func:`asset_extra` built it, whichever Airflow stored
    it: ``campaign_ids`` a list and ``batches`` a dict, also where they were sent as JSON text.
    """
    read = dict(extra)
    for key in ("campaign_ids", "batches"):
        if isinstance(read.get(key), str):
            read[key] = json.loads(read[key])
    return read


def _optional_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
