"""A local stand-in for the Slack Web API and its users, for testing and demoing the bot."""

from sandbox.ratelimits import RateLimits
from sandbox.records import (
    Ephemeral,
    Message,
    RecordedCall,
    SandboxEvent,
    UploadedFile,
    View,
)
from sandbox.render import render_blocks, render_event
from sandbox.server import SlackSandbox
from sandbox.users import BotResponse, VirtualUser
from sandbox.workspace import Channel, User, Workspace

__all__ = [
    "BotResponse",
    "Channel",
    "Ephemeral",
    "Message",
    "RateLimits",
    "RecordedCall",
    "SandboxEvent",
    "SlackSandbox",
    "UploadedFile",
    "User",
    "View",
    "VirtualUser",
    "Workspace",
    "render_blocks",
    "render_event",
]
