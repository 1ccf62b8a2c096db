"""Block Kit for the weekly digest, the organisation digest and `/coherence`. Pure functions.

Every builder stays inside Slack's limits whatever the number of priorities, comments or
groups: long lists are cut and the remainder counted. A suppressed run shows no statistic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.i18n import N_, _, day, moment, ngettext, speaking
from bot.i18n import number as number  # kept importable from here (the App Home, tests)
from bot.i18n import percent as percent
from bot.views.commitments import follow_up_blocks
from bot.views.heatmap import HEATMAP_TITLE, heatmap_lines, heatmap_of, org_language
from bot.views.pressure import org_pressure_blocks, pressure_blocks, pressure_suffix
from bot.views.pulse import away_words
from bot.views.text import GAP, clip, escape, fit_lines, line_sections, section, sparkline
from bot.views.timeline import declared_changes_text
from bot.views.uncertainty import change_text, margin_text, undecided_note
from pulses.agreement import rwg_j_convention
from pulses.answers import OTHER
from pulses.dimensions import dimension_name
from pulses.flags import Flag
from pulses.metrics import RunMetrics
from pulses.organisation import LayerSummary, OrgDigest
from pulses.reports import GroupDigest, GroupInfo, GroupStatus, RunReport
from pulses.windows import OTHER_NAME

# The registry's dimension names (pulses.dimensions), marked here to be translated when shown.
DIMENSION_NAMES = (
    N_("Reinforcement"),
    N_("Translation"),
    N_("Stability"),
    N_("Signal"),
    N_("Decision flow"),
)

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
    return _(
        "Fewer than {k} leaders answered, so results stay hidden to protect anonymity."
    ).format(k=threshold)


def no_run_text() -> str:
    return _("No pulse has closed yet, so there is nothing to report.")


def index_text(value: float | None) -> str:
    return number(value, 0)


def _last_pulses(history: Sequence[RunReport]) -> str:
    return f"`{sparkline(history)}`  " + _("last {n} pulses").format(n=len(history))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, CONTEXT_TEXT))])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=clip(text, HEADER_TEXT))


def _day(report: RunReport) -> str:
    return day(report.occurrence_day)


def _capped(blocks: list[Block], tail: Sequence[Block] = ()) -> list[Block]:
    """The blocks, then ``tail`` whole: a cut to fit Slack is made before the tail, never in it."""
    if len(blocks) + len(tail) <= MAX_BLOCKS:
        return [*blocks, *tail]
    kept = blocks[: MAX_BLOCKS - len(tail) - 1]
    return [*kept, _context(_("Some sections were left out to fit Slack.")), *tail]


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
    index = index_text(metrics.coherence_index)
    lines = ["*" + _("Coherence index: {index}").format(index=index) + f"* / 100{margin}"]
    moved = change_text(change, report.trend)
    if moved:
        lines[0] += f"  ({moved})"
    lines.append(
        _("Level {level} × agreement {agreement}").format(
            level=number(metrics.level), agreement=number(metrics.agreement)
        )
        + f" · rwg(j) {number(metrics.rwg_j)}{_convention(metrics)}"
    )
    if len(history) > 1:
        lines.append(_last_pulses(history))
    lines.append(
        _("Response: {answered} of {invited} leaders ({rate})").format(
            answered=metrics.n_responded,
            invited=metrics.n_invited,
            rate=percent(metrics.response_rate),
        )
        + away_words(report.away)
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
            marks.append(_("↓ falling"))
        if key in report.fragmented:
            marks.append(_("⚠ fragmented"))
        if key in report.wording_changed:
            marks.append(_("new wording"))
        if stats.mean is None:
            line = _("no answers")
        else:
            interval = report.signals.dimensions.get(key) if report.signals else None
            margin = margin_text(interval, 1)
            agreement = _("agreement {value}").format(value=number(stats.rwg))
            line = f"{number(stats.mean, 1)} / 5{margin} · {agreement}"
        text = f"*{_(dimension_name(key))}*\n{line}"
        if marks:
            text += "\n" + " · ".join(marks)
        fields.append(MarkdownTextObject(text=clip(text, FIELD_TEXT)))
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text=_("*Dimensions* (1–5, agreement 0–1)"))
            if index == 0
            else None,
            fields=fields[index : index + MAX_FIELDS],
        )
        for index in range(0, len(fields), MAX_FIELDS)
    ]
    if len(items) > MAX_DIMENSIONS:
        rest = len(items) - MAX_DIMENSIONS
        blocks.append(_context(_("… and {n} more dimensions").format(n=rest)))
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
        intent = ""
        if declared is not None:
            intent = _(" · declared {share}").format(share=percent(declared))
        # "Something else" is the domain's name for answers outside the priorities.
        name = escape(clip(_(OTHER_NAME) if key == OTHER else report.priority_name(key), 75))
        attention = _("{share} of attention").format(share=percent(shares.get(key, 0.0)))
        lines.append(f"• *{name}* — {attention}{intent}")
    shown = lines[:MAX_PRIORITIES]
    if len(lines) > MAX_PRIORITIES:  # the rest is counted with its total share
        rest = keys[MAX_PRIORITIES:]
        share = sum(shares.get(k, 0.0) for k in rest)
        shown.append(
            _("… and {n} more priorities ({share} of attention together)").format(
                n=len(rest), share=percent(share)
            )
        )
    summary = _(
        "Focus alignment {alignment} on the most-named priority"
        " · intent gap {gap} (0 = as declared, 1 = no overlap)"
    ).format(alignment=percent(metrics.focus_alignment), gap=number(metrics.intent_gap))
    return fit_lines([*shown, summary], SECTION_TEXT, title=_("*Focus vs declared intent*"))


def _friction_text(report: RunReport) -> str:
    comments = [f"> {escape(clip(' '.join(c.split()), COMMENT_CHARS))}" for c in report.friction]
    return fit_lines(
        comments,
        SECTION_TEXT,
        more=_("… and {n} more comments"),
        title=_("*Where leaders felt friction* (anonymous)"),
        max_lines=MAX_COMMENTS,
    )


def _wording_note(report: RunReport) -> str | None:
    if not report.wording_changed:
        return None
    names = ", ".join(_(dimension_name(key)) for key in report.wording_changed)
    return _(
        "Note: the wording of {names} changed in this pulse, so comparisons with earlier "
        "pulses mix two versions of the question."
    ).format(names=names)


# --- the weekly digest --------------------------------------------------------------------------


def digest_blocks(digest: GroupDigest) -> tuple[str, list[Block]]:
    """The group's weekly digest, in its language: fallback text and blocks."""
    with speaking(digest.group.language):
        return _digest_blocks(digest)


def _digest_blocks(digest: GroupDigest) -> tuple[str, list[Block]]:
    group = digest.group
    report = digest.latest
    if report is None:
        text = _("Coherence digest for #{group}: {message}").format(
            group=group.name, message=no_run_text()
        )
        title = _("Coherence digest · #{group}").format(group=group.name)
        return text, [_header(title), section(no_run_text())]
    title = _("Coherence digest · #{group} · {day}").format(group=group.name, day=_day(report))
    blocks: list[Block] = [_header(title)]
    metrics = report.shown
    if metrics is None:
        hidden = suppressed_text(report.threshold)
        blocks.append(section(hidden))
        if len(digest.history) > 1:
            blocks.append(_context(_last_pulses(digest.history)))
        return f"{title}: {hidden}", blocks + follow_up_blocks(digest)
    blocks.append(section(_headline(report, digest.index_change, digest.history)))
    blocks += _dimension_fields(report)
    blocks.append(DividerBlock())
    drifting = flag_lines(report.flags)
    heading = _("*Where priorities are drifting*")
    quiet = (
        heading + "\n" + _("Nothing stands out this week: no priority moved, no dimension fell.")
    )
    more = _("… and {n} more findings")
    found = fit_lines(drifting, SECTION_TEXT, more, title=heading, max_lines=MAX_FLAGS)
    blocks.append(section(found if drifting else quiet))
    if metrics.focus_distribution:
        blocks.append(section(_focus_text(report)))
    blocks += pressure_blocks(digest.history)
    if report.friction:
        blocks.append(DividerBlock())
        blocks.append(section(_friction_text(report)))
    for note in (declared_changes_text(digest), _wording_note(report), undecided_note(report)):
        if note:
            blocks.append(_context(note))
    tail = follow_up_blocks(digest)  # with the footer, never cut
    tail.append(
        _context(
            _(
                "Only team-level figures, never who said what. Index = 100 × level × agreement; "
                "± is a 95% interval; a flag or arrow appears only beyond the noise."
            )
        )
    )
    text = _("{title}: coherence index {index}, {answered} of {invited} leaders answered.").format(
        title=title,
        index=index_text(metrics.coherence_index),
        answered=metrics.n_responded,
        invited=metrics.n_invited,
    )
    return text, _capped(blocks, tail)


# --- the organisation digest --------------------------------------------------------------------


def _group_line(group: GroupInfo, report: RunReport | None) -> str:
    layer = f" ({escape(group.layer)})" if group.layer else ""
    name = f"*#{escape(clip(group.name, 80))}*{layer}"
    if report is None:
        return f"{name} — " + _("no pulse has closed yet")
    metrics = report.shown
    if metrics is None:
        return f"{name} — {suppressed_text(report.threshold)}"
    return f"{name} — {_figures(metrics)} · {day(report.occurrence_day, 'date')}"


def _figures(metrics: RunMetrics, index: str = "{}") -> str:
    """`index 62 · level 0.80 · agreement 0.78 · 88% answered` (``index`` wraps the index)."""
    return _("index {index} · level {level} · agreement {agreement} · {rate} answered").format(
        index=index.format(index_text(metrics.coherence_index)),
        level=number(metrics.level),
        agreement=number(metrics.agreement),
        rate=percent(metrics.response_rate),
    )


def layer_groups_text(layer: LayerSummary) -> str:
    """How many of the layer's groups its figures pool, e.g. "2 of 3 groups; 1 hidden: …"."""
    groups = ngettext("{n} group", "{n} groups", layer.groups).format(n=layer.groups)
    if not layer.hidden:
        return groups
    return _("{included} of {groups}; {hidden} hidden: too few answers").format(
        included=layer.included, groups=groups, hidden=layer.hidden
    )


def _layer_line(layer: LayerSummary) -> str:
    name = f"*{escape(clip(layer.name, 80))}* ({layer_groups_text(layer)})"
    if not layer.included:
        return f"{name} — " + _("no figures, since every group of the layer is hidden")
    if not isinstance(layer.metrics, RunMetrics):
        return f"{name} — {suppressed_text(layer.metrics.threshold)}"
    m = layer.metrics
    return f"{name} — " + _(
        "index {index} · level {level} · agreement {agreement} · focus alignment {alignment}"
    ).format(
        index=index_text(m.coherence_index),
        level=number(m.level),
        agreement=number(m.agreement),
        alignment=percent(m.focus_alignment),
    )


def org_digest_blocks(digest: OrgDigest) -> tuple[str, list[Block]]:
    """Every group side by side, layers compared; hidden groups show no statistic."""
    with speaking(org_language(digest)):
        return _org_digest_blocks(digest)


def _org_digest_blocks(digest: OrgDigest) -> tuple[str, list[Block]]:
    title = _("Coherence across the organisation")
    blocks: list[Block] = [_header(title)]
    if not digest.groups:
        blocks.append(section(_("No leadership groups are set up yet.")))
        return title, blocks
    lines = [_group_line(c.group, c.latest) for c in digest.groups]
    blocks += line_sections(_("*Groups* (latest closed pulse)"), lines, 10)
    blocks += line_sections(_(HEATMAP_TITLE), heatmap_lines(heatmap_of(digest)), 6)
    if digest.layers:
        blocks.append(DividerBlock())
        blocks += line_sections(
            _("*Layers* (groups pooled)"), [_layer_line(layer) for layer in digest.layers], 4
        )
    if digest.flags:
        blocks += line_sections(
            _("*Where layers read the strategy differently*"), flag_lines(digest.flags), 4
        )
    elif len([layer for layer in digest.layers if isinstance(layer.metrics, RunMetrics)]) > 1:
        alike = _("Layers see things alike this week: no divergence stands out.")
        blocks.append(section(alike))
    blocks += org_pressure_blocks(digest)
    blocks.append(
        _context(
            _(
                "Groups with too few answers are hidden, and a layer pools only the groups "
                "shown, so no hidden group can be worked out from a layer's figures."
            )
        )
    )
    shown = sum(1 for c in digest.groups if c.latest is not None and c.latest.shown is not None)
    text = _("{title}: {shown} of {groups} groups reported.").format(
        title=title, shown=shown, groups=len(digest.groups)
    )
    return text, _capped(blocks)


# --- /coherence --------------------------------------------------------------------------------


def status_blocks(status: GroupStatus) -> tuple[str, list[Block]]:
    """The ephemeral `/coherence` answer in a leadership channel, in the group's language."""
    with speaking(status.group.language):
        return _status_blocks(status)


def _status_blocks(status: GroupStatus) -> tuple[str, list[Block]]:
    group = status.group
    title = _("Coherence status for #{group}").format(group=group.name)
    blocks: list[Block] = [section(f"*{escape(clip(title, 200))}*")]
    if status.open_run is None:
        blocks.append(_context(_("No pulse is open right now.")))
    else:
        run = status.open_run
        this_pulse = _("*This pulse:* {answered} of {invited} answered so far ({rate})").format(
            answered=run.answered, invited=run.invited, rate=percent(run.response_rate)
        )
        closes = _(" · closes {moment}").format(moment=moment(run.closes_at, group.timezone))
        blocks.append(section(this_pulse + away_words(run.away) + closes))
    report = status.latest
    if report is None:
        blocks.append(section(no_run_text()))
        return f"{title}: {no_run_text()}", blocks
    metrics = report.shown
    if metrics is None:
        hidden = suppressed_text(report.threshold)
        last = _("*Last closed pulse ({day}):*").format(day=_day(report))
        blocks.append(section(f"{last} {hidden}"))
        return f"{title}: {hidden}", blocks
    last = _("*Last closed pulse ({day})*").format(day=_day(report))
    blocks.append(section(f"{last}\n" + _headline(report, status.index_change, status.trend)))
    if status.flags:
        blocks.append(
            section(
                fit_lines(
                    flag_lines(status.flags),
                    SECTION_TEXT,
                    more=_("… and {n} more findings"),
                    title=_("*Active flags*"),
                )
            )
        )
    else:
        blocks.append(_context(_("No active flags: nothing is drifting.")))
    blocks += pressure_blocks(status.trend)
    for note in (_wording_note(report), undecided_note(report)):
        if note:
            blocks.append(_context(note))
    text = _("{title}: coherence index {index}").format(
        title=title, index=index_text(metrics.coherence_index)
    )
    return text, _capped(blocks)


def trend_line(report: RunReport) -> str:
    metrics = report.shown
    when = f"`{report.occurrence_day.isoformat()}`"
    if metrics is None:
        return f"{when} " + _("hidden (too few answers)")
    line = f"{when} {_figures(metrics, '*{}*')}" + pressure_suffix(report)
    if report.wording_changed:
        line += _(" · _wording changed_")
    return line


def trend_blocks(history: Sequence[RunReport], n: int) -> tuple[str, list[Block]]:
    """`/coherence trend N`: the last ``n`` closed runs, oldest first, with a sparkline."""
    runs = list(history)[-n:] if n > 0 else []
    title = _("Coherence over the last {n} pulses").format(n=len(runs))
    if not runs:
        return no_run_text(), [section(no_run_text())]
    legend = _("(oldest → newest, {gap} = hidden)").format(gap=GAP)
    blocks: list[Block] = [section(f"*{title}*\n`{sparkline(runs)}`  {legend}")]
    blocks += line_sections("", [trend_line(r) for r in runs], 20)
    blocks += pressure_blocks(runs)
    return title, _capped(blocks)


def blocks_as_dicts(blocks: Sequence[Block]) -> list[dict[str, object]]:
    """`to_dict()` of each block, which also checks Slack's limits."""
    return [block.to_dict() for block in blocks]
