"""A group's pulse runs as reports: database aggregates turned into metrics, made anonymous.

Every figure that leaves the product starts here as a `RunReport`, whose metrics have passed
`pulses.privacy.reportable`. The aggregates come from `storage.queries.closed_run_window`
(``GROUP BY`` over a bounded window of runs), so a report costs the same number of queries
whatever the length of a group's history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from sqlmodel import Session

from pulses.away import away_count, away_counts
from pulses.flags import DEFAULT_THRESHOLDS, Flag, FlagThresholds
from pulses.focus import OTHER, declared_distribution
from pulses.intent import DeclaredChange, declared_changes
from pulses.metrics import RunInput, RunMetrics, compute_run_metrics
from pulses.pressure import RunPressure, run_pressure
from pulses.privacy import Suppressed, effective_threshold, is_reportable, reportable, shown_sample
from pulses.samples import RunSample
from pulses.sampling import load_samples
from storage.models import LeadershipGroup, PulseRun
from storage.queries import closed_run_window, friction_texts, latest_unclosed_run, run_progress

if TYPE_CHECKING:
    from pulses.signals.engine import Signals, Trend

TREND_RUNS = 12
OTHER_NAME = "Something else"

RunSelector = Literal["latest"] | date
HiddenReason = Literal["too_few"]


@dataclass(frozen=True)
class RunReport:
    """One closed run as it may be shown: metrics or `Suppressed`, never raw answers.

    ``flags``, ``friction``, ``falling``, ``fragmented``, ``signals`` (intervals, trend, what
    could not be told) and ``pressure`` (context) are empty when the run is suppressed.
    ``wording_changed`` lists the dimension keys whose question version differs from the
    previous closed run.
    """

    run_id: int
    occurrence_day: date
    metrics: RunMetrics | Suppressed
    flags: tuple[Flag, ...] = ()
    friction: tuple[str, ...] = ()
    priority_names: Mapping[str, str] = field(default_factory=dict)
    declared: Mapping[str, float] = field(default_factory=dict)
    wording_changed: tuple[str, ...] = ()
    falling: frozenset[str] = frozenset()
    fragmented: frozenset[str] = frozenset()
    hidden_reason: HiddenReason | None = None
    signals: Signals | None = None
    pressure: RunPressure | None = None
    away: int = 0  # members passed over because they were away, never who

    @property
    def trend(self) -> Trend | None:
        return None if self.signals is None else self.signals.trend

    @property
    def shown(self) -> RunMetrics | None:
        """The metrics when the run may be shown, else None."""
        return self.metrics if isinstance(self.metrics, RunMetrics) else None

    @property
    def threshold(self) -> int:
        return self.metrics.threshold if isinstance(self.metrics, Suppressed) else 0

    @property
    def coherence_index(self) -> float | None:
        shown = self.shown
        return None if shown is None else shown.coherence_index

    def priority_name(self, key: str) -> str:
        return self.priority_names.get(key, OTHER_NAME if key == OTHER else key)


@dataclass(frozen=True)
class OpenRun:
    """The run currently collecting answers: progress counts only."""

    run_id: int
    occurrence_day: date
    invited: int
    answered: int
    closes_at: datetime
    away: int = 0  # members passed over because they were away, never who

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.invited if self.invited else None


@dataclass(frozen=True)
class GroupInfo:
    """What the views say about a group besides its numbers."""

    group_id: int
    channel_id: str
    name: str
    layer: str | None
    timezone: str
    threshold: int


def group_info(group: LeadershipGroup) -> GroupInfo:
    assert group.id is not None
    return GroupInfo(
        group_id=group.id,
        channel_id=group.channel_id,
        name=group.channel_name or group.channel_id,
        layer=group.layer,
        timezone=group.timezone,
        threshold=effective_threshold(group.anonymity_threshold),
    )


def _index_change(history: Sequence[RunReport]) -> float | None:
    """Change of the latest run's index since the previous run that may be shown."""
    if not history or history[-1].coherence_index is None:
        return None
    latest = history[-1].coherence_index
    assert latest is not None
    for report in reversed(history[:-1]):
        if report.coherence_index is not None:
            return latest - report.coherence_index
    return None


@dataclass(frozen=True)
class GroupStatus:
    """What `/coherence` shows in a leadership channel."""

    group: GroupInfo
    open_run: OpenRun | None
    latest: RunReport | None
    trend: tuple[RunReport, ...]  # oldest first, ending with ``latest``

    @property
    def flags(self) -> tuple[Flag, ...]:
        return self.latest.flags if self.latest else ()

    @property
    def index_change(self) -> float | None:
        return _index_change(self.trend)


@dataclass(frozen=True)
class GroupDigest:
    """The weekly digest of one group: its latest closed run and the runs before it."""

    group: GroupInfo
    generated_at: datetime
    history: tuple[RunReport, ...]  # oldest first, at most TREND_RUNS
    # The admins' changes of declared intent over the same span, oldest first, with reasons.
    declared_changes: tuple[DeclaredChange, ...] = ()

    @property
    def latest(self) -> RunReport | None:
        return self.history[-1] if self.history else None

    @property
    def index_change(self) -> float | None:
        return _index_change(self.history)


# --- the aggregation ------------------------------------------------------------------------


@dataclass
class _Window:
    """A window of closed runs, most recent first, as metric inputs."""

    runs: list[PulseRun]
    inputs: dict[int, RunInput]
    names: dict[str, str]
    declared: dict[int, dict[str, float]]
    likert_ids: dict[int, dict[str, int]]  # run id → dimension key → question id
    samples: dict[int, RunSample]  # run id → the run's answers one by one, for the engine


def _load_window(
    session: Session, group: LeadershipGroup, *, until: date | None, count: int
) -> _Window:
    assert group.id is not None
    window = closed_run_window(session=session, group_id=group.id, until=until, count=count)
    names = {str(pid): p.name for pid, p in window.priorities.items()}
    names[OTHER] = OTHER_NAME
    inputs: dict[int, RunInput] = {}
    declared: dict[int, dict[str, float]] = {}
    likert_ids: dict[int, dict[str, int]] = {}
    for tally in window.tallies:
        run = tally.run
        assert run.id is not None
        likert = sorted(
            (q for q in tally.asked if q.kind == "likert"), key=lambda q: (q.position, q.key)
        )
        likert_ids[run.id] = {q.key: q.id for q in likert if q.id is not None}
        # Items in the order they were asked; keys answered but no longer listed come last.
        item_keys = list(dict.fromkeys([q.key for q in likert] + sorted(tally.histograms)))
        # The intent in force when the run was claimed: editing weights later never rewrites it.
        weights: dict[str, float | None] = {
            str(pid): share for pid, share in tally.declared.items()
        }
        declared[run.id] = declared_distribution(weights)
        named = {OTHER if pid is None else str(pid): n for pid, n in tally.focus.items()}
        # Declared priorities nobody named stay in the distribution with share 0.
        focus_counts = {key: 0 for key in weights} | named
        inputs[run.id] = RunInput(
            n_invited=tally.invited,
            item_counts={key: tally.histograms.get(key, {}) for key in item_keys},
            focus_counts=focus_counts if named else {},
            priority_weights=weights,
            previous_focus_counts=(),
            n_responded=tally.responded,
        )
    samples = load_samples(session=session, group_id=group.id, until=until, count=count)
    return _Window(
        runs=[tally.run for tally in window.tallies],
        inputs=inputs,
        names=names,
        declared=declared,
        likert_ids=likert_ids,
        samples={sample.run_id: sample for sample in samples},
    )


def _threshold(group: LeadershipGroup, run: PulseRun) -> int:
    # The stricter of the run's and the group's: raising the threshold also hides past runs.
    return effective_threshold(max(run.anonymity_threshold, group.anonymity_threshold))


def _build_reports(
    session: Session,
    group: LeadershipGroup,
    window: _Window,
    limit: int,
    thresholds: FlagThresholds,
) -> list[RunReport]:
    """Reports of the window's first ``limit`` runs (given most recent first), oldest first."""
    runs = window.runs
    ids = [run.id for run in runs if run.id is not None]
    shown = {
        run_id: is_reportable(window.inputs[run_id].n_responded, _threshold(group, run))
        for run_id, run in zip(ids, runs, strict=True)
    }
    # Computed oldest first so each run's flags can use the metrics of the runs before it.
    metrics_of: dict[int, RunMetrics | Suppressed] = {}
    reports: list[RunReport] = []
    for index in reversed(range(len(runs))):
        run, run_id, earlier = runs[index], ids[index], ids[index + 1 :]
        # Only runs that may be shown form a baseline: a hidden run must not leak through drift.
        previous_focus = [dict(window.inputs[i].focus_counts) for i in earlier if shown[i]]
        data = replace(window.inputs[run_id], previous_focus_counts=previous_focus)
        metrics = reportable(compute_run_metrics(data), _threshold(group, run))
        metrics_of[run_id] = metrics
        if index >= limit:
            continue
        previous_shown = [window.samples[i] for i in earlier if shown[i] and i in window.samples]
        before = runs[index + 1 : index + 2]
        report = _report(run, metrics, previous_shown, window, before, thresholds)
        if report.shown is not None:
            sample = window.samples[run_id]
            report = replace(report, pressure=run_pressure(sample, _threshold(group, run)))
        reports.append(report)
    away = away_counts(session, [r.run_id for r in reports])
    reports = [replace(r, away=away.get(r.run_id, 0)) for r in reports]
    reportable_ids = [r.run_id for r in reports if r.shown is not None]
    comments = _friction(session, reportable_ids)
    return [replace(r, friction=comments.get(r.run_id, ())) if r.shown else r for r in reports]


def _report(
    run: PulseRun,
    metrics: RunMetrics | Suppressed,
    previous: Sequence[RunSample],
    window: _Window,
    before: Sequence[PulseRun],
    thresholds: FlagThresholds,
) -> RunReport:
    assert run.id is not None
    changed: tuple[str, ...] = ()
    if before and before[0].id is not None:
        now_ids, then_ids = window.likert_ids[run.id], window.likert_ids[before[0].id]
        changed = tuple(key for key, qid in now_ids.items() if then_ids.get(key, qid) != qid)
    names = {
        key: window.names.get(key, key)
        for key in (
            list(window.declared[run.id])
            + (list(metrics.focus_distribution) if isinstance(metrics, RunMetrics) else [])
        )
    }
    if isinstance(metrics, Suppressed):
        return RunReport(
            run_id=run.id,
            occurrence_day=run.occurrence_day,
            metrics=metrics,
            priority_names=names,
            declared=window.declared[run.id],
            wording_changed=changed,
        )
    # The engine (numpy) is loaded by the first report, not when the bot starts.
    from pulses.signals.engine import evaluate

    signals = evaluate(
        shown_sample(window.samples[run.id], metrics),
        previous,
        thresholds,
        priority_names=names,
    )
    found = signals.flags
    return RunReport(
        run_id=run.id,
        occurrence_day=run.occurrence_day,
        metrics=metrics,
        flags=tuple(found),
        priority_names=names,
        declared=window.declared[run.id],
        wording_changed=changed,
        falling=frozenset(f.subject for f in found if f.kind == "level_drop"),
        fragmented=frozenset(f.subject for f in found if f.kind == "fragmented"),
        signals=signals,
    )


def _friction(session: Session, run_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Friction comments of runs that may be shown, in alphabetical order.

    Never in submission order: that order could be matched with who answered when.
    """
    found = friction_texts(session=session, run_ids=run_ids)
    return {run_id: tuple(sorted(texts, key=str.casefold)) for run_id, texts in found.items()}


def _group(session: Session, group_id: int) -> LeadershipGroup:
    group = session.get(LeadershipGroup, group_id)
    if group is None:
        raise LookupError(f"no leadership group {group_id}")
    return group


def _baseline_runs(thresholds: FlagThresholds) -> int:
    # The rules' window and baseline, and as many again for an intent declared within them.
    return 2 * (thresholds.history_runs + thresholds.window_runs)


def _history(
    session: Session,
    group: LeadershipGroup,
    *,
    limit: int,
    until: date | None,
    thresholds: FlagThresholds,
) -> list[RunReport]:
    if limit <= 0:
        return []
    # The extra runs are the baseline of the oldest run reported.
    window = _load_window(session, group, until=until, count=limit + _baseline_runs(thresholds))
    return _build_reports(session, group, window, limit, thresholds)


def group_history(
    *,
    session: Session,
    group_id: int,
    limit: int = TREND_RUNS,
    until: date | None = None,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
) -> list[RunReport]:
    """The group's last ``limit`` closed runs (up to ``until``), oldest first, in a constant
    number of queries."""
    return _history(
        session, _group(session, group_id), limit=limit, until=until, thresholds=thresholds
    )


def run_report(
    *,
    session: Session,
    group_id: int,
    run: RunSelector = "latest",
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
) -> RunReport | None:
    """The report of the latest closed run, or of the closed run on a date; None if none."""
    group = _group(session, group_id)
    until = None if run == "latest" else run
    reports = _history(session, group, limit=1, until=until, thresholds=thresholds)
    if not reports or (until is not None and reports[0].occurrence_day != until):
        return None
    return reports[0]


@dataclass(frozen=True)
class LatestRun:
    """A group's latest closed run: its report, and what pooling it with other groups needs.

    ``data`` is the run's aggregates before anonymity is applied; never show it as such.
    """

    report: RunReport
    data: RunInput
    sample: RunSample
    threshold: int  # the one the report was judged under


def latest_run(
    *, session: Session, group: LeadershipGroup, thresholds: FlagThresholds = DEFAULT_THRESHOLDS
) -> LatestRun | None:
    """The report of the group's latest closed run with its aggregates; None before the first."""
    # The extra runs are the baseline of the run reported.
    window = _load_window(session, group, until=None, count=1 + _baseline_runs(thresholds))
    reports = _build_reports(session, group, window, 1, thresholds)
    if not reports:
        return None
    report = reports[0]
    return LatestRun(
        report=report,
        data=window.inputs[report.run_id],
        sample=window.samples[report.run_id],
        threshold=_threshold(group, window.runs[0]),
    )


def _open_run(session: Session, group_id: int) -> OpenRun | None:
    run = latest_unclosed_run(session=session, group_id=group_id)
    if run is None or run.id is None:
        return None
    answered, invited = run_progress(session=session, run_id=run.id)
    return OpenRun(
        run_id=run.id,
        occurrence_day=run.occurrence_day,
        invited=invited,
        answered=answered,
        closes_at=run.closes_at,
        away=away_count(session, run.id),
    )


def group_status(
    *,
    session: Session,
    group_id: int,
    now: datetime,
    trend_runs: int = TREND_RUNS,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
) -> GroupStatus:
    """The open run's progress, the last closed run's report and the trend before it."""
    group = _group(session, group_id)
    trend = _history(session, group, limit=trend_runs, until=None, thresholds=thresholds)
    return GroupStatus(
        group=group_info(group),
        open_run=_open_run(session, group_id),
        latest=trend[-1] if trend else None,
        trend=tuple(trend),
    )


def group_digest(
    *,
    session: Session,
    group_id: int,
    now: datetime,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
) -> GroupDigest:
    """The weekly digest's content for one group: the last `TREND_RUNS` closed runs."""
    group = _group(session, group_id)
    history = _history(session, group, limit=TREND_RUNS, until=None, thresholds=thresholds)
    since = history[0].occurrence_day if history else now.date()
    changes = declared_changes(session, group_id, since, now.date())
    return GroupDigest(
        group=group_info(group),
        generated_at=now,
        history=tuple(history),
        declared_changes=tuple(changes),
    )
