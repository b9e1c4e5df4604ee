"""Reading request bodies by hand, with Laravel's rules, and describing them in ``/openapi.json``.

Bodies are not bound by FastAPI's pydantic models, because the vendor's error bodies
(Laravel-style ``422 Unprocessable Content`` with per-field messages, 403s before 422s, ...) are
the contract; the pydantic models of the routers only describe the bodies, via :func:`body_schema`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.sandbox.responses import Refusal, field_errors

if TYPE_CHECKING:
    from fastapi import Request
    from pydantic import BaseModel

#: Bodies larger than this are refused (after being read, so the client sees the answer).
MAX_BODY_BYTES = 1024 * 1024
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, *, otp: bool = False) -> dict[str, Any]:
    """Read a JSON object body; anything else is refused with the documented 422 shape.

    The body is always read to the end, even when too large, so the client gets the answer
    instead of a reset connection while it is still sending.

    :param request: the request.
    :param otp: refuse in the OTP endpoints' shape (see :func:`~.responses.field_errors`).
    :raises Refusal: for a body too large, not JSON, or not an object.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
    if size > MAX_BODY_BYTES:
        raise Refusal(
            field_errors(
                {"body": [f"The request body must not be larger than {MAX_BODY_BYTES} bytes."]},
                otp=otp,
                status=413,
            )
        )
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers bad JSON, bad UTF-8 and over-long integers.
        raise Refusal(field_errors({"body": ["The request body must be valid JSON."]}, otp=otp)) from None
    if not isinstance(body, dict):
        raise Refusal(field_errors({"body": ["The request body must be a JSON object."]}, otp=otp))
    return body


def present(value: Any) -> bool:
    """Laravel's ``required``: null, empty strings and empty arrays count as missing.

    :param value: a field of a body.
    """
    return value is not None and value != "" and value != [] and value != {}


def as_int(value: Any) -> int | None:
    """Laravel's ``integer`` rule: ints and strings of digits, not booleans or floats.

    :param value: a field of a body.
    :return: the integer, or ``None`` if the rule refuses ``value``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return None


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The ``openapi_extra`` that documents ``model`` as a route's JSON body.

    :param model: the pydantic model describing the body.
    """
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(by_alias=True)}},
        }
    }
