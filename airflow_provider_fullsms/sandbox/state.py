"""The sandbox's in-memory world: :class:`SandboxState` and the typed results of what it is asked to do.

Pure Python (no FastAPI), so it can be read and tested on its own. Every method that reads or
changes shared data takes :attr:`SandboxState.lock`: handlers run on one event loop today, but
the lock keeps balance and inbox updates exact even if a handler ever runs in a thread pool.

Money is kept as :class:`~decimal.Decimal` so a thousand 0.05 charges add up to exactly 50.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import secrets
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_fullsms.sandbox.armed_faults import ArmedFaults
from airflow_provider_fullsms.sandbox.records import Campaign, Otp, OtpStatus, format_time
from airflow_provider_fullsms.sandbox.seed import (
    DEFAULT_ACCOUNT,
    Account,
    SeedError,
    build_account,
    build_otp,
    normalise_seed,
)
from airflow_provider_fullsms.sms import analyse_message

if TYPE_CHECKING:
    from collections.abc import Callable
    from decimal import Decimal


class OtpCreateResult(enum.StrEnum):
    """What :meth:`SandboxState.create_otp` did."""

    CREATED = "created"
    #: A younger active OTP goes to the same number (the resend wait has not passed).
    EXISTS = "exists"
    #: The account already has its maximum of active OTPs.
    LIMIT = "limit"
    BALANCE_LOW = "balance_low"


class OtpCreation(NamedTuple):
    """The result of :meth:`SandboxState.create_otp`; ``otp`` is set only when it was created."""

    result: OtpCreateResult
    otp: Otp | None


class OtpGone(enum.StrEnum):
    """Why an OTP id can no longer be verified or canceled."""

    #: No such OTP, or another account's.
    MISSING = "missing"
    #: Approved, failed, canceled or expired already.
    INACTIVE = "inactive"


class OtpCheck(enum.StrEnum):
    """The outcome of checking a code against an active OTP."""

    APPROVED = "approved"
    #: Wrong, with wrong tries left.
    INVALID = "invalid"
    #: Wrong once too often: the OTP is now failed.
    FAILED = "failed"


class SandboxState:
    """Everything the sandbox knows, rebuilt from the seed by :meth:`reset`.

    :param seed: a state-file object (see :func:`~.seed.normalise_seed`); ``None`` for the default seed.
    :param clock: returns the current UNIX time; tests of the state can pass a fake one.
    """

    def __init__(self, seed: Any = None, *, clock: Callable[[], float] = time.time) -> None:
        self.seed = normalise_seed(seed)
        self.clock = clock
        self.lock = threading.Lock()
        self.accounts: list[Account] = []
        self.tokens: dict[str, tuple[Account, bool]] = {}
        self.campaigns: list[Campaign] = []
        self.otps: dict[str, Otp] = {}
        self.faults = ArmedFaults()
        self.request_counts: dict[str, int] = {}
        self._scheduled: list[tuple[float, int, Campaign]] = []
        self._seq = itertools.count()
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
        self.faults.clear()
        with self.lock:
            self.accounts = accounts
            self.tokens = tokens
            self.campaigns = []
            self.otps = {}
            self.request_counts = {}
            self._scheduled = []
            #: Numbers that "could not receive messages": a send naming one is refused with a 422.
            self.unreachable: frozenset[str] = frozenset()
            for account, raw in zip(accounts, self.seed["accounts"], strict=True):
                for entry in raw.get("otps", DEFAULT_ACCOUNT["otps"] if account is accounts[0] else []):
                    otp = build_otp(entry, account, self.clock())
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
        """Return ``(account, has_rights)`` for an ``Authorization: Bearer`` header, or ``None``.

        :param authorization: the header's value, if any.
        """
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.tokens.get(token.strip())

    # -- time and counts ------------------------------------------------------------------------

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

    def counted_requests(self) -> dict[str, int]:
        """A copy of the vendor requests counted per path since the last reset."""
        with self.lock:
            return dict(self.request_counts)

    # -- sending ------------------------------------------------------------------------------

    def _charge(self, account: Account, cost: Decimal) -> bool:
        # FullSMS refuses below the account's minimum; we also refuse a send the balance cannot
        # pay for, so the balance never goes negative (same documented balance_low body).
        if account.balance < account.minimum_balance or account.balance < cost:
            return False
        account.balance -= cost
        return True

    def _keep(self, account: Account, campaign: Campaign) -> bool:
        """Charge ``account`` for ``campaign`` and keep it (call under the lock); ``False`` if it cannot pay.

        The campaign is numbered, and delivered now unless its ``send_at`` is still to come.
        """
        cost = account.price_per_segment * campaign.segments * len(campaign.recipients)
        if not self._charge(account, cost):
            return False
        campaign.seq = next(self._seq)
        campaign.cost = cost
        self.campaigns.append(campaign)
        if campaign.send_at is not None and campaign.send_at > campaign.created_at:
            heapq.heappush(self._scheduled, (campaign.send_at, campaign.seq, campaign))
        else:
            campaign.delivered_at = campaign.created_at
        return True

    def send_campaign(self, account: Account, campaign: Campaign) -> str | None:
        """Charge the account and keep ``campaign``; return its new id, or ``None`` if the balance is low.

        :param account: the sending account, charged per segment and recipient.
        :param campaign: the send, its text already looked up (a template's content) and analysed.
        """
        campaign.campaign_id = str(uuid.uuid4())
        with self.lock:
            return campaign.campaign_id if self._keep(account, campaign) else None

    # -- OTP ----------------------------------------------------------------------------------

    def create_otp(self, account: Account, *, to_number: str, sender: str, brand: str) -> OtpCreation:
        """Create an OTP and send its code.

        :param account: the account, charged for the code SMS.
        :param to_number: the phone the code goes to.
        :param sender: the checked ``from``.
        :param brand: the brand the code SMS starts with (``""`` for none).
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
                return OtpCreation(OtpCreateResult.EXISTS, None)
            if len(active) - len(same_number) >= account.otp_max_active:
                return OtpCreation(OtpCreateResult.LIMIT, None)
            otp_id = str(uuid.uuid4())
            code_sms = Campaign(
                otp_id=otp_id,
                sender=sender,
                text=text,
                encoding=analysis.encoding,
                segments=analysis.segments,
                recipients=[to_number],
                created_at=now,
            )
            if not self._keep(account, code_sms):
                return OtpCreation(OtpCreateResult.BALANCE_LOW, None)
            # A new OTP to the same number (allowed after the wait) replaces the old one, so a
            # number never has two codes that both work.
            for otp in same_number:
                self._close(account, otp, OtpStatus.CANCELED)
            ttl = account.otp_ttl_seconds
            otp = Otp(
                otp_id=otp_id,
                account=account.name,
                destination=to_number,
                sender=sender,
                brand=brand,
                code=code,
                status=OtpStatus.IN_PROGRESS,
                created_at=now,
                expires_at=None if ttl is None else now + ttl,
            )
            self.otps[otp.otp_id] = otp
            account.active_otps[otp.otp_id] = otp
        return OtpCreation(OtpCreateResult.CREATED, otp)

    def _own_otp(self, account: Account, otp_id: str, now: float) -> Otp | None:
        """The account's OTP ``otp_id``, expired if its time is up (call under the lock)."""
        otp = self.otps.get(otp_id)
        if otp is None or otp.account != account.name:
            return None
        otp.refresh(now)
        return otp

    def _active_otp(self, account: Account, otp_id: str, now: float) -> Otp | OtpGone:
        """The account's OTP ``otp_id`` if it can still be verified or canceled (call under the lock)."""
        otp = self._own_otp(account, otp_id, now)
        if otp is None:
            return OtpGone.MISSING
        if not otp.active:
            account.active_otps.pop(otp_id, None)
            return OtpGone.INACTIVE
        return otp

    @staticmethod
    def _close(account: Account, otp: Otp, status: OtpStatus) -> None:
        otp.status = status
        account.active_otps.pop(otp.otp_id, None)

    def find_otp(self, account: Account, otp_id: str) -> Otp | None:
        """The account's OTP ``otp_id`` (in any status), or ``None``.

        :param account: the asking account; another account's OTP counts as missing.
        :param otp_id: the OTP's id.
        """
        with self.lock:
            return self._own_otp(account, otp_id, self.clock())

    def verify_otp(self, account: Account, otp_id: str, code: int) -> OtpGone | OtpCheck:
        """Check a code against an OTP.

        :param account: the asking account.
        :param otp_id: the OTP's id.
        :param code: the code the phone's owner typed.
        """
        with self.lock:
            now = self.clock()
            otp = self._active_otp(account, otp_id, now)
            if isinstance(otp, OtpGone):
                return otp
            valid = code == otp.code
            otp.last_check_at = now
            otp.checks.append(
                {"date": format_time(now), "code": code, "status": "valid" if valid else "invalid"}
            )
            if valid:
                self._close(account, otp, OtpStatus.APPROVED)
                return OtpCheck.APPROVED
            otp.wrong_codes += 1
            if otp.wrong_codes >= account.otp_max_wrong_codes:
                self._close(account, otp, OtpStatus.FAILED)
                return OtpCheck.FAILED
            return OtpCheck.INVALID

    def cancel_otp(self, account: Account, otp_id: str) -> OtpGone | Otp:
        """Cancel an OTP; return it canceled, or why it could not be.

        :param account: the asking account.
        :param otp_id: the OTP's id.
        """
        with self.lock:
            otp = self._active_otp(account, otp_id, self.clock())
            if not isinstance(otp, OtpGone):
                self._close(account, otp, OtpStatus.CANCELED)
            return otp

    # -- inspection -----------------------------------------------------------------------------

    def messages(
        self, *, to: str | None = None, campaign_id: str | None = None, otp_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every message a phone received or will receive, oldest first, optionally filtered.

        :param to: only messages to this number.
        :param campaign_id: only messages of this campaign.
        :param otp_id: only the code SMS of this OTP.
        """
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

    def kept_campaigns(self) -> list[Campaign]:
        """A copy of the list of kept campaigns (OTP code messages included), oldest first."""
        with self.lock:
            return list(self.campaigns)

    def set_balance(self, account: Account, balance: Decimal) -> None:
        with self.lock:
            account.balance = balance
