"""Enterprise Grid against the sandbox, over real HTTP: an org-wide install serves each workspace
of the org with the org's token, groups live in the workspace of their channel, and admin rights
are those a member holds in the workspace of the request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.oauth import WorkspaceNotInstalled
from bot.views.admin.replies import ADMINS_ONLY
from sandbox import BotResponse, SlackSandbox, View, Workspace
from sandbox.multi import MultiSlack
from storage.db import session_scope
from storage.models import LeadershipGroup
from storage.models import Workspace as WorkspaceRow
from tests.bot.test_oauth import BERLIN, CLIENT_ID, CLIENT_SECRET, Installed, start
from tests.conftest import SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]
ORG = "E0GRID0001"
ONE, TWO = "T0GRIDONE", "T0GRIDTWO"
# In a Grid org the app has one bot user, and a member has one user ID in every workspace.
ORG_BOT = "U0ORGBOT"
# Admin of workspace one, and an ordinary member of workspace two.
DANA = "U0DANA"


def grid_workspace(team_id: str, letter: str) -> Workspace:
    """A workspace of the org: its own admin and five leaders in its own #exec-team."""
    ws = Workspace(
        team_id=team_id,
        team_domain=f"grid-{letter.lower()}",
        bot_user_id=ORG_BOT,
        bot_id="B0ORGBOT",
        enterprise_id=ORG,
        enterprise_name="Grid Corp",
    )
    ws.add_user(f"U{letter}ADMIN", f"admin-{letter}", tz=BERLIN, is_admin=True)
    ws.add_user(DANA, "dana", tz=BERLIN, is_admin=letter == "1")
    leaders = [f"U{letter}LEAD{n}" for n in range(5)]
    for user_id in leaders:
        ws.add_user(user_id, user_id.lower(), tz=BERLIN)
    ws.add_channel(f"C{letter}EXEC", "exec-team", leaders)
    return ws


@pytest.fixture
def grid(migrated_url: str, engine: Engine) -> Iterator[Installed]:
    slack = MultiSlack(
        [grid_workspace(ONE, "1"), grid_workspace(TWO, "2")],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        signing_secret=SIGNING_SECRET,
    )
    yield from start(slack, migrated_url, engine)


def command(member: SlackSandbox, user: str, text: str, channel: str) -> BotResponse:
    response = member.user(user).run_command("/coherence", text, channel=channel)
    assert response.status == 200, response.body
    assert not response.timed_out
    return response


def reply(response: BotResponse) -> str:
    return str(response.json.get("text", "")) if response.json is not None else response.body


def set_up_group(member: SlackSandbox, admin: str, channel: str) -> str:
    """The admin makes `channel` a group through /coherence setup and its modal, then sends
    its pulse at once; returns the modal's confirmation."""
    before = set(member.views)
    assert command(member, admin, "setup", channel).body == ""
    member.wait_for(lambda s: any(v not in before for v in s.views))
    [view] = [v for k, v in member.views.items() if k not in before]
    submitted = member.user(admin).submit(view.id, {"layer": "Executive"})
    assert submitted.json is not None, submitted.body
    answer = reply(command(member, admin, "pulse now", channel))
    assert "Sending the pulse to #exec-team now" in answer
    member.wait_for(lambda s: any("pulse.answer" in json.dumps(m.blocks) for m in s.messages()))
    return json.dumps(submitted.json)


def groups_by_team(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(LeadershipGroup.channel_id, WorkspaceRow.team_id).join(
                WorkspaceRow,
                LeadershipGroup.workspace_id == WorkspaceRow.id,  # type: ignore[arg-type]
            )
        ).all()
    return {channel: team for channel, team in rows}


def test_one_org_wide_install_serves_each_workspace_with_the_orgs_token(grid: Installed) -> None:
    one, two = grid.slack.workspace(ONE), grid.slack.workspace(TWO)
    assert "Thank you" in grid.install(None, "U1ADMIN", enterprise_id=ORG)
    org_token = grid.slack.current_tokens[ORG]

    assert "made #exec-team a leadership group" in set_up_group(one, "U1ADMIN", "C1EXEC")
    assert "made #exec-team a leadership group" in set_up_group(two, "U2ADMIN", "C2EXEC")

    # Each group lives in the workspace of its channel, and got its pulse there.
    assert groups_by_team(grid.services.engine) == {"C1EXEC": ONE, "C2EXEC": TWO}
    assert [m.channel for m in one.messages() if m.blocks] == ["C1EXEC"]
    assert [m.channel for m in two.messages() if m.blocks] == ["C2EXEC"]
    # One token, the org's, for every call in both workspaces; none refused.
    assert grid.tokens_used(ONE) == grid.tokens_used(TWO) == {org_token}
    assert {token for _, _, token in grid.slack.routed} == {org_token}
    assert [c for m in (one, two) for c in m.calls if not c.response.get("ok")] == []
    # The scheduler's client for either workspace is the org's.
    assert grid.services.client_for(ONE).token == grid.services.client_for(TWO).token == org_token


def test_admin_rights_are_those_held_in_the_workspace_of_the_request(grid: Installed) -> None:
    one, two = grid.slack.workspace(ONE), grid.slack.workspace(TWO)
    grid.install(None, "U1ADMIN", enterprise_id=ORG)

    # Dana administers workspace one, where she is a Slack admin...
    assert command(one, DANA, "setup", "C1EXEC").body == ""
    one.wait_for(lambda s: any(isinstance(v, View) for v in s.views.values()))
    # ...and is an ordinary member of workspace two: refused there, nothing opened or saved.
    assert reply(command(two, DANA, "setup", "C2EXEC")) == ADMINS_ONLY
    assert reply(command(two, "U2LEAD0", "pause", "C2EXEC")) == ADMINS_ONLY
    assert two.views == {}
    # Her role was asked of workspace two (users.info with its team), not of the one she
    # administers.
    asked = [c.args.get("team_id") for c in two.calls_to("users.info") if c.args["user"] == DANA]
    assert asked == [TWO]


def test_an_org_wide_uninstall_stops_every_workspace_of_the_org(grid: Installed) -> None:
    grid.install(None, "U1ADMIN", enterprise_id=ORG)
    set_up_group(grid.slack.workspace(ONE), "U1ADMIN", "C1EXEC")
    set_up_group(grid.slack.workspace(TWO), "U2ADMIN", "C2EXEC")

    assert grid.slack.uninstall(ORG).status == 200

    for team in (ONE, TWO):
        with pytest.raises(WorkspaceNotInstalled):
            grid.services.client_for(team)


def test_the_installer_administers_the_workspace_they_installed_in_and_no_other(
    grid: Installed,
) -> None:
    one, two = grid.slack.workspace(ONE), grid.slack.workspace(TWO)
    # Installed workspace by workspace (not org-wide): a leader of one installs it there.
    grid.install(ONE, "U1LEAD0")
    grid.install(TWO, "U2ADMIN")
    two.workspace.add_user("U1LEAD0", "u1lead0", tz=BERLIN)

    assert "made #exec-team a leadership group" in set_up_group(one, "U1LEAD0", "C1EXEC")
    assert reply(command(two, "U1LEAD0", "setup", "C2EXEC")) == ADMINS_ONLY
    assert two.views == {}
    assert grid.tokens_used(ONE) == {grid.slack.current_tokens[ONE]}


def test_the_manifest_made_for_oauth_with_org_wide_deploy_validates() -> None:
    """The shipped manifest (one token, Socket Mode) with the edits its comments give for
    installs through "Add to Slack" and an org-wide install: still a valid app for Slack."""
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert manifest["settings"]["org_deploy_enabled"] is False  # one token: one workspace
    manifest["settings"].update(socket_mode_enabled=False, org_deploy_enabled=True)
    manifest["oauth_config"]["redirect_urls"] = ["https://coherence.example/slack/oauth_redirect"]
    events = "https://coherence.example/slack/events"
    manifest["settings"]["event_subscriptions"]["request_url"] = events
    manifest["settings"]["interactivity"]["request_url"] = events
    for slash in manifest["features"]["slash_commands"]:
        slash["url"] = events
    schema = json.loads((ROOT / "tests" / "data" / "manifest.schema.1.0.0.json").read_text())
    errors = [e.message for e in Draft7Validator(schema).iter_errors(manifest)]
    assert errors == []
