"""The organisation digest: every group's latest closed run side by side, layers compared.

A layer's figures pool only the groups shown on their own, so nothing hidden can be worked out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlmodel import Session

from pulses.flags import DEFAULT_THRESHOLDS, Flag, FlagThresholds
from pulses.i18n import speaking
from pulses.layers import layer_profile
from pulses.metrics import RunInput, RunMetrics
from pulses.privacy import Suppressed, effective_threshold, reportable, shown_sample
from pulses.reports import TREND_RUNS, GroupInfo, RunReport, group_history, group_info, latest_run
from pulses.samples import RunSample
from pulses.signals.pressure import PressureGap
from pulses.under_pressure import under_pressure
from storage.queries import active_groups_by_layer


@dataclass(frozen=True)
class GroupColumn:
    """One group in the organisation digest; ``latest`` is None before its first closed run.

    ``pressure`` is the group's coherence under pressure over its own last shown runs (None
    when its latest run is hidden or it has none).
    """

    group: GroupInfo
    latest: RunReport | None
    pressure: PressureGap | None = None


@dataclass(frozen=True)
class LayerSummary:
    """A layer's groups pooled as one (`pulses.layers.layer_profile`), made anonymous like a run.

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
    columns: list[GroupColumn] = []
    shown_inputs: dict[int, tuple[RunInput, int]] = {}
    shown_samples: dict[int, RunSample] = {}
    names: dict[str, str] = {}
    languages: set[str] = set()
    for group in active_groups_by_layer(session=session, workspace_id=workspace_id):
        assert group.id is not None
        languages.add(group.language)
        with speaking(group.language):  # its flags in its own language, as in its digest
            closed = latest_run(session=session, group=group, thresholds=thresholds)
        latest = None
        if closed is not None:
            latest = closed.report
            names.update(latest.priority_names)
            if latest.shown is None:
                latest = replace(latest, hidden_reason="too_few")
            else:
                shown_inputs[group.id] = (
                    _as_shown(closed.data, closed.threshold),
                    closed.threshold,
                )
                shown_samples[group.id] = shown_sample(closed.sample, latest.shown)
        pressure = None
        if latest is not None and latest.shown is not None:
            # The gap reads the runs' figures only: no signals of the runs before.
            history = group_history(
                session=session,
                group_id=group.id,
                limit=TREND_RUNS,
                thresholds=thresholds,
                detailed=0,
            )
            pressure = under_pressure(history)
        columns.append(GroupColumn(group=group_info(group), latest=latest, pressure=pressure))

    layers: dict[str, list[GroupColumn]] = {}
    for column in columns:
        if column.latest is not None and column.group.layer:
            layers.setdefault(column.group.layer, []).append(column)
    # Why a layer pools only the groups shown on their own, with only the items they show:
    # hiding the next-smallest group too (`pulses.privacy.complementary_suppression`) protects a
    # hidden group only inside the view that hides it, while the group hidden alongside is
    # still shown in its own digest, /coherence, App Home and the export, so the subtraction
    # works anyway. Pooled this way, a layer total minus any groups shown is a sum of figures
    # already shown and nothing hidden can be worked out, so no total here includes a hidden
    # group and none needs complementary suppression; a total that ever does must use it.
    summaries: list[LayerSummary] = []
    layer_samples: dict[str, list[RunSample]] = {}
    for name, members in layers.items():
        layer_samples[name] = [
            shown_samples[c.group.group_id] for c in members if c.group.group_id in shown_samples
        ]
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
    # The engine (numpy) is loaded by the first organisation digest, not at start.
    from pulses.signals.engine import compare_layers

    found: list[Flag] = []
    shown_layers = [s for s in summaries if isinstance(s.metrics, RunMetrics)]
    # The layers' flags in the groups' language when they share one, as the digest shows it.
    with speaking(languages.pop() if len(languages) == 1 else None):
        for i, first in enumerate(shown_layers):
            for second in shown_layers[i + 1 :]:
                found += compare_layers(
                    first.name,
                    layer_samples[first.name],
                    second.name,
                    layer_samples[second.name],
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
