"""Who may change Coherence, what a change did, and the audit log that records each one.

A change writes its `ConfigChange` row in the same transaction as the change itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlmodel import Session, col, select

from pulses.i18n import SOURCE_LOCALE, _, speaking
from storage.models import ConfigChange

RECENT_CHANGES: Final = 10
_SUMMARY_LIMIT = 1000


def is_admin(
    *, user_id: str, workspace_admin: bool, workspace_owner: bool, admin_ids: Iterable[str]
) -> bool:
    """Slack's workspace owners and admins, plus the members named in the settings."""
    return workspace_admin or workspace_owner or user_id in set(admin_ids)


class InvalidChange(ValueError):
    """A change that cannot be made; ``problems`` maps a field name to what is wrong with it."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = dict(problems)

    @property
    def message(self) -> str:
        return " ".join(self.problems.values())


@dataclass(frozen=True)
class Change:
    """What a change did, in words; ``changed`` is False when nothing needed doing."""

    group_id: int | None
    lines: tuple[str, ...]
    changed: bool = True

    @property
    def summary(self) -> str:
        return "; ".join(self.lines)


# A line of a change, written when it is shown: once in the admin's language, once in English
# for the record (see `audited`).
Words = Callable[[], str]


def words(template: str, **fields: str | Words) -> Words:
    """``template`` (marked with ``N_``) translated and filled in the language spoken when the
    line is written; a field may itself be words."""

    def write() -> str:
        filled = {name: value() if callable(value) else value for name, value in fields.items()}
        return _(template).format(**filled)

    return write


def unchanged(group_id: int | None, line: str | None = None) -> Change:
    """A change that found nothing to do (and so writes no audit row)."""
    return Change(group_id=group_id, lines=(line or _("nothing changed"),), changed=False)


def record_change(
    session: Session,
    workspace_id: int,
    group_id: int | None,
    user_id: str,
    summary: str,
    now: datetime,
) -> None:
    """Write who changed what, where, when."""
    if len(summary) > _SUMMARY_LIMIT:
        summary = summary[: _SUMMARY_LIMIT - 1] + "…"
    session.add(
        ConfigChange(
            workspace_id=workspace_id,
            group_id=group_id,
            user_id=user_id,
            summary=summary,
            created_at=now,
        )
    )
    session.flush()


def audited(
    session: Session,
    workspace_id: int,
    group_id: int | None,
    user_id: str,
    lines: Sequence[str] | Callable[[], Sequence[str]],
    now: datetime,
) -> Change:
    """The change these lines describe, recorded in the audit log.

    Lines written by a function are shown in the language being spoken (the admin's group's)
    and recorded in English: the log is one record for the workspace, read by admins of
    groups speaking different languages.
    """
    if callable(lines):
        change = Change(group_id=group_id, lines=tuple(lines()))
        with speaking(SOURCE_LOCALE):
            summary = "; ".join(lines())
    else:
        change = Change(group_id=group_id, lines=tuple(lines))
        summary = change.summary
    record_change(session, workspace_id, group_id, user_id, summary, now)
    return change


def recent_changes(
    *, session: Session, workspace_id: int, limit: int = RECENT_CHANGES
) -> list[ConfigChange]:
    """The workspace's latest configuration changes, newest first."""
    return list(
        session.exec(
            select(ConfigChange)
            .where(ConfigChange.workspace_id == workspace_id)
            .order_by(col(ConfigChange.created_at).desc(), col(ConfigChange.id).desc())
            .limit(limit)
        ).all()
    )
