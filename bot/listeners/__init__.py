"""Every listener module registers itself here; nothing needs a global App at import time."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import admin, commands, errors, home, pulses, status
from bot.listeners.commands import CommandRouter


def register_listeners(app: App) -> None:
    router = CommandRouter()
    errors.register(app)
    pulses.register(app)
    commands.register(app, router)
    admin.register(app, router)
    home.register(app)
    status.register(router)
