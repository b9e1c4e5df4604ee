"""
Typed results of the FullSMS API, named after the API's own fields.

Each ``from_api`` reads the documented body and nothing more; an unexpected shape raises
:class:`~airflow_provider_fullsms.exceptions.FullSmsUnexpectedResponseError` rather than a
``KeyError`` deep inside a task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from airflow_provider_fullsms.error_responses import redact, snippet
from airflow_provider_fullsms.exceptions import FullSmsUnexpectedResponseError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")


def read_body(body: Any, what: str, reader: Callable[[Any], T]) -> T:
    """
    Apply ``reader`` to a body, turning a missing or mistyped field into a clear error.

    The error quotes the body :func:`~airflow_provider_fullsms.error_responses.redact`-ed.
    """
    try:
        return reader(body)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        cause = redact(f"{type(err).__name__}: {err}")
        raise FullSmsUnexpectedResponseError(
            200, f"{what}: unexpected body ({cause}): {snippet(repr(body))}"
        ) from None


def read_items(body: Any, what: str, key: str, reader: Callable[[Any], T]) -> list[T]:
    """Apply ``reader`` to each item of a listing such as ``{"numbers": [...]}``, like :func:`read_body`."""
    return read_body(body, what, lambda b: [reader(item) for item in b[key]])


class _Listed:
    """A model read from one of the account's listings: :meth:`list_from_api` reads them all."""

    __slots__ = ()
    #: The listing's path and its key, e.g. ``("account/numbers", "numbers")``.
    LISTING: ClassVar[tuple[str, str]]

    @classmethod
    def from_item(cls, item: Any) -> Self:
        raise NotImplementedError

    @classmethod
    def list_from_api(cls, body: Any) -> list[Self]:
        """Every item of the listing's body, each read with :meth:`from_item`."""
        what, key = cls.LISTING
        return read_items(body, what, key, cls.from_item)


@dataclass(frozen=True, slots=True)
class PhoneNumber(_Listed):
    """A number the account owns (``GET account/numbers``)."""

    LISTING = ("account/numbers", "numbers")

    number: str
    country: str

    @classmethod
    def from_item(cls, item: Any) -> PhoneNumber:
        return cls(number=str(item["number"]), country=str(item["country"]))


@dataclass(frozen=True, slots=True)
class ContactList(_Listed):
    """A contact list (``GET account/lists``)."""

    LISTING = ("account/lists", "lists")

    list_id: int
    name: str
    subscribe_word: str | None
    subscribed_contacts: int

    @classmethod
    def from_item(cls, item: Any) -> ContactList:
        return cls(
            list_id=int(item["list_id"]),
            name=str(item["name"]),
            subscribe_word=item.get("subscribe_word"),
            subscribed_contacts=int(item.get("subscribed_contacts") or 0),
        )


@dataclass(frozen=True, slots=True)
class Template(_Listed):
    """A message template (``GET account/templates``)."""

    LISTING = ("account/templates", "templates")

    template_id: int
    name: str
    content: str

    @classmethod
    def from_item(cls, item: Any) -> Template:
        return cls(template_id=int(item["template_id"]), name=str(item["name"]), content=str(item["content"]))


@dataclass(frozen=True, slots=True)
class Campaign:
    """
    An accepted send (``POST messages/send/to_lists`` and ``to_numbers``).

    ``total_sent`` and ``invalid_numbers`` are only answered for sends to numbers.
    """

    campaign_id: str
    status: str
    total_sent: int | None = None
    invalid_numbers: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, body: Any) -> Campaign:
        def read(b: Mapping[str, Any]) -> Campaign:
            invalid = b.get("invalid") or {}
            return cls(
                campaign_id=str(b["campaign_id"]),
                status=str(b["status"]),
                total_sent=int(b["total_sent"]) if b.get("total_sent") is not None else None,
                invalid_numbers=tuple(str(n) for n in invalid.get("numbers") or ()),
            )

        return read_body(body, "messages/send", read)


@dataclass(frozen=True, slots=True)
class OtpRequest:
    """A created OTP (``POST otp/create``): the code went out by SMS."""

    otp_id: str
    status: str
    otp_status: str

    @classmethod
    def from_api(cls, body: Any) -> OtpRequest:
        return read_body(
            body,
            "otp/create",
            lambda b: cls(otp_id=str(b["otp_id"]), status=str(b["status"]), otp_status=str(b["otp_status"])),
        )


@dataclass(frozen=True, slots=True)
class OtpVerification:
    """The answer to ``POST otp/verify``: ``approved`` is true when the code was right."""

    status: str

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    @classmethod
    def from_api(cls, body: Any) -> OtpVerification:
        return read_body(body, "otp/verify", lambda b: cls(status=str(b["status"])))


@dataclass(frozen=True, slots=True)
class OtpCheck:
    """One verification attempt of an OTP."""

    date: str
    code: int | None
    status: str


@dataclass(frozen=True, slots=True)
class OtpInfo:
    """An OTP's state (``GET otp/search``). ``created_at`` is the API's ``created at``."""

    otp_id: str
    status: str
    destination: str
    sender_value: str
    brand: str
    created_at: str | None
    last_check_at: str | None
    checks: tuple[OtpCheck, ...]

    @classmethod
    def from_api(cls, body: Any) -> OtpInfo:
        return read_body(
            body,
            "otp/search",
            lambda b: cls(
                otp_id=str(b["uuid"]),
                status=str(b["status"]),
                destination=str(b["destination"]),
                sender_value=str(b.get("sender_value") or ""),
                brand=str(b.get("brand") or ""),
                created_at=b.get("created at", b.get("created_at")),
                last_check_at=b.get("last_check_at"),
                checks=tuple(
                    OtpCheck(
                        date=str(c["date"]),
                        code=int(c["code"]) if c.get("code") is not None else None,
                        status=str(c["status"]),
                    )
                    for c in b.get("checks") or ()
                ),
            ),
        )
