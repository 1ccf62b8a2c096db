"""A run's report as JSON, for `coherence report --json` and anyone reading the figures."""

from __future__ import annotations

from typing import Any

from pulses.agreement import rwg_j_convention
from pulses.privacy import Suppressed
from pulses.reports import RunReport


def report_json(report: RunReport) -> dict[str, Any]:
    """A run's report as JSON: `RunMetrics.to_dict()` fields plus run date and flags.

    A suppressed run gives only ``suppressed``, ``threshold`` and the run's identity.
    """
    identity: dict[str, Any] = {
        "run_id": report.run_id,
        "run_date": report.occurrence_day.isoformat(),
        "wording_changed": list(report.wording_changed),
    }
    if isinstance(report.metrics, Suppressed):
        return {
            **identity,
            "suppressed": True,
            "threshold": report.metrics.threshold,
            "message": report.metrics.message,
        }
    return {
        **identity,
        "suppressed": False,
        **report.metrics.to_dict(),
        "rwg_j_convention": rwg_j_convention(item.n for item in report.metrics.items.values()),
        "priority_names": dict(report.priority_names),
        "flags": [flag.to_dict() for flag in report.flags],
        **(report.signals.to_dict() if report.signals else {}),
        "pressure": None if report.pressure is None else report.pressure.to_dict(),
        "friction_comments": list(report.friction),
    }
