"""The sandbox's `coherence sandbox` command and Block Kit renderer, registered as entry points."""

from __future__ import annotations

import argparse


class SandboxCommand:
    """`coherence sandbox`: the scripted story against a local Slack stand-in."""

    help = "play the scripted scenario in a local Slack sandbox"
    description = (
        "Eight weeks of a leadership team in a simulated Slack, printed as the people see it:\n"
        "setup, pulses, reminders, answers and digests. Needs no tokens and no network.\n\n"
        "example:\n  coherence sandbox"
    )

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """The story takes no options."""

    def run(self, args: argparse.Namespace) -> int:
        from sandbox.scenario import play

        return play()


COMMAND = SandboxCommand()
