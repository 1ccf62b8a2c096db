"""What the domain needs from Slack, as one protocol that `bot/` implements: `Messenger`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pulses.digest_batches import DigestBatch
from pulses.organisation import OrgDigest
from pulses.reports import GroupDigest


@dataclass(frozen=True)
class PulseNotice:
    """What a pulse message shows; never who answered."""

    run_id: int
    group_name: str
    channel_id: str
    closes_at: datetime
    timezone: str
    answered: int
    invited: int
    closed: bool = False
    # Members passed over because they were away: counted, never named.
    away: int = 0
    # The group's language (a locale such as "de"): the message is written in it.
    language: str = "en"


@dataclass(frozen=True)
class Member:
    """A human, active member of a leadership channel."""

    user_id: str
    timezone: str | None
    # Their Slack status, to pass over a member who is away ("" and 0: none, no expiry).
    status_emoji: str = ""
    status_expiration: int = 0


class DeliveryError(Exception):
    """Slack refused a delivery. Permanent ones are recorded, transient ones retried.

    ``ambiguous``: Slack may have carried the send out after all (a 5xx, a timeout, a dropped
    connection) and could not be asked; it must be looked up by its marker before any resend.
    """

    def __init__(self, reason: str, *, permanent: bool, ambiguous: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.ambiguous = ambiguous


class RenderedDigest(Protocol):
    """A digest the messenger has drawn for Slack; the domain only hands it back to be posted.

    Drawn before the delivery is claimed, so that a drawing failure leaves nothing claimed.
    """


class Messenger(Protocol):
    """Everything that reaches Slack: pulses, reminders and digests."""

    def channel_members(self, channel_id: str) -> list[Member]:
        """Human, active members of the channel now."""
        ...

    def post_channel_pulse(self, notice: PulseNotice, *, marker: str) -> str:
        """Post the channel's pulse message; returns its ts."""
        ...

    def update_channel_pulse(self, notice: PulseNotice, *, ts: str) -> None:
        """Refresh the channel message's progress or closed state."""
        ...

    def send_dm_pulse(self, user_id: str, notice: PulseNotice, *, marker: str) -> tuple[str, str]:
        """DM the pulse to one member; returns (DM channel, ts)."""
        ...

    def confirm_answer(self, notice: PulseNotice, *, channel: str, ts: str) -> None:
        """Turn a member's pulse DM into "your answer is in", with a way to change it."""
        ...

    def remind(self, user_id: str, notice: PulseNotice, *, in_channel: bool) -> None:
        """Nudge one member who has not answered (ephemeral in channel mode, else a DM)."""
        ...

    def render_digest(self, digest: GroupDigest | OrgDigest) -> RenderedDigest:
        """Draw a group's or the organisation's digest (text, blocks, chart) for posting."""
        ...

    def render_digests(
        self, batch: DigestBatch
    ) -> Iterator[tuple[int, RenderedDigest | Exception]]:
        """Compute and draw a batch of group digests: each group with its drawing, or with the
        error that stopped computing or drawing it, in the batch's order.

        The messenger may start on them when called (in another process, which reads the
        batch's database itself), so a caller that does other work before it takes them, and
        posts each as it comes, has them computed and drawn meanwhile.
        """
        ...

    def post_digest(self, digest: RenderedDigest, *, channel: str, marker: str | None) -> str:
        """Post a drawn digest (its chart in the message's thread); returns the message's ts.

        Without a marker, the message cannot be found again by `find_delivered`.
        """
        ...

    def find_delivered(self, destination: str, *, marker: str) -> tuple[str, str] | None:
        """(channel, ts) of a recent message carrying `marker`, if a send lost track of got there.

        `destination` is a channel, or a user for their DM with the app. Raises DeliveryError
        when Slack cannot be asked, so that the caller never takes "unknown" for "no".
        """
        ...
