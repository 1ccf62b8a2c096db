"""Several sandboxed workspaces behind one Slack API URL, installed through OAuth.

Each workspace is a `SlackSandbox` of its own (its users, channels, messages and rate limits);
this front routes every Web API call to the workspace whose token it carries, and plays Slack's
side of "Add to Slack": the authorize page, `oauth.v2.access` (the code exchange, and the
refresh-token grant of token rotation), and the `app_uninstalled` / `tokens_revoked` events.

Enterprise Grid: workspaces that share an `enterprise_id` form an org, which may install the app
org-wide (`approve(..., enterprise_id=...)`): one token serves all of them, each call going to
the workspace whose channel, user, view or trigger it names (or its `team_id`), and requests
from those workspaces carry the org's installation (`is_enterprise_install`).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from sandbox.faults import Faults
from sandbox.ratelimits import RateLimits
from sandbox.records import RecordedCall
from sandbox.server import ServedInBackground, SlackSandbox, serve
from sandbox.users import BotResponse, VirtualUser
from sandbox.workspace import Workspace

_wallclock = time.time
_monotonic = time.monotonic
AUTHORIZE_PATH = "/oauth/v2/authorize"
# Slack's rotating bot tokens live 12 hours.
TOKEN_LIFETIME_SECONDS = 12 * 3600
_CODE_SECONDS = 600


@dataclass
class _Grant:
    # The workspace installed in, or the Grid org (E…) for an org-wide install.
    team_id: str
    user_id: str
    scopes: str
    redirect_url: str
    issued: float


@dataclass(frozen=True)
class Refresh:
    """One refresh-token grant: the token it replaced, with that token's expiry."""

    team_id: str  # the workspace, or the org for an org-wide install
    old_token: str
    old_expires_at: float | None
    new_token: str
    at: float


class MultiSlack(ServedInBackground):
    """Workspaces installed through OAuth, each with its own bot token, at one API URL."""

    def __init__(
        self,
        workspaces: list[Workspace],
        *,
        client_id: str,
        client_secret: str,
        signing_secret: str,
        rate_limits: RateLimits | None = None,
        token_rotation: bool = False,
    ) -> None:
        if len({w.team_id for w in workspaces}) != len(workspaces):
            raise ValueError("each workspace needs a team_id of its own")
        self.client_id = client_id
        self.client_secret = client_secret
        self.signing_secret = signing_secret
        # Rotating tokens expire after `token_lifetime` seconds; otherwise they never do.
        self.token_rotation = token_rotation
        self.token_lifetime = TOKEN_LIFETIME_SECONDS
        self.redirect_url: str | None = None
        self.faults = Faults()
        self.calls: list[RecordedCall] = []
        self.refreshes: list[Refresh] = []
        # Every call a workspace answered: (team, method, the token it carried).
        self.routed: list[tuple[str, str, str]] = []
        self.workspaces: dict[str, SlackSandbox] = {}
        for index, workspace in enumerate(workspaces):
            member = SlackSandbox(
                workspace, bot_token="", signing_secret=signing_secret, rate_limits=rate_limits
            )
            # Distinct serials keep file and view IDs unique across the workspaces.
            member._serial = (index + 1) * 10**8
            self.workspaces[workspace.team_id] = member
        self._grants: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, str] = {}  # refresh token → team or org
        self._scopes: dict[str, str] = {}  # what each workspace or org granted at install
        # Each installed workspace's (or org-wide installed org's) latest token.
        self.current_tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._address: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._server, self._thread, self._address = serve(self)
        for member in self.workspaces.values():
            # Upload and response URLs the workspaces hand out point at this front.
            member._address = self._address

    def stop(self) -> None:
        for member in self.workspaces.values():
            member._address = None
        self._stop_serving()
        self._address = None

    @property
    def base_url(self) -> str:
        if self._address is None:
            raise RuntimeError("MultiSlack is not started")
        return self._address

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def bot_url(self) -> str | None:
        return next(iter(self.workspaces.values())).bot_url

    @bot_url.setter
    def bot_url(self, url: str | None) -> None:
        """The app's events and interactivity URL, the same for every workspace."""
        for member in self.workspaces.values():
            member.bot_url = url

    def workspace(self, team_id: str) -> SlackSandbox:
        return self.workspaces[team_id]

    # -- the installer's browser -------------------------------------------------------------------

    def approve(
        self,
        authorize_url: str,
        *,
        user_id: str,
        team_id: str | None = None,
        enterprise_id: str | None = None,
    ) -> str:
        """What Slack's authorize page does when `user_id` picks `team_id` (or, installing
        org-wide, the Grid org `enterprise_id`) and clicks Allow: the redirect URL (with code
        and state) the browser is sent to."""
        query = authorize_url.split("?", 1)[1] if "?" in authorize_url else ""
        picked = f"enterprise={enterprise_id}" if enterprise_id else f"team={team_id}"
        status, headers, body = self._authorize(f"{query}&{picked}&user={user_id}")
        if status != 302:
            raise ValueError(body.decode())
        return headers["Location"]

    def handle_page(self, path: str, query: str) -> tuple[int, dict[str, str], bytes] | None:
        if path != AUTHORIZE_PATH:
            return None
        return self._authorize(query)

    def _authorize(self, query: str) -> tuple[int, dict[str, str], bytes]:
        form = {key: values[0] for key, values in parse_qs(query).items()}
        if form.get("client_id") != self.client_id:
            return 400, {}, b"invalid_client_id"
        team_id, user_id = form.get("enterprise") or form.get("team", ""), form.get("user", "")
        if not any(m.workspace.user(user_id) for m in self.installed_by(team_id)):
            return 400, {}, b"pick a workspace (team=T...) or org (enterprise=E...) and a user"
        redirect = form.get("redirect_uri") or self.redirect_url
        if not redirect:
            return 400, {}, b"no redirect URL configured for the app"
        code = f"{team_id}.{secrets.token_hex(12)}"
        with self._lock:
            self._grants[code] = _Grant(
                team_id, user_id, form.get("scope", ""), redirect, _monotonic()
            )
        location = f"{redirect}?{urlencode({'code': code, 'state': form.get('state', '')})}"
        return 302, {"Location": location}, b""

    # -- the Web API ------------------------------------------------------------------------------

    def handle_api(
        self, method: str, args: dict[str, Any], authorization: str | None, *, fault: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method == "oauth.v2.access":
            response = self._oauth_access(args, authorization)
            self.record(method, _without_secrets(args), response, 200, fault=fault)
            return 200, response, {}
        token = str(args.get("token") or "")
        if authorization and authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        member = self._member_of(token, args)
        if member is None:
            response = {"ok": False, "error": "invalid_auth" if token else "not_authed"}
            self.record(method, _without_secrets(args), response, 200, fault=fault)
            return 200, response, {}
        with self._lock:
            self.routed.append((member.workspace.team_id, method, token))
        return member.handle_api(method, args, authorization, fault=fault)

    def handle_upload(self, file_id: str, content: bytes, *, fault: str | None) -> tuple[int, str]:
        owner = next(
            (m for m in self.workspaces.values() if file_id in m._uploads),
            next(iter(self.workspaces.values())),
        )
        return owner.handle_upload(file_id, content, fault=fault)

    def handle_response_url(
        self, token: str, payload: dict[str, Any], *, fault: str | None
    ) -> tuple[int, dict[str, Any]]:
        owner = next(
            (m for m in self.workspaces.values() if token in m._response_urls),
            next(iter(self.workspaces.values())),
        )
        return owner.handle_response_url(token, payload, fault=fault)

    def record(
        self,
        method: str,
        args: dict[str, Any],
        response: dict[str, Any],
        status: int,
        *,
        fault: str | None = None,
    ) -> None:
        with self._lock:
            self.calls.append(RecordedCall(method, args, response, status, _monotonic(), fault))

    def _member_of(self, token: str, args: dict[str, Any]) -> SlackSandbox | None:
        if not token:
            return None
        members = [m for m in self.workspaces.values() if m.knows_token(token)]
        if len(members) > 1:
            return _addressed(members, args)
        return members[0] if members else None

    def _oauth_access(self, args: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        if args.get("grant_type") == "refresh_token":
            return self._refresh(str(args.get("refresh_token") or ""))
        with self._lock:
            grant = self._grants.pop(str(args.get("code") or ""), None)
        if grant is None or _monotonic() - grant.issued > _CODE_SECONDS:
            return {"ok": False, "error": "invalid_code"}
        if args.get("redirect_uri") and args["redirect_uri"] != grant.redirect_url:
            return {"ok": False, "error": "bad_redirect_uri"}
        for member in self.installed_by(grant.team_id):
            with member.lock:
                member.revoked_tokens.clear()
        response = self._issue(grant.team_id, scopes=grant.scopes)
        response["authed_user"] = {"id": grant.user_id}
        return response

    def _refresh(self, refresh_token: str) -> dict[str, Any]:
        with self._lock:
            team_id = self._refresh_tokens.get(refresh_token)
        if team_id is None:
            return {"ok": False, "error": "invalid_refresh_token"}
        member = self.installed_by(team_id)[0]
        with member.lock:
            old = self.current_tokens[team_id]
            old_expiry = member.issued_tokens.get(old)
        response = self._issue(team_id, scopes=None, refresh_token=refresh_token)
        self.refreshes.append(
            Refresh(team_id, old, old_expiry, response["access_token"], _wallclock())
        )
        return response

    def install(self, team_id: str, *, scopes: str = "") -> str:
        """The workspace installs the app without the browser round trip (a simulation seeding
        many installs at once): the bot token it would have received."""
        if team_id not in self.workspaces:
            raise ValueError(f"no workspace {team_id}")
        return str(self._issue(team_id, scopes=scopes)["access_token"])

    def installed_by(self, key: str) -> list[SlackSandbox]:
        """The workspaces an install of `key` reaches: the workspace `key`, or every workspace
        of the Grid org `key`."""
        if key in self.workspaces:
            return [self.workspaces[key]]
        return [m for m in self.workspaces.values() if m.workspace.enterprise_id == key]

    def _issue(
        self, key: str, *, scopes: str | None, refresh_token: str | None = None
    ) -> dict[str, Any]:
        """A new bot token for the workspace or org `key` (its earlier ones keep working until
        they expire, as Slack's do)."""
        members = self.installed_by(key)
        org_wide = key not in self.workspaces
        first = members[0]
        prefix = "xoxe.xoxb-1-" if self.token_rotation else "xoxb-"
        token = f"{prefix}{key}-{secrets.token_hex(12)}"
        expires = first.clock() + self.token_lifetime if self.token_rotation else None
        for member in members:
            with member.lock:
                member.issued_tokens[token] = expires
                member.org_installed = org_wide
        with self._lock:
            self.current_tokens[key] = token
            if scopes is not None:
                self._scopes[key] = scopes
            granted = self._scopes.get(key, "")
        ws = first.workspace
        response: dict[str, Any] = {
            "ok": True,
            "access_token": token,
            "token_type": "bot",
            "scope": granted,
            # In a Grid org the bot user is the org's, the same in each of its workspaces.
            "bot_user_id": ws.bot_user_id,
            "app_id": ws.app_id,
            "team": None if org_wide else {"id": ws.team_id, "name": ws.team_domain},
            "enterprise": first.enterprise(),
            "is_enterprise_install": org_wide,
        }
        if self.token_rotation:
            refresh = refresh_token or f"xoxe-1-{secrets.token_hex(16)}"
            with self._lock:
                self._refresh_tokens[refresh] = key
            response["refresh_token"] = refresh
            response["expires_in"] = self.token_lifetime
        return response

    # -- uninstalling ---------------------------------------------------------------------------

    def uninstall(self, key: str) -> BotResponse:
        """The workspace (or, for an org-wide install, the Grid org `key`) removes the app:
        every token of it stops working at once, and Slack tells the app with an
        `app_uninstalled` event."""
        envelope = self._event(key, {"type": "app_uninstalled"})
        self._revoke(key)
        return self._deliver(key, envelope)

    def revoke_tokens(self, key: str) -> BotResponse:
        """An admin revokes the bot's token: `tokens_revoked` names the bot user."""
        bot_user = self.installed_by(key)[0].workspace.bot_user_id
        tokens = {"oauth": [], "bot": [bot_user]}
        envelope = self._event(key, {"type": "tokens_revoked", "tokens": tokens})
        self._revoke(key)
        return self._deliver(key, envelope)

    def _revoke(self, key: str) -> None:
        for member in self.installed_by(key):
            with member.lock:
                member.revoked_tokens.update(member.issued_tokens)
                member.issued_tokens.clear()
                member.org_installed = False
        with self._lock:
            self.current_tokens.pop(key, None)
            self._refresh_tokens = {
                refresh: owner for refresh, owner in self._refresh_tokens.items() if owner != key
            }

    def _event(self, key: str, event: dict[str, Any]) -> dict[str, Any]:
        """The envelope of an event about the install of `key`, built while it still exists
        (an org-wide install's events name the org, not a workspace)."""
        return self.installed_by(key)[0].event_envelope(event)

    def _deliver(self, key: str, envelope: dict[str, Any]) -> BotResponse:
        member = self.installed_by(key)[0]
        bot_user = member.workspace.user(member.workspace.bot_user_id)
        assert bot_user is not None
        return VirtualUser(member, bot_user).send_raw(
            json.dumps(envelope).encode(), "application/json"
        )


def _addressed(members: list[SlackSandbox], args: dict[str, Any]) -> SlackSandbox:
    """Which workspace an org-wide token's call is about: the one its `team_id` names, else
    the one holding the channel, user, view or trigger it names (as in Slack, where each of
    those belongs to one workspace)."""
    team = args.get("team_id")
    for member in members:
        if team == member.workspace.team_id:
            return member
    for member in members:
        if _holds(member, args):
            return member
    return members[0]


def _holds(member: SlackSandbox, args: dict[str, Any]) -> bool:
    ws = member.workspace
    channel = args.get("channel") or args.get("channel_id")
    if isinstance(channel, str) and channel:
        return channel in ws.channels or member.dm_user(channel) is not None
    user = args.get("user") or args.get("user_id") or str(args.get("users") or "").split(",")[0]
    if isinstance(user, str) and user:
        return ws.user(user) is not None
    trigger = args.get("trigger_id")
    if isinstance(trigger, str) and trigger:
        return trigger.split(".")[1:2] == [ws.team_id]
    view = args.get("view_id")
    if isinstance(view, str) and view:
        return view in member.views
    return False


def _without_secrets(args: dict[str, Any]) -> dict[str, Any]:
    hidden = {"client_secret", "code", "refresh_token", "token"}
    return {key: value for key, value in args.items() if key not in hidden}
