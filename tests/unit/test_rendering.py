"""
Rendering the send operator's templated fields: the audience is data, the message a template.

A list of numbers or rows is used as given (Jinja would compile each of a million numbers, and a
CRM value must never run as a template); a templated string, or a template inside a number list,
still renders.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator

CONTEXT: Any = {
    "params": {"greeting": "Hello", "phones": "447700900001,447700900002", "phone": "447700900003"}
}


def render(**kwargs: Any) -> FullSmsSendToNumbersOperator:
    op = FullSmsSendToNumbersOperator(task_id="send", **kwargs)
    op.render_template_fields(CONTEXT)
    return op


def test_rows_are_data_even_when_a_value_looks_like_a_template() -> None:
    rows = [{"number": "447700900001", "name": "{{ 7 * 7 }}"}]
    op = render(recipients=rows, message="{{ params.greeting }} {name}")
    assert op.recipients is rows
    assert op.recipients[0]["name"] == "{{ 7 * 7 }}"
    assert op.message == "Hello {name}"


def test_a_plain_number_list_is_used_as_given() -> None:
    numbers = [str(447700000000 + i) for i in range(1000)]
    op = render(numbers=numbers, message="Hi")
    assert op.numbers is numbers


def test_a_templated_string_and_a_template_inside_a_list_still_render() -> None:
    assert render(numbers="{{ params.phones }}", message="Hi").numbers == "447700900001,447700900002"
    op = render(numbers=["{{ params.phone }}", "447700900004"], message="Hi")
    assert op.numbers == ["447700900003", "447700900004"]
