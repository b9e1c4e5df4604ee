"""
The figures the docs quote from a command are the figures that command prints.

``make demo`` runs ``fullsms_crm_to_sms`` with ``airflow dags test`` against a sandbox holding
500, then prints a report read from the run's log and the sandbox (``scripts/demo.py``). Here the
same DAG runs with ``dag.test()`` against a sandbox reset to the same balance, and the demo's own
report reads its log: the README's shortened copy must be lines of what it prints, and
``docs/campaigns.md``'s plan and summary must be what the run returned. The benchmark figures vary
from run to run: the README quotes ``make bench``'s latest full run, recorded in
``docs/performance.md``, and must quote it as recorded.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from typing import Any

import pytest

from airflow_provider_fullsms.sandbox.testing import SandboxClient
from tests.dags.conftest import EXAMPLE_DAGS
from tests.docs.blocks import ROOT, Block, blocks


def quoted(doc: str, after: str) -> Block:
    """The first output block of ``doc`` after the line containing ``after``."""
    text = (ROOT / doc).read_text()
    line = text[: text.index(after)].count("\n") + 1
    return next(b for b in blocks() if b.doc == doc and b.line > line and b.kind == "output")


def in_order(shown: list[str], printed: list[str]) -> list[str]:
    """The lines of ``shown`` that are not, in this order, lines of ``printed`` (a shortened copy)."""
    rest = iter(printed)
    return [line for line in shown if line not in rest]


def differences(shown: Any, real: Any, at: str = "") -> list[str]:
    """
    Where a value the docs show is not the real one: ``...`` stands for anything, a list ending in
    ``...`` for more of the same, a string ending in ``...`` or ``…`` for the rest of it.
    """
    if shown is Ellipsis or (shown == {Ellipsis} and isinstance(real, dict)):
        return []
    if isinstance(shown, dict) and isinstance(real, dict):
        if shown.keys() != real.keys():
            return [f"{at}: keys {sorted(shown)} shown, {sorted(real)} returned"]
        return [d for key in shown for d in differences(shown[key], real[key], f"{at}.{key}")]
    if isinstance(shown, list) and isinstance(real, list):
        more = shown[-1:] == [Ellipsis]
        if len(real) < len(shown) - more or (not more and len(real) != len(shown)):
            return [f"{at}: {shown!r} shown, {real!r} returned"]
        return [
            d for i, s in enumerate(shown[: len(shown) - more]) for d in differences(s, real[i], f"{at}[{i}]")
        ]
    if isinstance(shown, str) and shown.endswith(("...", "…")) and isinstance(real, str):
        shown = shown.rstrip(".…").rstrip()
        real = real[: len(shown)]
    return [] if shown == real else [f"{at}: {shown!r} shown, {real!r} returned"]


@pytest.fixture
def demo_run(fullsms_sandbox: SandboxClient, tmp_path: Any, capfd: pytest.CaptureFixture[str]) -> Any:
    """``make demo``'s run: the DAG against a sandbox holding 500, then the demo's report of it."""
    from airflow.dag_processing.dagbag import DagBag

    spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
    assert spec
    assert spec.loader
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    fullsms_sandbox.set_balance(demo.START_BALANCE)
    run = DagBag(str(EXAMPLE_DAGS)).dags[demo.DAG_ID].test(run_conf={"work_dir": str(tmp_path)})
    log = capfd.readouterr()
    demo._report(log.out + log.err, fullsms_sandbox, {})
    report = capfd.readouterr().out.splitlines()
    return run, [*report, f"DAG run: {run.state}"]


def test_make_demo_prints_what_the_readme_quotes(demo_run: Any, dag_results: Any) -> None:
    run, printed = demo_run
    shown = quoted("README.md", "Its output, shortened:").text.splitlines()

    assert in_order(shown, printed) == [], "\n".join(printed)

    # docs/campaigns.md shows the same campaign's plan (its dry run) and the summary of its send.
    results = dag_results(run)
    plan, summary = (
        ast.literal_eval(quoted("docs/campaigns.md", heading).text)
        for heading in ("## The plan: `dry_run=True`", "## The result")
    )
    assert differences(plan, results["plan_campaign"]) == []
    assert differences(summary, results["send_campaign"]) == []


def readme_performance() -> str:
    return (ROOT / "README.md").read_text().split("## Performance", 1)[1].split("\n## ", 1)[0]


#: Each figure of the README's Performance section, and where docs/performance.md records it.
BENCH_FIGURES = [
    (r"\*\*(\d+ of \d+) targets met\*\*", r"\*\*(\d+ of \d+) targets PASS\*\*"),
    (r"ledger on, took ([\d.]+) \u00d7", r"\| throughput: \(a\) / \(c\) seconds, median pair \| ([\d.]+) \|"),
    (
        r"national-format numbers\n?\s*([\d.]+) \u00d7",
        r"\| throughput: \(a'\) / \(c'\) seconds, [^|]*\| ([\d.]+) \|",
    ),
    (r"takes ([\d.]+) \u00d7 as long", r"\| throughput: \(b\) / \(a\) seconds \| ([\d.]+) \|"),
    (
        r"operators module costs ([\d.]+) \u00d7",
        r"\| parse: airflow_provider_fullsms.operators.fullsms: / HTTP \| ([\d.]+) \|",
    ),
    (r"peak memory by\s+(\d+) MB", r"\| memory: peak\(1,000,000\) - peak\(10\) \| ([\d.]+) MB \|"),
    (
        r"runs (\d+) \u00d7 the `gsm0338`",
        r"\| message_analysis: analyse_message speed / gsm0338 codec's \| ([\d.]+)x \|",
    ),
    (
        r"two Celery workers take ([\d.]+) \u00d7",
        r"\| celery_shards: two workers / one worker, [^|]*\| ([\d.]+)x \|",
    ),
]


@pytest.mark.parametrize(("readme", "recorded"), BENCH_FIGURES, ids=[f[0][:24] for f in BENCH_FIGURES])
def test_the_readme_quotes_the_latest_benchmark_run_as_recorded(readme: str, recorded: str) -> None:
    section = readme_performance()
    latest = (ROOT / "docs" / "performance.md").read_text().split("## Latest full run", 1)[1]
    (quoted_figure,) = re.findall(readme, section)
    recorded_figure = re.findall(recorded, latest.split("### Summary of the run", 1)[1])[0]

    if " of " in quoted_figure:
        assert quoted_figure == recorded_figure
    else:  # the README rounds
        digits = len(quoted_figure.split(".")[1]) if "." in quoted_figure else 0
        assert quoted_figure == f"{float(recorded_figure):.{digits}f}"


def test_the_runs_before_the_latest_met_the_targets_the_readme_says() -> None:
    # "22 of 22 targets met, as in the two runs before it": performance.md's three runs in a row.
    (met,) = re.findall(
        r"\*\*(\d+ of \d+) targets met\*\*, as in the\s+two runs before it", readme_performance()
    )
    runs = (ROOT / "docs" / "performance.md").read_text().split("## Three runs in a row", 1)[1]
    assert re.findall(r"^\| \d \| (\d+ of \d+) \|", runs, flags=re.MULTILINE) == [met] * 3
