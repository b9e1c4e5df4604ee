"""
Every benchmark and the reliability report, run at a tiny size so they never rot.

These assert what a run must get right whatever the machine -- who was texted, how many
requests, the tables' columns, the correctness figures -- and never how fast it was: timings
belong to ``make bench`` on a quiet machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import __main__ as runner
from benchmarks import (
    bench_numbers,
    bench_parse,
    bench_personalised,
    bench_sandbox,
    bench_throughput,
    reliability,
)


def header(text: str, first_column: str) -> list[str]:
    """The column names of the markdown table in ``text`` whose first column is ``first_column``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_column:
            return cells
    raise AssertionError(f"no table starting with {first_column!r} in:\n{text}")


def verdicts(result: dict[str, Any]) -> list[str]:
    """Each target of a result is printed beside its measurement with PASS or FAIL."""
    text = result["text"]
    assert header(text, "target") == ["target", "measured", "limit", "result"]
    for check in result["checks"]:
        assert f"**{check.verdict}**" in text
    return [c.verdict for c in result["checks"]]


@pytest.fixture(autouse=True)
def no_leftover_connection() -> Iterator[None]:
    """The benchmarks point ``fullsms_default`` at their sandbox only while they run."""
    import os

    before = os.environ.get("AIRFLOW_CONN_FULLSMS_DEFAULT")
    yield
    assert os.environ.get("AIRFLOW_CONN_FULLSMS_DEFAULT") == before


def test_throughput_runs_every_side_with_the_same_requests() -> None:
    result = bench_throughput.run(2_000, repeat=1)

    assert header(result["text"], "side") == [
        "side",
        "requests",
        "seconds",
        "recipients/s",
        "vs its provider side",
    ]
    labels = [r["label"].split()[0] for r in result["rows"]]
    assert labels == ["(a)", "(b)", "(c)", "(a')", "(c')"]
    # 2,000 canonical numbers / 500 on the first three sides, 1,000 national ones on the last two.
    assert [r["requests"] for r in result["rows"]] == [4, 4, 4, 2, 2]
    assert [r["sent"] for r in result["rows"]] == [2_000, 2_000, 2_000, 1_000, 1_000]
    assert result["rows"][0]["store_sets"] == 1 + 2 * 4  # the plan, then in flight and accepted per batch
    assert len(verdicts(result)) == 3
    assert "Reproduce: `.venv/bin/python -m benchmarks.bench_throughput --recipients 2000`" in result["text"]


def test_personalised_groups_shared_texts_and_sends_distinct_ones_alone() -> None:
    result = bench_personalised.run({"grouped": 1_500, "distinct": 40}, latency_ms=5)

    grouped, distinct = result["rows"]
    assert header(result["text"], "audience")[:4] == [
        "audience",
        "distinct texts",
        "latency added",
        "provider requests",
    ]
    assert (grouped["distinct"], grouped["provider_requests"], grouped["limit_requests"]) == (3, 3, 3)
    assert (distinct["distinct"], distinct["provider_requests"], distinct["limit_requests"]) == (40, 40, 40)
    assert verdicts(result) == ["PASS"]  # a request count, not a timing: it holds on any machine


def test_parse_cost_measures_our_modules_beside_the_http_provider() -> None:
    result = bench_parse.run(rounds=1)

    assert header(result["text"], "module (imported after airflow.sdk)") == [
        "module (imported after airflow.sdk)",
        "median ms",
        "min ms",
        "max ms",
        "vs HTTP provider",
        "interpreters",
    ]
    assert [r["module"] for r in result["rows"]] == [*bench_parse.OURS, bench_parse.HTTP]
    assert all(r["median_ms"] > 0 for r in result["rows"])
    assert len(verdicts(result)) == len(bench_parse.OURS)  # one ratio to the HTTP provider per module


def test_costly_imports_are_read_from_importtime() -> None:
    costs = bench_parse.costly_imports(bench_parse.HTTP, bench_parse._env())

    assert costs
    assert all(ms >= 0 for _, ms in costs)


def test_sandbox_capacity_counts_what_it_served() -> None:
    result = bench_sandbox.run(20)

    assert result["rows"][0]["requests"] == 20
    assert header(result["text"], "load")[:3] == ["load", "requests", "seconds"]
    assert len(verdicts(result)) == 1


def test_the_runner_wraps_the_memory_and_message_analysis_benchmarks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert runner.main(["--small", "--only", "memory", "message_analysis"]) == 0

    out = capsys.readouterr().out
    assert "CRASHED" not in out
    assert "### Memory: peak RSS against the audience size" in out
    assert "### Message analysis" in out
    assert header(out, "recipients")[:3] == ["recipients", "peak RSS (MB)", "sent"]
    summary = out[out.index("## Summary") :]
    assert "memory: peak(" in summary
    assert "message_analysis: mismatches with gsm0338 | 0 | = 0 | **PASS**" in summary
    assert header(summary, "machine") == ["machine", ""]


@pytest.fixture(scope="module")
def reliability_report() -> dict[str, Any]:
    return reliability.run(small=True)


def test_reliability_matrix_never_texts_twice_and_accounts_for_everyone(
    reliability_report: dict[str, Any],
) -> None:
    cells = reliability_report["cells"]
    faults = {c["fault"] for c in cells}
    assert {f.name for f in reliability.SMALL_FAULTS} == faults
    assert header(reliability_report["text"], "fault") == [
        "fault",
        "hits",
        "task retries",
        "delivered",
        "duplicates",
        "reported sent",
        "reported unknown",
        "reported failed",
        "in no figure",
        "final task state",
        "s",
        "checks",
    ]
    for cell in cells:
        assert cell["duplicates"] == 0, cell
        assert cell["sent"] + cell["unknown"] + cell["failed"] == reliability.SMALL_AUDIENCE, cell
        assert cell["sent"] <= cell["delivered"] <= cell["sent"] + cell["unknown"], cell
        assert all(cell["checks"].values()), cell
    transient = {f.name for f in reliability.SMALL_FAULTS if f.transient}
    for cell in cells:
        if cell["fault"] in transient:
            assert (cell["state"], cell["delivered"]) == ("success", reliability.SMALL_AUDIENCE), cell
        else:
            assert cell["state"] == "failed", cell
            assert cell["unknown"] == 500, cell


def test_reliability_scenarios_report_refused_phones_stop_an_outage_and_settle_per_batch(
    reliability_report: dict[str, Any],
) -> None:
    scenarios = {c["scenario"]: c for c in reliability_report["scenarios"]}
    assert set(scenarios) == {s.name for s in reliability.SCENARIOS}
    for cell in scenarios.values():
        assert cell["duplicates"] == 0, cell
        assert all(cell["checks"].values()), cell
    outage = scenarios["FullSMS answers 500 to everything"]
    assert outage["send_requests"] == 3
    assert outage["summary"]["batches"]["not_started"] == 1
    settled = scenarios["2 unknown batches settled by a person: one 'sent', one 'resend'"]
    assert settled["first_try"] == {"state": "failed", "unknown_batches": 2}
    assert (settled["state"], settled["delivered"]) == ("success", 2_000)
    assert [a["index"] for a in settled["summary"]["batches"]["assumed"]] == [1]


def test_reliability_scenarios_a_decision_is_used_once_housekeeping_keeps_the_ledger_a_changed_file_stops(
    reliability_report: dict[str, Any],
) -> None:
    scenarios = {c["scenario"]: c for c in reliability_report["scenarios"]}
    lost_twice = scenarios["a 'resend' whose answer is lost again asks for a new decision"]
    # Failed (batch 1 unknown), failed (its resend lost), failed (no new decision: nothing sent), success.
    assert lost_twice["runs"] == ["failed", "failed", "failed", "success"], lost_twice
    assert (lost_twice["send_requests"], lost_twice["duplicates"]) == (5, 0), lost_twice
    cleaned = scenarios["the task cleared after `airflow state-store clean` 400 days later"]
    assert cleaned["runs"] == ["success", "success"], cleaned
    assert (cleaned["send_requests"], cleaned["delivered"], cleaned["duplicates"]) == (4, 2_000, 0), cleaned
    rewritten = scenarios["the audience file rewritten in place mid-send"]
    assert rewritten["runs"] == ["failed"], rewritten
    assert rewritten["strangers"] == 0, rewritten
    assert 0 < rewritten["delivered"] < rewritten["audience"], rewritten
    assert rewritten["summary"]["sent"] == rewritten["delivered"], rewritten


def test_reliability_secret_scan_finds_nothing_but_the_planted_control(
    reliability_report: dict[str, Any],
) -> None:
    scan = reliability_report["scan"]
    searched = {s["source"] for s in scan}
    assert "console output of the runs" in searched
    assert any(s.startswith("DB table `xcom`") for s in searched)
    assert any(s.startswith("DB table `rendered_task_instance_fields`") for s in searched)
    assert sum(len(s["hits"]) for s in scan) == 0
    assert next(s["control_found"] for s in scan if "control_found" in s) == 2


def test_reliability_bad_input_checks_run_cases_and_find_no_failures(
    reliability_report: dict[str, Any],
) -> None:
    rows = reliability_report["bad_input"]
    assert len(rows) == 5  # three properties, valid and invalid OpenAPI cases
    assert all(r["cases"] > 0 for r in rows)
    assert [r["failures"] for r in rows] == [0] * 5
    assert all(c.passed for c in reliability_report["checks"])


def test_numbers_compares_the_parser_with_before_and_prints_each_notations_rate() -> None:
    result = bench_numbers.run(bench_numbers.SMALL)

    assert header(result["text"], "numbers parsed") == [
        "numbers parsed",
        "numbers",
        "numbers/s",
        "vs canonical",
    ]
    assert [r["label"] for r in result["rows"]][-1] == "messy national, default_region GB"
    assert all(r["numbers"] == bench_numbers.SMALL["messy"] for r in result["rows"])
    assert len(verdicts(result)) == 1
    assert "Reproduce: `.venv/bin/python -m benchmarks.bench_numbers --small`" in result["text"]


def test_celery_shards_verdict_is_the_median_of_alternating_pairs_each_printed() -> None:
    from benchmarks import bench_celery_shards as bench

    def row(pair: int, label: str, seconds: float) -> dict[str, Any]:
        run = bench.ShardRun(state="success", seconds=seconds, shard_seconds=seconds - 7, shard_hosts=[])
        return {"pair": pair, "label": label, "run": run, "phones": 40, "max_per_phone": 1, "workers_used": 2}

    # One unlucky pair (0.70x) among 0.50x and 0.55x: the median, 0.55x, is the verdict.
    rows = [
        row(1, "two workers", 20.0), row(1, "one worker", 40.0),
        row(2, "two workers", 28.0), row(2, "one worker", 40.0),
        row(3, "two workers", 22.0), row(3, "one worker", 40.0),
    ]  # fmt: skip
    section = bench._section(rows, shard_size=10)
    verdict, phones = section["checks"]
    assert (verdict.measured, verdict.passed) == ("0.55x", True)
    assert phones.passed
    assert "0.50x, 0.70x, 0.55x (median 0.55x)" in section["text"]
    assert len([line for line in section["text"].splitlines() if "| two workers |" in line]) == 3


@pytest.mark.slow
def test_throughput_stack_runs_both_sides_as_real_tasks_and_counts_the_ledger_writes() -> None:
    from benchmarks import bench_throughput_stack as bench

    result = bench.run(2_000, repeat=1, warm_up=False)

    assert header(result["text"], "side")[:4] == ["side", "requests", "seconds (in execute)", "recipients/s"]
    assert header(result["text"], "pair") == [
        "pair",
        "(c) s",
        "(a) s",
        "(a) / (c)",
        "(a) ledger writes s",
        "(a) write median ms",
    ]
    provider, limit = result["rows"]
    assert [r["label"].split()[0] for r in (provider, limit)] == ["(a)", "(c)"]
    assert [(r["requests"], r["sent"]) for r in (provider, limit)] == [(4, 2_000), (4, 2_000)]
    # Through the store Airflow gives the task: the plan, then in flight and accepted per batch.
    assert provider["sets"] == 1 + 2 * 4
    from tests.e2e.airflow_stack import TASK_STATE_STORE

    store = "TaskStateStoreAccessor" if TASK_STATE_STORE else "VariableStore"
    assert provider["store"].endswith(store)
    assert len(verdicts(result)) == 1
    assert "-m benchmarks.bench_throughput_stack --recipients 2000`" in result["text"]
