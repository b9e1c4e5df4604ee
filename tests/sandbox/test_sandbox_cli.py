"""Starting the sandbox: command line, state-file seeding, and the SandboxProcess/SandboxClient helpers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

import airflow_provider_fullsms
from airflow_provider_fullsms.sandbox import DEFAULT_TOKEN
from airflow_provider_fullsms.sandbox.__main__ import main as sandbox_main
from airflow_provider_fullsms.sandbox.seed import DEFAULT_ACCOUNT
from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess
from tests.sandbox.conftest import Api

if TYPE_CHECKING:
    from collections.abc import Iterator

SEED = {
    "accounts": [
        {
            "name": "shop",
            "tokens": ["shop-token", {"token": "shop-readonly", "rights": False}],
            "balance": 20,
            "price_per_segment": 0.10,
            "minimum_balance": 5,
            "allow_shortlinks": True,
            "numbers": [{"number": "15550001111", "country": "US"}],
            "sender_ids": ["SHOP"],
            "lists": [
                {
                    "list_id": 1,
                    "name": "vip",
                    "contacts": ["15550002222", {"number": "15550003333", "subscribed": False}],
                }
            ],
            "templates": [{"template_id": "welcome", "name": "w", "content": "Welcome!"}],
            "otp": {"max_active": 2, "ttl_seconds": 1, "resend_after_seconds": 1, "max_wrong_codes": 3},
            "otps": [],
        },
        {"name": "other", "tokens": ["other-token"], "balance": 7},
    ]
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    state = tmp_path_factory.mktemp("sandbox") / "state.json"
    state.write_text(json.dumps(SEED))
    with SandboxProcess(state=state) as process:
        yield process


@pytest.fixture
def shop(seeded: SandboxProcess) -> Api:
    seeded.client.reset()
    return Api(seeded.url, "shop-token")


def test_the_first_token_of_the_state_file_is_announced(seeded: SandboxProcess) -> None:
    assert seeded.token == "shop-token"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", seeded.url)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("account/balance", {"balance": 20}),
        ("account/numbers", {"total_numbers": 1, "numbers": [{"number": "15550001111", "country": "US"}]}),
        ("account/senderids", {"total_senderids": 1, "senderids": ["SHOP"]}),
        (
            "account/lists",
            {
                "total_lists": 1,
                "lists": [{"list_id": 1, "name": "vip", "subscribe_word": None, "subscribed_contacts": 1}],
            },
        ),
        (
            "account/templates",
            {
                "total_templates": 1,
                "templates": [{"template_id": "welcome", "name": "w", "content": "Welcome!"}],
            },
        ),
    ],
)
def test_state_file_seeds_the_account(shop: Api, path: str, expected: dict[str, Any]) -> None:
    assert shop.get(path).json() == expected


def test_seeded_token_without_rights_is_denied(shop: Api) -> None:
    response = shop.get("account/balance", token="shop-readonly")

    assert (response.status_code, response.json()) == (403, {"status_code": 403, "message": "Access Denied"})


def test_seeded_price_minimum_and_shortlinks(shop: Api, seeded: SandboxProcess) -> None:
    body = {"to_list_ids": [1], "from": "SHOP", "message": "Sale at https://shop.example"}

    statuses = [shop.post("messages/send/to_lists", body).status_code for _ in range(155)]

    # 0.10 per send: allowed while the balance is at least 5, so 151 sends (20 -> 4.90).
    assert statuses == [200] * 151 + [422] * 4
    response = shop.post("messages/send/to_lists", body)
    assert (
        response.json()["message"]
        == "Balance must be over $5.00 to create or schedule new campaigns or messages"
    )
    assert shop.get("account/balance").json() == {"balance": 4.9}
    assert [m["to"] for m in seeded.client.messages()][:1] == ["15550002222"]


def test_accounts_are_separate(shop: Api, seeded: SandboxClient) -> None:
    other = Api(shop.url, "other-token")
    otp = shop.post("otp/create", {"to_number": "15550002222", "from": "SHOP"}).json()["otp_id"]

    assert other.get("account/balance").json() == {"balance": 7}
    assert other.get(f"otp/search?otp_id={otp}").status_code == 404
    assert other.get("account/senderids").json()["senderids"] == ["COPERATO"]  # defaults fill the rest


def test_otp_expires_after_the_seeded_ttl(shop: Api, seeded: SandboxProcess) -> None:
    otp_id = shop.post("otp/create", {"to_number": "15550002222", "from": "SHOP"}).json()["otp_id"]
    code = int(seeded.client.messages()[-1]["text"][-6:])

    time.sleep(1.2)
    response = shop.post("otp/verify", {"otp_id": otp_id, "code": code})

    assert (response.status_code, response.json()) == (
        422,
        {"message": "OTP is not active", "status_code": 422},
    )
    assert shop.get(f"otp/search?otp_id={otp_id}").json()["status"] == "expired"


def test_after_the_wait_a_new_otp_replaces_the_old_one(shop: Api) -> None:
    first = shop.post("otp/create", {"to_number": "15550002222", "from": "SHOP"}).json()["otp_id"]
    refused = shop.post("otp/create", {"to_number": "15550002222", "from": "SHOP"})
    time.sleep(1.1)
    second = shop.post("otp/create", {"to_number": "15550002222", "from": "SHOP"})

    assert refused.status_code == 429
    assert second.status_code == 200
    assert shop.get(f"otp/search?otp_id={first}").json()["status"] in ("canceled", "expired")


def test_seeded_otp_cap(shop: Api) -> None:
    for number in ("15550000001", "15550000002"):
        assert shop.post("otp/create", {"to_number": number, "from": "SHOP"}).status_code == 200

    response = shop.post("otp/create", {"to_number": "15550000003", "from": "SHOP"})

    assert response.status_code == 429
    assert response.json()["message"] == "You can create up-to  2 concurrent active OTP_IDs"


def test_balance_and_token_options() -> None:
    with SandboxProcess(balance=3.5, token="20|custom") as process:
        response = requests.get(
            f"{process.url}/account/balance", headers={"Authorization": "Bearer 20|custom"}, timeout=5
        )
        assert process.token == "20|custom"
        assert response.json() == {"balance": 3.5}
        assert process.client.balance() == 3.5


def test_console_script_announces_url_and_token_and_stops_on_terminate() -> None:
    script = Path(sys.executable).with_name("fullsms-sandbox")
    process = subprocess.Popen([str(script), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        token = re.escape(DEFAULT_TOKEN)
        match = re.fullmatch(
            rf"FullSMS sandbox listening on (http://127\.0\.0\.1:\d+) \(token: {token}\)\n", line
        )
        assert match, line
        deadline = time.monotonic() + 10
        while True:
            try:
                response = requests.get(
                    f"{match.group(1)}/account/numbers", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.json()["numbers"] == [{"number": "441111111111", "country": "GB"}]
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read state file"),
        ('{"accounts": []}', "accounts must be a non-empty list"),
        ('{"balance": "lots"}', "balance must be a number"),
        ('{"balanse": 5}', "bad state file"),
        ('{"balanse": 5}', "unknown key 'balanse'; the known keys are allow_shortlinks, balance, lists"),
    ],
)
def test_a_bad_state_file_stops_with_a_clear_message(tmp_path: Path, content: str, message: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)

    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_fullsms.sandbox", "--port", "0", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang: importing Airflow alone can take 20 s on a busy machine
    )

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_sandbox_process_is_stopped_on_exit_even_after_a_failure() -> None:
    process = SandboxProcess()

    def fail_while_running() -> str:
        with process:
            url = process.url
            raise RuntimeError(f"boom at {url}")

    with pytest.raises(RuntimeError, match="boom at") as raised:
        fail_while_running()

    url = str(raised.value).removeprefix("boom at ")

    assert process.process is not None
    assert process.process.poll() is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/account/balance", timeout=2)


def test_sandbox_process_reports_a_server_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exited with 2"):
        SandboxProcess(state=tmp_path / "missing.json").start()


def test_connection_uri_is_an_airflow_connection_json_with_the_sandboxs_price(sbx: SandboxClient) -> None:
    assert json.loads(sbx.connection_uri()) == {
        "conn_type": "fullsms",
        "host": sbx.url,
        "password": sbx.token,
        "extra": {"default_sender": "COPERATO", "price_per_segment": 0.05, "minimum_balance": 1},
    }


def test_the_connection_carries_the_state_files_sender_price_and_minimum(seeded: SandboxProcess) -> None:
    response = Api(seeded.url, "shop-readonly").get("_sandbox/connection")

    # Any token of the account may ask; the connection gets the one with API rights.
    assert response.json() == {
        "conn_type": "fullsms",
        "host": seeded.url,
        "password": "shop-token",
        "extra": {"default_sender": "SHOP", "price_per_segment": 0.1, "minimum_balance": 5},
    }


def test_start_up_prints_the_airflow_connection_to_export(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"price_per_segment": 0.07, "minimum_balance": 2.5, "sender_ids": []}))
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_fullsms.sandbox", "--port", "0", "--state", str(state)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        listening, export = process.stdout.readline(), process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    url = re.search(r"listening on (\S+) ", listening).group(1)  # type: ignore[union-attr]
    name, _, value = export.strip().removeprefix("export ").partition("=")
    assert name == "AIRFLOW_CONN_FULLSMS_DEFAULT"
    assert json.loads(value.strip("'")) == {
        "conn_type": "fullsms",
        "host": url,
        "password": DEFAULT_TOKEN,
        # No approved sender ID in this state file: the owned number is the default sender.
        "extra": {"default_sender": "441111111111", "price_per_segment": 0.07, "minimum_balance": 2.5},
    }


def test_a_busy_port_stops_with_a_clear_message(sbx: SandboxClient) -> None:
    port = sbx.url.rsplit(":", 1)[1]

    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_fullsms.sandbox", "--port", port],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_says_every_options_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        sandbox_main(["--help"])

    assert exited.value.code == 0
    options = capsys.readouterr().out.split("options:", 1)[1]
    # One text per option, however argparse wrapped its help over lines.
    helps = re.split(r" (?=--[a-z])", " ".join(options.split()))
    for option in ("--host", "--port", "--token", "--balance", "--state", "--access-log"):
        assert any(h.startswith(option) and "(default: " in h for h in helps), option
    text = " ".join(helps)
    assert "(default: 127.0.0.1)" in text
    assert "(default: 8025)" in text
    assert f"else {DEFAULT_TOKEN})" in text
    assert f"else {DEFAULT_ACCOUNT['balance']})" in text  # the default seed's own balance


def test_version_prints_the_packages_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        sandbox_main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"fullsms-sandbox {airflow_provider_fullsms.__version__}"
