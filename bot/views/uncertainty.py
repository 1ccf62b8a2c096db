"""How sure each figure is, in the digest's words: ± margins, trend arrows, what is undecided."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.i18n import _, number
from pulses.reports import RunReport

if TYPE_CHECKING:
    from pulses.signals.engine import Interval, Trend


def change_text(change: float | None, trend: Trend | None = None) -> str:
    """The index's move since the previous pulse: an arrow only when it is beyond the noise."""
    if change is None:
        return ""
    rounded = round(change)
    if trend is not None and not trend.arrow:
        return _("no change beyond the noise since the previous pulse")
    if rounded == 0:
        return _("no change since the previous pulse")
    arrow = "▲" if rounded > 0 else "▼"
    evidence = f", {trend.evidence}" if trend is not None else ""
    moved = _("{arrow} {points} since the previous pulse").format(arrow=arrow, points=abs(rounded))
    return moved + evidence


def margin_text(interval: Interval | None, digits: int = 0) -> str:
    """ " ± 7" for a 95% interval, or "" without one."""
    if interval is None:
        return ""
    return f" ± {number(interval.margin, digits)}"


def undecided_note(report: RunReport) -> str | None:
    """What the rules could not judge yet, in plain words."""
    if report.signals is None or not report.signals.undecided:
        return None
    return _("Too few answers to tell yet — {what}.").format(
        what="; ".join(report.signals.undecided)
    )
