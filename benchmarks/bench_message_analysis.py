"""Benchmark: :func:`airflow_provider_fullsms.sms.analyse_message` vs the plain ``gsm0338`` codec.

Generates N realistic personalised texts deterministically, checks both approaches agree on
encoding and units for every one, times both over all of them in alternating passes, and prints
a markdown table. The target is the ratio of the two, measured side by side.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_message_analysis --n 300000
"""

from __future__ import annotations

import argparse
import math
import random
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.sms import GSM7, UCS2, analyse_message

if TYPE_CHECKING:
    from collections.abc import Callable

#: analyse_message's speed over the codec's, both timed in the same run.
TARGET_RATIO = 10.0
REPEAT = 5
FULL = 300_000
OURS = "sms.analyse_message (own tables)"
CODEC = "gsm0338 encode, utf-16 fallback, count"
SEED = 20_240_611
COMMAND = ".venv/bin/python -m benchmarks.bench_message_analysis --n {n}"

# Names and templates chosen to mirror what CRM-to-SMS pipelines send: mostly short
# GSM-7 texts, some with extension characters (€, brackets), some that fall back to
# UCS-2 because of a name (Cyrillic, ç, ë) or an emoji, and a few multi-part texts.
_GSM_NAMES = ["Anna", "Ben", "Chloé", "Daniel", "Eva", "Frank", "Grace", "Hugo", "Ines", "José", "Søren"]
_UCS2_NAMES = ["Иван", "Ольга", "François", "Zoë", "Łukasz", "Ayşe"]
_PLAIN = [
    "Hi {name}, your order #{n} has shipped and will arrive tomorrow.",
    "Dear {name}, your appointment is on {d}/06 at 10:30. Reply STOP to opt out.",
    "{name}, your verification code is {n}. It expires in 10 minutes.",
    "Hello {name}! Your balance is {n} points. Thanks for shopping with us.",
]
_EXTENSION = [
    "Hi {name}, your invoice of {n}€ is due on {d}/07 [ref {n}].",
    "{name}: sale ends soon ~ {d}% off everything | use code {{SUMMER}}",
]
_EMOJI = [
    "Hi {name} 👋 your parcel #{n} is on its way 🚚",
    "{name}, happy birthday 🎉 enjoy {d}% off today!",
]
_LONG = (
    "Dear {name}, thank you for being a loyal customer. This month we are offering an "
    "exclusive discount on all products in our store, including new arrivals and "
    "bestsellers. Visit us before the end of the month and show this message at the till "
    "to claim your reward. Order reference {n}. Reply STOP to unsubscribe."
)


def generate_texts(n: int, seed: int = SEED) -> list[str]:
    """Return ``n`` personalised texts, the same ones for the same ``seed``.

    :param n: how many texts.
    :param seed: seed for :class:`random.Random`.
    """
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        roll = rng.random()
        name = rng.choice(_GSM_NAMES)
        if roll < 0.70:
            template = rng.choice(_PLAIN)
        elif roll < 0.82:
            template = rng.choice(_EXTENSION)
        elif roll < 0.92:
            template, name = rng.choice(_PLAIN), rng.choice(_UCS2_NAMES)
        elif roll < 0.97:
            template = rng.choice(_EMOJI)
        else:
            template = _LONG
        texts.append(template.format(name=name, n=rng.randrange(1000, 999_999), d=rng.randrange(1, 29)))
    return texts


def codec_analysis(text: str) -> tuple[str, int, int]:
    """The plain approach: encode with the ``gsm0338`` codec, fall back to UTF-16, then count.

    :param text: message text.
    :return: (encoding, units, segments), segments by plain ``ceil`` as such code usually does.
    """
    try:
        units = len(text.encode("gsm03.38"))
        encoding = GSM7
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        encoding = UCS2
    single, part = (160, 153) if encoding == GSM7 else (70, 67)
    return encoding, units, 1 if units <= single else math.ceil(units / part)


def _time(function: Callable[[str], Any], texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        function(text)
    return time.perf_counter() - start


def run(n: int, repeat: int = REPEAT) -> list[dict[str, Any]]:
    """Time both approaches over ``n`` generated texts, alternating ``repeat`` times.

    :param n: how many texts to analyse.
    :param repeat: timed passes of each approach, alternating; the fastest of each counts.
    :return: one row per approach: ``approach``, ``messages``, ``seconds`` (fastest pass), ``runs``
        (every pass), ``messages_per_second``, ``ratio`` (speed relative to the codec),
        ``mismatches`` (texts where the encoding or units differ from the codec's).
    """
    import gsm0338  # noqa: F401  -- registers the "gsm03.38" codec; only the benchmark needs it

    texts = generate_texts(n)
    mismatches = 0
    for text in texts:
        ours = analyse_message(text)
        encoding, units, _ = codec_analysis(text)
        if (ours.encoding, ours.units) != (encoding, units):
            mismatches += 1
    approaches = {OURS: analyse_message, CODEC: codec_analysis}
    runs: dict[str, list[float]] = {name: [] for name in approaches}
    for _ in range(max(1, repeat)):
        for name, function in approaches.items():
            runs[name].append(_time(function, texts))
    baseline = min(runs[CODEC])
    return [
        {
            "approach": approach,
            "messages": n,
            "seconds": min(seconds),
            "runs": seconds,
            "messages_per_second": n / min(seconds),
            "ratio": baseline / min(seconds),
            "mismatches": mismatches,
        }
        for approach, seconds in runs.items()
    ]


def render(rows: list[dict[str, Any]]) -> str:
    """Format :func:`run`'s rows as a markdown table with the target verdict."""
    lines = [
        "| approach | messages | seconds (fastest) | every pass | messages/s | speed vs the codec |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        passes = ", ".join(f"{seconds:.3f}" for seconds in row["runs"])
        lines.append(
            f"| {row['approach']} | {row['messages']:,} | {row['seconds']:.3f} | {passes} | "
            f"{row['messages_per_second']:,.0f} | {row['ratio']:.1f}x |"
        )
    ours = rows[0]
    verdict = "PASS" if passed(ours) else "FAIL"
    lines += [
        "",
        f"Target: analyse_message >= {TARGET_RATIO:g}x as fast as the gsm0338 codec, passes alternating, "
        f"the fastest of each counting, and the same encoding and units ({ours['mismatches']} mismatches): "
        f"{verdict}. Messages/s are information: they measure the machine as much as the code.",
        f"Reproduce: `{COMMAND.format(n=ours['messages'])}`",
    ]
    return "\n".join(lines)


def passed(ours: dict[str, Any]) -> bool:
    """Whether :func:`run`'s first row meets the target."""
    return ours["ratio"] >= TARGET_RATIO and not ours["mismatches"]


def main(argv: list[str] | None = None) -> None:
    """Parse ``--n`` and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=FULL, help=f"how many messages (default {FULL:,})")
    args = parser.parse_args(argv)
    print(render(run(args.n)))


if __name__ == "__main__":
    main()
