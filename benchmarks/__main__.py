"""
Run every benchmark side by side and print their tables, then every target with PASS/FAIL.

Reproduce with::

    make bench                                  # = .venv/bin/python -m benchmarks (full sizes)
    .venv/bin/python -m benchmarks --small      # every benchmark at a tiny size (seconds)
    .venv/bin/python -m benchmarks --only throughput parse

The full run exits 0 even when a target is missed (the tables say so, loudly); ``--strict``
exits 1 instead. A benchmark that crashes is reported as such and makes the run exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from benchmarks._common import Check, checks_table, ensure_airflow_home, machine_table, verdict

COMMAND = ".venv/bin/python -m benchmarks"


def _throughput(small: bool) -> dict[str, Any]:
    from benchmarks import bench_throughput

    size = bench_throughput.SMALL_RECIPIENTS if small else bench_throughput.FULL_RECIPIENTS
    return bench_throughput.run(size, repeat=1 if small else bench_throughput.REPEAT)


def _throughput_stack(small: bool) -> dict[str, Any]:
    from benchmarks import bench_throughput_stack as bench

    if small:
        return bench.run(bench.SMALL_RECIPIENTS, repeat=1, warm_up=False)
    return bench.run(bench.FULL_RECIPIENTS)


def _personalised(small: bool) -> dict[str, Any]:
    from benchmarks import bench_personalised

    return bench_personalised.run(bench_personalised.SMALL if small else bench_personalised.FULL)


def _parse(small: bool) -> dict[str, Any]:
    from benchmarks import bench_parse

    return bench_parse.run(bench_parse.SMALL_ROUNDS if small else bench_parse.FULL_ROUNDS)


def _numbers(small: bool) -> dict[str, Any]:
    from benchmarks import bench_numbers

    return bench_numbers.run(bench_numbers.SMALL if small else bench_numbers.FULL)


def _memory(small: bool) -> dict[str, Any]:
    """The memory benchmark (``benchmarks/bench_memory.py``), its table captured into a section."""
    from benchmarks import bench_memory

    sizes = bench_memory.SMALL_SIZES if small else bench_memory.FULL_SIZES
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rows = bench_memory.run(sizes)
    checks = [
        Check(name, measured, target, passed)
        for name, measured, target, passed in bench_memory.verdicts(rows)
    ]
    text = "### Memory: peak RSS against the audience size\n\n" + printed.getvalue().strip() + "\n"
    return {"rows": rows, "checks": checks, "text": text}


def _message_analysis(small: bool) -> dict[str, Any]:
    """The message-analysis benchmark (``benchmarks/bench_message_analysis.py``)."""
    from benchmarks import bench_message_analysis as bench

    rows = bench.run(2_000 if small else bench.FULL)
    ours = rows[0]
    checks = [
        Check(
            "analyse_message speed / gsm0338 codec's",
            f"{ours['ratio']:.1f}x",
            f">= {bench.TARGET_RATIO:g}x",
            ours["ratio"] >= bench.TARGET_RATIO,
        ),
        Check("mismatches with gsm0338", str(ours["mismatches"]), "= 0", ours["mismatches"] == 0),
    ]
    text = "### Message analysis: encoding, units and segments\n\n" + bench.render(rows) + "\n"
    return {"rows": rows, "checks": checks, "text": text}


def _sandbox(small: bool) -> dict[str, Any]:
    from benchmarks import bench_sandbox

    return bench_sandbox.run(bench_sandbox.SMALL_REQUESTS if small else bench_sandbox.FULL_REQUESTS)


def _celery_shards(small: bool) -> dict[str, Any]:
    from benchmarks import bench_celery_shards as bench

    return bench.run(bench.SMALL_SHARD_SIZE if small else bench.FULL_SHARD_SIZE)


def _exclude(small: bool) -> dict[str, Any]:
    from benchmarks import bench_exclude as bench

    return bench.run(bench.SMALL_SIZES if small else bench.FULL_SIZES)


def _triggerer(small: bool) -> dict[str, Any]:
    from benchmarks import bench_triggerer as bench

    return bench.run(bench.SMALL if small else bench.FULL)


#: name -> runner, in the order they run and print. The sandbox's capacity goes first: it is the
#: context every sandbox-backed figure after it is read in.
BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "sandbox": _sandbox,
    "throughput": _throughput,
    "throughput_stack": _throughput_stack,
    "personalised": _personalised,
    "parse": _parse,
    "numbers": _numbers,
    "memory": _memory,
    "exclude": _exclude,
    "message_analysis": _message_analysis,
    "celery_shards": _celery_shards,
    "triggerer": _triggerer,
}


def run(names: list[str], *, small: bool, out: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """
    Run the named benchmarks one after another, printing each section as soon as it is done.

    :return: name -> the benchmark's result (``rows``, ``checks``, ``text``, ``seconds``), or
        ``{"error": <traceback>}`` for one that crashed.
    """
    ensure_airflow_home()
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        started = time.monotonic()
        try:
            result = BENCHMARKS[name](small)
        except Exception:
            result = {"error": traceback.format_exc(), "checks": [], "text": ""}
            out(f"### {name}: CRASHED\n\n```\n{result['error']}```\n")
        else:
            out(result["text"])
        result["seconds"] = time.monotonic() - started
        results[name] = result
    return results


def summary(results: dict[str, dict[str, Any]]) -> str:
    """Every target of the run in one table, then the machine it ran on."""
    checks = [
        Check(f"{name}: {c.name}", c.measured, c.target, c.passed)
        for name, result in results.items()
        for c in result["checks"]
    ]
    crashed = [name for name, result in results.items() if "error" in result]
    verdict_line = verdict(checks) + (f"; CRASHED: {', '.join(crashed)}" if crashed else "")
    took = ", ".join(f"{name} {result['seconds']:.0f} s" for name, result in results.items())
    return "\n".join(
        [
            "## Summary",
            "",
            checks_table(checks),
            "",
            verdict_line,
            "",
            f"Time per benchmark: {took}.",
            "",
            machine_table(),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print every section and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="every benchmark at a tiny size")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    command = (
        COMMAND + (" --small" if args.small else "") + (f" --only {' '.join(names)}" if args.only else "")
    )
    size = "small" if args.small else "full"
    print(f"# FullSMS provider benchmarks ({size} sizes)\n\nReproduce: `{command}`\n")
    sys.stdout.flush()
    results = run(names, small=args.small, out=lambda text: print(text, flush=True))
    print(summary(results))
    if args.small:
        print("\nSmall sizes check that every benchmark runs; the targets are meant for the full sizes.")
    if any("error" in r for r in results.values()):
        return 2
    missed = any(not c.passed for r in results.values() for c in r["checks"])
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    raise SystemExit(main())
