"""
Benchmark: the sandbox's own capacity -- sends of 500 numbers per second, no latency added.

So a reader of the throughput benchmark knows the sandbox is not what limits it: with 50 ms of
added latency and 8 requests in flight, no client can exceed 8 / 0.05 = 160 requests a second;
the sandbox must serve several times that.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_sandbox
    .venv/bin/python -m benchmarks.bench_sandbox --small
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks._common import (
    SEND_PATH,
    Check,
    bench_sandbox,
    ensure_airflow_home,
    fresh,
    markdown_table,
    numbers,
    report,
)
from benchmarks.bench_throughput import CONCURRENCY, LATENCY_MS, payloads, run_limit

FULL_REQUESTS = 2_000
SMALL_REQUESTS = 40
#: The sandbox must serve at least this many times what the throughput benchmark can ask of it.
HEADROOM = 2.0
COMMAND = ".venv/bin/python -m benchmarks.bench_sandbox"


def run(requests_count: int = FULL_REQUESTS) -> dict[str, Any]:
    """
    Send ``requests_count`` bodies of 500 numbers with 8 keep-alive threads; no fault armed.

    :return: ``{"rows": [...], "checks": [...], "text": <the printed section>}``.
    """
    ensure_airflow_home()
    bodies = payloads(numbers(requests_count * 500))
    with bench_sandbox() as sandbox:
        fresh(sandbox)
        result = run_limit(sandbox.url, sandbox.token, bodies)
        served = sandbox.client.requests_count(SEND_PATH)
    per_second = served / result["seconds"]
    ceiling = CONCURRENCY / (LATENCY_MS / 1000)
    row = {
        "requests": served,
        "seconds": result["seconds"],
        "requests_per_s": per_second,
        "recipients_per_s": result["sent"] / result["seconds"],
        "ceiling": ceiling,
    }
    checks = [
        Check(
            "sandbox sends/s vs the 50 ms, 8-in-flight ceiling",
            f"{per_second / ceiling:.1f}x",
            f">= {HEADROOM:g}x",
            per_second >= HEADROOM * ceiling,
        )
    ]
    table = markdown_table(
        ["load", "requests", "seconds", "requests/s", "recipients/s", "throughput bench ceiling (req/s)"],
        [
            (
                "8 threads, keep-alive, 500 numbers each, no latency",
                f"{served:,}",
                f"{result['seconds']:.2f}",
                f"{per_second:,.0f}",
                f"{row['recipients_per_s']:,.0f}",
                f"{ceiling:,.0f}",
            )
        ],
    )
    note = "Client and sandbox share the machine's cores, so this is a floor of the sandbox's capacity."
    command = COMMAND if requests_count == FULL_REQUESTS else f"{COMMAND} --requests {requests_count}"
    return {"rows": [row], "checks": checks, "text": report("Sandbox capacity", table, checks, command, note)}


def main(argv: list[str] | None = None) -> int:
    """Parse the size, run, print the section."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help=f"{SMALL_REQUESTS} requests")
    parser.add_argument("--requests", type=int, help=f"default {FULL_REQUESTS:,}")
    args = parser.parse_args(argv)
    print(run(args.requests or (SMALL_REQUESTS if args.small else FULL_REQUESTS))["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
