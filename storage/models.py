"""SQLModel tables. Alembic migrations in storage/migrations own the schema."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# Named constraints let later migrations alter them on SQLite, whose batch mode recreates tables.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(unique=True, max_length=32)
    name: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class LeadershipGroup(SQLModel, table=True):
    """A Slack channel whose members are asked the pulse, with its cadence and digest settings."""

    __tablename__ = "leadership_groups"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    channel_id: str = Field(max_length=32)
    channel_name: str = Field(default="", max_length=255)
    layer: str | None = Field(default=None, max_length=64)
    timezone: str = Field(default="UTC", max_length=64)
    delivery_mode: str = Field(default="channel", max_length=16)  # "channel" | "dm"
    frequency: str = Field(default="weekly", max_length=16)  # weekly | biweekly | monthly
    weekdays: str = Field(default="0", max_length=32)  # comma-separated, 0 = Monday
    local_time: str = Field(default="09:00", max_length=5)
    per_member_time: bool = False
    monthly_week: int = 1
    anchor: date | None = None
    answer_window_minutes: int = 48 * 60
    reminder_after_minutes: int | None = 24 * 60
    # How late a missed send may still go out; None means half the answer window.
    grace_minutes: int | None = None
    paused: bool = False
    anonymity_threshold: int = 5
    digest_weekday: int | None = None
    digest_time: str = Field(default="09:00", max_length=5)
    digest_channel_id: str | None = Field(default=None, max_length=32)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # When the current schedule took effect: occurrences before it are neither sent late nor
    # recorded as missed (a cadence change must not "catch up" on days under the new rule).
    schedule_starts_at: datetime | None = None
    language: str = Field(default="en", max_length=16)  # the locale of its messages (bot.i18n)


class SkipDate(SQLModel, table=True):
    """A local date on which a group's pulse is not sent (a holiday)."""

    __tablename__ = "skip_dates"
    __table_args__ = (UniqueConstraint("group_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="leadership_groups.id", index=True)
    day: date


class Question(SQLModel, table=True):
    """One version of a question; editing the wording adds a version, never rewrites one."""

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("workspace_id", "key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    key: str = Field(max_length=64)  # the Likert dimension key, or "focus" / "friction"
    # "likert" | "focus" (one choice) | "attention" (shares of attention) | "friction"
    kind: str = Field(max_length=16)
    text: str = Field(max_length=500)
    version: int = 1
    position: int = 0
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class Priority(SQLModel, table=True):
    """A declared strategic priority offered by the focus question."""

    __tablename__ = "priorities"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="leadership_groups.id")
    name: str = Field(max_length=75)
    weight: float | None = None
    position: int = 0
    active: bool = True
    retired_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class PulseRun(SQLModel, table=True):
    """One scheduled occurrence of a group's pulse; the unique key is the send claim."""

    __tablename__ = "pulse_runs"
    __table_args__ = (UniqueConstraint("group_id", "occurrence_day"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="leadership_groups.id", index=True)
    occurrence_day: date
    scheduled_at: datetime
    # "pending" (claimed, fan-out not started) | "open" | "closed" | "missed" | "failed"
    status: str = Field(default="pending", max_length=16, index=True)
    delivery_mode: str = Field(default="channel", max_length=16)
    # Sent by an admin's `pulse now`: everyone gets it at once, whatever their time zone.
    manual: bool = False
    opened_at: datetime | None = None
    closes_at: datetime
    closed_at: datetime | None = None
    # Channel mode: the one message with the Answer button, claimed like an invitation.
    channel_post_state: str = Field(default="pending", max_length=16)
    channel_post_claimed_by: str | None = Field(default=None, max_length=128)
    channel_post_claimed_at: datetime | None = None
    channel_id: str | None = Field(default=None, max_length=32)
    channel_message_ts: str | None = Field(default=None, max_length=32)
    # The exact question versions and priorities this run asked, as comma-separated ids.
    question_ids: str = Field(default="", max_length=1000)
    priority_ids: str = Field(default="", max_length=4000)
    # The declared intent in force when the run was claimed; later edits never change it.
    intent_version_id: int | None = Field(default=None, foreign_key="intent_versions.id")
    anonymity_threshold: int = 5
    # Why the whole run could not be delivered (e.g. the bot is not in the channel).
    failure_reason: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """Who a run asked, and whether the pulse reached them (and why not)."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("run_id", "user_id"),
        # A state with the open runs' ids: the tick's "pending / sent in an open run" reads
        # look up those runs' rows, not every invitation ever sent in that state.
        Index("ix_invitations_status_run_id", "status", "run_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="pulse_runs.id", index=True)
    user_id: str = Field(max_length=32)
    timezone: str = Field(default="UTC", max_length=64)
    send_at: datetime
    # pending | sending (claimed) | sent | failed
    status: str = Field(default="pending", max_length=16)
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    failure_reason: str | None = Field(default=None, max_length=255)
    dm_channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = None
    remind_at: datetime | None = None
    reminder_state: str = Field(default="pending", max_length=16)  # pending | sending | sent
    reminded_at: datetime | None = None
    # Set with the answer, so reminders and the App Home need no link from answers to people;
    # erased when the run closes, so it cannot be matched against the answers afterwards.
    answered: bool = False


class Answer(SQLModel, table=True):
    """One person's answer set for one run; resubmitting replaces it.

    No user ID, no time: while the run is open the keyed pseudonym finds a resubmission's
    earlier answer; the close erases it and re-inserts the run's answers in random order.
    """

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("run_id", "pseudonym"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="pulse_runs.id", index=True)
    # HMAC of workspace, run and user under the operator's key; None once the run closed.
    pseudonym: str | None = Field(default=None, max_length=64)
    # What "something else" was, when the answer gave it a share (see AnswerFocus).
    focus_other: str | None = Field(default=None, max_length=200)
    friction: str | None = Field(default=None, max_length=1000)


class AnswerScore(SQLModel, table=True):
    """A Likert score (1–5) within an answer set."""

    __tablename__ = "answer_scores"
    __table_args__ = (
        UniqueConstraint("answer_id", "question_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_is_likert"),
    )

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answers.id", index=True, ondelete="CASCADE")
    run_id: int = Field(foreign_key="pulse_runs.id", index=True)
    question_id: int = Field(foreign_key="questions.id")
    score: int


class AnswerFocus(SQLModel, table=True):
    """One answer's share of attention on one priority (None: "something else"), in tenths.

    An answer asked the single-choice focus question has one row of 10 tenths; an answer asked
    for shares has a row for each priority given a share above 0.
    """

    __tablename__ = "answer_focus"
    __table_args__ = (
        UniqueConstraint("answer_id", "priority_id"),
        CheckConstraint("tenths BETWEEN 1 AND 10", name="tenths_is_share"),
    )

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answers.id", index=True, ondelete="CASCADE")
    run_id: int = Field(foreign_key="pulse_runs.id", index=True)
    priority_id: int | None = Field(default=None, foreign_key="priorities.id")
    tenths: int


class RunFigures(SQLModel, table=True):
    """A closed run's answers packed at its close (`storage.figures`): what reports read of
    them, one row per run instead of one per score. Nothing in it links an answer to a person:
    the answer sets come in the close's random order, without pseudonym or friction."""

    __tablename__ = "run_figures"

    run_id: int = Field(foreign_key="pulse_runs.id", primary_key=True, ondelete="CASCADE")
    packed: str = Field(sa_type=Text)


class IntentVersion(SQLModel, table=True):
    """A group's declared intent from ``effective_at`` on: the shares it asks of attention.

    Recorded whenever the priority list or weights change the group's declared shares (with
    who and why), or, with no one named, when a run finds the shares changed otherwise.
    """

    __tablename__ = "intent_versions"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    group_id: int = Field(foreign_key="leadership_groups.id", index=True, ondelete="CASCADE")
    effective_at: datetime
    user_id: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=200)


class IntentShare(SQLModel, table=True):
    """One priority's declared share (0–1) in an intent version; a version's shares sum to 1."""

    __tablename__ = "intent_shares"
    __table_args__ = (UniqueConstraint("intent_id", "priority_id"),)

    id: int | None = Field(default=None, primary_key=True)
    intent_id: int = Field(foreign_key="intent_versions.id", index=True, ondelete="CASCADE")
    priority_id: int = Field(foreign_key="priorities.id", ondelete="CASCADE")
    share: float


class ConfigChange(SQLModel, table=True):
    """Audit trail: who changed what, when."""

    __tablename__ = "config_changes"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="leadership_groups.id")
    user_id: str = Field(max_length=32)
    summary: str = Field(max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)


class DigestDelivery(SQLModel, table=True):
    """One digest post, claimed by inserting this row: the unique keys make it exactly once.

    A group's weekly digest is keyed by (group_id, run_id); the organisation digest has no
    group or run and is keyed by (workspace_id, period), e.g. "org:2026-W05".
    """

    __tablename__ = "digest_deliveries"
    __table_args__ = (
        UniqueConstraint("group_id", "run_id"),
        UniqueConstraint("workspace_id", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="leadership_groups.id")
    run_id: int | None = Field(default=None, foreign_key="pulse_runs.id")
    period: str | None = Field(default=None, max_length=32)
    # posting (claimed) | posted | failed
    status: str = Field(default="posting", max_length=16, index=True)
    channel: str = Field(max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    attempts: int = 1
    claimed_at: datetime
    posted_at: datetime | None = None
    failure_reason: str | None = Field(default=None, max_length=255)


# --- commitments (issue 15, part 3) -------------------------------------------------------------


class Commitment(SQLModel, table=True):
    """What a team said it will do after a digest, with an owner; marked done in a later one.

    Team-level by design: it names the run whose digest it was recorded under, never an answer,
    so nothing here can be traced back to what anyone answered.
    """

    __tablename__ = "commitments"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    group_id: int = Field(foreign_key="leadership_groups.id", index=True, ondelete="CASCADE")
    run_id: int = Field(foreign_key="pulse_runs.id", index=True, ondelete="CASCADE")
    text: str = Field(max_length=300)
    owner_id: str = Field(max_length=32)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None
    done_by: str | None = Field(default=None, max_length=32)


# --- time away (issue 15) -----------------------------------------------------------------------


class TimeAway(SQLModel, table=True):
    """Days a member said they are away (their own local dates, both ends included): a run
    whose send falls on one neither asks, reminds nor counts them.

    Only the member sees their own periods; a run keeps a count of who was away, never names.
    """

    __tablename__ = "time_away"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    user_id: str = Field(max_length=32, index=True)
    first_day: date
    last_day: date
    created_at: datetime = Field(default_factory=utcnow)


class RunAway(SQLModel, table=True):
    """How many members a run passed over because they were away: a number, never who."""

    __tablename__ = "run_away"

    run_id: int = Field(foreign_key="pulse_runs.id", primary_key=True, ondelete="CASCADE")
    members: int = 0


# --- OAuth installations (issue 12) -------------------------------------------------------------
# slack_sdk's SQLAlchemy installation and OAuth state stores read and write these tables
# (bot/oauth.py); they are declared here, column for column as slack_sdk builds them, so that
# the migrations own them like every other table (tests/bot/test_oauth_tables.py compares).

import sqlalchemy as sa  # noqa: E402  (the block stands apart from the models above)


def _slack_app_columns() -> list[sa.Column[object]]:
    """Columns both slack_sdk tables open with (fresh objects for each table)."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200)),
    ]


def _slack_bot_columns(*, before: list[str]) -> list[sa.Column[object]]:
    """The workspace and bot token columns, after the columns named in `before`."""
    extra: dict[str, sa.Column[object]] = {
        "enterprise_url": sa.Column("enterprise_url", sa.String(200))
    }
    return [
        *(extra[name] for name in before),
        sa.Column("team_id", sa.String(32)),
        sa.Column("team_name", sa.String(200)),
        sa.Column("bot_token", sa.String(200)),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.String(200)),
        sa.Column("bot_token_expires_at", sa.DateTime),
    ]


SLACK_INSTALLATIONS = sa.Table(
    "slack_installations",
    SQLModel.metadata,
    *_slack_app_columns(),
    *_slack_bot_columns(before=["enterprise_url"]),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("user_token", sa.String(200)),
    sa.Column("user_scopes", sa.String(1000)),
    sa.Column("user_refresh_token", sa.String(200)),
    sa.Column("user_token_expires_at", sa.DateTime),
    sa.Column("incoming_webhook_url", sa.String(200)),
    sa.Column("incoming_webhook_channel", sa.String(200)),
    sa.Column("incoming_webhook_channel_id", sa.String(200)),
    sa.Column("incoming_webhook_configuration_url", sa.String(200)),
    sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
    sa.Column("token_type", sa.String(32)),
    sa.Column("installed_at", sa.DateTime, nullable=False),
    sa.Index(
        "slack_installations_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

SLACK_BOTS = sa.Table(
    "slack_bots",
    SQLModel.metadata,
    *_slack_app_columns(),
    *_slack_bot_columns(before=[]),
    sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
    sa.Column("installed_at", sa.DateTime, nullable=False),
    sa.Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

SLACK_OAUTH_STATES = sa.Table(
    "slack_oauth_states",
    SQLModel.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.String(200), nullable=False),
    sa.Column("expire_at", sa.DateTime, nullable=False),
)


class OrgWorkspace(SQLModel, table=True):
    """A workspace of an Enterprise Grid org where the app is installed org-wide: its groups
    are sent with the org's bot token, which slack_bots files under the org, not the team."""

    __tablename__ = "org_workspaces"

    team_id: str = Field(primary_key=True, max_length=32)
    enterprise_id: str = Field(max_length=32, index=True)
