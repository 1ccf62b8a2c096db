"""Per-workspace Slack: each installed workspace's client and messenger (its own token, pacing,
429 waits and member cache), and the one Messenger the domain sees, which sends each pulse,
reminder and digest with the token of the workspace it belongs to."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.drawer import DRAWER, Drawer
from bot.messenger import DigestDrawing, SlackMessenger, draw_batch
from bot.oauth import Installations
from bot.views.message import SlackDigest
from pulses.digest_batches import DigestBatch
from pulses.organisation import OrgDigest
from pulses.ports import DeliveryError, Member, PulseNotice, RenderedDigest
from pulses.reports import GroupDigest
from storage.db import read_scope
from storage.models import DigestDelivery, Invitation, LeadershipGroup, PulseRun, Workspace


class Workspaces:
    """One client and one messenger per installed workspace, with that workspace's token."""

    def __init__(
        self,
        installations: Installations,
        *,
        make_client: Callable[[str], WebClient],
        posts_per_minute: int,
    ) -> None:
        self.installations = installations
        self._make_client = make_client
        self._posts_per_minute = posts_per_minute
        self._messengers: dict[str, SlackMessenger] = {}
        self._lock = threading.Lock()

    def messenger_for(self, team_id: str) -> SlackMessenger:
        """The workspace's messenger; WorkspaceNotInstalled (a permanent DeliveryError) when
        the app is not installed there, so nothing is sent with a dead token."""
        token = self.installations.bot_token(team_id)
        with self._lock:
            messenger = self._messengers.get(team_id)
            if messenger is None:
                messenger = SlackMessenger(
                    self._make_client(token), posts_per_minute=self._posts_per_minute
                )
                self._messengers[team_id] = messenger
        # A rotated token takes over from the next call; a call in flight keeps the old one,
        # which Slack honours until it expires.
        messenger.client.token = token
        return messenger

    def client_for(self, team_id: str) -> WebClient:
        return self.messenger_for(team_id).client


class WorkspaceMessenger:
    """The domain's Messenger for many workspaces: each call goes to the messenger of the
    workspace whose group, run or digest it is about."""

    def __init__(self, engine: Engine, workspaces: Workspaces, drawer: Drawer = DRAWER) -> None:
        self._engine = engine
        self._workspaces = workspaces
        self._drawer = drawer
        # A run, invitation or group never moves to another workspace: found once, kept.
        self._teams: dict[str, str] = {}

    def channel_members(self, channel_id: str) -> list[Member]:
        return self._channel(channel_id).channel_members(channel_id)

    def post_channel_pulse(self, notice: PulseNotice, *, marker: str) -> str:
        return self._run(notice.run_id).post_channel_pulse(notice, marker=marker)

    def update_channel_pulse(self, notice: PulseNotice, *, ts: str) -> None:
        self._run(notice.run_id).update_channel_pulse(notice, ts=ts)

    def send_dm_pulse(self, user_id: str, notice: PulseNotice, *, marker: str) -> tuple[str, str]:
        return self._run(notice.run_id).send_dm_pulse(user_id, notice, marker=marker)

    def confirm_answer(self, notice: PulseNotice, *, channel: str, ts: str) -> None:
        self._run(notice.run_id).confirm_answer(notice, channel=channel, ts=ts)

    def remind(self, user_id: str, notice: PulseNotice, *, in_channel: bool) -> None:
        self._run(notice.run_id).remind(user_id, notice, in_channel=in_channel)

    def render_digest(self, digest: GroupDigest | OrgDigest) -> RenderedDigest:
        return self._begin(digest).finish()

    def render_digests(self, batch: DigestBatch) -> Iterator[tuple[int, SlackDigest | Exception]]:
        return self._marked(draw_batch(self._drawer, batch))

    def _marked(
        self, drawings: Iterator[tuple[int, SlackDigest | Exception]]
    ) -> Iterator[tuple[int, SlackDigest | Exception]]:
        """Each drawn digest marked with the workspace its group is in."""
        for group_id, drawn in drawings:
            if isinstance(drawn, Exception):
                yield group_id, drawn
                continue
            try:
                team = self._team(f"group:{group_id}")
            except Exception as error:
                yield group_id, error
                continue
            yield group_id, replace(drawn, team_id=team)

    def _begin(self, digest: GroupDigest | OrgDigest) -> DigestDrawing:
        """The digest handed to the drawer by its workspace's messenger, marked with the
        workspace it is to be posted in."""
        if isinstance(digest, OrgDigest):
            team = self._team(f"workspace:{digest.workspace_id}")
        else:
            team = self._team(f"group:{digest.group.group_id}")
        return self._workspaces.messenger_for(team).begin_digest(digest, team_id=team)

    def post_digest(self, digest: RenderedDigest, *, channel: str, marker: str | None) -> str:
        assert isinstance(digest, SlackDigest), "a digest is posted as this messenger drew it"
        team = digest.team_id or self._team(f"channel:{channel}")
        return self._workspaces.messenger_for(team).post_digest(
            digest, channel=channel, marker=marker
        )

    def find_delivered(self, destination: str, *, marker: str) -> tuple[str, str] | None:
        return self._messenger(marker).find_delivered(destination, marker=marker)

    def _run(self, run_id: int) -> SlackMessenger:
        return self._messenger(f"run:{run_id}")

    def _channel(self, channel_id: str) -> SlackMessenger:
        return self._messenger(f"channel:{channel_id}")

    def _messenger(self, key: str) -> SlackMessenger:
        return self._workspaces.messenger_for(self._team(key))

    def _team(self, key: str) -> str:
        """The team of `kind:id` (a run, invitation, digest or channel marker, a group or a
        workspace row)."""
        team = self._teams.get(key)
        if team is None:
            team = self._look_up(key)
            if team is None:
                raise DeliveryError(f"no workspace for {key}", permanent=True)
            self._teams[key] = team
        return team

    def _look_up(self, key: str) -> str | None:
        kind, _, value = key.partition(":")
        query = select(Workspace.team_id)
        if kind == "channel":
            # Active groups first: a channel may have been a group in two workspaces of an org.
            query = (
                query.join(LeadershipGroup, col(LeadershipGroup.workspace_id) == Workspace.id)
                .where(
                    (col(LeadershipGroup.channel_id) == value)
                    | (col(LeadershipGroup.digest_channel_id) == value)
                )
                .order_by(col(LeadershipGroup.active).desc())
            )
        elif kind == "workspace":
            query = query.where(Workspace.id == int(value))
        elif kind == "digest":
            query = query.join(
                DigestDelivery, col(DigestDelivery.workspace_id) == Workspace.id
            ).where(DigestDelivery.id == int(value))
        else:
            query = query.join(LeadershipGroup, col(LeadershipGroup.workspace_id) == Workspace.id)
            if kind == "group":
                query = query.where(LeadershipGroup.id == int(value))
            else:
                query = query.join(PulseRun, col(PulseRun.group_id) == LeadershipGroup.id)
                if kind == "invitation":
                    query = query.join(Invitation, col(Invitation.run_id) == PulseRun.id).where(
                        Invitation.id == int(value)
                    )
                else:
                    query = query.where(PulseRun.id == int(value))
        with read_scope(self._engine) as session:
            return session.exec(query.limit(1)).first()
