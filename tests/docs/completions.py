"""
What the docs' fragments need to run, kept out of the docs: a block's fence names its completion
(``python dag plan`` is :data:`DAGS` ``["plan"]``).

A DAG fragment goes into this DAG file, in the completion's ``preamble`` (the names the block uses
but a reader can guess: ``AUDIENCE``, ``TEXT``, an import) and after the block ``follows`` (a block
of the same page it continues, as the reader reads it), then runs with ``dag.test()`` against the
sandbox; ``check`` asserts what a user would see. ``AUDIENCE`` is :data:`AUDIENCE_ROWS` as a CSV
file beside the DAG file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_fullsms.sandbox.testing import SandboxClient

#: The audience a fragment's ``AUDIENCE`` names: three customers, one of them written twice.
AUDIENCE_ROWS = [
    ("number", "first_name"),
    ("+44 7700 900001", "Ada"),
    ("+44 7700 900002", "Grace"),
    ("447700900003", "Alan"),
    ("+44 (0) 7700 900001", "Ada"),
]
AUDIENCE_NUMBERS = {"447700900001", "447700900002", "447700900003"}
TEXT = "Hi {first_name}, our spring sale is on."

DAG_FILE = """\
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

AUDIENCE = str(Path(__file__).with_name("audience.csv"))
TEXT = {text!r}
{preamble}

with DAG({dag_id!r}, schedule={schedule!r}, start_date=datetime(2025, 1, 1)) as dag:
{body}
"""


@dataclass(frozen=True)
class DagCompletion:
    """The rest of a DAG file around a fragment, and what its run shows."""

    check: Callable[[Any, SandboxClient], None]
    preamble: str = ""
    follows: str | None = None
    after: str = ""
    schedule: str | None = None
    balance: float | None = None
    setup: Callable[[], Callable[[], None]] | None = None


def texted_once(sandbox: SandboxClient) -> dict[str, dict[str, Any]]:
    """Each phone's one message; fails if any phone got two."""
    messages = sandbox.messages()
    assert max(Counter(m["to"] for m in messages).values(), default=1) == 1, messages
    return {m["to"]: m for m in messages}


def check_personalised_send(run: Any, sandbox: SandboxClient) -> None:
    assert run.state == "success"
    texts = {to: m["text"] for to, m in texted_once(sandbox).items()}
    assert texts == {
        "447700900001": "Hi Ada, our spring sale is on.",
        "447700900002": "Hi Grace, our spring sale is on.",
        "447700900003": "Hi Alan, our spring sale is on.",
    }


def check_send_file(run: Any, sandbox: SandboxClient) -> None:
    assert run.state == "success"
    messages = texted_once(sandbox)
    assert set(messages) == AUDIENCE_NUMBERS
    assert messages["447700900002"]["text"] == "Hi Grace, your order has shipped."
    assert {m["status"] for m in messages.values()} == {"scheduled"}  # 3 h after the run is due


def check_weekly_lists(run: Any, sandbox: SandboxClient) -> None:
    assert run.state == "success"
    messages = texted_once(sandbox)
    assert set(messages) == AUDIENCE_NUMBERS  # list 7's subscribed contacts
    assert {m["text"] for m in messages.values()} == {"2-for-1 on every coffee this week."}


def check_plan(run: Any, sandbox: SandboxClient) -> None:
    assert run.state == "success"
    assert sandbox.messages() == []  # a dry run sends nothing; the balance covered the plan
    assert sandbox.requests_count("/messages/send/to_numbers") == 0


def check_send_window(run: Any, sandbox: SandboxClient) -> None:
    assert run.state == "success"
    messages = texted_once(sandbox)
    assert set(messages) == AUDIENCE_NUMBERS  # now, or scheduled for 09:00 London time
    assert {m["status"] for m in messages.values()} <= {"delivered", "scheduled"}


def check_exclude(run: Any, sandbox: SandboxClient) -> None:
    assert run.state == "success"
    assert set(texted_once(sandbox)) == AUDIENCE_NUMBERS - {"447700900002"}  # opted out


def s3_in_memory() -> Callable[[], None]:
    """``s3://crm/`` as an in-memory filesystem holding the audience and an opt-out list."""
    from airflow.sdk.io import store
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    store.attach("s3", fs=fs)
    fs.pipe("/crm/audience.csv", "\n".join(",".join(row) for row in AUDIENCE_ROWS).encode())
    fs.pipe("/crm/optouts.txt", b"+44 7700 900002\n")

    def detach() -> None:
        fs.rm("/crm", recursive=True)
        store._STORE_CACHE.pop("s3", None)

    return detach


def check_balance(run: Any, sandbox: SandboxClient) -> None:
    assert run.state == "success"
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == {
        "check_balance": "success",
        "wait_for_balance": "success",
    }


def check_notify(run: Any, sandbox: SandboxClient) -> None:
    assert run.state == "failed"  # bash_command="..." is no command
    assert [m["text"] for m in sandbox.messages(to="447700900999")] == ["load failed"]


DAGS: dict[str, DagCompletion] = {
    "send_file": DagCompletion(
        # The upstream task whose XCom the fragment pulls: it writes the audience's CSV.
        preamble="""
from airflow.sdk import task


@task
def transform():
    return {"audience_file": AUDIENCE}
""",
        after='transform() >> dag.task_dict["send_campaign"]',
        schedule="@daily",  # send_at is 3 h after the run's data_interval_end
        check=check_send_file,
    ),
    "weekly_lists": DagCompletion(check=check_weekly_lists),
    "plan": DagCompletion(
        preamble="from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor",
        check=check_plan,
    ),
    "approve": DagCompletion(
        preamble=(
            "from airflow.providers.standard.operators.hitl import ApprovalOperator\n"
            "from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor"
        ),
        follows="plan",
        check=check_plan,
    ),
    "pause": DagCompletion(check=check_personalised_send),
    "send_window": DagCompletion(check=check_send_window),
    "exclude": DagCompletion(check=check_exclude, setup=s3_in_memory),
    "balance": DagCompletion(check=check_balance, balance=150),
    "notify": DagCompletion(
        preamble="from airflow.providers.standard.operators.bash import BashOperator",
        check=check_notify,
    ),
}


def check_otp(namespace: dict[str, Any], sandbox: SandboxClient) -> None:
    (code,) = sandbox.messages(to="447700900001")
    assert code["text"].startswith("Coperato code: ")
    assert namespace["otp"].otp_id == code["otp_id"]


#: Programs run as written; these checks then assert what they did.
PROGRAMS: dict[str, Callable[[dict[str, Any], SandboxClient], None]] = {"otp": check_otp}


def check_connection(printed: list[str], token: str, monkeypatch: Any) -> None:
    """The connection the block exports, as the provider reads it: the real API, the token, the extras."""
    from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", "\n".join(printed))
    config = FullSmsHook().config
    assert (config.base_url, config.token) == ("https://api.fullsms.com", token)
    assert (config.default_sender, config.timezone) == ("COPERATO", "Europe/London")


#: Shell blocks: a command run after the block, and a check of what it all printed (the docs'
#: ``YOUR-TOKEN`` is the sandbox's token).
SHELLS: dict[str, tuple[str, Callable[[list[str], str, Any], None]]] = {
    "connection": ('\nprintf "%s\\n" "$AIRFLOW_CONN_FULLSMS_DEFAULT"', check_connection),
}
