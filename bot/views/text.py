"""Text that fits Block Kit: clipping, escaping, lists cut to a length with the rest counted,
and the sparkline. Pure functions shared by the digest, `/coherence` and the App Home."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.i18n import _
from pulses.reports import RunReport

SPARKS = "▁▂▃▄▅▆▇█"
GAP = "·"
# Block Kit's limit on a section's text.
SECTION_LIMIT = 3000


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit_lines(
    lines: Sequence[str],
    limit: int,
    more: str | None = None,
    *,
    title: str = "",
    max_lines: int | None = None,
) -> str:
    """Join the lines that fit in ``limit`` characters and ``max_lines``, then count the rest
    (``more``, "… and {n} more" by default)."""
    more = _("… and {n} more") if more is None else more
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
    return clip("\n".join(out), limit)


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


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_LIMIT)))


def line_sections(title: str, lines: Sequence[str], max_sections: int) -> list[Block]:
    """Lines packed into as few sections as fit, at most ``max_sections``, then a count."""
    blocks: list[Block] = []
    current: list[str] = [title] if title else []
    placed = 0
    for line in lines:
        candidate = "\n".join([*current, line])
        if len(candidate) > SECTION_LIMIT - 60:
            if len(blocks) + 1 >= max_sections:
                break
            blocks.append(section("\n".join(current)))
            current = [line]
        else:
            current.append(line)
        placed += 1
    if placed < len(lines):
        current.append(_("… and {n} more").format(n=len(lines) - placed))
    blocks.append(section("\n".join(current)))
    return blocks
