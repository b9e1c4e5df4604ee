"""Bad input never produces a 5xx or a traceback: hand-picked cases, then schema-driven fuzzing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from airflow_provider_fullsms.sandbox.records import VENDOR_PATHS

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient
    from tests.sandbox.conftest import Api

BAD_JSON = {
    "message": "422 Unprocessable Content",
    "errors": {"body": ["The request body must be valid JSON."]},
    "status_code": 422,
}
NOT_OBJECT = {
    "message": "422 Unprocessable Content",
    "errors": {"body": ["The request body must be a JSON object."]},
    "status_code": 422,
}
POST_PATHS = ["messages/send/to_numbers", "messages/send/to_lists", "otp/create", "otp/verify", "otp/cancel"]


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", BAD_JSON),
        (b'{"to_numbers": ["972541111111"], "from": "COPERATO", "message": "Hi",}', BAD_JSON),
        (b'\xff\xfe{"message": "\xe9"}', BAD_JSON),
        (b'{"message": "caf\xe9"}', BAD_JSON),
        (b'{"to_numbers": NaN}', BAD_JSON),
        (b"[" * 100_000 + b"]" * 100_000, BAD_JSON),
        (b'{"code": 1' + b"0" * 5000 + b"}", BAD_JSON),
        (b'["972541111111"]', NOT_OBJECT),
        (b'"hello"', NOT_OBJECT),
        (b"null", NOT_OBJECT),
    ],
    ids=[
        "broken",
        "trailing-comma",
        "utf16-garbage",
        "latin1",
        "nan",
        "deep-nesting",
        "huge-int",
        "array",
        "string",
        "null",
    ],
)
def test_undecodable_bodies_get_the_documented_422(
    api: Api, sbx: SandboxClient, path: str, raw: bytes, expected: dict[str, Any]
) -> None:
    response = api.request("POST", path, data=raw, headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    body = response.json()
    if path.startswith("otp/"):
        assert body.pop("code") == 422  # OTP endpoints document an extra "code"
    assert body == expected
    assert sbx.messages() == []


@pytest.mark.parametrize("path", POST_PATHS)
def test_bodies_over_one_megabyte_are_refused_in_the_documented_shape(api: Api, path: str) -> None:
    response = api.request("POST", path, data=b"x" * (1024 * 1024 + 1))

    assert response.status_code == 413
    body = response.json()
    assert body["status_code"] == 413
    assert body["errors"] == {"body": ["The request body must not be larger than 1048576 bytes."]}


def test_unknown_fields_are_ignored_like_the_vendor_does(api: Api, sbx: SandboxClient) -> None:
    body = {"to_numbers": ["972541111111"], "from": "COPERATO", "message": "Hi", "priority": "high", "x": [1]}

    response = api.post("messages/send/to_numbers", body)

    assert response.status_code == 200
    assert len(sbx.messages()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"to_numbers": [None, {}, [], True, 1.5], "from": "COPERATO", "message": "Hi"},
        {"to_numbers": ["972541111111"], "from": ["COPERATO"], "message": {"a": 1}, "send_at": {"at": 1}},
        {"to_list_ids": [{"id": 7}, None, "seven", "--7", 1e300], "from": "COPERATO", "message": "Hi"},
        {"to_number": {"n": 1}, "brand": ["b"], "from": None, "otp_id": 5, "code": [1]},
        {"otp_id": ["x"], "code": True},
        {"otp_id": "x" * 100_000, "code": -1},
    ],
)
@pytest.mark.parametrize("path", POST_PATHS)
def test_wrong_types_are_field_errors_never_server_errors(api: Api, path: str, body: dict[str, Any]) -> None:
    response = api.post(path, body)

    assert response.status_code in (403, 404, 422)
    assert "detail" not in response.json()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "nowhere", 404), ("DELETE", "account/balance", 405), ("GET", "messages/send/to_numbers", 405)],
)
def test_unknown_routes_answer_in_the_vendor_shape(api: Api, method: str, path: str, status: int) -> None:
    response = api.request(method, path)

    assert response.status_code == status
    assert set(response.json()) == {"status_code", "message"}


def test_openapi_schema_describes_every_vendor_path_and_its_body(sbx: SandboxClient) -> None:
    schema = requests.get(f"{sbx.url}/openapi.json", timeout=10).json()

    assert set(VENDOR_PATHS) <= set(schema["paths"])
    send = schema["paths"]["/messages/send/to_numbers"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert send["properties"]["to_numbers"]["maxItems"] == 500
    assert set(send["required"]) == {"to_numbers", "from"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_fuzzing_every_operation_never_gets_a_server_error(sbx: SandboxClient, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{sbx.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # Arming faults would make the sandbox answer 5xx on purpose.
    operations = [op for op in operations if not (op.method == "post" and op.path == "/_sandbox/faults")]
    # the vendor API and the sandbox control API (unreachable phones and the connection included)
    assert len(operations) == 19
    headers = {"Authorization": f"Bearer {sbx.token}"}
    session = requests.Session()
    failures: list[str] = []
    calls: list[int] = []

    for operation in operations:

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            response = case.call(base_url=sbx.url, session=session, headers=headers, timeout=10)
            calls.append(response.status_code)
            if response.status_code >= 500:
                sent = json.dumps(case.body, default=str)[:300]
                failures.append(f"{case.method} {case.path} {sent} -> {response.status_code}")
            assert response.status_code < 500

        check()

    assert failures == []
    assert len(calls) >= len(operations)  # every operation was really exercised
