"""Every listener module registers itself here; nothing needs a global App at import time."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import commands, errors, pulses


def register_listeners(app: App) -> None:
    errors.register(app)
    commands.register(app)
    pulses.register(app)
