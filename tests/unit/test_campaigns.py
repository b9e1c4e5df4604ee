"""Campaign bookkeeping without Airflow: audiences, batches, grouping, the ledger, the runner, the summary."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_fullsms.campaigns import (
    BATCH_SIZE,
    AudienceStats,
    Batch,
    Batcher,
    BatchState,
    CampaignInputError,
    CompactNumberSet,
    Decision,
    Failure,
    Ledger,
    LedgerMismatchError,
    MessageSource,
    OnUnknownOutcome,
    Progress,
    SendResult,
    decide,
    detect_file_format,
    entries_from_numbers,
    entries_from_rows,
    plan_campaign,
    read_audience_file,
    run_batches,
    template_fields_of,
)
from airflow_provider_fullsms.campaigns.plan import mask_number
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore


def numbers(count: int, start: int = 447700000000) -> list[str]:
    return [str(start + i) for i in range(count)]


def batches_of(
    entries: Any, source: MessageSource | None = None, **kwargs: Any
) -> tuple[list[Batch], AudienceStats]:
    batcher = Batcher(source or MessageSource(message="Hello"), campaign_key="k", **kwargs)
    return list(batcher.batches(entries)), batcher.stats


# -- CompactNumberSet ------------------------------------------------------------------------------


@given(st.lists(st.integers(min_value=1, max_value=10**15), max_size=3000), st.sampled_from([0, 50, 10**6]))
def test_compact_number_set_behaves_like_a_set(values: list[int], small_limit: int) -> None:
    compact = CompactNumberSet(small_limit=small_limit)
    reference: set[int] = set()
    for value in values:
        assert compact.add(value) == (value not in reference)
        reference.add(value)
    assert len(compact) == len(reference)
    assert all(value in compact for value in reference)
    assert 0 not in compact
    assert -5 not in compact
    assert "1" not in compact


def test_compact_number_set_is_much_smaller_than_a_set() -> None:
    compact = CompactNumberSet(small_limit=1000)
    for value in range(447700000000, 447700000000 + 200_000):
        compact.add(value)
    # 8 bytes a slot at most 70% full, doubling: under 24 bytes a number (a set of ints: ~70).
    assert compact.nbytes / len(compact) < 24


@pytest.mark.parametrize(
    ("before", "chunk", "added"),
    [
        ([], [1, 2, 3], True),
        ([1], [2, 3], True),
        ([1], [2, 1], False),  # 1 was there already
        ([], [2, 3, 2], False),  # 2 repeats within the chunk
        ([1, 2, 3], [4, 5], False),  # past small_limit: one by one
    ],
)
def test_compact_number_set_adds_a_chunk_of_new_numbers_at_once_or_nothing(
    before: list[int], chunk: list[int], added: bool
) -> None:
    compact = CompactNumberSet(small_limit=4)
    for value in before:
        compact.add(value)

    assert compact.add_new(chunk) is added
    assert len(compact) == len(set(before + chunk) if added else before)
    assert all((value in compact) == (added or value in before) for value in chunk)


def test_compact_number_set_refuses_non_positive_keys() -> None:
    with pytest.raises(ValueError, match="positive"):
        CompactNumberSet().add(0)


# -- batching --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "sizes"),
    [
        (1, [1]),
        (499, [499]),
        (500, [500]),
        (501, [500, 1]),
        (1234, [500, 500, 234]),
        (1500, [500, 500, 500]),
    ],
)
def test_batches_hold_at_most_500_numbers(count: int, sizes: list[int]) -> None:
    batches, stats = batches_of(entries_from_numbers(numbers(count)))
    assert [len(b.numbers) for b in batches] == sizes
    assert [b.index for b in batches] == list(range(len(sizes)))
    assert stats.unique == count


@pytest.mark.parametrize(
    ("raw", "unique", "duplicates", "invalid_count", "invalid"),
    [
        (["447700900001", "+44 7700 900001", "0044 7700-900001"], 1, 2, 0, []),
        (["447700900001", "12", "abc", "07700900001"], 1, 0, 3, ["12", "abc", "07700900001"]),
        ([447700900001, "447700900001", 4.4e11], 1, 1, 1, ["440000000000.0"]),
        ([None, True, "", "+"], 0, 0, 4, ["None", "True", "", "+"]),
        (["447700900001", "447700900002", "447700900001"], 2, 1, 0, []),
    ],
)
def test_dedupe_and_invalid_accounting(
    raw: list[object], unique: int, duplicates: int, invalid_count: int, invalid: list[str]
) -> None:
    batches, stats = batches_of(entries_from_numbers(raw))
    assert (stats.unique, stats.duplicates, stats.invalid_count, stats.invalid) == (
        unique,
        duplicates,
        invalid_count,
        invalid,
    )
    assert sum(len(b.numbers) for b in batches) == unique
    assert stats.rows == len(raw)


def test_invalid_list_is_capped_but_the_count_is_exact() -> None:
    stats = AudienceStats(max_listed_invalid=3)
    list(
        Batcher(MessageSource(message="x"), campaign_key="k", stats=stats).batches(
            entries_from_numbers(["bad"] * 10 + ["x" * 500])
        )
    )
    assert stats.invalid_count == 11
    assert stats.invalid == ["bad", "bad", "bad"]


def test_a_huge_invalid_value_is_truncated_in_the_list() -> None:
    _, stats = batches_of(entries_from_numbers(["x" * 500]))
    assert stats.invalid == ["x" * 64]


# -- personalised grouping -------------------------------------------------------------------------


def rows(count: int, names: list[str]) -> list[dict[str, str]]:
    return [{"number": n, "first_name": names[i % len(names)]} for i, n in enumerate(numbers(count))]


@pytest.mark.parametrize(
    ("count", "distinct", "max_batches"),
    [
        (100_000, 3, 203),
        (1_500, 3, 3),
        (1_501, 3, 6),
        (10, 10, 10),
    ],
)
def test_identical_texts_share_batches(count: int, distinct: int, max_batches: int) -> None:
    names = [f"name{i}" for i in range(distinct)]
    source = MessageSource(message="Hi {first_name}, your code is ready", personalise=True)
    batches, stats = batches_of(entries_from_rows(rows(count, names)), source)
    assert len(batches) <= max_batches
    assert {b.text for b in batches} == {f"Hi {n}, your code is ready" for n in names}
    assert all(len(b.numbers) <= BATCH_SIZE for b in batches)
    assert sum(len(b.numbers) for b in batches) == stats.unique == count


def test_grouping_keeps_first_appearance_order_for_the_partial_batches() -> None:
    entries = entries_from_rows(
        [
            {"number": "447700900001", "message": "B"},
            {"number": "447700900002", "message": "A"},
            {"number": "447700900003", "message": "B"},
        ]
    )
    batches, _ = batches_of(entries, MessageSource(message_column="message"))
    assert [(b.text, b.numbers) for b in batches] == [
        ("B", ("447700900001", "447700900003")),
        ("A", ("447700900002",)),
    ]


def test_a_message_column_wins_over_the_fallback_message() -> None:
    entries = entries_from_rows(
        [{"number": "447700900001", "message": "Own text"}, {"number": "447700900002", "message": ""}]
    )
    batches, _ = batches_of(entries, MessageSource(message="Fallback", message_column="message"))
    assert [(b.text, len(b.numbers)) for b in batches] == [("Own text", 1), ("Fallback", 1)]


def test_fully_personalised_texts_keep_a_bounded_number_of_open_buffers() -> None:
    source = MessageSource(message="Hi {first_name}", personalise=True)
    entries = entries_from_rows(rows(50, [f"n{i}" for i in range(50)]))
    batcher = Batcher(source, campaign_key="k", max_open_texts=4)
    seen_open = []
    out = []
    for batch in batcher.batches(entries):
        seen_open.append(len(batcher._buffers))
        out.append(batch)
    assert max(seen_open) <= 4
    assert len(out) == 50


def test_buffered_numbers_are_bounded_too() -> None:
    source = MessageSource(message_column="message")
    entries = entries_from_rows([{"number": n, "message": "AB"[i % 2]} for i, n in enumerate(numbers(1000))])
    batcher = Batcher(source, campaign_key="k", max_buffered=100)
    for _ in batcher.batches(entries):
        assert batcher._buffered <= 101
    assert batcher.stats.unique == 1000


def test_batching_is_deterministic_and_fingerprints_follow_the_contents() -> None:
    source = MessageSource(message="Hi {first_name}", personalise=True)
    first, _ = batches_of(entries_from_rows(rows(1200, ["a", "b"])), source)
    again, _ = batches_of(entries_from_rows(rows(1200, ["a", "b"])), source)
    assert first == again
    other_text, _ = batches_of(entries_from_rows(rows(1200, ["a", "c"])), source)
    assert first[0].fingerprint == other_text[0].fingerprint  # all "a" rows: same batch
    assert {b.fingerprint for b in first} != {b.fingerprint for b in other_text}
    other_key = list(
        Batcher(source, campaign_key="other sender").batches(entries_from_rows(rows(1200, ["a", "b"])))
    )
    assert all(x.fingerprint != y.fingerprint for x, y in zip(first, other_key, strict=True))


@pytest.mark.parametrize(
    ("source", "row", "match"),
    [
        (
            MessageSource(message="Hi {first_name}", personalise=True),
            {"number": "447700900001"},
            "first_name",
        ),
        (MessageSource(message_column="message"), {"number": "447700900001"}, "no 'message' value"),
        (MessageSource(message="x" * 613), {"number": "447700900001"}, "612"),
        (
            MessageSource(message="Hi {first_name}" + "y" * 600, personalise=True),
            {"number": "447700900001", "first_name": "Bartholomew"},
            "recipient 1",
        ),
    ],
)
def test_bad_messages_are_refused_with_the_row(
    source: MessageSource, row: dict[str, str], match: str
) -> None:
    with pytest.raises(CampaignInputError, match=match):
        batches_of(entries_from_rows([row]), source)


@pytest.mark.parametrize(
    ("message", "fields"),
    [("Hello", []), ("Hi {first_name}, {city}", ["first_name", "city"]), ("Braces {{ok}}", [])],
)
def test_template_fields(message: str, fields: list[str]) -> None:
    assert template_fields_of(message) == fields


def test_a_malformed_template_is_refused() -> None:
    with pytest.raises(CampaignInputError, match="literal brace"):
        template_fields_of("Hi {first_name")


def test_a_template_id_sends_one_group_without_text() -> None:
    batches, _ = batches_of(entries_from_numbers(numbers(700)), MessageSource(template_id="42"))
    assert [(b.text, len(b.numbers)) for b in batches] == [(None, 500), (None, 200)]


# -- plan ------------------------------------------------------------------------------------------


def test_plan_counts_batches_and_recipients() -> None:
    plan = plan_campaign(
        entries_from_numbers([*numbers(1234), "bad", "447700000000"]),
        MessageSource(message="Hi"),
        campaign_key="k",
    )
    assert (plan.batches, plan.recipients, plan.stats.invalid_count, plan.stats.duplicates) == (3, 1234, 1, 1)


@pytest.mark.parametrize("region", [None, "GB"])
def test_chunks_read_at_once_batch_exactly_as_numbers_read_one_by_one(region: str | None) -> None:
    # Clean chunks take the parser's C-level path, the others (a duplicate, an invalid number, an
    # excluded one, a number in another notation) are read one by one: same batches, same counts.
    from airflow_provider_fullsms.campaigns.batching import CHUNK_SIZE
    from airflow_provider_fullsms.phones import NumberParser

    parser = NumberParser(region)
    written = [f"07700 {i:06d}" if region else str(447700000000 + i) for i in range(4 * CHUNK_SIZE)]
    written[CHUNK_SIZE + 5] = written[7]  # a duplicate across chunks
    written[2 * CHUNK_SIZE + 1] = "bad"
    written.append("+44 7700 999999")
    exclude = {447700000003}

    def plan(parse_number: Any) -> Any:
        batcher = Batcher(
            MessageSource(message="Hi"), campaign_key="k", parse_number=parse_number, exclude=exclude
        )
        return list(batcher.batches(entries_from_numbers(written))), batcher.stats

    at_once, one_by_one = plan(parser.parse), plan(lambda raw: parser.parse(raw))

    assert parser.parse_chunk(written[3 * CHUNK_SIZE : 4 * CHUNK_SIZE]) is not None  # one clean chunk
    assert at_once == one_by_one
    stats = at_once[1]
    assert (stats.rows, stats.duplicates, stats.invalid_count, stats.excluded) == (len(written), 1, 1, 1)


def test_a_plan_keeps_its_batches_for_the_send_only_while_the_audience_is_small() -> None:
    from airflow_provider_fullsms.campaigns import batching

    small = plan_campaign(entries_from_numbers(numbers(1234)), MessageSource(message="Hi"), campaign_key="k")
    again = Batcher(MessageSource(message="Hi"), campaign_key="k").batches(
        entries_from_numbers(numbers(1234))
    )
    assert small.kept == tuple(again)

    from_a_file = plan_campaign(
        entries_from_numbers(numbers(1234)), MessageSource(message="Hi"), campaign_key="k", keep=False
    )
    assert from_a_file.kept is None

    big = numbers(batching.KEEP_RECIPIENTS + 1)
    assert (
        plan_campaign(entries_from_numbers(big), MessageSource(message="Hi"), campaign_key="k").kept is None
    )


@pytest.mark.parametrize("raw", [[], ["bad"], ["0123"]])
def test_plan_refuses_an_audience_with_nobody_to_send_to(raw: list[str]) -> None:
    with pytest.raises(CampaignInputError, match="Nobody to send to"):
        plan_campaign(entries_from_numbers(raw), MessageSource(message="Hi"), campaign_key="k")


# -- files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "explicit", "expected"),
    [
        ("a.csv", None, "csv"),
        ("a.CSV", None, "csv"),
        ("a.jsonl", None, "jsonl"),
        ("a.ndjson", None, "jsonl"),
        ("a.dat", "csv", "csv"),
    ],
)
def test_file_format(name: str, explicit: str | None, expected: str) -> None:
    assert detect_file_format(name, explicit) == expected


@pytest.mark.parametrize(("name", "explicit"), [("a.parquet", None), ("a.csv", "xlsx")])
def test_unknown_file_formats_are_refused(name: str, explicit: str | None) -> None:
    with pytest.raises(CampaignInputError, match="csv"):
        detect_file_format(name, explicit)


def test_csv_rows_are_read_by_column() -> None:
    text = "first_name,number\nAda,+44 7700 900001\n\nBob,447700900002\n"
    entries = list(read_audience_file(io.StringIO(text), file_format="csv", rows=True))
    assert entries == [
        ("+44 7700 900001", {"first_name": "Ada", "number": "+44 7700 900001"}),
        ("447700900002", {"first_name": "Bob", "number": "447700900002"}),
    ]
    only_numbers = list(read_audience_file(io.StringIO(text), file_format="csv", rows=False))
    assert only_numbers == [("+44 7700 900001", None), ("447700900002", None)]


def test_a_csv_without_the_number_column_names_the_columns() -> None:
    with pytest.raises(
        CampaignInputError, match=r"no 'phone' column \(columns: \['first_name', 'number'\]\)"
    ):
        list(
            read_audience_file(
                io.StringIO("first_name,number\n"), file_format="csv", number_column="phone", rows=False
            )
        )


def test_json_lines_hold_objects_or_bare_numbers() -> None:
    text = '{"number": "447700900001", "first_name": "Ada"}\n447700900002\n\n"447700900003"\n'
    entries = list(read_audience_file(io.StringIO(text), file_format="jsonl", rows=True))
    assert [raw for raw, _ in entries] == ["447700900001", 447700900002, "447700900003"]


@pytest.mark.parametrize(
    ("text", "match"), [("{not json\n", "line 1 is not JSON"), ('{"phone": 1}\n', "no 'number' key")]
)
def test_bad_json_lines_are_refused(text: str, match: str) -> None:
    with pytest.raises(CampaignInputError, match=match):
        list(read_audience_file(io.StringIO(text), file_format="jsonl", rows=False))


def test_rows_that_are_not_dicts_are_refused() -> None:
    with pytest.raises(CampaignInputError, match="recipient 2 is a str"):
        list(entries_from_rows([{"number": "1"}, "447700900001"]))


# -- decisions -------------------------------------------------------------------------------------

BATCH = Batch(index=3, numbers=("447700900001",), text="Hi", fingerprint="abc", recipients=1)


@pytest.mark.parametrize(
    ("state", "on_unknown", "decision"),
    [
        (None, "fail", Decision.SEND),
        (BatchState.ACCEPTED, "fail", Decision.SKIP_ACCEPTED),
        (BatchState.ACCEPTED, "resend", Decision.SKIP_ACCEPTED),
        (BatchState.IN_FLIGHT, "fail", Decision.UNKNOWN),
        (BatchState.IN_FLIGHT, "assume_sent", Decision.ASSUME_SENT),
        (BatchState.IN_FLIGHT, "resend", Decision.SEND),
        (BatchState.UNKNOWN, "fail", Decision.UNKNOWN),
        (BatchState.UNKNOWN, "assume_sent", Decision.ASSUME_SENT),
        (BatchState.UNKNOWN, "resend", Decision.SEND),
        (BatchState.NOT_SENT, "fail", Decision.SEND),
    ],
)
def test_decide(state: BatchState | None, on_unknown: str, decision: Decision) -> None:
    record = None if state is None else {"s": state.value, "fp": "abc", "n": 1}
    assert decide(record, BATCH, OnUnknownOutcome(on_unknown)) is decision


def test_decide_refuses_a_record_of_other_contents() -> None:
    with pytest.raises(LedgerMismatchError, match=r"Batch 3 was recorded .* changed between tries"):
        decide({"s": "accepted", "fp": "zzz"}, BATCH)


def test_an_unknown_on_unknown_outcome_choice_is_refused() -> None:
    with pytest.raises(CampaignInputError, match="on_unknown_outcome='maybe'"):
        OnUnknownOutcome.parse("maybe")


@pytest.mark.parametrize("choice", ["fail", "assume_sent", "resend"])
def test_each_on_unknown_outcome_choice_is_read(choice: str) -> None:
    assert OnUnknownOutcome.parse(choice) == choice


# -- ledger ----------------------------------------------------------------------------------------


def test_ledger_writes_the_plan_then_recognises_it() -> None:
    store = MemoryStateStore()
    plan = {"fingerprint": "f1", "batches": 3, "recipients": 1200}
    assert Ledger(store).open(plan) is False
    assert store.get("fullsms.plan") == {"v": 1, "fp": "f1", "batches": 3, "recipients": 1200}
    again = Ledger(store)
    assert again.open(plan) is True
    with pytest.raises(LedgerMismatchError, match="different campaign"):
        Ledger(store).open({"fingerprint": "f2", "batches": 3})


def test_ledger_keeps_one_small_key_per_batch() -> None:
    store = MemoryStateStore()
    ledger = Ledger(store)
    ledger.open({"fingerprint": "f", "batches": 1})
    sent = ledger.mark_in_flight(BATCH)
    assert store.get("fullsms.batch.3") == {"s": "in_flight", "fp": "abc", "n": 1, **sent}
    # Which send of the batch this is, the text's hash, when it went out and its first and last
    # numbers masked, to find it in FullSMS; never a whole number.
    assert set(sent) == {"a", "h", "at", "f", "l"}
    assert sent["a"] == 1
    assert (sent["f"], sent["l"]) == (mask_number(BATCH.numbers[0]), mask_number(BATCH.numbers[-1]))
    assert not any(number in json.dumps(store.get("fullsms.batch.3")) for number in BATCH.numbers)
    ledger.mark_accepted(BATCH, SendResult("c-1", 1, invalid=("x",) * 50, invalid_count=50), sent)
    record = store.get("fullsms.batch.3")
    assert record["s"] == "accepted"
    assert record["c"] == "c-1"
    assert len(record["iv"]) == 10
    assert len(json.dumps(record)) < 400


def test_a_ledger_without_a_store_never_resumes() -> None:
    ledger = Ledger(None)
    assert ledger.open({"fingerprint": "f", "batches": 1}) is False
    ledger.mark_in_flight(BATCH)
    assert ledger.record(3) is None


# -- runner ----------------------------------------------------------------------------------------


def make_batches(count: int) -> list[Batch]:
    return [Batch(i, (str(447700000000 + i),), "Hi", f"fp{i}", 1) for i in range(count)]


class FakeApi:
    """Accepts every batch, except the ones told to fail with a given error."""

    def __init__(self, failures: dict[int, BaseException] | None = None) -> None:
        self.failures = failures or {}
        self.sent: list[int] = []
        self.answered = 0
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def send(self, batch: Batch) -> SendResult:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            with self.lock:
                self.sent.append(batch.index)
            if batch.index in self.failures:
                raise self.failures[batch.index]
            return SendResult(f"camp-{batch.index}", len(batch.numbers))
        finally:
            with self.lock:
                self.active -= 1
                self.answered += 1


class Unknown(Exception):
    pass


class Transient(Exception):
    pass


class Refused(Exception):
    pass


def classify(error: BaseException) -> Failure:
    kinds: dict[type[BaseException], Failure] = {
        Unknown: Failure.UNKNOWN,
        Transient: Failure.TRANSIENT,
        Refused: Failure.REFUSED,
    }
    return kinds[type(error)]


def run(batches: list[Batch], api: FakeApi, store: MemoryStateStore | None, **kwargs: Any) -> Any:
    ledger = Ledger(store)
    ledger.open({"fingerprint": "plan", "batches": len(batches)})
    return run_batches(
        batches,
        api.send,
        ledger,
        classify=classify,
        total_batches=len(batches),
        total_recipients=len(batches),
        **kwargs,
    )


def test_every_batch_is_sent_once_and_recorded() -> None:
    store, api = MemoryStateStore(), FakeApi()
    report = run(make_batches(7), api, store, max_concurrency=3)
    assert sorted(api.sent) == list(range(7))
    assert report.accepted == 7
    assert report.sent == 7
    assert sorted(report.campaign_ids) == sorted(f"camp-{i}" for i in range(7))
    assert all(store.get(f"fullsms.batch.{i}")["s"] == "accepted" for i in range(7))


def test_a_retry_skips_accepted_batches() -> None:
    store = MemoryStateStore()
    run(make_batches(5), FakeApi({3: Transient("503")}), store, max_concurrency=1)
    retry_api = FakeApi()
    report = run(make_batches(5), retry_api, store, max_concurrency=1)
    assert retry_api.sent == [3, 4]
    assert (report.accepted, report.skipped_accepted, report.sent) == (2, 3, 5)
    assert sorted(report.campaign_ids) == [f"camp-{i}" for i in range(5)]


def test_an_unknown_batch_does_not_stop_the_others_and_is_never_resent() -> None:
    store = MemoryStateStore()
    first = run(make_batches(5), FakeApi({2: Unknown("read timeout")}), store, max_concurrency=2)
    assert first.accepted == 4
    assert [u["index"] for u in first.unknown] == [2]
    assert first.stopped_by is None
    retry_api = FakeApi()
    retry = run(make_batches(5), retry_api, store)
    assert retry_api.sent == []
    assert [u["index"] for u in retry.unknown] == [2]
    assert retry.skipped_accepted == 4


def test_a_batch_left_in_flight_by_a_dead_worker_counts_as_unknown() -> None:
    store = MemoryStateStore()
    ledger = Ledger(store)
    ledger.open({"fingerprint": "plan", "batches": 2})
    ledger.mark_in_flight(make_batches(2)[0])  # the worker died here
    api = FakeApi()
    report = run(make_batches(2), api, store)
    assert api.sent == [1]
    [unknown] = report.unknown
    assert unknown["index"] == 0
    assert "in flight when an earlier try ended" in unknown["error"]
    assert unknown["text_hash"] == make_batches(1)[0].text_hash()
    # The retry records what it reported: nobody reading the store sees a batch "in flight" forever.
    assert store.get("fullsms.batch.0")["s"] == "unknown"


@pytest.mark.parametrize(("on_unknown", "resent", "assumed"), [("assume_sent", [], 1), ("resend", [2], 0)])
def test_the_user_may_assume_unknown_batches_sent_or_resend_them(
    on_unknown: str, resent: list[int], assumed: int
) -> None:
    store = MemoryStateStore()
    run(make_batches(3), FakeApi({2: Unknown("dropped")}), store)
    api = FakeApi()
    report = run(make_batches(3), api, store, on_unknown=on_unknown)
    assert api.sent == resent
    assert report.assumed_sent == assumed
    assert report.unknown == []


@pytest.mark.parametrize(
    ("error", "kind"), [(Transient("429"), Failure.TRANSIENT), (Refused("403"), Failure.REFUSED)]
)
def test_a_not_accepted_batch_stops_new_submissions_but_finishes_the_ones_out(
    error: Exception, kind: Failure
) -> None:
    store = MemoryStateStore()
    gate = threading.Event()
    api = FakeApi({1: error})
    original = api.send

    def send(batch: Batch) -> SendResult:
        if batch.index == 0:
            gate.wait(5)  # still out when batch 1 fails
        elif batch.index == 1:
            try:
                return original(batch)
            finally:
                gate.set()
        return original(batch)

    api.send = send  # type: ignore[method-assign]
    report = run(make_batches(20), api, store, max_concurrency=2)
    assert report.stop_kind is kind
    assert report.stopped_by is error
    assert store.get("fullsms.batch.0")["s"] == "accepted"
    assert store.get("fullsms.batch.1")["s"] == "not_sent"
    assert len(api.sent) < 20
    assert all(store.get(f"fullsms.batch.{i}")["s"] != "in_flight" for i in api.sent)


@pytest.mark.parametrize("failing", [0, 4, 9])
def test_a_stopped_try_accounts_for_every_recipient(failing: int) -> None:
    """Batches never reached after a stop count as not sent, so nobody falls out of the summary."""
    api = FakeApi({failing: Transient("503")})
    report = run(make_batches(10), api, MemoryStateStore(), max_concurrency=1)
    summary = report.summary()
    assert summary["batches"]["not_started"] == 10 - failing - 1
    assert summary["not_sent_recipients"] == 10 - failing
    assert summary["sent"] + summary["unknown_recipients"] + summary["not_sent_recipients"] == 10


def test_work_in_flight_is_bounded() -> None:
    pulled = 0
    api = FakeApi()

    def lazy() -> Iterator[Batch]:
        nonlocal pulled
        for batch in make_batches(50):
            pulled += 1
            # Never more than max_concurrency batches out, one handed over to wait for a free
            # thread, and the one being pulled.
            assert pulled - api.answered <= 3 + 2
            yield batch

    ledger = Ledger(MemoryStateStore())
    report = run_batches(lazy(), api.send, ledger, classify=classify, max_concurrency=3)
    assert report.accepted == 50
    assert api.max_active <= 3


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_killed_task_leaves_at_most_the_batches_out_and_one_handed_over_in_flight(concurrency: int) -> None:
    """What a retry after a kill must report unknown (and a person settle) stays that small."""
    in_flight_counts: list[int] = []

    class WatchedStore(MemoryStateStore):
        def set(self, key: str, value: Any) -> None:
            super().set(key, value)
            states = [self.get(f"fullsms.batch.{i}", {}).get("s") for i in range(40)]
            in_flight_counts.append(states.count("in_flight"))

    report = run(make_batches(40), FakeApi(), WatchedStore(), max_concurrency=concurrency)
    assert report.accepted == 40
    assert max(in_flight_counts) == concurrency + 1
    assert in_flight_counts[-1] == 0


def test_without_a_store_an_unknown_batch_is_still_not_resent() -> None:
    api = FakeApi({0: Unknown("timeout")})
    report = run(make_batches(3), api, None)
    assert sorted(api.sent) == [0, 1, 2]
    assert [u["index"] for u in report.unknown] == [0]


def test_progress_is_logged_on_long_sends() -> None:
    ticks = iter(range(0, 10_000, 4))
    lines: list[str] = []
    run(
        make_batches(10),
        FakeApi(),
        None,
        max_concurrency=1,
        log=lines.append,
        clock=lambda: float(next(ticks)),
    )
    assert len(lines) >= 3
    assert lines[-1].startswith("Sent 10/10 recipients (10/10 batches)")


@pytest.mark.parametrize(
    ("progress", "text"),
    [
        (Progress(0, 100, 0, 1, 0.0), "Sent 0/100 recipients (0/1 batches), 0/s, ETA unknown"),
        (Progress(500, 1500, 1, 3, 10.0), "Sent 500/1500 recipients (1/3 batches), 50/s, ETA 20s"),
        (
            Progress(1000, 1_000_000, 2, 2000, 1.0),
            "Sent 1000/1000000 recipients (2/2000 batches), 1,000/s, ETA 16m39s",
        ),
        (Progress(10, 1_000_000, 1, 2000, 10.0), "ETA 277h46m"),
    ],
)
def test_progress_lines(progress: Progress, text: str) -> None:
    assert text in progress.describe()


# -- summary ---------------------------------------------------------------------------------------


def test_summary_is_json_and_never_holds_the_audience() -> None:
    plan = plan_campaign(
        entries_from_numbers(numbers(1500) + ["bad"] * 150 + numbers(10)),
        MessageSource(message="Hi"),
        campaign_key="k",
    )
    batches = list(
        Batcher(MessageSource(message="Hi"), campaign_key="k").batches(entries_from_numbers(numbers(1500)))
    )
    report = run(batches, FakeApi({1: Unknown("timeout")}), MemoryStateStore())
    summary = report.summary(plan.stats)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["invalid"]["count"] == 150
    assert len(summary["invalid"]["numbers"]) == 100
    assert summary["duplicates"] == 10
    assert summary["batches"]["total"] == 3
    assert summary["batches"]["accepted"] == 2
    assert summary["batches"]["unknown"][0]["index"] == 1
    assert summary["unknown_recipients"] == 500
    assert "447700000001" not in json.dumps(summary)
