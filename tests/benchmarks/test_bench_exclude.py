"""The opt-out memory benchmark at a tiny size: both sides text exactly who they should."""

from __future__ import annotations

from benchmarks import bench_exclude


def test_both_sides_text_everyone_not_opted_out_and_print_their_peaks_side_by_side() -> None:
    result = bench_exclude.run([10, 2_000])

    assert [(r["size"], r["side"], r["sent"]) for r in result["rows"]] == [
        (10, "exclude", 19_990),
        (10, "hand", 19_990),
        (2_000, "exclude", 18_000),
        (2_000, "hand", 18_000),
    ]
    correct = result["checks"][0]
    assert (correct.name, correct.passed) == ("both sides text everyone not opted out, once", True)
    assert (
        "| opt-outs | (a) exclude= peak RSS (MB) | (b) hand-written peak RSS (MB) | (a) / (b) |"
        in (result["text"])
    )
