"""The domain's Messenger, implemented with Slack's Web API: pulses, reminders and digests."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from bot.digest_batch import DrawingFailed, compute_and_draw
from bot.drawer import DRAWER, Drawer
from bot.views.message import SlackDigest, group_digest_message, org_digest_message
from bot.views.pulse import answered_message, pulse_message, reminder_text
from pulses.digest_batches import DigestBatch
from pulses.organisation import OrgDigest
from pulses.ports import DeliveryError, Member, PulseNotice, RenderedDigest
from pulses.reports import GroupDigest

logger = logging.getLogger(__name__)

# Slack errors that no retry will fix; recorded on the invitation with their code.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "user_disabled",
        "account_inactive",
        "cannot_dm_bot",
        "invalid_auth",
        "not_authed",
        "missing_scope",
        "restricted_action",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "user_not_in_channel",
        "team_access_not_granted",
        # The workspace uninstalled the app or revoked its token: no retry will be let in.
        "token_revoked",
        "app_uninstalled",
    }
)
# A post whose outcome stays unknown is tried at most this many times within one call.
POST_ATTEMPTS = 3
PULSE_EVENT = "coherence_pulse"
DIGEST_EVENT = "coherence_digest"
MEMBER_CACHE_SECONDS = 3600
# More unknown members than this and the whole directory is read (users.list, Tier 2, pages of
# DIRECTORY_PAGE people) rather than each one looked up (users.info, Tier 4: 100 a minute).
LOOKUP_ONE_BY_ONE = 20
DIRECTORY_PAGE = 200


class Pacer:
    """Spaces calls evenly so a fan-out stays under Slack's workspace-wide posting rate."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def wait_turn(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            turn = max(now, self._next)
            self._next = turn + self._interval
        if turn > now:
            # Pacing, not waiting for an event: nothing could signal "your turn" earlier.
            self._wake.wait(turn - now)


class UnknownOutcome(DeliveryError):
    """Slack may or may not have carried the call out: a 5xx, a timeout, a dropped connection."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=False, ambiguous=True)


@dataclass(frozen=True)
class DigestDrawing:
    """A digest being laid out and charted by the drawer."""

    message: Future[SlackDigest]
    drawer: Drawer
    team_id: str | None = None

    def finish(self) -> SlackDigest:
        """The digest's message, once drawn; raises what stopped the drawing."""
        drawn = self.drawer.result(self.message)
        return drawn if self.team_id is None else replace(drawn, team_id=self.team_id)


def draw_batch(drawer: Drawer, batch: DigestBatch) -> Iterator[tuple[int, SlackDigest | Exception]]:
    """The batch handed to the drawer now, to compute and draw (`bot.digest_batch`); each
    group with its message, or with what stopped it, once the batch is done."""
    try:
        future = drawer.submit(
            compute_and_draw, batch.database_url, batch.group_ids, batch.now, batch.thresholds
        )
    except Exception as error:
        return iter([(group_id, error) for group_id in batch.group_ids])
    return _taken(drawer, future, batch.group_ids)


def _taken(
    drawer: Drawer,
    future: Future[list[tuple[int, SlackDigest | DrawingFailed]]],
    group_ids: Sequence[int],
) -> Iterator[tuple[int, SlackDigest | Exception]]:
    try:
        drawn = drawer.result(future)
    except Exception as error:
        # The drawing process died or was stopped: the whole batch is left for the next tick.
        for group_id in group_ids:
            yield group_id, error
        return
    yield from drawn


@dataclass
class _CachedUser:
    member: Member
    human: bool
    fetched: float


def _cached_user(user: dict[str, Any], fetched: float) -> _CachedUser:
    profile = user.get("profile") or {}
    member = Member(
        user_id=user["id"],
        timezone=user.get("tz"),
        status_emoji=str(profile.get("status_emoji") or ""),
        status_expiration=int(profile.get("status_expiration") or 0),
    )
    human = not (user.get("is_bot") or user.get("deleted") or user["id"] == "USLACKBOT")
    return _CachedUser(member=member, human=human, fetched=fetched)


class SlackMessenger:
    """Delivers pulses and digests through a WebClient; Slack errors become DeliveryError."""

    def __init__(
        self, client: WebClient, *, posts_per_minute: int = 300, drawer: Drawer = DRAWER
    ) -> None:
        self.client = client
        self._pacer = Pacer(posts_per_minute)
        self._drawer = drawer
        self._users: dict[str, _CachedUser] = {}
        self._users_lock = threading.Lock()
        # Markers of posts whose outcome Slack never told us; see `_post_once`.
        self._unknown_outcomes: set[str] = set()

    def channel_members(self, channel_id: str) -> list[Member]:
        user_ids: list[str] = []
        cursor: str | None = None
        while True:
            response = self._call(
                self.client.conversations_members, channel=channel_id, limit=200, cursor=cursor
            )
            user_ids.extend(response.get("members", []))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        known = self._known_users(user_ids)
        members = []
        for user_id in user_ids:
            cached = known.get(user_id) or self._user(user_id)
            if cached is not None and cached.human:
                members.append(cached.member)
        return members

    def _known_users(self, user_ids: list[str]) -> dict[str, _CachedUser]:
        """Who each member is, read from the cache; when many are unknown or stale, the
        workspace's directory is read again a page of 200 people at a time (users.list,
        Tier 2) instead of one users.info (Tier 4) per person."""
        now = time.monotonic()
        with self._users_lock:
            fresh = {
                user_id: cached
                for user_id in user_ids
                if (cached := self._users.get(user_id)) is not None
                and now - cached.fetched < MEMBER_CACHE_SECONDS
            }
        if len(user_ids) - len(fresh) <= LOOKUP_ONE_BY_ONE:
            return fresh
        directory = self._read_directory()
        return {user_id: directory[user_id] for user_id in user_ids if user_id in directory}

    def _read_directory(self) -> dict[str, _CachedUser]:
        directory: dict[str, _CachedUser] = {}
        cursor: str | None = None
        while True:
            response = self._call(self.client.users_list, limit=DIRECTORY_PAGE, cursor=cursor)
            fetched = time.monotonic()
            for user in response.get("members", []):
                directory[user["id"]] = _cached_user(user, fetched)
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        with self._users_lock:
            self._users.update(directory)
        return directory

    def _user(self, user_id: str) -> _CachedUser | None:
        with self._users_lock:
            cached = self._users.get(user_id)
        if cached is not None and time.monotonic() - cached.fetched < MEMBER_CACHE_SECONDS:
            return cached
        try:
            user = self._call(self.client.users_info, user=user_id)["user"]
        except DeliveryError as error:
            if error.permanent:
                return None
            raise
        cached = _cached_user(user, time.monotonic())
        with self._users_lock:
            self._users[user_id] = cached
        return cached

    def post_channel_pulse(self, notice: PulseNotice, *, marker: str) -> str:
        text, blocks = pulse_message(notice)
        self._pacer.wait_turn()
        _, ts = self._post_once(
            notice.channel_id,
            marker,
            text=text,
            blocks=[block.to_dict() for block in blocks],
            metadata=_metadata(PULSE_EVENT, marker),
        )
        return ts

    def update_channel_pulse(self, notice: PulseNotice, *, ts: str) -> None:
        text, blocks = pulse_message(notice)
        self._call(
            self.client.chat_update,
            channel=notice.channel_id,
            ts=ts,
            text=text,
            blocks=[block.to_dict() for block in blocks],
        )

    def send_dm_pulse(self, user_id: str, notice: PulseNotice, *, marker: str) -> tuple[str, str]:
        text, blocks = pulse_message(notice, in_dm=True)
        self._pacer.wait_turn()
        # Posting to the user ID lands in the app's DM without a Tier 3 conversations.open.
        return self._post_once(
            user_id,
            marker,
            text=text,
            blocks=[block.to_dict() for block in blocks],
            metadata=_metadata(PULSE_EVENT, marker),
        )

    def confirm_answer(self, notice: PulseNotice, *, channel: str, ts: str) -> None:
        text, blocks = answered_message(notice)
        self._call(
            self.client.chat_update,
            channel=channel,
            ts=ts,
            text=text,
            blocks=[block.to_dict() for block in blocks],
        )

    def remind(self, user_id: str, notice: PulseNotice, *, in_channel: bool) -> None:
        self._pacer.wait_turn()
        if in_channel:
            # Ephemeral: only the person who has not answered sees that they have not.
            self._call(
                self.client.chat_postEphemeral,
                channel=notice.channel_id,
                user=user_id,
                text=reminder_text(notice),
            )
        else:
            self._call(self.client.chat_postMessage, channel=user_id, text=reminder_text(notice))

    def render_digest(self, digest: GroupDigest | OrgDigest) -> SlackDigest:
        return self.begin_digest(digest).finish()

    def render_digests(self, batch: DigestBatch) -> Iterator[tuple[int, SlackDigest | Exception]]:
        return draw_batch(self._drawer, batch)

    def begin_digest(
        self, digest: GroupDigest | OrgDigest, *, team_id: str | None = None
    ) -> DigestDrawing:
        """The digest handed to the drawer (a process of its own) to lay out and chart."""
        drawer = self._drawer
        if isinstance(digest, OrgDigest):
            return DigestDrawing(drawer.submit(org_digest_message, digest), drawer, team_id)
        return DigestDrawing(drawer.submit(group_digest_message, digest), drawer, team_id)

    def post_digest(self, digest: RenderedDigest, *, channel: str, marker: str | None) -> str:
        assert isinstance(digest, SlackDigest), "a digest is posted as this messenger drew it"
        _, ts = self._post_once(
            channel,
            marker,
            text=digest.text,
            blocks=digest.blocks,
            metadata=_metadata(DIGEST_EVENT, marker) if marker is not None else None,
        )
        if digest.chart_png is not None:
            try:
                self._call(
                    self.client.files_upload_v2,
                    channel=channel,
                    content=digest.chart_png,
                    filename=digest.filename,
                    title=digest.title,
                    thread_ts=ts,
                )
            except DeliveryError:
                # The digest itself is posted; raising would make the caller post it again.
                logger.exception("Failed to upload the digest's trend chart")
        return ts

    def find_delivered(self, destination: str, *, marker: str) -> tuple[str, str] | None:
        # Only the latest 100 messages: the send looked for is one a bot lost track of since
        # its last tick, and markers are unique across pulses and digests.
        channel = destination
        if destination.startswith(("U", "W")):
            channel = self._call(self.client.conversations_open, users=destination)["channel"]["id"]
        response = self._call(
            self.client.conversations_history, channel=channel, limit=100, include_all_metadata=True
        )
        for message in response.get("messages", []):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("marker") == marker:
                return channel, str(message["ts"])
        return None

    def _post_once(self, destination: str, marker: str | None, **arguments: Any) -> tuple[str, str]:
        """chat.postMessage, never twice: (channel, ts) of the one message.

        The client does not retry a post (see `bot.app.build_client`). When Slack's answer is
        lost, the message is looked up by its marker before it is posted again, in this call
        or, if Slack could not be asked, when its send comes round again. Without a marker
        the outcome cannot be checked, so the post is not repeated.
        """
        if marker is None:
            response = self._call(self.client.chat_postMessage, channel=destination, **arguments)
            return str(response["channel"]), str(response["ts"])
        for _ in range(POST_ATTEMPTS):
            found = self._find_unknown_outcome(destination, marker)
            if found is not None:
                return found
            try:
                response = self._call(
                    self.client.chat_postMessage, channel=destination, **arguments
                )
            except UnknownOutcome:
                self._unknown_outcomes.add(marker)
                continue
            return str(response["channel"]), str(response["ts"])
        found = self._find_unknown_outcome(destination, marker)
        if found is None:
            raise UnknownOutcome(f"no answer from Slack after {POST_ATTEMPTS} posts")
        return found

    def _find_unknown_outcome(self, destination: str, marker: str) -> tuple[str, str] | None:
        """Where an earlier post with `marker` landed, if its outcome was unknown and it did."""
        if marker not in self._unknown_outcomes:
            return None
        # Raises when Slack cannot be asked: the marker stays unknown for the next attempt.
        found = self.find_delivered(destination, marker=marker)
        self._unknown_outcomes.discard(marker)
        return found

    def _call(self, method: Callable[..., SlackResponse], **arguments: Any) -> dict[str, Any]:
        arguments = {key: value for key, value in arguments.items() if value is not None}
        try:
            response = method(**arguments)
        except SlackApiError as error:
            status = error.response.status_code
            code = str(error.response.get("error") or f"http_{status}")
            if status >= 500:
                raise UnknownOutcome(code) from None
            raise DeliveryError(code, permanent=code in PERMANENT_ERRORS) from None
        except (SlackClientError, OSError, TimeoutError) as error:
            raise UnknownOutcome(f"connection: {type(error).__name__}") from None
        data = response.data
        assert isinstance(data, dict)
        return data


def _metadata(event: str, marker: str) -> dict[str, Any]:
    # Lets a restarted bot find out whether a send it lost track of reached Slack.
    return {"event_type": event, "event_payload": {"marker": marker}}
