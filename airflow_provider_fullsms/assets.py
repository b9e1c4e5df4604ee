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
