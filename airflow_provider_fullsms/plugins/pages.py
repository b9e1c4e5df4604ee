"""
The FullSMS page's HTML: the campaign list and one campaign with its batches, from the Jinja2
templates in ``templates/`` with autoescaping (every value a campaign holds is escaped).

Links and ``fetch`` calls are relative, so the page works under any ``base_url`` and inside the
Airflow UI's frame. The scripts and the stylesheet are files under ``static/``: no data is ever put
into a script; the CSRF token is in a ``<meta>`` tag, the task in ``data-*`` attributes.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

    from airflow_provider_fullsms.plugins.ledger_view import CampaignView

#: What a person can say about a batch whose outcome is unknown, as the buttons read.
CHOICES = {"sent": "It was sent", "resend": "Send it again"}


@cache
def environment() -> Environment:
    """The templates' environment, built on the first page (Airflow imports plugins everywhere)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("airflow_provider_fullsms.plugins", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    """The template ``name`` with ``context``, every value escaped."""
    return environment().get_template(name).render(**context)


def list_page(
    campaigns: list[CampaignView],
    dag_ids: list[str],
    *,
    dag_id: str | None,
    attention: bool,
    csrf: str,
) -> str:
    """
    Every campaign the user may read, newest first, with a filter by DAG and by "needs attention".

    :param dag_ids: the DAGs offered in the filter.
    """
    filters = [f"DAG {dag_id}"] if dag_id else []
    if attention:
        filters.append("needs attention")
    return render(
        "campaigns.html",
        campaigns=campaigns,
        dag_ids=dag_ids,
        dag_id=dag_id,
        attention=attention,
        filtered=" and ".join(filters),
        csrf=csrf,
    )


def campaign_page(campaign: CampaignView, *, may_edit: bool, csrf: str) -> str:
    """
    One campaign: its figures, its batches, and for each unknown batch what a person can say.

    :param may_edit: whether the user may change this DAG's task instances (decide and clear).
    """
    return render("campaign.html", campaign=campaign, may_edit=may_edit, choices=CHOICES, csrf=csrf)
