"""The faults armed through ``/_sandbox/faults`` and which requests they hit.

Pure Python bookkeeping; :mod:`~airflow_provider_fullsms.sandbox.faults` checks the bodies that
arm them and plays them on the wire.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import threading
from dataclasses import dataclass
from typing import Any


class FaultKind(enum.StrEnum):
    """What an armed fault does to the requests it hits (``docs/sandbox.md`` has the table)."""

    LATENCY = "latency"
    RATE_LIMIT = "rate_limit"
    RATE_LIMIT_HTML = "rate_limit_html"
    ERROR = "error"
    ECHO = "echo"
    BAD_BALANCE = "bad_balance"
    DROP = "drop"
    SLOW = "slow"
    REFUSE = "refuse"


#: Kind-specific fields of a fault and their defaults.
FAULT_FIELDS: dict[FaultKind, dict[str, float]] = {
    FaultKind.LATENCY: {"ms": 100},
    FaultKind.RATE_LIMIT: {"retry_after": 1},
    FaultKind.RATE_LIMIT_HTML: {"retry_after": 1},
    FaultKind.ERROR: {"status": 500},
    FaultKind.ECHO: {"status": 502},
    FaultKind.BAD_BALANCE: {},
    FaultKind.DROP: {},
    FaultKind.SLOW: {"seconds": 5},
    FaultKind.REFUSE: {"seconds": 2},
}


@dataclass
class Fault:
    """An armed fault: lets ``after`` matching requests through, then hits ``count`` of them."""

    fault_id: int
    kind: FaultKind
    path: str | None
    after: int
    count: int
    fields: dict[str, float]
    seen: int = 0

    def to_json(self) -> dict[str, Any]:
        """``{"id", "kind", "path", "after", "count", "seen"}`` and the kind's own fields."""
        data = dataclasses.asdict(self)
        fields = data.pop("fields")
        return {"id": data.pop("fault_id"), **data, **fields}


class ArmedFaults:
    """The armed faults, in the order they were armed; ids keep counting across :meth:`clear`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def arm(
        self, kind: FaultKind, path: str | None, after: int, count: int, fields: dict[str, float]
    ) -> Fault:
        """Arm a fault (already checked, see :func:`~airflow_provider_fullsms.sandbox.faults.parse_fault`).

        :param kind: what it does.
        :param path: the vendor path it applies to; ``None`` for every vendor path.
        :param after: matching requests it lets through first.
        :param count: matching requests it hits.
        :param fields: its kind's fields (``ms``, ``retry_after``, ``status``, ``seconds``).
        """
        fault = Fault(next(self._ids), kind, path, after, count, fields)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    def hitting(self, path: str) -> list[Fault]:
        """Count one request on ``path`` against every armed fault; return the faults it triggers.

        A ``refuse`` fault triggers once ``after`` matching requests have been seen (the caller
        opens the window after answering this request); the others hit requests
        ``after + 1`` to ``after + count`` and are then disarmed.

        :param path: the vendor path of the request.
        """
        # Unlocked peek: with nothing armed, a request must cost next to nothing.
        if not self._faults:
            return []
        hits: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.path is not None and fault.path != path:
                    continue
                fault.seen += 1
                if fault.kind == FaultKind.REFUSE:
                    if fault.seen >= fault.after:
                        hits.append(fault)
                        self._faults.remove(fault)
                    continue
                if fault.seen > fault.after:
                    hits.append(fault)
                    if fault.seen >= fault.after + fault.count:
                        self._faults.remove(fault)
        return hits

    def to_json(self) -> list[dict[str, Any]]:
        """The armed faults, as ``GET /_sandbox/faults`` shows them."""
        with self._lock:
            return [fault.to_json() for fault in self._faults]
