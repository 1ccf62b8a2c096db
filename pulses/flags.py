"""Plain-language findings that the weekly digest leads with, each with its evidence.

A flag is raised by a decision rule of `pulses.signals` whose false-alarm rate is known: each
flag type may fire on a stable team in at most `FlagThresholds.false_alarm` of runs (1%),
split by Bonferroni over the dimensions or priorities it tests. `make validity` measures the
rates. This module holds what a flag is, the knobs of the rules and the words they use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pulses.i18n import SOURCE_LOCALE, _, current, ngettext, number
from pulses.samples import OTHER

FlagKind = Literal[
    "drift_gain",
    "drift_loss",
    "adoption",
    "intent_gap",
    "level_drop",
    "fragmented",
    "layer_divergence",
    "low_response",
]
Severity = Literal["high", "medium", "low"]
SEVERITY_ORDER: dict[Severity, int] = {"high": 0, "medium": 1, "low": 2}
# The kinds that claim something changed or differs; the others report facts.
SIGNAL_KINDS: frozenset[FlagKind] = frozenset(
    {"drift_gain", "drift_loss", "intent_gap", "level_drop", "fragmented", "layer_divergence"}
)


@dataclass(frozen=True)
class FlagThresholds:
    """The knobs of the decision rules (override with COHERENCE_FLAG_THRESHOLDS).

    false_alarm: the share of a stable team's runs in which one flag type may fire by chance
        (0.008: the 1% target less a margin for chance); each rule divides it over the
        subjects it tests (Bonferroni).
    rating_false_alarm: the same budget for the level and agreement rules (0.007): they pool
        the run-to-run noise over the dimensions, which is a little optimistic when the
        dimensions' noise differs, so their budget keeps a wider margin.
    trend_false_alarm: the same for the index's trend arrow (0.01).
    drift_divergence: the smallest move of attention worth naming even when it is beyond the
        noise, as a Jensen–Shannon divergence in bits (0.01); keeps a large team's tiny but
        significant moves out of the digest.
    intent_gap: the same floor for attention against the declared intent (0.01).
    low_response_rate: response rate below which the run is noted as thinly answered (0.60).
    history_runs: how many earlier runs form an attention rule's baseline (8).
    rating_history_runs: the same for a rating rule (12): it reads one figure per run, so a
        longer baseline measures their run-to-run noise better.
    window_runs: how many recent runs (this one included) a rating rule compares with the
        baseline before them (3): a fall spread over three pulses is seen three times.
    window_share: the share of a rating rule's budget spent on that window comparison (0.75);
        the rest goes to this run alone against the runs before it.
    min_baseline_runs: below this many earlier runs a rule says "too few answers to tell" (2).
    min_answers: below this many answers in the runs a rule compares, the same (5).
    """

    false_alarm: float = 0.008
    rating_false_alarm: float = 0.007
    trend_false_alarm: float = 0.01
    drift_divergence: float = 0.01
    intent_gap: float = 0.01
    low_response_rate: float = 0.60
    history_runs: int = 8
    rating_history_runs: int = 12
    window_runs: int = 3
    window_share: float = 0.9
    min_baseline_runs: int = 2
    min_answers: int = 5


DEFAULT_THRESHOLDS = FlagThresholds()


@dataclass(frozen=True)
class Flag:
    """One finding: ``subject`` is the priority key, dimension key or layer pair it is about.

    ``evidence`` says in plain words why it is beyond the noise ("p < .01, 20 answers over the
    last 3 pulses against 54 over the 8 before").
    """

    kind: FlagKind
    severity: Severity
    subject: str
    message: str
    numbers: dict[str, float] = field(default_factory=dict)
    evidence: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "evidence": self.evidence,
            "numbers": dict(self.numbers),
        }

    @property
    def text(self) -> str:
        """The message with its evidence, as the digest shows it."""
        return f"{self.message} _({self.evidence})_" if self.evidence else self.message


def by_severity(flags: list[Flag]) -> list[Flag]:
    return sorted(flags, key=lambda flag: SEVERITY_ORDER[flag.severity])


def percent(share: float) -> int:
    # Half-up rounding, so that the printed points always equal the printed shares' difference.
    return math.floor(share * 100 + 0.5)


def signed(points: int) -> str:
    return f"+{points}" if points >= 0 else f"-{-points}"


def priority_name(key: str, names: Mapping[str, str]) -> str:
    if key in names:
        return names[key]
    return _("something else") if key == OTHER else key


def p_text(p: float) -> str:
    """A p-value as a reader meets it: "p < .001", "p < .01", "p = .03" (in English; the
    locale's numbers elsewhere, "p = 0,03")."""
    if p < 0.01:
        bound = 0.001 if p < 0.001 else 0.01
        return "p < " + _p_number(bound, 3 if bound < 0.01 else 2)
    return "p = " + _p_number(p, 2)


def _p_number(value: float, digits: int) -> str:
    if current().locale == SOURCE_LOCALE:
        # The APA style English readers know: no leading zero.
        return f"{value:.{digits}f}".replace("0.", ".", 1)
    return number(value, digits)


def pulses_phrase(runs: int) -> str:
    return ngettext("the previous pulse", "the previous {n} pulses", runs).format(n=runs)


def window_phrase(runs: int) -> str:
    return ngettext("this pulse", "the last {n} pulses", runs).format(n=runs)


def severity_of(p: float, alpha: float) -> Severity:
    """High when the evidence is ten times stronger than the rule asks, else medium."""
    return "high" if p < alpha / 10 else "medium"


def response_flag(n_invited: int, n_responded: int, thresholds: FlagThresholds) -> list[Flag]:
    """A note, not a test: fewer than `low_response_rate` of the invited leaders answered."""
    if n_invited <= 0:
        return []
    rate = n_responded / n_invited
    if not rate < thresholds.low_response_rate - 1e-9:
        return []
    return [
        Flag(
            kind="low_response",
            severity="medium" if rate < thresholds.low_response_rate / 2 else "low",
            subject="response_rate",
            message=_(
                "Only {answered} of {invited} leaders answered ({share}%), so this week's "
                "picture is partial."
            ).format(answered=n_responded, invited=n_invited, share=percent(rate)),
            numbers={
                "response_rate": rate,
                "n_responded": n_responded,
                "n_invited": n_invited,
            },
        )
    ]
