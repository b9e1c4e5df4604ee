"""The README's code blocks, read as a user copies them, for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def pytest_plugin_example() -> tuple[str, str]:
    """The DAG file and the DAG test of the README's ``fullsms_sandbox`` section, as written."""
    section = README.read_text().split("### Your own DAG tests: the `fullsms_sandbox` fixture", 1)[1]
    dag, test = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    return dag, test
