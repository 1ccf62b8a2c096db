"""Every listener module registers itself here; nothing needs a global App at import time."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import admin, commands, commitments, errors, home, pulses, status


def register_listeners(app: App) -> None:
    errors.register(app)
    pulses.register(app)
    status.register(app)
    admin.register(app)
    home.register(app)
    commitments.register(app)
    # Last: Bolt tries listeners in order, and this one answers any `/coherence` text left.
    commands.register(app)
