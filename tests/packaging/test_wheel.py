"""
The package as a user installs it: ``make dist``'s build of the sdist and wheel, ``twine check``,
and the wheel installed into a new virtualenv that then imports the provider, registers its
entry points, and runs the README's DAG test through the pytest plugin against a sandbox.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.docs.blocks import pytest_plugin_example

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/fullsms/airflow-provider-fullsms"

PROBE = """
import importlib.metadata, json

import airflow_provider_fullsms
from airflow import plugins_manager
from airflow.providers_manager import ProvidersManager

dist = importlib.metadata.distribution("airflow-provider-fullsms")
print(json.dumps({
    "module": airflow_provider_fullsms.__file__,
    "version": dist.version,
    "entry_points": sorted(f"{ep.group}:{ep.name}={ep.value}" for ep in dist.entry_points),
    "providers": sorted(ProvidersManager().providers),
    "connection_types": sorted(ProvidersManager().hooks),
    "airflow_plugins": sorted(plugin["name"] for plugin in plugins_manager.get_plugin_info()),
}))
"""


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=600, check=False, **kwargs
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def layered_venv(path: Path) -> Path:
    """
    A new virtualenv that sees this test environment's third-party packages, but not this project.

    Installing the wheel with its dependencies from PyPI into an empty virtualenv takes 2 to 2.5
    minutes on 2 shared cores (measured: 2m15s and 2m37s; the index serves local wheels, so a pip
    cache gains nothing), most of this suite's time budget. What that would check, that pip resolves
    the wheel's requirements under constraints.txt, ``make test``'s own ``pip install -e .[test]
    -c constraints.txt`` already checks with the same metadata. So the new virtualenv gets the
    pinned third-party packages of this one (every entry of its site-packages but this project's
    editable install, linked from one folder named in a .pth file), the wheel is installed into it
    with ``--no-deps``, and ``pip check`` proves the wheel's requirements are met by the pins.
    What is checked as a user meets it: the wheel's files, metadata, entry points and console
    script, imported from the new virtualenv's own site-packages.
    """
    venv.create(path, with_pip=True, symlinks=True)
    python = path / "bin" / "python"
    site_packages = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    )
    pinned = path / "pinned-packages"
    pinned.mkdir()
    ours = re.compile(r"(_?_?editable\w*|)airflow_provider_fullsms", re.IGNORECASE)
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not ours.match(entry.name.lstrip("_")) and entry.name not in {"pip", "__pycache__"}:
            (pinned / entry.name).symlink_to(entry)
    (site_packages / "zz_pinned_packages.pth").write_text(f"{pinned}\n")
    return python


@pytest.mark.slow
def test_the_built_wheel_installs_registers_its_entry_points_and_runs_a_dag(tmp_path: Path) -> None:
    # make dist: the sdist and the wheel, and their description as PyPI renders it (built with the
    # pinned build backend of this environment: tests touch no network beyond loopback).
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT)
    (wheel,) = dist.glob("airflow_provider_fullsms-*-py3-none-any.whl")
    (sdist,) = dist.glob("airflow_provider_fullsms-*.tar.gz")
    checked = run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
    assert checked.stdout.count("PASSED") == 2

    python = layered_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHONPATH"))}
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel, env=env)
    run(python, "-m", "pip", "check", env=env)

    home = tmp_path / "airflow-home"
    probed = json.loads(
        run(python, "-c", PROBE, env={**env, "AIRFLOW_HOME": str(home)}, cwd=tmp_path).stdout.splitlines()[-1]
    )
    assert probed["module"].startswith(str(tmp_path / "venv"))
    assert probed["version"] in wheel.name
    assert probed["entry_points"] == [
        "airflow.plugins:fullsms=airflow_provider_fullsms.plugins.fullsms_ui:FullSmsPlugin",
        "apache_airflow_provider:provider_info=airflow_provider_fullsms.get_provider_info:get_provider_info",
        "console_scripts:fullsms-batches=airflow_provider_fullsms.cli:main",
        "console_scripts:fullsms-sandbox=airflow_provider_fullsms.sandbox.__main__:main",
        "pytest11:fullsms=airflow_provider_fullsms.plugins.pytest_plugin",
    ]
    assert "airflow-provider-fullsms" in probed["providers"]
    assert "fullsms" in probed["connection_types"]
    assert "fullsms" in [name.lower() for name in probed["airflow_plugins"]]
    sandbox_help = run(tmp_path / "venv" / "bin" / "fullsms-sandbox", "--help", env=env).stdout
    assert "usage: fullsms-sandbox" in sandbox_help

    # The README's DAG test, run by the new virtualenv's pytest in a project with only a dags/ folder.
    dag, test = pytest_plugin_example()
    project = tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    (project / "dags" / "spring_campaign.py").write_text(dag)
    (project / "test_dags.py").write_text(test)
    tested = run(python, "-m", "pytest", "-p", "no:cacheprovider", "-q", env=env, cwd=project)
    assert "1 passed" in tested.stdout


def test_the_long_description_links_only_to_absolute_urls_of_files_that_exist(tmp_path: Path) -> None:
    # PyPI shows the README off the repository: every relative link is rewritten by the build
    # (pyproject.toml's fancy-pypi-readme substitutions) to the repository's main branch.
    run(sys.executable, "-m", "build", "--no-isolation", "--sdist", "--outdir", tmp_path, ROOT)
    (sdist,) = tmp_path.glob("*.tar.gz")
    shutil.unpack_archive(sdist, tmp_path)
    (pkg_info,) = tmp_path.glob("airflow_provider_fullsms-*/PKG-INFO")
    description = pkg_info.read_text().split("\n\n", 1)[1]

    links = re.findall(r"\]\(([^)\s]+)\)", description)
    assert links, "no links found in the long description"
    assert [link for link in links if not link.startswith("https://")] == []
    ours = [link for link in links if link.startswith(("https://github.com/fullsms/", "https://raw."))]
    for link in ours:
        path = re.sub(
            r"^https://(github\.com/fullsms/airflow-provider-fullsms/blob/main/|"
            r"raw\.githubusercontent\.com/fullsms/airflow-provider-fullsms/main/|"
            r"github\.com/fullsms/airflow-provider-fullsms#.*)",
            "",
            link,
        ).split("#")[0]
        assert path == "" or (ROOT / path).is_file(), f"{link} names no file of the repository"
    assert f"{REPOSITORY}/blob/main/docs/sandbox.md" in " ".join(links)
