"""A group's pulse runs as reports: database aggregates fed to `pulses.metrics`, made anonymous.

Every figure that leaves the product starts here as a `RunReport`, whose metrics have passed
`metrics.reportable`. Queries aggregate in the database (``GROUP BY``) over a bounded window of
runs, so a report costs the same number of queries whatever the length of a group's history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import func
from sqlmodel import Session, col, select

from pulses.flags import DEFAULT_THRESHOLDS, Flag, FlagThresholds, compute_flags, layer_flags
from pulses.metrics import (
    OTHER,
    RunInput,
    RunMetrics,
    Suppressed,
    compute_run_metrics,
    declared_distribution,
    effective_threshold,
    layer_profile,
    reportable,
)
from storage.models import (
    Answer,
    AnswerScore,
    Invitation,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
)
from storage.queries import run_progress

TREND_RUNS = 12
OTHER_NAME = "Something else"
NO_LAYER = "No layer"

RunSelector = Literal["latest"] | date
HiddenReason = Literal["too_few"]


@dataclass(frozen=True)
class RunReport:
    """One closed run as it may be shown: metrics or `Suppressed`, never raw answers.

    ``flags``, ``friction``, ``falling`` and ``fragmented`` are empty when the run is
    suppressed. ``wording_changed`` lists the dimension keys whose question version differs
    from the group's previous closed run, so a trend never silently mixes two wordings.
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

    @property
    def latest(self) -> RunReport | None:
        return self.history[-1] if self.history else None

    @property
    def index_change(self) -> float | None:
        return _index_change(self.history)


@dataclass(frozen=True)
class GroupColumn:
    """One group in the organisation digest; ``latest`` is None before its first closed run."""

    group: GroupInfo
    latest: RunReport | None


@dataclass(frozen=True)
class LayerSummary:
    """A layer's groups pooled as one (`metrics.layer_profile`), made anonymous like a run.

    Of the layer's ``groups`` with a closed run, only the ``included`` ones, those whose run is
    shown on its own, are pooled; the ``hidden`` rest (too few answers) add nothing to it.
    """

    name: str
    groups: int
    included: int
    metrics: RunMetrics | Suppressed

    @property
    def hidden(self) -> int:
        return self.groups - self.included


@dataclass(frozen=True)
class OrgDigest:
    """Every group's latest closed run side by side, and layers compared."""

    workspace_id: int
    groups: tuple[GroupColumn, ...]
    layers: tuple[LayerSummary, ...]
    flags: tuple[Flag, ...]
    priority_names: Mapping[str, str] = field(default_factory=dict)


# --- the aggregation ------------------------------------------------------------------------


def _ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


@dataclass
class _Window:
    """The aggregates of a window of closed runs, most recent first, from a fixed set of queries."""

    runs: list[PulseRun]
    inputs: dict[int, RunInput]
    names: dict[str, str]
    declared: dict[int, dict[str, float]]
    likert_ids: dict[int, dict[str, int]]  # run id → dimension key → question id


def _load_window(
    session: Session, group: LeadershipGroup, *, until: date | None, count: int
) -> _Window:
    query = select(PulseRun).where(PulseRun.group_id == group.id, PulseRun.status == "closed")
    if until is not None:
        query = query.where(col(PulseRun.occurrence_day) <= until)
    runs = list(session.exec(query.order_by(col(PulseRun.occurrence_day).desc()).limit(count)))
    run_ids = [run.id for run in runs if run.id is not None]
    if not run_ids:
        return _Window(runs=[], inputs={}, names={}, declared={}, likert_ids={})

    question_ids = {qid for run in runs for qid in _ids(run.question_ids)}
    questions = {
        q.id: q
        for q in session.exec(select(Question).where(col(Question.id).in_(question_ids)))
        if q.id is not None
    }
    histograms: dict[int, dict[str, dict[int, int]]] = {}
    for run_id, key, score, count_ in session.exec(
        select(AnswerScore.run_id, Question.key, AnswerScore.score, func.count())
        .join(Question, col(Question.id) == AnswerScore.question_id)
        .where(col(AnswerScore.run_id).in_(run_ids))
        .group_by(col(AnswerScore.run_id), col(Question.key), col(AnswerScore.score))
    ):
        histograms.setdefault(run_id, {}).setdefault(key, {})[score] = count_
    focus: dict[int, dict[str, int]] = {}
    named_other = col(Answer.focus_other).is_not(None)
    for run_id, priority_id, other, count_ in session.exec(
        select(Answer.run_id, Answer.focus_priority_id, named_other, func.count())
        .where(col(Answer.run_id).in_(run_ids))
        .group_by(col(Answer.run_id), col(Answer.focus_priority_id), named_other)
    ):
        if priority_id is not None:
            key = str(priority_id)
        elif other:
            key = OTHER
        else:
            continue  # the run asked no focus question
        counts = focus.setdefault(run_id, {})
        counts[key] = counts.get(key, 0) + count_
    invited = dict(
        session.exec(
            select(Invitation.run_id, func.count())
            .where(col(Invitation.run_id).in_(run_ids), col(Invitation.status) != "failed")
            .group_by(col(Invitation.run_id))
        ).all()
    )
    responded = dict(
        session.exec(
            select(Answer.run_id, func.count())
            .where(col(Answer.run_id).in_(run_ids))
            .group_by(col(Answer.run_id))
        ).all()
    )
    priority_ids = {pid for run in runs for pid in _ids(run.priority_ids)}
    priority_ids |= {int(key) for counts in focus.values() for key in counts if key != OTHER}
    priorities = {
        p.id: p
        for p in session.exec(select(Priority).where(col(Priority.id).in_(priority_ids)))
        if p.id is not None
    }

    names = {str(pid): p.name for pid, p in priorities.items()}
    names[OTHER] = OTHER_NAME
    inputs: dict[int, RunInput] = {}
    declared: dict[int, dict[str, float]] = {}
    likert_ids: dict[int, dict[str, int]] = {}
    for run in runs:
        assert run.id is not None
        asked = [questions[q] for q in _ids(run.question_ids) if q in questions]
        likert = sorted((q for q in asked if q.kind == "likert"), key=lambda q: (q.position, q.key))
        likert_ids[run.id] = {q.key: q.id for q in likert if q.id is not None}
        run_histograms = histograms.get(run.id, {})
        # Items in the order they were asked; keys answered but no longer listed come last.
        item_keys = list(dict.fromkeys([q.key for q in likert] + sorted(run_histograms)))
        weights: dict[str, float | None] = {
            str(pid): priorities[pid].weight for pid in _ids(run.priority_ids) if pid in priorities
        }
        declared[run.id] = declared_distribution(weights)
        # Declared priorities nobody named stay in the distribution with share 0.
        focus_counts = {key: 0 for key in weights} | focus.get(run.id, {})
        inputs[run.id] = RunInput(
            n_invited=int(invited.get(run.id, 0)),
            item_counts={key: run_histograms.get(key, {}) for key in item_keys},
            focus_counts=focus_counts if focus.get(run.id) else {},
            priority_weights=weights,
            previous_focus_counts=(),
            n_responded=int(responded.get(run.id, 0)),
        )
    return _Window(runs=runs, inputs=inputs, names=names, declared=declared, likert_ids=likert_ids)


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
        run_id: _input_is_shown(window.inputs[run_id], _threshold(group, run))
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
        previous_shown = [m for m in (metrics_of[i] for i in earlier) if isinstance(m, RunMetrics)]
        reports.append(
            _report(run, metrics, previous_shown, window, runs[index + 1 : index + 2], thresholds)
        )
    reportable_ids = [r.run_id for r in reports if r.shown is not None]
    comments = _friction(session, reportable_ids)
    return [replace(r, friction=comments.get(r.run_id, ())) if r.shown else r for r in reports]


def _input_is_shown(data: RunInput, threshold: int) -> bool:
    return data.n_responded >= effective_threshold(threshold)


def _report(
    run: PulseRun,
    metrics: RunMetrics | Suppressed,
    previous: Sequence[RunMetrics],
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
    found = compute_flags(metrics, previous, thresholds, priority_names=names)
    return RunReport(
        run_id=run.id,
        occurrence_day=run.occurrence_day,
        metrics=metrics,
        flags=tuple(found),
        priority_names=names,
        declared=window.declared[run.id],
        wording_changed=changed,
        falling=frozenset(f.subject for f in found if f.kind == "level_drop"),
        fragmented=frozenset(
            key
            for key, stats in metrics.items.items()
            if stats.rwg is not None and stats.rwg < thresholds.fragmented_rwg
        ),
    )


def _friction(session: Session, run_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Friction comments of runs that may be shown, in alphabetical order.

    Never in submission order: that order could be matched with who answered when.
    """
    if not run_ids:
        return {}
    found: dict[int, list[str]] = {}
    for run_id, text in session.exec(
        select(Answer.run_id, Answer.friction).where(
            col(Answer.run_id).in_(run_ids), col(Answer.friction).is_not(None)
        )
    ):
        if text and text.strip():
            found.setdefault(run_id, []).append(text.strip())
    return {run_id: tuple(sorted(texts, key=str.casefold)) for run_id, texts in found.items()}


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
) -> list[RunReport]:
    if limit <= 0:
        return []
    # The extra runs are the drift and flag baseline of the oldest run reported.
    window = _load_window(session, group, until=until, count=limit + thresholds.history_runs)
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


def _open_run(session: Session, group_id: int) -> OpenRun | None:
    run = session.exec(
        select(PulseRun)
        .where(PulseRun.group_id == group_id, col(PulseRun.status).in_(("open", "pending")))
        .order_by(col(PulseRun.occurrence_day).desc())
        .limit(1)
    ).first()
    if run is None or run.id is None:
        return None
    answered, invited = run_progress(session=session, run_id=run.id)
    return OpenRun(
        run_id=run.id,
        occurrence_day=run.occurrence_day,
        invited=invited,
        answered=answered,
        closes_at=run.closes_at,
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
    return GroupDigest(group=group_info(group), generated_at=now, history=tuple(history))


# --- the organisation view ----------------------------------------------------------------------


def _as_shown(data: RunInput, threshold: int) -> RunInput:
    """The run's input without the items its own report drops (answered by too few leaders)."""
    minimum = effective_threshold(threshold)
    items = {
        key: counts
        for key, counts in data.item_counts.items()
        if not 0 < sum(counts.values()) < minimum
    }
    return replace(data, item_counts=items)


def org_digest(
    *,
    session: Session,
    workspace_id: int,
    thresholds: FlagThresholds = DEFAULT_THRESHOLDS,
) -> OrgDigest:
    """Every active group's latest closed run, and each layer pooled and compared.

    A group is judged under the same threshold as in its own reports (the stricter of its
    run's and its own), and a layer pools only the groups shown (see `LayerSummary`).
    """
    groups = list(
        session.exec(
            select(LeadershipGroup)
            .where(
                LeadershipGroup.workspace_id == workspace_id,
                col(LeadershipGroup.active).is_(True),
            )
            .order_by(col(LeadershipGroup.layer), col(LeadershipGroup.channel_name))
        )
    )
    columns: list[GroupColumn] = []
    shown_inputs: dict[int, tuple[RunInput, int]] = {}
    names: dict[str, str] = {}
    for group in groups:
        assert group.id is not None
        window = _load_window(session, group, until=None, count=1 + thresholds.history_runs)
        reports = _build_reports(session, group, window, 1, thresholds)
        latest = reports[0] if reports else None
        if latest is not None:
            names.update(latest.priority_names)
            if latest.shown is None:
                latest = replace(latest, hidden_reason="too_few")
            else:
                threshold = _threshold(group, window.runs[0])
                data = _as_shown(window.inputs[latest.run_id], threshold)
                shown_inputs[group.id] = (data, threshold)
        columns.append(GroupColumn(group=group_info(group), latest=latest))

    layers: dict[str, list[GroupColumn]] = {}
    for column in columns:
        if column.latest is not None and column.group.layer:
            layers.setdefault(column.group.layer, []).append(column)
    # Why a layer pools only the groups shown on their own, with only the items they show:
    # hiding the next-smallest group too (`metrics.complementary_suppression`) protects a
    # hidden group only inside the view that hides it, while the group hidden alongside is
    # still shown in its own digest, /coherence, App Home and the export, so the subtraction
    # works anyway. Pooled this way, a layer total minus any groups shown is a sum of figures
    # already shown and nothing hidden can be worked out, so no total here includes a hidden
    # group and none needs complementary suppression; a total that ever does must use it.
    summaries: list[LayerSummary] = []
    for name, members in layers.items():
        pooled = [
            shown_inputs[c.group.group_id] for c in members if c.group.group_id in shown_inputs
        ]
        metrics: RunMetrics | Suppressed
        if pooled:
            # Each pooled group has at least its own threshold of respondents, so the pool
            # passes the strictest of them; `reportable` still drops thinly answered items.
            profile = layer_profile([data for data, _ in pooled])
            metrics = reportable(profile, max(threshold for _, threshold in pooled))
        else:
            metrics = Suppressed(threshold=max(c.latest.threshold for c in members if c.latest))
        summaries.append(
            LayerSummary(name=name, groups=len(members), included=len(pooled), metrics=metrics)
        )
    found: list[Flag] = []
    shown_layers = [s for s in summaries if isinstance(s.metrics, RunMetrics)]
    for i, first in enumerate(shown_layers):
        for second in shown_layers[i + 1 :]:
            assert isinstance(first.metrics, RunMetrics)
            assert isinstance(second.metrics, RunMetrics)
            found += layer_flags(
                first.name,
                first.metrics,
                second.name,
                second.metrics,
                thresholds,
                priority_names=names,
            )
    return OrgDigest(
        workspace_id=workspace_id,
        groups=tuple(columns),
        layers=tuple(summaries),
        flags=tuple(found),
        priority_names=names,
    )


# --- JSON ----------------------------------------------------------------------------------------


def report_json(report: RunReport) -> dict[str, Any]:
    """A run's report as JSON: `RunMetrics.to_dict()` fields plus run date and flags.

    A suppressed run gives only ``suppressed``, ``threshold`` and the run's identity.
    """
    identity: dict[str, Any] = {
        "run_id": report.run_id,
        "run_date": report.occurrence_day.isoformat(),
        "wording_changed": list(report.wording_changed),
    }
    if isinstance(report.metrics, Suppressed):
        return {
            **identity,
            "suppressed": True,
            "threshold": report.metrics.threshold,
            "message": report.metrics.message,
        }
    return {
        **identity,
        "suppressed": False,
        **report.metrics.to_dict(),
        "priority_names": dict(report.priority_names),
        "flags": [flag.to_dict() for flag in report.flags],
        "friction_comments": list(report.friction),
    }


def history_json(reports: Iterable[RunReport]) -> list[dict[str, Any]]:
    """`report_json` of each report, in the order given."""
    return [report_json(report) for report in reports]
