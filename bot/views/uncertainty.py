"""How sure each figure is, in the digest's words: ± margins, trend arrows, what is undecided."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pulses.reports import RunReport

if TYPE_CHECKING:
    from pulses.signals.engine import Interval, Trend


def change_text(change: float | None, trend: Trend | None = None) -> str:
    """The index's move since the previous pulse: an arrow only when it is beyond the noise."""
    if change is None:
        return ""
    rounded = round(change)
    if trend is not None and not trend.arrow:
        return "no change beyond the noise since the previous pulse"
    if rounded == 0:
        return "no change since the previous pulse"
    arrow = "▲" if rounded > 0 else "▼"
    evidence = f", {trend.evidence}" if trend is not None else ""
    return f"{arrow} {abs(rounded)} since the previous pulse{evidence}"


def margin_text(interval: Interval | None, digits: int = 0) -> str:
    """ " ± 7" for a 95% interval, or "" without one."""
    if interval is None:
        return ""
    return f" ± {interval.margin:.{digits}f}"


def undecided_note(report: RunReport) -> str | None:
    """What the rules could not judge yet, in plain words."""
    if report.signals is None or not report.signals.undecided:
        return None
    return "Too few answers to tell yet — " + "; ".join(report.signals.undecided) + "."
