"""Block Kit for the weekly digest, the organisation digest and `/coherence`. Pure functions.

Every builder stays inside Slack's limits whatever the number of priorities, comments or
groups: long lists are cut and the remainder counted. A suppressed run shows no statistic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.views.commitments import follow_up_blocks
from bot.views.heatmap import HEATMAP_TITLE, heatmap_lines, heatmap_of
from bot.views.pressure import org_pressure_blocks, pressure_blocks, pressure_suffix
from bot.views.timeline import declared_changes_text
from bot.views.uncertainty import change_text, margin_text, undecided_note
from pulses.agreement import rwg_j_convention
from pulses.away import away_text
from pulses.dimensions import dimension_name
from pulses.flags import Flag
from pulses.metrics import RunMetrics
from pulses.organisation import LayerSummary, OrgDigest
from pulses.reports import GroupDigest, GroupInfo, GroupStatus, RunReport

SUPPRESSED = "Fewer than {k} leaders answered, so results stay hidden to protect anonymity."
NO_RUN = "No pulse has closed yet, so there is nothing to report."
SPARKS = "▁▂▃▄▅▆▇█"
GAP = "·"

# Block Kit's limits per message (50 blocks, 3000-character sections, 150-character headers,
# ten fields of 2000) with the margins this module keeps.
MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_TEXT = 3000
MAX_FIELDS = 10
FIELD_TEXT = 2000
MAX_FLAGS = 12
MAX_PRIORITIES = 10
MAX_COMMENTS = 12
COMMENT_CHARS = 280
MAX_DIMENSIONS = 20


# --- formatting -------------------------------------------------------------------------------


def suppressed_text(threshold: int) -> str:
    return SUPPRESSED.format(k=threshold)


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def index_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def sparkline(history: Sequence[RunReport]) -> str:
    """One character per run (oldest first): the index on ▁…█, `·` where a run is hidden."""
    chars = []
    for report in history:
        index = report.coherence_index
        if index is None:
            chars.append(GAP)
        else:
            step = min(len(SPARKS) - 1, max(0, int(index / 100 * len(SPARKS))))
            chars.append(SPARKS[step])
    return "".join(chars)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit_lines(
    lines: Sequence[str],
    limit: int,
    more: str = "… and {n} more",
    *,
    title: str = "",
    max_lines: int | None = None,
) -> str:
    """Join the lines that fit in ``limit`` characters and ``max_lines``, then count the rest."""
    out = [title] if title else []
    cap = len(lines) if max_lines is None else max_lines
    for index, line in enumerate(lines):
        rest = len(lines) - index
        tail_length = len(more.format(n=rest)) + 1
        candidate = "\n".join([*out, line])
        fits = len(candidate) + (tail_length if rest > 1 else 0) <= limit
        if index >= cap or not fits:
            out.append(more.format(n=rest))
            break
        out.append(line)
    return _clip("\n".join(out), limit)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=_clip(text, SECTION_TEXT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=_clip(text, CONTEXT_TEXT))])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=_clip(text, HEADER_TEXT))


def _day(report: RunReport) -> str:
    return f"{report.occurrence_day:%a %-d %b %Y}"


def _capped(blocks: list[Block], tail: Sequence[Block] = ()) -> list[Block]:
    """The blocks, then ``tail`` whole: a cut to fit Slack is made before the tail, never in it."""
    if len(blocks) + len(tail) <= MAX_BLOCKS:
        return [*blocks, *tail]
    kept = blocks[: MAX_BLOCKS - len(tail) - 1]
    return [*kept, _context("Some sections were left out to fit Slack."), *tail]


# --- parts shared by the digest and the status --------------------------------------------------


def _convention(metrics: RunMetrics) -> str:
    # Said only when items were answered by different numbers of leaders, where it matters.
    convention = rwg_j_convention(item.n for item in metrics.items.values())
    return "" if convention == "pairwise" else f" ({convention})"


def _headline(report: RunReport, change: float | None, history: Sequence[RunReport]) -> str:
    metrics = report.shown
    assert metrics is not None
    signals = report.signals
    margin = margin_text(signals.index if signals else None)
    lines = [f"*Coherence index: {index_text(metrics.coherence_index)}* / 100{margin}"]
    moved = change_text(change, report.trend)
    if moved:
        lines[0] += f"  ({moved})"
    lines.append(
        f"Level {number(metrics.level)} × agreement {number(metrics.agreement)}"
        f" · rwg(j) {number(metrics.rwg_j)}{_convention(metrics)}"
    )
    if len(history) > 1:
        lines.append(f"`{sparkline(history)}`  last {len(history)} pulses")
    lines.append(
        f"Response: {metrics.n_responded} of {metrics.n_invited} leaders "
        f"({percent(metrics.response_rate)}){away_text(report.away)}"
    )
    return "\n".join(lines)


def _dimension_fields(report: RunReport) -> list[Block]:
    metrics = report.shown
    assert metrics is not None
    fields = []
    items = list(metrics.items.items())
    for key, stats in items[:MAX_DIMENSIONS]:
        marks = []
        if key in report.falling:
            marks.append("↓ falling")
        if key in report.fragmented:
            marks.append("⚠ fragmented")
        if key in report.wording_changed:
            marks.append("new wording")
        if stats.mean is None:
            line = "no answers"
        else:
            interval = report.signals.dimensions.get(key) if report.signals else None
            margin = margin_text(interval, 1)
            line = f"{stats.mean:.1f} / 5{margin} · agreement {number(stats.rwg)}"
        text = f"*{dimension_name(key)}*\n{line}"
        if marks:
            text += "\n" + " · ".join(marks)
        fields.append(MarkdownTextObject(text=_clip(text, FIELD_TEXT)))
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text="*Dimensions* (1–5, agreement 0–1)")
            if index == 0
            else None,
            fields=fields[index : index + MAX_FIELDS],
        )
        for index in range(0, len(fields), MAX_FIELDS)
    ]
    if len(items) > MAX_DIMENSIONS:
        blocks.append(_context(f"… and {len(items) - MAX_DIMENSIONS} more dimensions"))
    return blocks


def flag_lines(flags: Iterable[Flag]) -> list[str]:
    icons = {"high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":white_circle:"}
    return [f"{icons[flag.severity]} {flag.text}" for flag in flags]


def _focus_text(report: RunReport) -> str:
    metrics = report.shown
    assert metrics is not None
    shares = metrics.focus_distribution
    keys = sorted(
        set(shares) | set(report.declared),
        key=lambda k: (-shares.get(k, 0.0), -report.declared.get(k, 0.0), k),
    )
    lines = []
    for key in keys:
        declared = report.declared.get(key)
        intent = f" · declared {percent(declared)}" if declared is not None else ""
        name = _escape(_clip(report.priority_name(key), 75))
        lines.append(f"• *{name}* — {percent(shares.get(key, 0.0))} of attention{intent}")
    shown = lines[:MAX_PRIORITIES]
    if len(lines) > MAX_PRIORITIES:  # the rest is counted with its total share
        rest = keys[MAX_PRIORITIES:]
        share = sum(shares.get(k, 0.0) for k in rest)
        shown.append(f"… and {len(rest)} more priorities ({percent(share)} of attention together)")
    summary = (
        f"Focus alignment {percent(metrics.focus_alignment)} on the most-named priority"
        f" · intent gap {number(metrics.intent_gap)} (0 = as declared, 1 = no overlap)"
    )
    return _fit_lines([*shown, summary], SECTION_TEXT, title="*Focus vs declared intent*")


def _friction_text(report: RunReport) -> str:
    comments = [f"> {_escape(_clip(' '.join(c.split()), COMMENT_CHARS))}" for c in report.friction]
    return _fit_lines(
        comments,
        SECTION_TEXT,
        more="… and {n} more comments",
        title="*Where leaders felt friction* (anonymous)",
        max_lines=MAX_COMMENTS,
    )


def _wording_note(report: RunReport) -> str | None:
    if not report.wording_changed:
        return None
    names = ", ".join(dimension_name(key) for key in report.wording_changed)
    return (
        f"Note: the wording of {names} changed in this pulse, so comparisons with earlier "
        "pulses mix two versions of the question."
    )


# --- the weekly digest --------------------------------------------------------------------------


def digest_blocks(digest: GroupDigest) -> tuple[str, list[Block]]:
    """The group's weekly digest: fallback text and blocks."""
    group = digest.group
    report = digest.latest
    if report is None:
        text = f"Coherence digest for #{group.name}: {NO_RUN}"
        return text, [_header(f"Coherence digest · #{group.name}"), _section(NO_RUN)]
    title = f"Coherence digest · #{group.name} · {_day(report)}"
    blocks: list[Block] = [_header(title)]
    metrics = report.shown
    if metrics is None:
        hidden = suppressed_text(report.threshold)
        blocks.append(_section(hidden))
        if len(digest.history) > 1:
            blocks.append(
                _context(f"`{sparkline(digest.history)}`  last {len(digest.history)} pulses")
            )
        return f"{title}: {hidden}", blocks + follow_up_blocks(digest)
    blocks.append(_section(_headline(report, digest.index_change, digest.history)))
    blocks += _dimension_fields(report)
    blocks.append(DividerBlock())
    drifting = flag_lines(report.flags)
    heading = "*Where priorities are drifting*"
    quiet = f"{heading}\nNothing stands out this week: no priority moved, no dimension fell."
    more = "… and {n} more findings"
    found = _fit_lines(drifting, SECTION_TEXT, more, title=heading, max_lines=MAX_FLAGS)
    blocks.append(_section(found if drifting else quiet))
    if metrics.focus_distribution:
        blocks.append(_section(_focus_text(report)))
    blocks += pressure_blocks(digest.history)
    if report.friction:
        blocks.append(DividerBlock())
        blocks.append(_section(_friction_text(report)))
    for note in (declared_changes_text(digest), _wording_note(report), undecided_note(report)):
        if note:
            blocks.append(_context(note))
    tail = follow_up_blocks(digest)  # with the footer, never cut
    tail.append(
        _context(
            "Only team-level figures, never who said what. Index = 100 × level × agreement; "
            "± is a 95% interval; a flag or arrow appears only beyond the noise."
        )
    )
    text = (
        f"{title}: coherence index {index_text(metrics.coherence_index)}, "
        f"{metrics.n_responded} of {metrics.n_invited} leaders answered."
    )
    return text, _capped(blocks, tail)


# --- the organisation digest --------------------------------------------------------------------


def _group_line(group: GroupInfo, report: RunReport | None) -> str:
    layer = f" ({_escape(group.layer)})" if group.layer else ""
    name = f"*#{_escape(_clip(group.name, 80))}*{layer}"
    if report is None:
        return f"{name} — no pulse has closed yet"
    metrics = report.shown
    if metrics is None:
        return f"{name} — {suppressed_text(report.threshold)}"
    return (
        f"{name} — index {index_text(metrics.coherence_index)} · level {number(metrics.level)}"
        f" · agreement {number(metrics.agreement)} · {percent(metrics.response_rate)} answered"
        f" · {report.occurrence_day:%-d %b}"
    )


def layer_groups_text(layer: LayerSummary) -> str:
    """How many of the layer's groups its figures pool, e.g. "2 of 3 groups; 1 hidden: …"."""
    groups = "1 group" if layer.groups == 1 else f"{layer.groups} groups"
    if not layer.hidden:
        return groups
    return f"{layer.included} of {groups}; {layer.hidden} hidden: too few answers"


def _layer_line(layer: LayerSummary) -> str:
    name = f"*{_escape(_clip(layer.name, 80))}* ({layer_groups_text(layer)})"
    if not layer.included:
        return f"{name} — no figures, since every group of the layer is hidden"
    if not isinstance(layer.metrics, RunMetrics):
        return f"{name} — {suppressed_text(layer.metrics.threshold)}"
    m = layer.metrics
    return (
        f"{name} — index {index_text(m.coherence_index)} · level {number(m.level)}"
        f" · agreement {number(m.agreement)} · focus alignment {percent(m.focus_alignment)}"
    )


def _line_sections(title: str, lines: Sequence[str], max_sections: int) -> list[Block]:
    """Lines packed into as few sections as fit, at most ``max_sections``, then a count."""
    blocks: list[Block] = []
    current: list[str] = [title] if title else []
    placed = 0
    for line in lines:
        candidate = "\n".join([*current, line])
        if len(candidate) > SECTION_TEXT - 60:
            if len(blocks) + 1 >= max_sections:
                break
            blocks.append(_section("\n".join(current)))
            current = [line]
        else:
            current.append(line)
        placed += 1
    if placed < len(lines):
        current.append(f"… and {len(lines) - placed} more")
    blocks.append(_section("\n".join(current)))
    return blocks


def org_digest_blocks(digest: OrgDigest) -> tuple[str, list[Block]]:
    """Every group side by side, layers compared; hidden groups show no statistic."""
    title = "Coherence across the organisation"
    blocks: list[Block] = [_header(title)]
    if not digest.groups:
        blocks.append(_section("No leadership groups are set up yet."))
        return title, blocks
    lines = [_group_line(c.group, c.latest) for c in digest.groups]
    blocks += _line_sections("*Groups* (latest closed pulse)", lines, 10)
    blocks += _line_sections(HEATMAP_TITLE, heatmap_lines(heatmap_of(digest)), 6)
    if digest.layers:
        blocks.append(DividerBlock())
        blocks += _line_sections(
            "*Layers* (groups pooled)", [_layer_line(layer) for layer in digest.layers], 4
        )
    if digest.flags:
        blocks += _line_sections(
            "*Where layers read the strategy differently*", flag_lines(digest.flags), 4
        )
    elif len([layer for layer in digest.layers if isinstance(layer.metrics, RunMetrics)]) > 1:
        blocks.append(_section("Layers see things alike this week: no divergence stands out."))
    blocks += org_pressure_blocks(digest)
    blocks.append(
        _context(
            "Groups with too few answers are hidden, and a layer pools only the groups shown, "
            "so no hidden group can be worked out from a layer's figures."
        )
    )
    shown = sum(1 for c in digest.groups if c.latest is not None and c.latest.shown is not None)
    return f"{title}: {shown} of {len(digest.groups)} groups reported.", _capped(blocks)


# --- /coherence --------------------------------------------------------------------------------


def _moment(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a %-d %b, %H:%M} {local.tzname()}"


def status_blocks(status: GroupStatus) -> tuple[str, list[Block]]:
    """The ephemeral `/coherence` answer in a leadership channel."""
    group = status.group
    title = f"Coherence status for #{group.name}"
    blocks: list[Block] = [_section(f"*{_escape(_clip(title, 200))}*")]
    if status.open_run is None:
        blocks.append(_context("No pulse is open right now."))
    else:
        run = status.open_run
        blocks.append(
            _section(
                f"*This pulse:* {run.answered} of {run.invited} answered so far "
                f"({percent(run.response_rate)}){away_text(run.away)}"
                f" · closes {_moment(run.closes_at, group.timezone)}"
            )
        )
    report = status.latest
    if report is None:
        blocks.append(_section(NO_RUN))
        return f"{title}: {NO_RUN}", blocks
    metrics = report.shown
    if metrics is None:
        hidden = suppressed_text(report.threshold)
        blocks.append(_section(f"*Last closed pulse ({_day(report)}):* {hidden}"))
        return f"{title}: {hidden}", blocks
    blocks.append(
        _section(
            f"*Last closed pulse ({_day(report)})*\n"
            + _headline(report, status.index_change, status.trend)
        )
    )
    if status.flags:
        blocks.append(
            _section(
                _fit_lines(
                    flag_lines(status.flags),
                    SECTION_TEXT,
                    more="… and {n} more findings",
                    title="*Active flags*",
                )
            )
        )
    else:
        blocks.append(_context("No active flags: nothing is drifting."))
    blocks += pressure_blocks(status.trend)
    for note in (_wording_note(report), undecided_note(report)):
        if note:
            blocks.append(_context(note))
    text = f"{title}: coherence index {index_text(metrics.coherence_index)}"
    return text, _capped(blocks)


def trend_line(report: RunReport) -> str:
    metrics = report.shown
    day = f"`{report.occurrence_day.isoformat()}`"
    if metrics is None:
        return f"{day} hidden (too few answers)"
    line = (
        f"{day} index *{index_text(metrics.coherence_index)}* · level {number(metrics.level)}"
        f" · agreement {number(metrics.agreement)} · {percent(metrics.response_rate)} answered"
    )
    line += pressure_suffix(report)
    if report.wording_changed:
        line += " · _wording changed_"
    return line


def trend_blocks(history: Sequence[RunReport], n: int) -> tuple[str, list[Block]]:
    """`/coherence trend N`: the last ``n`` closed runs, oldest first, with a sparkline."""
    runs = list(history)[-n:] if n > 0 else []
    title = f"Coherence over the last {len(runs)} pulses"
    if not runs:
        return NO_RUN, [_section(NO_RUN)]
    blocks: list[Block] = [
        _section(f"*{title}*\n`{sparkline(runs)}`  (oldest → newest, {GAP} = hidden)")
    ]
    blocks += _line_sections("", [trend_line(r) for r in runs], 20)
    blocks += pressure_blocks(runs)
    return title, _capped(blocks)


def blocks_as_dicts(blocks: Sequence[Block]) -> list[dict[str, object]]:
    """`to_dict()` of each block, which also checks Slack's limits."""
    return [block.to_dict() for block in blocks]
