"""
Every block of the README and ``docs/*.md`` that a user would run, run against the sandbox as the
docs say: DAG fragments with ``dag.test()``, programs, shell commands and JSON documents.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess
from tests.docs.blocks import ROOT, Block, blocks, named, of_kind
from tests.docs.completions import AUDIENCE_ROWS, DAG_FILE, DAGS, PROGRAMS, SHELLS, TEXT

DAG_BLOCKS = [block for block in blocks() if block.words[:2] == ("python", "dag")]
#: What a shell block stands for that the test replaces: the docs' token, and their sandbox's port.
YOUR_TOKEN = "YOUR-TOKEN"
DOCS_SANDBOX = "127.0.0.1:8025"
#: The JSON documents of the docs, each used by the test named after it below.
JSON_DOCUMENTS = {"sandbox_state", "sandbox_fault"}


def ids(found: list[Block]) -> list[str]:
    return [block.id for block in found]


def test_every_block_is_run_or_excluded_with_a_reason() -> None:
    unknown = [(block.id, " ".join(block.words)) for block in of_kind("unknown")]
    assert unknown == [], "say in the fence what each block is, or why it is not run (tests/docs/blocks.py)"
    assert [block.id for block in blocks() if block.kind in ("excluded", "run by") and not block.reason] == []
    for block in of_kind("run by"):
        assert (ROOT / block.reason).is_file(), f"{block.id}: {block.reason} is no test file"
    known = {"dag": set(DAGS), "python": set(PROGRAMS), "shell": set(SHELLS), "json": JSON_DOCUMENTS}
    named_completions = {(block.kind, block.completion) for block in blocks() if block.kind in known}
    assert {(kind, name) for kind, name in named_completions if name and name not in known[kind]} == set()
    assert {
        block.id for block in of_kind("shell") if block.language == "bash" and not block.completion
    } == set()


# -- DAG fragments ------------------------------------------------------------------------------


def dag_file(block: Block, folder: Path) -> str:
    """Write the block, completed, as a DAG file in ``folder`` with its audience; return its DAG id."""
    assert block.completion, f"{block.id}: name its completion in the fence (python dag NAME)"
    completion = DAGS[block.completion]
    dag_id = f"docs_{block.completion}"
    lines = named(block.doc, completion.follows).text if completion.follows else ""
    body = textwrap.indent(lines + block.text + completion.after, "    ")
    source = DAG_FILE.format(
        text=TEXT, preamble=completion.preamble, dag_id=dag_id, schedule=completion.schedule, body=body
    )
    (folder / f"{dag_id}.py").write_text(source)
    with (folder / "audience.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows(AUDIENCE_ROWS)
    return dag_id


@pytest.mark.parametrize("block", DAG_BLOCKS, ids=ids(DAG_BLOCKS))
def test_a_dag_fragment_parses(block: Block, docs_dags: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag_id = dag_file(block, docs_dags)
    bag = DagBag(str(docs_dags))
    assert bag.import_errors == {}
    assert list(bag.dags) == [dag_id]


@pytest.mark.parametrize("block", of_kind("dag"), ids=ids(of_kind("dag")))
def test_a_dag_fragment_runs_against_the_sandbox(
    block: Block, docs_dags: Path, fullsms_sandbox: SandboxClient
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    completion = DAGS[str(block.completion)]
    dag_id = dag_file(block, docs_dags)
    if completion.balance is not None:
        fullsms_sandbox.set_balance(completion.balance)
    teardown = completion.setup() if completion.setup else None
    try:
        run = DagBag(str(docs_dags)).dags[dag_id].test()
    finally:
        if teardown:
            teardown()

    completion.check(run, fullsms_sandbox)


# -- programs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", of_kind("python"), ids=ids(of_kind("python")))
def test_a_program_runs_as_written(
    block: Block, fullsms_sandbox: SandboxClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}

    exec(compile(block.text, block.id, "exec"), namespace)

    if block.completion:
        PROGRAMS[block.completion](namespace, fullsms_sandbox)


# -- shell blocks ---------------------------------------------------------------------------------


def console_commands(text: str) -> list[tuple[str, list[str]]]:
    """A console session's commands (``$`` lines), each with the lines it prints."""
    session: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            session.append((line[2:], []))
        else:
            assert session, f"output before any command: {line!r}"
            session[-1][1].append(line)
    return session


def run_until_printed(
    command: str, lines: int, env: dict[str, str], cwd: Path
) -> tuple[int | None, list[str]]:
    """
    Run ``command`` with bash in a process group of its own until it exits or has printed ``lines``
    lines; a command still running then (a server) is stopped. Returns what it printed; a command
    that exits must exit with 0.
    """
    process = subprocess.Popen(
        ["bash", "-c", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    assert process.stdout is not None
    printed: list[str] = []
    try:
        while lines and len(printed) < lines and (line := process.stdout.readline()):
            printed.append(line.rstrip("\n"))
        if lines and len(printed) == lines and process.poll() is None:
            return printed
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{command} failed ({process.returncode}):\n{out}\n{err}"
        return printed + out.splitlines()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


@pytest.fixture
def shell_env(fullsms_sandbox_server: SandboxProcess, fullsms_sandbox: SandboxClient) -> dict[str, str]:
    """The environment of a shell block: this virtualenv's commands first, the sandbox's connection."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("block", of_kind("shell"), ids=ids(of_kind("shell")))
def test_a_shell_block_runs_and_prints_what_the_docs_show(
    block: Block,
    shell_env: dict[str, str],
    fullsms_sandbox_server: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if block.language == "bash":
        after, check = SHELLS[str(block.completion)]
        script = block.text.replace(YOUR_TOKEN, fullsms_sandbox_server.token) + after
        printed = run_until_printed(script, 0, shell_env, tmp_path)
        check(printed, fullsms_sandbox_server.token, monkeypatch)
        return
    for command, shown in console_commands(block.text):
        # A server the docs start on their port (8025) starts on a free one here.
        port = free_port()
        command = command.replace("fullsms-sandbox", f"fullsms-sandbox --port {port}", 1)
        expected_lines = [line.replace(DOCS_SANDBOX, f"127.0.0.1:{port}") for line in shown]
        printed = run_until_printed(command, len(expected_lines), shell_env, tmp_path)
        assert printed[: len(expected_lines)] == expected_lines


# -- JSON documents -------------------------------------------------------------------------------


def test_the_state_file_seeds_the_sandbox_as_the_docs_say(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(named("docs/sandbox.md", "sandbox_state").text)

    with SandboxProcess(state=state) as sandbox:
        connection = sandbox.client.connection()

    assert sandbox.token == "shop-token"
    assert connection["extra"] == {"default_sender": "SHOP", "price_per_segment": 0.1, "minimum_balance": 5.0}


def test_the_fault_document_arms_a_fault(
    fullsms_sandbox_server: SandboxProcess, fullsms_sandbox: SandboxClient
) -> None:
    fault = json.loads(named("docs/sandbox.md", "sandbox_fault").text)
    fullsms_sandbox.inject_fault(**fault)
    sandbox = fullsms_sandbox_server

    # "drop": the request is handled, then the connection is reset with no answer at all.
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{sandbox.url}/messages/send/to_numbers",
            json={"from": "COPERATO", "to_numbers": ["447700900001"], "message": "Hi"},
            headers={"Authorization": f"Bearer {sandbox.token}"},
            timeout=10,
        )
    assert [m["text"] for m in fullsms_sandbox.messages(to="447700900001")] == ["Hi"]
