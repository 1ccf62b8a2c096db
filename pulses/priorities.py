"""The declared priorities leaders choose from: listed, renamed, reweighted, reordered, retired.

Every change is validated as a whole and audited; retired priorities keep their rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlmodel import Session

from pulses.audit import Change, InvalidChange, Words, audited, unchanged, words
from pulses.i18n import N_, _, amount
from pulses.intent import MAX_REASON, record_declared_changes
from storage import queries
from storage.models import LeadershipGroup, Priority

MAX_PRIORITY_NAME: Final = 75
MAX_PRIORITY_WEIGHT: Final = 1000.0
# The priorities modal spends three blocks on each priority; Slack allows 100 per modal.
MAX_PRIORITIES: Final = 25

PRIORITY_NEW_NAME = "priority_new_name"
PRIORITY_NEW_WEIGHT = "priority_new_weight"
PRIORITY_NEW_SCOPE = "priority_new_scope"
PRIORITY_RETIRE = "priority_retire"
PRIORITY_REASON = "priority_reason"


def priority_name_field(priority_id: int) -> str:
    return f"priority_name_{priority_id}"


def priority_weight_field(priority_id: int) -> str:
    return f"priority_weight_{priority_id}"


def priority_order_field(priority_id: int) -> str:
    return f"priority_order_{priority_id}"


@dataclass(frozen=True)
class PriorityRow:
    """The modal's values for one existing priority."""

    priority_id: int
    name: str
    weight: float | None
    order: float
    retire: bool = False


@dataclass(frozen=True)
class NewPriority:
    name: str
    weight: float | None = None
    group_only: bool = False


@dataclass(frozen=True)
class PriorityEdits:
    """The modal's edits; ``reason`` is the admin's one line on why the intent changed."""

    rows: tuple[PriorityRow, ...] = ()
    new: NewPriority | None = None
    reason: str | None = None


def editable_priorities(
    *, session: Session, workspace_id: int, group: LeadershipGroup | None
) -> list[Priority]:
    """The priorities the group is offered; outside a group, the active workspace-wide ones."""
    group_id = group.id if group is not None else None
    return queries.active_priorities(session=session, workspace_id=workspace_id, group_id=group_id)


def _weight_words(weight: float | None) -> Words:
    return words(N_("equal")) if weight is None else words("{weight}", weight=amount(weight))


def _check_weight(weight: float | None) -> str | None:
    if weight is None:
        return None
    if not math.isfinite(weight) or not 0 <= weight <= MAX_PRIORITY_WEIGHT:
        return _("A weight is a number from 0 to {most}; leave it empty for equal.").format(
            most=amount(MAX_PRIORITY_WEIGHT)
        )
    return None


def _check_name(name: str) -> str | None:
    if not name.strip():
        return _("Give the priority a name.")
    if len(name.strip()) > MAX_PRIORITY_NAME:
        return _("Keep the name under {n} characters.").format(n=MAX_PRIORITY_NAME + 1)
    return None


def apply_priorities(
    *,
    session: Session,
    workspace_id: int,
    group: LeadershipGroup | None,
    edits: PriorityEdits,
    user_id: str,
    now: datetime,
) -> Change:
    """Rename, reweight, reorder, retire and add priorities in one go.

    Retiring keeps the row (runs and answers reference it by id), so past digests still name
    it; `active_priorities` leaves it out of every new pulse. A change of the declared shares
    records a new intent version, effective now, for each group it changes, with the reason.
    """
    current: dict[int, Priority] = {
        p.id: p
        for p in editable_priorities(session=session, workspace_id=workspace_id, group=group)
        if p.id is not None
    }
    # A row for a priority retired meanwhile (a stale modal) is ignored, not revived.
    rows = [row for row in edits.rows if row.priority_id in current]
    problems: dict[str, str] = {}
    kept_names: dict[str, int] = {}
    for row in rows:
        if row.retire:
            continue
        problem = _check_name(row.name)
        if problem:
            problems[priority_name_field(row.priority_id)] = problem
        elif row.name.strip().casefold() in kept_names:
            problems[priority_name_field(row.priority_id)] = _("Another priority has this name.")
        kept_names[row.name.strip().casefold()] = row.priority_id
        problem = _check_weight(row.weight)
        if problem:
            problems[priority_weight_field(row.priority_id)] = problem
    new = edits.new
    if new is not None:
        problem = _check_name(new.name)
        if problem is None and new.name.strip().casefold() in kept_names:
            problem = _("A priority with this name exists already.")
        if problem:
            problems[PRIORITY_NEW_NAME] = problem
        problem = _check_weight(new.weight)
        if problem:
            problems[PRIORITY_NEW_WEIGHT] = problem
        if new.group_only and group is None:
            problems[PRIORITY_NEW_SCOPE] = _(
                "Run this in a leadership group's channel to add one just for it."
            )
        active_after = sum(1 for row in rows if not row.retire) + len(
            [p for p in current if p not in {row.priority_id for row in rows}]
        )
        if active_after >= MAX_PRIORITIES:
            problems.setdefault(
                PRIORITY_NEW_NAME,
                _("There can be at most {n} priorities; retire one first.").format(
                    n=MAX_PRIORITIES
                ),
            )
    reason = " ".join((edits.reason or "").split()) or None
    if reason is not None and len(reason) > MAX_REASON:
        problems[PRIORITY_REASON] = _("Keep the reason under {n} characters.").format(
            n=MAX_REASON + 1
        )
    if problems:
        raise InvalidChange(problems)

    lines: list[Words] = []
    by_id = {row.priority_id: row for row in rows}
    for priority_id, priority in current.items():
        edit = by_id.get(priority_id)
        if edit is None:
            continue
        if edit.retire:
            priority.active = False
            priority.retired_at = now
            lines.append(words(N_("retired '{name}'"), name=priority.name))
            continue
        name = edit.name.strip()
        if name != priority.name:
            lines.append(words(N_("renamed '{was}' to '{name}'"), was=priority.name, name=name))
            priority.name = name
        if edit.weight != priority.weight:
            was, now_ = _weight_words(priority.weight), _weight_words(edit.weight)
            lines.append(
                words(N_("weight of '{name}' {was} → {now}"), name=name, was=was, now=now_)
            )
            priority.weight = edit.weight
    kept = [p for p in current.values() if p.active]
    old_order = [p.id for p in kept]
    kept.sort(
        key=lambda p: (
            by_id[p.id].order if p.id in by_id else float(p.position + 1),
            p.position,
            p.id or 0,
        )
    )
    if [p.id for p in kept] != old_order:
        order = ", ".join(f"'{p.name}'" for p in kept)
        lines.append(words(N_("new order: {order}"), order=order))
    for position, priority in enumerate(kept):
        priority.position = position
    if new is not None:
        scoped = group if new.group_only else None
        session.add(
            Priority(
                workspace_id=workspace_id,
                group_id=scoped.id if scoped is not None else None,
                name=new.name.strip(),
                weight=new.weight,
                position=len(kept),
                created_at=now,
            )
        )
        added = new.name.strip()
        if scoped is not None:
            line = words(N_("added '{name}' for #{group}"), name=added, group=scoped.channel_name)
        else:
            line = words(N_("added '{name}'"), name=added)
        lines.append(line)
    group_id = group.id if group else None
    if not lines:
        return unchanged(group_id)
    session.add_all(current.values())
    session.flush()
    if record_declared_changes(
        session=session, workspace_id=workspace_id, now=now, user_id=user_id, reason=reason
    ):
        lines.append(
            words(N_("declared intent changed: {reason}"), reason=reason)
            if reason
            else words(N_("declared intent changed"))
        )
    return audited(
        session, workspace_id, group_id, user_id, lambda: [write() for write in lines], now
    )
