"""
A campaign's approval step: Airflow's Human-in-the-loop ``ApprovalOperator`` (Airflow 3.1 and later).

Import it from here rather than from ``airflow.providers.standard.operators.hitl``: on Airflow 3.1
and later it *is* Airflow's operator. Older Airflow has no Human-in-the-loop, and a DAG that uses
the approval step there fails where it is parsed, with a message naming the version it needs,
instead of a bare ``ImportError`` or, worse, a campaign that goes out unapproved.

Without it, what a person approves still binds the send: a dry run (``dry_run=True``) plans and
prices the campaign and returns its ``fingerprint``; pass that fingerprint, once someone has read the
plan, as the send's ``expected_fingerprint`` (e.g. through a ``Param`` of a manually triggered run),
and a campaign that changed since fails before its first request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_1_PLUS, AirflowTooOldError

#: What the approval step needs, and what to use without it.
NEEDS = "3.1"
INSTEAD = (
    "Without Human-in-the-loop, plan the campaign with dry_run=True and pass the fingerprint a person "
    "approved as the send's expected_fingerprint (e.g. a Param of a manually triggered run)."
)

if TYPE_CHECKING or AIRFLOW_V_3_1_PLUS:
    from airflow.providers.standard.operators.hitl import ApprovalOperator
else:

    class ApprovalOperator:
        """Stands in for Airflow's ``ApprovalOperator`` before 3.1: refuses to be built, saying why."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AirflowTooOldError("Human-in-the-loop approval (ApprovalOperator)", NEEDS, INSTEAD)


__all__ = ["ApprovalOperator"]
