"""
Benchmark: peak memory of a send against the size of its ``exclude`` (opt-out) list.

The same 20,000-recipient campaign runs with a suppression list of N numbers, one a line, in a
fresh Python process per run (its peak RSS: the kernel's VmHWM, reset after imports), side by side:

* **(a) exclude=** -- the operator streams the file into a ``CompactNumberSet`` (8 bytes a slot);
* **(b) hand-written** -- what a DAG did before ``exclude=``: read the opt-outs into a built-in
  ``set`` of normalised numbers with the same parser, write the audience without them to a new
  file, send that.

Both text the same people (checked). Targets: (a) peak(largest) - peak(10) <= 40 MB, and (a)'s
growth <= 0.5 x (b)'s.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_exclude            # 10, 100,000 and 1,000,000 opt-outs
    .venv/bin/python -m benchmarks.bench_exclude --small    # a seconds-long smoke run
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
from typing import TYPE_CHECKING, Any

from benchmarks._common import Check, connection_json, markdown_table, report
from benchmarks.bench_memory import PEAK_KB, RESET_PEAK

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

FULL_SIZES = (10, 100_000, 1_000_000)
SMALL_SIZES = (10, 2_000, 20_000)
AUDIENCE = 20_000
#: The opt-outs start half-way through the audience: the first 10,000 recipients are never excluded.
FIRST_OPT_OUT = AUDIENCE // 2
GROWTH_LIMIT_MB = 40.0
RATIO_LIMIT = 0.5
COMMAND = ".venv/bin/python -m benchmarks.bench_exclude"
_RESULT = "BENCH-RESULT "

_CHILD = (
    r"""
import csv, json, os, resource, sys, time
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.phones import NumberParser
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore

side, audience, optouts, workdir = sys.argv[1:5]
RESET_PEAK
started = time.monotonic()
if side == "exclude":
    op = FullSmsSendToNumbersOperator(task_id="b", numbers_file=audience, exclude=optouts, message="Hi")
else:
    parse = NumberParser().parse
    with open(optouts) as lines:
        opted_out = {parse(line.strip()) for line in lines if line.strip()}
    filtered = os.path.join(workdir, "filtered.csv")
    with open(audience, newline="") as source, open(filtered, "w", newline="") as target:
        writer = csv.writer(target)
        for row in csv.reader(source):
            if row[0] == "number" or parse(row[0]) not in opted_out:
                writer.writerow(row)
    op = FullSmsSendToNumbersOperator(task_id="b", numbers_file=filtered, message="Hi")
summary = op.execute({"task_state_store": MemoryStateStore()})
seconds = time.monotonic() - started
PEAK_KB
print(RESULT_MARKER + json.dumps({"peak_mb": peak_kb / 1024, "sent": summary["sent"], "seconds": seconds}))
""".replace("RESULT_MARKER", repr(_RESULT))
    .replace("RESET_PEAK", RESET_PEAK)
    .replace("PEAK_KB", PEAK_KB)
)

SIDES = {"exclude": "(a) exclude=", "hand": "(b) hand-written set"}


def _number(i: int) -> str:
    return f"+44 7{i:09d}"


def write_files(workdir: Path, optouts: int) -> tuple[Path, Path]:
    """The audience CSV (20,000 rows) and a one-number-a-line opt-out file of ``optouts`` numbers."""
    audience, excluded = workdir / "audience.csv", workdir / "optouts.txt"
    audience.write_text("number\n" + "".join(f"{_number(i)}\n" for i in range(AUDIENCE)))
    with excluded.open("w") as out:
        for start in range(FIRST_OPT_OUT, FIRST_OPT_OUT + optouts, 100_000):
            end = min(start + 100_000, FIRST_OPT_OUT + optouts)
            out.write("".join(f"{_number(i)}\n" for i in range(start, end)))
    return audience, excluded


def measure(side: str, size: int, sandbox: SandboxProcess, workdir: Path) -> dict[str, Any]:
    """One campaign with ``size`` opt-outs, in a fresh process; its peak RSS and what it sent."""
    sandbox.client.reset()
    sandbox.client.set_balance(10 * AUDIENCE)
    audience, optouts = write_files(workdir, size)
    env = dict(os.environ)
    env["AIRFLOW_CONN_FULLSMS_DEFAULT"] = connection_json(sandbox.url, sandbox.token)
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, side, str(audience), str(optouts), str(workdir)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{side} {size} failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(_RESULT) :])
    result.update(side=side, size=size, texted=len({m["to"] for m in sandbox.client.messages()}))
    return result


def expected_sent(size: int) -> int:
    return AUDIENCE - min(size, AUDIENCE - FIRST_OPT_OUT)


def run(sizes: tuple[int, ...] | list[int] = FULL_SIZES) -> dict[str, Any]:
    """Measure both sides at each size against one sandbox; return rows, checks and the text."""
    from benchmarks._common import ensure_airflow_home

    ensure_airflow_home()
    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    sizes = sorted(sizes)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fullsms-bench-exclude-") as tmp, SandboxProcess() as sandbox:
        for size in sizes:
            for side in SIDES:
                rows.append(measure(side, size, sandbox, Path(tmp)))
    checks = verdicts(rows)
    text = report("Memory: an opt-out list of a million numbers", render(rows), checks, COMMAND)
    return {"rows": rows, "checks": checks, "text": text}


def _peak(rows: list[dict[str, Any]], side: str, size: int) -> float:
    return float(next(r["peak_mb"] for r in rows if r["side"] == side and r["size"] == size))


def render(rows: list[dict[str, Any]]) -> str:
    """One line per size: both sides' peak RSS side by side, and their ratio."""
    sizes = sorted({r["size"] for r in rows})
    table = []
    for size in sizes:
        ours, hand = _peak(rows, "exclude", size), _peak(rows, "hand", size)
        sent = next(r["sent"] for r in rows if r["side"] == "exclude" and r["size"] == size)
        seconds = {r["side"]: r["seconds"] for r in rows if r["size"] == size}
        table.append(
            (
                f"{size:,}",
                f"{ours:.1f}",
                f"{hand:.1f}",
                f"{ours / hand:.2f}",
                f"{sent:,}",
                f"{seconds['exclude']:.1f}",
                f"{seconds['hand']:.1f}",
            )
        )
    return markdown_table(
        [
            "opt-outs",
            "(a) exclude= peak RSS (MB)",
            "(b) hand-written peak RSS (MB)",
            "(a) / (b)",
            "texted",
            "(a) seconds",
            "(b) seconds",
        ],
        table,
    )


def verdicts(rows: list[dict[str, Any]]) -> list[Check]:
    """Both sides texted exactly who they should; (a)'s growth against its limit and against (b)'s."""
    sizes = sorted({r["size"] for r in rows})
    small, large = sizes[0], sizes[-1]
    right = all(r["sent"] == r["texted"] == expected_sent(r["size"]) for r in rows)
    growth = {side: _peak(rows, side, large) - _peak(rows, side, small) for side in SIDES}
    ratio = growth["exclude"] / growth["hand"] if growth["hand"] > 0 else 0.0
    return [
        Check("both sides text everyone not opted out, once", "yes" if right else "no", "yes", right),
        Check(
            f"(a) peak({large:,}) - peak({small:,})",
            f"{growth['exclude']:.1f} MB",
            f"<= {GROWTH_LIMIT_MB:.0f} MB",
            growth["exclude"] <= GROWTH_LIMIT_MB,
        ),
        Check(
            "(a) growth / (b) growth",
            f"{ratio:.2f} ({growth['hand']:.1f} MB for (b))",
            f"<= {RATIO_LIMIT}",
            ratio <= RATIO_LIMIT,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help=f"smoke sizes {SMALL_SIZES} (seconds)")
    parser.add_argument("--sizes", type=int, nargs="+", help="opt-out list sizes to measure")
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = run(args.sizes or (SMALL_SIZES if args.small else FULL_SIZES))
    print(result["text"])
    print(f"({time.monotonic() - started:.0f}s in all)")
    return 0 if all(c.passed for c in result["checks"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
