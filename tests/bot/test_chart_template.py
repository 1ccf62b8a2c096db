"""The trend chart drawn from a kept template: each chart shows only its own runs."""

from __future__ import annotations

import io
import threading
from datetime import date, timedelta

from PIL import Image

from bot.views.chart import trend_chart_png
from pulses.metrics import RunInput, compute_run_metrics
from pulses.privacy import Suppressed
from pulses.reports import RunReport

START = date(2026, 1, 5)
# How far a colour may move in the chart's palette (bot.views.chart.PALETTE_COLOURS).
PALETTE_ROUNDING = 4


def _report(week: int, score: int, *, hidden: bool = False, wording: bool = False) -> RunReport:
    data = RunInput(
        n_invited=6,
        item_counts={"alignment": {score: 4, min(5, score + 1): 2}},
        focus_counts={},
        priority_weights={},
        previous_focus_counts=(),
        n_responded=6,
    )
    return RunReport(
        run_id=100 + week,
        occurrence_day=START + timedelta(weeks=week),
        metrics=Suppressed(threshold=5) if hidden else compute_run_metrics(data),
        wording_changed=("alignment",) if wording else (),
    )


def _fresh(history: list[RunReport], committed: frozenset[int] = frozenset()) -> bytes:
    """The chart from a thread of its own, whose templates are new."""
    found: list[bytes] = []
    thread = threading.Thread(target=lambda: found.append(trend_chart_png(history, committed)))
    thread.start()
    thread.join()
    return found[0]


def _pixels(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _rgb(image: Image.Image, x: int, y: int) -> tuple[int, ...]:
    pixel = image.convert("RGB").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return pixel


def _near(found: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    """The colour as the chart's 64-colour palette gives it back: within a few levels."""
    return all(abs(a - b) <= PALETTE_ROUNDING for a, b in zip(found, colour, strict=True))


def test_a_chart_after_others_is_the_chart_drawn_on_its_own() -> None:
    plain = [_report(week, 2 + week % 3) for week in range(12)]
    marked = [_report(week + 1, 4, hidden=week == 5, wording=week == 7) for week in range(12)]
    first = trend_chart_png(plain)
    # Another chart with a grey span, a wording line, a commitment and other dates...
    other = trend_chart_png(marked, frozenset({marked[2].run_id}))
    assert other != first
    # ...leaves nothing behind: the same runs draw the same pixels, as a new template does.
    assert trend_chart_png(plain) == first
    assert _fresh(plain) == first
    assert trend_chart_png(marked, frozenset({marked[2].run_id})) == other
    assert _fresh(marked, frozenset({marked[2].run_id})) == other


def test_a_hidden_run_is_a_grey_gap_and_other_runs_are_drawn() -> None:
    history = [_report(week, 3, hidden=week == 6) for week in range(12)]
    hidden = _pixels(trend_chart_png(history))
    shown = _pixels(trend_chart_png([_report(week, 3) for week in range(12)]))
    assert hidden.size == shown.size == (880, 396)
    # The sixth run sits at x ≈ 500 (the axes span x ≈ 66-867 for 12 runs); y 205 is 30 on
    # the 0-100 scale, between the grid lines and below the lines drawn.
    assert _near(_rgb(shown, 500, 205), (255, 255, 255))
    assert _near(_rgb(hidden, 500, 205), (237, 237, 237))
    # The runs beside it are drawn in both: the index line at 50 (y ≈ 158) in its colour.
    for image in (hidden, shown):
        assert _near(_rgb(image, 433, 157), (0x1F, 0x4E, 0x79))
    assert _near(_rgb(shown, 500, 157), (0x1F, 0x4E, 0x79))
    assert not _near(_rgb(hidden, 500, 157), (0x1F, 0x4E, 0x79))


def test_charts_of_any_length_are_pngs() -> None:
    for runs in (0, 1, 2, 14):
        png = trend_chart_png([_report(week, 3) for week in range(runs)])
        assert _pixels(png).size == (880, 396)
