"""
What the provider reads from an Airflow connection of type ``fullsms``, read in one place.

Light on purpose: operators, sensors and notifiers import it while a DAG file is parsed, so it
imports neither ``requests`` nor ``httpx``, and pendulum only when a timezone is needed.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.exceptions import FullSmsConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pendulum.tz.timezone import FixedTimezone, Timezone

#: The connection every class of this provider uses unless told otherwise.
DEFAULT_CONN_ID = "fullsms_default"
#: Where the API lives when the connection's host is empty.
DEFAULT_BASE_URL = "https://api.fullsms.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_CONCURRENCY = 4
#: The longest timeout an extra may set, in seconds: a day (a socket refuses much longer ones).
MAX_TIMEOUT = 86_400.0
#: The most send requests one task keeps out at once (the connection form says the same).
MAX_CONCURRENCY = 32
#: Seconds a ledger write is retried while Airflow's api-server is unreachable: a restart of the
#: api-server or its database (tens of seconds), with room to spare.
DEFAULT_WRITE_WINDOW = 120.0
SEND_AT_FORMAT = "%Y-%m-%d %H:%M:%S"
_SEND_AT_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_USER_AGENT = "airflow-provider-fullsms"


@dataclass(frozen=True)
class ConnectionConfig:
    """
    Everything the hooks read from an Airflow connection, read in one place.

    :param base_url: API root without a trailing slash.
    :param token: the API token (never shown in ``repr``).
    """

    base_url: str
    token: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    default_sender: str | None = None
    timezone: str = "UTC"
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    #: ISO country code for phone numbers in national format; a task's ``default_region`` wins.
    default_region: str | None = None
    #: ``"possible"`` or ``"valid"``; a task's ``number_validation`` wins.
    number_validation: str | None = None
    #: The account's price of one SMS segment, to price a plan; a task's ``price_per_segment`` wins.
    price_per_segment: float | None = None
    #: The balance FullSMS keeps back (it refuses sends below it): part of a plan's ``required_balance``.
    minimum_balance: float = 0.0
    #: Seconds a ledger write is retried while the api-server is unreachable; a task's parameter wins.
    ledger_write_window: float = DEFAULT_WRITE_WINDOW

    @classmethod
    def from_connection(cls, conn: Any, extras: Mapping[str, Any]) -> ConnectionConfig:
        """Build from an Airflow ``Connection`` and its (already decoded) extras."""
        conn_id = getattr(conn, "conn_id", "?")
        token = conn.password or ""
        if not token:
            raise FullSmsConfigurationError(
                f"Connection {conn_id!r} has no API token: put it in the password field (API Token)."
            )
        config = cls(
            base_url=_base_url(conn.host, conn.port, conn.schema),
            token=token,
            timeout=_seconds(extras, "timeout", DEFAULT_TIMEOUT, conn_id),
            connect_timeout=_seconds(extras, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, conn_id),
            default_sender=str(extras["default_sender"]) if extras.get("default_sender") else None,
            timezone=str(extras.get("timezone") or "UTC"),
            max_concurrency=check_concurrency(
                _given_or(extras, "max_concurrency", DEFAULT_MAX_CONCURRENCY),
                where=f"Connection {conn_id!r}: extra ",
            ),
            default_region=_optional_text(extras, "default_region"),
            number_validation=_optional_text(extras, "number_validation"),
            price_per_segment=_amount(extras, "price_per_segment", conn_id),
            minimum_balance=_amount(extras, "minimum_balance", conn_id) or 0.0,
            ledger_write_window=check_write_window(
                extras.get("ledger_write_window") or DEFAULT_WRITE_WINDOW,
                where=f"Connection {conn_id!r}: extra ",
            ),
        )
        config.tz  # noqa: B018 -- refuse an unknown timezone when the connection is read
        return config

    @property
    def tz(self) -> Timezone | FixedTimezone:
        import pendulum

        try:
            return pendulum.timezone(self.timezone)
        except Exception:
            raise FullSmsConfigurationError(
                f"Unknown timezone {self.timezone!r} in the connection's 'timezone' extra: "
                "use an IANA name such as 'UTC' or 'Europe/London'."
            ) from None

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
        }


def _base_url(host: str | None, port: int | None, schema: str | None) -> str:
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        host = f"{schema or 'https'}://{host}"
    host = host.rstrip("/")
    if port and not re.search(r":\d+$", host.split("://", 1)[1].split("/", 1)[0]):
        scheme, rest = host.split("://", 1)
        netloc, _, path = rest.partition("/")
        host = f"{scheme}://{netloc}:{port}" + (f"/{path}" if path else "")
    return host


def _optional_text(extras: Mapping[str, Any], key: str) -> str | None:
    text = str(extras.get(key) or "").strip()
    return text or None


def _given_or(extras: Mapping[str, Any], key: str, default: object) -> object:
    """The extra ``key``, or ``default`` when it is not set (missing, ``null`` or an empty string)."""
    value = extras.get(key)
    return default if value is None or value == "" else value


def _number(value: object) -> float | None:
    """
    ``value`` as a finite number, or ``None``: a number or a numeric string, never a bool.

    ``nan`` and ``inf`` (also as strings) are not numbers here: a timeout or an amount of them
    would pass every comparison or none, and reach the HTTP client.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int too big for a float
        return None
    return number if math.isfinite(number) else None


def _brief(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters (marked with ``…``)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (Python's int-to-text limit)
        text = f"<a {type(value).__name__} too long to print>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(extras: Mapping[str, Any], key: str, default: float, conn_id: str) -> float:
    """A timeout extra: seconds, more than 0 and at most :data:`MAX_TIMEOUT`; ``default`` when not set."""
    value = _given_or(extras, key, default)
    number = _number(value)
    if number is None or not 0 < number <= MAX_TIMEOUT:
        raise FullSmsConfigurationError(
            f"Connection {conn_id!r}: extra {key!r} must be a positive number of seconds, got "
            f"{_brief(value)}: write e.g. {default:g} (at most {MAX_TIMEOUT:,.0f}), or leave it empty "
            f"for {default:g}."
        )
    return number


def _amount(extras: Mapping[str, Any], key: str, conn_id: str) -> float | None:
    """An amount of money from the extras (zero or more), or ``None`` when not set."""
    value = _given_or(extras, key, None)
    if value is None:
        return None
    try:
        return check_amount(value, key)
    except FullSmsConfigurationError:
        raise FullSmsConfigurationError(
            f"Connection {conn_id!r}: extra {key!r} must be an amount of zero or more, got {_brief(value)}: "
            "write e.g. 0.05, or leave it empty."
        ) from None


def check_amount(value: object, name: str) -> float:
    """
    ``value`` as an amount of money: a finite number of zero or more (a numeric string too).

    :raises FullSmsConfigurationError: anything else, naming ``name``.
    """
    number = _number(value)
    if number is None or number < 0:
        raise FullSmsConfigurationError(
            f"{name}={_brief(value)}: pass an amount of zero or more, such as 0.05."
        )
    return number


def _whole_number(value: object) -> int | None:
    """``value`` as a whole number (``4``, ``4.0``, ``"4"``), or ``None``: never rounded, never a bool."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def check_concurrency(value: object, *, where: str = "") -> int:
    """
    ``max_concurrency`` as a whole number from 1 to :data:`MAX_CONCURRENCY`.

    The one check of the bound, for the connection's extra and the send operator's parameter.

    :param where: what set it, for the message, e.g. ``"Connection 'fullsms_default': extra "``.
    :raises FullSmsConfigurationError: anything else (``2.5`` too: it is not rounded).
    """
    number = _whole_number(value)
    if number is None or not 1 <= number <= MAX_CONCURRENCY:
        raise FullSmsConfigurationError(
            f"{where}max_concurrency={_brief(value)}: use a whole number from 1 to {MAX_CONCURRENCY} "
            "(requests out at once)."
        )
    return number


def check_write_window(value: object, *, where: str = "") -> float:
    """
    ``ledger_write_window`` as seconds: a number above 0.

    :param where: what set it, for the message, e.g. ``"Connection 'fullsms_default': extra "``.
    :raises FullSmsConfigurationError: anything else.
    """
    number = -1.0
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            number = float(value)
    if not 0 < number < float("inf"):
        raise FullSmsConfigurationError(
            f"{where}ledger_write_window={value!r}: pass the seconds a ledger write may be retried "
            f"while Airflow's api-server is unreachable, a number above 0 (default {DEFAULT_WRITE_WINDOW:g})."
        )
    return number


def format_send_at(value: datetime | str | None, tz: Timezone | FixedTimezone) -> str | None:
    """
    Turn ``send_at`` into FullSMS's ``YYYY-MM-DD HH:MM:SS`` in the account's timezone.

    :param value: an aware ``datetime``/pendulum value, an ISO 8601 string with an offset, or a
        ``YYYY-MM-DD HH:MM:SS`` string already in the account's timezone.
    :param tz: the connection's timezone.
    :raises FullSmsConfigurationError: a naive datetime or a malformed string.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if _SEND_AT_PATTERN.match(text):
            try:
                local = datetime.strptime(text, SEND_AT_FORMAT)
            except ValueError:
                raise _bad_send_at(value) from None
            return _wall_clock(local, tz, value)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _bad_send_at(value) from None
    if not isinstance(value, datetime):
        raise _bad_send_at(value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise FullSmsConfigurationError(
            f"send_at={value.isoformat()!r} has no timezone: pass an aware datetime "
            "(e.g. pendulum.datetime(..., tz='UTC')) or a 'YYYY-MM-DD HH:MM:SS' string in the "
            "connection's timezone."
        )
    try:
        local = value.astimezone(tz).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise _bad_send_at(value, "is out of the range of dates") from None
    return _wall_clock(local, tz, value)


def _wall_clock(local: datetime, tz: Timezone | FixedTimezone, value: object) -> str:
    """
    ``local`` in FullSMS's format, refused when that wall-clock time is not one moment in ``tz``.

    FullSMS reads ``send_at`` as a wall-clock time in the account's timezone: a time the clocks
    skip when they go forward does not exist, and one they pass twice when they go back could be
    either; both are refused rather than guessed.
    """
    try:
        first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
        changes = first.utcoffset() != second.utcoffset()
        exists = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local
    except (OverflowError, ValueError):
        raise _bad_send_at(value, "is out of the range of dates") from None
    if changes:
        problem = (
            "happens twice (the clocks go back then), so FullSMS could send at either"
            if exists
            else "does not exist (the clocks go forward then)"
        )
        raise FullSmsConfigurationError(
            f"send_at={_shown(value)} is {local:%Y-%m-%d %H:%M:%S} in {tz.name}, a time that {problem}: "
            "pick a time outside the daylight-saving change, or an aware datetime in another hour."
        )
    return local.strftime(SEND_AT_FORMAT)


def _shown(value: object) -> str:
    return repr(value.isoformat() if isinstance(value, datetime) else value)


def _bad_send_at(value: object, problem: str = "is not a date and time") -> FullSmsConfigurationError:
    return FullSmsConfigurationError(
        f"send_at={_shown(value)} {problem}: use 'YYYY-MM-DD HH:MM:SS' (in the connection's "
        "timezone), an ISO 8601 string with an offset, or an aware datetime."
    )


def resolve_sender(sender: str | None, config: ConnectionConfig) -> str:
    """
    The explicit sender, else the connection's default sender, else a clear error.

    Not checked against the account here: :meth:`FullSmsHook.check_sender` does that.
    """
    chosen = sender or config.default_sender
    if not chosen:
        raise FullSmsConfigurationError(
            "No sender: pass sender= (an owned number, see get_numbers(), or an approved sender ID, "
            "see get_sender_ids()) or set 'default_sender' in the connection's extras."
        )
    return str(chosen)
