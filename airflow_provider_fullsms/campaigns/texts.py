"""
Message texts: which text each recipient gets, and checking each distinct text once.

A campaign sends one fixed text, a FullSMS template, a personalised template filled from each row
(``"Hi {first_name}"``), or a ready text from a row column. :class:`MessageSource` is that choice,
made once from the operator's parameters; :class:`TextChecker` checks every distinct text against
FullSMS's limits before anything is sent.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.sms import InvalidMessageError, check_message

if TYPE_CHECKING:
    import types
    from collections.abc import Mapping

#: Characters a campaign text may not hold: every C0 and C1 control except line feed and carriage
#: return (in GSM-7's basic table) and form feed (in its extension table; see
#: :mod:`airflow_provider_fullsms.sms`). A NUL, tab or ESC from a database export is not something
#: anyone meant a phone to show. (Alerts are another matter: the notifier sends what it is given.)
CONTROL_CHARACTERS = re.compile("[\x00-\x09\x0b\x0e-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {"\x00": "NUL", "\t": "a tab", "\x0b": "a vertical tab", "\x1b": "ESC", "\x7f": "DEL"}


def template_fields_of(message: str) -> list[str]:
    """
    The ``{column}`` fields of a personalised message, in order; empty for a plain text.

    :raises CampaignInputError: a malformed template (e.g. an unmatched ``{``).
    """
    try:
        return [name for _, name, _, _ in string.Formatter().parse(message) if name is not None]
    except ValueError as err:
        raise CampaignInputError(
            f"message {message[:60]!r} is not a valid template ({err}): write columns as {{first_name}} "
            "and a literal brace as {{{{ or }}}}."
        ) from None


@dataclass(frozen=True)
class MessageSource:
    """
    How each recipient's text is found.

    :param message: the text, or a template such as ``"Hi {first_name}"`` filled from each row.
    :param template_id: a FullSMS template (the text lives on the server) instead of ``message``.
    :param message_column: a row column holding a ready text; it wins over ``message`` when set
        and non-empty in a row.
    :param personalise: fill ``message`` from each row's columns.
    """

    message: str | None = None
    template_id: str | None = None
    message_column: str | None = None
    personalise: bool = False

    @classmethod
    def from_params(
        cls,
        *,
        message: str | None,
        template_id: int | str | None,
        message_column: str | None = None,
        personalise: bool | None = None,
        has_rows: bool = False,
        rows_possible: bool = True,
    ) -> MessageSource:
        """
        The message source an operator was given, its combination checked once.

        :param personalise: fill ``message`` from rows; ``None``: when rows are given and
            ``message`` names a column.
        :param has_rows: whether the audience has rows (``recipients`` or a file).
        :param rows_possible: whether the operator takes rows at all (a send to lists does not).
        :raises CampaignInputError: both or neither of a text and a template, or an option that
            needs rows without them.
        """
        _check_type("message", message, str, "a text such as 'Hello {name}'")
        _check_type("template_id", template_id, int | str, "a FullSMS template's id such as 42")
        _check_type("message_column", message_column, str, "the name of a column of the rows")
        _check_type("personalise", personalise, bool, "True or False")
        message = message if message not in (None, "") else None
        if template_id not in (None, ""):
            if message is not None:
                raise CampaignInputError(
                    "Pass message= or template_id=, not both: a template is a message stored in FullSMS."
                )
            if message_column or personalise:
                raise CampaignInputError(
                    "template_id= sends the template's text to everyone: drop message_column=/personalise=, "
                    "or pass the personalised text as message=."
                )
            return cls(template_id=str(template_id).strip())
        if message is None and not (has_rows and message_column):
            with_rows = (
                " or, with recipients=/numbers_file=, message_column= (a column with each person's text)"
                if rows_possible
                else ""
            )
            raise CampaignInputError(
                f"Nothing to send: pass message= (the text), template_id= (a FullSMS template){with_rows}."
            )
        if message_column and not has_rows:
            raise CampaignInputError(
                "message_column= needs rows: pass recipients= or numbers_file= instead of numbers=."
            )
        fields: list[str] = []
        if message is not None and has_rows and personalise is not False:
            fields = template_fields_of(message)  # a malformed template fails unless personalise=False
        if personalise is None:
            personalise = bool(fields)
        if personalise and not has_rows:
            raise CampaignInputError(
                "personalise=True needs rows: pass recipients= or numbers_file= instead of numbers=."
            )
        return cls(message=message, message_column=message_column, personalise=bool(personalise))

    @property
    def per_row(self) -> bool:
        """Whether texts may differ between recipients."""
        return self.template_id is None and (self.personalise or self.message_column is not None)

    @cached_property
    def _columns(self) -> tuple[str, ...]:
        """The row keys the personalised message reads (``{a.b}`` and ``{a[0]}`` read ``a``)."""
        try:
            fields = template_fields_of(self.message or "")
        except CampaignInputError:
            return ()  # filling it in fails with its own message
        return tuple(dict.fromkeys(re.split(r"[.\[!:]", name, maxsplit=1)[0] for name in fields))

    def text_for(self, row: Mapping[str, Any] | None, row_number: int) -> str | None:
        """
        The text this row gets (``None`` when a FullSMS template is used).

        A ``message_column`` value that is missing (:func:`is_missing`) or empty falls back to
        ``message``; a column the template names must have a value: ``None``, JSON ``null`` or a
        NaN would be sent as the text ``"None"`` or ``"nan"``.

        :raises CampaignInputError: no text for the row, or a column the template names is missing
            or has no value.
        """
        if self.template_id is not None:
            return None
        if row is not None and self.message_column is not None:
            value = row.get(self.message_column)
            if not is_missing(value) and value != "":
                return str(value)
        if self.message is None:
            raise CampaignInputError(
                f"recipient {row_number} has no {self.message_column!r} value and no message= was "
                "given: add the column to every row or pass message= as the fallback."
            )
        if not self.personalise or row is None:
            return self.message
        for column in self._columns:
            value = row.get(column)
            if type(value) is not str and column in row and is_missing(value):
                raise CampaignInputError(
                    f"message {self.message[:60]!r} uses {{{column}}}, but recipient {row_number}'s "
                    f"{column!r} is {value!r} (no value): fill it in for every recipient (an empty "
                    "text if that is what you mean) or leave the recipient out."
                )
        try:
            return self.message.format_map(row)
        except KeyError as err:
            raise CampaignInputError(
                f"message {self.message[:60]!r} uses {{{err.args[0]}}}, but recipient {row_number} has no "
                f"such column (columns: {sorted(row)[:10]}): add it, or write a literal brace as {{{{."
            ) from None
        except (IndexError, ValueError, AttributeError, TypeError) as err:  # TypeError: a format spec
            raise CampaignInputError(
                f"message {self.message[:60]!r} cannot be filled from recipient {row_number}: {err}."
            ) from None


def is_missing(value: object) -> bool:
    """
    Whether a row's value stands for no value: ``None`` (JSON ``null``) or a NaN (a float, or
    pandas' ``NA`` and ``NaT``, which is how a DataFrame marks an empty cell). An empty text is a value.
    """
    if type(value) is str:  # the usual case, settled at once
        return False
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)  # only a NaN differs from itself
    except Exception:  # e.g. an array, whose comparison is not one bool
        return False


def checked_text(text: str, row_number: int = 0) -> str:
    """
    ``text``, once checked against FullSMS's limits.

    :param row_number: the recipient it is for (from 1), or 0 for the campaign's one text.
    :raises CampaignInputError: a text FullSMS would refuse, or one with a control character
        (:data:`CONTROL_CHARACTERS`), naming the recipient.
    """
    where = f"recipient {row_number}'s message" if row_number else "message"
    try:
        check_message(text)
    except InvalidMessageError as err:
        raise CampaignInputError(f"{where} cannot be sent: {err}") from None
    control = CONTROL_CHARACTERS.search(text)
    if control is not None:
        char = control.group()
        raise CampaignInputError(
            f"{where} cannot be sent: it contains U+{ord(char):04X} "
            f"({_CONTROL_NAMES.get(char, 'a control character')}) at character {control.start() + 1} "
            f"({text[max(0, control.start() - 20) : control.start() + 20]!r}). An SMS carries no control "
            "characters but line breaks: remove it from the text (or the column it came from), or "
            "write a space."
        )
    return text


class TextChecker:
    """Check each distinct text once; forget them all past a bound so memory stays flat."""

    def __init__(self, limit: int = 4096) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def check(self, text: str, row_number: int) -> None:
        """:raises CampaignInputError: see :func:`checked_text`."""
        if text in self._seen:
            return
        checked_text(text, row_number)
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(text)


def _check_type(name: str, value: object, expected: type | types.UnionType, example: str) -> None:
    """Refuse a parameter of the wrong type (``None`` is always allowed) with what to pass instead."""
    if value is None or (
        isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
    ):
        return
    raise CampaignInputError(
        f"{name}={value!r:.80} (a {type(value).__name__}): pass {example}, or leave it out."
    )
