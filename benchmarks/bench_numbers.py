"""
Benchmark: what reading phone numbers costs, canonical against messy, and against before.

* **plan, canonical**: ``plan_campaign`` over 1,000,000 digits-only E.164 numbers (the whole local
  pass a send makes before its first request: parse, de-duplicate, batch), once with
  :class:`~airflow_provider_fullsms.phones.NumberParser` and once with the normaliser it replaced
  (a frozen copy below: separators stripped, shape checked), alternating, fastest of each;
* **parse**: numbers a second for each notation, side by side with the canonical fast path:
  canonical digits, ``+44 7700 900001`` (grouped, also a fast path), and messy national numbers
  (``07700 900123``, ``020 7946 0018``, ``(0)7700-900-123``, … with ``default_region="GB"``), which
  go through libphonenumber.

Target: plan(canonical) with the parser <= 1.10 x with the old normaliser. The messy-number rate
is information: what a CRM export of national numbers costs.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_numbers            # 1,000,000 canonical, 100,000 messy
    .venv/bin/python -m benchmarks.bench_numbers --small    # a seconds-long smoke run
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._common import Check, markdown_table, report

FULL = {"canonical": 1_000_000, "messy": 100_000}
SMALL = {"canonical": 20_000, "messy": 2_000}
RATIO_LIMIT = 1.10
REPEAT = 3
COMMAND = ".venv/bin/python -m benchmarks.bench_numbers"

_SEPARATORS = re.compile(r"[\s\-.()]+")
_SHAPE = re.compile(r"^[1-9]\d{6,14}$", re.ASCII)


def before_normalise(raw: object) -> str:
    """The normaliser before libphonenumber (commit d70ef85), kept as the yardstick."""
    if type(raw) is str and raw.isascii() and raw.isdigit() and 7 <= len(raw) <= 15 and raw[0] != "0":
        return raw
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(raw)
    digits = _SEPARATORS.sub("", str(raw))
    digits = digits[1:] if digits.startswith("+") else digits[2:] if digits.startswith("00") else digits
    if _SHAPE.fullmatch(digits):
        return digits
    raise ValueError(raw)


def canonical(count: int) -> list[str]:
    return [str(447_000_000_000 + i) for i in range(count)]


def grouped(count: int) -> list[str]:
    return [f"+44 7{i // 1_000_000 % 1000:03d} {i % 1_000_000:06d}" for i in range(count)]


def messy_national(count: int) -> list[str]:
    """UK numbers as CRMs hold them: national format, five notations, all distinct."""
    shapes = (
        "07{:03d} {:06d}",
        "020 {:04d} {:04d}",
        "(0)7{:03d}-{:03d}-{:03d}",
        "0161 {:03d} {:04d}",
        "07{:09d}",
    )
    out = []
    for i in range(count):
        shape = shapes[i % len(shapes)]
        if shape.startswith("020"):
            out.append(shape.format(7000 + i % 3000, i % 10_000))
        elif shape.startswith("(0)"):
            out.append(shape.format(i % 1000, (i // 1000) % 1000, i % 997))
        elif shape.startswith("0161"):
            out.append(shape.format(200 + i % 800, i % 10_000))
        elif shape == "07{:09d}":
            out.append(shape.format(700_000_000 + i))
        else:
            out.append(shape.format(700 + i % 300, i))
    return out


def _rate(parse: Callable[[object], str], numbers: Sequence[str]) -> float:
    started = time.perf_counter()
    for number in numbers:
        parse(number)
    return len(numbers) / (time.perf_counter() - started)


def _plan_seconds(numbers: Sequence[str], parse: Callable[[object], str]) -> float:
    from airflow_provider_fullsms.campaigns import MessageSource, plan_campaign

    source = MessageSource.from_params(message="Benchmark", template_id=None)
    started = time.perf_counter()
    plan = plan_campaign(((n, None) for n in numbers), source, campaign_key="bench", parse_number=parse)
    seconds = time.perf_counter() - started
    assert plan.recipients == len(numbers), plan.stats
    return seconds


def run(sizes: dict[str, int] = FULL) -> dict[str, Any]:
    """Measure; return the rows, the check and the printed section."""
    from airflow_provider_fullsms.phones import NumberParser

    parser, gb = NumberParser(), NumberParser("GB")
    audience = canonical(sizes["canonical"])
    before, after = [], []
    for _ in range(REPEAT):  # alternating, so a busy moment hits both sides alike
        before.append(_plan_seconds(audience, before_normalise))
        after.append(_plan_seconds(audience, parser.parse))
    ratio = min(after) / min(before)

    messy = messy_national(sizes["messy"])
    sides = [
        ("canonical digits, no region (fast path)", parser.parse, audience[: sizes["messy"]]),
        ("'+44 7xxx xxxxxx', no region (fast path)", parser.parse, grouped(sizes["messy"])),
        ("canonical digits, default_region GB", gb.parse, audience[: sizes["messy"]]),
        ("messy national, default_region GB", gb.parse, messy),
    ]
    rows: list[dict[str, Any]] = []
    for label, parse, numbers in sides:
        rows.append(
            {
                "label": label,
                "numbers": len(numbers),
                "per_second": max(_rate(parse, numbers) for _ in range(2)),
            }
        )
    fastest = rows[0]["per_second"]
    body = "\n\n".join(
        [
            markdown_table(
                ["plan_campaign, canonical numbers", "numbers", "seconds (fastest)", "vs before"],
                [
                    [
                        "before: separators stripped, shape checked",
                        f"{len(audience):,}",
                        f"{min(before):.2f}",
                        "1.00",
                    ],
                    [
                        "NumberParser (libphonenumber when not canonical)",
                        f"{len(audience):,}",
                        f"{min(after):.2f}",
                        f"{ratio:.2f}",
                    ],
                ],
            ),
            markdown_table(
                ["numbers parsed", "numbers", "numbers/s", "vs canonical"],
                [
                    [
                        r["label"],
                        f"{r['numbers']:,}",
                        f"{r['per_second']:,.0f}",
                        f"{r['per_second'] / fastest:.3f}",
                    ]
                    for r in rows
                ],
            ),
        ]
    )
    checks = [
        Check(
            "plan(1M canonical): parser / before", f"{ratio:.2f}", f"<= {RATIO_LIMIT}", ratio <= RATIO_LIMIT
        )
    ]
    command = COMMAND if sizes == FULL else f"{COMMAND} --small"
    note = (
        f"Fastest of {REPEAT} alternating runs: before {', '.join(f'{s:.2f}' for s in before)} s; "
        f"parser {', '.join(f'{s:.2f}' for s in after)} s. Messy national numbers: "
        f"{rows[-1]['per_second']:,.0f} a second, read by libphonenumber."
    )
    text = report("Phone numbers: parsing cost", body, checks, command, note)
    return {"rows": rows, "before": before, "after": after, "ratio": ratio, "checks": checks, "text": text}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help=f"sizes {SMALL} (seconds)")
    args = parser.parse_args(argv)
    print(run(SMALL if args.small else FULL)["text"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
