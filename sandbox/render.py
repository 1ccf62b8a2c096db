"""Block Kit drawn as plain terminal text, so a person can watch what the bot shows people."""

from __future__ import annotations

import html
import re
import textwrap
from itertools import zip_longest
from typing import Any

from sandbox.records import SandboxEvent
from sandbox.workspace import Workspace

_LINK = re.compile(r"<([^<>]+)>")


def plain_mrkdwn(text: str, workspace: Workspace | None = None) -> str:
    """Slack's mrkdwn with mentions and links resolved; *bold* and _italic_ kept as typed."""

    def resolve(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            user = workspace.user(target[1:]) if workspace else None
            return "@" + (label or (user.display if user else target[1:]))
        if target.startswith("#"):
            channel = workspace.channel(target[1:]) if workspace else None
            return "#" + (label or (channel.name if channel else target[1:]))
        if target.startswith("!"):
            command = target[1:].split("^")[0]
            return label or f"@{command}"
        return f"{label} ({target})" if label else target

    text = _EMOJI.sub(lambda m: _EMOJI_CHARS.get(m.group(1), m.group(0)), text)
    return html.unescape(_LINK.sub(resolve, text))


# The Slack emoji codes the bot uses, as a terminal can show them.
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_EMOJI_CHARS = {
    "red_circle": "🔴",
    "large_orange_circle": "🟠",
    "large_yellow_circle": "🟡",
    "large_green_circle": "🟢",
    "white_check_mark": "✅",
    "warning": "⚠️",
    "chart_with_upwards_trend": "📈",
    "chart_with_downwards_trend": "📉",
}


def _text(obj: Any, workspace: Workspace | None) -> str:
    if isinstance(obj, dict):
        raw = str(obj.get("text", ""))
        return plain_mrkdwn(raw, workspace) if obj.get("type") == "mrkdwn" else html.unescape(raw)
    return str(obj or "")


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        wrapped = textwrap.wrap(
            paragraph, width, initial_indent=indent, subsequent_indent=indent
        ) or [indent.rstrip()]
        lines.extend(wrapped)
    return lines


def _element(element: dict[str, Any], workspace: Workspace | None) -> list[str]:
    kind = element.get("type")
    if kind == "button":
        return [f"[ {_text(element.get('text'), workspace)} ]"]
    if kind == "image":
        return [f"[image: {element.get('alt_text', '')}]"]
    if kind in ("overflow",):
        return ["[ ... ]"] + [f"  - {_text(o.get('text'), workspace)}" for o in _options(element)]
    options = _options(element)
    if options or kind in ("static_select", "multi_static_select", "radio_buttons", "checkboxes"):
        chosen = {
            o.get("value")
            for o in [element.get("initial_option") or {}, *(element.get("initial_options") or [])]
        }
        marks = {"radio_buttons": ("( )", "(•)"), "checkboxes": ("[ ]", "[x]")}
        off, on = marks.get(str(kind), ("-", "-"))
        initial = element.get("initial_option")
        shown = _text(initial.get("text"), workspace) if initial else None
        placeholder = shown or _text(element.get("placeholder"), workspace) or "Select"
        head = [] if kind in ("radio_buttons", "checkboxes") else [f"[ {placeholder} v ]"]
        return head + [
            f"  {on if o.get('value') in chosen else off} {_text(o.get('text'), workspace)}"
            for o in options
        ]
    if kind in ("datepicker", "timepicker", "users_select", "conversations_select"):
        user = element.get("initial_user")
        initial = (
            element.get("initial_date")
            or element.get("initial_time")
            or (f"@{_person(user, workspace)}" if user else None)
            or element.get("initial_conversation")
        )
        return [f"[ {initial or _text(element.get('placeholder'), workspace) or kind} ]"]
    return [f"[ {kind} ]"]


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _input(block: dict[str, Any], workspace: Workspace | None, width: int) -> list[str]:
    label = _text(block.get("label"), workspace)
    if block.get("optional"):
        label += " (optional)"
    element = block.get("element") or {}
    kind = element.get("type")
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        value = element.get("initial_value") or "____"
        lines = [f"{label}: {value}"]
    else:
        lines = [f"{label}:"] + ["  " + line for line in _element(element, workspace)]
    if "hint" in block:
        lines.extend(_wrap(_text(block["hint"], workspace), width, "  "))
    return lines


def _block(block: dict[str, Any], workspace: Workspace | None, width: int) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text(block.get("text"), workspace)
        return [title, "=" * min(len(title), width)]
    if kind == "divider":
        return ["-" * width]
    if kind == "section":
        lines = _wrap(_text(block.get("text"), workspace), width) if "text" in block else []
        fields = [_text(f, workspace) for f in block.get("fields") or []]
        column = (width - 2) // 2
        for left, right in zip_longest(fields[0::2], fields[1::2], fillvalue=""):
            left_lines, right_lines = _wrap(left, column), _wrap(right, column)
            for a, b in zip_longest(left_lines, right_lines, fillvalue=""):
                lines.append(f"{a:<{column}}  {b}".rstrip())
        if "accessory" in block:
            lines.extend(_element(block["accessory"], workspace))
        return lines
    if kind == "context":
        parts = [
            f"[image: {e.get('alt_text', '')}]" if e.get("type") == "image" else _text(e, workspace)
            for e in block.get("elements") or []
        ]
        return _wrap("  |  ".join(parts), width - 4, "  · ")
    if kind == "actions":
        inline: list[str] = []
        extra: list[str] = []
        for element in block.get("elements") or []:
            rendered = _element(element, workspace)
            inline.append(rendered[0])
            extra.extend(rendered[1:])
        return _wrap("  ".join(inline), width) + extra
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if kind == "input":
        return _input(block, workspace, width)
    if kind == "rich_text":
        return _wrap(_rich_text(block), width)
    return [f"[{kind} block]"]


def _rich_text(node: Any) -> str:
    if isinstance(node, dict):
        if "text" in node and isinstance(node["text"], str):
            return node["text"]
        if node.get("type") == "user":
            return f"<@{node.get('user_id')}>"
        return "".join(_rich_text(child) for child in node.get("elements") or [])
    return ""


def render_blocks(
    blocks: list[dict[str, Any]], *, width: int = 78, workspace: Workspace | None = None
) -> str:
    lines: list[str] = []
    for block in blocks:
        lines.extend(_block(block, workspace, width))
    return "\n".join(lines)


def _person(user_id: str | None, workspace: Workspace | None) -> str:
    user = workspace.user(user_id) if workspace and user_id else None
    return user.display if user else (user_id or "someone")


def _place(channel_id: str | None, workspace: Workspace | None) -> str:
    if not channel_id:
        return ""
    channel = workspace.channel(channel_id) if workspace else None
    if channel is not None:
        return f"#{channel.name}"
    if channel_id.startswith("D"):
        # The sandbox names DMs after the user ("D" + the user id without its "U").
        user = workspace.user("U" + channel_id[1:]) if workspace else None
        return f"DM with {user.display}" if user else "DM"
    return channel_id


def _speaker(user_id: str | None, workspace: Workspace | None) -> str:
    if workspace is not None and user_id == workspace.bot_user_id:
        return workspace.bot_name
    return _person(user_id, workspace)


def render_event(
    event: SandboxEvent, *, workspace: Workspace | None = None, width: int = 78
) -> str:
    """A headline saying who sees it, then the content (blocks, else the fallback text)."""
    body = render_blocks(event.blocks, width=width, workspace=workspace) if event.blocks else ""
    if not body and event.text:
        body = "\n".join(_wrap(plain_mrkdwn(event.text, workspace), width))
    place = _place(event.channel, workspace)
    if event.kind in ("message", "message_updated"):
        edited = " (edited)" if event.kind == "message_updated" else ""
        headline = f"{place}  {_speaker(event.user, workspace)}{edited}:"
    elif event.kind == "message_deleted":
        return f"{place}  (message {event.ts} deleted)"
    elif event.kind == "ephemeral":
        headline = f"{place}  (only visible to {_person(event.user, workspace)})"
    elif event.kind == "file_uploaded":
        headline = f"{place}  {_speaker(event.user, workspace)} uploaded {event.file_name}:"
    else:
        view = event.view or {}
        who = _person(event.user, workspace)
        if event.kind == "home_published":
            headline = f"Home tab for {who}:"
        elif event.kind == "view_closed":
            return f"modal for {who} closed: {_text(view.get('title'), workspace)}"
        else:
            updated = " (updated)" if event.kind == "view_updated" else ""
            headline = f"modal for {who}{updated}: {_text(view.get('title'), workspace)}"
        body = render_blocks(view.get("blocks") or [], width=width, workspace=workspace)
        buttons = [
            f"[ {_text(view[key], workspace)} ]" for key in ("close", "submit") if view.get(key)
        ]
        if buttons:
            body += "\n" + " " * max(0, width - len("  ".join(buttons))) + "  ".join(buttons)
    return f"{headline}\n{body}" if body else headline
