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

from sqlmodel import Session, col, select

from pulses.away import away_count
from pulses.commitments import FollowUp, follow_ups
from pulses.flags import DEFAULT_THRESHOLDS, Flag, FlagThresholds
from pulses.focus import DRIFT_HISTORY_RUNS, OTHER
from pulses.i18n import speaking
from pulses.intent import DeclaredChange, declared_changes_of
from pulses.metrics import RunInput, RunMetrics, compute_run_metrics
from pulses.pressure import RunPressure, run_pressure
from pulses.privacy import Suppressed, effective_threshold, reportable, shown_sample
from pulses.samples import RunSample
from pulses.windows import (
    OTHER_NAME,
    Extras,
    Window,
    load_windows,
    read_extras,
    reported_runs,
    run_threshold,
    shown_runs,
    window_size,
)
from storage.models import LeadershipGroup
from storage.queries import WindowRun, latest_unclosed_run, run_progress

if TYPE_CHECKING:
    from pulses.signals.engine import Signals, Trend

TREND_RUNS = 12

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
    # The locale the group's digests and status are written in.
    language: str = "en"


def group_info(group: LeadershipGroup) -> GroupInfo:
    assert group.id is not None
    return GroupInfo(
        group_id=group.id,
        channel_id=group.channel_id,
        name=group.channel_name or group.channel_id,
        layer=group.layer,
        timezone=group.timezone,
        threshold=effective_threshold(group.anonymity_threshold),
        language=group.language,
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
    # Oldest first, at most TREND_RUNS; only the latest carries signals, flags and friction.
    history: tuple[RunReport, ...]
    # The admins' changes of declared intent over the same span, oldest first, with reasons.
    declared_changes: tuple[DeclaredChange, ...] = ()
    # The team's commitments to ask about, and the runs that had any (issue 15).
    follow_up: FollowUp = field(default_factory=FollowUp)

    @property
    def latest(self) -> RunReport | None:
        return self.history[-1] if self.history else None

    @property
    def index_change(self) -> float | None:
        return _index_change(self.history)


# --- the aggregation ------------------------------------------------------------------------


def _build_reports(
    session: Session,
    group: LeadershipGroup,
    window: Window,
    limit: int,
    thresholds: FlagThresholds,
    detailed: int | None = None,
    counts: Extras | None = None,
) -> list[RunReport]:
    """Reports of the window's first ``limit`` runs (given most recent first), oldest first.

    Only the most recent ``detailed`` of them (None: all) carry signals, flags and friction;
    the others are a trend's figures (metrics, pressure, wording), which cost a fraction.
    ``counts`` are the away counts and friction `read_extras` read for many groups at once.
    """
    runs = window.runs
    ids = [run.id for run in runs if run.id is not None]
    shown = shown_runs(group, window)
    detailed = limit if detailed is None else detailed
    if counts is None:
        counts = read_extras(session, [reported_runs(group, window, limit, detailed)])
    reports: list[RunReport] = []
    # The runs beyond ``limit`` are only the baseline of those reported: their inputs are
    # read, their metrics never computed.
    for index in reversed(range(min(limit, len(runs)))):
        run, run_id, earlier = runs[index], ids[index], ids[index + 1 :]
        # Only runs that may be shown form a baseline: a hidden run must not leak through drift.
        previous_focus = [window.inputs[i].focus_counts for i in earlier if shown[i]]
        # Drift pools only the latest few; the rest of the baseline is not its business.
        previous_focus = previous_focus[:DRIFT_HISTORY_RUNS]
        data = replace(window.inputs[run_id], previous_focus_counts=previous_focus)
        metrics = reportable(compute_run_metrics(data), run_threshold(group, run))
        previous_shown = None
        if index < detailed:
            previous_shown = [
                window.samples[i] for i in earlier if shown[i] and i in window.samples
            ]
        before = runs[index + 1 : index + 2]
        # Everything a report holds at once: copying a frozen report to add to it costs more
        # than the rest of a trend run's report.
        friction: tuple[str, ...] = ()
        pressure = None
        if isinstance(metrics, RunMetrics):
            friction = counts.friction.get(run_id, ())
            pressure = run_pressure(window.samples[run_id], run_threshold(group, run))
        extras = (counts.away.get(run_id, 0), friction, pressure)
        reports.append(_report(run, metrics, previous_shown, window, before, thresholds, extras))
    return reports


def _report(
    run: WindowRun,
    metrics: RunMetrics | Suppressed,
    previous: Sequence[RunSample] | None,
    window: Window,
    before: Sequence[WindowRun],
    thresholds: FlagThresholds,
    extras: tuple[int, tuple[str, ...], RunPressure | None],
) -> RunReport:
    """``extras``: the run's away count, its friction and its pressure figures."""
    assert run.id is not None
    away, friction, pressure = extras
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
    if isinstance(metrics, Suppressed) or previous is None:
        # Hidden, or a trend's figures only (`_build_reports`): no signals to evaluate.
        return RunReport(
            run_id=run.id,
            occurrence_day=run.occurrence_day,
            metrics=metrics,
            priority_names=names,
            declared=window.declared[run.id],
            wording_changed=changed,
            away=away,
            friction=friction,
            pressure=pressure,
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
        away=away,
        friction=friction,
        pressure=pressure,
    )


def _group(session: Session, group_id: int) -> LeadershipGroup:
    group = session.get(LeadershipGroup, group_id)
    if group is None:
        raise LookupError(f"no leadership group {group_id}")
    return group


def _history(
    session: Session,
    group: LeadershipGroup,
    *,
    limit: int,
    until: date | None,
    thresholds: FlagThresholds,
    detailed: int | None = None,
) -> list[RunReport]:
    if limit <= 0:
        return []
    count = window_size(limit, detailed, thresholds)
    window = load_windows(session, [group.id or 0], until=until, count=count)[group.id or 0]
    return _build_reports(session, group, window, limit, thresholds, detailed)


def group_history(
    *,
    session: Session,
    group_id: int,
    limit: int = TREND_RUNS,
    until: date | None = None,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
    detailed: int | None = None,
) -> list[RunReport]:
    """The group's last ``limit`` closed runs (up to ``until``), oldest first, in a constant
    number of queries; only the latest ``detailed`` (None: all) with signals and friction."""
    group = _group(session, group_id)
    return _history(
        session, group, limit=limit, until=until, thresholds=thresholds, detailed=detailed
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
    count = window_size(1, None, thresholds)
    window = load_windows(session, [group.id or 0], until=None, count=count)[group.id or 0]
    reports = _build_reports(session, group, window, 1, thresholds)
    if not reports:
        return None
    report = reports[0]
    return LatestRun(
        report=report,
        data=window.inputs[report.run_id],
        sample=window.samples[report.run_id],
        threshold=run_threshold(group, window.runs[0]),
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
    with speaking(group.language):  # the engine's flags and evidence in its language
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
    return group_digests(session=session, group_ids=[group_id], now=now, thresholds=thresholds)[0]


def group_digests(
    *,
    session: Session,
    group_ids: Sequence[int],
    now: datetime,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
) -> list[GroupDigest]:
    """`group_digest` of each group, their runs read together: a batch of digests costs the
    queries of one, whatever the number of groups."""
    groups = {
        group.id: group
        for group in session.exec(
            select(LeadershipGroup).where(col(LeadershipGroup.id).in_(group_ids))
        )
    }
    for group_id in group_ids:
        if group_id not in groups:
            raise LookupError(f"no leadership group {group_id}")
    count = window_size(TREND_RUNS, 1, thresholds)
    windows = load_windows(session, group_ids, until=None, count=count)
    counts = read_extras(
        session,
        [reported_runs(groups[gid], window, TREND_RUNS, 1) for gid, window in windows.items()],
    )
    # The digest shows the signals and friction of its latest run only; the runs before it
    # are the trend's figures.
    histories: dict[int, list[RunReport]] = {}
    for group_id, window in windows.items():
        # The engine writes its flags and evidence in the group's language.
        with speaking(groups[group_id].language):
            histories[group_id] = _build_reports(
                session, groups[group_id], window, TREND_RUNS, thresholds, 1, counts
            )
    today = now.date()
    changes = declared_changes_of(
        session,
        [
            (groups[gid], history[0].occurrence_day if history else today, today)
            for gid, history in histories.items()
        ],
    )
    asked = follow_ups(
        session=session,
        histories={
            gid: [(r.run_id, r.occurrence_day) for r in history]
            for gid, history in histories.items()
        },
    )
    return [
        GroupDigest(
            group=group_info(groups[gid]),
            generated_at=now,
            history=tuple(history),
            declared_changes=tuple(changes[gid]),
            follow_up=asked[gid],
        )
        for gid, history in histories.items()
    ]
