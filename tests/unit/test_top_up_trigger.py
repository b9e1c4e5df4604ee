"""
FullSmsBalanceTopUpTrigger: it fires on a top-up (not on every check of a high balance), never on
an error, remembers the balance's side across a triggerer restart, and is usable by an AssetWatcher.

The balance readings come from a scripted hook (no network); the poll ends when the script's
answers run out, and the events fired until then are what a watcher would have made asset events.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airflow_provider_fullsms import exceptions as exc
from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from airflow_provider_fullsms.triggers.top_up import FullSmsBalanceTopUpTrigger
from tests.conftest import SECRET_TOKEN
from tests.versions import import_string, printed_log, serde

CLASSPATH = "airflow_provider_fullsms.triggers.top_up.FullSmsBalanceTopUpTrigger"


class AnswersRanOut(Exception):
    """The script has no more balances: the poll stops here (a watcher's would go on for ever)."""


class Script:
    """Balances (or errors) for successive checks; the poll stops after the last one."""

    def __init__(self) -> None:
        self.answers: list[float | BaseException] = []
        self.calls = 0
        self.closed = 0


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch, fullsms_conn: str) -> Script:
    state = Script()

    async def get_balance(self: FullSmsAsyncHook) -> float:
        answer = state.answers[state.calls]
        state.calls += 1
        if isinstance(answer, BaseException):
            raise answer
        return answer

    original_aclose = FullSmsAsyncHook.aclose

    async def aclose(self: FullSmsAsyncHook) -> None:
        state.closed += 1
        await original_aclose(self)

    async def sleep(seconds: float) -> None:
        if state.calls == len(state.answers):
            raise AnswersRanOut

    monkeypatch.setattr(FullSmsAsyncHook, "get_balance", get_balance)
    monkeypatch.setattr(FullSmsAsyncHook, "aclose", aclose)
    monkeypatch.setattr("airflow_provider_fullsms.triggers.fullsms.asyncio.sleep", sleep)
    return state


class AssetStore:
    """The part of Airflow's ``AssetStateStoreAccessors`` a trigger watching one asset uses."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes = 0
        self.failing = False

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        if self.failing:
            raise ConnectionError("the api-server is restarting")
        self.writes += 1
        self.values[key] = value


class SeveralAssets(AssetStore):
    """``AssetStateStoreAccessors`` for a trigger that watches two assets: it must be subscripted."""

    async def aget(self, key: str, default: Any = None) -> Any:
        raise ValueError("Task has 2 concrete inlets and outlets — use context['asset_state_store'][…]")


def fired(
    script: Script, answers: list[float | BaseException], store: AssetStore | None = None, **kwargs: Any
) -> list[dict[str, Any]]:
    """The events one trigger (``min_balance=100`` unless told) fires while the answers last."""
    script.answers, script.calls = answers, 0
    trigger = FullSmsBalanceTopUpTrigger(**{"min_balance": 100, "poke_interval": 60, **kwargs})
    trigger.asset_state_store = store  # as the triggerer injects it for a watcher

    async def collect() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        try:
            async for event in trigger.run():
                events.append(event.payload)
        except AnswersRanOut:
            return events
        raise AssertionError("a watcher's trigger stopped on its own: the triggerer would start it again")

    return asyncio.run(collect())


def logged_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The trigger's log lines as ``level message`` (without the "checking every" tail)."""
    return [
        f"{line.level} {line.message.split('; checking every', 1)[0]}"
        for line in printed_log(capsys.readouterr().out)
        # the logger's name from Airflow 3.1, the module's file on 3.0
        if "FullSmsBalanceTopUpTrigger" in line.origin or "{top_up.py:" in line.origin
    ]


def event(balance: float, min_balance: float = 100.0) -> dict[str, Any]:
    return {"balance": balance, "min_balance": min_balance, "fullsms_conn_id": "fullsms_default"}


# -- when it fires ----------------------------------------------------------------------------


def test_fires_once_per_top_up_not_at_every_check_of_a_high_balance(script: Script) -> None:
    # Low, topped up, spent a little (still above), spent below, topped up again.
    answers: list[float | BaseException] = [5, 5, 150, 150, 120, 100, 40, 99.99, 100, 300]

    assert fired(script, answers) == [event(150), event(100)]
    assert script.calls == len(answers)


def test_a_watcher_started_on_a_funded_account_fires_once_at_its_first_check(script: Script) -> None:
    assert fired(script, [500, 500, 480]) == [event(500)]


def test_the_threshold_is_the_triggers_own(script: Script) -> None:
    assert fired(script, [5, 50, 60], min_balance=50) == [event(50, 50.0)]


def test_a_failed_check_never_fires_and_polling_goes_on(
    script: Script, capsys: pytest.CaptureFixture[str]
) -> None:
    down = exc.FullSmsServerError(503, "Service Unavailable")
    down.retryable = True
    revoked = exc.FullSmsAuthenticationError(403, "Unauthenticated - Missing/Invalid API key")
    answers: list[float | BaseException] = [5, down, revoked, revoked, LookupError("no fullsms_default"), 150]

    assert fired(script, answers) == [event(150)]

    logged = logged_lines(capsys)
    assert logged == [
        "info FullSMS balance is 5, below the 100 of a top-up",
        "warning Could not read the FullSMS balance (FullSMS answered 503: Service Unavailable)",
        "error Could not read the FullSMS balance, fix connection 'fullsms_default': "
        "FullSmsAuthenticationError: FullSMS answered 403: Unauthenticated - Missing/Invalid API key "
        "-- check the API token in the connection's password field",
        "error Could not read the FullSMS balance, fix connection 'fullsms_default': "
        "LookupError: no fullsms_default",
        "info FullSMS balance is 150, at or above 100: firing the top-up event.",
    ]


def test_the_http_client_is_closed_when_the_watcher_is_cancelled(
    script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    script.answers = [5.0]

    async def scenario() -> None:
        checked = asyncio.Event()

        async def sleep(seconds: float) -> None:
            checked.set()
            await asyncio.Event().wait()  # a long poke_interval

        monkeypatch.setattr("airflow_provider_fullsms.triggers.fullsms.asyncio.sleep", sleep)
        task = asyncio.ensure_future(anext(FullSmsBalanceTopUpTrigger(min_balance=100).run()))
        await checked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert script.calls == 1
    assert script.closed == 1


# -- what it remembers across a triggerer restart --------------------------------------------


def test_a_restarted_triggerer_does_not_fire_again_for_a_top_up_it_announced(script: Script) -> None:
    store = AssetStore()
    assert fired(script, [5, 150, 150], store) == [event(150)]
    # The triggerer restarts: a new trigger object, the asset's store as it was.
    assert fired(script, [150, 150], store) == []
    assert fired(script, [20, 150], store) == [event(150)]
    # Written when the side changed (below, above, below, above), not at every check.
    assert store.writes == 4
    assert store.values == {"fullsms.top_up.fullsms_default.100": True}


def test_a_top_up_made_while_the_triggerer_was_down_fires_when_it_is_back(script: Script) -> None:
    store = AssetStore()
    assert fired(script, [5, 5], store) == []
    assert fired(script, [150], store) == [event(150)]


def test_a_top_up_that_cannot_be_recorded_fires_at_the_first_check_that_can(script: Script) -> None:
    store = AssetStore()
    fired(script, [5], store)
    store.failing = True
    assert fired(script, [150, 150], store) == []
    store.failing = False
    assert fired(script, [150, 160], store) == [event(150)]


def test_each_threshold_has_its_own_memory_in_the_asset_store(script: Script) -> None:
    store = AssetStore()
    fired(script, [5, 150], store, min_balance=100)
    assert fired(script, [5, 150], store, min_balance=120) == [event(150, 120.0)]
    assert store.values == {
        "fullsms.top_up.fullsms_default.100": True,
        "fullsms.top_up.fullsms_default.120": True,
    }


def test_watching_several_assets_it_remembers_in_memory_and_says_so(
    script: Script, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SeveralAssets()
    assert fired(script, [5, 150, 150, 20, 150], store) == [event(150), event(150)]
    assert store.writes == 0
    assert logged_lines(capsys)[0] == (
        "warning This top-up trigger watches several assets: it remembers the balance's side in memory "
        "only, so a restarted triggerer fires once more if it is high."
    )


# -- what Airflow does with it ----------------------------------------------------------------


def test_serialize_round_trips_through_airflow_serde_without_the_token(fullsms_conn: str) -> None:
    serialize, deserialize = serde()

    trigger = FullSmsBalanceTopUpTrigger(
        min_balance="150", fullsms_conn_id="fullsms_default", poke_interval=30
    )
    classpath, kwargs = trigger.serialize()

    assert classpath == CLASSPATH
    assert kwargs == {"min_balance": 150.0, "fullsms_conn_id": "fullsms_default", "poke_interval": 30.0}
    json.dumps(kwargs)
    assert import_string(classpath)(**deserialize(serialize(kwargs))).serialize() == (classpath, kwargs)
    assert SECRET_TOKEN not in repr(trigger.serialize())


def test_constructor_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        FullSmsBalanceTopUpTrigger(150)  # type: ignore[misc]


def test_shares_the_balance_sensors_poll_on_the_same_connection_and_interval(fullsms_conn: str) -> None:
    watcher = FullSmsBalanceTopUpTrigger(min_balance=150, poke_interval=30)
    assert (
        watcher.shared_stream_key()
        == FullSmsBalanceTrigger(min_balance=1, poke_interval=30).shared_stream_key()
    )
    assert (
        watcher.shared_stream_key()
        != FullSmsBalanceTrigger(min_balance=1, poke_interval=60).shared_stream_key()
    )


def test_an_asset_watcher_takes_it_and_the_dag_serialises_it() -> None:
    encoders = pytest.importorskip(
        "airflow.serialization.encoders",
        reason="Airflow before 3.1 has no airflow.serialization.encoders (which encode an asset's watchers)",
    )
    from airflow.sdk import Asset, AssetWatcher

    encode_asset_like = encoders.encode_asset_like

    watcher = AssetWatcher(name="balance_150", trigger=FullSmsBalanceTopUpTrigger(min_balance=150))
    encoded = encode_asset_like(Asset("fullsms_topped_up", watchers=[watcher]))

    assert encoded["watchers"] == [
        {
            "name": "balance_150",
            "trigger": {
                "classpath": CLASSPATH,
                "kwargs": {"min_balance": 150.0, "fullsms_conn_id": "fullsms_default", "poke_interval": 60.0},
            },
        }
    ]
