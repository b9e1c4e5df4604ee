"""
The "FullSMS campaign" extra link: from a send task's instance to its campaign on the FullSMS page
of the Airflow UI (``/fullsms/campaign?dag_id=…&run_id=…&task_id=…&map_index=…``).

The URL is worked out from the task instance alone (no XCom, no request), so every try of a send
links to its campaign, also one that failed before its first batch (the page then says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow.providers.common.compat.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, TaskInstanceKey

LINK_NAME = "FullSMS campaign"


class FullSmsCampaignLink(BaseOperatorLink):
    """The campaign of a send task on the FullSMS page (under the api-server's ``[api] base_url``)."""

    # The send operators name this link themselves (operator_extra_links); the plugin registers
    # the class only, so it imports no operator (plugins load in every Airflow process).
    operators: ClassVar[list[type[BaseOperator]]] = []

    @property
    def name(self) -> str:
        return LINK_NAME

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return campaign_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)


def campaign_url(dag_id: str, run_id: str, task_id: str, map_index: int | None = -1) -> str:
    """
    The campaign's page: absolute under ``[api] base_url`` when it is set, else a path from the
    UI's own origin (where the api-server serves the page).
    """
    from airflow.providers.common.compat.sdk import conf

    from airflow_provider_fullsms.outcomes import campaign_page_path

    path = campaign_page_path(dag_id, run_id, task_id, -1 if map_index is None else map_index)
    base_url = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    return f"{base_url}{path}"
