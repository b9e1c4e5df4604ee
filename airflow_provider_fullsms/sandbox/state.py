"""The sandbox's in-memory world: accounts, the messages phones received, OTPs, faults and counters.

Pure Python (no FastAPI), so it can be read and tested on its own. Every method that reads or
changes shared data takes :attr:`SandboxState.lock`: handlers run on one event loop today, but
the lock keeps balance and inbox updates exact even if a handler ever runs in a thread pool.

Money is kept as :class:`~decimal.Decimal` so a thousand 0.05 charges add up to exactly 50.
"""

from __future__ import annotations

import calendar
import copy
import heapq
import itertools
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_fullsms.sandbox import DEFAULT_TOKEN
from airflow_provider_fullsms.sms import BRAND_LIMITS, analyse_message

#: Paths of the vendor API, as FullSMS documents them (with a leading slash).
VENDOR_PATHS: tuple[str, ...] = (
    "/account/balance",
    "/account/numbers",
    "/account/lists",
    "/account/senderids",
    "/account/templates",
    "/messages/send/to_lists",
    "/messages/send/to_numbers",
    "/otp/create",
    "/otp/verify",
    "/otp/cancel",
    "/otp/search",
)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: A token of the default account that authenticates but has no API rights (403 Access Denied).
DEFAULT_NO_RIGHTS_TOKEN = "sandbox-token-no-rights"

#: The default seed mirrors the examples of the FullSMS reference, so every documented example
#: request works against a fresh sandbox with only the host and token changed.
DEFAULT_ACCOUNT: dict[str, Any] = {
    "name": "default",
    "tokens": [DEFAULT_TOKEN, {"token": DEFAULT_NO_RIGHTS_TOKEN, "rights": False}],
    "balance": 100,
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

FAULT_KINDS = ("latency", "rate_limit", "error", "drop", "slow", "refuse")
#: Kind-specific fields of a fault and their defaults.
FAULT_FIELDS: dict[str, dict[str, float]] = {
    "latency": {"ms": 100},
    "rate_limit": {"retry_after": 1},
    "error": {"status": 500},
    "drop": {},
    "slow": {"seconds": 5},
    "refuse": {"seconds": 2},
}


class SeedError(ValueError):
    """The state file does not describe a sandbox; the text says which key is wrong."""


def format_time(timestamp: float | None) -> str | None:
    """Format a UNIX timestamp the way FullSMS does (``YYYY-MM-DD HH:MM:SS``, UTC)."""
    if timestamp is None:
        return None
    return time.strftime(TIME_FORMAT, time.gmtime(timestamp))


def parse_time(text: str) -> float:
    """Parse ``YYYY-MM-DD HH:MM:SS`` (UTC) strictly into a UNIX timestamp.

    :raises ValueError: if ``text`` has another shape or is not a real date.
    """
    problem = ValueError(f"{text!r} is not a UTC date and time in the form YYYY-MM-DD HH:MM:SS")
    # strptime alone accepts "2025-1-1 8:5:7"; FullSMS documents the zero-padded form only.
    if len(text) != 19 or text[4] != "-" or text[7] != "-" or text[10] != " ":
        raise problem
    digits = text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:]
    if not (digits.isascii() and digits.isdigit()):
        raise problem
    try:
        return float(calendar.timegm(time.strptime(text, TIME_FORMAT)))
    except ValueError:
        raise problem from None


def money_json(value: Decimal) -> int | float:
    """Render money as FullSMS does: ``100`` for whole amounts, else up to 4 decimals."""
    if value == value.to_integral_value():
        return int(value)
    return float(value.quantize(Decimal("0.0001")))


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


@dataclass
class ContactList:
    list_id: int
    name: str
    subscribe_word: str | None
    subscribed: list[str]
    unsubscribed: list[str]


@dataclass
class Template:
    template_id: str
    name: str
    content: str


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


@dataclass
class Campaign:
    """One send: a text from one sender to many recipients (an OTP is a campaign of one).

    Recipients are kept as a list of strings rather than one object per message, so a benchmark
    sending hundreds of 500-number requests a second stays cheap in time and memory; the
    per-message view is built only when the inbox is read.
    """

    seq: int
    campaign_id: str | None
    otp_id: str | None
    sender: str
    text: str
    encoding: str
    segments: int
    recipients: list[str]
    created_at: float
    send_at: float | None
    delivered_at: float | None

    def messages(self) -> list[dict[str, Any]]:
        status = "delivered" if self.delivered_at is not None else "scheduled"
        common = {
            "from": self.sender,
            "text": self.text,
            "campaign_id": self.campaign_id,
            "otp_id": self.otp_id,
            "segments": self.segments,
            "encoding": self.encoding,
            "status": status,
            "created_at": format_time(self.created_at),
            "send_at": format_time(self.send_at),
            "delivered_at": format_time(self.delivered_at),
        }
        return [{"to": to, **common} for to in self.recipients]


@dataclass
class Otp:
    otp_id: str
    account: str
    destination: str
    sender: str
    brand: str
    code: int
    status: str
    created_at: float
    expires_at: float | None
    last_check_at: float | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    wrong_codes: int = 0

    def refresh(self, now: float) -> None:
        """Expire the OTP lazily: nothing runs in the background, every read looks at the clock."""
        if self.status == "in_progress" and self.expires_at is not None and now >= self.expires_at:
            self.status = "expired"

    @property
    def active(self) -> bool:
        return self.status == "in_progress"

    def to_json(self) -> dict[str, Any]:
        return {
            "uuid": self.otp_id,
            "status": self.status,
            "destination": self.destination,
            "sender_value": self.sender,
            "brand": self.brand,
            "created at": format_time(self.created_at),
            "last_check_at": format_time(self.last_check_at),
            "checks": list(self.checks),
        }


@dataclass
class Fault:
    """An armed fault: lets ``after`` matching requests through, then hits ``count`` of them."""

    fault_id: int
    kind: str
    path: str | None
    after: int
    count: int
    fields: dict[str, float]
    seen: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.fault_id,
            "kind": self.kind,
            "path": self.path,
            "after": self.after,
            "count": self.count,
            "seen": self.seen,
            **self.fields,
        }


def _seed_tokens(raw: Any, key: str) -> dict[str, bool]:
    if not isinstance(raw, list) or not raw:
        raise SeedError(f"{key} must be a non-empty list of tokens")
    tokens: dict[str, bool] = {}
    for entry in raw:
        if isinstance(entry, str) and entry:
            tokens[entry] = True
        elif isinstance(entry, dict) and isinstance(entry.get("token"), str) and entry["token"]:
            tokens[entry["token"]] = bool(entry.get("rights", True))
        else:
            raise SeedError(
                f"{key}: each token is a string or {{'token': ..., 'rights': bool}}, got {entry!r}"
            )
    return tokens


def build_account(raw: dict[str, Any], index: int) -> Account:
    """Turn one seed account (missing keys taken from :data:`DEFAULT_ACCOUNT`) into an :class:`Account`.

    :param raw: the account as written in the state file.
    :param index: its position, for error messages.
    """
    if not isinstance(raw, dict):
        raise SeedError(f"accounts[{index}] must be an object, got {raw!r}")
    where = f"accounts[{index}]"
    merged = {**copy.deepcopy(DEFAULT_ACCOUNT), **raw}
    if index > 0 and "tokens" not in raw:
        raise SeedError(f"{where}.tokens is required for every account but the first")
    otp = {**DEFAULT_ACCOUNT["otp"], **(merged.get("otp") or {})}
    lists: dict[int, ContactList] = {}
    for entry in merged["lists"]:
        try:
            list_id = int(entry["list_id"])
            subscribed: list[str] = []
            unsubscribed: list[str] = []
            for contact in entry.get("contacts", []):
                if isinstance(contact, str):
                    subscribed.append(contact)
                elif contact.get("subscribed", True):
                    subscribed.append(str(contact["number"]))
                else:
                    unsubscribed.append(str(contact["number"]))
            lists[list_id] = ContactList(
                list_id,
                str(entry.get("name", f"list {list_id}")),
                entry.get("subscribe_word"),
                subscribed,
                unsubscribed,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise SeedError(f"{where}.lists: bad list {entry!r}") from None
    templates: dict[str, Template] = {}
    for entry in merged["templates"]:
        try:
            template_id = str(entry["template_id"])
            templates[template_id] = Template(template_id, str(entry.get("name", "")), str(entry["content"]))
        except (KeyError, TypeError):
            raise SeedError(f"{where}.templates: bad template {entry!r}") from None
    numbers = []
    for entry in merged["numbers"]:
        if isinstance(entry, str):
            entry = {"number": entry, "country": ""}
        if not isinstance(entry, dict) or not isinstance(entry.get("number"), str):
            raise SeedError(f"{where}.numbers: bad number {entry!r}")
        numbers.append({"number": entry["number"], "country": str(entry.get("country", ""))})
    if not isinstance(merged["sender_ids"], list) or not all(
        isinstance(s, str) for s in merged["sender_ids"]
    ):
        raise SeedError(f"{where}.sender_ids must be a list of strings")
    ttl = otp.get("ttl_seconds")
    return Account(
        name=str(merged.get("name", f"account {index}")),
        tokens=_seed_tokens(merged["tokens"], f"{where}.tokens"),
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


def normalise_seed(raw: Any) -> dict[str, Any]:
    """Accept a state file with ``{"accounts": [...]}`` or a single account object.

    :param raw: the decoded JSON of a state file (or ``None`` for the default seed).
    """
    if raw is None:
        return {"accounts": [{}]}
    if not isinstance(raw, dict):
        raise SeedError("the state file must hold a JSON object")
    if "accounts" in raw:
        if not isinstance(raw["accounts"], list) or not raw["accounts"]:
            raise SeedError("accounts must be a non-empty list")
        return {"accounts": raw["accounts"]}
    return {"accounts": [raw]}


def brand_fits(brand: str) -> bool:
    """Whether an OTP brand is within FullSMS's 50 GSM-7 / 12 UCS-2 limit.

    :param brand: the ``brand`` of an OTP create request.
    """
    analysis = analyse_message(brand)
    return analysis.units <= BRAND_LIMITS[analysis.encoding]


class SandboxState:
    """Everything the sandbox knows, rebuilt from the seed by :meth:`reset`.

    :param seed: a state-file object (see :func:`normalise_seed`); ``None`` for the default seed.
    :param clock: returns the current UNIX time; tests of the state can pass a fake one.
    """

    def __init__(self, seed: Any = None, *, clock: Any = time.time) -> None:
        self.seed = normalise_seed(seed)
        self.clock = clock
        self.lock = threading.Lock()
        self.accounts: list[Account] = []
        self.tokens: dict[str, tuple[Account, bool]] = {}
        self.campaigns: list[Campaign] = []
        self.otps: dict[str, Otp] = {}
        self.faults: list[Fault] = []
        self.request_counts: dict[str, int] = {}
        self._scheduled: list[tuple[float, int, Campaign]] = []
        self._seq = itertools.count()
        self._fault_ids = itertools.count(1)
        self.reset()

    # -- seed ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Go back to the seed: balances, lists, an empty inbox, no OTPs, faults or counts."""
        accounts = [build_account(raw, index) for index, raw in enumerate(self.seed["accounts"])]
        tokens: dict[str, tuple[Account, bool]] = {}
        for account in accounts:
            for token, rights in account.tokens.items():
                if token in tokens:
                    raise SeedError(f"token {token[:4]}... is used by two accounts")
                tokens[token] = (account, rights)
        with self.lock:
            self.accounts = accounts
            self.tokens = tokens
            self.campaigns = []
            self.otps = {}
            self.faults = []
            self.request_counts = {}
            self._scheduled = []
            for account, raw in zip(accounts, self.seed["accounts"], strict=True):
                for entry in raw.get("otps", DEFAULT_ACCOUNT["otps"] if account is accounts[0] else []):
                    self._seed_otp(account, entry)

    def _seed_otp(self, account: Account, entry: dict[str, Any]) -> None:
        try:
            created = parse_time(entry["created_at"]) if entry.get("created_at") else self.clock()
            ttl = account.otp_ttl_seconds
            otp = Otp(
                otp_id=str(entry.get("otp_id") or uuid.uuid4()),
                account=account.name,
                destination=str(entry["to_number"]),
                sender=str(entry.get("from", "")),
                brand=str(entry.get("brand") or ""),
                code=int(entry["code"]),
                status=str(entry.get("status", "in_progress")),
                created_at=created,
                expires_at=None if not entry.get("expires", True) or ttl is None else created + ttl,
            )
        except (KeyError, TypeError, ValueError):
            raise SeedError(f"bad OTP in seed: {entry!r}") from None
        self.otps[otp.otp_id] = otp
        if otp.active:
            account.active_otps[otp.otp_id] = otp

    def set_seed_overrides(self, *, token: str | None = None, balance: Any = None) -> None:
        """Apply the ``--token`` / ``--balance`` command-line options to the first account of the seed.

        :param token: replaces the first token of the first account.
        :param balance: replaces the first account's starting balance.
        """
        first = dict(self.seed["accounts"][0])
        if token is not None:
            tokens = list(first.get("tokens", DEFAULT_ACCOUNT["tokens"]))
            tokens[0] = token
            first["tokens"] = tokens
        if balance is not None:
            first["balance"] = balance
        self.seed["accounts"][0] = first
        self.reset()

    @property
    def primary_token(self) -> str:
        return next(iter(self.accounts[0].tokens))

    # -- auth ---------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> tuple[Account, bool] | None:
        """Return ``(account, has_rights)`` for an ``Authorization: Bearer`` header, or ``None``."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.tokens.get(token.strip())

    # -- time ---------------------------------------------------------------------------------

    def deliver_due(self) -> None:
        """Mark scheduled campaigns whose time has come as delivered (called on every request)."""
        # Unlocked peek: the common case (nothing due) must cost next to nothing per request.
        if not self._scheduled or self._scheduled[0][0] > self.clock():
            return
        with self.lock:
            now = self.clock()
            while self._scheduled and self._scheduled[0][0] <= now:
                send_at, _, campaign = heapq.heappop(self._scheduled)
                campaign.delivered_at = send_at

    def count_request(self, path: str) -> None:
        with self.lock:
            self.request_counts[path] = self.request_counts.get(path, 0) + 1

    # -- sending ------------------------------------------------------------------------------

    def _charge(self, account: Account, cost: Decimal) -> bool:
        # FullSMS refuses below the account's minimum; we also refuse a send the balance cannot
        # pay for, so the balance never goes negative (same documented balance_low body).
        if account.balance < account.minimum_balance or account.balance < cost:
            return False
        account.balance -= cost
        return True

    def _record(
        self,
        *,
        campaign_id: str | None,
        otp_id: str | None,
        sender: str,
        text: str,
        encoding: str,
        segments: int,
        recipients: list[str],
        now: float,
        send_at: float | None,
    ) -> Campaign:
        scheduled = send_at is not None and send_at > now
        campaign = Campaign(
            seq=next(self._seq),
            campaign_id=campaign_id,
            otp_id=otp_id,
            sender=sender,
            text=text,
            encoding=encoding,
            segments=segments,
            recipients=recipients,
            created_at=now,
            send_at=send_at,
            delivered_at=None if scheduled else now,
        )
        self.campaigns.append(campaign)
        if scheduled:
            assert send_at is not None
            heapq.heappush(self._scheduled, (send_at, campaign.seq, campaign))
        return campaign

    def send_campaign(
        self,
        account: Account,
        *,
        sender: str,
        text: str,
        encoding: str,
        segments: int,
        recipients: list[str],
        send_at: float | None,
    ) -> str | None:
        """Charge the account and record one campaign; return its id, or ``None`` if the balance is low."""
        cost = account.price_per_segment * segments * len(recipients)
        campaign_id = str(uuid.uuid4())
        with self.lock:
            if not self._charge(account, cost):
                return None
            self._record(
                campaign_id=campaign_id,
                otp_id=None,
                sender=sender,
                text=text,
                encoding=encoding,
                segments=segments,
                recipients=recipients,
                now=self.clock(),
                send_at=send_at,
            )
        return campaign_id

    # -- OTP ----------------------------------------------------------------------------------

    def create_otp(self, account: Account, *, to_number: str, sender: str, brand: str) -> tuple[str, Any]:
        """Create an OTP and send its code; return ``(outcome, value)``.

        ``outcome`` is ``"created"`` (value: the OTP), ``"exists"`` (a younger active OTP to the
        number), ``"limit"`` (value: the cap) or ``"balance_low"``.
        """
        code = 100000 + secrets.randbelow(900000)
        text = f"{brand} code: {code}" if brand else f"Your code: {code}"
        analysis = analyse_message(text)
        with self.lock:
            now = self.clock()
            active = []
            for otp in list(account.active_otps.values()):
                otp.refresh(now)
                if otp.active:
                    active.append(otp)
                else:
                    del account.active_otps[otp.otp_id]
            same_number = [otp for otp in active if otp.destination == to_number]
            if any(now - otp.created_at < account.otp_resend_after_seconds for otp in same_number):
                return "exists", None
            if len(active) - len(same_number) >= account.otp_max_active:
                return "limit", account.otp_max_active
            if not self._charge(account, account.price_per_segment * analysis.segments):
                return "balance_low", None
            # A new OTP to the same number (allowed after the wait) replaces the old one, so a
            # number never has two codes that both work.
            for otp in same_number:
                otp.status = "canceled"
                del account.active_otps[otp.otp_id]
            ttl = account.otp_ttl_seconds
            otp = Otp(
                otp_id=str(uuid.uuid4()),
                account=account.name,
                destination=to_number,
                sender=sender,
                brand=brand,
                code=code,
                status="in_progress",
                created_at=now,
                expires_at=None if ttl is None else now + ttl,
            )
            self.otps[otp.otp_id] = otp
            account.active_otps[otp.otp_id] = otp
            self._record(
                campaign_id=None,
                otp_id=otp.otp_id,
                sender=sender,
                text=text,
                encoding=analysis.encoding,
                segments=analysis.segments,
                recipients=[to_number],
                now=now,
                send_at=None,
            )
        return "created", otp

    def find_otp(self, account: Account, otp_id: str) -> Otp | None:
        with self.lock:
            otp = self.otps.get(otp_id)
            if otp is None or otp.account != account.name:
                return None
            otp.refresh(self.clock())
            return otp

    def verify_otp(self, account: Account, otp_id: str, code: int) -> str:
        """Check a code; return ``missing``, ``inactive``, ``approved``, ``invalid`` or ``failed``."""
        with self.lock:
            otp = self.otps.get(otp_id)
            if otp is None or otp.account != account.name:
                return "missing"
            now = self.clock()
            otp.refresh(now)
            if not otp.active:
                account.active_otps.pop(otp_id, None)
                return "inactive"
            valid = code == otp.code
            otp.last_check_at = now
            otp.checks.append(
                {"date": format_time(now), "code": code, "status": "valid" if valid else "invalid"}
            )
            if valid:
                otp.status = "approved"
                account.active_otps.pop(otp_id, None)
                return "approved"
            otp.wrong_codes += 1
            if otp.wrong_codes >= account.otp_max_wrong_codes:
                otp.status = "failed"
                account.active_otps.pop(otp_id, None)
                return "failed"
            return "invalid"

    def cancel_otp(self, account: Account, otp_id: str) -> str:
        """Cancel an OTP; return ``"missing"``, ``"inactive"`` or ``"canceled"``."""
        with self.lock:
            otp = self.otps.get(otp_id)
            if otp is None or otp.account != account.name:
                return "missing"
            otp.refresh(self.clock())
            if not otp.active:
                account.active_otps.pop(otp_id, None)
                return "inactive"
            otp.status = "canceled"
            account.active_otps.pop(otp_id, None)
            return "canceled"

    # -- inspection -----------------------------------------------------------------------------

    def messages(
        self, *, to: str | None = None, campaign_id: str | None = None, otp_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every message a phone received or will receive, oldest first, optionally filtered."""
        with self.lock:
            campaigns = list(self.campaigns)
        result: list[dict[str, Any]] = []
        for campaign in campaigns:
            if campaign_id is not None and campaign.campaign_id != campaign_id:
                continue
            if otp_id is not None and campaign.otp_id != otp_id:
                continue
            if to is not None:
                if to in campaign.recipients:
                    result.extend(m for m in campaign.messages() if m["to"] == to)
                continue
            result.extend(campaign.messages())
        return result

    def latest_messages(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` messages, oldest first, without building the whole inbox.

        :param limit: how many messages at most.
        """
        with self.lock:
            campaigns = list(self.campaigns)
        picked: list[Campaign] = []
        total = 0
        for campaign in reversed(campaigns):
            if total >= limit:
                break
            picked.append(campaign)
            total += len(campaign.recipients)
        result = [message for campaign in reversed(picked) for message in campaign.messages()]
        return result[-limit:] if limit else []

    def set_balance(self, account: Account, balance: Decimal) -> None:
        with self.lock:
            account.balance = balance

    # -- faults -------------------------------------------------------------------------------

    def add_fault(
        self, kind: str, path: str | None, after: int, count: int, fields: dict[str, float]
    ) -> Fault:
        fault = Fault(next(self._fault_ids), kind, path, after, count, fields)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults = []

    def faults_hitting(self, path: str) -> list[Fault]:
        """Count one request on ``path`` against every armed fault; return the faults it triggers.

        A ``refuse`` fault triggers once ``after`` matching requests have been seen (the caller
        opens the window after answering this request); the others hit requests
        ``after + 1`` to ``after + count`` and are then disarmed.
        """
        if not self.faults:
            return []
        hits: list[Fault] = []
        with self.lock:
            for fault in list(self.faults):
                if fault.path is not None and fault.path != path:
                    continue
                fault.seen += 1
                if fault.kind == "refuse":
                    if fault.seen >= fault.after:
                        hits.append(fault)
                        self.faults.remove(fault)
                    continue
                if fault.seen > fault.after:
                    hits.append(fault)
                    if fault.seen >= fault.after + fault.count:
                        self.faults.remove(fault)
        return hits

    def fault_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [fault.to_json() for fault in self.faults]
