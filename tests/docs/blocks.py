"""
The fenced code blocks of the README and ``docs/*.md``, and what the docs suite does with each.

A block's fence says what it is. Its first word is the language, as GitHub and PyPI read it; the
words after it, which both ignore, are for this suite:

* ``python``: a program, run as written (``fullsms_default`` points at the sandbox);
* ``python dag``: lines of a DAG file, run with ``dag.test()`` inside the DAG of the completion
  named after ``dag`` (``python dag send_file``: :data:`tests.docs.completions.DAGS`);
* ``bash``: commands, all run; ``console``: a session, each ``$`` line run, the lines after it
  what it prints (compared);
* ``json NAME``: a document used as the completion ``NAME`` says (``json sandbox_state``);
* ``text``, or the word ``output`` after the language: what something prints or shows; never run.

A block that is not run is preceded by an HTML comment with the reason, which the rendered page
hides: ``<!-- not run: needs a real FullSMS account -->``, or ``<!-- run by tests/x/test_y.py -->``
for a block another suite runs. Any other block makes ``test_every_block_is_run_or_excluded`` fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

_FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<text>.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its fence's words, its text, and the comment right before it."""

    doc: str
    line: int
    words: tuple[str, ...]
    text: str
    note: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def language(self) -> str:
        return self.words[0] if self.words else ""

    @property
    def kind(self) -> str:
        """``output``, ``excluded``, ``run by``, or how it runs: ``python``, ``dag``, ``shell``, ``json``."""
        if self.note.startswith("not run:"):
            return "excluded"
        if self.note.startswith("run by "):
            return "run by"
        if self.language == "text" or "output" in self.words[1:]:
            return "output"
        if self.language == "python":
            return "dag" if self.words[1:2] == ("dag",) else "python"
        if self.language in ("bash", "console"):
            return "shell"
        if self.language == "json" and len(self.words) == 2:
            return "json"
        return "unknown"

    @property
    def completion(self) -> str | None:
        """The name of the hidden completion the fence names (``python dag send_file``: ``send_file``)."""
        names = [word for word in self.words[1:] if word not in ("dag", "output")]
        return names[0] if names else None

    @property
    def reason(self) -> str:
        """Why it is not run here (``excluded``), or the suite that runs it (``run by``)."""
        return self.note.removeprefix("not run:").removeprefix("run by ").strip()


def _note(before: str) -> str:
    """The HTML comment that ends right before a block (blank lines between allowed), else ``""``."""
    before = before.rstrip()
    if not before.endswith("-->"):
        return ""
    return " ".join(before[before.rfind("<!--") + 4 : -3].split())


@cache
def blocks() -> tuple[Block, ...]:
    """Every fenced block of the README and ``docs/*.md``, in order."""
    found = []
    for path in DOCS:
        source = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(source):
            before = source[: match.start()]
            found.append(
                Block(
                    doc=str(path.relative_to(ROOT)),
                    line=before.count("\n") + 1,
                    words=tuple(match["info"].split()),
                    text=match["text"],
                    note=_note(before),
                )
            )
    return tuple(found)


def of_kind(kind: str) -> list[Block]:
    return [block for block in blocks() if block.kind == kind]


def named(doc: str, completion: str) -> Block:
    """The one block of ``doc`` whose fence names ``completion``."""
    (block,) = [b for b in blocks() if b.doc == doc and b.completion == completion]
    return block


def pytest_plugin_example() -> tuple[str, str]:
    """
    docs/sandbox.md's DAG file and DAG test for the ``fullsms_sandbox`` fixture, as a user copies
    them; on Airflow 2.11 with the one change it names (``from airflow import DAG``).
    """
    from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_0_PLUS

    dag = named("docs/sandbox.md", "dags/spring_campaign.py").text
    if not AIRFLOW_V_3_0_PLUS:
        dag = dag.replace("from airflow.sdk import DAG", "from airflow import DAG")
    return dag, named("docs/sandbox.md", "tests/test_dags.py").text
