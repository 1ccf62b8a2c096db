"""Coherence under pressure in the digest, `/coherence` and `/coherence trend`: the latest run's
pressure (context) and the group's coherence gap over its last shown runs. Pure functions.

Everything here reads only shown runs (`RunReport.pressure` is None for a hidden run, and the
gap counts shown runs only), so nothing about pressure appears below the privacy threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.i18n import N_, _, number, percent
from pulses.organisation import OrgDigest
from pulses.pressure import RunPressure
from pulses.reports import RunReport
from pulses.signals.pressure import CONFIDENCE, Gap, PressureGap
from pulses.under_pressure import under_pressure

TITLE = N_("*Coherence under pressure*")


def _two(value: float | None) -> str:
    """`.78`: two decimals without the leading zero (the locale's decimal sign)."""
    if value is None:
        return "–"
    zero = number(0.0, 1)[:2]  # "0." or "0,"
    return number(value, 2).replace(zero, zero[1], 1)


def _points(value: float) -> str:
    rounded = round(value)
    return f"{'+' if rounded > 0 else '−' if rounded < 0 else '±'}{abs(rounded)}"


def _interval(gap: Gap) -> str:
    if gap.low is None or gap.high is None:
        return ""
    return " " + _("({confidence} interval {low} to {high})").format(
        confidence=percent(CONFIDENCE), low=_points(gap.low), high=_points(gap.high)
    )


def run_pressure_text(pressure: RunPressure) -> str:
    """One shown run's pressure, labelled as context."""
    text = _(
        "Pressure this pulse: *{level}* of 5 · agreement on it {agreement} "
        "_(context, not part of the index)_"
    ).format(level=number(pressure.level, 1), agreement=_two(pressure.agreement))
    split = pressure.split
    if split is not None:
        text += "\n" + _(
            "Leaders under high pressure ({high}) against the rest ({rest}): agreement "
            "{high_agreement} vs {rest_agreement}, focus alignment {high_focus} vs {rest_focus}"
        ).format(
            high=split.high.n,
            rest=split.rest.n,
            high_agreement=_two(split.high.agreement),
            rest_agreement=_two(split.rest.agreement),
            high_focus=percent(split.high.focus_alignment),
            rest_focus=percent(split.rest.focus_alignment),
        )
    return text


def gap_text(gap: PressureGap) -> str:
    """The group's coherence gap and its verdict in a sentence or two."""
    if gap.verdict == "too_few":
        return _("Needs {needed} pulses with the pressure item, has {runs}.").format(
            needed=gap.needed, runs=gap.runs
        )
    assert gap.index is not None
    assert gap.pressured_level is not None
    assert gap.calm_level is not None
    halves = _(
        "the {pressured} more pressured pulses (pressure {pressured_level}) against the {calm} "
        "calmer ones ({calm_level}), last {runs} pulses"
    ).format(
        pressured=gap.pressured_runs,
        pressured_level=number(gap.pressured_level, 1),
        calm=gap.calm_runs,
        calm_level=number(gap.calm_level, 1),
        runs=gap.runs,
    )
    if gap.verdict == "flat":
        return _("Pressure barely varied ({halves}): nothing to compare yet.").format(halves=halves)
    figure = _("coherence gap *{points}* index points").format(points=_points(gap.index.estimate))
    lead = {
        "breaks": _(":warning: *Coherence breaks under pressure*: "),
        "holds": _("*Coherence holds under pressure*: "),
        "unclear": _("Too uncertain to tell yet: "),
    }[gap.verdict]
    text = f"{lead}{figure}{_interval(gap.index)}, {halves}."
    if gap.verdict == "breaks" and gap.index.p_fall is not None:
        text += _(" p < .01, one-sided.")
    moves = []
    if gap.agreement is not None:
        moves.append(_("agreement {change}").format(change=_signed_two(gap.agreement.estimate)))
    if gap.focus_alignment is not None:
        points = _points(100 * gap.focus_alignment.estimate)
        moves.append(_("focus alignment {points} points").format(points=points))
    if moves:
        text += "\n" + _("Under pressure: {moves}.").format(moves=", ".join(moves))
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
    lines = [_(TITLE)]
    if latest is not None and latest.pressure is not None:
        lines.append(run_pressure_text(latest.pressure))
    lines.append(gap_text(gap))
    return [
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=_(
                        "Coherence gap: the index in the more pressured pulses minus the calmer "
                        "ones. A fall is flagged only beyond the noise (p < .01)."
                    )
                )
            ]
        ),
    ]


def pressure_suffix(report: RunReport) -> str:
    """ " · pressure 3.6" for a trend line; empty for a hidden run or one without the item."""
    if report.shown is None or report.pressure is None:
        return ""
    return _(" · pressure {level}").format(level=number(report.pressure.level, 1))


_VERDICT = {
    "breaks": N_("breaks under pressure"),
    "holds": N_("holds under pressure"),
    "unclear": N_("too uncertain to tell"),
    "flat": N_("pressure barely varied"),
}


def org_pressure_blocks(digest: OrgDigest) -> list[Block]:
    """Which layer fragments under pressure: each layer's groups with a coherence gap of their
    own (over their own shown runs; a hidden group says nothing)."""
    by_layer: dict[str, list[tuple[str, bool]]] = {}
    for column in digest.groups:
        gap = column.pressure
        if gap is None or gap.index is None or gap.verdict == "too_few":
            continue
        layer = column.group.layer or _("No layer")
        gap_figure = _("gap {points}").format(points=_points(gap.index.estimate))
        text = (
            f"#{column.group.name} {_(_VERDICT[gap.verdict])} ({gap_figure}{_interval(gap.index)})"
        )
        by_layer.setdefault(layer, []).append((text, gap.verdict == "breaks"))
    if not by_layer:
        return []
    lines = [_(TITLE)]
    for layer, groups in by_layer.items():
        mark = ":warning: " if any(breaks for _, breaks in groups) else ""
        lines.append(f"{mark}*{layer}*: " + "; ".join(text for text, _ in groups))
    return [SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:3000]))]
