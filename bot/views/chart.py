"""The digest's trend chart: the coherence index and its two factors over the runs, and the
pressure leaders reported (context, not part of the index), as a PNG."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence, Set

from matplotlib import rcParams
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox, BboxBase, offset_copy
from PIL import Image

from bot.i18n import N_, _, day, speaking
from pulses.reports import RunReport

INDEX_COLOUR = "#1f4e79"
LEVEL_COLOUR = "#2e8b57"
AGREEMENT_COLOUR = "#d2691e"
PRESSURE_COLOUR = "#b22222"
# The axes' place in the figure (fractions of it): room for the title, the 0–100 label, the
# dates and the two-row legend below them, as tight_layout placed them.
MARGINS = {"left": 0.075, "right": 0.985, "top": 0.9, "bottom": 0.3}
COMMITMENT_COLOUR = "#6a3d9a"
HIDDEN_COLOUR = "#bbbbbb"  # drawn at a quarter's opacity
WORDING_COLOUR = "#888888"


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


_LINES = (
    # (colour, width, style, marker size, label): the two factors thin and dashed, drawn
    # first so the index line lies on top of them.
    (LEVEL_COLOUR, 1.4, "--", 3, N_("Level (× 100)")),
    (AGREEMENT_COLOUR, 1.4, ":", 3, N_("Agreement (× 100)")),
    (PRESSURE_COLOUR, 1.2, "-", 3, N_("Pressure (context, 1–5 as 0–100)")),
    (INDEX_COLOUR, 2.6, "-", 5, N_("Coherence index")),
)
# Rows of dates kept per template (a few a week: the runs' days differ between schedules).
DATE_ROWS_KEPT = 32
TITLE = N_("Coherence index and its two factors (grey: hidden, too few answers; ▼ commitment)")


# A copy of part of the canvas's pixels (matplotlib leaves the Agg canvas's copies untyped).
BufferRegion = object


class _Template:
    """A chart of ``runs`` runs drawn once without its data (axes, grid, title, legend, in the
    language being spoken), its pixels kept: each chart restores them and draws only its
    lines, marks and dates. Drawing the whole figure was most of a chart's cost, and nothing
    but those changes between two digests."""

    def __init__(self, runs: int) -> None:
        self.figure = Figure(figsize=(8, 3.6), dpi=110)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = axes = self.figure.add_subplot()
        self.lines = [
            axes.plot(
                [], [], color=colour, lw=width, ls=style, marker="o", ms=size, label=_(label)
            )[0]
            for colour, width, style, size, label in _LINES
        ]
        positions = list(range(runs))
        axes.set_ylim(0, 100)
        axes.set_xlim(-0.5, max(runs - 0.5, 0.5))
        axes.set_xticks(positions)
        # The dates are drawn with each chart (`_dates`); the ticks stay.
        axes.set_xticklabels(["" for _ in positions])
        axes.set_ylabel("0–100")
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.set_title(_(TITLE), fontsize=10, loc="left")
        axes.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8, frameon=False, ncols=2
        )
        # Fixed margins where tight_layout measured every label first: the layout is the same
        # for every chart (12 date labels, a two-row legend).
        self.figure.subplots_adjust(**MARGINS)
        self.canvas.draw()  # type: ignore[no-untyped-call]
        self.background = _copy(self.canvas, self.figure.bbox)
        self.palette = self._palette(runs)
        # Where tick labels go: below the axis by the ticks' length and padding.
        below = float(rcParams["xtick.major.size"]) + float(rcParams["xtick.major.pad"])
        self.date_place = offset_copy(
            axes.get_xaxis_transform(), fig=self.figure, y=-below, units="points"
        )
        # The row of dates as drawn, by its labels: most groups' runs fall on the same days.
        self.date_rows: dict[tuple[str, ...], BufferRegion] = {}

    def _palette(self, runs: int) -> Image.Image:
        """The chart's colours: the template with every kind of mark drawn on it once (each
        line, a grey span, a wording line, a commitment), reduced to `PALETTE_COLOURS`. Each
        chart is mapped onto it, which takes a seventh of finding its own palette."""
        axes = self.axes
        last = max(runs - 1, 1)
        marks: list[Artist] = [
            axes.axvspan(-0.4, 0.4, color=HIDDEN_COLOUR, alpha=0.25, linewidth=0),
            axes.axvline(last / 2, color=WORDING_COLOUR, linewidth=0.8, ls="-."),
            *axes.plot([last], [97], marker="v", color=COMMITMENT_COLOUR, ms=8),
        ]
        for number, line in enumerate(self.lines):
            line.set_data([0, last / 2, last], [20 + 20 * number, 80 - 15 * number, 50])
        try:
            for artist in [*marks, *self.lines]:
                self.figure.draw_artist(artist)
            palette = _image(self.canvas).quantize(
                PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE
            )
        finally:
            for artist in marks:
                artist.remove()
            for line in self.lines:
                line.set_data([], [])
            _restore(self.canvas, self.background)
        return palette

    def draw(self, history: Sequence[RunReport], committed: Set[int]) -> bytes:
        _restore(self.canvas, self.background)
        self._dates([day(report.occurrence_day, "date") for report in history])
        axes = self.axes
        marks: list[Artist] = []
        for position, report in enumerate(history):
            if report.shown is None:
                marks.append(
                    axes.axvspan(
                        position - 0.4, position + 0.4, color=HIDDEN_COLOUR, alpha=0.25, linewidth=0
                    )
                )
            if report.wording_changed:
                marks.append(axes.axvline(position, color=WORDING_COLOUR, linewidth=0.8, ls="-."))
        index, level, agreement = _series(history)
        positions = list(range(len(history)))
        for line, values in zip(
            self.lines, (level, agreement, _pressure(history), index), strict=True
        ):
            line.set_data(positions, values)
        for position, report in enumerate(history):
            if report.run_id in committed:
                marks += axes.plot([position], [97], marker="v", color=COMMITMENT_COLOUR, ms=8)
        try:
            # Grey spans and wording lines under the data lines, commitment marks on top, as
            # the figure's own drawing order (zorder) puts them.
            for artist in sorted([*marks, *self.lines], key=lambda a: a.get_zorder()):
                self.figure.draw_artist(artist)
        finally:
            for artist in marks:
                artist.remove()
        return _png(self.canvas, self.palette)

    def _dates(self, labels: Sequence[str]) -> None:
        """The dates under the ticks: drawn once per row of labels, then copied."""
        key = tuple(labels)
        row = self.date_rows.get(key)
        if row is not None:
            _restore(self.canvas, row)
            return
        texts = [
            Text(
                position,
                0,
                label,
                fontsize=8,
                ha="center",
                va="top",
                transform=self.date_place,
                figure=self.figure,
            )
            for position, label in enumerate(labels)
        ]
        for text in texts:
            self.figure.draw_artist(text)
        if not texts:
            return
        extent = Bbox.union([text.get_window_extent() for text in texts])
        # The whole width, a pixel more each way: below the ticks, above the legend.
        strip = Bbox.from_extents(0, extent.y0 - 1, self.figure.bbox.width, extent.y1 + 1)
        if len(self.date_rows) >= DATE_ROWS_KEPT:
            self.date_rows.pop(next(iter(self.date_rows)))
        self.date_rows[key] = _copy(self.canvas, strip)


def _copy(canvas: FigureCanvasAgg, box: BboxBase) -> BufferRegion:
    region: BufferRegion = canvas.copy_from_bbox(box)  # type: ignore[no-untyped-call]
    return region


def _restore(canvas: FigureCanvasAgg, region: BufferRegion) -> None:
    canvas.restore_region(region)  # type: ignore[no-untyped-call]


PALETTE_COLOURS = 64


def _image(canvas: FigureCanvasAgg) -> Image.Image:
    width, height = canvas.get_width_height()
    pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    return Image.frombuffer("RGBA", (width, height), pixels, "raw", "RGBA", 0, 1).convert("RGB")


def _png(canvas: FigureCanvasAgg, palette: Image.Image) -> bytes:
    # A chart is a few flat colours and their anti-aliased edges on an opaque background: 64
    # palette colours look the same, and a byte a pixel instead of four halves the time the
    # PNG takes to encode and cuts the upload to a third. Each pixel takes the nearest of the
    # template's colours, without dithering: flat colours stay flat.
    mapped = _image(canvas).quantize(palette=palette, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    mapped.save(buffer, format="png", compress_level=1)  # zlib's fastest level
    return buffer.getvalue()


# One template per thread and number of runs: a figure is not safe to draw from two threads.
_templates = threading.local()


def trend_chart_png(
    history: Sequence[RunReport], committed: Set[int] = frozenset(), language: str | None = None
) -> bytes:
    """A line chart of the last runs (oldest first); hidden runs are gaps, never values.
    Runs whose digest led to a commitment (``committed``: run ids) get a ▼ at the top.

    Built with matplotlib's object API on the Agg canvas: no pyplot state, no display, safe
    to call from the scheduler's threads (each keeps its own templates).
    """
    with speaking(language) as spoken:
        found: dict[tuple[int, str], _Template] = getattr(_templates, "by_runs", None) or {}
        _templates.by_runs = found
        # A template's words are drawn in its pixels: one per number of runs and language.
        key = (len(history), spoken.locale)
        template = found.get(key)
        if template is None:
            template = found[key] = _Template(len(history))
        return template.draw(history, committed)
