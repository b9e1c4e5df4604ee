"""
The connection's numeric extras: a finite number in range, or an error naming the extra and its value.

Each example used to pass as ``nan``/``inf`` (which then reached the HTTP client), escape as a raw
``OverflowError``, or be silently replaced (``2.5`` became 2, ``0`` the default, ``True`` 1).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_provider_fullsms import exceptions as exc
from airflow_provider_fullsms.connection import MAX_CONCURRENCY, MAX_TIMEOUT, ConnectionConfig
from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
from tests.conftest import FAKE_URL, connection_json


class _Conn:
    """What ``from_connection`` reads of an Airflow connection."""

    conn_id = "fullsms_default"
    password = "tok"
    host = FAKE_URL
    port = None
    schema = None


def config_of(**extras: Any) -> ConnectionConfig:
    return ConnectionConfig.from_connection(_Conn(), extras)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"timeout": "nan"}, r"'timeout' must be a positive number of seconds, got 'nan': write e\.g\. 30"),
        ({"timeout": "inf"}, r"extra 'timeout' must be a positive number of seconds, got 'inf'"),
        ({"timeout": float("nan")}, r"extra 'timeout' must be a positive number of seconds, got nan"),
        ({"timeout": True}, r"extra 'timeout' must be a positive number of seconds, got True"),
        ({"timeout": 1e10}, r"extra 'timeout' .* got 10000000000\.0: write e\.g\. 30 \(at most 86,400\)"),
        ({"timeout": 10**400}, r"extra 'timeout' must be a positive number of seconds, got 1000"),
        ({"connect_timeout": "-inf"}, r"extra 'connect_timeout' .* got '-inf': write e\.g\. 10"),
        ({"max_concurrency": float("inf")}, r"extra max_concurrency=inf: use a whole number from 1 to 32"),
        ({"max_concurrency": 2.5}, r"extra max_concurrency=2\.5: use a whole number"),
        ({"max_concurrency": 0}, r"extra max_concurrency=0: use a whole number"),
        ({"max_concurrency": True}, r"extra max_concurrency=True: use a whole number"),
        ({"price_per_segment": 10**400}, r"extra 'price_per_segment' must be an amount of zero or more"),
        ({"minimum_balance": 10**400}, r"extra 'minimum_balance' must be an amount of zero or more"),
    ],
)
def test_a_numeric_extra_that_is_not_a_usable_number_is_refused_when_the_connection_is_read(
    monkeypatch: pytest.MonkeyPatch, requests_mock: Any, extra: dict[str, Any], named: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL, **extra))
    with pytest.raises(exc.FullSmsConfigurationError, match=named):
        FullSmsHook().config  # noqa: B018
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("extra", "attribute", "value"),
    [
        ({"timeout": "2.5"}, "timeout", 2.5),
        ({"timeout": ""}, "timeout", 30.0),
        ({"timeout": None}, "timeout", 30.0),
        ({"max_concurrency": "8"}, "max_concurrency", 8),
        ({"max_concurrency": 8.0}, "max_concurrency", 8),
        ({"max_concurrency": None}, "max_concurrency", 4),
        ({"price_per_segment": "0.05"}, "price_per_segment", 0.05),
        ({"minimum_balance": 0}, "minimum_balance", 0.0),
    ],
)
def test_a_number_written_as_text_or_left_empty_is_read_as_written_or_the_default(
    extra: dict[str, Any], attribute: str, value: float
) -> None:
    assert getattr(config_of(**extra), attribute) == value


NUMERIC_EXTRAS = ("timeout", "connect_timeout", "max_concurrency", "price_per_segment", "minimum_balance")

extra_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["nan", "NaN", "inf", "-Infinity", "1e400", " 4 ", "4.0", "1_0", "١٢", "30s", ""]),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
)


@pytest.mark.property
@given(key=st.sampled_from(NUMERIC_EXTRAS), value=extra_values)
@example(key="timeout", value="nan")
@example(key="max_concurrency", value=float("inf"))
@example(key="price_per_segment", value=10**400)
def test_a_numeric_extra_is_a_finite_number_in_range_or_an_error_naming_it(key: str, value: Any) -> None:
    try:
        config = config_of(**{key: value})
    except exc.FullSmsConfigurationError as error:
        message = str(error)
        assert key in message
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:59] + "…"
        assert shown in message, message
        return
    read = getattr(config, key)
    if value is None or value == "":
        assert read == ConnectionConfig.__dataclass_fields__[key].default
        return
    assert not isinstance(value, bool | list)
    if key == "max_concurrency":
        assert isinstance(read, int)
        assert 1 <= read <= MAX_CONCURRENCY
        assert read == float(value)  # never rounded
    else:
        assert isinstance(read, float)
        assert math.isfinite(read)
        assert read == float(value)  # the number written, not another one
        assert 0 < read <= MAX_TIMEOUT if key.endswith("timeout") else read >= 0
