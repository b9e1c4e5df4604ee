"""
Benchmark: personalised campaigns -- requests made and time, against the limit.

Two audiences of row dicts sent by ``FullSmsSendToNumbersOperator(recipients=..., message=
"Hi {first_name}, ...", max_concurrency=8)``:

* 100,000 recipients sharing 3 distinct texts: recipients with the same text share batches, so
  the send needs about ``100,000 / 500`` requests (at most 201 + 2 partial batches = 203);
* 20,000 recipients with 20,000 distinct texts: one request each, the worst case.

Beside each, the limit (c) of the throughput benchmark: the same request bodies (grouped the
same way), pre-built, sent by 8 threads over keep-alive connections and nothing else.

The grouped case runs with the throughput benchmark's 50 ms latency per send; the distinct case
runs without added latency (20,000 requests at 50 ms would take two minutes a side), so its
ratio shows the provider's per-request cost against the sandbox's raw capacity.

Target: the 3-text campaign makes <= 203 send requests.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_personalised
    .venv/bin/python -m benchmarks.bench_personalised --small
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks._common import (
    SEND_PATH,
    SENDER,
    Check,
    bench_sandbox,
    chunks,
    ensure_airflow_home,
    fresh,
    markdown_table,
    numbers,
    report,
)
from benchmarks.bench_throughput import CONCURRENCY, LATENCY_MS, execute, run_limit

FULL = {"grouped": 100_000, "distinct": 20_000}
SMALL = {"grouped": 3_000, "distinct": 300}
NAMES = ("Ada", "Grace", "Linus")
GROUPED_TEXT = "Hi {first_name}, your order has shipped and will arrive tomorrow."
DISTINCT_TEXT = "Hi {first_name}, your one-time code is {code}."
REQUEST_LIMIT = 203
COMMAND = ".venv/bin/python -m benchmarks.bench_personalised"


def grouped_rows(count: int) -> list[dict[str, str]]:
    """``count`` rows over 3 first names: 3 distinct texts."""
    return [
        {"number": n, "first_name": NAMES[i % len(NAMES)], "code": ""} for i, n in enumerate(numbers(count))
    ]


def distinct_rows(count: int) -> list[dict[str, str]]:
    """``count`` rows, each with its own code: ``count`` distinct texts."""
    return [
        {"number": n, "first_name": NAMES[i % len(NAMES)], "code": f"{100000 + i}"}
        for i, n in enumerate(numbers(count))
    ]


def bodies_for(rows: list[dict[str, str]], message: str) -> list[dict[str, Any]]:
    """The request bodies a perfect client would send: numbers grouped by text, 500 a request."""
    by_text: dict[str, list[str]] = {}
    for row in rows:
        by_text.setdefault(message.format_map(row), []).append(row["number"])
    return [
        {"to_numbers": batch, "from": SENDER, "message": text}
        for text, group in by_text.items()
        for batch in chunks(group)
    ]


def measure_case(
    sandbox: Any, name: str, rows: list[dict[str, str]], message: str, latency_ms: float
) -> dict[str, Any]:
    """The provider, then the limit, on one audience; each on a freshly reset sandbox."""
    from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
    from airflow_provider_fullsms.sandbox.testing import MemoryStateStore

    distinct = len({message.format_map(row) for row in rows})
    fresh(sandbox, latency_ms=latency_ms)
    operator = FullSmsSendToNumbersOperator(
        task_id=f"bench_{name}", recipients=rows, message=message, max_concurrency=CONCURRENCY
    )
    started = time.perf_counter()
    summary = execute(operator, {"task_state_store": MemoryStateStore()})
    provider_seconds = time.perf_counter() - started
    operator.hook.close()
    provider_requests = sandbox.client.requests_count(SEND_PATH)
    inbox = sandbox.client.messages()
    # Everyone got exactly their own text: grouping must never mix texts between people.
    expected = {row["number"]: message.format_map(row) for row in rows}
    wrong = sum(1 for m in inbox if expected.get(m["to"]) != m["text"])
    if summary["sent"] != len(rows) or len(inbox) != len(rows) or wrong:
        raise RuntimeError(
            f"{name}: sent {summary['sent']}, inbox {len(inbox)} of {len(rows)}, {wrong} wrong texts"
        )

    bodies = bodies_for(rows, message)
    fresh(sandbox, latency_ms=latency_ms)
    limit = run_limit(sandbox.url, sandbox.token, bodies)
    limit_requests = sandbox.client.requests_count(SEND_PATH)
    return {
        "name": name,
        "recipients": len(rows),
        "distinct": distinct,
        "latency_ms": latency_ms,
        "provider_requests": provider_requests,
        "provider_seconds": provider_seconds,
        "limit_requests": limit_requests,
        "limit_seconds": limit["seconds"],
    }


def run(sizes: dict[str, int] = FULL, *, latency_ms: float = LATENCY_MS) -> dict[str, Any]:
    """
    Measure both audiences against one sandbox.

    :return: ``{"rows": [...], "checks": [...], "text": <the printed section>}``.
    """
    ensure_airflow_home()
    with bench_sandbox() as sandbox:
        rows = [
            measure_case(sandbox, "grouped", grouped_rows(sizes["grouped"]), GROUPED_TEXT, latency_ms),
            measure_case(sandbox, "distinct", distinct_rows(sizes["distinct"]), DISTINCT_TEXT, 0.0),
        ]
    grouped = rows[0]
    # The bound scales with the audience: ceil(n / 3 / 500) batches per text, 3 texts.
    bound = REQUEST_LIMIT if sizes["grouped"] == FULL["grouped"] else 3 * -(-sizes["grouped"] // 1500)
    checks = [
        Check(
            f"send requests, {grouped['recipients']:,} recipients / 3 texts",
            f"{grouped['provider_requests']:,}",
            f"<= {bound}",
            grouped["provider_requests"] <= bound,
        )
    ]
    table = markdown_table(
        [
            "audience",
            "distinct texts",
            "latency added",
            "provider requests",
            "provider s",
            "limit (c) requests",
            "limit (c) s",
            "provider / limit",
            "recipients/s",
        ],
        [
            (
                f"{r['recipients']:,} recipients",
                f"{r['distinct']:,}",
                f"{r['latency_ms']:g} ms",
                f"{r['provider_requests']:,}",
                f"{r['provider_seconds']:.2f}",
                f"{r['limit_requests']:,}",
                f"{r['limit_seconds']:.2f}",
                f"{r['provider_seconds'] / r['limit_seconds']:.2f}",
                f"{r['recipients'] / r['provider_seconds']:,.0f}",
            )
            for r in rows
        ],
    )
    note = (
        "Provider: `FullSmsSendToNumbersOperator(recipients=rows, message=..., max_concurrency=8)`; "
        "requests counted by the sandbox. Limit (c): the same bodies, pre-built, 8 threads, keep-alive. "
        "The distinct-texts case runs without added latency, so it compares per-request CPU cost."
    )
    command = COMMAND if sizes == FULL else f"{COMMAND} --small"
    text = report("Personalised campaigns", table, checks, command, note)
    return {"rows": rows, "checks": checks, "text": text}


def main(argv: list[str] | None = None) -> int:
    """Parse the size, run, print the section."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help=f"{SMALL} (seconds)")
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS, help="for the grouped case")
    args = parser.parse_args(argv)
    print(run(SMALL if args.small else FULL, latency_ms=args.latency_ms)["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
