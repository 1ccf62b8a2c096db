"""Pressure per run: the pressure item's level and agreement, context next to the index.

The pressure item ("This week, my area was under heavy pressure …", 1–5) is never part of the
coherence index, rwg(j) or any dimension figure (`storage.queries` keeps its answers apart).
For a run that may be shown it gives the **pressure level** (the mean answer, 1–5) and the
**pressure agreement** (the item's rwg), and — only when both sub-groups reach the anonymity
threshold — the leaders who report high pressure (4 or 5) against the rest: their agreement
(mean rwg over the dimensions) and focus alignment (mean share on their most-attended
priority).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from pulses.agreement import agreement, item_stats
from pulses.focus import focus_alignment, focus_distribution
from pulses.samples import LeaderAnswer, RunSample

HIGH_PRESSURE = 4


@dataclass(frozen=True)
class SubGroup:
    """A within-run sub-group's figures."""

    n: int
    agreement: float | None
    focus_alignment: float | None


@dataclass(frozen=True)
class PressureSplit:
    """Leaders reporting high pressure (≥ `HIGH_PRESSURE`) against the rest, in one run."""

    high: SubGroup
    rest: SubGroup

    def to_dict(self) -> dict[str, object]:
        return {"high_pressure": asdict(self.high), "rest": asdict(self.rest)}


@dataclass(frozen=True)
class RunPressure:
    """A shown run's pressure: context, never part of the index."""

    n: int  # answers to the pressure item
    level: float  # mean answer, 1–5
    agreement: float | None  # the item's rwg; None below two answers
    split: PressureSplit | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "level": self.level,
            "agreement": self.agreement,
            "high_vs_rest": None if self.split is None else self.split.to_dict(),
        }


def _sub_group(answers: Sequence[LeaderAnswer]) -> SubGroup:
    keys = sorted({key for answer in answers for key in answer.scores})
    rwgs = [
        item_stats(Counter(a.scores[key] for a in answers if key in a.scores)).rwg for key in keys
    ]
    totals: Counter[str] = Counter()
    for answer in answers:
        totals.update(answer.attention)
    return SubGroup(
        n=len(answers),
        agreement=agreement(rwgs),
        focus_alignment=focus_alignment(focus_distribution(dict(totals))) if totals else None,
    )


def run_pressure(sample: RunSample, threshold: int) -> RunPressure | None:
    """The run's pressure figures, or None when fewer than ``threshold`` answered the item.

    Call it only for a run that may be shown; the high-pressure comparison is left out unless
    both sub-groups have at least ``threshold`` leaders.
    """
    answered = [a for a in sample.answers if a.pressure is not None]
    if not answered or len(answered) < threshold:
        return None
    stats = item_stats(Counter(a.pressure for a in answered if a.pressure is not None))
    assert stats.mean is not None
    high = [a for a in answered if (a.pressure or 0) >= HIGH_PRESSURE]
    rest = [a for a in answered if (a.pressure or 0) < HIGH_PRESSURE]
    split = None
    if len(high) >= threshold and len(rest) >= threshold:
        split = PressureSplit(high=_sub_group(high), rest=_sub_group(rest))
    return RunPressure(n=len(answered), level=stats.mean, agreement=stats.rwg, split=split)
