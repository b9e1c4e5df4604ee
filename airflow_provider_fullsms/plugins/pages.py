"""
The FullSMS page's HTML: the campaign list and one campaign with its batches, from the Jinja2
templates in ``templates/`` with autoescaping (every value a campaign holds is escaped).

Links and ``fetch`` calls are relative, so the page works under any ``base_url`` and inside the
Airflow UI's frame. The scripts and the stylesheet are files under ``static/``: no data is ever put
into a script; the CSRF token is in a ``<meta>`` tag, the task in ``data-*`` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from jinja2 import Environment

    from airflow_provider_fullsms.plugins.ledger_view import CampaignView
    from airflow_provider_fullsms.plugins.store import CampaignFilter

#: The "needs attention" filter looks among this many newest campaigns.
LIST_LIMIT = 200
#: Campaigns on one page of the list.
PAGE_SIZE = 50
#: What a person can say about a batch whose outcome is unknown, as the buttons read.
CHOICES = {"sent": "It was sent", "resend": "Send it again"}


@dataclass
class Listing:
    """One page of the campaign list."""

    campaigns: list[CampaignView]
    #: The DAGs with campaigns the user may read (the filter's choices).
    dag_ids: list[str]
    filters: CampaignFilter
    attention: bool
    #: How many campaigns match (with ``attention``: among the newest :data:`LIST_LIMIT`).
    total: int
    page: int
    pages: int

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.campaigns else 0

    @property
    def last(self) -> int:
        return self.first + len(self.campaigns) - 1 if self.campaigns else 0

    def query(self, page: int) -> str:
        """The list's query string with this page."""
        f = self.filters
        params: dict[str, object] = {"dag_id": f.dag_id, "q": f.search, "since": f.since, "until": f.until}
        params |= {"attention": "1" if self.attention else None, "page": page}
        return urlencode({name: str(value) for name, value in params.items() if value})

    def to_json(self) -> dict[str, Any]:
        return {
            "campaigns": [campaign.to_json() for campaign in self.campaigns],
            "total": self.total,
            "page": self.page,
            "pages": self.pages,
        }


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


def list_page(listing: Listing, *, csrf: str) -> str:
    """A page of the campaigns the user may read, newest first, with its search and filters."""
    filtered = listing.filters.describe()
    if listing.attention:
        filtered = f"{filtered} and needs attention" if filtered else "needs attention"
    return render("campaigns.html", listing=listing, filtered=filtered, limit=LIST_LIMIT, csrf=csrf)


def campaign_page(campaign: CampaignView, *, may_edit: bool, csrf: str) -> str:
    """
    One campaign: its figures, its batches, and for each unknown batch what a person can say.

    :param may_edit: whether the user may change this DAG's task instances (decide and clear).
    """
    return render("campaign.html", campaign=campaign, may_edit=may_edit, choices=CHOICES, csrf=csrf)
