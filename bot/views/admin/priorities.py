"""The priorities modal: rename, weight, order and retire the declared priorities, add one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.i18n import _, speaking
from bot.views.admin.inputs import (
    State,
    checked,
    metadata,
    number_value,
    option,
    selected,
    text_value,
)
from bot.views.fields import VALUE, number_field, radio_field, text_field
from pulses.audit import InvalidChange
from pulses.intent import MAX_REASON
from pulses.priorities import (
    MAX_PRIORITY_NAME,
    MAX_PRIORITY_WEIGHT,
    PRIORITY_NEW_NAME,
    PRIORITY_NEW_SCOPE,
    PRIORITY_NEW_WEIGHT,
    PRIORITY_REASON,
    PRIORITY_RETIRE,
    NewPriority,
    PriorityEdits,
    PriorityRow,
    priority_name_field,
    priority_order_field,
    priority_weight_field,
)
from storage.models import LeadershipGroup, Priority

PRIORITIES_CALLBACK = "admin.priorities"
_GROUP_ONLY: Final = "group"
_ALL_GROUPS: Final = "all"


def priorities_modal(
    priorities: Sequence[Priority], *, group: LeadershipGroup | None, channel_id: str
) -> View:
    """Rename, weight, order and retire the declared priorities, and add one; in the group's
    language (English for the workspace's)."""
    with speaking(group.language if group else None):
        return _priorities_modal(priorities, group, channel_id)


def _priorities_modal(
    priorities: Sequence[Priority], group: LeadershipGroup | None, channel_id: str
) -> View:
    group_name = f"#{group.channel_name or group.channel_id}" if group else None
    intro = _(
        "The declared strategic priorities leaders choose from in the focus question. "
        "Retiring one removes it from new pulses; past digests keep it."
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=intro))]
    if not priorities:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=_("No priorities declared yet."))])
        )
    for index, priority in enumerate(priorities, start=1):
        assert priority.id is not None
        scope = (
            _(" (only {group})").format(group=group_name)
            if priority.group_id is not None and group_name
            else ""
        )
        blocks += [
            text_field(
                priority_name_field(priority.id),
                _("Priority {index}{scope}").format(index=index, scope=scope)[:2000],
                max_length=MAX_PRIORITY_NAME,
                initial=priority.name,
            ),
            number_field(
                priority_weight_field(priority.id),
                _("Weight"),
                min_value=0,
                max_value=MAX_PRIORITY_WEIGHT,
                initial=f"{priority.weight:g}" if priority.weight is not None else None,
                decimal=True,
                optional=True,
                hint=_("Its intended share of attention; empty for equal weights."),
            ),
            number_field(
                priority_order_field(priority.id),
                _("Order"),
                min_value=1,
                max_value=100,
                initial=str(index),
            ),
        ]
    if priorities:
        retire_options = [option(str(p.id), p.name) for p in priorities if p.id is not None]
        blocks.append(
            InputBlock(
                block_id=PRIORITY_RETIRE,
                label=_("Retire"),
                optional=True,
                hint=_("Retired priorities leave new pulses; past runs and digests keep them."),
                element=_multi_select(retire_options),
            )
        )
    blocks += [
        DividerBlock(),
        text_field(
            PRIORITY_NEW_NAME,
            _("Add a priority"),
            max_length=MAX_PRIORITY_NAME,
            optional=True,
        ),
        number_field(
            PRIORITY_NEW_WEIGHT,
            _("Its weight"),
            min_value=0,
            max_value=MAX_PRIORITY_WEIGHT,
            decimal=True,
            optional=True,
        ),
    ]
    if group_name:
        scopes = [
            option(_ALL_GROUPS, _("Every leadership group")),
            option(_GROUP_ONLY, _("Only {group}").format(group=group_name)),
        ]
        blocks.append(radio_field(PRIORITY_NEW_SCOPE, _("For"), scopes, initial=scopes[0]))
    blocks += [
        DividerBlock(),
        text_field(
            PRIORITY_REASON,
            _("Reason for the change"),
            max_length=MAX_REASON,
            optional=True,
            hint=_(
                "One line, shown on the digests' timeline when the declared intent changes "
                "(e.g. “Board asked for 12 months of runway”)."
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=PRIORITIES_CALLBACK,
        private_metadata=metadata(channel_id=channel_id),
        title=PlainTextObject(text=_("Declared priorities")),
        submit=PlainTextObject(text=_("Save")),
        close=PlainTextObject(text=_("Cancel")),
        blocks=blocks,
    )


def _multi_select(options: list[Option]) -> StaticMultiSelectElement:
    return StaticMultiSelectElement(
        action_id=VALUE, placeholder=_("Choose priorities to retire"), options=options
    )


def parse_priorities(values: State, priority_ids: Sequence[int]) -> PriorityEdits:
    """The priorities modal's state as edits; raises InvalidChange for unreadable numbers."""
    problems: dict[str, str] = {}
    retired = {int(v) for v in checked(values, PRIORITY_RETIRE) if v.isdigit()}
    rows: list[PriorityRow] = []
    for priority_id in priority_ids:
        name_field = priority_name_field(priority_id)
        if name_field not in values:
            continue
        weight = number_value(values, priority_weight_field(priority_id), problems, required=False)
        order = number_value(values, priority_order_field(priority_id), problems, required=False)
        rows.append(
            PriorityRow(
                priority_id=priority_id,
                name=text_value(values, name_field),
                weight=weight,
                order=order if order is not None else float(len(rows) + 1),
                retire=priority_id in retired,
            )
        )
    new_name = text_value(values, PRIORITY_NEW_NAME)
    new_weight = number_value(values, PRIORITY_NEW_WEIGHT, problems, required=False)
    new = None
    if new_name or new_weight is not None:
        new = NewPriority(
            name=new_name,
            weight=new_weight,
            group_only=selected(values, PRIORITY_NEW_SCOPE) == _GROUP_ONLY,
        )
    if problems:
        raise InvalidChange(problems)
    return PriorityEdits(
        rows=tuple(rows), new=new, reason=text_value(values, PRIORITY_REASON) or None
    )
