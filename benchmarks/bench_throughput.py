"""
Benchmark: campaign throughput, the provider against the limit and against a naive loop.

One text to N recipients (200,000 by default) through a sandbox that adds 50 ms to every send
request, as a real API far away would:

* (a) **provider**: ``FullSmsSendToNumbersOperator(max_concurrency=8).execute()`` with the ledger
  on -- checks, parsing, de-duplication, batching, the ledger in Airflow's own task state store
  (:class:`~benchmarks._common.TaskSideStateStore`), the hook -- everything a task does;
* (b) **naive**: what a user writes today: ``requests.post`` per 500-number batch, sequential,
  a new connection each time;
* (c) **limit**: the same pre-built payloads sent by 8 threads over keep-alive connections (one
  ``requests.Session`` per thread) and nothing else: no provider could beat it with 8 in flight;
* (a') and (c'): the same with 100,000 numbers written in national format (``07700 900123``) and
  ``default_region="GB"``: reading them is part of the provider's pre-send pass.

Targets, each a ratio of sides measured in the same run: (a)/(c) <= 1.05 and (a')/(c') <= 1.10,
the median of five alternating pairs (two runs back to back share the machine's load of that
moment), and (b)/(a) >= 6 (fastest (a)). Every run, the pairs' ratios and the absolute times are
printed as information.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_throughput               # 200,000 recipients
    .venv/bin/python -m benchmarks.bench_throughput --small       # a seconds-long smoke run
"""

from __future__ import annotations

import argparse
import queue
import statistics
import threading
import time
from typing import TYPE_CHECKING, Any

from benchmarks._common import (
    SEND_PATH,
    SENDER,
    Check,
    TaskSideStateStore,
    bench_sandbox,
    chunks,
    ensure_airflow_home,
    fresh,
    markdown_table,
    numbers,
    report,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

FULL_RECIPIENTS = 200_000
SMALL_RECIPIENTS = 4_000
#: The national-format audience is half the size of the canonical one.
NATIONAL_SHARE = 2
REGION = "GB"
LATENCY_MS = 50.0
CONCURRENCY = 8
REPEAT = 5
TEXT = "Benchmark: your order has shipped and will arrive tomorrow. Reply STOP to opt out."
AC_LIMIT = 1.05
NATIONAL_LIMIT = 1.10
BA_TARGET = 6.0
COMMAND = ".venv/bin/python -m benchmarks.bench_throughput"


def payloads(audience: list[str], text: str = TEXT) -> list[dict[str, Any]]:
    """The JSON bodies of the sends, built once: 500 numbers each."""
    return [{"to_numbers": batch, "from": SENDER, "message": text} for batch in chunks(audience)]


def national(count: int) -> tuple[list[str], list[str]]:
    """``count`` UK mobile numbers as people write them (``07700 900123``), and their E.164 digits."""
    written = [f"07{700 + i // 1_000_000:03d} {i % 1_000_000:06d}" for i in range(count)]
    return written, [f"447{700 + i // 1_000_000:03d}{i % 1_000_000:06d}" for i in range(count)]


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def run_provider(
    audience: list[str],
    *,
    concurrency: int = CONCURRENCY,
    text: str = TEXT,
    default_region: str | None = None,
) -> dict[str, Any]:
    """(a) The operator's ``execute`` with the ledger in Airflow's task state store, as a task runs it."""
    from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

    operator = FullSmsSendToNumbersOperator(
        task_id="bench_throughput",
        numbers=audience,
        message=text,
        max_concurrency=concurrency,
        default_region=default_region,
    )
    store = TaskSideStateStore()
    started = time.perf_counter()
    summary = execute(operator, {"task_state_store": store})
    seconds = time.perf_counter() - started
    operator.hook.close()
    return {"seconds": seconds, "sent": summary["sent"], "store_sets": store.sets, "store_s": store.seconds}


def execute(operator: Any, context: dict[str, Any]) -> Any:
    """
    ``operator.execute(context)`` the way the task runner calls it.

    The runner passes Airflow's executor-safeguard sentinel; without it every call logs
    "cannot be called outside of the Task Runner!", which says nothing about what we measure.
    """
    from airflow.sdk.bases.operator import ExecutorSafeguard

    sentinel = {f"{type(operator).__name__}__sentinel": ExecutorSafeguard.sentinel_value}
    return operator.execute(context, **sentinel)


def planning_seconds(audience: list[str], text: str = TEXT, default_region: str | None = None) -> float:
    """
    The provider's pre-send pass alone: read, check, de-duplicate and batch the whole audience.

    It is the part of (a) that cannot overlap the network (everything is checked before the first
    send), so it is most of what (a) pays beyond (c).
    """
    from airflow_provider_fullsms.campaigns import MessageSource, entries_from_numbers, plan_campaign
    from airflow_provider_fullsms.phones import NumberParser

    parse = NumberParser(default_region).parse
    started = time.perf_counter()
    plan_campaign(
        entries_from_numbers(audience), MessageSource(message=text), campaign_key="bench", parse_number=parse
    )
    return time.perf_counter() - started


def run_naive(url: str, token: str, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """(b) A loop of ``requests.post``: sequential, and a new TCP connection for every batch."""
    import requests

    sent = 0
    started = time.perf_counter()
    for body in bodies:
        response = requests.post(f"{url}{SEND_PATH}", json=body, headers=headers(token), timeout=30)
        response.raise_for_status()
        sent += len(body["to_numbers"])
    return {"seconds": time.perf_counter() - started, "sent": sent}


def run_limit(
    url: str, token: str, bodies: list[dict[str, Any]], *, concurrency: int = CONCURRENCY
) -> dict[str, Any]:
    """(c) The pre-built bodies, ``concurrency`` threads, a keep-alive ``Session`` per thread."""
    import requests

    work: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    sent = [0] * concurrency
    errors: list[BaseException] = []
    sessions = [requests.Session() for _ in range(concurrency)]
    for session in sessions:
        session.headers.update(headers(token))

    def worker(slot: int) -> None:
        session = sessions[slot]
        try:
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                session.post(f"{url}{SEND_PATH}", json=body, timeout=30).raise_for_status()
                sent[slot] += len(body["to_numbers"])
        except BaseException as err:  # reported after the join: a thread cannot raise to us
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for session in sessions:
        session.close()
    if errors:
        raise errors[0]
    return {"seconds": seconds, "sent": sum(sent)}


def measure(
    sandbox: SandboxProcess, label: str, run: Any, *, latency_ms: float, audience_size: int
) -> dict[str, Any]:
    """Run one side against a freshly reset sandbox; count the requests it made and who got it."""
    fresh(sandbox, latency_ms=latency_ms)
    result = dict(run())
    result["label"] = label
    result["requests"] = sandbox.client.requests_count(SEND_PATH)
    result["recipients_per_s"] = result["sent"] / result["seconds"]
    if result["sent"] != audience_size:
        raise RuntimeError(f"{label}: sent {result['sent']} of {audience_size}")
    return result


class SideBySide:
    """
    A provider side and its limit, run alternately ``repeat`` times, in pairs.

    The two runs of a pair follow each other, so they share the machine's background load of
    that moment; the median of the pairs' ratios is the verdict (an unlucky or lucky pair moves
    it little). The ratio of each side's fastest run is printed beside it.
    """

    def __init__(self, provider: list[dict[str, Any]], limit: list[dict[str, Any]]) -> None:
        self.provider, self.limit = provider, limit

    @classmethod
    def run(
        cls,
        repeat: int,
        measure_provider: Callable[[], dict[str, Any]],
        measure_limit: Callable[[], dict[str, Any]],
    ) -> SideBySide:
        provider: list[dict[str, Any]] = []
        limit: list[dict[str, Any]] = []
        for _ in range(max(1, repeat)):
            limit.append(measure_limit())
            provider.append(measure_provider())
        return cls(provider, limit)

    @property
    def best(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return min(self.provider, key=lambda r: r["seconds"]), min(self.limit, key=lambda r: r["seconds"])

    @property
    def pairs(self) -> list[float]:
        return [p["seconds"] / c["seconds"] for p, c in zip(self.provider, self.limit, strict=True)]

    @property
    def ratio(self) -> float:
        """The verdict: the median of the pairs' ratios."""
        return statistics.median(self.pairs)

    def spread(self) -> str:
        """Every run's seconds, the pairs' ratios and the fastest runs' ratio."""
        provider, limit = self.best
        fastest = provider["seconds"] / limit["seconds"]
        runs = ", ".join(f"{r['seconds']:.2f}" for r in self.provider)
        limits = ", ".join(f"{r['seconds']:.2f}" for r in self.limit)
        ratios = ", ".join(f"{x:.3f}" for x in self.pairs)
        return (
            f"provider {runs} s; limit {limits} s; pair ratios {ratios} (median {self.ratio:.3f}; "
            f"fastest against fastest {fastest:.3f})"
        )


def run(
    recipients: int = FULL_RECIPIENTS, *, latency_ms: float = LATENCY_MS, repeat: int = REPEAT
) -> dict[str, Any]:
    """
    Measure (a), (b), (c), (a') and (c') in one run against one sandbox.

    :return: ``{"rows": [(a), (b), (c), (a'), (c')], "checks": [...], "text": <the printed section>}``.
    """
    ensure_airflow_home()
    audience = numbers(recipients)
    bodies = payloads(audience)
    written, digits = national(max(1, recipients // NATIONAL_SHARE))
    national_bodies = payloads(digits)
    with bench_sandbox() as sandbox:
        url, token = sandbox.url, sandbox.token

        def side(label: str, size: int, call: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
            return lambda: measure(sandbox, label, call, latency_ms=latency_ms, audience_size=size)

        canonical = SideBySide.run(
            repeat,
            side(
                "(a) provider: FullSmsSendToNumbersOperator, max_concurrency=8",
                recipients,
                lambda: run_provider(audience),
            ),
            side(
                "(c) limit: pre-built payloads, 8 threads, keep-alive",
                recipients,
                lambda: run_limit(url, token, bodies),
            ),
        )
        regional = SideBySide.run(
            repeat,
            side(
                f"(a') provider, {len(written):,} national numbers, default_region={REGION!r}",
                len(written),
                lambda: run_provider(written, default_region=REGION),
            ),
            side(
                "(c') limit: their E.164 payloads, 8 threads, keep-alive",
                len(written),
                lambda: run_limit(url, token, national_bodies),
            ),
        )
        naive = side(
            "(b) naive: requests.post per batch, sequential, new connection",
            recipients,
            lambda: run_naive(url, token, bodies),
        )()
    planning = min(planning_seconds(audience) for _ in range(max(1, repeat)))
    planning_national = min(planning_seconds(written, default_region=REGION) for _ in range(max(1, repeat)))
    a, c = canonical.best
    a_national, c_national = regional.best
    checks = [
        Check(
            "(a) / (c) seconds, median pair",
            f"{canonical.ratio:.3f}",
            f"<= {AC_LIMIT}",
            canonical.ratio <= AC_LIMIT,
        ),
        Check(
            "(a') / (c') seconds, national numbers, median pair",
            f"{regional.ratio:.3f}",
            f"<= {NATIONAL_LIMIT}",
            regional.ratio <= NATIONAL_LIMIT,
        ),
        Check(
            "(b) / (a) seconds",
            f"{naive['seconds'] / a['seconds']:.1f}",
            f">= {BA_TARGET:g}",
            naive["seconds"] / a["seconds"] >= BA_TARGET,
        ),
    ]
    rows = [a, naive, c, a_national, c_national]
    table = markdown_table(
        ["side", "requests", "seconds", "recipients/s", "vs its provider side"],
        [
            (
                r["label"],
                f"{r['requests']:,}",
                f"{r['seconds']:.2f}",
                f"{r['recipients_per_s']:,.0f}",
                f"{r['seconds'] / (a_national if r in (a_national, c_national) else a)['seconds']:.2f}x time",
            )
            for r in rows
        ],
    )
    note = (
        f"{recipients:,} recipients ({len(written):,} for the national-format sides), one text, "
        f"{latency_ms:g} ms added by the sandbox to every send request. (a) includes everything "
        f"`execute()` does: account checks, the pre-send pass (read, check, de-duplicate and batch "
        f"every number once: {planning:.3f} s alone; {planning_national:.3f} s for the national numbers, "
        f"parsing included), then the send of the batches the plan kept, with the ledger in Airflow's "
        f"own task state store ({a['store_sets']} sets, {a['store_s']:.3f} s in all). "
        f"Table: the fastest of {len(canonical.provider)} runs of each side, alternating; (a) - (c) = "
        f"{a['seconds'] - c['seconds']:.2f} s. Spread: (a)/(c): {canonical.spread()}; "
        f"(a')/(c'): {regional.spread()}."
    )
    command = COMMAND if recipients == FULL_RECIPIENTS else f"{COMMAND} --recipients {recipients}"
    text = report(f"Campaign throughput: {recipients:,} recipients", table, checks, command, note)
    return {"rows": rows, "checks": checks, "text": text}


def main(argv: list[str] | None = None) -> int:
    """Parse the size, run, print the section."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help=f"{SMALL_RECIPIENTS:,} recipients (seconds)")
    parser.add_argument("--recipients", type=int, help=f"default {FULL_RECIPIENTS:,}")
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    parser.add_argument(
        "--repeat", type=int, default=REPEAT, help="alternating runs of each side; the fastest counts"
    )
    args = parser.parse_args(argv)
    recipients = args.recipients or (SMALL_RECIPIENTS if args.small else FULL_RECIPIENTS)
    print(run(recipients, latency_ms=args.latency_ms, repeat=args.repeat)["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
