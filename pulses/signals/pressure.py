"""Coherence under pressure: the coherence gap between a group's more and less pressured runs.

Pure: no database, no Slack. Over a group's last shown runs that asked the pressure item (a
window of 12), the runs are ranked by their pressure level (the mean answer to the pressure
item, 1–5) and split where their pressure levels part most: the cut that leaves the least
spread of pressure within each side (the smallest sum of squared deviations from each side's
mean; each side at least `MIN_SIDE` runs; of equal cuts the first, ranking ties by date, the
later run as more pressured). The runs above the cut are the *more pressured* runs, those
below the *calmer* runs. The **coherence gap** is the mean coherence index of the more pressured
runs minus that of the calmer runs, in index points: negative when coherence falls under
pressure. Its 90% interval is Welch's (Student t with Satterthwaite's degrees of freedom on
the two halves' run indices), which treats each run's index as one independent measurement.

- "breaks under pressure": the gap is below 0 at one-sided p < the flag budget (0.008, the
  trustworthy-signals budget per flag type), by the same Welch t;
- "holds under pressure": the interval's lower end is above −`MEANINGFUL_GAP` index points;
- neither: the evidence does not tell; with fewer than `MIN_RUNS` runs, or pressure that
  barely differs between the halves (less than `MIN_PRESSURE_SPREAD` points), no verdict.

The same split gives the gaps in agreement (mean rwg) and focus alignment, with their
intervals, as context without a flag.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from statistics import fmean
from typing import Final, Literal

# scipy (about 65 MiB) is imported inside the functions that use it, so a process that has
# not computed a signal yet, such as a bot just started, does not carry it.

WINDOW_RUNS: Final = 12
MIN_RUNS: Final = 8
CONFIDENCE: Final = 0.90
FALSE_ALARM: Final = 0.008
# A fall of less than this many index points under pressure is not a meaningful one.
MEANINGFUL_GAP: Final = 10.0
# The halves must differ in pressure by this many points (1–5 scale) to compare them.
MIN_PRESSURE_SPREAD: Final = 0.5
# Each side of the split has at least this many runs.
MIN_SIDE: Final = 3

Verdict = Literal["breaks", "holds", "unclear", "flat", "too_few"]


@dataclass(frozen=True)
class PressurePoint:
    """One shown run as the gap reads it: its pressure level and its figures."""

    day: date
    pressure: float  # mean pressure answer, 1–5
    coherence_index: float
    agreement: float | None = None
    focus_alignment: float | None = None


@dataclass(frozen=True)
class Gap:
    """A difference of means, more pressured minus calmer runs, with its 90% interval.

    ``low``/``high`` are None when either half has fewer than two values.
    """

    estimate: float
    low: float | None
    high: float | None
    p_fall: float | None  # one-sided p that the figure is lower in the more pressured runs

    def to_dict(self) -> dict[str, float | None]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "p": self.p_fall}


@dataclass(frozen=True)
class PressureGap:
    """A group's coherence under pressure over its last shown runs."""

    runs: int  # shown runs with a pressure level in the window
    needed: int
    verdict: Verdict
    pressured_runs: int = 0
    calm_runs: int = 0
    pressured_level: float | None = None  # mean pressure of the more pressured runs
    calm_level: float | None = None
    index: Gap | None = None
    agreement: Gap | None = None
    focus_alignment: Gap | None = None

    @property
    def shown(self) -> bool:
        """Whether there are enough runs for the figure to mean something."""
        return self.verdict != "too_few"

    def to_dict(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "runs_needed": self.needed,
            "verdict": self.verdict,
            "confidence": CONFIDENCE,
            "pressured_runs": self.pressured_runs,
            "calm_runs": self.calm_runs,
            "pressured_level": self.pressured_level,
            "calm_level": self.calm_level,
            "coherence_gap": None if self.index is None else self.index.to_dict(),
            "agreement_gap": None if self.agreement is None else self.agreement.to_dict(),
            "focus_alignment_gap": None
            if self.focus_alignment is None
            else self.focus_alignment.to_dict(),
        }


def welch_gap(high: Sequence[float], low: Sequence[float], confidence: float = CONFIDENCE) -> Gap:
    """mean(high) − mean(low) with its Welch interval and one-sided p of a fall."""
    # Student's t from scipy.special, which `scipy.stats.t` calls itself (the same floats):
    # a digest draws three gaps as it is laid out, and the distribution object's argument
    # handling took ten times the function's own work (and loading scipy.stats, the drawing
    # process a second at its start).
    from scipy import special

    estimate = fmean(high) - fmean(low)
    if len(high) < 2 or len(low) < 2:
        return Gap(estimate=estimate, low=None, high=None, p_fall=None)
    a, b = variance(high) / len(high), variance(low) / len(low)
    se = math.sqrt(a + b)
    if se == 0:
        p = 0.0 if estimate < 0 else 1.0
        return Gap(estimate=estimate, low=estimate, high=estimate, p_fall=p)
    df = (a + b) ** 2 / (a**2 / (len(high) - 1) + b**2 / (len(low) - 1))
    margin = float(special.stdtrit(df, 0.5 + confidence / 2)) * se
    p_fall = float(special.stdtr(df, estimate / se))
    return Gap(estimate=estimate, low=estimate - margin, high=estimate + margin, p_fall=p_fall)


def variance(values: Sequence[float]) -> float:
    """The sample variance, exact and then rounded once: `statistics.variance` to the last
    bit (the gap's intervals and `make validity` were measured with it) in an eighth of its
    time. That one sums fractions; but a float is an integer over a power of two, so scaled
    by the largest of those powers every sum is an integer, and Python divides integers
    rounding once, as a fraction's conversion does. A digest's three gaps take six variances
    as it is laid out."""
    try:
        ratios = [value.as_integer_ratio() for value in values]
    except (ValueError, OverflowError):  # NaN or infinity: what statistics makes of them
        return statistics.variance(values)
    if len(ratios) < 2:
        return statistics.variance(values)  # its error
    scale = max(denominator for _, denominator in ratios)
    scaled = [numerator * (scale // denominator) for numerator, denominator in ratios]
    n = len(scaled)
    total = sum(scaled)
    squares = sum(x * x for x in scaled)
    return (n * squares - total * total) / (n * (n - 1) * scale * scale)


def _squares(values: Sequence[float]) -> float:
    mean = fmean(values)
    return sum((v - mean) ** 2 for v in values)


def split(
    points: Sequence[PressurePoint], min_side: int = MIN_SIDE
) -> tuple[list[PressurePoint], list[PressurePoint]]:
    """(more pressured, calmer): the runs above and below the cut where pressure parts most.

    Needs at least ``2 × min_side`` points.
    """
    ranked = sorted(points, key=lambda p: (p.pressure, p.day))
    levels = [p.pressure for p in ranked]
    if len(ranked) < 2 * min_side:
        raise ValueError(f"a split needs {2 * min_side} runs, got {len(ranked)}")
    cut = min(
        range(min_side, len(ranked) - min_side + 1),
        key=lambda k: _squares(levels[:k]) + _squares(levels[k:]),
    )
    return ranked[cut:], ranked[:cut]


def _optional_gap(high: Sequence[float | None], low: Sequence[float | None]) -> Gap | None:
    a = [v for v in high if v is not None]
    b = [v for v in low if v is not None]
    return welch_gap(a, b) if a and b else None


def pressure_gap(
    points: Sequence[PressurePoint],
    *,
    window: int = WINDOW_RUNS,
    min_runs: int = MIN_RUNS,
    false_alarm: float = FALSE_ALARM,
) -> PressureGap:
    """The coherence gap over the last ``window`` of ``points`` (oldest first, shown runs
    only) and its verdict."""
    recent = list(points)[-window:] if window > 0 else []
    if len(recent) < min_runs:
        return PressureGap(runs=len(recent), needed=min_runs, verdict="too_few")
    pressured, calm = split(recent)
    index = welch_gap([p.coherence_index for p in pressured], [p.coherence_index for p in calm])
    pressured_level = fmean(p.pressure for p in pressured)
    calm_level = fmean(p.pressure for p in calm)
    verdict: Verdict
    if pressured_level - calm_level < MIN_PRESSURE_SPREAD:
        verdict = "flat"
    elif index.p_fall is not None and index.p_fall < false_alarm:
        verdict = "breaks"
    elif index.low is not None and index.low > -MEANINGFUL_GAP:
        verdict = "holds"
    else:
        verdict = "unclear"
    return PressureGap(
        runs=len(recent),
        needed=min_runs,
        verdict=verdict,
        pressured_runs=len(pressured),
        calm_runs=len(calm),
        pressured_level=pressured_level,
        calm_level=calm_level,
        index=index,
        agreement=_optional_gap([p.agreement for p in pressured], [p.agreement for p in calm]),
        focus_alignment=_optional_gap(
            [p.focus_alignment for p in pressured], [p.focus_alignment for p in calm]
        ),
    )
