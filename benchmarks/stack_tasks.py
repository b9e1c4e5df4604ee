"""
The tasks of :mod:`benchmarks.bench_throughput_stack`, run by a real Airflow: each times its own send.

* :class:`TimedSendToNumbersOperator` is the provider's ``FullSmsSendToNumbersOperator`` as it is,
  its ``execute`` timed from its first line to its last, and its ledger store (the one the
  provider picks: ``task_state_store`` on Airflow 3.3, Variables before) counted and timed call by
  call, so the figures say how many ledger writes went through the supervisor and the api-server
  and how long the task waited for them.
* :class:`LimitSendOperator` is the limit: the audience file read and cut into 500-number bodies
  first, untimed, then only the sending timed -- 8 threads over keep-alive connections
  (:func:`benchmarks.bench_throughput.run_limit`), nothing else.
* :class:`LedgerWritesOperator` (diagnosis): the ledger's writes of a campaign alone, no send --
  what each write costs through the api-server when no send competes.

Each pushes its figures to the XCom ``bench``. The DAG file that uses them is
``benchmarks/stack_dags/bench_throughput_stack.py``; the stack puts this checkout on ``PYTHONPATH``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fullsms.campaigns import Ledger

#: The XCom key each task pushes its figures under.
XCOM_KEY = "bench"


class TimedStore:
    """
    A ledger store's ``get`` and ``set``, passed on unchanged, each call counted and timed.

    :param store: the store the provider picked (``task_state_store`` or its Variables).
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.sets: list[float] = []
        self.gets: list[float] = []

    def get(self, key: str, default: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return self.store.get(key, default)
        finally:
            self.gets.append(time.perf_counter() - started)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            self.store.set(key, value, **kwargs)
        finally:
            self.sets.append(time.perf_counter() - started)

    def figures(self) -> dict[str, Any]:
        """Writes and reads: count, seconds in all, and the median and 95th percentile write (ms)."""
        ordered = sorted(self.sets)

        def percentile(share: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

        return {
            "store": f"{type(self.store).__module__}.{type(self.store).__name__}",
            "sets": len(self.sets),
            "set_seconds": sum(self.sets),
            "set_median_ms": percentile(0.5),
            "set_p95_ms": percentile(0.95),
            "gets": len(self.gets),
            "get_seconds": sum(self.gets),
        }


class TimedSendToNumbersOperator(FullSmsSendToNumbersOperator):
    """
    ``FullSmsSendToNumbersOperator``, unchanged but for a stopwatch around ``execute`` and a
    counter around its ledger store.

    :param read_first: read ``numbers_file`` (a header row, one number a line) into ``numbers``
        before the clock starts, as the limit reads its payloads, so both sides start from the
        audience in memory (as in :mod:`benchmarks.bench_throughput`); ``False``: the provider
        reads the file itself, twice (to check every number, then to send), on the clock.
    :param in_memory_ledger: diagnosis only: keep the ledger in the task's memory
        (:class:`~airflow_provider_fullsms.sandbox.testing.MemoryStateStore`, JSON-copied as the real
        store is) instead of the store Airflow gives the task (what the path through the api-server costs).
    """

    def __init__(self, *, read_first: bool = True, in_memory_ledger: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read_first = read_first
        self.in_memory_ledger = in_memory_ledger
        self._timed: TimedStore | None = None

    def _ledger(self, context: Context) -> Ledger:
        ledger = super()._ledger(context)
        if self.in_memory_ledger:
            from airflow_provider_fullsms.sandbox.testing import MemoryStateStore

            ledger.store = MemoryStateStore()
        if ledger.store is not None:
            self._timed = TimedStore(ledger.store)
            ledger.store = self._timed
        return ledger

    def execute(self, context: Context) -> Any:
        if self.read_first:
            self.numbers, self.numbers_file = read_numbers(str(self.numbers_file)), None
        started = time.perf_counter()
        summary = super().execute(context)
        seconds = time.perf_counter() - started
        figures = {"seconds": seconds, "sent": summary["sent"], "batches": summary["batches"]["total"]}
        if self._timed is not None:
            figures.update(self._timed.figures())
        context["ti"].xcom_push(key=XCOM_KEY, value=figures)
        return None  # the summary is not what is measured: keep the XCom small


class LimitSendOperator(BaseOperator):
    """
    The limit, as a task: the audience's 500-number bodies built first (untimed), then sent by
    ``concurrency`` threads over keep-alive connections, and only that timed. The sender is the
    benchmarks' own (:data:`benchmarks._common.SENDER`), the connection's default sender.

    :param numbers_file: a CSV with a header row and one number a line. Templated.
    :param conn_id: the FullSMS connection to read the URL and token from.
    """

    template_fields = ("numbers_file",)

    def __init__(
        self,
        *,
        numbers_file: str,
        message: str,
        concurrency: int = 8,
        conn_id: str = "fullsms_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.numbers_file = numbers_file
        self.message = message
        self.concurrency = concurrency
        self.conn_id = conn_id

    def execute(self, context: Context) -> Any:
        from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
        from benchmarks.bench_throughput import payloads, run_limit

        config = FullSmsHook(fullsms_conn_id=self.conn_id).config
        bodies = payloads(read_numbers(self.numbers_file), self.message)
        result = run_limit(config.base_url, config.token, bodies, concurrency=self.concurrency)
        context["ti"].xcom_push(key=XCOM_KEY, value={"seconds": result["seconds"], "sent": result["sent"]})


class LedgerWritesOperator(BaseOperator):
    """
    Diagnosis: ``writes`` ledger writes of the size a campaign's are, one after another, nothing
    sent, to the store the provider would pick -- the cost of a write through the api-server alone.
    """

    def __init__(self, *, writes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writes = writes

    def execute(self, context: Context) -> Any:
        from airflow_provider_fullsms.operators.base import _ledger_store

        store = TimedStore(_ledger_store(context))
        record = {
            "s": "accepted", "fp": "f" * 16, "n": 500, "a": 1, "h": "h" * 16,
            "at": "2026-01-01T00:00:00+00:00", "f": "447•••••••00", "l": "447•••••••99",
            "c": 123456, "t": 500, "i": 0, "iv": [],
        }  # fmt: skip
        started = time.perf_counter()
        for index in range(self.writes):
            store.set(f"fullsms.batch.{index // 2}", record, **_never_expires())
        seconds = time.perf_counter() - started
        context["ti"].xcom_push(key=XCOM_KEY, value={"seconds": seconds, "sent": 0, **store.figures()})


def read_numbers(path: str) -> list[str]:
    """The numbers of an audience file of the benchmark's: a header row, then one number a line."""
    with open(path, encoding="utf-8") as audience:
        next(audience)
        return [line.strip() for line in audience if line.strip()]


def _never_expires() -> dict[str, Any]:
    from airflow_provider_fullsms.campaigns.ledger import never_expire

    return {"retention": never_expire()}
