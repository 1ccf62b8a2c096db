"""The coherence dimensions: one registry entry each, with the statement leaders rate.

Adding a dimension is one `Dimension` here: new workspaces are asked its statement, and every
report, flag, digest and export picks it up by its key. Workspaces that exist already get it
when an admin adds the statement under `/coherence questions` (questions are versioned per
workspace, so a registry change never rewrites what a workspace asks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dimension:
    key: str
    name: str
    # The Likert statement (1 = strongly disagree … 5 = strongly agree) asked by default.
    statement: str


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "reinforcement",
        "Reinforcement",
        "This week, other leaders' decisions reinforced mine rather than cutting across them.",
    ),
    Dimension(
        "translation",
        "Translation",
        "This week, our strategy turned into my team's work without getting distorted on the way.",
    ),
    Dimension(
        "stability",
        "Stability",
        "This week, our priorities held steady enough for work to build on itself.",
    ),
    Dimension(
        "signal",
        "Signal",
        "This week, what leaders did matched what our strategy says matters.",
    ),
    Dimension(
        "decision_flow",
        "Decision flow",
        "This week, the decisions I needed got made without waiting on escalation.",
    ),
)


def dimension_keys() -> tuple[str, ...]:
    return tuple(dimension.key for dimension in DIMENSIONS)


def dimension_name(key: str) -> str:
    """The registry's name for a key; an admin-added statement's key, made readable."""
    for dimension in DIMENSIONS:
        if dimension.key == key:
            return dimension.name
    return key.replace("_", " ").capitalize()
