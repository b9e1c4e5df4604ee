"""
Only what was approved goes out: the fingerprint binds each recipient to their own text, a
template's content, the exclusions, the sender, the schedule and the window; a send that reads
its audience again sends only the batches that were checked.
"""

from __future__ import annotations

import csv
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
import requests_mock as requests_mock_module
from airflow.providers.common.compat.sdk import AirflowFailException
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from airflow_provider_fullsms import campaigns
from airflow_provider_fullsms.campaigns import (
    FINGERPRINT_PARTS,
    Batcher,
    CampaignInputError,
    CompactNumberSet,
    Ledger,
    MessageSource,
    PlanInspector,
    SendResult,
    as_planned,
    check_fingerprint,
    entries_from_rows,
    plan_campaign,
    run_batches,
)
from airflow_provider_fullsms.campaigns.window import SendWindow
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_fullsms.campaigns import Batch


SEND_PATH = f"{FAKE_URL}/messages/send/to_numbers"
DUE = "Your invoice of {amount} is due on Friday."


@contextmanager
def fullsms(template_content: str = "Hello World") -> Iterator[list[dict[str, Any]]]:
    """FullSMS's documented account bodies, the template with ``template_content``; yields the sends."""
    sent: list[dict[str, Any]] = []
    templates = {
        "total_templates": 1,
        "templates": [{**docs.TEMPLATES["templates"][0], "content": template_content}],
    }

    def answer(request: Any, context: Any) -> dict[str, Any]:
        sent.append(request.json())
        return {**docs.SEND_TO_NUMBERS, "total_sent": len(sent[-1]["to_numbers"])}

    with requests_mock_module.Mocker() as mock:
        mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
        mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
        mock.get(f"{FAKE_URL}/account/templates", json=templates)
        mock.post(SEND_PATH, json=answer)
        yield sent


def run(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("max_concurrency", 1)
    op = FullSmsSendToNumbersOperator(task_id="send", **kwargs)
    return cast("dict[str, Any]", op.execute(cast("Any", {"task_state_store": MemoryStateStore()})))


def write_csv(path: Path, rows: list[dict[str, str]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["number", "name", "amount"])
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def customers(count: int) -> list[dict[str, str]]:
    return [
        {"number": str(447700900000 + i), "name": f"Customer {i}", "amount": f"£{10 + i}.00"}
        for i in range(count)
    ]


# -- the examples the review found ------------------------------------------------------------


def test_two_customers_amounts_swapped_after_approval_are_refused(fullsms_conn: str, tmp_path: Path) -> None:
    rows = customers(4)
    audience = write_csv(tmp_path / "due.csv", rows)
    with fullsms():
        plan = run(numbers_file=audience, message=DUE, dry_run=True)
    rows[1]["amount"], rows[2]["amount"] = rows[2]["amount"], rows[1]["amount"]
    write_csv(tmp_path / "due.csv", rows)

    with fullsms() as sent, pytest.raises(AirflowFailException) as refused:
        run(numbers_file=audience, message=DUE, expected_fingerprint=plan["fingerprint"])

    assert "its pairing changed since the plan" in str(refused.value)
    assert "not each recipient their own text" in str(refused.value)
    assert sent == []


def test_a_template_whose_content_changed_after_approval_is_refused(fullsms_conn: str) -> None:
    audience = {"numbers": ["447700900001", "447700900002"], "message": None, "template_id": 7}
    with fullsms("Your appointment is tomorrow at 10:00."):
        plan = run(dry_run=True, **audience)

    with fullsms("Your appointment is cancelled.") as sent, pytest.raises(AirflowFailException) as refused:
        run(expected_fingerprint=plan["fingerprint"], **audience)

    assert "its texts changed since the plan" in str(refused.value)
    assert sent == []


@pytest.mark.parametrize(
    "exclude",
    [
        ["447700900002", "447700999998", "447700999999"],  # one more opt-out, not in the audience
        ["447700900002"],  # one opt-out lost, not in the audience
    ],
)
def test_an_exclude_list_that_changed_after_approval_is_refused(
    fullsms_conn: str, exclude: list[str]
) -> None:
    audience = {"numbers": ["447700900001", "447700900002"], "message": "Hello"}
    with fullsms():
        plan = run(dry_run=True, exclude=["447700900002", "447700999998"], **audience)

    with fullsms() as sent, pytest.raises(AirflowFailException) as refused:
        run(exclude=exclude, expected_fingerprint=plan["fingerprint"], **audience)

    assert "its exclusions changed since the plan (exclusions: the numbers of the exclude list" in str(
        refused.value
    )
    assert sent == []


def test_a_fingerprint_of_an_earlier_version_says_so() -> None:
    with pytest.raises(CampaignInputError, match="made by an earlier version of the provider"):
        check_fingerprint("3f2a9c1b-88a10c3d-0f2e91aa-7b1c0d22", "-".join(["0" * 8] * len(FINGERPRINT_PARTS)))


@pytest.fixture
def replaced_after_the_checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, list[dict[str, str]]]]:
    """Files to write once the send's plan has read its audience: ``(path, new rows)``."""
    replacements: list[tuple[Path, list[dict[str, str]]]] = []
    plan = campaigns.plan_campaign

    def plan_then_replace(*args: Any, **kwargs: Any) -> Any:
        planned = plan(*args, **kwargs)
        for path, rows in replacements:
            write_csv(path, rows)
        return planned

    monkeypatch.setattr(campaigns, "plan_campaign", plan_then_replace)
    return replacements


def test_a_file_replaced_between_the_checks_and_the_send_sends_only_what_was_checked(
    fullsms_conn: str, tmp_path: Path, replaced_after_the_checks: list[Any]
) -> None:
    rows = customers(1200)  # one text: batches of 500, 500 and 200
    audience = write_csv(tmp_path / "audience.csv", rows)
    changed = [dict(row) for row in rows]
    changed[700]["number"] = "447700999999"  # somebody nobody checked, in batch 1
    replaced_after_the_checks.append((tmp_path / "audience.csv", changed))

    with fullsms() as sent, pytest.raises(AirflowFailException) as refused:
        run(numbers_file=audience, message="Our shop opens at 9 on Saturday.")

    assert (
        f"The audience file {audience} changed after it was checked: batch 1 is not the one checked"
        in str(refused.value)
    )
    assert "Nothing from batch 1 on was sent; batches 0-0 were exactly the ones checked" in str(refused.value)
    assert [payload["to_numbers"] for payload in sent] == [[row["number"] for row in rows[:500]]]


def test_a_send_stopped_by_a_changed_file_pushes_how_far_it_got(
    fullsms_conn: str, tmp_path: Path, replaced_after_the_checks: list[Any]
) -> None:
    rows = customers(1200)
    audience = write_csv(tmp_path / "audience.csv", rows)
    changed = [dict(row) for row in rows]
    changed[1100]["number"] = "447700999999"  # in batch 2: batches 0 and 1 go out as checked
    replaced_after_the_checks.append((tmp_path / "audience.csv", changed))
    pushed: dict[str, Any] = {}

    class Ti:
        dag_id, run_id, task_id, map_index = "campaign", "manual__1", "send", -1

        def xcom_push(self, key: str, value: Any) -> None:
            pushed[key] = value

    op = FullSmsSendToNumbersOperator(
        task_id="send", numbers_file=audience, message="Our shop opens at 9 on Saturday.", max_concurrency=1
    )
    with fullsms() as sent, pytest.raises(AirflowFailException, match="batch 2 is not the one checked"):
        op.execute(cast("Any", {"task_state_store": MemoryStateStore(), "ti": Ti()}))
    assert [len(payload["to_numbers"]) for payload in sent] == [500, 500]
    summary = pushed["fullsms_summary"]
    assert (summary["sent"], summary["batches"]["accepted"]) == (1000, 2)
    assert summary["audience_changed"].startswith(f"The audience file {audience} changed after it was")


def test_personalised_amounts_swapped_between_the_checks_and_the_send_are_not_sent(
    fullsms_conn: str, tmp_path: Path, replaced_after_the_checks: list[Any]
) -> None:
    rows = customers(3)
    audience = write_csv(tmp_path / "due.csv", rows)
    swapped = [dict(row) for row in rows]
    swapped[0]["amount"], swapped[1]["amount"] = rows[1]["amount"], rows[0]["amount"]
    replaced_after_the_checks.append((tmp_path / "due.csv", swapped))

    with fullsms() as sent, pytest.raises(AirflowFailException, match="batch 0 is not the one checked"):
        run(numbers_file=audience, message=DUE)
    assert sent == []


def test_a_file_read_again_unchanged_is_sent_whole(fullsms_conn: str, tmp_path: Path) -> None:
    audience = write_csv(tmp_path / "audience.csv", customers(1200))
    message = "Our shop opens at 9 on Saturday."
    with fullsms() as sent:
        plan = run(numbers_file=audience, message=message, dry_run=True)
        summary = run(numbers_file=audience, message=message, expected_fingerprint=plan["fingerprint"])
    assert summary["fingerprint"] == plan["fingerprint"]
    assert [len(payload["to_numbers"]) for payload in sent] == [500, 500, 200]
    assert summary["sent"] == 1200


# -- the rule, over generated campaigns --------------------------------------------------------

#: London, New York and Los Angeles numbers: a send window puts them in batches of their own.
POOL = [f"4477009000{i:02d}" for i in range(6)] + [f"121255501{i:02d}" for i in range(5)]
POOL += [f"141555501{i:02d}" for i in range(5)]
OUTSIDE = ["447700999991", "447700999992"]  # only ever on exclude lists
NAMES = ["Ada", "Bob", "Łukasz"]
AMOUNTS = ["£5.00", "£10.00", "£12.50"]
#: None: FullSMS template 7 instead of a message.
MESSAGES = [DUE, "Hi {name}, {amount} is due on Friday.", "Our shop opens at 9 on Saturday.", None]
SENDERS = ["COPERATO", "441111111111"]
SEND_ATS = [None, "2035-01-01 09:00:00", "2035-06-01 12:00:00"]
WINDOWS = [None, "09:00-20:00", "08:00-21:00"]
CONTENTS = ["Your appointment is tomorrow.", "Your appointment is cancelled."]

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {"number": st.sampled_from(POOL), "name": st.sampled_from(NAMES), "amount": st.sampled_from(AMOUNTS)}
    ),
    min_size=1,
    max_size=10,
)
campaign_strategy = st.fixed_dictionaries(
    {
        "rows": rows_strategy,
        "message": st.none() | st.sampled_from(MESSAGES[:3]),  # a template half the time
        "content": st.sampled_from(CONTENTS),
        "sender": st.sampled_from(SENDERS),
        "send_at": st.sampled_from(SEND_ATS),
        "window": st.sampled_from(WINDOWS),
        "exclude": st.none() | st.lists(st.sampled_from(POOL + OUTSIDE), max_size=4),
    }
)
#: What may change in the audience, and in the exclude list: each picks its rows or values by
#: two ints.
ROW_CHANGES = ("same", "swap", "edit_value", "add_row", "remove_row", "reorder", "repeat_row")
EXCLUDE_CHANGES = ("same", "add", "remove", "reorder")
#: The campaign's other parameters and the values each may take.
PARAMETERS = {
    "message": MESSAGES,
    "content": CONTENTS,
    "sender": SENDERS,
    "send_at": SEND_ATS,
    "window": WINDOWS,
}


#: What a generated campaign's twin differs in: each case gets its own share of the examples.
DIFFERENCES = ("nothing", "rows", "exclude", *PARAMETERS, "several")


@st.composite
def campaign_and_another(draw: st.DrawFn, difference: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """
    A campaign, and another that differs from it in ``difference``: ``"nothing"`` is the same
    campaign told differently (a number repeated, the exclude list reordered); ``"several"``
    changes its rows, its exclude list and each parameter half the time.
    """
    before = draw(campaign_strategy)
    if difference == "content" and draw(st.integers(0, 3)):  # it matters where a template is sent
        before["message"] = None
    picks = st.tuples(st.integers(0, 20), st.integers(0, 20))
    rows = {"nothing": ["same", "repeat_row"], "rows": ROW_CHANGES[1:], "several": ROW_CHANGES}
    after = changed(before, (draw(st.sampled_from(rows.get(difference, ["same"]))), *draw(picks)))
    exclude = {"nothing": ["reorder"], "exclude": EXCLUDE_CHANGES[1:], "several": EXCLUDE_CHANGES}
    after = changed(
        after, (f"exclude_{draw(st.sampled_from(exclude.get(difference, ['same'])))}", *draw(picks))
    )
    for name, values in PARAMETERS.items():
        if name == difference:
            after[name] = draw(st.sampled_from([value for value in values if value != before[name]]))
        elif difference == "several" and draw(st.booleans()):
            after[name] = draw(st.sampled_from(values))
    return before, after


def changed(campaign: dict[str, Any], change: tuple[str, int, int]) -> dict[str, Any]:
    """``campaign`` with one ``change`` to its rows or exclude list (what, and which rows or values)."""
    kind, i, j = change
    new = {**campaign, "rows": [dict(row) for row in campaign["rows"]]}
    rows, exclude = new["rows"], list(campaign["exclude"] or [])
    if kind == "swap":
        a, b = rows[i % len(rows)], rows[j % len(rows)]
        a["amount"], b["amount"] = b["amount"], a["amount"]
    elif kind == "edit_value":
        rows[i % len(rows)]["amount"] = [*AMOUNTS, "£99.99"][j % 4]
    elif kind == "add_row":
        rows.insert(
            i % (len(rows) + 1), {"number": POOL[j % len(POOL)], "name": "Cy", "amount": AMOUNTS[i % 3]}
        )
    elif kind == "remove_row" and len(rows) > 1:
        del rows[i % len(rows)]
    elif kind == "reorder":
        new["rows"] = rows[i % len(rows) :] + rows[: i % len(rows)]
    elif kind == "repeat_row":  # somebody already in the audience, again: the first row wins
        rows.append({**rows[i % len(rows)], "amount": "£0.01"})
    elif kind == "exclude_add":
        new["exclude"] = [*exclude, (POOL + OUTSIDE)[j % (len(POOL) + len(OUTSIDE))]]
    elif kind == "exclude_remove" and exclude:
        del exclude[i % len(exclude)]
        new["exclude"] = exclude
    elif kind == "exclude_reorder":
        new["exclude"] = exclude[::-1] or campaign["exclude"]
    return new


def received(campaign: dict[str, Any]) -> list[tuple[str, str | None]]:
    """What each recipient receives, in the order of the rows: a model of the campaign."""
    excluded, seen, out = set(campaign["exclude"] or ()), set(), []
    for row in campaign["rows"]:
        if row["number"] in seen:
            continue
        seen.add(row["number"])
        if row["number"] not in excluded:
            message = campaign["message"]
            out.append((row["number"], None if message is None else message.format(**row)))
    return out


def expected_parts(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The parts a refusal must name, from the model: what a recipient would receive."""
    old, new = received(before), received(after)

    def template(campaign: dict[str, Any]) -> str | None:
        return campaign["content"] if campaign["message"] is None else None

    differ = {
        "recipients": [n for n, _ in old] != [n for n, _ in new],
        "texts": {t for _, t in old} != {t for _, t in new} or template(before) != template(after),
        "sender": before["sender"] != after["sender"],
        "schedule": before["send_at"] != after["send_at"],
        "window": before["window"] != after["window"],
        "exclusions": set(before["exclude"] or ()) != set(after["exclude"] or ()),
    }
    # Who gets which text is named when nothing that implies it is: the same people, the same
    # texts, the same window, but not each their own.
    differ["pairing"] = dict(old) != dict(new) and not (
        differ["recipients"] or differ["texts"] or differ["window"]
    )
    return [part for part in FINGERPRINT_PARTS if differ[part]]


def planned_fingerprint(campaign: dict[str, Any]) -> str:
    with fullsms(campaign["content"]):
        plan = run(
            recipients=campaign["rows"],
            message=campaign["message"],
            template_id=7 if campaign["message"] is None else None,
            sender=campaign["sender"],
            send_at=campaign["send_at"],
            send_window=campaign["window"],
            exclude=campaign["exclude"],
            dry_run=True,
        )
    return cast("str", plan["fingerprint"])


SWAPPED_AMOUNTS = {
    "rows": [
        {"number": POOL[0], "name": "Ada", "amount": "£5.00"},
        {"number": POOL[1], "name": "Bob", "amount": "£10.00"},
    ],
    "message": DUE,
    "content": CONTENTS[0],
    "sender": "COPERATO",
    "send_at": None,
    "window": None,
    "exclude": None,
}


THREE_ROWS = [
    {"number": POOL[0], "name": "Ada", "amount": "£5.00"},
    {"number": POOL[1], "name": "Bob", "amount": "£10.00"},
    {"number": POOL[2], "name": "Cy", "amount": "£5.00"},
]


@pytest.mark.property
@pytest.mark.parametrize("difference", DIFFERENCES)
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # Two dry runs an example, for each of the nine differences: a fifth of the profile's examples.
    max_examples=max(settings.default.max_examples // 5, 10),
)
@given(data=st.data())
def test_any_change_to_what_a_recipient_receives_changes_the_fingerprint_naming_it(
    fullsms_conn: str, difference: str, data: st.DataObject
) -> None:
    campaign, after = data.draw(campaign_and_another(difference))
    assume(received(campaign) and received(after))  # somebody to send to, before and after
    approved, now = planned_fingerprint(campaign), planned_fingerprint(after)
    parts = expected_parts(campaign, after)

    if not parts:
        assert now == approved  # the same campaign: what was approved goes out
        check_fingerprint(approved, now)
        return
    with pytest.raises(CampaignInputError) as refused:
        check_fingerprint(approved, now)
    assert f"its {', '.join(parts)} changed since the plan (" in str(refused.value)


def fingerprint_of(campaign: dict[str, Any]) -> str:
    """The fingerprint of a campaign of personalised texts, from the engine (no operator)."""
    inspector = PlanInspector(analyse=False)
    window = SendWindow.parse(campaign["window"])
    plan = plan_campaign(
        entries_from_rows(campaign["rows"]),
        MessageSource(message=campaign["message"], personalise=True),
        campaign_key="k",
        on_batch=inspector,
        exclude={int(number) for number in campaign["exclude"] or ()},
        group_of=window.group_of if window is not None else None,
    )
    return inspector.fingerprint(
        recipients=plan.recipients_fingerprint,
        sender=campaign["sender"],
        schedule=campaign["send_at"],
        window=campaign["window"],
    )


@st.composite
def values_given_to_others(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A personalised campaign, and the same one with its rows' values handed round among them."""
    campaign = {**draw(campaign_strategy), "message": draw(st.sampled_from(MESSAGES[:2]))}
    rows = campaign["rows"]
    column = draw(st.sampled_from(["amount", "name"] if "{name}" in campaign["message"] else ["amount"]))
    order = list(range(len(rows)))
    differing = [(i, j) for i in order for j in order if rows[i][column] != rows[j][column]]
    if differing and draw(st.booleans()):  # two people's values swapped: the review's example
        i, j = draw(st.sampled_from(differing))
        order[i], order[j] = j, i
    else:  # or handed round any way, most often to nobody else's effect
        order = draw(st.permutations(order))
    handed = [{**row, column: rows[other][column]} for row, other in zip(rows, order, strict=True)]
    return campaign, {**campaign, "rows": handed}


@pytest.mark.property
@given(campaigns=values_given_to_others())
@example(
    campaigns=(SWAPPED_AMOUNTS, {**SWAPPED_AMOUNTS, "rows": changed(SWAPPED_AMOUNTS, ("swap", 0, 1))["rows"]})
)
# Bob and Cy swap: the texts still first appear in the same order (£5.00, then £10.00).
@example(
    campaigns=(
        {**SWAPPED_AMOUNTS, "rows": THREE_ROWS},
        {**SWAPPED_AMOUNTS, "rows": changed({**SWAPPED_AMOUNTS, "rows": THREE_ROWS}, ("swap", 1, 2))["rows"]},
    )
)
def test_each_recipient_is_bound_to_their_own_text(campaigns: tuple[dict[str, Any], dict[str, Any]]) -> None:
    before, after = campaigns
    assume(received(before))
    approved, now = fingerprint_of(before), fingerprint_of(after)
    parts = expected_parts(before, after)

    if not parts:
        assert now == approved  # everybody gets the same text as approved
        return
    with pytest.raises(CampaignInputError) as refused:
        check_fingerprint(approved, now)
    assert f"its {', '.join(parts)} changed since the plan (" in str(refused.value)


#: Each row's own text, as the file's batches are made both times.
ROW_TEXTS = MessageSource(message=DUE, personalise=True)


FILE_CHANGES = ("same", "number", "amount", "insert", "delete", "truncate", "append", "invalid")


@pytest.mark.property
@given(
    rows=rows_strategy.map(lambda rows: rows * 2),
    change=st.tuples(st.sampled_from(FILE_CHANGES), st.integers(0, 40)),
    concurrency=st.integers(1, 3),
)
@example(rows=customers(6), change=("number", 3), concurrency=1)  # the review's: batch 1 changed
def test_a_file_changed_between_the_checks_and_the_send_sends_only_batches_as_checked(
    rows: list[dict[str, str]], change: tuple[str, int], concurrency: int
) -> None:
    kind, at = change
    at %= len(rows)
    new = [dict(row) for row in rows]
    if kind == "number":
        new[at]["number"] = OUTSIDE[0]
    elif kind == "amount":
        new[at]["amount"] = "£99.99"
    elif kind == "insert":
        new.insert(at, {"number": OUTSIDE[1], "name": "Cy", "amount": "£1.00"})
    elif kind == "delete":
        del new[at]
    elif kind == "truncate":
        new = new[:at]
    elif kind == "append":
        new.append({"number": OUTSIDE[1], "name": "Cy", "amount": "£1.00"})
    elif kind == "invalid":
        new[at]["number"] = "not a number"
    # The checks read the file, then the send reads it again.
    planned = plan_campaign(entries_from_rows(rows), ROW_TEXTS, campaign_key="k", batch_size=2)
    checked = list(planned.kept or ())
    reread = Batcher(ROW_TEXTS, campaign_key="k", batch_size=2).batches(entries_from_rows(new))
    sent: list[Batch] = []

    def send(batch: Batch) -> SendResult:
        sent.append(batch)
        return SendResult(campaign_id=f"c-{batch.index}", total_sent=batch.recipients)

    def run_it() -> None:
        run_batches(
            as_planned(reread, planned, "The audience"), send, Ledger(None), max_concurrency=concurrency
        )

    now = list(Batcher(ROW_TEXTS, campaign_key="k", batch_size=2).batches(entries_from_rows(new)))
    first_change = next(
        (i for i, (a, b) in enumerate(zip(checked, now, strict=False)) if a != b), min(len(checked), len(now))
    )
    if now == checked:
        run_it()  # the same batches: everything goes out
        assert sorted(batch.index for batch in sent) == list(range(len(checked)))
    else:
        with pytest.raises(CampaignInputError, match="The audience changed after it was checked"):
            run_it()
    assert all(batch == checked[batch.index] for batch in sent)  # only batches exactly as checked
    assert all(batch.index < first_change for batch in sent)  # none from the first changed one on


@pytest.mark.property
@given(
    numbers=st.lists(st.integers(1, 10**15), min_size=1, max_size=300, unique=True),
    order=st.randoms(use_true_random=False),
    small_limit=st.sampled_from([0, 50, 250_000]),  # 0 and 50: the compact tables
    other=st.integers(1, 10**15),
)
def test_an_exclude_lists_hash_is_its_numbers_whatever_their_order(
    numbers: list[int], order: Any, small_limit: int, other: int
) -> None:
    def digest(keys: list[int]) -> str:
        held = CompactNumberSet(small_limit=small_limit)
        for key in keys:
            held.add(key)
        return held.digest()

    shuffled = list(numbers)
    order.shuffle(shuffled)
    assert digest(shuffled) == digest(numbers)
    assert digest(numbers[1:]) != digest(numbers)  # one opt-out lost
    if other not in numbers:
        assert digest([*numbers, other]) != digest(numbers)  # one opt-out more
