"""Rules on where leaders put their attention: drift, adoption of a declared change, intent.

Attention is each leader's shares over the declared priorities and "something else" (a
single-choice answer is share 1.0 on one key, so old runs read the same way). A run is judged
against the intent declared when it ran:

- **drift**: this run's mean share on a priority differs from its mean over the earlier runs
  under the same declared intent (two-sided; Fisher's exact test for single choices, Student t
  for shares), Bonferroni over the priorities tested;
- **adoption**: when the declared intent changed since the baseline, the move is split into
  the part along the declared change (reported as the team *adopting* it, with how far it
  went) and the rest, which alone is tested as drift;
- **intent gap**: this run's mean share on a declared priority differs from its declared share
  (exact binomial test for single choices, Student t with the within-run variance pooled over
  the runs under this intent), Bonferroni over the declared priorities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pulses.flags import (
    Flag,
    FlagThresholds,
    p_text,
    percent,
    priority_name,
    pulses_phrase,
    severity_of,
    signed,
)
from pulses.focus import js_divergence
from pulses.i18n import _, number
from pulses.samples import RunSample
from pulses.signals import arrays
from pulses.signals.stats import Vector, share_differs_from, share_moved


@dataclass(frozen=True)
class Verdict:
    """What a rule found: its flags, or why it could not tell."""

    flags: tuple[Flag, ...] = ()
    undecided: str | None = None


def _distribution(keys: Sequence[str], means: Vector) -> dict[str, float]:
    return {key: float(share) for key, share in zip(keys, means, strict=True) if share > 0}


def _divergence(keys: Sequence[str], a: Vector, b: Vector) -> float:
    p, q = _distribution(keys, a), _distribution(keys, b)
    return js_divergence(p, q) if p and q else 0.0


def _baselines(
    current: RunSample, history: Sequence[RunSample], thresholds: FlagThresholds
) -> tuple[list[RunSample], list[RunSample]]:
    """(earlier runs under this run's intent, runs under the intent before it), most recent
    first, each at most `history_runs` long, runs without focus answers left out."""
    runs = [run for run in history if arrays.has_attention(run)]
    same: list[RunSample] = []
    index = 0
    while index < len(runs) and arrays.same_intent(runs[index].declared, current.declared):
        same.append(runs[index])
        index += 1
    before: list[RunSample] = []
    if index < len(runs):
        intent = runs[index].declared
        while index < len(runs) and arrays.same_intent(runs[index].declared, intent):
            before.append(runs[index])
            index += 1
    return same[: thresholds.history_runs], before[: thresholds.history_runs]


def _moved_flags(
    keys: Sequence[str],
    before: Vector,
    after: Vector,
    ps: Sequence[float],
    alpha: float,
    evidence_tail: str,
    since: str,
    names: Mapping[str, str],
) -> list[Flag]:
    flags = []
    for index, key in enumerate(keys):
        p = ps[index]
        if not p < alpha:
            continue
        share_before, share_after = float(before[index]), float(after[index])
        gain = share_after > share_before
        b, a = percent(share_before), percent(share_after)
        shares = _("{before}% → {after}% of leaders' attention ({change} pts) {since}").format(
            before=b, after=a, change=signed(a - b), since=since
        )
        name = priority_name(key, names)
        flags.append(
            Flag(
                kind="drift_gain" if gain else "drift_loss",
                severity=severity_of(p, alpha),
                subject=key,
                message=(
                    _("Attention moved to *{name}*: {shares}.")
                    if gain
                    else _("Attention moved away from *{name}*: {shares}.")
                ).format(name=name, shares=shares),
                numbers={
                    "before": share_before,
                    "after": share_after,
                    "change": share_after - share_before,
                    "p": p,
                },
                evidence=f"{p_text(p)}{evidence_tail}",
            )
        )
    return flags


def drift(
    current: RunSample,
    history: Sequence[RunSample],
    thresholds: FlagThresholds,
    names: Mapping[str, str],
) -> Verdict:
    """Drift and adoption findings of this run (see the module's rules)."""
    if not arrays.has_attention(current):
        return Verdict()
    same, before = _baselines(current, history, thresholds)
    # The first `window_runs` pulses under a newly declared intent are judged against the
    # intent before it: their move towards the new declaration is adoption, not drift.
    adopting = len(same) < thresholds.window_runs and bool(before)
    window = [current, *same] if adopting else [current]
    baseline = before if adopting else same
    keys = arrays.attention_keys([*window, *baseline])
    now, then = arrays.attention(window, keys), arrays.attention(baseline, keys)
    if len(baseline) < thresholds.min_baseline_runs or len(then) < 2 * thresholds.min_answers:
        return Verdict(undecided=_("drift: too few earlier pulses to tell"))
    if len(now) < min(3, thresholds.min_answers):
        return Verdict(undecided=_("drift: too few answers to tell"))
    after, earlier = now.mean(axis=0), then.mean(axis=0)
    tested = [i for i in range(len(keys)) if after[i] > 0 or earlier[i] > 0]
    alpha = thresholds.false_alarm / max(1, len(tested))
    found: list[Flag] = []
    progress = 0.0
    if adopting:
        declared_now = np.array([current.declared.get(k, 0.0) for k in keys])
        declared_then = np.array([baseline[0].declared.get(k, 0.0) for k in keys])
        change = declared_now - declared_then
        moved = after - earlier
        progress = float(moved @ change / (change @ change))
        # Only the movement the declared change did not ask for is tested as drift.
        now = now - min(1.0, max(0.0, progress)) * change
        found.append(_adoption(current, keys, earlier, after, declared_now, progress, names))
    residual_after = now.mean(axis=0)
    # Below the divergence gate no priority is tested: its p-values would never be read.
    if _divergence(keys, residual_after, earlier) < thresholds.drift_divergence:
        return Verdict(flags=tuple(found))
    ps = [share_moved(then[:, i], now[:, i]) if i in tested else 1.0 for i in range(len(keys))]
    tail = _(", {now} answers against {then} over {pulses}, corrected for {n} priorities").format(
        now=len(now), then=len(then), pulses=pulses_phrase(len(baseline)), n=len(tested)
    )
    since = (
        _("beyond the declared change")
        if adopting
        else _("since {pulses}").format(pulses=pulses_phrase(len(baseline)))
    )
    found += _moved_flags(keys, earlier, residual_after, ps, alpha, tail, since, names)
    return Verdict(flags=tuple(found))


def _adoption(
    current: RunSample,
    keys: Sequence[str],
    earlier: Vector,
    after: Vector,
    declared: Vector,
    progress: float,
    names: Mapping[str, str],
) -> Flag:
    # The priority the declared change moved most, and where its attention stands.
    index = int(np.argmax(np.abs(declared - earlier)))
    key = keys[index]
    shares = {
        "before": percent(float(earlier[index])),
        "after": percent(float(after[index])),
        "declared": percent(float(declared[index])),
        "way": percent(min(1.0, max(0.0, progress))),
    }
    return Flag(
        kind="adoption",
        severity="low",
        subject=key,
        message=_(
            "The team is adopting the declared change: attention on *{name}* {before}% → "
            "{after}% (now declared {declared}%), {way}% of the way there."
        ).format(name=priority_name(key, names), **shares),
        numbers={
            "progress": progress,
            "before": float(earlier[index]),
            "after": float(after[index]),
        },
        evidence=_(
            "the declared priorities changed since the earlier pulses, so this is not drift"
        ),
    )


def intent(
    current: RunSample,
    history: Sequence[RunSample],
    thresholds: FlagThresholds,
    names: Mapping[str, str],
) -> Verdict:
    """Whether this run's attention differs from the intent declared when it ran."""
    declared = {k: w for k, w in current.declared.items() if w > 0}
    if not declared or not arrays.has_attention(current):
        return Verdict()
    same, _earlier = _baselines(current, history, thresholds)
    keys = arrays.attention_keys([current, *same])
    shares = arrays.attention([current], keys)
    if len(shares) < min(3, thresholds.min_answers):
        return Verdict(undecided=_("intent: too few answers to tell"))
    means = shares.mean(axis=0)
    gap = js_divergence(_distribution(keys, means) or {"": 1.0}, declared)
    if gap < thresholds.intent_gap:
        return Verdict()  # too close to the intent to flag, whatever the tests would say
    variances, df = arrays.pooled_variances([current, *same], keys)
    tested = [i for i, key in enumerate(keys) if key in declared]
    alpha = thresholds.false_alarm / len(tested)
    ps = {
        i: share_differs_from(shares[:, i], declared[keys[i]], float(variances[i]), df)
        for i in tested
    }
    worst = min(ps, key=lambda i: (ps[i], keys[i]))
    if not ps[worst] < alpha:
        return Verdict()
    key = keys[worst]
    p = ps[worst]
    return Verdict(
        flags=(
            Flag(
                kind="intent_gap",
                severity=severity_of(p, alpha),
                subject="declared_priorities",
                message=_(
                    "Leaders' attention is diverging from the declared priorities: *{name}* "
                    "gets {share}% of it against a declared {declared}% (intent gap {gap})."
                ).format(
                    name=priority_name(key, names),
                    share=percent(float(means[worst])),
                    declared=percent(declared[key]),
                    gap=number(gap, 2),
                ),
                numbers={
                    "intent_gap": gap,
                    "share": float(means[worst]),
                    "declared": declared[key],
                    "p": p,
                },
                evidence=_("{p}, {answers} answers, corrected for {n} declared priorities").format(
                    p=p_text(p), answers=len(shares), n=len(tested)
                ),
            ),
        )
    )
