"""
``make demo``: run the ``fullsms_crm_to_sms`` example DAG end to end against a local FullSMS sandbox.

What it does, all on this machine:

1. starts the sandbox (``fullsms-sandbox``) on a free loopback port with a seeded account
   (balance 500, price 0.05 per segment, sender ID ``COPERATO``);
2. uses a throw-away Airflow home in ``.demo/airflow`` (SQLite), running ``airflow db migrate``
   only the first time (or after an Airflow upgrade), so a second demo is quick;
3. runs the DAG with ``airflow dags test`` in a subprocess, its log in ``.demo/dags-test.log``;
4. prints what happened (who was texted, who was dropped and why, balance, requests) and stops
   the sandbox and any process it started, whatever happens (errors, Ctrl-C, SIGTERM).

Exits non-zero when the DAG run did not succeed. ``--keep-sandbox`` keeps the sandbox (and its
inbox page) up after the run until Ctrl-C.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
AIRFLOW_HOME = DEMO / "airflow"
WORK_DIR = DEMO / "work"
LOG = DEMO / "dags-test.log"
DAG_ID = "fullsms_crm_to_sms"
BIN = Path(sys.executable).parent
#: Seeded so the whole CRM campaign (about 137 with the reserve) is affordable at once.
START_BALANCE = 500
_SUMMARY = re.compile(r"FullSMS campaign summary: (\{.*\})")
_PLAN = re.compile(
    r"FullSMS plan \(dry run, nothing sent\): (?P<recipients>\d+) recipients, (?P<segments>\d+) segments, "
    r"(?P<batches>\d+) batches, cost (?P<cost>\S+), required balance (?P<required>[^;]+)"
)
_RUN_STATE = re.compile(r"DagRun Finished: .*?state=(\w+)")


class Interrupted(Exception):
    """SIGTERM or SIGHUP arrived: unwind through every ``finally`` like Ctrl-C does."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _airflow_env(connection: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_")) and key != "AIRFLOW_HOME"
    }
    env.update(
        {
            "AIRFLOW_HOME": str(AIRFLOW_HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_FULLSMS_DEFAULT": connection,
        }
    )
    return env


def _run(args: list[str], env: dict[str, str], log_path: Path) -> int:
    """Run an Airflow command in its own process group, its output to ``log_path``; stop it on exit."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return process.wait()
        finally:
            if process.poll() is None:
                # Interrupted: the task runner and anything it started share the process group.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _migrate_if_needed(env: dict[str, str]) -> float:
    """``airflow db migrate`` unless this Airflow version already migrated the demo database."""
    from importlib.metadata import version

    stamp = AIRFLOW_HOME / ".migrated"
    wanted = version("apache-airflow")
    if (AIRFLOW_HOME / "airflow.db").exists() and stamp.exists() and stamp.read_text() == wanted:
        return 0.0
    _say(f"Preparing the demo's Airflow database in {AIRFLOW_HOME.relative_to(ROOT)} (first run only) ...")
    started = time.monotonic()
    code = _run([str(BIN / "airflow"), "db", "migrate"], env, DEMO / "db-migrate.log")
    if code:
        raise SystemExit(f"airflow db migrate failed (exit {code}); see {DEMO / 'db-migrate.log'}")
    stamp.write_text(wanted)
    return time.monotonic() - started


def _report(log_text: str, client: Any, elapsed: dict[str, float]) -> None:
    match = _SUMMARY.search(log_text)
    summary: dict[str, Any] = ast.literal_eval(match.group(1)) if match else {}
    messages = client.messages()
    per_number = Counter(m["to"] for m in messages)
    requests = client.requests_count()
    sends = client.requests_count("/messages/send/to_numbers")
    _say()
    _say("FullSMS demo: CRM export -> personalised SMS campaign")
    _say("-" * 60)
    plan = _PLAN.search(log_text)
    if plan:
        _say("Plan (dry run, before the send: nothing sent)")
        recipients, segments = int(plan["recipients"]), int(plan["segments"])
        _say(f"  recipients               {recipients:>8,}   ({segments:,} SMS segments)")
        _say(f"  estimated cost           {_money(plan['cost']):>8}")
        _say(f"  required balance         {_money(plan['required']):>8}   (the cost + the minimum balance)")
    if summary:
        dropped = summary["dropped"]
        _say(f"CRM rows read              {summary['crm_rows']:>8,}")
        _say(f"  dropped, opted out       {dropped['opted_out']:>8,}")
        _say(f"  dropped, duplicates      {dropped['duplicates']:>8,}")
        examples = ", ".join(repr(v) for v in summary["invalid_examples"][:4])
        _say(f"  dropped, invalid number  {dropped['invalid']:>8,}   e.g. {examples}")
        _say(f"Recipients texted          {summary['texted']:>8,}   ({summary['segments']:,} SMS segments)")
        segments = ", ".join(f"{name} {count:,}" for name, count in sorted(summary["by_segment"].items()))
        _say(f"  CRM rows by segment      {segments}")
        _say(
            f"Balance                    {summary['balance_before']:>8.2f} -> {summary['balance_after']:.2f}"
            f"   (spent {summary['spent']:.2f})"
        )
    most = max(per_number.values(), default=0)
    _say(f"Phones in the inbox        {len(per_number):>8,}   (texts per phone: at most {most})")
    _say(
        f"Requests to FullSMS        {requests:>8,}   ({sends} sends: one per distinct text and 500 numbers)"
    )
    # One text of each encoding, when there is one: UCS-2 names cost two segments.
    samples = {m["encoding"]: m for m in messages}
    samples.setdefault("GSM-7 (2)", next((m for m in messages[1:] if m["encoding"] == "GSM-7"), None))
    shown = [m for m in samples.values() if m is not None]
    if shown:
        _say("Sample of the inbox:")
        for message in shown:
            what = f"{message['encoding']} x{message['segments']}"
            _say(f"  to {message['to']:<15} {what:<9} {message['text'][:64]}...")
    _say("-" * 60)
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in elapsed.items() if seconds)
    _say(f"Time: {timings}")
    _say(f"Airflow log of the run: {LOG.relative_to(ROOT)}")


def _money(value: str) -> str:
    """A plan's amount as logged (``136.6`` or ``None``) for the report."""
    return value if value == "None" else f"{float(value):.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep-sandbox", action="store_true", help="keep the sandbox up after the run")
    options = parser.parse_args(argv)

    from airflow_provider_fullsms.sandbox.testing import SandboxProcess

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    # A shell starts background jobs with SIGINT ignored; Ctrl-C / kill -INT must still clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    elapsed: dict[str, float] = {}
    DEMO.mkdir(exist_ok=True)
    AIRFLOW_HOME.mkdir(exist_ok=True)
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    try:
        _say("Starting the FullSMS sandbox ...")
        with SandboxProcess(balance=START_BALANCE) as sandbox:
            client = sandbox.client
            _say(f"Sandbox on {sandbox.url} (pid {sandbox.pid}), balance {client.balance():.2f}")
            # The sandbox's own connection: its sender, price and minimum balance, so the plan's
            # required_balance is real.
            env = _airflow_env(client.connection_uri())
            elapsed["db migrate"] = _migrate_if_needed(env)
            _say(f"Running {DAG_ID} with `airflow dags test` ...")
            run_started = time.monotonic()
            code = _run(
                [
                    str(BIN / "airflow"),
                    "dags",
                    "test",
                    DAG_ID,
                    "--conf",
                    json.dumps({"work_dir": str(WORK_DIR)}),
                ],
                env,
                LOG,
            )
            elapsed["dags test"] = time.monotonic() - run_started
            log_text = LOG.read_text(errors="replace")
            states = _RUN_STATE.findall(log_text)
            state = states[-1] if states else "unknown"
            elapsed["total"] = time.monotonic() - started
            _report(log_text, client, elapsed)
            if code or state != "success":
                _say(f"\nThe DAG run ended in state {state!r} (exit {code}); see {LOG}.")
                return 1
            _say(f"DAG run: {state}")
            if options.keep_sandbox:
                _say(f"\nInbox: {sandbox.url}/  (the sandbox stops on Ctrl-C)")
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(3600)
        _say("Sandbox stopped. To browse an inbox: `make sandbox` (or `fullsms-sandbox`), open")
        _say("http://127.0.0.1:8025/ and export the connection it prints (see README, Sandbox).")
        return 0
    except (KeyboardInterrupt, Interrupted) as stop:
        _say(f"\nInterrupted ({str(stop) or 'SIGINT'}): the sandbox and Airflow were stopped.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
