"""500 groups' weekly digests, 104 weeks of history each: computed, then posted with charts.

Seeded straight into the database (bulk inserts): every group has a closed weekly run for
each of `WEEKS` weeks, `ANSWERS` of `INVITED` leaders answering, scores and shares of
attention varying from run to run, all digests due at once.

Baseline: the floor, one SQL aggregate (``GROUP BY`` group, question, score) over the same
answers the digests read, the window of runs each digest needs, in the same run.
Measured: the compute of every group's digest (`pulses.reports.group_digest`), on 104 and on
52 weeks of history (the cost must not grow with history the digest does not show), and the
scheduler's digest path (`bot.scheduler.run_tick`): the digests drawn with their charts and
posted through the real messenger against the sandbox, Slack's limits on, each tick posting
what its budget allows and the next tick the rest; the longest tick is how long a pulse or
an answer's bookkeeping could wait behind digests.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from typing import Any

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from benchmarks.harness import SECRET, TOKEN, sqlite_url, start_bot_at
from bot.collector import exempt_start_up_objects
from bot.drawer import DRAWER
from bot.messenger import draw_batch
from bot.scheduler import run_tick
from bot.views.message import group_digest_message
from pulses.digest_batches import DigestBatch
from pulses.digests import BATCH, due_digests
from pulses.questions import default_questions
from pulses.reports import TREND_RUNS, group_digests
from pulses.retention import FRICTION_RETENTION_WEEKS
from pulses.windows import window_size
from sandbox import RateLimits, SlackSandbox, Workspace
from storage.db import make_engine, read_scope
from storage.figures import figures_of, pack
from storage.migrate import upgrade
from storage.models import (
    Answer,
    AnswerFocus,
    AnswerScore,
    DigestDelivery,
    IntentShare,
    IntentVersion,
    Invitation,
    LeadershipGroup,
    Priority,
    PulseRun,
    Question,
    RunFigures,
)
from storage.models import Workspace as WorkspaceRow

GROUPS = 500
# Through the scheduler: as many as Slack's upload tier lets post within a minute.
SCHEDULED_GROUPS = 100
WEEKS = 104
SHORT_WEEKS = 52
ANSWERS = 6
INVITED = 8
# The compute moves by a third from round to round on a shared 2-core machine, the code
# unchanged: the median of five is steadier than of three, for some 25 s more.
ROUNDS = 5
# The latest run of every group: a Monday, closed 48 hours later, its digest due the next
# day at 09:00 UTC (`pulses.digests.digest_due_at`).
LAST_DAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
PRIORITIES = ("Enterprise expansion", "Billing revamp", "Hiring")


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _insert(connection: Connection, model: Any, **values: Any) -> int:
    """One row; its new id."""
    key = connection.execute(insert(_table(model)).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def seed(url: str, groups: int, weeks: int) -> None:
    """A migrated database holding `groups` groups with `weeks` closed weekly runs each."""
    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(11)
    try:
        with engine.begin() as connection:
            _seed(connection, rng, groups, weeks)
    finally:
        engine.dispose()


def _seed(connection: Connection, rng: random.Random, groups: int, weeks: int) -> None:
    created = NOW - timedelta(weeks=weeks + 1)
    workspace_id = _insert(
        connection, WorkspaceRow, team_id=Workspace().team_id, name="Bench", created_at=created
    )
    questions = []
    for position, question in enumerate(default_questions()):
        question_id = _insert(
            connection,
            Question,
            workspace_id=workspace_id,
            key=question.key,
            kind=question.kind,
            text=question.text,
            version=1,
            position=position,
            active=True,
            created_at=created,
        )
        questions.append((question_id, question.kind))
    scored = [qid for qid, kind in questions if kind in ("likert", "pressure")]
    priority_ids = [
        _insert(
            connection,
            Priority,
            workspace_id=workspace_id,
            name=name,
            position=n,
            active=True,
            created_at=created,
        )
        for n, name in enumerate(PRIORITIES)
    ]
    group_rows = [
        {
            "id": g + 1,
            "workspace_id": workspace_id,
            "channel_id": channel_id(g),
            "channel_name": f"leaders-{g:04d}",
            "layer": ("exec", "directors", "managers")[g % 3],
            "timezone": "UTC",
            "delivery_mode": "channel",
            "frequency": "weekly",
            "weekdays": "0",
            "local_time": "09:00",
            "per_member_time": False,
            "monthly_week": 1,
            "answer_window_minutes": 48 * 60,
            "reminder_after_minutes": 24 * 60,
            "paused": False,
            "anonymity_threshold": 5,
            "digest_time": "09:00",
            "active": True,
            "created_at": created,
            "updated_at": created,
        }
        for g in range(groups)
    ]
    connection.execute(insert(_table(LeadershipGroup)), group_rows)
    connection.execute(
        insert(_table(IntentVersion)),
        [
            {"id": g + 1, "workspace_id": workspace_id, "group_id": g + 1, "effective_at": created}
            for g in range(groups)
        ],
    )
    connection.execute(
        insert(_table(IntentShare)),
        [
            {"intent_id": g + 1, "priority_id": pid, "share": 1 / len(priority_ids)}
            for g in range(groups)
            for pid in priority_ids
        ],
    )
    question_ids = ",".join(str(qid) for qid, _ in questions)
    priorities_text = ",".join(str(pid) for pid in priority_ids)
    run_id = answer_id = 0
    for g in range(groups):
        runs: list[dict[str, Any]] = []
        invitations: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        scores: list[dict[str, Any]] = []
        focus: list[dict[str, Any]] = []
        figures: list[dict[str, Any]] = []
        for week in range(weeks):
            run_id += 1
            day = LAST_DAY - timedelta(weeks=weeks - 1 - week)
            scheduled = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
            closes = scheduled + timedelta(hours=48)
            runs.append(
                {
                    "id": run_id,
                    "group_id": g + 1,
                    "occurrence_day": day,
                    "scheduled_at": scheduled,
                    "status": "closed",
                    "delivery_mode": "channel",
                    "manual": False,
                    "opened_at": scheduled,
                    "closes_at": closes,
                    "closed_at": closes,
                    "channel_post_state": "posted",
                    "channel_id": channel_id(g),
                    "question_ids": question_ids,
                    "priority_ids": priorities_text,
                    "intent_version_id": g + 1,
                    "anonymity_threshold": 5,
                    "created_at": scheduled,
                }
            )
            invitations += (
                {
                    "run_id": run_id,
                    "user_id": f"U{n:05d}",
                    "timezone": "UTC",
                    "send_at": scheduled,
                    "status": "sent",
                    "attempts": 1,
                    "reminder_state": "sent",
                    "answered": False,
                }
                for n in range(INVITED)
            )
            # A team's mood drifts from week to week; its leaders scatter around it.
            mood = rng.randint(2, 4)
            # As a running bot leaves them: comments older than their retention are gone
            # (`pulses.retention`), so the scheduler's first tick does not forget years of them.
            recent = closes >= NOW - timedelta(weeks=FRICTION_RETENTION_WEEKS)
            answer_sets: list[tuple[list[tuple[int, int]], list[tuple[int | None, int]]]] = []
            for n in range(ANSWERS):
                answer_id += 1
                answers.append(
                    {
                        "id": answer_id,
                        "run_id": run_id,
                        "friction": f"Waiting on review {rng.randint(1, 40)}"
                        if n == 0 and recent
                        else None,
                    }
                )
                scores += (
                    {
                        "answer_id": answer_id,
                        "run_id": run_id,
                        "question_id": qid,
                        "score": min(5, max(1, mood + rng.randint(-1, 1))),
                    }
                    for qid in scored
                )
                first, second = rng.sample(priority_ids, 2)
                split = rng.choice((10, 7, 5))
                focus.append(
                    {
                        "answer_id": answer_id,
                        "run_id": run_id,
                        "priority_id": first,
                        "tenths": split,
                    }
                )
                if split < 10:
                    focus.append(
                        {
                            "answer_id": answer_id,
                            "run_id": run_id,
                            "priority_id": second,
                            "tenths": 10 - split,
                        }
                    )
                shares = 1 if split == 10 else 2
                answer_sets.append(
                    (
                        [(row["question_id"], row["score"]) for row in scores[-len(scored) :]],
                        [(row["priority_id"], row["tenths"]) for row in focus[-shares:]],
                    )
                )
            # As the close packs them (`pulses.pseudonyms.unlink_answers`).
            figures.append({"run_id": run_id, "packed": pack(figures_of(answer_sets))})
        for model, rows in (
            (PulseRun, runs),
            (Invitation, invitations),
            (Answer, answers),
            (AnswerScore, scores),
            (AnswerFocus, focus),
            (RunFigures, figures),
        ):
            connection.execute(insert(_table(model)), rows)


def channel_id(group: int) -> str:
    return f"C{group:07d}"


def _window(weeks: int) -> date:
    """The first day of the runs every digest reads: its trend and the baseline before it."""
    from pulses.flags import DEFAULT_THRESHOLDS

    runs = min(weeks, window_size(TREND_RUNS, 1, DEFAULT_THRESHOLDS))
    return LAST_DAY - timedelta(weeks=runs - 1)


def floor(engine: Engine, weeks: int) -> float:
    """One aggregate over every answer the digests read: each group's histograms."""
    query = (
        select(
            col(PulseRun.group_id),
            col(AnswerScore.question_id),
            col(AnswerScore.score),
            func.count(),
        )
        .join(PulseRun, col(PulseRun.id) == AnswerScore.run_id)
        .where(col(PulseRun.status) == "closed", col(PulseRun.occurrence_day) >= _window(weeks))
        .group_by(col(PulseRun.group_id), col(AnswerScore.question_id), col(AnswerScore.score))
    )
    started = time.monotonic()
    with engine.connect() as connection:
        connection.execute(query).all()
    return time.monotonic() - started


def compute(engine: Engine, groups: int) -> float:
    """Every group's digest as the scheduler computes them, `BATCH` groups per read session."""
    started = time.monotonic()
    for first in range(1, groups + 1, BATCH):
        ids = list(range(first, min(groups, first + BATCH - 1) + 1))
        with read_scope(engine) as session:
            digests = group_digests(session=session, group_ids=ids, now=NOW)
        assert all(digest.latest is not None for digest in digests)
    return time.monotonic() - started


@dataclass(frozen=True)
class History:
    weeks: int
    floor: float  # the rounds' median
    compute: float  # the rounds' median
    # Each round's compute over the floor measured just before it: how far the ratio moves
    # with the machine alone, the code unchanged.
    round_ratios: tuple[float, ...] = ()


def history_url(folder: str, weeks: int) -> str:
    return sqlite_url(folder).replace("bench.db", f"digests-{weeks}.db")


def measure_histories(folder: str, groups: int, rounds: int) -> tuple[History, History]:
    """The floor and the compute on `WEEKS` and on `SHORT_WEEKS` of history, both databases
    seeded first and their rounds taken in turn, so that neither is measured at a quieter
    or a busier moment of the run than the other."""
    weeks = (WEEKS, SHORT_WEEKS)
    engines = {}
    for count in weeks:
        url = history_url(folder, count)
        seed(url, groups, count)
        engines[count] = make_engine(url)
    try:
        for engine in engines.values():
            with engine.connect() as connection:
                connection.execute(text("ANALYZE"))
        # What `coherence serve` exempts from the garbage collector once started; the engine
        # and numpy load with the first report after that, not inside the measurement.
        exempt_start_up_objects()
        floors: dict[int, list[float]] = {count: [] for count in weeks}
        computes: dict[int, list[float]] = {count: [] for count in weeks}
        for engine in engines.values():
            compute(engine, 1)
        for _ in range(rounds):
            for count, engine in engines.items():
                floors[count].append(floor(engine, count))
                computes[count].append(compute(engine, groups))
    finally:
        for engine in engines.values():
            engine.dispose()
    long, short = (
        History(
            count,
            statistics.median(floors[count]),
            statistics.median(computes[count]),
            tuple(c / f for c, f in zip(computes[count], floors[count], strict=True)),
        )
        for count in weeks
    )
    return long, short


@dataclass(frozen=True)
class Scheduled:
    groups: int
    seconds: float
    posted: int
    charts: int
    ticks: int
    longest_tick: float
    chart: float  # seconds of one digest laid out and charted, warm, in the drawing process
    drawer_start: float  # seconds the drawing process took to start, before the row


def slack_with_channels(groups: int) -> SlackSandbox:
    workspace = Workspace()
    for g in range(groups):
        workspace.add_channel(channel_id(g), f"leaders-{g:04d}", [])
    slack = SlackSandbox(
        workspace, bot_token=TOKEN, signing_secret=SECRET, rate_limits=RateLimits()
    )
    slack.start()
    return slack


def _serve_slack(pipe: Pipe, groups: int) -> None:
    """The sandbox in a process of its own: its URL sent, then the number of charts it holds
    each time it is asked, until told to stop."""
    slack = slack_with_channels(groups)
    try:
        pipe.send(slack.api_url)
        while pipe.recv() != "stop":
            pipe.send(sum(1 for file in slack.files if file.name.endswith(".png")))
    finally:
        slack.stop()


@contextmanager
def slack_apart(groups: int) -> Iterator[tuple[str, Callable[[], int]]]:
    """(the API URL of a sandbox serving from a process of its own, how many charts it
    holds): Slack's own handling of the calls, as Slack's servers do it, is not done by the
    process being measured, under its interpreter lock."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve_slack, args=(theirs, groups), daemon=True)
    server.start()
    try:

        def charts() -> int:
            ours.send("count")
            return int(ours.recv())

        yield str(ours.recv()), charts
    finally:
        if server.is_alive():
            ours.send("stop")
        server.join(timeout=30)


def _posted(url: str) -> int:
    engine = make_engine(url)
    try:
        with read_scope(engine) as session:
            return int(
                session.exec(  # type: ignore[call-overload]
                    select(func.count())
                    .select_from(DigestDelivery)
                    .where(col(DigestDelivery.status) == "posted")
                ).one()[0]
            )
    finally:
        engine.dispose()


def measure_scheduled(url: str, groups: int) -> Scheduled:
    """The scheduler's ticks at `NOW` until no digest is due: drawn, charted, posted.

    Only the first `groups` groups stay active: at Slack's file upload tier (Tier 4, 100 in
    any minute) 500 charts alone take four minutes (`upload_floor`), more than `make bench`
    can spend on one row.
    """
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(_table(LeadershipGroup))
                .where(col(LeadershipGroup.id) > groups)
                .values(active=False)
            )
    finally:
        engine.dispose()
    with slack_apart(groups) as (api_url, charts_posted):
        bot = start_bot_at(api_url, url)
        bot.services.clock = lambda: NOW
        drawer_start, chart = warm_chart(bot.engine)
        durations: list[float] = []
        started = time.monotonic()
        try:
            while due_digests(engine=bot.engine, now=NOW) and len(durations) < groups + 5:
                began = time.monotonic()
                # The scheduler's two jobs of each interval, the tick's and the digests' (the
                # retention job runs hourly, on its own).
                run_tick(bot.services, retention=False)
                durations.append(time.monotonic() - began)
            seconds = time.monotonic() - started
        finally:
            bot.close()
        charts = charts_posted()
    return Scheduled(
        groups,
        seconds,
        _posted(url),
        charts,
        len(durations),
        max(durations, default=0.0),
        chart,
        drawer_start,
    )


def warm_chart(engine: Engine, rounds: int = 5) -> tuple[float, float]:
    """Seconds the drawing process takes to start (once per wave of digests: it leaves when
    idle), then of one digest laid out and charted there and handed back, after a first one
    that drew the chart's template, as the scheduler's are since the first digest of the wave
    (compute only is measured warm too). The first digest's dates are a year earlier, so the
    measured digests still draw their own row of dates once. Then a first batch computed there,
    since the drawing process computes the scheduler's digests too."""
    with read_scope(engine) as session:
        digest = group_digests(session=session, group_ids=[1], now=NOW)[0]
    started = time.monotonic()
    DRAWER.submit(os.getpid).result()
    start_up = time.monotonic() - started
    earlier = [
        replace(r, occurrence_day=r.occurrence_day - timedelta(weeks=52)) for r in digest.history
    ]
    DRAWER.submit(group_digest_message, replace(digest, history=tuple(earlier))).result()
    started = time.monotonic()
    for _ in range(rounds):
        DRAWER.submit(group_digest_message, digest).result()
    chart = (time.monotonic() - started) / rounds
    # The drawing process computes the scheduler's digests too: its first batch, which opens
    # the database and reads it cold, is taken before the row, as compute only's is.
    [(_, drawn)] = draw_batch(DRAWER, DigestBatch(engine, (1,), NOW))
    assert not isinstance(drawn, Exception), drawn
    return start_up, chart


def upload_floor(charts: int) -> float:
    """The least time Slack's upload tier lets ``charts`` files through, as the sandbox counts
    it: 100 calls of each upload method in any minute (a sliding window), so the first 100
    go at once and each further 100 wait for the minute to pass."""
    per_minute = RateLimits().tiers["files.getUploadURLExternal"]
    return 60.0 * ((charts - 1) // per_minute) if charts else 0.0


def measure(
    groups: int, scheduled_groups: int, rounds: int = ROUNDS
) -> tuple[History, History, Scheduled]:
    with tempfile.TemporaryDirectory() as folder:
        long, short = measure_histories(folder, groups, rounds)
        scheduled = measure_scheduled(history_url(folder, WEEKS), min(groups, scheduled_groups))
    return long, short, scheduled


def report(long: History, short: History, scheduled: Scheduled, groups: int) -> dict[str, object]:
    per_floor = long.compute / long.floor
    growth = long.compute / short.compute
    # Compute only for as many digests as went through the scheduler.
    compute_only = long.compute * scheduled.groups / groups
    through = scheduled.seconds / compute_only
    floor_s = upload_floor(scheduled.charts)
    print(
        f"{groups} digests, {long.weeks} weeks of history, compute: {per_floor:.1f}x the "
        f"one-query floor ({long.compute:.2f} s vs {long.floor * 1000:.0f} ms, medians of "
        f"{len(long.round_ratios)} rounds; round by round "
        + ", ".join(f"{ratio:.1f}x" for ratio in long.round_ratios)
        + ")"
    )
    print(
        f"the same on {long.weeks} vs {short.weeks} weeks: {growth:.2f}x "
        f"({long.compute:.2f} s vs {short.compute:.2f} s)"
    )
    print(
        f"{scheduled.groups} digests through the scheduler with charts, Slack's limits on: "
        f"{through:.2f}x compute only ({scheduled.seconds:.1f} s vs {compute_only:.2f} s; "
        f"{scheduled.posted} posted, {scheduled.charts} charts; each digest laid out and "
        f"charted in {scheduled.chart * 1000:.0f} ms by the drawing process, started "
        f"{scheduled.drawer_start:.1f} s before the wave; {scheduled.ticks} ticks, longest "
        f"{scheduled.longest_tick:.1f} s)"
    )
    # Compared like with like: when Slack's upload tier holds the charts back, the scheduler
    # can be no faster than that floor, whatever the compute.
    bound = floor_s > compute_only
    print(
        "the same against Slack's upload floor (Tier 4, 100 uploads in any minute): "
        + (
            f"bound by it, {scheduled.seconds / floor_s:.2f}x the {floor_s:.0f} s floor"
            if bound
            else f"not bound by it ({scheduled.charts} charts: floor {floor_s:.0f} s, below "
            f"compute only), so compute only is the baseline"
        )
    )
    return {
        "groups": groups,
        "weeks": long.weeks,
        "floor_s": round(long.floor, 3),
        "compute_s": round(long.compute, 2),
        "ratio_floor": round(per_floor, 2),
        "ratio_floor_rounds": [round(ratio, 2) for ratio in long.round_ratios],
        "compute_short_s": round(short.compute, 2),
        "ratio_history": round(growth, 3),
        "scheduled_groups": scheduled.groups,
        "scheduled_s": round(scheduled.seconds, 1),
        "ratio_scheduled": round(through, 2),
        "upload_floor_s": round(floor_s, 1),
        "upload_bound": bound,
        "ratio_upload_floor": round(scheduled.seconds / floor_s, 2) if floor_s else None,
        "chart_ms": round(scheduled.chart * 1000, 1),
        "drawer_start_s": round(scheduled.drawer_start, 2),
        "posted": scheduled.posted,
        "charts": scheduled.charts,
        "ticks": scheduled.ticks,
        "longest_tick_s": round(scheduled.longest_tick, 2),
    }
