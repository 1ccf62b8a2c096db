"""The organisation at a glance: groups (rows, by layer) × dimensions, the index and pressure.

Each cell's colour is the level of the group's latest closed run and its dot's size the
agreement behind it. A group whose run is hidden (too few answers) is a row of blank cells
labelled as such, with no figure at all. `heatmap_lines` says the same for screen readers.
matplotlib is imported by `heatmap_png` only, so loading this module costs nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final

from bot.i18n import N_, _, day, number, speaking
from pulses.dimensions import dimension_keys, dimension_name
from pulses.organisation import OrgDigest
from pulses.reports import RunReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Marked here, translated where shown.
INDEX: Final = N_("Index")
PRESSURE: Final = N_("Pressure")
HIDDEN: Final = N_("hidden: too few answers")
HEATMAP_TITLE: Final = N_(
    "*At a glance* (each group's latest pulse; the heatmap image is in the thread)"
)
BLANK_COLOUR: Final = "#ffffff"
HIDDEN_COLOUR: Final = "#eeeeee"


@dataclass(frozen=True)
class Cell:
    """``level`` 0–1 colours the cell, ``agreement`` 0–1 sizes its dot; None leaves it blank."""

    level: float | None
    text: str
    agreement: float | None = None


@dataclass(frozen=True)
class Row:
    group: str
    layer: str | None
    day: date | None
    cells: tuple[Cell, ...]  # empty when hidden
    hidden: bool = False

    @property
    def label(self) -> str:
        return f"#{self.group}" + (f" · {self.layer}" if self.layer else "")


@dataclass(frozen=True)
class Heatmap:
    columns: tuple[str, ...]  # dimension names, then INDEX and PRESSURE
    rows: tuple[Row, ...]


def _cells(report: RunReport, keys: tuple[str, ...]) -> tuple[Cell, ...]:
    metrics = report.shown
    assert metrics is not None
    cells = []
    for key in keys:
        stats = metrics.items.get(key)
        if stats is None or stats.mean is None:
            cells.append(Cell(None, "–"))
        else:
            cells.append(Cell((stats.mean - 1) / 4, number(stats.mean, 1), stats.rwg))
    index = metrics.coherence_index
    cells.append(
        Cell(None, "–") if index is None else Cell(index / 100, number(index, 0), metrics.agreement)
    )
    pressure = report.pressure
    cells.append(
        Cell(None, "–")
        if pressure is None
        else Cell((pressure.level - 1) / 4, number(pressure.level, 1), pressure.agreement)
    )
    return tuple(cells)


def heatmap_of(digest: OrgDigest) -> Heatmap:
    """One row per group with a closed run, in the digest's order (by layer, then name)."""
    reports = [(c.group, c.latest) for c in digest.groups if c.latest is not None]
    asked = {key for _, r in reports if r.shown is not None for key in r.shown.items}
    # The registry's order first, then any statement an admin added.
    keys = tuple(k for k in dimension_keys() if k in asked) + tuple(
        sorted(asked - set(dimension_keys()))
    )
    rows = []
    for group, report in reports:
        hidden = report.shown is None
        rows.append(
            Row(
                group=group.name,
                layer=group.layer,
                day=report.occurrence_day,
                cells=() if hidden else _cells(report, keys),
                hidden=hidden,
            )
        )
    columns = (*(_(dimension_name(k)) for k in keys), _(INDEX), _(PRESSURE))
    return Heatmap(columns=columns, rows=tuple(rows))


def heatmap_lines(heatmap: Heatmap) -> list[str]:
    """Each row in words, for screen readers: every figure the image shows, and no other."""
    lines = []
    for row in heatmap.rows:
        if row.hidden:
            lines.append(f"*{row.label}*: {_(HIDDEN)}")
            continue
        when = f" ({day(row.day, 'date')})" if row.day else ""
        parts = []
        for column, cell in zip(heatmap.columns, row.cells, strict=True):
            agreement = (
                ""
                if cell.agreement is None
                else " " + _("(agreement {value})").format(value=number(cell.agreement))
            )
            parts.append(f"{column} {cell.text}{agreement}")
        lines.append(f"*{row.label}*{when}: " + " · ".join(parts))
    return lines


def heatmap_figure(heatmap: Heatmap) -> Figure:
    """The heatmap drawn with matplotlib's object API on the Agg canvas (thread-safe)."""
    # Levels as a diverging scale: red low, yellow middling, green high; pressure (context,
    # not part of the index) in its own purple scale so it is never read as coherence.
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    levels, pressure_scale = colormaps["RdYlGn"], colormaps["Purples"]
    n_rows, n_columns = len(heatmap.rows), len(heatmap.columns)
    figure = Figure(figsize=(1.6 + 1.05 * n_columns, 1.3 + 0.55 * max(n_rows, 1)), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for y, row in enumerate(heatmap.rows):
        if row.hidden:
            axes.add_patch(
                Rectangle(
                    (-0.5, y - 0.5),
                    n_columns,
                    1,
                    facecolor=HIDDEN_COLOUR,
                    hatch="//",
                    edgecolor="#cccccc",
                    linewidth=0,
                )
            )
            axes.text(
                (n_columns - 1) / 2,
                y,
                _(HIDDEN),
                ha="center",
                va="center",
                fontsize=9,
                color="#555555",
                style="italic",
            )
            continue
        for x, cell in enumerate(row.cells):
            scale = pressure_scale if heatmap.columns[x] == PRESSURE else levels
            colour = BLANK_COLOUR if cell.level is None else scale(cell.level)
            axes.add_patch(
                Rectangle(
                    (x - 0.5, y - 0.5), 1, 1, facecolor=colour, edgecolor="white", linewidth=1.5
                )
            )
            # White on the scales' dark ends, so the figure stays readable.
            dark = cell.level is not None and not 0.15 < cell.level < 0.85
            ink = "white" if dark else "black"
            axes.text(x - 0.22, y, cell.text, ha="center", va="center", fontsize=9, color=ink)
            if cell.agreement is not None:
                # Dot area in proportion to agreement: a full dot is a unanimous group.
                axes.scatter(
                    [x + 0.25], [y], s=12 + 110 * cell.agreement, color="#222222", linewidths=0
                )
    # Layers apart by a line, as rows are ordered by layer.
    for y in range(1, n_rows):
        if heatmap.rows[y].layer != heatmap.rows[y - 1].layer:
            axes.axhline(y - 0.5, color="#333333", linewidth=1.2)
    axes.set_xlim(-0.5, n_columns - 0.5)
    axes.set_ylim(n_rows - 0.5, -0.5)
    axes.set_xticks(range(n_columns))
    axes.set_xticklabels(heatmap.columns, fontsize=8)
    axes.xaxis.tick_top()
    axes.set_yticks(range(n_rows))
    axes.set_yticklabels([row.label for row in heatmap.rows], fontsize=8)
    axes.tick_params(length=0)
    for side in axes.spines.values():
        side.set_visible(False)
    axes.set_title(
        _(
            "Latest pulse per group: colour = level (red low, green high; pressure in purple), "
            "dot = agreement"
        ),
        fontsize=8,
        loc="left",
        pad=22,
    )
    figure.tight_layout()
    return figure


def heatmap_png(heatmap: Heatmap) -> bytes:
    figure = heatmap_figure(heatmap)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def organisation_heatmap(digest: OrgDigest) -> tuple[bytes | None, str, str]:
    """The image posted in the organisation digest's thread: (PNG or None, filename, title),
    in the digest's language.

    None when no group has a closed run yet: an empty grid says nothing.
    """
    with speaking(org_language(digest)):
        heatmap = heatmap_of(digest)
        days = [row.day for row in heatmap.rows if row.day is not None]
        name = f"coherence-heatmap-{max(days).isoformat() if days else 'none'}.png"
        png = heatmap_png(heatmap) if heatmap.rows else None
        return png, name, _("Coherence heatmap")


def org_language(digest: OrgDigest) -> str | None:
    """The organisation digest speaks its groups' language when they all share one, else
    English, the catalogue's source."""
    languages = {column.group.language for column in digest.groups}
    return languages.pop() if len(languages) == 1 else None
