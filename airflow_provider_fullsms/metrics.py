"""
The provider's metrics, through Airflow's own ``Stats`` (StatsD or OpenTelemetry, as ``[metrics]``
configures it; nothing is sent when metrics are off).

Every metric is tagged with the DAG, the task and the FullSMS connection (``dag_id``, ``task_id``,
``conn_id``): backends with tags (OpenTelemetry, Datadog, StatsD with ``statsd_influxdb_enabled``)
keep them; plain StatsD gets the bare name. ``docs/campaigns.md`` lists them.

* Each try of a send counts its batches by what became of them in that try:
  ``fullsms.batches.accepted`` (accepted now), ``.skipped`` (accepted by an earlier try),
  ``.assumed_sent``, ``.unknown`` (became unknown in this try: a batch left unknown is counted
  once, not again by every try that finds it still unsettled), ``.not_sent``.
* The try that finishes a campaign counts it once: ``fullsms.recipients.accepted``, ``.invalid``,
  ``.excluded``, ``.unknown``, and with a price ``fullsms.segments`` and ``fullsms.cost``.
* ``fullsms.balance`` is a gauge, set whenever the balance operator or sensor reads the balance.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_fullsms.campaigns.counts import CampaignCounts

PREFIX = "fullsms"
#: Per try: the summary's batch figure behind each ``fullsms.batches.*`` counter.
BATCH_COUNTERS = {
    "accepted": "accepted",
    "skipped": "skipped_already_accepted",
    "assumed_sent": "assumed_sent",
    "unknown": "unknown_now",
    "not_sent": "not_sent_count",
}


def tags(context: Mapping[str, Any] | None, conn_id: str) -> dict[str, str]:
    """The DAG, task and connection of a metric (only the connection outside a task run)."""
    ti = (context or {}).get("ti")
    found = {"conn_id": conn_id}
    if ti is not None:
        found = {"dag_id": str(ti.dag_id), "task_id": str(ti.task_id), **found}
    return found


def count_batches(summary: Mapping[str, Any], tags: dict[str, str]) -> None:
    """Count this try's batches by outcome (see :data:`BATCH_COUNTERS`)."""
    stats = _stats()
    batches = summary.get("batches") or {}
    for name, key in BATCH_COUNTERS.items():
        if value := int(batches.get(key) or 0):
            stats.incr(f"{PREFIX}.batches.{name}", value, tags=tags)


def count_campaign(counts: CampaignCounts, tags: dict[str, str]) -> None:
    """Count a finished campaign's recipients, segments and cost (once, by the try that finishes it)."""
    stats = _stats()
    for name in ("accepted", "invalid", "excluded", "unknown"):
        stats.incr(f"{PREFIX}.recipients.{name}", getattr(counts, name), tags=tags)
    if counts.segments is not None:
        stats.incr(f"{PREFIX}.segments", counts.segments, tags=tags)
    if counts.cost is not None:
        stats.incr(f"{PREFIX}.cost", counts.cost, tags=tags)  # a sum of money: a float counter


def gauge_balance(balance: float, tags: dict[str, str]) -> None:
    """The account's balance as last read."""
    _stats().gauge(f"{PREFIX}.balance", balance, tags=tags)


def _stats() -> Any:
    # Airflow's Stats (the compat layer finds it on each Airflow version); imported only when a
    # task reports, never while a DAG file is parsed.
    from airflow.providers.common.compat.sdk import Stats

    _set_up_backend(Stats)
    return Stats


def _set_up_backend(stats: Any) -> None:
    """
    Give the Task SDK's ``Stats`` its backend from ``[metrics]`` when nothing has in this process.

    Airflow's task runner sets it up for every task an executor runs; ``airflow dags test`` and
    ``dag.test()`` run tasks in their own process, which does not, so the metrics would be dropped
    there. The OpenLineage provider sets it up the same way for its own processes. Where ``Stats``
    configures itself (Airflow before 3.2) there is nothing to do.
    """
    module = sys.modules.get(getattr(stats, "__module__", ""))
    if module is None or getattr(module, "_factory", True) is not None:
        return
    from airflow.providers.common.compat.sdk import conf
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

    stats.initialize(
        factory=get_stats_factory(),
        export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
    )


def report_balance(context: Mapping[str, Any] | None, conn_id: str, balance: float, log: Any) -> None:
    """Set ``fullsms.balance``; a metrics backend that fails never fails the task."""
    try:
        gauge_balance(balance, tags(context, conn_id))
    except Exception:
        log.warning("Could not emit the fullsms.balance metric", exc_info=True)
