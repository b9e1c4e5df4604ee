"""
The README's feature-by-Airflow-version table: every cell backed by a test that CI runs on that Airflow.

For each row, each file or folder its "checked by" column names exists, and one named plainly (not
followed by a parenthesis narrowing it to some versions) runs on every Airflow CI tests: in
`make test` on 3.3 (every suite) and in each leg of `make matrix` (the Makefile's `MATRIX_SUITES`,
its `MATRIX_E2E` and the install check).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A path a cell names, and what follows it up to the next path or the cell's end.
NAMED = re.compile(r"`((?:tests|scripts)/[^`]*)`(.*?)(?=`(?:tests|scripts)/|$)")
#: Words right after a path narrowing it to some versions: "(3.3)", ": 3.3 in CI, the others by hand".
NARROWED = re.compile(r"^\s*[(:][^`]*?(?:\d\.\d|by hand)")


def makefile_list(name: str) -> list[str]:
    """The words of a Makefile variable (``NAME := …`` or ``NAME ?= …``)."""
    match = re.search(rf"^{re.escape(name)} [:?]?= (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile has no {name}"
    return match.group(1).split()


def version_table() -> list[tuple[str, str]]:
    """Each row of the README's "Airflow versions" table as (feature, checked by)."""
    section = (ROOT / "README.md").read_text().split("## Airflow versions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    header, *body = cells
    assert header[1:] == ["2.11", "3.0", "3.1", "3.2", "3.3", "checked by"], header
    return [(row[0], row[-1]) for row in body]


def in_every_leg(path: str) -> bool:
    """Whether each CI leg of `make matrix` runs ``path`` (3.3's `make test` runs every suite)."""
    ran = [
        *makefile_list("MATRIX_SUITES"),
        *makefile_list("MATRIX_E2E"),
        "scripts/check_install_keeps_airflow.sh",
    ]
    return any(path == suite or path.startswith(suite.rstrip("/") + "/") for suite in ran)


def test_the_table_covers_every_airflow_it_supports() -> None:
    assert len(version_table()) >= 10


@pytest.mark.parametrize(
    ("feature", "checked_by"), version_table(), ids=[row[0][:40] for row in version_table()]
)
def test_each_row_names_tests_that_exist_and_that_ci_runs_on_every_version(
    feature: str, checked_by: str
) -> None:
    named = NAMED.findall(checked_by)
    if feature == "tested in":
        return  # names the make targets
    assert named, f"{feature!r}: the row names no test"
    for path, after in named:
        assert (ROOT / path.split("::")[0]).exists(), f"{feature!r}: {path} does not exist"
        if not NARROWED.match(after):
            assert in_every_leg(path), (
                f"{feature!r}: {path} is named for every version, but `make matrix` does not run it: "
                "add it to MATRIX_SUITES or MATRIX_E2E, or say in a parenthesis where it runs"
            )
