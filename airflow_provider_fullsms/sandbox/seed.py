"""The seed: the default FullSMS account, and turning a state file into checked :class:`Account` objects.

Every problem in a state file is a :class:`SeedError` naming the key at fault, so
``fullsms-sandbox --state FILE`` can say what to fix instead of failing on the first request.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_fullsms.sandbox import DEFAULT_BALANCE, DEFAULT_TOKEN
from airflow_provider_fullsms.sandbox.bodies import as_int
from airflow_provider_fullsms.sandbox.records import Otp, OtpStatus, parse_time

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

K = TypeVar("K")
V = TypeVar("V")

#: A token of the default account that authenticates but has no API rights (403 Access Denied).
DEFAULT_NO_RIGHTS_TOKEN = "sandbox-token-no-rights"

#: The default seed mirrors the examples of the FullSMS reference, so every documented example
#: request works against a fresh sandbox with only the host and token changed.
DEFAULT_ACCOUNT: dict[str, Any] = {
    "name": "default",
    "tokens": [DEFAULT_TOKEN, {"token": DEFAULT_NO_RIGHTS_TOKEN, "rights": False}],
    "balance": DEFAULT_BALANCE,
    "price_per_segment": "0.05",
    "minimum_balance": "1.00",
    "allow_shortlinks": False,
    "numbers": [{"number": "441111111111", "country": "GB"}],
    "sender_ids": ["COPERATO"],
    "lists": [
        {
            "list_id": 7,
            "name": "yourlistName",
            "subscribe_word": None,
            "contacts": [
                "447700900001",
                "447700900002",
                "447700900003",
                {"number": "447700900009", "subscribed": False},
            ],
        },
        {
            "list_id": 8,
            "name": "staff",
            "subscribe_word": "STAFF",
            "contacts": ["447700900003", "972541111111"],
        },
    ],
    "templates": [
        {"template_id": 7, "name": "yourTemplateName", "content": "Hello World"},
        {"template_id": 42, "name": "reminder", "content": "Reminder: your appointment is tomorrow."},
    ],
    "otp": {"max_active": 10, "ttl_seconds": 600, "resend_after_seconds": 30, "max_wrong_codes": 3},
    # The OTP of the reference's verify/cancel/search examples, so those examples answer 200.
    # It never expires and is dated like the reference, so it does not block new OTPs.
    "otps": [
        {
            "otp_id": "6a68fb58-9f58-450e-bf06-d5008977116a",
            "to_number": "972546461393",
            "from": "OTP",
            "brand": "",
            "code": 626262,
            "created_at": "2023-06-05 13:02:56",
            "expires": False,
        }
    ],
}


#: The keys each object of a state file may have: any other is a typo (``"balanse"``), refused.
OTP_SETTINGS_KEYS = frozenset(DEFAULT_ACCOUNT["otp"])
LIST_KEYS = frozenset({"list_id", "name", "subscribe_word", "contacts"})
CONTACT_KEYS = frozenset({"number", "subscribed"})
TEMPLATE_KEYS = frozenset({"template_id", "name", "content"})
NUMBER_KEYS = frozenset({"number", "country"})
TOKEN_KEYS = frozenset({"token", "rights"})
OTP_KEYS = frozenset({"otp_id", "to_number", "from", "brand", "code", "status", "created_at", "expires"})


class SeedError(ValueError):
    """The state file does not describe a sandbox; the text says which key is wrong."""


def check_keys(entry: dict[str, Any], known: Iterable[str], where: str) -> None:
    """
    Refuse keys of ``entry`` that are not ``known``, naming them and the known ones.

    :param where: how the error names the object, e.g. ``accounts[0]``.
    """
    unknown = sorted(set(entry) - set(known), key=str)
    if unknown:
        raise SeedError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the known keys are {', '.join(sorted(known))}"
        )


@dataclass
class ContactList:
    list_id: int
    name: str
    subscribe_word: str | None
    #: Only subscribed contacts: the sandbox never sends to the others.
    subscribed: list[str]

    def to_json(self) -> dict[str, Any]:
        """An item of ``GET account/lists``."""
        return {
            "list_id": self.list_id,
            "name": self.name,
            "subscribe_word": self.subscribe_word,
            "subscribed_contacts": len(self.subscribed),
        }


@dataclass
class Template:
    template_id: str
    name: str
    content: str

    def to_json(self) -> dict[str, Any]:
        """An item of ``GET account/templates``: numeric ids go out as numbers, as the vendor shows them."""
        template_id = as_int(self.template_id)
        return {
            "template_id": self.template_id if template_id is None else template_id,
            "name": self.name,
            "content": self.content,
        }


@dataclass
class Account:
    """One FullSMS account as seeded; :meth:`SandboxState.reset` rebuilds it from the seed."""

    name: str
    tokens: dict[str, bool]
    balance: Decimal
    price_per_segment: Decimal
    minimum_balance: Decimal
    allow_shortlinks: bool
    numbers: list[dict[str, str]]
    sender_ids: list[str]
    lists: dict[int, ContactList]
    templates: dict[str, Template]
    otp_max_active: int
    otp_ttl_seconds: float | None
    otp_resend_after_seconds: float
    otp_max_wrong_codes: int
    active_otps: dict[str, Otp] = field(default_factory=dict)

    @property
    def owned_numbers(self) -> set[str]:
        return {entry["number"] for entry in self.numbers}


def normalise_seed(raw: Any) -> dict[str, Any]:
    """Accept a state file with ``{"accounts": [...]}`` or a single account object.

    :param raw: the decoded JSON of a state file (or ``None`` for the default seed).
    """
    if raw is None:
        return {"accounts": [{}]}
    if not isinstance(raw, dict):
        raise SeedError("the state file must hold a JSON object")
    if "accounts" in raw:
        check_keys(raw, ["accounts"], "the state file (accounts beside account keys)")
        if not isinstance(raw["accounts"], list) or not raw["accounts"]:
            raise SeedError("accounts must be a non-empty list")
        return {"accounts": raw["accounts"]}
    return {"accounts": [raw]}


def build_account(raw: dict[str, Any], index: int) -> Account:
    """Turn one seed account (missing keys taken from :data:`DEFAULT_ACCOUNT`) into an :class:`Account`.

    :param raw: the account as written in the state file.
    :param index: its position, for error messages.
    """
    if not isinstance(raw, dict):
        raise SeedError(f"accounts[{index}] must be an object, got {raw!r}")
    where = f"accounts[{index}]"
    check_keys(raw, DEFAULT_ACCOUNT, where)
    merged = {**copy.deepcopy(DEFAULT_ACCOUNT), **raw}
    if index > 0 and "tokens" not in raw:
        raise SeedError(f"{where}.tokens is required for every account but the first")
    if isinstance(merged.get("otp"), dict):
        check_keys(merged["otp"], OTP_SETTINGS_KEYS, f"{where}.otp")
    otp = {**DEFAULT_ACCOUNT["otp"], **(merged.get("otp") or {})}
    lists = _lists(merged["lists"], where)
    templates = _templates(merged["templates"], where)
    numbers = _numbers(merged["numbers"], where)
    if not isinstance(merged["sender_ids"], list) or not all(
        isinstance(s, str) for s in merged["sender_ids"]
    ):
        raise SeedError(f"{where}.sender_ids must be a list of strings")
    ttl = otp.get("ttl_seconds")
    return Account(
        name=str(merged.get("name", f"account {index}")),
        tokens=_tokens(merged["tokens"], f"{where}.tokens"),
        balance=_decimal(merged["balance"], f"{where}.balance"),
        price_per_segment=_decimal(merged["price_per_segment"], f"{where}.price_per_segment"),
        minimum_balance=_decimal(merged["minimum_balance"], f"{where}.minimum_balance"),
        allow_shortlinks=bool(merged["allow_shortlinks"]),
        numbers=numbers,
        sender_ids=list(merged["sender_ids"]),
        lists=lists,
        templates=templates,
        otp_max_active=int(otp["max_active"]),
        otp_ttl_seconds=None if ttl is None else float(ttl),
        otp_resend_after_seconds=float(otp["resend_after_seconds"]),
        otp_max_wrong_codes=int(otp["max_wrong_codes"]),
    )


def build_otp(entry: Any, account: Account, now: float) -> Otp:
    """Turn one seeded OTP into an :class:`Otp` of ``account``.

    :param entry: the OTP as written in the state file.
    :param account: the account it belongs to (its TTL applies unless ``"expires": false``).
    :param now: the creation time of an OTP that does not give ``created_at``.
    """
    if isinstance(entry, dict):
        check_keys(entry, OTP_KEYS, f"OTP {entry.get('otp_id') or entry.get('to_number')!r}")
    try:
        created = parse_time(entry["created_at"]) if entry.get("created_at") else now
        ttl = account.otp_ttl_seconds
        return Otp(
            otp_id=str(entry.get("otp_id") or uuid.uuid4()),
            account=account.name,
            destination=str(entry["to_number"]),
            sender=str(entry.get("from", "")),
            brand=str(entry.get("brand") or ""),
            code=int(entry["code"]),
            status=str(entry.get("status", OtpStatus.IN_PROGRESS)),
            created_at=created,
            expires_at=None if not entry.get("expires", True) or ttl is None else created + ttl,
        )
    except (KeyError, TypeError, ValueError):
        raise SeedError(f"bad OTP in seed: {entry!r}") from None


def _decimal(value: Any, key: str) -> Decimal:
    if isinstance(value, bool):
        raise SeedError(f"{key} must be a number, got {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise SeedError(f"{key} must be a number, got {value!r}") from None
    if not result.is_finite():
        raise SeedError(f"{key} must be a finite number, got {value!r}")
    return result


def _tokens(raw: Any, key: str) -> dict[str, bool]:
    if not isinstance(raw, list) or not raw:
        raise SeedError(f"{key} must be a non-empty list of tokens")
    tokens: dict[str, bool] = {}
    for entry in raw:
        if isinstance(entry, str) and entry:
            tokens[entry] = True
        elif isinstance(entry, dict) and isinstance(entry.get("token"), str) and entry["token"]:
            check_keys(entry, TOKEN_KEYS, key)
            tokens[entry["token"]] = bool(entry.get("rights", True))
        else:
            raise SeedError(
                f"{key}: each token is a string or {{'token': ..., 'rights': bool}}, got {entry!r}"
            )
    return tokens


def _entries(raw: Any, where: str, what: str, read: Callable[[Any], tuple[K, V]]) -> dict[K, V]:
    """Read each entry of a seed listing with ``read``; a malformed one is a :class:`SeedError`."""
    entries: dict[K, V] = {}
    for entry in raw:
        try:
            key, value = read(entry)
        except SeedError as error:
            raise SeedError(f"{where}.{what}s: {error}") from None
        except (KeyError, TypeError, ValueError, AttributeError):
            raise SeedError(f"{where}.{what}s: bad {what} {entry!r}") from None
        entries[key] = value
    return entries


def _lists(raw: Any, where: str) -> dict[int, ContactList]:
    return _entries(raw, where, "list", _contact_list)


def _contact_list(entry: Any) -> tuple[int, ContactList]:
    check_keys(entry, LIST_KEYS, f"list {entry.get('list_id')!r}")
    list_id = int(entry["list_id"])
    subscribed: list[str] = []
    for contact in entry.get("contacts", []):
        if isinstance(contact, str):
            subscribed.append(contact)
        else:
            # Read even when unsubscribed, so a contact without a number is a SeedError.
            check_keys(contact, CONTACT_KEYS, f"list {list_id} contact {contact.get('number')!r}")
            number = str(contact["number"])
            if contact.get("subscribed", True):
                subscribed.append(number)
    name = str(entry.get("name", f"list {list_id}"))
    return list_id, ContactList(list_id, name, entry.get("subscribe_word"), subscribed)


def _templates(raw: Any, where: str) -> dict[str, Template]:
    return _entries(raw, where, "template", _template)


def _template(entry: Any) -> tuple[str, Template]:
    check_keys(entry, TEMPLATE_KEYS, f"template {entry.get('template_id')!r}")
    template_id = str(entry["template_id"])
    return template_id, Template(template_id, str(entry.get("name", "")), str(entry["content"]))


def _numbers(raw: Any, where: str) -> list[dict[str, str]]:
    numbers = []
    for entry in raw:
        if isinstance(entry, str):
            entry = {"number": entry, "country": ""}
        if not isinstance(entry, dict) or not isinstance(entry.get("number"), str):
            raise SeedError(f"{where}.numbers: bad number {entry!r}")
        check_keys(entry, NUMBER_KEYS, f"{where}.numbers: number {entry['number']!r}")
        numbers.append({"number": entry["number"], "country": str(entry.get("country", ""))})
    return numbers
