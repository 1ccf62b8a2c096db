"""Coherence under pressure for a group's shown runs: the reports turned into the gap's input.

Only runs that may be shown, and that asked the pressure item, count; a hidden run adds
nothing, so nothing about it can be worked out from the gap (`pulses.signals.pressure`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pulses.reports import RunReport
from pulses.signals.pressure import PressureGap, PressurePoint, pressure_gap


def pressure_points(history: Sequence[RunReport]) -> list[PressurePoint]:
    """The shown runs with a pressure level and an index, oldest first."""
    points = []
    for report in history:
        shown = report.shown
        if shown is None or report.pressure is None or shown.coherence_index is None:
            continue
        points.append(
            PressurePoint(
                day=report.occurrence_day,
                pressure=report.pressure.level,
                coherence_index=shown.coherence_index,
                agreement=shown.agreement,
                focus_alignment=shown.focus_alignment,
            )
        )
    return points


def under_pressure(history: Sequence[RunReport]) -> PressureGap:
    """The group's coherence gap over its reports (oldest first; the last 12 shown count)."""
    return pressure_gap(pressure_points(history))
