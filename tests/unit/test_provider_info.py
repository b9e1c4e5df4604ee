"""The provider as Airflow sees it: discovery, connection form, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_fullsms.get_provider_info import get_provider_info

BIN = Path(sys.executable).parent


def test_airflow_providers_list_shows_the_provider() -> None:
    result = subprocess.run(
        [str(BIN / "airflow"), "providers", "list"],
        capture_output=True,
        text=True,
        env=os.environ,
        check=True,
    )
    assert "airflow-provider-fullsms" in result.stdout


def test_connection_form_fields_come_without_importing_the_hook() -> None:
    """The UI builds the form from provider info; importing the hook there would slow every page."""
    script = """
import sys
from airflow.providers_manager import ProvidersManager
pm = ProvidersManager()
pm.initialize_providers_list()
info = pm.providers["airflow-provider-fullsms"].data["connection-types"][0]
print(sorted(info["conn-fields"]))
print(info["ui-field-behaviour"]["relabeling"])
print("hook imported:", "airflow_provider_fullsms.hooks.fullsms" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()[-3:]
    assert lines[0] == (
        "['connect_timeout', 'default_region', 'default_sender', 'ledger_write_window', 'max_concurrency', "
        "'minimum_balance', 'number_validation', 'price_per_segment', 'timeout', 'timezone']"
    )
    assert lines[1] == "{'host': 'Base URL', 'password': 'API Token'}"
    assert lines[2] == "hook imported: False"


def test_airflow_lists_the_balance_triggers_among_the_providers_triggers() -> None:
    """The sensor's trigger, and the top-up trigger an ``AssetWatcher`` uses."""
    result = subprocess.run(
        [str(BIN / "airflow"), "providers", "triggers", "--output", "json"],
        capture_output=True,
        text=True,
        env=os.environ,
        check=True,
    )
    # The JSON is the last line: Airflow 3.0 prints log records (alembic's plugins) before it.
    listed = json.loads(result.stdout.strip().splitlines()[-1])
    ours = [t["class"] for t in listed if t["package_name"] == "airflow-provider-fullsms"]
    assert sorted(ours) == [
        "airflow_provider_fullsms.triggers.fullsms",
        "airflow_provider_fullsms.triggers.top_up",
    ]


def test_provider_info_names_modules_that_exist() -> None:
    import importlib

    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for notifier in info["notifications"]:
        module, _, name = notifier.rpartition(".")
        assert hasattr(importlib.import_module(module), name)
    for dotted in (
        *info["extra-links"],
        *(entry[key] for entry in info["asset-uris"] for key in ("handler", "to_openlineage_converter")),
    ):
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted
    hook_class = info["connection-types"][0]["hook-class-name"]
    module, _, name = hook_class.rpartition(".")
    assert getattr(importlib.import_module(module), name).conn_type == "fullsms"


def test_every_closed_set_of_values_among_the_extras_is_a_choice_in_the_form() -> None:
    from airflow_provider_fullsms.phones import NumberValidation

    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    choices = {name: f["schema"]["enum"] for name, f in fields.items() if "enum" in f["schema"]}

    assert choices == {"number_validation": [choice.value for choice in NumberValidation]}
    schema = fields["number_validation"]["schema"]
    assert schema["default"] in schema["enum"]
    assert set(schema["values_display"]) == set(schema["enum"])
