"""
Benchmark: DAG-parse cost -- what importing the provider adds over ``import airflow.sdk``.

A DAG file is parsed again and again by the DAG processor, so every import a DAG file makes is
paid constantly. Each module is imported in a fresh interpreter that has already imported
``airflow.sdk`` (every DAG file does), and only the module's own import is timed::

    python -c "import time; import airflow.sdk; t=time.perf_counter(); import X; print(time.perf_counter()-t)"

Rounds interleave the modules, so a busy moment of the machine hits them all alike, after one
untimed import each writes its bytecode cache (as a deployment has it). The HTTP provider's
operator module, measured in the same run, is the yardstick.

Target, for each of our modules: median <= 0.1 x the HTTP provider's median, measured in the same
rounds. The milliseconds are printed as information (a busy machine slows every import alike; the
budget the project keeps in mind is 15 ms). A module that misses the target, or that budget, gets
its costliest imports listed (``python -X importtime``).

Reproduce with::

    .venv/bin/python -m benchmarks.bench_parse              # 15 interpreters per module
    .venv/bin/python -m benchmarks.bench_parse --rounds 3   # a quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from typing import Any

from benchmarks._common import Check, markdown_table, report

OURS = (
    "airflow_provider_fullsms.operators.fullsms",
    "airflow_provider_fullsms.sensors.fullsms",
    "airflow_provider_fullsms.notifications.fullsms",
    # A DAG scheduled on a balance top-up imports it for its AssetWatcher.
    "airflow_provider_fullsms.triggers.top_up",
)
HTTP = "airflow.providers.http.operators.http"
FULL_ROUNDS = 15
SMALL_ROUNDS = 3
#: Information only: the import budget a module is expected to keep on a quiet machine.
BUDGET_MS = 15.0
LIMIT_RATIO = 0.1
COMMAND = ".venv/bin/python -m benchmarks.bench_parse"
_TIMER = (
    "import time; import airflow.sdk; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
)


def _env() -> dict[str, str]:
    from benchmarks._common import ensure_airflow_home

    # A throw-away home unless one is set: the first import of airflow writes its config there.
    home = ensure_airflow_home()
    env = dict(os.environ)
    # What a DAG file pays with its bytecode cached, as in any deployment (pip compiles what it
    # installs, an interpreter caches a checkout's modules on first import). Where writing .pyc
    # files is switched off, our modules would be compiled in every interpreter while the HTTP
    # provider's come compiled: the cache goes to a folder of its own instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    return env


def time_import(module: str, env: dict[str, str]) -> float:
    """Seconds a fresh interpreter spends importing ``module`` after ``airflow.sdk``."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMER.format(module=module)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"import {module} failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def costly_imports(module: str, env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """
    The imports ``module`` adds over ``airflow.sdk``, costliest first (cumulative ms).

    From ``python -X importtime``: the lines after ``airflow.sdk`` is imported belong to the
    module under test.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import airflow.sdk; import {module}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = done.stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if line.rstrip().endswith("| airflow.sdk")), -1)
    rows = []
    for line in lines[start + 1 :]:
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        name = parts[2]
        depth = len(name) - len(name.lstrip())
        # Top-level and first-level imports only: deeper ones are inside these.
        if depth <= 2:
            rows.append((name.strip(), int(parts[1]) / 1000))
    return sorted(rows, key=lambda r: r[1], reverse=True)[:top]


def run(rounds: int = FULL_ROUNDS) -> dict[str, Any]:
    """
    Time every module ``rounds`` times, interleaved; judge ours against the limits.

    :return: ``{"rows": [...], "checks": [...], "text": <the printed section>}``.
    """
    env = _env()
    modules = (*OURS, HTTP)
    samples: dict[str, list[float]] = {m: [] for m in modules}
    time_import("airflow.sdk", env)  # warm the file cache and write airflow.cfg once
    for module in modules:
        time_import(module, env)  # and every module's bytecode cache
    for _ in range(rounds):
        for module in modules:
            samples[module].append(time_import(module, env) * 1000)
    medians = {m: statistics.median(v) for m, v in samples.items()}
    http = medians[HTTP]
    rows = [
        {
            "module": m,
            "median_ms": medians[m],
            "min_ms": min(samples[m]),
            "max_ms": max(samples[m]),
            "ratio": medians[m] / http,
            "runs": len(samples[m]),
        }
        for m in modules
    ]
    checks = [
        Check(
            f"{m}: / HTTP", f"{medians[m] / http:.3f}", f"<= {LIMIT_RATIO}", medians[m] / http <= LIMIT_RATIO
        )
        for m in OURS
    ]
    table = markdown_table(
        [
            "module (imported after airflow.sdk)",
            "median ms",
            "min ms",
            "max ms",
            "vs HTTP provider",
            "interpreters",
        ],
        [
            (
                f"`{r['module']}`",
                f"{r['median_ms']:.1f}",
                f"{r['min_ms']:.1f}",
                f"{r['max_ms']:.1f}",
                f"{r['ratio']:.3f}",
                r["runs"],
            )
            for r in rows
        ],
    )
    notes = [
        f"Each figure: `{_TIMER.format(module='X')}` in a fresh interpreter; modules interleaved per round."
    ]
    for m in OURS:
        if medians[m] > BUDGET_MS or medians[m] / http > LIMIT_RATIO:
            costs = ", ".join(f"`{name}` {ms:.1f} ms" for name, ms in costly_imports(m, env))
            notes.append(
                f"`{m}` misses the target or the {BUDGET_MS:g} ms budget; its costliest imports "
                f"(-X importtime, cumulative): {costs}."
            )
    command = COMMAND if rounds == FULL_ROUNDS else f"{COMMAND} --rounds {rounds}"
    text = report(
        "DAG-parse cost: import time over `import airflow.sdk`", table, checks, command, "\n\n".join(notes)
    )
    return {"rows": rows, "checks": checks, "text": text}


def main(argv: list[str] | None = None) -> int:
    """Parse the number of rounds, run, print the section."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help=f"{SMALL_ROUNDS} interpreters per module")
    parser.add_argument("--rounds", type=int, help=f"interpreters per module (default {FULL_ROUNDS})")
    args = parser.parse_args(argv)
    print(run(args.rounds or (SMALL_ROUNDS if args.small else FULL_ROUNDS))["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
