"""
Write ``crm_contacts.csv``: a deterministic, realistic CRM export for the ``fullsms_crm_to_sms`` demo.

Real exports are messy, so this one is too: numbers typed with spaces, dashes, ``+`` or ``00``
prefixes, the same person exported twice under two spellings of one number, numbers in national
format (no country code) or too short, blank cells, contacts who opted out, and a few names that
need UCS-2 (two segments for the same text). The numbers sit in ranges reserved for drama and
fiction where one exists (US 555-01xx; UK numbers all start 07700 9), and the demo only ever
texts the sandbox.

Run it from the project root to regenerate the committed file (the output is byte-identical)::

    python example_dags/data/make_crm_sample.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

ROWS = 3000
SEED = 20240611
OUTPUT = Path(__file__).with_name("crm_contacts.csv")
COLUMNS = ["contact_id", "first_name", "last_name", "phone", "country", "opted_out", "segment", "last_order"]

FIRST_NAMES = [
    "Alice", "Bob", "Charlie", "Dana", "Eli", "Fatima", "George", "Hannah", "Ivan", "Jade",
    "Karim", "Laura", "Mohammed", "Noa", "Oliver", "Priya", "Quentin", "Rosa", "Sam", "Tamar",
    "Uma", "Victor", "Wen", "Xavier", "Yael", "Zoe", "Amir", "Beatriz", "Chen", "Dmitri",
    "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas", "Kai", "Leila", "Mateo", "Nina",
    "Omar", "Paula", "Rafael", "Sofia", "Tom", "Ursula", "Vera", "Yusuf", "Ziv", "José",
]  # fmt: skip
# Names with letters outside GSM-7: their texts go out as UCS-2, so they cost two segments.
UCS2_FIRST_NAMES = ["Zoë", "Łukasz", "Ólafur", "Ștefan", "Chloë"]
LAST_NAMES = [
    "Smith", "Cohen", "Garcia", "Müller", "Levi", "Brown", "Khan", "Rossi", "Novak", "Dubois",
    "Silva", "Kim", "Nowak", "Haddad", "Jensen", "Okafor", "Tanaka", "Peretz", "Walsh", "Ivanova",
]  # fmt: skip
SEGMENTS = ["regular", "regular", "regular", "vip", "lapsed"]


def _number(rng: random.Random, country: str) -> str:
    """A number in digits-only E.164 (country code first)."""
    if country == "GB":
        return f"447700{rng.randrange(900000, 1000000)}"
    if country == "US":
        # 555-0100..0199 is set aside for fiction in every US area code.
        return f"1{rng.randrange(201, 990)}55501{rng.randrange(0, 100):02d}"
    return f"97254{rng.randrange(1000000, 10000000)}"


def _as_typed(rng: random.Random, number: str, country: str) -> str:
    """The number as a person or another system typed it into the CRM."""
    style = rng.random()
    if style < 0.30:
        return number
    if style < 0.55:
        return "+" + number
    if style < 0.70:
        return "00" + number
    code = {"GB": 2, "US": 1, "IL": 3}[country]
    rest = number[code:]
    if style < 0.85:
        # "+44 7700 900123", "+1 202-555-0142"
        if country == "US":
            return f"+1 {rest[:3]}-{rest[3:6]}-{rest[6:]}"
        return f"+{number[:code]} {rest[:4]} {rest[4:]}"
    # "(+972) 547-281-446": a spreadsheet's phone format
    return f"(+{number[:code]}) {rest[:3]}-{rest[3:6]}-{rest[6:]}"


def _invalid(rng: random.Random, number: str) -> str:
    """A number FullSMS cannot take: national format, cut short, or not a number at all."""
    kind = rng.randrange(4)
    if kind == 0:
        return "0" + number[2:]  # national format: the country code is missing
    if kind == 1:
        return number[:5]
    if kind == 2:
        return rng.choice(["n/a", "unknown", "-", "call office"])
    return ""


def make_rows(rows: int = ROWS, seed: int = SEED) -> list[list[str]]:
    """The export's data rows, the same for the same ``rows`` and ``seed``."""
    rng = random.Random(seed)
    out: list[list[str]] = []
    used: set[str] = set()
    for index in range(rows):
        contact_id = f"C{100000 + index}"
        country = rng.choices(["GB", "US", "IL"], weights=[6, 2, 2])[0]
        first = rng.choice(UCS2_FIRST_NAMES) if rng.random() < 0.02 else rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        if out and rng.random() < 0.04:
            # The same person twice (an import merged badly): same name, the number typed differently.
            twin = rng.choice(out)
            first, last, country = twin[1], twin[2], twin[4]
            phone = _as_typed(rng, _digits_of(twin[3]) or _number(rng, country), country)
        else:
            number = _number(rng, country)
            while number in used:
                number = _number(rng, country)
            used.add(number)
            phone = _invalid(rng, number) if rng.random() < 0.015 else _as_typed(rng, number, country)
        opted_out = "true" if rng.random() < 0.06 else "false"
        segment = rng.choice(SEGMENTS)
        last_order = f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        out.append([contact_id, first, last, phone, country, opted_out, segment, last_order])
    return out


def _digits_of(phone: str) -> str:
    """The E.164 digits of a typed number ('' when it is one of the invalid ones)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.startswith("00"):
        digits = digits[2:]
    return digits if len(digits) >= 10 and not digits.startswith("0") else ""


def main() -> None:
    with OUTPUT.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(make_rows())
    print(f"wrote {ROWS} contacts to {OUTPUT}")


if __name__ == "__main__":
    main()
