"""A run as the signal engine sees it: each respondent's answers, unlinked and unordered.

Aggregates (histograms, focus counts) give the published metrics; deciding whether a change
is more than noise needs the spread between leaders too, so the engine reads one
`LeaderAnswer` per respondent. Nothing here identifies a person: answers are stored without
user IDs once a run closes, and a sample carries no order or id of its answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

# The focus key of attention outside the declared priorities ("something else").
OTHER = "other"


@dataclass(frozen=True)
class LeaderAnswer:
    """One respondent's answer set.

    ``scores`` maps a dimension key to its 1–5 score (an item left unanswered is absent).
    ``attention`` maps a priority key (the priority's id as text, or `OTHER`) to the share of
    the leader's attention on it, shares summing to 1; a single-choice focus answer (question
    version 1) is the share 1.0 on the chosen key; ``{}`` when the run asked no focus.
    ``pressure`` is the pressure item's 1–5 score (None: not asked), context that is never one
    of the ``scores``.
    """

    scores: Mapping[str, int]
    attention: Mapping[str, float] = field(default_factory=dict)
    pressure: int | None = None


@dataclass(frozen=True)
class RunSample:
    """One closed run: who was asked, the answers, and the intent in force when it ran.

    ``declared`` maps priority keys to their declared share of attention (summing to 1) as
    declared at the run's send time, not as edited since; ``intent_version`` identifies that
    declaration (None: none recorded), so a change of intent between two runs is visible.
    """

    run_id: int
    day: date
    invited: int
    answers: tuple[LeaderAnswer, ...]
    declared: Mapping[str, float] = field(default_factory=dict)
    intent_version: int | None = None

    @property
    def responded(self) -> int:
        return len(self.answers)
