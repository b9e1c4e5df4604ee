"""
The ``fullsms`` asset URI scheme: ``fullsms://<api host>/<dag_id>/<task_id>``, one asset per send
task, updated each time its campaign finishes.

Registered under ``asset-uris`` in the provider info, so Airflow normalises such URIs with
:func:`sanitize_uri` and OpenLineage names them with :func:`convert_asset_to_openlineage`. A send
operator reaches its asset through the alias :func:`campaign_alias_name` (the API host is only
known when the task runs, from its connection): a DAG is scheduled on a campaign's completion with
``schedule=AssetAlias(campaign_alias_name(dag_id, task_id))``. Import-light: DAG files import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from urllib.parse import SplitResult

    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.sdk import Asset

SCHEME = "fullsms"


def api_host(base_url: str) -> str:
    """The host (and port) of a FullSMS API base URL: ``https://api.fullsms.com`` -> ``api.fullsms.com``."""
    return urlsplit(base_url).netloc.lower()


def campaign_uri(host: str, dag_id: str, task_id: str) -> str:
    """The asset URI of a send task's campaign: ``fullsms://<api host>/<dag_id>/<task_id>``."""
    return f"{SCHEME}://{host.lower()}/{dag_id}/{task_id}"


def campaign_alias_name(dag_id: str, task_id: str) -> str:
    """The name of the asset alias a send task emits its campaign's asset event through."""
    return f"{SCHEME}/{dag_id}/{task_id}"


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """
    Normalise a ``fullsms://`` URI for Airflow (``asset-uris`` handler): the host lower-cased,
    the path exactly ``/<dag_id>/<task_id>``.

    :raises ValueError: no host, or not a DAG id and a task id in the path.
    """
    if not uri.netloc:
        raise ValueError(
            "A fullsms:// URI names the FullSMS API host: fullsms://api.fullsms.com/<dag>/<task>"
        )
    parts = [part for part in uri.path.split("/") if part]
    if len(parts) != 2:
        raise ValueError(
            f"A fullsms:// URI's path is /<dag_id>/<task_id>, got {uri.path!r}: "
            "e.g. fullsms://api.fullsms.com/crm_to_sms/send"
        )
    return uri._replace(netloc=uri.netloc.lower(), path="/" + "/".join(parts), query="", fragment="")


def convert_asset_to_openlineage(asset: Asset, lineage_context: object) -> Dataset:
    """
    The OpenLineage dataset of a ``fullsms://`` asset (``asset-uris`` converter): namespace
    ``fullsms://<api host>``, name ``<dag_id>/<task_id>``, as the send operators report it.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parsed = urlsplit(asset.uri)
    return Dataset(namespace=f"{SCHEME}://{parsed.netloc}", name=parsed.path.lstrip("/"))


def asset_exists(uri: str) -> bool | None:
    """
    Whether Airflow already has the asset ``uri``, asked from inside a running task; ``None`` when
    this Airflow or this process cannot say (outside a task, or an unexpected answer).

    Airflow creates an asset that is only reached through an alias on its first event, and fails
    the task when two task instances create the same asset at once (a unique-constraint error in
    the task's success call); the send operators use this to let one task instance create it.
    """
    from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_0_PLUS

    try:
        if not AIRFLOW_V_3_0_PLUS:
            return _in_airflow_2_database("DatasetModel", "uri", uri)
        from airflow.sdk.exceptions import ErrorType
        from airflow.sdk.execution_time.comms import ErrorResponse, GetAssetByUri
        from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

        answer = SUPERVISOR_COMMS.send(GetAssetByUri(uri=uri))
    except Exception:
        return None
    if isinstance(answer, ErrorResponse):
        return False if answer.error == ErrorType.ASSET_NOT_FOUND else None
    return True


def asset_alias_exists(name: str) -> bool | None:
    """
    Whether Airflow 2.11 has a record of the asset alias ``name``, asked from inside a running task;
    ``None`` when it cannot say (outside a task, no metadata database, or an Airflow without 2.11's
    ``DatasetAliasModel``). Asked only where
    :data:`~airflow_provider_fullsms.version_compat.ASSET_EVENT_RECORDS_UNKNOWN_ALIAS` is false.

    Airflow 2.11 has one when a stored DAG names the alias, as an outlet or in its schedule: so
    where it has none, no DAG is scheduled on it, and 2.11 fails a task whose event goes through it.
    """
    try:
        return _in_airflow_2_database("DatasetAliasModel", "name", name)
    except Exception:
        return None


def _in_airflow_2_database(model: str, column: str, value: str) -> bool:
    """
    Whether Airflow 2.11's metadata database has a row of ``airflow.models.dataset.<model>`` whose
    ``column`` is ``value``: a worker there reads the database itself.
    """
    from airflow.models import dataset
    from airflow.utils.session import create_session
    from sqlalchemy import select

    table = getattr(dataset, model)
    with create_session() as session:
        found = session.scalar(select(table.id).where(getattr(table, column) == value).limit(1))
    return found is not None
