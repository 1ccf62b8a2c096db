"""What listeners need besides the Slack client, injected into Bolt's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from slack_bolt import BoltContext
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.settings import Settings
from pulses.ports import Messenger
from pulses.recording import REFUSALS, read_ahead, store_answers
from pulses.refresh import Refresher
from pulses.ticks import Worker
from storage.group_commit import GroupCommit

if TYPE_CHECKING:
    from bot.workspaces import Workspaces

SERVICES_KEY = "coherence"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Reached by listeners through `services_of(context)`."""

    settings: Settings
    engine: Engine
    client: WebClient
    messenger: Messenger
    # The domain never reads the clock itself, so tests and the sandbox run can drive time.
    clock: Callable[[], datetime] = field(default=utc_now)
    worker: Worker = field(default_factory=Worker.for_this_process)
    # Updates after an answer (the channel's count, the member's confirmation) run here, off
    # the listener threads.
    refresher: Refresher = field(default_factory=Refresher)
    # Installs through "Add to Slack": each workspace's token. None with one SLACK_BOT_TOKEN.
    workspaces: Workspaces | None = None
    # Answers are stored by one writer thread, those that arrive together in one transaction
    # (each batch's runs and invitations read in one statement).
    answers: GroupCommit = field(init=False)

    def __post_init__(self) -> None:
        self.answers = GroupCommit(
            self.engine, refusals=REFUSALS, flush=store_answers, read_ahead=read_ahead
        )

    def client_for(self, team_id: str) -> WebClient:
        """The Web API client holding `team_id`'s bot token.

        Raises bot.oauth.WorkspaceNotInstalled (a permanent pulses.ports.DeliveryError) when
        the app is not installed in that workspace. With one SLACK_BOT_TOKEN, its client.
        """
        if self.workspaces is None:
            return self.client
        return self.workspaces.client_for(team_id)

    def messenger_for(self, team_id: str) -> Messenger:
        """A Messenger sending with `team_id`'s token, paced and rate-limited per workspace
        (same errors as `client_for`). `messenger` itself routes each call to the right one."""
        if self.workspaces is None:
            return self.messenger
        return self.workspaces.messenger_for(team_id)

    def begin_tick(self) -> None:
        """Called by the scheduler before each tick: every workspace's token is read afresh
        once per tick, so an uninstall that reached another replica stops this one's sends
        from its next tick (the short token cache never outlives a tick)."""
        if self.workspaces is not None:
            self.workspaces.installations.forget()

    def admin_ids(self, team_id: str) -> list[str]:
        """Who administers Coherence in `team_id` besides its Slack admins and owners: with one
        SLACK_BOT_TOKEN, COHERENCE_ADMIN_IDS; with installs, whoever installed the app there."""
        if self.workspaces is None:
            return list(self.settings.coherence_admin_ids)
        installer = self.workspaces.installations.installer(team_id)
        return [] if installer is None else [installer]

    def __deepcopy__(self, memo: dict[int, object]) -> Services:
        # Bolt deep-copies the context for each lazy listener; the services (engine, client,
        # worker) are process-wide and shared, so the copy is the same bundle.
        return self


def services_of(context: BoltContext) -> Services:
    """The Services bundle injected by the app factory's middleware."""
    services = context[SERVICES_KEY]
    assert isinstance(services, Services)
    return services
