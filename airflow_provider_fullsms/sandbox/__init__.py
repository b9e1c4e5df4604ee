"""The FullSMS sandbox: a local server that behaves like FullSMS as documented (think Mailpit or moto).

Run it with ``fullsms-sandbox`` (or ``python -m airflow_provider_fullsms.sandbox``); drive it from
tests with :mod:`airflow_provider_fullsms.sandbox.testing`. This module stays import-light: the
server (FastAPI, uvicorn) is only imported when it is started.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8025
#: The first token of the default account.
DEFAULT_TOKEN = "sandbox-token"
#: The default account's starting balance.
DEFAULT_BALANCE = 100
#: Requests carrying this header (value ``1``) are not counted by ``/_sandbox/requests`` and
#: never hit faults: the sandbox client's own calls must not disturb what a test measures.
INSPECTION_HEADER = "X-FullSMS-Sandbox-Inspection"

__all__ = ["DEFAULT_BALANCE", "DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_TOKEN", "INSPECTION_HEADER"]
