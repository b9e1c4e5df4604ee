"""The balance gate: reading a ``min_balance`` parameter, shared by the balance operator and sensor."""

from __future__ import annotations

import contextlib
import math

from airflow_provider_fullsms.exceptions import FullSmsConfigurationError


def coerce_min_balance(value: object) -> float:
    """
    The rendered ``min_balance`` as a float, or an error naming the value.

    :param value: a number, or a numeric string (a template or an XCom renders to one).
    :raises FullSmsConfigurationError: a value that is not a finite number; for ``None`` (or a
        template that rendered it), one naming ``price_per_segment``: that is what a FullSMS plan's
        ``required_balance`` is without a price.
    """
    if value is None or (isinstance(value, str) and value.strip() in ("None", "")):
        raise FullSmsConfigurationError(
            f"min_balance={value!r}: there is no balance to wait for. If it comes from a FullSMS plan "
            "(dry_run=True), its required_balance and estimated_cost are None because the plan knows "
            "no price per segment: set the connection's price_per_segment extra (your FullSMS price "
            "of one SMS segment) or pass price_per_segment= to the plan task, then clear both tasks."
        )
    number = math.nan
    # bool is an int subclass, but min_balance=True is a mistake, never a threshold.
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            number = float(value)
    if not math.isfinite(number):
        raise FullSmsConfigurationError(
            f"min_balance={value!r} is not a number: pass a number such as 12.5, or a template "
            "that renders to one (e.g. \"{{ ti.xcom_pull(task_ids='cost') }}\")."
        )
    return number
