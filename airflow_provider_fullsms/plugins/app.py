"""
The FastAPI app mounted at ``/fullsms`` in Airflow's api-server: pages and their JSON.

========================  ==========================================================================
``GET /``                 campaigns newest first, 50 a page (``?dag_id=&q=&since=&until=&page=``,
                          ``?attention=1``), balances button
``GET /campaign``         one campaign (``?dag_id=&run_id=&task_id=&map_index=``) and its batches
``GET /api/campaigns``    the list as JSON (the same filters, ``?needs_attention=true``), ``total``
``GET /api/campaign``     one campaign as JSON, batches included
``GET /api/balances``     each FullSMS connection's balance (read on demand, kept a minute)
``POST /api/decision``    ``{dag_id, run_id, task_id, map_index, batch, decision: sent|resend}``
                          (records or changes it; 409 when the batch may not be decided about now)
``POST /api/decision/withdraw``  ``{dag_id, run_id, task_id, map_index, batch}``: take it back
``POST /api/clear``       ``{dag_id, run_id, task_id, map_index}``: clear the task so it runs again
========================  ==========================================================================

Decisions go through :func:`~airflow_provider_fullsms.settlement.settle` and
:func:`~airflow_provider_fullsms.settlement.withdraw`, the CLI's: the same checks, the same keys.

Every route needs an Airflow session or JWT (:mod:`~.security`); reads need the permission to
read the DAG's task instances, writes the permission to edit them, and cookie-authenticated
writes the page's CSRF token.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from airflow.utils.session import create_session
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from airflow_provider_fullsms.campaigns.ledger import Settlement, has_task_state_store
from airflow_provider_fullsms.exceptions import CampaignInputError, SettlementRefusedError
from airflow_provider_fullsms.plugins import pages
from airflow_provider_fullsms.plugins.airflow_api import api_root
from airflow_provider_fullsms.plugins.balances import BalanceCache, fullsms_conn_ids
from airflow_provider_fullsms.plugins.ledger_view import mask_numbers
from airflow_provider_fullsms.plugins.pages import LIST_LIMIT, PAGE_SIZE, Listing
from airflow_provider_fullsms.plugins.security import Reader, Writer, csrf_token, require
from airflow_provider_fullsms.plugins.store import (
    CampaignFilter,
    campaign_dag_ids,
    count_campaigns,
    find_campaign,
    find_campaigns,
)
from airflow_provider_fullsms.settlement import AirflowApi, TaskAddress, settle, withdraw

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_fullsms.plugins.ledger_view import CampaignView


class TaskBody(BaseModel):
    """The task instance whose ledger holds the campaign."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = Field(-1, ge=-1)

    def key(self) -> TaskAddress:
        return TaskAddress(self.dag_id, self.run_id, self.task_id, self.map_index)


class BatchBody(TaskBody):
    batch: int = Field(ge=0)


class DecisionBody(BatchBody):
    decision: Settlement


def airflow_api(request: Request, who: Writer) -> AirflowApi:
    """Airflow's REST API on this api-server, called with the caller's credential."""
    return AirflowApi(api_root(request), who.token, task_state_store=has_task_state_store())


AirflowWrites = Annotated[AirflowApi, Depends(airflow_api)]


def _task(
    dag_id: str, run_id: str, task_id: str, map_index: Annotated[int, Query(ge=-1)] = -1
) -> TaskAddress:
    return TaskAddress(dag_id, run_id, task_id, map_index)


TaskParams = Annotated[TaskAddress, Depends(_task)]


def _html(body: str) -> HTMLResponse:
    # Scripts and styles only from the plugin's own static files: nothing inline ever runs.
    return HTMLResponse(
        body,
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
            ),
            "Cache-Control": "no-store",
        },
    )


def _listing(who: Reader, filters: CampaignFilter, attention: bool, page: int) -> Listing:
    """
    A page of campaigns: six queries whatever their number (the DAGs, the count, the page's plans,
    their ledgers, task states and summaries). "Needs attention" depends on ledgers and states, so
    it looks among the newest :data:`LIST_LIMIT` that match, on one page.
    """
    with create_session() as session:
        readable = sorted(who.readable_dag_ids(campaign_dag_ids(session)))
        if attention:
            found = find_campaigns(session, dag_ids=readable, filters=filters, limit=LIST_LIMIT)
            found = [campaign for campaign in found if campaign.needs_attention]
            return Listing(found, readable, filters, attention, len(found), 1, 1)
        total = count_campaigns(session, dag_ids=readable, filters=filters)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        found = find_campaigns(
            session, dag_ids=readable, filters=filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    return Listing(found, readable, filters, attention, total, page, pages)


def _day(value: str | None, name: str) -> date | None:
    """A day from the form's date field: empty when the field was left empty."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, f"{name}={value!r}: use YYYY-MM-DD."
        ) from None


def _filters(
    dag_id: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    since: str | None = None,
    until: str | None = None,
) -> CampaignFilter:
    return CampaignFilter(
        dag_id=dag_id or None,
        search=(q or "").strip() or None,
        since=_day(since, "since"),
        until=_day(until, "until"),
    )


Filters = Annotated[CampaignFilter, Depends(_filters)]


def _campaign(who: Reader, task: TaskAddress) -> CampaignView:
    require(who.may_read_task_instances(task.dag_id), f"read the task instances of {task.dag_id}")
    with create_session() as session:
        campaign = find_campaign(session, task)
    if campaign is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "This task instance recorded no FullSMS campaign.")
    return campaign


@contextmanager
def _airflow_refusal() -> Iterator[None]:
    """
    A decision that may not be recorded now is a 409; Airflow's REST API refusing a write (its
    answer is in the message, numbers masked) a 502.
    """
    try:
        yield
    except SettlementRefusedError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except CampaignInputError as error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, mask_numbers(str(error))) from None


def _batches_json(campaign: CampaignView) -> list[dict[str, Any]]:
    return [
        {
            "index": batch.index,
            "state": batch.state,
            "label": batch.label,
            "recipients": batch.recipients,
            "sent": batch.sent,
            "campaign_id": batch.campaign_id,
            "at": batch.at,
            "error": batch.error,
            "decision": batch.decision,
            "text_hash": batch.text_hash,
            "first": batch.first,
            "last": batch.last,
        }
        for batch in campaign.batches
    ]


def create_app() -> FastAPI:
    """The app Airflow mounts at ``/fullsms`` (built on the api-server's first request to it)."""
    # No /docs or /openapi.json: every route of this app needs an Airflow user.
    app = FastAPI(title="FullSMS", openapi_url=None, docs_url=None, redoc_url=None)
    balances = BalanceCache()
    # The stylesheet, the scripts and the icons: no data, so no login (the menu's icon is one).
    static = StaticFiles(packages=[("airflow_provider_fullsms.plugins", "static")])
    app.mount("/static", static, name="static")

    @app.get("/", response_class=HTMLResponse)
    def campaigns_page(
        who: Reader, filters: Filters, attention: bool = False, page: Annotated[int, Query(ge=1)] = 1
    ) -> HTMLResponse:
        listing = _listing(who, filters, attention, page)
        return _html(pages.list_page(listing, csrf=csrf_token(who.token)))

    @app.get("/campaign", response_class=HTMLResponse)
    def campaign_page(who: Reader, task: TaskParams) -> HTMLResponse:
        campaign = _campaign(who, task)
        html = pages.campaign_page(
            campaign, may_edit=who.may_edit_task_instances(task.dag_id), csrf=csrf_token(who.token)
        )
        return _html(html)

    @app.get("/api/campaigns")
    def campaigns_json(
        who: Reader,
        filters: Filters,
        needs_attention: bool = False,
        page: Annotated[int, Query(ge=1)] = 1,
    ) -> dict[str, Any]:
        return _listing(who, filters, needs_attention, page).to_json()

    @app.get("/api/campaign")
    def campaign_json(who: Reader, task: TaskParams) -> dict[str, Any]:
        campaign = _campaign(who, task)
        return {**campaign.to_json(), "batch_list": _batches_json(campaign)}

    @app.get("/api/balances")
    def balances_json(who: Reader) -> dict[str, Any]:
        with create_session() as session:
            conn_ids = [conn_id for conn_id in fullsms_conn_ids(session) if who.may_read_connection(conn_id)]
        return {"balances": [balances.get(conn_id).to_json() for conn_id in conn_ids]}

    @app.post("/api/decision")
    def record_decision(who: Writer, api: AirflowWrites, body: DecisionBody) -> dict[str, Any]:
        require(who.may_edit_task_instances(body.dag_id), f"change the task instances of {body.dag_id}")
        with _airflow_refusal():
            [batch] = settle(api, body.key(), [body.batch], body.decision)
        return {
            "batch": body.batch,
            "attempt": batch.attempt,
            "decision": str(body.decision),
            "applies": "when the task is cleared",
        }

    @app.post("/api/decision/withdraw")
    def withdraw_decision(who: Writer, api: AirflowWrites, body: BatchBody) -> dict[str, Any]:
        require(who.may_edit_task_instances(body.dag_id), f"change the task instances of {body.dag_id}")
        with _airflow_refusal():
            withdraw(api, body.key(), [body.batch])
        return {"batch": body.batch, "decision": None}

    @app.post("/api/clear")
    def clear_task(who: Writer, api: AirflowWrites, body: TaskBody) -> dict[str, Any]:
        require(who.may_edit_task_instances(body.dag_id), f"change the task instances of {body.dag_id}")
        with _airflow_refusal():
            api.clear(body.key())
        return {"cleared": body.task_id}

    return app
