"""
The campaign engine behind the send operators: pure Python, one job per module.

The flow of a send (``docs/architecture.md`` draws it):

1. :mod:`.audience` reads the recipients (a list, rows, or a CSV / JSON-lines file streamed row by
   row); :mod:`.numbers` de-duplicates them in bounded memory.
2. :mod:`.texts` says which text each recipient gets and checks each distinct text once.
3. :mod:`.batching` groups recipients by text into batches of 500 and plans the campaign
   (every row checked, the campaign fingerprinted) before anything is sent; :mod:`.plan` prices
   it for a dry run; :mod:`.approval` tells an approved campaign apart and checks each batch
   read again against the plan; :mod:`.schedule` resolves ``send_at``.
4. :mod:`.ledger` records each batch in the task's state store, so a retry resumes;
   :mod:`.ledger_writes` retries its writes while Airflow's api-server is unreachable.
5. :mod:`.runner` sends the batches with bounded concurrency; :mod:`.progress` logs how far it
   is; :mod:`.refusals` drops the numbers FullSMS refuses from a batch and sends the rest.
6. :mod:`.report` counts what each batch came to and builds the summary; when ``balance_low``
   stopped the campaign, :mod:`.credit` says which balance lets the rest go out.
"""

from __future__ import annotations

from airflow_provider_fullsms.campaigns.approval import as_planned
from airflow_provider_fullsms.campaigns.audience import (
    MAX_LISTED_INVALID,
    Audience,
    AudienceStats,
    Entry,
    as_list,
    detect_file_format,
    entries_from_numbers,
    entries_from_rows,
    read_audience_file,
)
from airflow_provider_fullsms.campaigns.batching import (
    BATCH_SIZE,
    Batch,
    Batcher,
    CampaignPlan,
    SendResult,
    fingerprint,
    plan_campaign,
    plan_list_campaign,
)
from airflow_provider_fullsms.campaigns.credit import CreditWait, SegmentTally, credit_to_resume
from airflow_provider_fullsms.campaigns.ledger import (
    LEDGER_PREFIX,
    ON_UNKNOWN_CHOICES,
    BatchState,
    Decision,
    Ledger,
    OnUnknownOutcome,
    Settlement,
    StateStore,
    decide,
)
from airflow_provider_fullsms.campaigns.numbers import CompactNumberSet
from airflow_provider_fullsms.campaigns.plan import (
    FINGERPRINT_PARTS,
    PlanInspector,
    Pricing,
    check_fingerprint,
    combine_plans,
    describe_plan,
    describe_plan_briefly,
    mask_number,
    plan_summary,
)
from airflow_provider_fullsms.campaigns.progress import Progress
from airflow_provider_fullsms.campaigns.refusals import refused_numbers, send_batch
from airflow_provider_fullsms.campaigns.report import CampaignReport
from airflow_provider_fullsms.campaigns.runner import run_batches
from airflow_provider_fullsms.campaigns.schedule import resolve_send_at
from airflow_provider_fullsms.campaigns.texts import (
    MessageSource,
    TextChecker,
    checked_text,
    template_fields_of,
)
from airflow_provider_fullsms.exceptions import CampaignInputError, LedgerMismatchError
from airflow_provider_fullsms.outcomes import Failure

__all__ = [
    "BATCH_SIZE",
    "FINGERPRINT_PARTS",
    "LEDGER_PREFIX",
    "MAX_LISTED_INVALID",
    "ON_UNKNOWN_CHOICES",
    "Audience",
    "AudienceStats",
    "Batch",
    "BatchState",
    "Batcher",
    "CampaignInputError",
    "CampaignPlan",
    "CampaignReport",
    "CompactNumberSet",
    "CreditWait",
    "Decision",
    "Entry",
    "Failure",
    "Ledger",
    "LedgerMismatchError",
    "MessageSource",
    "OnUnknownOutcome",
    "PlanInspector",
    "Pricing",
    "Progress",
    "SegmentTally",
    "SendResult",
    "Settlement",
    "StateStore",
    "TextChecker",
    "as_list",
    "as_planned",
    "check_fingerprint",
    "checked_text",
    "combine_plans",
    "credit_to_resume",
    "decide",
    "describe_plan",
    "describe_plan_briefly",
    "detect_file_format",
    "entries_from_numbers",
    "entries_from_rows",
    "fingerprint",
    "mask_number",
    "plan_campaign",
    "plan_list_campaign",
    "plan_summary",
    "read_audience_file",
    "refused_numbers",
    "resolve_send_at",
    "run_batches",
    "send_batch",
    "template_fields_of",
]
