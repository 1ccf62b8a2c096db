"""What listeners need besides the Slack client, injected into Bolt's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_bolt import BoltContext
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.settings import Settings
from pulses.ports import Messenger
from pulses.refresh import Refresher
from pulses.ticks import Worker

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

    def __deepcopy__(self, memo: dict[int, object]) -> Services:
        # Bolt deep-copies the context for each lazy listener; the services (engine, client,
        # worker) are process-wide and shared, so the copy is the same bundle.
        return self


def services_of(context: BoltContext) -> Services:
    """The Services bundle injected by the app factory's middleware."""
    services = context[SERVICES_KEY]
    assert isinstance(services, Services)
    return services
