"""
A report after each campaign: this DAG runs when ``fullsms_crm_to_sms`` finishes its campaign.

The user story: marketing wants, after every CRM campaign, how many people it reached, how many
numbers were bad or opted out, and what it cost, without polling FullSMS or reading task logs.

* The send task emits an asset event for ``fullsms://<api host>/fullsms_crm_to_sms/send_campaign``
  when its campaign finishes, through the alias ``fullsms/fullsms_crm_to_sms/send_campaign``
  (the API host comes from the connection, so the DAG file names the alias, not the host).
* This DAG is scheduled on that alias: each finished campaign starts one run, and the event's
  ``extra`` carries the campaign's figures (recipients, accepted, invalid, excluded, unknown,
  segments, cost, campaign ids).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import AssetAlias, dag, task

from airflow_provider_fullsms.assets import campaign_alias_name
from airflow_provider_fullsms.campaigns.counts import read_asset_extra

CAMPAIGN = AssetAlias(name=campaign_alias_name("fullsms_crm_to_sms", "send_campaign"))


def campaign_report(extras: list[dict[str, Any]]) -> list[str]:
    """One line per finished campaign, from its asset event's ``extra``."""
    lines = []
    # read_asset_extra: before Airflow 3.1 the campaign ids come as JSON text.
    for extra in map(read_asset_extra, extras):
        cost = "unknown (no price_per_segment)" if extra.get("cost") is None else f"{extra['cost']:.2f}"
        lines.append(
            f"{extra['accepted']} of {extra['recipients']} recipients texted; {extra['invalid']} invalid, "
            f"{extra['excluded']} opted out, {extra['unknown']} unknown; cost {cost}; "
            f"campaigns {', '.join(extra.get('campaign_ids') or [])}"
        )
    return lines


@dag(
    dag_id="fullsms_campaign_report",
    schedule=CAMPAIGN,
    start_date=datetime(2025, 1, 1),  # Airflow 2.11 needs one for any schedule
    tags=["fullsms", "example"],
    doc_md=__doc__,
)
def fullsms_campaign_report() -> None:
    @task
    def report(triggering_asset_events: Any = None) -> list[str]:
        # Through the alias only: Airflow files each event under its asset and under every alias
        # it came through, so reading every key would count a campaign twice.
        extras = [event.extra for event in (triggering_asset_events or {}).get(CAMPAIGN, [])]
        lines = campaign_report(extras)
        for line in lines:
            print(line)
        return lines

    report()


fullsms_campaign_report()
