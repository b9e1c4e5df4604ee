"""Answers of Airflow's REST API, checked one way everywhere: an error names what failed and what to do."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.exceptions import CampaignInputError

if TYPE_CHECKING:
    import requests


def check(response: requests.Response, what: str) -> None:
    """
    Raise a :class:`CampaignInputError` for an answer that is not a success.

    :param what: what was being done, as the error's "Could not <what>".
    """
    if response.ok:
        return
    detail = response.text[:300]
    if response.status_code in (401, 403):
        advice = "check the token (or user name and password) and that the user may edit task instances"
    elif response.status_code == 404:
        advice = "check the DAG, run and task ids (and --map-index for a mapped task)"
    else:
        advice = "see Airflow's answer"
    raise CampaignInputError(
        f"Could not {what}: Airflow answered {response.status_code} ({detail}); {advice}."
    )


def json_or_none(text: Any) -> Any:
    """``text`` as JSON; ``None`` when it is none (a Variable someone else wrote, say)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None
