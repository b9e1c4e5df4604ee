"""
What a send tells the rest of Airflow about its campaign: OpenLineage facets, metrics, an asset
event and the "FullSMS campaign" extra link.

* **Lineage**: ``get_openlineage_facets_on_start`` / ``_on_complete`` / ``_on_failure``, which the
  OpenLineage provider calls when it is installed (:mod:`airflow_provider_fullsms.lineage`).
* **Metrics**: ``fullsms.*`` through Airflow's ``Stats`` (:mod:`airflow_provider_fullsms.metrics`).
* **Asset event**: a campaign that finishes updates ``fullsms://<api host>/<dag_id>/<task_id>``
  through the task's alias ``fullsms/<dag_id>/<task_id>`` (:mod:`airflow_provider_fullsms.assets`),
  its figures in the event's ``extra``.

Everything here runs when a task does; building an operator only adds the alias to its outlets.
Reporting never fails a send: an error while reporting is logged, and the campaign's own outcome
stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.operators.links import FullSmsCampaignLink

if TYPE_CHECKING:
    from collections.abc import Collection

    from airflow.providers.common.compat.sdk import BaseOperatorLink
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_fullsms.hooks.fullsms import FullSmsHook


class CampaignObservabilityMixin:
    """For the send operators: lineage, metrics, the campaign's asset event and its extra link."""

    operator_extra_links: Collection[BaseOperatorLink] = (FullSmsCampaignLink(),)

    # Provided by the operator.
    hook: FullSmsHook
    fullsms_conn_id: str
    dag_id: str
    task_id: str
    outlets: list[Any]
    log: Any

    #: The summary of the last try, for the OpenLineage COMPLETE / FAIL event.
    _fullsms_summary: dict[str, Any] | None = None

    def _add_campaign_alias(self) -> None:
        """Add the alias the campaign's asset event goes through (only when the DAG is known here)."""
        if not getattr(self, "has_dag", lambda: False)():
            return
        from airflow.providers.common.compat.sdk import AssetAlias

        from airflow_provider_fullsms.assets import campaign_alias_name

        alias = AssetAlias(name=campaign_alias_name(self.dag_id, self.task_id))
        if alias not in self.outlets:
            self.outlets = [*self.outlets, alias]

    # -- what each try reports ---------------------------------------------------------------------

    def _observe_try(self, context: Context, summary: dict[str, Any]) -> None:
        """Every try with a summary: keep it for lineage, count its batches."""
        self._fullsms_summary = summary
        try:
            from airflow_provider_fullsms import metrics

            metrics.count_batches(summary, metrics.tags(context, self.fullsms_conn_id))
        except Exception:
            self.log.warning("Could not emit the FullSMS batch metrics", exc_info=True)

    def _observe_finished(self, context: Context, summary: dict[str, Any]) -> None:
        """The try that finished the campaign: count it once and emit its asset event."""
        from airflow_provider_fullsms import metrics
        from airflow_provider_fullsms.campaigns.counts import CampaignCounts

        try:
            metrics.count_campaign(
                CampaignCounts.from_summary(summary), metrics.tags(context, self.fullsms_conn_id)
            )
        except Exception:
            self.log.warning("Could not emit the FullSMS campaign metrics", exc_info=True)
        self._emit_asset_event(context, summary)

    def _emit_asset_event(self, context: Context, summary: dict[str, Any]) -> None:
        from airflow.providers.common.compat.sdk import Asset, AssetAlias

        from airflow_provider_fullsms import assets
        from airflow_provider_fullsms.assets import api_host, campaign_alias_name, campaign_uri
        from airflow_provider_fullsms.campaigns.counts import asset_extra
        from airflow_provider_fullsms.version_compat import (
            ASSET_EVENT_EXTRA_NESTS,
            ASSET_EVENT_RECORDS_UNKNOWN_ALIAS,
        )

        events = context.get("outlet_events")
        name = campaign_alias_name(self.dag_id, self.task_id)
        aliases = [o for o in self.outlets if isinstance(o, AssetAlias) and o.name == name]
        if events is None or not aliases:
            return
        if not ASSET_EVENT_RECORDS_UNKNOWN_ALIAS and assets.asset_alias_exists(name) is False:
            # Reporting never fails a send: this Airflow would fail the task that texted everyone.
            self.log.warning(
                "No FullSMS campaign asset event: Airflow has no record of the asset alias %s (this "
                "DAG was never written to the metadata database, as dag.test() and `airflow dags "
                "test` leave it on Airflow 2.11), so no DAG is scheduled on it, and Airflow 2.11 "
                "fails a task whose event goes through an unknown alias. Write the DAG first "
                "(dag.sync_to_db(), as the DAG processor does) to record its event.",
                name,
            )
            return
        asset = Asset(uri=campaign_uri(api_host(self.hook.config.base_url), self.dag_id, self.task_id))
        map_index = getattr(context.get("ti"), "map_index", None)
        if map_index is not None and map_index > 0 and assets.asset_exists(asset.uri) is False:
            # Airflow creates the asset on its first event and fails a task whose event races
            # another's to create it: map index 0 creates it, the other shards emit from then on.
            self.log.info(
                "FullSMS campaign asset %s does not exist yet; map index 0 creates it with its "
                "first event, so this shard (map index %d) emits none this time.",
                asset.uri,
                map_index,
            )
            return
        events[aliases[0]].add(asset, extra=asset_extra(summary, nested=ASSET_EVENT_EXTRA_NESTS))
        self.log.info("FullSMS campaign asset event: %s", asset.uri)

    # -- OpenLineage -------------------------------------------------------------------------------

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        """The inputs (audience and ``exclude`` files, or contact lists) and the campaign's dataset."""
        return self._lineage(None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """As on start, with the campaign's counts on the run and on its dataset."""
        return self._lineage(self._fullsms_summary)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """As on complete: a failed campaign's counts say how far it got."""
        return self._lineage(self._fullsms_summary)

    def _lineage(self, summary: dict[str, Any] | None) -> OperatorLineage:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_fullsms import lineage
        from airflow_provider_fullsms.assets import api_host
        from airflow_provider_fullsms.campaigns.counts import CampaignCounts

        host = api_host(self.hook.config.base_url)
        counts = CampaignCounts.from_summary(summary) if summary is not None else None
        outputs = (
            []
            if getattr(self, "dry_run", False)
            else [lineage.campaign_dataset(host, self.dag_id, self.task_id, counts)]
        )
        return OperatorLineage(
            inputs=self._lineage_inputs(host),
            outputs=outputs,
            run_facets=lineage.run_facets(counts, (summary or {}).get("campaign_ids") or []),
        )

    def _lineage_inputs(self, host: str) -> list[Any]:
        """What the campaign reads; each send operator names its own."""
        return []
