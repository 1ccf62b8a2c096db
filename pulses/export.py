"""The export for people analytics: one CSV row per shown run, with anonymity applied.

Rows come from `pulses.reports.group_history`, whose metrics went through
`pulses.privacy.reportable`: a run below its anonymity threshold has no row at all (not a row of
blanks, which would still tell that few answered), and nothing identifies a person.
Friction comments are left out: free text can identify its author even without a name.
Each figure the signal engine gives an interval carries its 95% margin (``coherence_index_pm``,
``<dimension>_mean_pm``: the figure ± that much), and ``flags`` lists each flag of the run with
its evidence ("kind subject: message (evidence)", separated by " | ").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Final

from sqlmodel import Session

from pulses.reports import RunReport, group_history
from pulses.signals.pressure import PressureGap
from pulses.under_pressure import under_pressure
from storage.models import LeadershipGroup
from storage.queries import groups_by_name

# Ten years of weekly runs: the whole history of any real group.
MAX_RUNS: Final = 520

RUN_COLUMNS: Final = (
    "group",
    "layer",
    "run_date",
    "n_invited",
    "n_responded",
    "response_rate",
    "coherence_index",
    "coherence_index_pm",
    "level",
    "agreement",
    "rwg_j",
    "focus_alignment",
    "intent_gap",
    "priority_drift",
    "top_focus",
    "focus_distribution",
    "wording_changed",
    "flags",
    # Context, never part of the index (issue 9): the run's pressure, and the group's coherence
    # gap over its last 12 shown runs up to this one (blank below 8 such runs).
    "pressure_level",
    "pressure_agreement",
    "coherence_gap",
    "coherence_gap_low",
    "coherence_gap_high",
    "pressure_verdict",
)
ITEM_FIELDS: Final = ("mean", "mean_pm", "sd", "rwg", "ad_m", "n")


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}"


def _flags(report: RunReport) -> str:
    return " | ".join(
        f"{flag.kind} {flag.subject}: {flag.message.replace('*', '')}"
        + (f" ({flag.evidence})" if flag.evidence else "")
        for flag in report.flags
    )


def _pressure(report: RunReport, gap: PressureGap) -> dict[str, str]:
    pressure, index = report.pressure, gap.index
    return {
        "pressure_level": _number(pressure.level if pressure else None),
        "pressure_agreement": _number(pressure.agreement if pressure else None),
        "coherence_gap": _number(index.estimate if index else None),
        "coherence_gap_low": _number(index.low if index else None),
        "coherence_gap_high": _number(index.high if index else None),
        "pressure_verdict": "" if gap.verdict == "too_few" else gap.verdict,
    }


def _row(
    group: LeadershipGroup, report: RunReport, dimensions: Sequence[str], gap: PressureGap
) -> dict[str, str]:
    metrics = report.shown
    assert metrics is not None
    distribution = sorted(
        metrics.focus_distribution.items(),
        key=lambda item: (-item[1], report.priority_name(item[0])),
    )
    index = report.signals.index if report.signals is not None else None
    row = {
        "group": group.channel_name or group.channel_id,
        "layer": group.layer or "",
        "run_date": report.occurrence_day.isoformat(),
        "n_invited": _number(metrics.n_invited),
        "n_responded": _number(metrics.n_responded),
        "response_rate": _number(metrics.response_rate),
        "coherence_index": _number(metrics.coherence_index),
        "coherence_index_pm": _number(index.margin if index is not None else None),
        "level": _number(metrics.level),
        "agreement": _number(metrics.agreement),
        "rwg_j": _number(metrics.rwg_j),
        "focus_alignment": _number(metrics.focus_alignment),
        "intent_gap": _number(metrics.intent_gap),
        "priority_drift": _number(
            metrics.priority_drift.divergence if metrics.priority_drift else None
        ),
        "top_focus": report.priority_name(distribution[0][0]) if distribution else "",
        "focus_distribution": "; ".join(
            f"{report.priority_name(key)}={share:.4f}" for key, share in distribution
        ),
        "wording_changed": " ".join(report.wording_changed),
        "flags": _flags(report),
        **_pressure(report, gap),
    }
    intervals = report.signals.dimensions if report.signals is not None else {}
    for key in dimensions:
        stats = metrics.items.get(key)
        for name in ITEM_FIELDS:
            if name == "mean_pm":
                interval = intervals.get(key)
                value = interval.margin if interval is not None else None
            else:
                value = getattr(stats, name) if stats is not None else None
            row[f"{key}_{name}"] = _number(value)
    return row


def _export_rows(
    *, session: Session, workspace_id: int, group_id: int | None = None
) -> tuple[list[str], list[dict[str, str]]]:
    """Column names and one row per shown closed run, by group then date."""
    groups = groups_by_name(session=session, workspace_id=workspace_id, group_id=group_id)
    shown: list[tuple[LeadershipGroup, RunReport, PressureGap]] = []
    for group in groups:
        assert group.id is not None
        history = group_history(session=session, group_id=group.id, limit=MAX_RUNS)
        for position, report in enumerate(history):
            if report.shown is not None:
                shown.append((group, report, under_pressure(history[: position + 1])))
    dimensions = list(
        dict.fromkeys(key for _, report, _ in shown if report.shown for key in report.shown.items)
    )
    columns = list(RUN_COLUMNS) + [f"{key}_{name}" for key in dimensions for name in ITEM_FIELDS]
    return columns, [_row(group, report, dimensions, gap) for group, report, gap in shown]


def export_csv(*, session: Session, workspace_id: int, group_id: int | None = None) -> str:
    """The export as CSV text (a header row even when no run may be shown)."""
    columns, rows = _export_rows(session=session, workspace_id=workspace_id, group_id=group_id)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _safe_cell(value) for key, value in row.items()})
    return buffer.getvalue()


def _safe_cell(value: str) -> str:
    # Priority and group names are typed by people; a leading = + - @ makes a spreadsheet
    # run the cell as a formula (CSV injection). Numbers such as -0.1250 stay as they are.
    if value and value[0] in "=+-@":
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value
