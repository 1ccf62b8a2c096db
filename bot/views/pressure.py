"""Coherence under pressure in the digest, `/coherence` and `/coherence trend`: the latest run's
pressure (context) and the group's coherence gap over its last shown runs. Pure functions.

Everything here reads only shown runs (`RunReport.pressure` is None for a hidden run, and the
gap counts shown runs only), so nothing about pressure appears below the privacy threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from pulses.organisation import OrgDigest
from pulses.pressure import RunPressure
from pulses.reports import RunReport
from pulses.signals.pressure import CONFIDENCE, Gap, PressureGap
from pulses.under_pressure import under_pressure

TITLE = "*Coherence under pressure*"


def _two(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}".replace("0.", ".", 1)


def _points(value: float) -> str:
    rounded = round(value)
    return f"{'+' if rounded > 0 else '−' if rounded < 0 else '±'}{abs(rounded)}"


def _interval(gap: Gap) -> str:
    if gap.low is None or gap.high is None:
        return ""
    return f" ({CONFIDENCE:.0%} interval {_points(gap.low)} to {_points(gap.high)})"


def run_pressure_text(pressure: RunPressure) -> str:
    """One shown run's pressure, labelled as context."""
    text = (
        f"Pressure this pulse: *{pressure.level:.1f}* of 5 · agreement on it "
        f"{_two(pressure.agreement)} _(context, not part of the index)_"
    )
    split = pressure.split
    if split is not None:
        text += (
            f"\nLeaders under high pressure ({split.high.n}) against the rest "
            f"({split.rest.n}): agreement {_two(split.high.agreement)} vs "
            f"{_two(split.rest.agreement)}, focus alignment "
            f"{_share(split.high.focus_alignment)} vs {_share(split.rest.focus_alignment)}"
        )
    return text


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def gap_text(gap: PressureGap) -> str:
    """The group's coherence gap and its verdict in a sentence or two."""
    if gap.verdict == "too_few":
        return f"Needs {gap.needed} pulses with the pressure item, has {gap.runs}."
    assert gap.index is not None
    assert gap.pressured_level is not None
    assert gap.calm_level is not None
    halves = (
        f"the {gap.pressured_runs} more pressured pulses (pressure {gap.pressured_level:.1f}) "
        f"against the {gap.calm_runs} calmer ones ({gap.calm_level:.1f}), last {gap.runs} pulses"
    )
    if gap.verdict == "flat":
        return f"Pressure barely varied ({halves}): nothing to compare yet."
    figure = f"coherence gap *{_points(gap.index.estimate)}* index points{_interval(gap.index)}"
    lead = {
        "breaks": ":warning: *Coherence breaks under pressure*: ",
        "holds": "*Coherence holds under pressure*: ",
        "unclear": "Too uncertain to tell yet: ",
    }[gap.verdict]
    text = f"{lead}{figure}, {halves}."
    if gap.verdict == "breaks" and gap.index.p_fall is not None:
        text += " p < .01, one-sided."
    moves = []
    if gap.agreement is not None:
        moves.append(f"agreement {_signed_two(gap.agreement.estimate)}")
    if gap.focus_alignment is not None:
        moves.append(f"focus alignment {_points(100 * gap.focus_alignment.estimate)} points")
    if moves:
        text += f"\nUnder pressure: {', '.join(moves)}."
    return text


def _signed_two(value: float) -> str:
    text = _two(abs(value))
    return f"−{text}" if value < 0 else f"+{text}"


def pressure_blocks(history: Sequence[RunReport]) -> list[Block]:
    """The section for a group's history (oldest first, ending with its latest run); nothing
    when no shown run asked the pressure item."""
    latest = history[-1] if history else None
    gap = under_pressure(history)
    if gap.runs == 0:
        return []
    lines = [TITLE]
    if latest is not None and latest.pressure is not None:
        lines.append(run_pressure_text(latest.pressure))
    lines.append(gap_text(gap))
    return [
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Coherence gap: the index in the more pressured pulses minus the calmer "
                    "ones. A fall is flagged only beyond the noise (p < .01)."
                )
            ]
        ),
    ]


def pressure_suffix(report: RunReport) -> str:
    """ " · pressure 3.6" for a trend line; empty for a hidden run or one without the item."""
    if report.shown is None or report.pressure is None:
        return ""
    return f" · pressure {report.pressure.level:.1f}"


_VERDICT = {
    "breaks": "breaks under pressure",
    "holds": "holds under pressure",
    "unclear": "too uncertain to tell",
    "flat": "pressure barely varied",
}


def org_pressure_blocks(digest: OrgDigest) -> list[Block]:
    """Which layer fragments under pressure: each layer's groups with a coherence gap of their
    own (over their own shown runs; a hidden group says nothing)."""
    by_layer: dict[str, list[tuple[str, bool]]] = {}
    for column in digest.groups:
        gap = column.pressure
        if gap is None or gap.index is None or gap.verdict == "too_few":
            continue
        layer = column.group.layer or "No layer"
        text = (
            f"#{column.group.name} {_VERDICT[gap.verdict]} "
            f"(gap {_points(gap.index.estimate)}{_interval(gap.index)})"
        )
        by_layer.setdefault(layer, []).append((text, gap.verdict == "breaks"))
    if not by_layer:
        return []
    lines = [TITLE]
    for layer, groups in by_layer.items():
        mark = ":warning: " if any(breaks for _, breaks in groups) else ""
        lines.append(f"{mark}*{layer}*: " + "; ".join(text for text, _ in groups))
    return [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000]))]
