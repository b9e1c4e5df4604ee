"""Benchmark: :func:`airflow_provider_fullsms.sms.analyse_message` vs the plain ``gsm0338`` codec.

Generates N realistic personalised texts deterministically, analyses all of them with
both approaches, checks they agree on encoding and units, and prints a markdown table.

Reproduce with::

    .venv/bin/python -m benchmarks.bench_message_analysis --n 1000000
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

TARGET_PER_SECOND = 500_000
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


def run(n: int) -> list[dict[str, Any]]:
    """Time both approaches over ``n`` generated texts.

    :param n: how many texts to analyse.
    :return: one row per approach: ``approach``, ``messages``, ``seconds``,
        ``messages_per_second``, ``ratio`` (speed relative to the codec), ``mismatches``
        (texts where the encoding or units differ from the codec's).
    """
    import gsm0338  # noqa: F401  -- registers the "gsm03.38" codec; only the benchmark needs it

    texts = generate_texts(n)
    mismatches = 0
    for text in texts:
        ours = analyse_message(text)
        encoding, units, _ = codec_analysis(text)
        if (ours.encoding, ours.units) != (encoding, units):
            mismatches += 1
    timings = {
        "sms.analyse_message (own tables)": _time(analyse_message, texts),
        "gsm0338 encode, utf-16 fallback, count": _time(codec_analysis, texts),
    }
    baseline = timings["gsm0338 encode, utf-16 fallback, count"]
    return [
        {
            "approach": approach,
            "messages": n,
            "seconds": seconds,
            "messages_per_second": n / seconds,
            "ratio": baseline / seconds,
            "mismatches": mismatches,
        }
        for approach, seconds in timings.items()
    ]


def render(rows: list[dict[str, Any]]) -> str:
    """Format :func:`run`'s rows as a markdown table with the target verdict."""
    lines = [
        "| approach | messages | seconds | messages/s | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['approach']} | {row['messages']:,} | {row['seconds']:.3f} | "
            f"{row['messages_per_second']:,.0f} | {row['ratio']:.1f}x |"
        )
    ours = rows[0]
    verdict = (
        "PASS" if ours["messages_per_second"] >= TARGET_PER_SECOND and not ours["mismatches"] else "FAIL"
    )
    lines += [
        "",
        f"Target: analyse_message >= {TARGET_PER_SECOND:,} messages/s and the same encoding and units as "
        f"gsm0338 ({ours['mismatches']} mismatches): {verdict}",
        f"Reproduce: `{COMMAND.format(n=ours['messages'])}`",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse ``--n`` and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1_000_000, help="how many messages (default 1,000,000)")
    args = parser.parse_args(argv)
    print(render(run(args.n)))


if __name__ == "__main__":
    main()
