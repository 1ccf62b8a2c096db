"""What is due, delivered exactly once: one tick runs every step, and `pulse now` claims a run.

The database is the source of truth. Every send is *claimed* (`pulses.claims`) before anything
reaches Slack, so two processes (or a restarted one) never send the same thing twice, and
replicas share a fan-out between them; so is each run's start (its members' look-up), so one
replica makes it while the others send. The sends are made in rounds, each workspace taking a
few per round (`pulses.ticks.FairShares`), and the claims are leases this process renews while
it works, so a dead replica's are taken over within a minute.
The caller passes the current time; nothing here reads the clock.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from pulses.claims import keep_leases
from pulses.delivery import deliver_channel_posts, deliver_direct_messages, recover_abandoned_claims
from pulses.groups import cadence_of
from pulses.ports import Messenger
from pulses.reminders import send_reminders
from pulses.runs import claim_run, close_expired_runs, schedule_due_runs, start_pending_runs
from pulses.ticks import Tick, TickReport, Worker
from storage.db import session_scope
from storage.models import LeadershipGroup


def tick(
    *, engine: Engine, messenger: Messenger, now: datetime, worker: Worker | None = None
) -> TickReport:
    """Do everything that is due at `now`. Safe to run concurrently and after a crash."""
    current = Tick(
        engine=engine,
        messenger=messenger,
        now=now,
        worker=worker or Worker.for_this_process(),
    )
    schedule_due_runs(current)
    with keep_leases(engine, current.worker):
        # Inside the heartbeat: a run start waiting out Slack's 429s keeps its claim.
        start_pending_runs(current)
        while True:
            current.shares.new_round()
            # Each round, so the claims of a replica that died mid-fan-out are taken over
            # while this one is still busy with its own share.
            recover_abandoned_claims(current)
            deliver_channel_posts(current)
            deliver_direct_messages(current)
            send_reminders(current)
            # Nothing deferred: this round reached everything due.
            if not current.shares.deferred or current.stopping:
                break
    if not current.stopping:
        close_expired_runs(current)
    return current.report


def claim_run_now(*, engine: Engine, group_id: int, now: datetime) -> bool:
    """Claim today's occurrence (group time zone) to send at `now`; False if one exists.

    Sharing the scheduled run's key means a pulse sent by hand in the morning is not followed
    by the scheduled one the same day.
    """
    with session_scope(engine) as session:
        group = session.get(LeadershipGroup, group_id)
        if group is None:
            return False
        cadence = cadence_of(session=session, group=group)
    today = now.astimezone(ZoneInfo(group.timezone)).date()
    return claim_run(engine, group, today, now, False, cadence.answer_window, manual=True)
