"""
What a send tells the rest of Airflow: its OpenLineage facets, its metrics' tags, its asset (URI,
alias, normaliser) and its "FullSMS campaign" link. FullSMS is requests-mock with the vendor's
documented bodies; the end-to-end run of all of them is tests/e2e/test_observability.py.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG, Asset, AssetAlias, ObjectStoragePath, TaskInstanceKey
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_provider_fullsms import metrics
from airflow_provider_fullsms.campaigns.counts import asset_extra, read_asset_extra
from airflow_provider_fullsms.operators.fullsms import (
    FullSmsGetBalanceOperator,
    FullSmsSendToListsOperator,
    FullSmsSendToNumbersOperator,
)
from airflow_provider_fullsms.operators.links import FullSmsCampaignLink
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL
from tests.versions import alias_events, outlet_events

KEY = TaskInstanceKey(dag_id="crm_to_sms", task_id="send", run_id="manual__2026-01-01", try_number=1)


@pytest.fixture
def api(fullsms_conn: str, requests_mock: Any) -> Any:
    requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    requests_mock.get(f"{FAKE_URL}/account/lists", json=docs.LISTS)
    requests_mock.post(
        f"{FAKE_URL}/messages/send/to_numbers",
        json=lambda request, _: {**docs.SEND_TO_NUMBERS, "total_sent": len(request.json()["to_numbers"])},
    )
    return requests_mock


# -- the extra link ------------------------------------------------------------------------------


def test_the_campaign_link_opens_the_campaign_on_the_fullsms_page() -> None:
    url = FullSmsCampaignLink().get_link(FullSmsSendToNumbersOperator(task_id="send"), ti_key=KEY)
    assert url == "/fullsms/campaign?dag_id=crm_to_sms&run_id=manual__2026-01-01&task_id=send&map_index=-1"


def test_the_campaign_link_is_absolute_under_the_api_servers_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a/")
    mapped = TaskInstanceKey(**{**KEY._asdict(), "map_index": 3})
    url = FullSmsCampaignLink().get_link(FullSmsSendToNumbersOperator(task_id="send"), ti_key=mapped)
    assert url == (
        "https://airflow.example.com/team-a/fullsms/campaign"
        "?dag_id=crm_to_sms&run_id=manual__2026-01-01&task_id=send&map_index=3"
    )


def test_both_send_operators_have_the_link_and_the_balance_operator_does_not() -> None:
    def names(operator: Any) -> list[str]:
        return [link.name for link in operator.operator_extra_links]

    assert names(FullSmsSendToNumbersOperator(task_id="a")) == ["FullSMS campaign"]
    assert names(FullSmsSendToListsOperator(task_id="b", list_ids=[1])) == ["FullSMS campaign"]
    assert names(FullSmsGetBalanceOperator(task_id="c")) == []


# -- the asset -----------------------------------------------------------------------------------


def test_a_send_in_a_dag_emits_through_its_own_alias_next_to_the_outlets_it_was_given() -> None:
    report = Asset("s3://reports/sms.csv")
    with DAG("crm_to_sms", schedule=None):
        send = FullSmsSendToNumbersOperator(task_id="send", outlets=[report])
    assert send.outlets == [report, AssetAlias(name="fullsms/crm_to_sms/send")]


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("fullsms://API.FullSMS.com/crm_to_sms/send", "fullsms://api.fullsms.com/crm_to_sms/send"),
        (
            "fullsms://127.0.0.1:8025//crm_to_sms/group.send/",
            "fullsms://127.0.0.1:8025/crm_to_sms/group.send",
        ),
    ],
)
def test_airflow_normalises_a_fullsms_asset_uri_with_the_providers_handler(
    written: str, normalised: str
) -> None:
    assert Asset(written).uri == normalised


@pytest.mark.parametrize("uri", ["fullsms:///crm_to_sms/send", "fullsms://api.fullsms.com/crm_to_sms"])
def test_a_fullsms_asset_uri_without_a_host_or_a_task_is_refused(uri: str) -> None:
    from urllib.parse import urlsplit

    from airflow_provider_fullsms.assets import sanitize_uri

    with pytest.raises(ValueError, match="fullsms://"):
        sanitize_uri(urlsplit(uri))


def test_a_finished_send_adds_its_campaign_to_its_alias_with_the_counts_in_extra(api: Any) -> None:
    with DAG("crm_to_sms", schedule=None):
        send = FullSmsSendToNumbersOperator(
            task_id="send",
            numbers=["+447700900001", "+447700900002", "nope"],
            message="Hi",
            sender="COPERATO",
        )
    events = outlet_events()
    send.execute({"task_state_store": MemoryStateStore(), "outlet_events": events})  # type: ignore[arg-type]

    [(uri, extra)] = alias_events(events, AssetAlias(name="fullsms/crm_to_sms/send"))
    assert uri == "fullsms://fullsms.test/crm_to_sms/send"
    assert extra["accepted"] == 2
    assert extra["invalid"] == 1
    assert read_asset_extra(extra)["campaign_ids"] == [docs.SEND_TO_NUMBERS["campaign_id"]]


@given(
    campaign_ids=st.lists(st.uuids().map(str), max_size=5),
    batches=st.fixed_dictionaries({"total": st.integers(0, 2_000), "accepted": st.integers(0, 2_000)}),
    sent=st.integers(0, 1_000_000),
)
@example(campaign_ids=[], batches={"total": 0, "accepted": 0}, sent=0)
def test_a_flat_asset_extra_can_be_hashed_and_reads_back_as_the_nested_one(
    campaign_ids: list[str], batches: dict[str, int], sent: int
) -> None:
    summary = {"recipients": sent, "sent": sent, "campaign_ids": campaign_ids, "batches": batches}
    flat = asset_extra(summary, nested=False)

    frozenset(flat.items())  # what Airflow 2.11 and 3.0 do to an alias event's extra
    assert read_asset_extra(flat) == read_asset_extra(asset_extra(summary)) == asset_extra(summary)


def test_where_airflow_hashes_an_alias_events_extra_the_send_emits_it_flat(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_fullsms import version_compat

    monkeypatch.setattr(version_compat, "ASSET_EVENT_EXTRA_NESTS", False)
    with DAG("crm_to_sms", schedule=None, start_date=datetime(2026, 1, 1)):
        send = FullSmsSendToNumbersOperator(
            task_id="send", numbers=["+447700900001"], message="Hi", sender="COPERATO"
        )
    events = outlet_events()
    send.execute({"task_state_store": MemoryStateStore(), "outlet_events": events})  # type: ignore[arg-type]

    [(_, extra)] = alias_events(events, AssetAlias(name="fullsms/crm_to_sms/send"))
    frozenset(extra.items())  # no TypeError: unhashable type: 'list', so the task succeeds
    assert read_asset_extra(extra)["campaign_ids"] == [docs.SEND_TO_NUMBERS["campaign_id"]]


@pytest.mark.parametrize(
    ("map_index", "asset_known", "emitted"),
    [
        (-1, False, True),  # an unmapped send creates its asset with its first event
        (0, False, True),  # so does a mapped send's first shard
        (1, False, False),  # another shard leaves the first event to shard 0...
        (1, True, True),  # ...and emits once the asset exists
        (2, None, True),  # and when Airflow cannot say, as before
    ],
)
def test_only_one_shard_of_a_mapped_send_creates_its_campaign_asset(
    api: Any, monkeypatch: pytest.MonkeyPatch, map_index: int, asset_known: bool | None, emitted: bool
) -> None:
    from types import SimpleNamespace

    from airflow_provider_fullsms import assets

    asked: list[str] = []
    monkeypatch.setattr(assets, "asset_exists", lambda uri: asked.append(uri) or asset_known)
    with DAG("crm_to_sms", schedule=None):
        send = FullSmsSendToNumbersOperator(
            task_id="send", numbers=["+447700900001"], message="Hi", sender="COPERATO"
        )
    events = outlet_events()
    context = {
        "task_state_store": MemoryStateStore(),
        "outlet_events": events,
        "ti": SimpleNamespace(
            dag_id="crm_to_sms",
            run_id="manual",
            task_id="send",
            map_index=map_index,
            xcom_push=lambda **_: None,
        ),
    }
    send.execute(context)  # type: ignore[arg-type]

    assert len(alias_events(events, AssetAlias(name="fullsms/crm_to_sms/send"))) == (1 if emitted else 0)
    assert asked == ([] if map_index <= 0 else ["fullsms://fullsms.test/crm_to_sms/send"])


@pytest.mark.parametrize(
    ("alias_known", "emitted"),
    [
        (True, True),  # a stored DAG names the alias: the event is recorded
        (None, True),  # Airflow cannot say: emitted, as before
        (False, False),  # no record of it: Airflow 2.11 would fail the task after the send
    ],
)
def test_where_airflow_fails_on_an_unknown_alias_the_send_emits_only_through_one_it_knows(
    api: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    alias_known: bool | None,
    emitted: bool,
) -> None:
    from airflow_provider_fullsms import assets, version_compat

    monkeypatch.setattr(version_compat, "ASSET_EVENT_RECORDS_UNKNOWN_ALIAS", False)  # Airflow 2.11
    asked: list[str] = []
    monkeypatch.setattr(assets, "asset_alias_exists", lambda name: asked.append(name) or alias_known)
    with DAG("crm_to_sms", schedule=None, start_date=datetime(2026, 1, 1)):
        send = FullSmsSendToNumbersOperator(
            task_id="send", numbers=["+447700900001"], message="Hi", sender="COPERATO"
        )
    events = outlet_events()

    summary = send.execute({"task_state_store": MemoryStateStore(), "outlet_events": events})  # type: ignore[arg-type]

    assert summary["sent"] == 1  # the campaign's outcome stands either way
    assert asked == ["fullsms/crm_to_sms/send"]
    assert len(alias_events(events, AssetAlias(name="fullsms/crm_to_sms/send"))) == (1 if emitted else 0)
    said = capsys.readouterr().out + caplog.text
    assert ("No FullSMS campaign asset event" in said) is not emitted


def test_outside_a_running_task_airflow_cannot_say_whether_an_asset_exists() -> None:
    from airflow_provider_fullsms.assets import asset_exists

    assert asset_exists("fullsms://fullsms.test/crm_to_sms/send") is None


# -- OpenLineage ---------------------------------------------------------------------------------


def test_lineage_names_the_audience_and_opt_out_files_with_their_columns_and_the_campaign_out(
    api: Any, tmp_path: Path
) -> None:
    audience = tmp_path / "audience.jsonl"
    audience.write_text('{"number": "+447700900001", "first_name": "Ada"}\n{"number": "+447700900002"}\n')
    opt_outs = tmp_path / "opt_outs.csv"
    opt_outs.write_text("phone,opted_out_at\n+447700900002,2026-01-01\n")
    with DAG("crm_to_sms", schedule=None):
        send = FullSmsSendToNumbersOperator(
            task_id="send",
            numbers_file=ObjectStoragePath(f"file://{audience}"),
            exclude=str(opt_outs),
            exclude_column="phone",
            message="Hi {first_name}",
            sender="COPERATO",
            price_per_segment=0.04,
        )

    start = send.get_openlineage_facets_on_start()
    files = {dataset.name: dataset for dataset in start.inputs}
    assert set(files) == {str(audience), str(opt_outs)}
    assert {dataset.namespace for dataset in start.inputs} == {"file"}
    assert [f.name for f in files[str(audience)].facets["schema"].fields] == ["number", "first_name"]
    assert [f.name for f in files[str(opt_outs)].facets["schema"].fields] == ["phone", "opted_out_at"]
    [output] = start.outputs
    assert (output.namespace, output.name) == ("fullsms://fullsms.test", "crm_to_sms/send")
    assert "fullsms_campaign" not in output.facets  # nothing counted before the send
    assert start.run_facets == {}

    send.execute({"task_state_store": MemoryStateStore()})  # type: ignore[arg-type]
    complete = send.get_openlineage_facets_on_complete(None)
    facet = complete.outputs[0].facets["fullsms_campaign"]
    assert (facet.recipients, facet.accepted, facet.excluded, facet.invalid, facet.unknown) == (1, 1, 1, 0, 0)
    assert (facet.segments, facet.cost) == (1, 0.04)
    assert complete.outputs[0].outputFacets["outputStatistics"].rowCount == 1
    assert complete.run_facets["fullsms_campaign"].campaign_ids == [docs.SEND_TO_NUMBERS["campaign_id"]]


def test_lineage_of_a_send_to_lists_reads_the_contact_lists(api: Any) -> None:
    send = FullSmsSendToListsOperator(task_id="send", list_ids=[12, "34"], message="Hi")
    lineage = send.get_openlineage_facets_on_start()
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("fullsms://fullsms.test", "lists/12"),
        ("fullsms://fullsms.test", "lists/34"),
    ]


def test_a_dry_run_has_inputs_but_sends_nothing_out(api: Any) -> None:
    send = FullSmsSendToNumbersOperator(task_id="plan", numbers_file="/data/audience.csv", dry_run=True)
    lineage = send.get_openlineage_facets_on_start()
    assert [d.name for d in lineage.inputs] == ["/data/audience.csv"]  # a missing file: no columns
    assert lineage.inputs[0].facets == {}
    assert lineage.outputs == []


# -- metrics -------------------------------------------------------------------------------------


class RecordingStats:
    """Stands in for Airflow's Stats: what the provider asked it to emit, with its tags."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float, dict[str, str]]] = []

    def incr(self, stat: str, count: float = 1, *, tags: dict[str, str]) -> None:
        self.calls.append(("incr", stat, count, tags))

    def gauge(self, stat: str, value: float, *, tags: dict[str, str]) -> None:
        self.calls.append(("gauge", stat, value, tags))


def test_every_metric_of_a_send_is_tagged_with_its_dag_task_and_connection(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = RecordingStats()
    monkeypatch.setattr(metrics, "_stats", lambda: stats)

    class Ti:
        dag_id, task_id, run_id, map_index = "crm_to_sms", "send", "manual__1", -1

        def xcom_push(self, **_: Any) -> None: ...

    send = FullSmsSendToNumbersOperator(
        task_id="send", numbers=["+447700900001"], message="Hi", sender="COPERATO"
    )
    send.execute({"task_state_store": MemoryStateStore(), "ti": Ti()})  # type: ignore[arg-type]

    emitted = {stat: (kind, value) for kind, stat, value, _ in stats.calls}
    assert emitted == {
        "fullsms.batches.accepted": ("incr", 1),
        "fullsms.recipients.accepted": ("incr", 1),
        "fullsms.recipients.invalid": ("incr", 0),
        "fullsms.recipients.excluded": ("incr", 0),
        "fullsms.recipients.unknown": ("incr", 0),
    }  # no price: no segments, no cost
    assert {tuple(sorted(tags.items())) for *_, tags in stats.calls} == {
        (("conn_id", "fullsms_default"), ("dag_id", "crm_to_sms"), ("task_id", "send"))
    }


def test_a_batch_left_unknown_is_counted_once_not_again_by_every_try_that_finds_it_unsettled(
    fullsms_conn: str, requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    stats = RecordingStats()
    monkeypatch.setattr(metrics, "_stats", lambda: stats)
    requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    requests_mock.post(f"{FAKE_URL}/messages/send/to_numbers", status_code=500, json=docs.SERVER_ERROR)
    store = MemoryStateStore()

    def unknown_counted_by_a_try() -> float:
        stats.calls.clear()
        send = FullSmsSendToNumbersOperator(
            task_id="send", numbers=["+447700900001"], message="Hi", sender="COPERATO"
        )
        with pytest.raises(AirflowFailException, match="unknown"):
            send.execute({"task_state_store": store})  # type: ignore[arg-type]
        return sum(value for _, stat, value, _ in stats.calls if stat == "fullsms.batches.unknown")

    assert unknown_counted_by_a_try() == 1  # the 500: FullSMS may have sent it
    assert unknown_counted_by_a_try() == 0  # the retry finds it still unsettled: not a new one
    sends = [r for r in requests_mock.request_history if r.path.endswith("/messages/send/to_numbers")]
    assert len(sends) == 1  # and it was never sent again


def test_a_broken_metrics_backend_never_fails_a_send(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Any:
        raise OSError("statsd host unknown")

    monkeypatch.setattr(metrics, "_stats", broken)
    send = FullSmsSendToNumbersOperator(
        task_id="send", numbers=["+447700900001"], message="Hi", sender="COPERATO"
    )
    assert send.execute({"task_state_store": MemoryStateStore()})["sent"] == 1  # type: ignore[arg-type]
