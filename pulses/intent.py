"""Declared intent, versioned: the shares of attention a group's priorities ask for, and since when.

A group's declared intent is its offered priorities' weights as a distribution
(`pulses.focus.declared_distribution`). Every change of the list or the weights that changes a
group's shares records a new `IntentVersion` (effective at once, with who and why), and each
run records the version in force when it was claimed, so editing weights today never rewrites
what a past run is compared with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement
from sqlmodel import Session, and_, col, or_, select

from pulses.focus import declared_distribution
from storage import queries
from storage.models import IntentShare, IntentVersion, LeadershipGroup

MAX_REASON: Final = 200
# Shares equal to this many decimals are the same intent (weights are typed by hand).
_SAME_SHARE: Final = 1e-9


def declared_shares(*, session: Session, group: LeadershipGroup) -> dict[int, float]:
    """The group's declared intent now: each offered priority's share, summing to 1."""
    offered = queries.active_priorities(
        session=session, workspace_id=group.workspace_id, group_id=group.id
    )
    weights = {str(p.id): p.weight for p in offered if p.id is not None}
    return {int(key): share for key, share in declared_distribution(weights).items()}


def _same(a: Mapping[int, float], b: Mapping[int, float]) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], abs_tol=_SAME_SHARE) for k in a)


def _record(
    session: Session,
    group: LeadershipGroup,
    shares: Mapping[int, float],
    *,
    now: datetime,
    user_id: str | None,
    reason: str | None,
) -> IntentVersion:
    assert group.id is not None
    version = IntentVersion(
        workspace_id=group.workspace_id,
        group_id=group.id,
        effective_at=now,
        user_id=user_id,
        reason=reason,
    )
    session.add(version)
    session.flush()
    assert version.id is not None
    session.add_all(
        IntentShare(intent_id=version.id, priority_id=pid, share=share)
        for pid, share in shares.items()
    )
    session.flush()
    return version


def intent_in_force(*, session: Session, group: LeadershipGroup, now: datetime) -> IntentVersion:
    """The group's latest intent version, recorded first if the declared shares differ from it.

    A run calls this when it is claimed: the priorities may have changed without the modal
    (a new group, a priority added elsewhere), and the run must name what it was compared with.
    """
    assert group.id is not None
    shares = declared_shares(session=session, group=group)
    latest = queries.latest_intent(session=session, group_id=group.id)
    if latest is not None:
        version, recorded = latest
        if _same(recorded, shares):
            return version
    return _record(session, group, shares, now=now, user_id=None, reason=None)


def record_declared_changes(
    *,
    session: Session,
    workspace_id: int,
    now: datetime,
    user_id: str,
    reason: str | None,
) -> list[IntentVersion]:
    """After a change of priorities: a new version for each active group whose shares changed.

    A workspace-wide priority is offered to every group, so one edit can change several
    groups' intent; a group whose shares are unchanged (a rename, a new order) gets none.
    """
    recorded = []
    for group in queries.active_groups_by_layer(session=session, workspace_id=workspace_id):
        assert group.id is not None
        shares = declared_shares(session=session, group=group)
        latest = queries.latest_intent(session=session, group_id=group.id)
        if latest is not None and _same(latest[1], shares):
            continue
        recorded.append(_record(session, group, shares, now=now, user_id=user_id, reason=reason))
    return recorded


@dataclass(frozen=True)
class DeclaredChange:
    """A change of declared intent an admin made: the day it took effect (in the group's time
    zone), why, and the shares declared from then on (priority id → share)."""

    intent_version: int
    day: date
    reason: str | None
    shares: Mapping[int, float]


def declared_changes(
    session: Session, group_id: int, since: date, until: date
) -> list[DeclaredChange]:
    """The admin's changes of the group's declared intent from ``since`` to ``until`` (both
    included, days in the group's time zone), oldest first; for the digest's timeline."""
    group = session.get(LeadershipGroup, group_id)
    if group is None:
        return []
    return declared_changes_of(session, [(group, since, until)])[group_id]


def declared_changes_of(
    session: Session, spans: Sequence[tuple[LeadershipGroup, date, date]]
) -> dict[int, list[DeclaredChange]]:
    """`declared_changes` of each (group, since, until), group id → its changes: two queries
    for them all, so a batch of digests does not pay two per group."""
    found: dict[int, list[DeclaredChange]] = {}
    zones: dict[int, ZoneInfo] = {}
    within: list[ColumnElement[bool]] = []
    for group, since, until in spans:
        assert group.id is not None
        found[group.id] = []
        zone = zones[group.id] = ZoneInfo(group.timezone)
        start = datetime.combine(since, time(), tzinfo=zone)
        end = datetime.combine(until + timedelta(days=1), time(), tzinfo=zone)
        within.append(
            and_(
                IntentVersion.group_id == group.id,
                col(IntentVersion.effective_at) >= start,
                col(IntentVersion.effective_at) < end,
            )
        )
    if not within:
        return found
    versions = list(
        session.exec(
            select(IntentVersion)
            .where(col(IntentVersion.user_id).is_not(None), or_(*within))
            .order_by(col(IntentVersion.effective_at), col(IntentVersion.id))
        )
    )
    shares = queries.intent_shares(
        session=session, intent_ids=[v.id for v in versions if v.id is not None]
    )
    for version in versions:
        if version.id is not None:
            zone = zones[version.group_id]
            found[version.group_id].append(
                DeclaredChange(
                    intent_version=version.id,
                    day=version.effective_at.astimezone(zone).date(),
                    reason=version.reason,
                    shares=shares.get(version.id, {}),
                )
            )
    return found
