"""
What a send tells the rest of Airflow, seen from outside: ``airflow dags test`` of a file-audience
send with the OpenLineage provider (its file transport, events in a local file) and StatsD on,
nothing else configured. A real UDP listener on loopback receives the metrics; the metadata
database holds the asset event; the sandbox holds what each phone received.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_fullsms.campaigns.counts import read_asset_extra
from airflow_provider_fullsms.sandbox.testing import SandboxProcess

BIN = Path(sys.executable).parent
DAGS = Path(__file__).resolve().parent / "dags"
DAG_ID = "fullsms_file_audience"
AUDIENCE = """number,first_name
+447700900001,Ada
+447700900002,Grace
+447700900003,Alan
not a number,Bob
+447700900001,Ada
"""


class StatsdListener:
    """A StatsD server on 127.0.0.1 (a free UDP port) that keeps every line it receives."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)

    def __enter__(self) -> StatsdListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.socket.recv(65535)
            except TimeoutError:
                continue
            self.lines.extend(data.decode().splitlines())

    def received(self, name: str) -> list[tuple[str, dict[str, str]]]:
        """
        What came for ``airflow.<name>``: each value (``"3|c"``, ``"99.85|g"``) with its tags, in
        InfluxDB's StatsD form (``airflow.<name>,dag_id=d,task_id=t:3|c``).
        """
        found = []
        for line in self.lines:
            stat, _, value = line.partition(":")
            metric, *tags = stat.split(",")
            if metric == f"airflow.{name}":
                found.append((value, dict(tag.split("=", 1) for tag in tags)))
        return found

    def values(self, name: str) -> list[str]:
        """The values received for ``airflow.<name>``."""
        return [value for value, _ in self.received(name)]


def _airflow(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as output:
        result = subprocess.run(
            [str(BIN / "airflow"), *args], env=env, stdout=output, stderr=subprocess.STDOUT, timeout=600
        )
    assert result.returncode == 0, log.read_text()[-6000:]


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_dags_test_of_a_file_audience_send_emits_lineage_metrics_and_an_asset_event(tmp_path: Path) -> None:
    audience = tmp_path / "audience.csv"
    audience.write_text(AUDIENCE)
    opt_outs = tmp_path / "opt_outs.txt"
    opt_outs.write_text("+447700900003\n")
    lineage = tmp_path / "openlineage.jsonl"
    home = tmp_path / "airflow"
    home.mkdir()
    log = tmp_path / "airflow.log"
    with SandboxProcess(balance=100) as sandbox, StatsdListener() as statsd:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_FULLSMS_DEFAULT": json.dumps(
                {"conn_type": "fullsms", "host": sandbox.url, "password": sandbox.token}
            ),
            "FULLSMS_TEST_AUDIENCE": str(audience),
            "FULLSMS_TEST_OPT_OUTS": str(opt_outs),
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
            # StatsD with tags (InfluxDB's form): the dag, task and connection of each metric.
            "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(lineage), "append": True}
            ),
        }
        _airflow(["db", "migrate"], env, log)
        _airflow(["dags", "test", DAG_ID], env, log)
        received = sorted(message["to"] for message in sandbox.client.messages())

    # Two people texted: one number was a duplicate, one is not a number, one opted out.
    assert received == ["447700900001", "447700900002"]
    host = sandbox.url.split("://", 1)[1]

    # OpenLineage: the send's COMPLETE event, the audience and opt-out files in, the campaign out.
    complete = [
        event
        for event in _events(lineage)
        if event["eventType"] == "COMPLETE" and event["job"]["name"] == f"{DAG_ID}.send"
    ]
    assert len(complete) == 1, log.read_text()[-4000:]
    event = complete[0]
    inputs = {(d["namespace"], d["name"]): d for d in event["inputs"]}
    assert set(inputs) == {("file", str(audience)), ("file", str(opt_outs))}
    columns = [field["name"] for field in inputs["file", str(audience)]["facets"]["schema"]["fields"]]
    assert columns == ["number", "first_name"]
    assert "schema" not in inputs["file", str(opt_outs)]["facets"]  # one number a line: no columns
    [output] = event["outputs"]
    assert (output["namespace"], output["name"]) == (f"fullsms://{host}", f"{DAG_ID}/send")
    counts = {
        "recipients": 2,
        "accepted": 2,
        "invalid": 1,
        "excluded": 1,
        "unknown": 0,
        "segments": 2,
        "cost": 0.1,
    }
    facet = output["facets"]["fullsms_campaign"]
    assert {key: facet[key] for key in counts} == counts
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 2
    run_facet = event["run"]["facets"]["fullsms_campaign"]
    assert {key: run_facet[key] for key in counts} == counts
    assert len(run_facet["campaign_ids"]) == 2  # two personalised texts: a batch each

    # StatsD: the campaign's figures, its batches and the balance the first task read.
    assert statsd.values("fullsms.recipients.accepted") == ["2|c"]
    assert statsd.values("fullsms.recipients.invalid") == ["1|c"]
    assert statsd.values("fullsms.recipients.excluded") == ["1|c"]
    assert statsd.values("fullsms.recipients.unknown") == ["0|c"]
    assert statsd.values("fullsms.batches.accepted") == ["2|c"]
    assert statsd.values("fullsms.segments") == ["2|c"]
    assert statsd.values("fullsms.cost") == ["0.1|c"]
    assert statsd.values("fullsms.balance") == ["100.0|g"]
    send_tags = {"dag_id": DAG_ID, "task_id": "send", "conn_id": "fullsms_default"}
    for name in ("recipients.accepted", "recipients.invalid", "batches.accepted", "segments", "cost"):
        assert [tags for _, tags in statsd.received(f"fullsms.{name}")] == [send_tags]
    [(_, balance_tags)] = statsd.received("fullsms.balance")
    assert balance_tags == {**send_tags, "task_id": "balance"}

    # The asset event of the finished campaign, through the task's alias, its figures in extra.
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT asset.uri, asset_event.extra FROM asset_event "
            "JOIN asset ON asset.id = asset_event.asset_id"
        ).fetchall()
    assert [uri for uri, _ in rows] == [f"fullsms://{host}/{DAG_ID}/send"]
    extra = read_asset_extra(json.loads(rows[0][1]))
    assert {key: extra[key] for key in counts} == counts
    assert extra["campaign_ids"] == run_facet["campaign_ids"]
