"""The people and channels a sandboxed Slack workspace holds, plus a ready-made demo team."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    tz: str = "UTC"
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    # Their Slack status, e.g. ":palm_tree:" "Vacationing"; expiration in Unix seconds, 0: none.
    status_emoji: str = ""
    status_text: str = ""
    status_expiration: int = 0

    @property
    def display(self) -> str:
        return self.real_name or self.name


@dataclass
class Channel:
    id: str
    name: str
    members: list[str]
    is_private: bool = False
    bot_is_member: bool = True


@dataclass
class Workspace:
    team_id: str = "T0SANDBOX"
    team_domain: str = "coherence-sandbox"
    bot_user_id: str = "U0COHERENCE"
    bot_id: str = "B0COHERENCE"
    app_id: str = "A0COHERENCE"
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    bot_name: str = "Coherence"
    # The Enterprise Grid org the workspace belongs to (E…), None outside Grid.
    enterprise_id: str | None = None
    enterprise_name: str = ""

    def __post_init__(self) -> None:
        # Slack lists the app's bot user like any other user (users.info, members lists).
        if self.bot_user_id not in self.users:
            self.users[self.bot_user_id] = User(
                id=self.bot_user_id,
                name=self.bot_name.lower(),
                real_name=self.bot_name,
                is_bot=True,
            )

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str = "",
        tz: str = "UTC",
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> User:
        user = User(id, name, real_name, tz, is_admin, is_owner, is_bot, deleted)
        self.users[id] = user
        return user

    def add_channel(
        self,
        id: str,
        name: str,
        members: list[str] | None = None,
        *,
        is_private: bool = False,
        bot_is_member: bool = True,
    ) -> Channel:
        channel = Channel(id, name.lstrip("#"), list(members or []), is_private, bot_is_member)
        self.channels[id] = channel
        return channel

    def user(self, id: str) -> User | None:
        return self.users.get(id)

    def channel(self, id: str) -> Channel | None:
        return self.channels.get(id)

    def channel_by_name(self, name: str) -> Channel | None:
        wanted = name.lstrip("#")
        return next((c for c in self.channels.values() if c.name == wanted), None)

    def channel_members(self, channel: Channel) -> list[str]:
        """Members as conversations.members reports them: the bot user counts when it joined."""
        members = list(channel.members)
        if channel.bot_is_member and self.bot_user_id not in members:
            members.append(self.bot_user_id)
        return members

    @classmethod
    def demo(cls) -> Workspace:
        """A leadership team spread over three time zones, as the product is meant for."""
        ws = cls()
        ws.add_user("U0ADMIN", "dana", "Dana Admin", "Europe/Berlin", is_admin=True, is_owner=True)
        leaders = [
            ("U0ALICE", "alice", "Alice Berger", "Europe/Berlin"),
            ("U0BEN", "ben", "Ben Okafor", "America/Los_Angeles"),
            ("U0CHIE", "chie", "Chie Tanaka", "Asia/Tokyo"),
            ("U0DIEGO", "diego", "Diego Ruiz", "Europe/Berlin"),
            ("U0EMMA", "emma", "Emma Lind", "America/Los_Angeles"),
            ("U0FARID", "farid", "Farid Haddad", "Europe/Berlin"),
            ("U0GRACE", "grace", "Grace Kim", "Asia/Tokyo"),
        ]
        for user_id, name, real_name, tz in leaders:
            ws.add_user(user_id, name, real_name, tz)
        ws.add_user("U0JIRABOT", "jira", "Jira Cloud", is_bot=True)
        ws.add_user("U0HENRIK", "henrik", "Henrik Olsen", "Europe/Berlin", deleted=True)
        directors = [
            ("U0IVY", "ivy", "Ivy Chen", "America/Los_Angeles"),
            ("U0JONAS", "jonas", "Jonas Weber", "Europe/Berlin"),
            ("U0KENJI", "kenji", "Kenji Sato", "Asia/Tokyo"),
            ("U0LAURA", "laura", "Laura Costa", "Europe/Berlin"),
            ("U0MATEO", "mateo", "Mateo Silva", "America/Los_Angeles"),
            ("U0NORA", "nora", "Nora Brandt", "Europe/Berlin"),
            ("U0OMAR", "omar", "Omar Nasser", "Asia/Tokyo"),
        ]
        for user_id, name, real_name, tz in directors:
            ws.add_user(user_id, name, real_name, tz)
        exec_members = [u[0] for u in leaders] + ["U0JIRABOT", "U0HENRIK"]
        ws.add_channel("C0EXEC", "exec-team", exec_members, is_private=True)
        ws.add_channel("C0DIRS", "directors", ["U0ADMIN"] + [u[0] for u in directors])
        return ws
