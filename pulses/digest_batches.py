"""A batch of group digests computed together: what the scheduler hands the messenger to draw.

The scheduler names the groups; the messenger computes their digests where it draws them.
Slack's messenger does both in its drawing process (`bot.drawer`), which reads the database
itself, so the serving process spends its interpreter lock on claims, posts and answers, not
on the digests' compute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from pulses.flags import DEFAULT_THRESHOLDS, FlagThresholds
from pulses.reports import GroupDigest, group_digests
from storage.db import read_scope

# A group and its digest, or the error that stopped computing it.
Computed = tuple[int, GroupDigest | Exception]


@dataclass(frozen=True)
class DigestBatch:
    """Group digests to compute together, read in one set of aggregate queries."""

    engine: Engine = field(repr=False, compare=False)
    group_ids: tuple[int, ...]
    now: datetime
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS

    @property
    def database_url(self) -> str:
        """The URL another process opens the same database by; it holds the password, so it
        is never logged (nor is the batch's repr)."""
        return self.engine.url.render_as_string(hide_password=False)

    def compute(self) -> list[Computed]:
        """Each group's digest, in the batch's order. Read without the write lock, so answers
        stored meanwhile never queue behind it. A batch that fails is computed group by group,
        so one group's failure costs only its own, and is reported as that group's."""
        together = self._together()
        if together is not None:
            return together
        return [self._alone(group_id) for group_id in self.group_ids]

    def _read(self, group_ids: Sequence[int]) -> list[GroupDigest]:
        with read_scope(self.engine) as session:
            return group_digests(
                session=session, group_ids=group_ids, now=self.now, thresholds=self.thresholds
            )

    def _together(self) -> list[Computed] | None:
        try:
            digests = self._read(self.group_ids)
        except Exception:
            return None  # computed alone, where the failing group's own error is kept
        return [(digest.group.group_id, digest) for digest in digests]

    def _alone(self, group_id: int) -> Computed:
        try:
            [digest] = self._read([group_id])
        except Exception as error:
            return group_id, error
        return group_id, digest
