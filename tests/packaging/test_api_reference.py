"""``make docs``: the API reference, generated from the docstrings, builds without one warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The public names of DESIGN.md a DAG author looks up.
PUBLIC = [
    "hooks.fullsms.FullSmsHook",
    "hooks.fullsms_async.FullSmsAsyncHook",
    "operators.fullsms.FullSmsSendToNumbersOperator",
    "operators.lists.FullSmsSendToListsOperator",
    "operators.balance.FullSmsGetBalanceOperator",
    "sensors.fullsms.FullSmsBalanceSensor",
    "triggers.fullsms.FullSmsBalanceTrigger",
    "triggers.top_up.FullSmsBalanceTopUpTrigger",
    "notifications.fullsms.FullSmsNotifier",
    "operators.links.FullSmsCampaignLink",
    "assets.campaign_alias_name",
    "sandbox.testing.SandboxClient",
    "sandbox.testing.SandboxProcess",
    "plugins.pytest_plugin.fullsms_sandbox",
]


def test_the_api_reference_builds_with_warnings_as_errors_and_documents_the_public_classes(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    out = tmp_path / "html"
    build = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs/api", str(out)]

    result = subprocess.run(build, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    missing = [name for name in PUBLIC if f'id="airflow_provider_fullsms.{name}"' not in page]
    assert missing == []
    assert ":param" not in page  # reST fields rendered, not shown as text
