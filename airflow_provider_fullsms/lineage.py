"""
OpenLineage for the send operators: the audience and ``exclude`` files in, the campaign out.

Only the operators' ``get_openlineage_facets_*`` methods import this module, when the OpenLineage
provider asks them (it is optional: without it nothing here is ever imported). Inputs are named as
Airflow's own file operators name them (an ``ObjectStoragePath``'s namespace and key; a local path
in the ``file`` namespace), with a schema facet of the columns in the file's header row (CSV) or
first object (JSON lines). The output is ``fullsms://<api host>`` / ``<dag_id>/<task_id>``, the
dataset of the ``fullsms`` asset (:mod:`airflow_provider_fullsms.assets`), with the campaign's
counts as a custom facet on it and on the run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import define
from openlineage.client.generated.base import DatasetFacet, RunFacet

from airflow_provider_fullsms.assets import SCHEME

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset, InputDataset, OutputDataset

    from airflow_provider_fullsms.campaigns.counts import CampaignCounts

#: The key of the custom facets, on the run and on the output dataset.
FACET_KEY = "fullsms_campaign"
_SCHEMA_URL = "https://github.com/fullsms/airflow-provider-fullsms/blob/main/docs/lineage.json#/$defs/FullSmsCampaignFacet"
#: At most this much of a file is read for its columns (a header row, or one JSON object).
_HEADER_LIMIT = 64 * 1024


@define
class FullSmsCampaignRunFacet(RunFacet):
    """What the campaign came to (see :class:`~airflow_provider_fullsms.campaigns.counts.CampaignCounts`)."""

    recipients: int
    accepted: int
    invalid: int
    excluded: int
    unknown: int
    segments: int | None
    cost: float | None
    campaign_ids: list[str]

    @staticmethod
    def _get_schema() -> str:
        return _SCHEMA_URL


@define
class FullSmsCampaignDatasetFacet(DatasetFacet):
    """The campaign's counts on its ``fullsms://`` dataset."""

    recipients: int
    accepted: int
    invalid: int
    excluded: int
    unknown: int
    segments: int | None
    cost: float | None

    @staticmethod
    def _get_schema() -> str:
        return _SCHEMA_URL


def file_dataset(file: Any, *, file_format: str, encoding: str) -> InputDataset:
    """
    An audience or ``exclude`` file as an input dataset, with its columns when it has a header.

    :param file: a ``pathlib.Path`` or an ``ObjectStoragePath``.
    :param file_format: ``"csv"``, ``"jsonl"`` or ``"lines"`` (one number a line: no columns).
    """
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    namespace, name = _file_name(file)
    columns = _columns(file, file_format, encoding)
    facets: dict[str, Any] = {}
    if columns:
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=column, type="string") for column in columns]
        )
    return InputDataset(namespace=namespace, name=name, facets=facets)


def campaign_dataset(host: str, dag_id: str, task_id: str, counts: CampaignCounts | None) -> OutputDataset:
    """The campaign as an output dataset, with its counts once it has some."""
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )

    facets: dict[str, Any] = {}
    output_facets: dict[str, Any] = {}
    if counts is not None:
        facets[FACET_KEY] = FullSmsCampaignDatasetFacet(**counts.as_dict())
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=counts.accepted)
    return OutputDataset(
        namespace=f"{SCHEME}://{host}",
        name=f"{dag_id}/{task_id}",
        facets=facets,
        outputFacets=output_facets,
    )


def list_dataset(host: str, list_id: int) -> Dataset:
    """A FullSMS contact list, the input of a send to lists."""
    from airflow.providers.common.compat.openlineage.facet import InputDataset

    return InputDataset(namespace=f"{SCHEME}://{host}", name=f"lists/{list_id}")


def run_facets(counts: CampaignCounts | None, campaign_ids: list[str]) -> dict[str, Any]:
    """The run's custom facet: the campaign's counts and FullSMS campaign ids."""
    if counts is None:
        return {}
    return {FACET_KEY: FullSmsCampaignRunFacet(**counts.as_dict(), campaign_ids=list(campaign_ids))}


def _file_name(file: Any) -> tuple[str, str]:
    """OpenLineage's namespace and name of a file: ``file`` and its absolute path when local."""
    protocol = getattr(file, "protocol", None)
    if protocol is None:
        return "file", str(Path(file).absolute())
    if protocol in ("file", "local"):
        return "file", "/" + str(file.key).lstrip("/")
    return str(file.namespace), str(file.key)


def _columns(file: Any, file_format: str, encoding: str) -> list[str]:
    """The file's columns: its CSV header row, or its first JSON object's keys; none for one number a line."""
    if file_format == "lines":
        return []
    try:
        with file.open("r", encoding=encoding, newline="") as stream:
            head = stream.read(_HEADER_LIMIT)
    except (OSError, UnicodeDecodeError, ValueError):
        return []  # lineage never fails a task; the send says what is wrong with the file
    if file_format == "csv":
        row = next(csv.reader(head.splitlines()[:1]), [])
        return [column.strip() for column in row if column.strip()]
    for line in head.splitlines():
        if line.strip():
            try:
                item = json.loads(line)
            except ValueError:
                return []
            return [str(key) for key in item] if isinstance(item, dict) else []
    return []


def audience_inputs(
    *, numbers_file: Any, file_format: str | None, file_encoding: str | None, exclude: Any
) -> list[InputDataset]:
    """
    The files a send to numbers reads: its ``numbers_file`` and an ``exclude`` file (lists of
    numbers given inline are not datasets), resolved as the send resolves them.
    """
    from airflow_provider_fullsms.campaigns import Audience
    from airflow_provider_fullsms.campaigns.exclusions import exclude_file_format

    inputs = []
    for file, chosen_format in (
        (numbers_file, file_format),
        (exclude, exclude_file_format(exclude) if _is_file(exclude) else None),
    ):
        if not _is_file(file):
            continue
        source = Audience.from_params(
            numbers_file=file, file_format=chosen_format, file_encoding=file_encoding
        )
        assert source.file_format is not None  # a file's format is resolved by from_params
        inputs.append(
            file_dataset(source.file, file_format=source.file_format, encoding=source.file_encoding)
        )
    return inputs


def _is_file(value: Any) -> bool:
    """A path, URL or ``ObjectStoragePath`` (not a list of numbers, nor a rendered list)."""
    if isinstance(value, str):
        return bool(value.strip()) and value.lstrip()[:1] != "["
    return value is not None and not isinstance(value, list | tuple)
