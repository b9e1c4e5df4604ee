"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_fullsms import __version__

_INTEGRATION = "FullSMS"
_FULLSMS_URIS = {
    "schemes": ["fullsms"],
    "handler": "airflow_provider_fullsms.assets.sanitize_uri",
    "to_openlineage_converter": "airflow_provider_fullsms.assets.convert_asset_to_openlineage",
}


def get_provider_info() -> dict[str, Any]:
    """
    Describe the provider: its connection type, form fields and modules.

    The connection form is built from ``conn-fields`` and ``ui-field-behaviour`` here, so the
    Airflow 3 UI shows it without importing the hook.
    """
    return {
        "package-name": "airflow-provider-fullsms",
        "name": "FullSMS",
        "description": "`FullSMS <https://fullsms.com/>`__ SMS campaigns, OTP and alerts from Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://api.fullsms.com/docs",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_fullsms.hooks.fullsms"],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_fullsms.operators.fullsms",
                    "airflow_provider_fullsms.operators.lists",
                    "airflow_provider_fullsms.operators.balance",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_fullsms.sensors.fullsms"],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_fullsms.triggers.fullsms",
                    "airflow_provider_fullsms.triggers.top_up",
                ],
            }
        ],
        "notifications": ["airflow_provider_fullsms.notifications.fullsms.FullSmsNotifier"],
        # The send operators' link to their campaign on the FullSMS page (see also the plugin).
        "extra-links": ["airflow_provider_fullsms.operators.links.FullSmsCampaignLink"],
        # fullsms://<api host>/<dag_id>/<task_id>: the asset a finished campaign updates. Airflow 3
        # reads asset-uris, Airflow 2 dataset-uris.
        "asset-uris": [_FULLSMS_URIS],
        "dataset-uris": [_FULLSMS_URIS],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_fullsms.hooks.fullsms.FullSmsHook",
                "hook-name": "FullSMS",
                "connection-type": "fullsms",
                "conn-fields": {
                    "timeout": {
                        "label": "Read timeout (seconds)",
                        "description": "How long to wait for FullSMS to answer one request.",
                        "schema": {"type": ["number", "null"], "default": 30, "minimum": 1},
                    },
                    "connect_timeout": {
                        "label": "Connect timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 10, "minimum": 1},
                    },
                    "default_sender": {
                        "label": "Default sender",
                        "description": "An owned number (E.164 digits) or an approved sender ID, "
                        "used when a task names no sender.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timezone": {
                        "label": "Timezone for send_at",
                        "description": "The account's timezone: send_at is sent to FullSMS in it.",
                        "schema": {"type": ["string", "null"], "default": "UTC"},
                    },
                    "default_region": {
                        "label": "Default region for phone numbers",
                        "description": "ISO country code (e.g. GB) for numbers written in national "
                        "format, such as 07700 900123. A task's default_region wins.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "number_validation": {
                        "label": "Phone number validation",
                        "description": "possible (length and country plausible) or valid "
                        "(libphonenumber's full validation). A task's number_validation wins.",
                        # A closed set is a choice in the form (the values of phones.NumberValidation).
                        "schema": {
                            "type": ["string", "null"],
                            "default": "possible",
                            "enum": ["possible", "valid"],
                            "values_display": {
                                "possible": "possible: length and country plausible",
                                "valid": "valid: libphonenumber's full validation",
                            },
                        },
                    },
                    "price_per_segment": {
                        "label": "Price per SMS segment",
                        "description": "Your FullSMS price of one segment: a dry run (dry_run=True) "
                        "prices the campaign with it. A task's price_per_segment wins.",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                    },
                    "minimum_balance": {
                        "label": "Minimum balance",
                        "description": "The balance FullSMS keeps back (it refuses sends below it); "
                        "added to a plan's cost to give its required_balance.",
                        "schema": {"type": ["number", "null"], "default": 0, "minimum": 0},
                    },
                    "max_concurrency": {
                        "label": "Max concurrent requests",
                        "description": "Upper bound of parallel send requests per task.",
                        "schema": {"type": ["integer", "null"], "default": 4, "minimum": 1, "maximum": 32},
                    },
                    "ledger_write_window": {
                        "label": "Ledger write window (seconds)",
                        "description": "How long a campaign retries recording a batch while Airflow's "
                        "api-server (or its database) is unreachable, e.g. restarting; no new batch "
                        "starts meanwhile. A task's ledger_write_window wins.",
                        "schema": {"type": ["number", "null"], "default": 120, "minimum": 1},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Base URL", "password": "API Token"},
                    "placeholders": {"host": "https://api.fullsms.com"},
                },
            }
        ],
    }
