"""
The Airflow versions the provider's features need, in one place.

Every import that moved between Airflow 2.11 and 3.x goes through the official compatibility layer
(``airflow.providers.common.compat``). What is left is the features that exist only from some
Airflow version on; the official providers keep such facts in a ``version_compat.py`` of their own
(copied, never imported from another provider), and so does this one. Nothing else in the provider
compares versions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowOptionalProviderFeatureException

if TYPE_CHECKING:
    from collections.abc import Mapping


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """The installed Airflow's ``(major, minor, micro)``, pre-release tags dropped."""
    from airflow import __version__
    from packaging.version import Version

    airflow_version = Version(__version__)
    return airflow_version.major, airflow_version.minor, airflow_version.micro


AIRFLOW_V_3_0_PLUS: bool = get_base_airflow_version_tuple() >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS: bool = get_base_airflow_version_tuple() >= (3, 1, 0)
AIRFLOW_V_3_3_PLUS: bool = get_base_airflow_version_tuple() >= (3, 3, 0)

#: Whether an asset alias event's ``extra`` may hold lists and dicts. Before, Airflow hashes the
#: extra's values and fails the emitting task on a list (apache/airflow#56882, fixed by #57352 and
#: backported to 3.1 in November 2025; 3.1.3 is the first release we count on having it -- an
#: earlier 3.1 gets the flat extra, which costs nothing: ``read_asset_extra`` reads both).
ASSET_EVENT_EXTRA_NESTS: bool = get_base_airflow_version_tuple() >= (3, 1, 3)


#: Whether Airflow records an asset event that goes through an alias it has no record of (it
#: creates the alias, from 3.0). Airflow 2.11 fails the emitting task instead, after its work is
#: done (``FlushError: Can't flush None value found in collection DatasetModel.aliases``,
#: apache/airflow#42495). An alias is recorded when a DAG that names it is written to the metadata
#: database: by the DAG processor, never by 2.11's ``dag.test()`` or ``airflow dags test``.
ASSET_EVENT_RECORDS_UNKNOWN_ALIAS: bool = AIRFLOW_V_3_0_PLUS


#: Whether an XCom may hold ``None``. Airflow 3.0's execution API refuses one (422, "Field
#: required": the client posts no body); 2.11 writes it to the database, 3.1+ accepts it.
XCOM_HOLDS_NONE: bool = not AIRFLOW_V_3_0_PLUS or AIRFLOW_V_3_1_PLUS


#: ``next_kwargs["error"]`` when Airflow resumes a task whose trigger timed out: Airflow 3's
#: ``TriggerFailureReason.TRIGGER_TIMEOUT`` (a ``str`` enum, so ``==`` matches it), and the words of
#: Airflow 2.11's scheduler, which has no exception of its own for it (a ``TaskDeferralError``).
_DEFERRAL_TIMEOUTS = ("Trigger timeout", "Trigger/execution timeout")


def is_deferral_timeout(next_method: str, next_kwargs: Mapping[str, Any] | None) -> bool:
    """Whether a task is resumed because its trigger timed out, on every Airflow version."""
    return next_method == "__fail__" and (next_kwargs or {}).get("error") in _DEFERRAL_TIMEOUTS


class AirflowTooOldError(AirflowOptionalProviderFeatureException):
    """A DAG uses a feature the installed Airflow does not have; raised where the DAG is parsed."""

    def __init__(self, feature: str, needs: str, instead: str) -> None:
        from airflow import __version__

        super().__init__(
            f"{feature} needs Airflow {needs} or later; this is Airflow {__version__}. {instead}"
        )
        self.feature, self.needs = feature, needs


__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "ASSET_EVENT_EXTRA_NESTS",
    "ASSET_EVENT_RECORDS_UNKNOWN_ALIAS",
    "XCOM_HOLDS_NONE",
    "AirflowTooOldError",
    "is_deferral_timeout",
]
