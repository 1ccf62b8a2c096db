"""Charts are drawn in a process of their own, which leaves when idle and is replaced when it
dies; the serving process never loads matplotlib to draw a digest."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from bot.collector import YOUNG_COLLECTION_OBJECTS
from bot.drawer import Drawer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def drawer() -> Iterator[Drawer]:
    drawer = Drawer(idle_seconds=0.2)
    yield drawer
    drawer.close()


def test_charts_are_drawn_in_a_process_of_their_own(drawer: Drawer) -> None:
    first = drawer.submit(os.getpid).result(timeout=60)
    assert first != os.getpid()
    # The same child draws the next chart: it is started once per wave of digests.
    assert drawer.submit(os.getpid).result(timeout=60) == first


def test_the_drawing_process_leaves_when_no_chart_comes(drawer: Drawer) -> None:
    first = drawer.submit(os.getpid).result(timeout=60)
    assert drawer.wait_stopped(timeout=30)
    assert not drawer.started()
    # The next wave starts another.
    second = drawer.submit(os.getpid).result(timeout=60)
    assert second not in (first, os.getpid())
    assert drawer.started()


def test_a_child_that_dies_fails_its_chart_and_the_next_one_gets_a_new_child(
    drawer: Drawer,
) -> None:
    first = drawer.submit(os.getpid).result(timeout=60)
    with pytest.raises(BrokenProcessPool):
        drawer.submit(os._exit, 3).result(timeout=60)
    after = drawer.submit(os.getpid).result(timeout=60)
    assert after not in (first, os.getpid())


def test_a_batch_is_computed_and_charted_by_the_drawing_process_as_the_serving_one_would(
    migrated_url: str,
) -> None:
    script = """
import sys
from datetime import UTC, date, datetime
from slack_sdk import WebClient
from bot.messenger import SlackMessenger
from bot.views.message import SlackDigest
from pulses.digest_batches import DigestBatch
from storage.db import make_engine, session_scope
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform, weekly

engine = make_engine(sys.argv[1])
with session_scope(engine) as session:
    org = seed_org(session)
    group = seed_group(session, org)
    for week, day in enumerate(weekly(date(2026, 1, 5), 3)):
        answers = [Seeded(scores=uniform(1 + (week + k) % 5)) for k in range(6)]
        seed_run(session, org, group, day, answers)
    group_id = group.id
batch = DigestBatch(engine, (group_id, 999), datetime(2026, 3, 1, tzinfo=UTC))
(first, drawn), (missing, error) = SlackMessenger(WebClient()).render_digests(batch)
assert (first, missing) == (group_id, 999)
assert isinstance(drawn, SlackDigest), drawn
assert drawn.chart_png is not None and drawn.chart_png.startswith(b"\\x89PNG")
assert "no leadership group 999" in str(error), error
# The engine (numpy) loads with the first report computed, matplotlib with the first chart.
loaded = [m for m in sys.modules if m == "pulses.signals.engine" or m.startswith("matplotlib")]
print(sorted(loaded))
# The same digest computed and drawn here: the same message, to the byte.
from bot.views.message import group_digest_message
print(group_digest_message(batch.compute()[0][1]) == drawn)
"""
    printed = subprocess.run(
        [sys.executable, "-c", script, migrated_url],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    ).stdout.split()
    assert printed == ["[]", "True"]


def loaded(names: tuple[str, ...]) -> list[bool]:
    """Run in the drawing process: which of these modules it has loaded."""
    return [name in sys.modules for name in names]


def test_the_drawing_process_loads_what_a_batch_needs_then_keeps_it_out_of_collections(
    drawer: Drawer,
) -> None:
    """Before its first batch it has loaded the compute, the engine and matplotlib (not at
    the first batch of a wave), and it tunes the collector as `coherence serve` does."""
    needed = ("bot.digest_batch", "pulses.signals.engine", "bot.views.chart", "matplotlib")
    assert drawer.submit(loaded, needed).result(timeout=60) == [True] * len(needed)
    frozen = drawer.submit(gc.get_freeze_count).result(timeout=60)
    threshold = drawer.submit(gc.get_threshold).result(timeout=60)
    assert frozen > 10_000
    assert threshold[0] == YOUNG_COLLECTION_OBJECTS


def test_a_drawing_that_never_ends_stops_its_child_and_the_next_one_gets_a_new_child(
    drawer: Drawer,
) -> None:
    stuck_in = drawer.submit(os.getpid).result(timeout=60)
    stuck = drawer.submit(time.sleep, 600)
    with pytest.raises(TimeoutError):
        drawer.result(stuck, timeout=0.5)
    # Not queued behind the stuck drawing: a new child draws it at once.
    assert drawer.submit(os.getpid).result(timeout=30) not in (stuck_in, os.getpid())
    with pytest.raises(BrokenProcessPool):
        stuck.result(timeout=30)
