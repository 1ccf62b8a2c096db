"""Installs through "Add to Slack" against the sandbox, over real HTTP: two workspaces, each
sent its pulses with its own token; an uninstall stops one at once; rotating tokens are
refreshed before they expire."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from bot.app import build_app, build_services
from bot.oauth import WorkspaceNotInstalled
from bot.server import RunningServer, start_in_background
from bot.services import Services
from bot.settings import Settings
from pulses.digests import send_due_digests
from pulses.dispatch import tick
from pulses.groups import create_group, ensure_workspace
from pulses.ticks import TickReport, Worker
from sandbox import Workspace
from sandbox.multi import MultiSlack
from storage.db import session_scope
from tests.bot.pulse_helpers import at, invitations
from tests.conftest import SIGNING_SECRET, stop_serving
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform, weekly

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "sandbox-client-secret"
BERLIN = "Europe/Berlin"
MONDAY = at("2026-11-30 09:00", BERLIN)
A, B = "T0AAAAAAA", "T0BBBBBBB"


def leadership_workspace(team_id: str, letter: str) -> Workspace:
    """A workspace of its own: its bot, an admin and five leaders in one channel."""
    ws = Workspace(
        team_id=team_id,
        team_domain=f"company-{letter.lower()}",
        bot_user_id=f"U{letter}BOT",
        bot_id=f"B{letter}BOT",
    )
    ws.add_user(f"U{letter}ADMIN", f"admin-{letter}", tz=BERLIN, is_admin=True)
    leaders = [f"U{letter}LEAD{n}" for n in range(5)]
    for user_id in leaders:
        ws.add_user(user_id, user_id.lower(), tz=BERLIN)
    ws.add_channel(f"C{letter}EXEC", "exec-team", leaders)
    return ws


def leaders(letter: str) -> list[str]:
    return [f"U{letter}LEAD{n}" for n in range(5)]


class Installed:
    """The bot in OAuth mode behind its real HTTP server, and the sandboxed Slack."""

    def __init__(self, slack: MultiSlack, services: Services, server: RunningServer) -> None:
        self.slack = slack
        self.services = services
        self.server = server

    def install(
        self, team_id: str | None, user_id: str, *, enterprise_id: str | None = None
    ) -> str:
        """The "Add to Slack" round trip in a browser, in a workspace or (`enterprise_id`)
        org-wide in a Grid org; returns the success page."""
        with urllib.request.urlopen(f"{self.server.url}/slack/install") as page:
            html = page.read().decode()
            # The state cookie is Secure (served behind https); the test's browser sends it
            # back over loopback http as a browser would over https.
            cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        link = re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', html)
        assert link is not None, html
        authorize = link.group(1).replace("&amp;", "&")
        redirect = self.slack.approve(
            authorize, team_id=team_id, enterprise_id=enterprise_id, user_id=user_id
        )
        assert redirect.startswith(f"{self.server.url}/slack/oauth_redirect?code=")
        request = urllib.request.Request(redirect, headers={"Cookie": cookie})
        with urllib.request.urlopen(request) as page:
            assert page.status == 200
            return str(page.read().decode())

    def tick(self, now: object) -> TickReport:
        return tick(
            engine=self.services.engine,
            messenger=self.services.messenger,
            now=now,  # type: ignore[arg-type]
            worker=Worker("test:0:0"),
        )

    def posts(self, team_id: str) -> list[str]:
        """Where chat.postMessage landed in the workspace (channel or DM)."""
        member = self.slack.workspace(team_id)
        return [m.channel for m in member.messages()]

    def tokens_used(self, team_id: str, method: str = "chat.postMessage") -> set[str]:
        return {
            token
            for team, called, token in self.slack.routed
            if (team, called) == (team_id, method)
        }


def add_group(engine: Engine, team_id: str, letter: str) -> None:
    with session_scope(engine) as session:
        workspace = ensure_workspace(session=session, team_id=team_id)
        assert workspace.id is not None
        create_group(
            session=session,
            workspace_id=workspace.id,
            channel_id=f"C{letter}EXEC",
            channel_name="exec-team",
            timezone=BERLIN,
            delivery_mode="dm",
            created_at=MONDAY - timedelta(days=2),
        )


def start(slack: MultiSlack, database_url: str, engine: Engine) -> Iterator[Installed]:
    slack.start()
    settings = Settings(
        _env_file=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret=SecretStr(CLIENT_SECRET),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=slack.api_url,
        slack_posts_per_minute=0,
        database_url=database_url,
    )
    services = build_services(settings, engine=engine)
    app = build_app(services)
    server = start_in_background(app)
    slack.bot_url = server.events_url
    slack.redirect_url = f"{server.url}/slack/oauth_redirect"
    try:
        yield Installed(slack, services, server)
    finally:
        stop_serving(app, server, services)
        slack.stop()


def multi_slack(*, rotation: bool) -> MultiSlack:
    return MultiSlack(
        [leadership_workspace(A, "A"), leadership_workspace(B, "B")],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        signing_secret=SIGNING_SECRET,
        token_rotation=rotation,
    )


@pytest.fixture
def installed(migrated_url: str, engine: Engine) -> Iterator[Installed]:
    yield from start(multi_slack(rotation=False), migrated_url, engine)


@pytest.fixture
def rotating(migrated_url: str, engine: Engine) -> Iterator[Installed]:
    yield from start(multi_slack(rotation=True), migrated_url, engine)


def test_each_workspace_gets_its_pulses_with_its_own_token(installed: Installed) -> None:
    assert "Thank you" in installed.install(A, "UAADMIN")
    installed.install(B, "UBADMIN")
    add_group(installed.services.engine, A, "A")
    add_group(installed.services.engine, B, "B")

    report = installed.tick(MONDAY)

    assert report.sent == 10
    assert sorted(installed.posts(A)) == sorted(
        installed.slack.workspace(A).dm_channel(u) for u in leaders("A")
    )
    assert sorted(installed.posts(B)) == sorted(
        installed.slack.workspace(B).dm_channel(u) for u in leaders("B")
    )
    # Each workspace's calls carried its own token, and no call went out with an unknown one.
    token_a, token_b = installed.slack.current_tokens[A], installed.slack.current_tokens[B]
    assert installed.tokens_used(A) == {token_a}
    assert installed.tokens_used(B) == {token_b}
    assert token_a != token_b
    # The front answered only the two code exchanges: no call carried a token it did not know.
    assert [c.method for c in installed.slack.calls] == ["oauth.v2.access"] * 2
    failed = [
        c for t in (A, B) for c in installed.slack.workspace(t).calls if not c.response.get("ok")
    ]
    assert failed == []


def test_each_workspace_gets_its_groups_digest_with_its_own_token(installed: Installed) -> None:
    """The digests are computed and drawn by the drawing process, which knows no workspace;
    each comes back marked with its group's, and is posted with that workspace's token."""
    installed.install(A, "UAADMIN")
    installed.install(B, "UBADMIN")
    engine = installed.services.engine
    with session_scope(engine) as session:
        for team_id, letter in ((A, "A"), (B, "B")):
            org = seed_org(session, team_id=team_id)
            group = seed_group(session, org, channel_id=f"C{letter}EXEC")
            for week, day in enumerate(weekly(date(2026, 11, 2), 3)):
                answers = [Seeded(scores=uniform(1 + (week + k) % 5)) for k in range(6)]
                seed_run(session, org, group, day, answers)

    # The last run closed on Wednesday 18 November; its digest is due the next day at 09:00.
    now = datetime(2026, 11, 19, 10, tzinfo=UTC)
    assert send_due_digests(engine=engine, messenger=installed.services.messenger, now=now) == 2

    for team_id, letter in ((A, "A"), (B, "B")):
        # The digest, and its chart in its thread.
        assert set(installed.posts(team_id)) == {f"C{letter}EXEC"}
        token = installed.slack.current_tokens[team_id]
        assert installed.tokens_used(team_id) == {token}
        assert installed.tokens_used(team_id, "files.completeUploadExternal") == {token}


def test_an_uninstall_stops_that_workspace_at_once_and_the_other_continues(
    installed: Installed,
) -> None:
    installed.install(A, "UAADMIN")
    installed.install(B, "UBADMIN")
    add_group(installed.services.engine, A, "A")
    add_group(installed.services.engine, B, "B")
    installed.tick(MONDAY)
    before_a = len(installed.posts(A))

    reply = installed.slack.uninstall(A)
    assert reply.status == 200

    with pytest.raises(WorkspaceNotInstalled):
        installed.services.client_for(A)
    next_week = MONDAY + timedelta(days=7)
    report = installed.tick(next_week)

    assert len(installed.posts(A)) == before_a  # nothing more for A
    assert len(installed.posts(B)) == 10  # B's second pulse went out
    refused = [c for c in installed.slack.workspace(A).calls if not c.response.get("ok")]
    assert refused == []  # not even tried with the dead token
    second_week = [i for i in invitations(installed.services.engine) if i.send_at >= next_week]
    assert {i.failure_reason for i in second_week if i.user_id in leaders("A")} <= {
        "app_uninstalled",
        None,
    }
    assert report.sent == 5


def test_revoked_tokens_stop_the_workspace_like_an_uninstall(installed: Installed) -> None:
    installed.install(A, "UAADMIN")
    assert installed.slack.revoke_tokens(A).status == 200
    with pytest.raises(WorkspaceNotInstalled):
        installed.services.messenger_for(A)


def test_a_rotating_token_is_refreshed_before_it_expires(rotating: Installed) -> None:
    # Installed with tokens 100 minutes from expiry: inside the two hours when rotation is due.
    rotating.slack.token_lifetime = 100 * 60
    rotating.install(A, "UAADMIN")
    rotating.install(B, "UBADMIN")
    first_a = rotating.slack.current_tokens[A]
    rotating.slack.token_lifetime = 12 * 3600
    add_group(rotating.services.engine, A, "A")
    add_group(rotating.services.engine, B, "B")

    rotating.tick(MONDAY)

    refreshed = {r.team_id: r for r in rotating.slack.refreshes}
    assert set(refreshed) == {A, B}
    assert refreshed[A].old_token == first_a
    expired_at = refreshed[A].old_expires_at
    assert expired_at is not None
    assert refreshed[A].at < expired_at
    # Every pulse went out with the new token, and the store holds it for the other replicas.
    assert rotating.tokens_used(A) == {rotating.slack.current_tokens[A]} != {first_a}
    assert len(rotating.posts(A)) == 5
    assert len(rotating.slack.refreshes) == 2  # once each: the new tokens are not due yet


def test_a_token_far_from_expiry_is_not_rotated(rotating: Installed) -> None:
    rotating.install(A, "UAADMIN")
    add_group(rotating.services.engine, A, "A")
    rotating.tick(MONDAY)
    assert rotating.slack.refreshes == []
    assert len(rotating.posts(A)) == 5
