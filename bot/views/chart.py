"""The digest's trend chart: the coherence index and its two factors over the runs, and the
pressure leaders reported (context, not part of the index), as a PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence, Set

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pulses.reports import RunReport

INDEX_COLOUR = "#1f4e79"
LEVEL_COLOUR = "#2e8b57"
AGREEMENT_COLOUR = "#d2691e"
PRESSURE_COLOUR = "#b22222"
# The axes' place in the figure (fractions of it): room for the title, the 0–100 label, the
# dates and the two-row legend below them, as tight_layout placed them.
MARGINS = {"left": 0.075, "right": 0.985, "top": 0.9, "bottom": 0.3}
COMMITMENT_COLOUR = "#6a3d9a"


def _pressure(history: Sequence[RunReport]) -> list[float]:
    """Each run's pressure level on the chart's 0–100 scale ((level − 1) × 25); NaN where a run
    is hidden or did not ask the pressure item."""
    return [
        float("nan") if r.shown is None or r.pressure is None else 25 * (r.pressure.level - 1)
        for r in history
    ]


def _series(history: Sequence[RunReport]) -> tuple[list[float], list[float], list[float]]:
    """Index, level × 100 and agreement × 100 per run; NaN (a gap) where a run is hidden."""
    nan = float("nan")
    index, level, agreement = [], [], []
    for report in history:
        metrics = report.shown
        index.append(
            nan if metrics is None or metrics.coherence_index is None else metrics.coherence_index
        )
        level.append(nan if metrics is None or metrics.level is None else 100 * metrics.level)
        agreement.append(
            nan if metrics is None or metrics.agreement is None else 100 * metrics.agreement
        )
    return index, level, agreement


def trend_chart_png(history: Sequence[RunReport], committed: Set[int] = frozenset()) -> bytes:
    """A line chart of the last runs (oldest first); hidden runs are gaps, never values.
    Runs whose digest led to a commitment (``committed``: run ids) get a ▼ at the top.

    Built with matplotlib's object API on the Agg canvas: no pyplot state, no display, safe
    to call from the scheduler's threads.
    """
    figure = Figure(figsize=(8, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(history)))
    index, level, agreement = _series(history)
    # The two factors thin and dashed, drawn first so the index line lies on top of them.
    lines = (
        (level, LEVEL_COLOUR, 1.4, "--", 3, "Level (× 100)"),
        (agreement, AGREEMENT_COLOUR, 1.4, ":", 3, "Agreement (× 100)"),
        (_pressure(history), PRESSURE_COLOUR, 1.2, "-", 3, "Pressure (context, 1–5 as 0–100)"),
        (index, INDEX_COLOUR, 2.6, "-", 5, "Coherence index"),
    )
    for values, colour, width, style, size, label in lines:
        axes.plot(
            positions,
            values,
            color=colour,
            linewidth=width,
            linestyle=style,
            marker="o",
            markersize=size,
            label=label,
        )
    for position, report in zip(positions, history, strict=True):
        if report.shown is None:
            axes.axvspan(position - 0.4, position + 0.4, color="#bbbbbb", alpha=0.25, linewidth=0)
        if report.wording_changed:
            axes.axvline(position, color="#888888", linewidth=0.8, linestyle="-.")
        if report.run_id in committed:
            axes.plot([position], [97], marker="v", color=COMMITMENT_COLOUR, markersize=8)
    axes.set_ylim(0, 100)
    axes.set_xlim(-0.5, max(len(history) - 0.5, 0.5))
    axes.set_xticks(positions)
    axes.set_xticklabels([f"{r.occurrence_day:%-d %b}" for r in history], fontsize=8)
    axes.set_ylabel("0–100")
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_title(
        "Coherence index and its two factors (grey: hidden, too few answers; ▼ commitment)",
        fontsize=10,
        loc="left",
    )
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8, frameon=False, ncols=2)
    # Fixed margins where tight_layout measured every label first: the layout is the same for
    # every chart (12 date labels, a two-row legend), and measuring cost a third of the time.
    figure.subplots_adjust(**MARGINS)
    buffer = io.BytesIO()
    # Fastest zlib level: the chart is a few flat colours, so the file grows by little.
    figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()
