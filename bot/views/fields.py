"""The modals' input blocks, one builder per kind of field: a modal then reads as its fields.

`optional` and `hint` default to None, not False: Slack's own default, left out of the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ButtonElement,
    CheckboxesElement,
    InputBlock,
    InputInteractiveElement,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
)

# The action id of an input whose block id alone names the field (the admin modals' way: the
# domain's field name, where a problem is then shown).
VALUE = "value"


def text_field(
    block_id: str,
    label: str,
    *,
    action_id: str = VALUE,
    max_length: int,
    initial: str | None = None,
    multiline: bool | None = None,
    optional: bool | None = None,
    hint: str | None = None,
) -> InputBlock:
    element = PlainTextInputElement(
        action_id=action_id, multiline=multiline, max_length=max_length, initial_value=initial
    )
    return _input(block_id, label, element, optional, hint)


def number_field(
    block_id: str,
    label: str,
    *,
    action_id: str = VALUE,
    min_value: float,
    max_value: float,
    initial: str | None = None,
    decimal: bool = False,
    optional: bool | None = None,
    hint: str | None = None,
) -> InputBlock:
    element = NumberInputElement(
        action_id=action_id,
        is_decimal_allowed=decimal,
        min_value=min_value,
        max_value=max_value,
        initial_value=initial,
    )
    return _input(block_id, label, element, optional, hint)


def select_field(
    block_id: str,
    label: str,
    options: Sequence[Option],
    *,
    action_id: str = VALUE,
    initial: Option | None,
    placeholder: str | None = None,
) -> InputBlock:
    element = StaticSelectElement(
        action_id=action_id, placeholder=placeholder, options=options, initial_option=initial
    )
    return _input(block_id, label, element)


def radio_field(
    block_id: str,
    label: str,
    options: Sequence[Option],
    *,
    action_id: str = VALUE,
    initial: Option | None,
) -> InputBlock:
    element = RadioButtonsElement(action_id=action_id, options=options, initial_option=initial)
    return _input(block_id, label, element)


def checkbox_field(
    block_id: str,
    label: str,
    options: Sequence[Option],
    *,
    action_id: str = VALUE,
    initial: Sequence[Option] | None,
    optional: bool | None = None,
    hint: str | None = None,
) -> InputBlock:
    element = CheckboxesElement(action_id=action_id, options=options, initial_options=initial)
    return _input(block_id, label, element, optional, hint)


def _input(
    block_id: str,
    label: str,
    element: InputInteractiveElement,
    optional: bool | None = None,
    hint: str | None = None,
) -> InputBlock:
    return InputBlock(block_id=block_id, label=label, optional=optional, hint=hint, element=element)


def button(
    label: str, action_id: str, value: int | str, *, style: str | None = None
) -> ButtonElement:
    """A button whose value (a run or commitment id) comes back with the click."""
    return ButtonElement(text=label, action_id=action_id, value=str(value), style=style)
