"""Admin commands and modals: setup, priorities, questions, the schedule, pulse/digest now, export.

Every one passes the admin middleware first (`access`), which puts the caller and the
workspace in the context; the text forms that need a leadership channel also pass `in_a_group`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slack_bolt import App

from bot.listeners.admin import access, actions, priorities, questions, schedule, setup
from bot.listeners.commands import COMMAND, Middleware, command_is, in_a_group
from bot.views.admin.priorities import PRIORITIES_CALLBACK
from bot.views.admin.questions import QUESTIONS_CALLBACK
from bot.views.admin.replies import NOT_A_GROUP
from bot.views.admin.setup import SETUP_CALLBACK
from pulses.commands import (
    Command,
    DigestNow,
    Export,
    Pause,
    Priorities,
    PulseNow,
    Questions,
    Resume,
    Setup,
    Skip,
)
from pulses.schedule import CadenceChange


def _admin_command(
    app: App, kind: type[Command], *, needs_group: bool = False, then: Sequence[Middleware] = ()
) -> Callable[..., object]:
    """The Bolt listener decorator for one admin subcommand."""
    middleware: list[Middleware] = [access.admins_only]
    if needs_group:
        middleware.append(in_a_group(NOT_A_GROUP))
    return app.command(COMMAND, matchers=[command_is(kind)], middleware=[*middleware, *then])


def register(app: App) -> None:
    _admin_command(app, Setup)(setup.open_setup)
    _admin_command(app, Priorities)(priorities.open_priorities)
    _admin_command(app, Questions)(questions.open_questions)
    _admin_command(app, CadenceChange, needs_group=True)(schedule.change_cadence)
    _admin_command(app, Pause, needs_group=True)(schedule.pause)
    _admin_command(app, Resume, needs_group=True)(schedule.resume)
    _admin_command(app, Skip, needs_group=True)(schedule.skip)
    _admin_command(app, PulseNow, needs_group=True, then=[actions.claims_todays_run])(
        ack=actions.pulse_now, lazy=[actions.send_pulse]
    )
    _admin_command(app, DigestNow, needs_group=True)(
        ack=actions.digest_now, lazy=[actions.post_digest]
    )
    _admin_command(app, Export)(ack=actions.export, lazy=[actions.upload_export])
    submission: list[Middleware] = [access.admins_only]
    app.view(SETUP_CALLBACK, middleware=submission)(setup.submit_setup)
    app.view(PRIORITIES_CALLBACK, middleware=submission)(priorities.submit_priorities)
    app.view(QUESTIONS_CALLBACK, middleware=submission)(questions.submit_questions)
