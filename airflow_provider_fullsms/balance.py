"""The balance gate: reading a ``min_balance`` parameter, shared by the balance operator and sensor."""

from __future__ import annotations

import contextlib
import math

from airflow_provider_fullsms.exceptions import FullSmsConfigurationError


def coerce_min_balance(value: object) -> float:
    """
    The rendered ``min_balance`` as a float, or an error naming the value.

    :param value: a number, or a numeric string (a template or an XCom renders to one).
    :raises FullSmsConfigurationError: a value that is not a finite number.
    """
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
