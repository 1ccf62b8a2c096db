"""APScheduler as the alarm clock only: every tick asks the database what is due."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import col, func, select

from bot import metrics
from bot.services import Services
from pulses.digests import send_due_digests
from pulses.dispatch import tick
from pulses.retention import forget_old_friction
from storage.db import read_scope, session_scope
from storage.models import PulseRun, Workspace

logger = logging.getLogger(__name__)

# How often old friction comments are looked for: their retention is counted in weeks.
RETENTION_SECONDS = 3600


def run_tick(services: Services, *, digests: bool = True, retention: bool = True) -> None:
    """One pass over everything due now; a failure is logged and retried next tick.

    The scheduler runs digests and retention as jobs of their own (`digests=False,
    retention=False` here; `run_digests`, and `run_retention` hourly), so drawing and posting
    hundreds of digests never holds back a pulse, and forgetting comments weeks old does not
    take the write lock twice a minute; a direct call (a command's "now", the sandbox story)
    does all three in order.

    Logs one INFO line when the tick did something and nothing when it did not: an idle
    process ticks thousands of times a day.
    """
    started = time.monotonic()
    now = services.clock()
    # Tokens cached by this replica are dropped, so an uninstall handled by another replica
    # stops this one's sends from this tick on.
    services.begin_tick()
    try:
        report = tick(
            engine=services.engine, messenger=services.messenger, now=now, worker=services.worker
        )
    except Exception:
        logger.exception("Scheduler tick failed; the next tick will retry")
        return
    posted = _send_digests(services, now) if digests else 0
    if retention:
        run_retention(services)
    metrics.record_tick(
        report,
        digests=posted,
        open_runs=open_run_count(services),
        seconds=time.monotonic() - started,
    )
    if report.created or report.sent or report.reminded or report.closed or report.failed or posted:
        logger.info(
            "tick: %d runs claimed, %d sent, %d failed, %d reminded, %d closed, %d digests",
            report.created,
            report.sent,
            report.failed,
            report.reminded,
            report.closed,
            posted,
        )
    for error in report.errors:
        logger.warning("will retry: %s", error)


def run_retention(services: Services) -> None:
    """The scheduler's hourly job: friction comments past their retention are blanked. A
    retention counted in weeks needs no more than the hour; a failure is retried next time."""
    try:
        with session_scope(services.engine) as session:
            forget_old_friction(
                session=session,
                now=services.clock(),
                weeks=services.settings.coherence_friction_retention_weeks,
            )
    except Exception:
        logger.exception("Forgetting old friction comments failed; the next run will retry")


def run_digests(services: Services) -> None:
    """The scheduler's digest job: every digest due now, beside the pulse tick."""
    posted = _send_digests(services, services.clock())
    metrics.DIGESTS.inc(posted)
    if posted:
        logger.info("tick: %d digests", posted)


def _send_digests(services: Services, now: datetime) -> int:
    try:
        return send_due_digests(
            engine=services.engine,
            messenger=services.messenger,
            now=now,
            org_channels=org_digest_channels(services),
            thresholds=services.settings.flag_thresholds,
        )
    except Exception:
        logger.exception("Sending digests failed; the next tick will retry")
        return 0


def open_run_count(services: Services) -> int:
    """Pulse runs currently open for answers."""
    with read_scope(services.engine) as session:
        return session.exec(
            select(func.count()).select_from(PulseRun).where(col(PulseRun.status) == "open")
        ).one()


def org_digest_channels(services: Services) -> dict[int, str]:
    """Every workspace's admin channel for the organisation digest (from settings)."""
    channel = services.settings.coherence_admin_channel
    if not channel:
        return {}
    with read_scope(services.engine) as session:
        ids = session.exec(select(Workspace.id)).all()
    return {workspace_id: channel for workspace_id in ids if workspace_id is not None}


def start_scheduler(services: Services) -> BackgroundScheduler:
    """Tick every SCHEDULER_TICK_SECONDS in this process, starting now.

    The job store is in memory and private to this process: what is due lives in the
    database, and claims there keep several processes from sending anything twice.
    """
    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    tick_seconds = services.settings.scheduler_tick_seconds
    for job, kwargs, job_id, seconds in (
        (run_tick, {"digests": False, "retention": False}, "coherence-tick", tick_seconds),
        (run_digests, {}, "coherence-digests", tick_seconds),
        (run_retention, {}, "coherence-retention", RETENTION_SECONDS),
    ):
        scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            args=[services],
            kwargs=kwargs,
            id=job_id,
            next_run_time=datetime.now(UTC),
        )
    scheduler.add_listener(_record_lag, EVENT_JOB_SUBMITTED)
    scheduler.start()
    return scheduler


def _record_lag(event: JobSubmissionEvent) -> None:
    # A tick that starts late (a long previous tick, a stalled process) delays every send.
    due = max(event.scheduled_run_times)
    metrics.TICK_LAG.set(max(0.0, (datetime.now(UTC) - due).total_seconds()))
