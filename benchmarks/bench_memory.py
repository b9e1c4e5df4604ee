"""Benchmark: peak memory of ``FullSmsSendToNumbersOperator`` against the audience size.

Each size runs in a fresh Python process that streams a CSV audience of N rows to a local
sandbox (a separate process, not measured) and reports its own peak RSS (the kernel's VmHWM,
reset after imports; ``ru_maxrss`` elsewhere). Memory must not grow with the audience: numbers
are streamed, de-duplicated in a set that turns into 8-byte-a-slot tables past 250,000 numbers,
and neither the ledger nor the result keeps anything per recipient.

Targets: peak(1,000,000) - peak(10) <= 100 MB, and peak(1,000,000) / peak(100,000) <= 1.2.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_memory            # 10, 100,000 and 1,000,000 rows
    .venv/bin/python -m benchmarks.bench_memory --small    # a seconds-long smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GROWTH_LIMIT_MB = 100.0
RATIO_LIMIT = 1.2
FULL_SIZES = (10, 100_000, 1_000_000)
SMALL_SIZES = (10, 2_000, 20_000)
COMMAND = ".venv/bin/python -m benchmarks.bench_memory"
_RESULT = "BENCH-RESULT "

#: Child-process code: reset the kernel's high-water mark, so a spike while importing (which
#: depends on the environment, not on the audience) cannot hide what the send itself needs.
RESET_PEAK = """
try:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
except OSError:
    pass
"""
#: Child-process code: ``peak_kb``, the peak RSS since the reset (elsewhere ru_maxrss, since start).
PEAK_KB = """
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
"""

_CHILD = (
    r"""
import json, os, resource, sys, time
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

path = sys.argv[1]
store = MemoryStateStore()
op = FullSmsSendToNumbersOperator(task_id="bench", numbers_file=path, message="Benchmark: memory stays flat")
RESET_PEAK
started = time.monotonic()
summary = op.execute({"task_state_store": store})
seconds = time.monotonic() - started
PEAK_KB
print(RESULT_MARKER + json.dumps({
    "peak_mb": peak_kb / 1024,
    "sent": summary["sent"],
    "batches": summary["batches"]["total"],
    "seconds": seconds,
    "ledger_bytes": sum(len(v) for v in store.data.values()),
    "summary_bytes": len(json.dumps(summary)),
}))
""".replace("RESULT_MARKER", repr(_RESULT))
    .replace("RESET_PEAK", RESET_PEAK)
    .replace("PEAK_KB", PEAK_KB)
)


def write_audience(path: Path, rows: int) -> None:
    """A CSV of ``rows`` distinct UK numbers with a name column."""
    with path.open("w") as out:
        out.write("number,first_name\n")
        chunk = []
        for i in range(rows):
            chunk.append(f"+44 7{i:09d},Name{i % 7}\n")
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))


def measure(size: int, sandbox: Any, workdir: Path) -> dict[str, Any]:
    """Send to ``size`` rows in a fresh process; return its peak RSS and what it sent."""
    sandbox.client.reset()
    sandbox.client.set_balance(10 * size + 100)
    audience = workdir / f"audience-{size}.csv"
    write_audience(audience, size)
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = str(workdir / "airflow-home")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW_CONN_FULLSMS_DEFAULT"] = json.dumps(
        {
            "conn_type": "fullsms",
            "host": sandbox.url,
            "password": sandbox.token,
            "extra": {"default_sender": "COPERATO", "max_concurrency": 4},
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(audience)], env=env, capture_output=True, text=True, check=False
    )
    audience.unlink()
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"size {size} failed ({done.returncode}): {done.stderr[-2000:]}{done.stdout[-2000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1][len(_RESULT) :])
    result["size"] = size
    delivered = sandbox.client.requests_count("/messages/send/to_numbers")
    result["requests"] = delivered
    return result


def run(sizes: tuple[int, ...] | list[int] = FULL_SIZES) -> list[dict[str, Any]]:
    """Measure each size against one sandbox; print the table and the verdicts; return the rows."""
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    sizes = sorted(sizes)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fullsms-bench-memory-") as tmp, SandboxProcess() as sandbox:
        for size in sizes:
            rows.append(measure(size, sandbox, Path(tmp)))
    print(table(rows))
    return rows


def verdicts(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, bool]]:
    """(check, measured, target, passed) for the largest size against the smallest and the next."""
    by_size = {r["size"]: r for r in rows}
    sizes = sorted(by_size)
    out = []
    if len(sizes) >= 2:
        small, large = by_size[sizes[0]], by_size[sizes[-1]]
        growth = large["peak_mb"] - small["peak_mb"]
        out.append(
            (
                f"peak({sizes[-1]:,}) - peak({sizes[0]:,})",
                f"{growth:.1f} MB",
                f"<= {GROWTH_LIMIT_MB:.0f} MB",
                growth <= GROWTH_LIMIT_MB,
            )
        )
    if len(sizes) >= 3:
        middle, large = by_size[sizes[-2]], by_size[sizes[-1]]
        ratio = large["peak_mb"] / middle["peak_mb"]
        out.append(
            (
                f"peak({sizes[-1]:,}) / peak({sizes[-2]:,})",
                f"{ratio:.3f}",
                f"<= {RATIO_LIMIT}",
                ratio <= RATIO_LIMIT,
            )
        )
    return out


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| recipients | peak RSS (MB) | sent | send requests | seconds | recipients/s | ledger (KB) "
        "| XCom summary (KB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rate = r["sent"] / r["seconds"] if r["seconds"] else 0
        lines.append(
            f"| {r['size']:,} | {r['peak_mb']:.1f} | {r['sent']:,} | {r['requests']:,} | "
            f"{r['seconds']:.1f} | {rate:,.0f} | {r['ledger_bytes'] / 1024:.1f} | "
            f"{r['summary_bytes'] / 1024:.1f} |"
        )
    lines += ["", "| check | measured | target | result |", "|---|---:|---:|---|"]
    for check, measured, target, passed in verdicts(rows):
        lines.append(f"| {check} | {measured} | {target} | {'PASS' if passed else 'FAIL'} |")
    sizes = " ".join(str(r["size"]) for r in rows)
    lines += ["", f"Reproduce: {COMMAND} --sizes {sizes}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help=f"smoke sizes {SMALL_SIZES} (seconds)")
    parser.add_argument("--sizes", type=int, nargs="+", help="audience sizes to measure")
    args = parser.parse_args(argv)
    sizes = args.sizes or (SMALL_SIZES if args.small else FULL_SIZES)
    started = time.monotonic()
    rows = run(sizes)
    print(f"\n({time.monotonic() - started:.0f}s in all)")
    return 0 if all(passed for *_, passed in verdicts(rows)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
