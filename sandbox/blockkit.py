"""Slack's Block Kit limits, checked independently of slack_sdk so the sandbox can catch
what the bot's own builders let through. Errors mimic Slack's `[json-pointer:...]` style."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000

_SELECT_TYPES = {
    "static_select",
    "multi_static_select",
    "external_select",
    "multi_external_select",
}
_KNOWN_BLOCKS = {
    "section",
    "header",
    "divider",
    "context",
    "actions",
    "image",
    "input",
    "rich_text",
    "video",
    "file",
    "markdown",
}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str, path: str) -> None:
        self.errors.append(f"{message} [json-pointer:{path}]")

    def max_len(self, value: Any, limit: int, path: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", path)

    def max_items(self, value: Any, limit: int, path: str) -> None:
        if isinstance(value, list) and len(value) > limit:
            self.fail(f"must be less than {limit + 1} items", path)

    def text_object(
        self, obj: Any, path: str, *, limit: int, plain_only: bool = False, required: bool = True
    ) -> None:
        if obj is None:
            if required:
                self.fail("must provide an object", path)
            return
        if not isinstance(obj, dict):
            self.fail("must be a text object", path)
            return
        kind = obj.get("type")
        allowed = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
        if kind not in allowed:
            self.fail(f"must be one of {sorted(allowed)}", f"{path}/type")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail("must be a non-empty string", f"{path}/text")
        else:
            self.max_len(text, limit, f"{path}/text")

    def option(self, option: Any, path: str) -> None:
        if not isinstance(option, dict):
            self.fail("must be an option object", path)
            return
        self.text_object(option.get("text"), f"{path}/text", limit=75)
        value = option.get("value")
        if not isinstance(value, str):
            self.fail("must be a string", f"{path}/value")
        else:
            self.max_len(value, 150, f"{path}/value")

    def element(self, element: Any, path: str) -> None:
        if not isinstance(element, dict):
            self.fail("must be an element object", path)
            return
        kind = element.get("type")
        if not isinstance(kind, str):
            self.fail("must provide a type", f"{path}/type")
            return
        self.max_len(element.get("action_id"), 255, f"{path}/action_id")
        if "placeholder" in element:
            self.text_object(
                element["placeholder"], f"{path}/placeholder", limit=150, plain_only=True
            )
        if kind == "button":
            self.text_object(element.get("text"), f"{path}/text", limit=75, plain_only=True)
            self.max_len(element.get("value"), 2000, f"{path}/value")
            self.max_len(element.get("url"), 3000, f"{path}/url")
            if element.get("style") not in (None, "primary", "danger"):
                self.fail("must be primary or danger", f"{path}/style")
        elif kind in _SELECT_TYPES or kind in {"radio_buttons", "checkboxes", "overflow"}:
            self._options_element(element, kind, path)
        elif kind == "plain_text_input":
            max_length = element.get("max_length")
            if isinstance(max_length, int) and max_length > 3000:
                self.fail("must be less than 3001", f"{path}/max_length")
            self.max_len(element.get("initial_value"), 3000, f"{path}/initial_value")
        elif kind == "image":
            self.max_len(element.get("alt_text"), 2000, f"{path}/alt_text")
            if "alt_text" not in element:
                self.fail("must provide alt_text", f"{path}/alt_text")

    def _options_element(self, element: dict[str, Any], kind: str, path: str) -> None:
        options = element.get("options")
        groups = element.get("option_groups")
        if kind in {"static_select", "multi_static_select"} and options is None and groups is None:
            self.fail("must provide options or option_groups", f"{path}/options")
        if kind in {"radio_buttons", "checkboxes", "overflow"} and options is None:
            self.fail("must provide options", f"{path}/options")
        limit = {"radio_buttons": 10, "checkboxes": 10, "overflow": 5}.get(kind, 100)
        if isinstance(options, list):
            self.max_items(options, limit, f"{path}/options")
            for i, option in enumerate(options):
                self.option(option, f"{path}/options/{i}")
        if isinstance(groups, list):
            self.max_items(groups, 100, f"{path}/option_groups")
            for g, group in enumerate(groups):
                group_options = group.get("options") if isinstance(group, dict) else None
                self.max_items(group_options, 100, f"{path}/option_groups/{g}/options")
                for i, option in enumerate(group_options or []):
                    self.option(option, f"{path}/option_groups/{g}/options/{i}")

    def block(self, block: Any, path: str) -> None:
        if not isinstance(block, dict):
            self.fail("must be a block object", path)
            return
        kind = block.get("type")
        if not isinstance(kind, str) or not kind:
            self.fail("must provide a type", f"{path}/type")
            return
        if kind not in _KNOWN_BLOCKS:
            self.fail(f"unknown block type {kind!r}", f"{path}/type")
            return
        self.max_len(block.get("block_id"), 255, f"{path}/block_id")
        if kind == "section":
            self._section(block, path)
        elif kind == "header":
            self.text_object(block.get("text"), f"{path}/text", limit=150, plain_only=True)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.fail("must provide at least one element", f"{path}/elements")
            else:
                self.max_items(elements, 10, f"{path}/elements")
                for i, element in enumerate(elements):
                    if isinstance(element, dict) and element.get("type") != "image":
                        self.text_object(element, f"{path}/elements/{i}", limit=3000)
                    else:
                        self.element(element, f"{path}/elements/{i}")
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.fail("must provide at least one element", f"{path}/elements")
            else:
                self.max_items(elements, 25, f"{path}/elements")
                for i, element in enumerate(elements):
                    self.element(element, f"{path}/elements/{i}")
                self._unique_action_ids(elements, f"{path}/elements")
        elif kind == "image":
            if "image_url" not in block and "slack_file" not in block:
                self.fail("must provide image_url or slack_file", f"{path}/image_url")
            if "alt_text" not in block:
                self.fail("must provide alt_text", f"{path}/alt_text")
            self.max_len(block.get("alt_text"), 2000, f"{path}/alt_text")
            if "title" in block:
                self.text_object(block["title"], f"{path}/title", limit=2000, plain_only=True)
        elif kind == "input":
            self.text_object(block.get("label"), f"{path}/label", limit=2000, plain_only=True)
            if "element" not in block:
                self.fail("must provide an element", f"{path}/element")
            else:
                self.element(block["element"], f"{path}/element")
            if "hint" in block:
                self.text_object(block["hint"], f"{path}/hint", limit=2000, plain_only=True)

    def _section(self, block: dict[str, Any], path: str) -> None:
        if "text" not in block and "fields" not in block:
            self.fail("must provide text or fields", path)
        if "text" in block:
            self.text_object(block["text"], f"{path}/text", limit=3000)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list):
                self.fail("must be a list", f"{path}/fields")
            else:
                self.max_items(fields, 10, f"{path}/fields")
                for i, item in enumerate(fields):
                    self.text_object(item, f"{path}/fields/{i}", limit=2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{path}/accessory")

    def _unique_action_ids(self, elements: list[Any], path: str) -> None:
        seen: set[str] = set()
        for i, element in enumerate(elements):
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if isinstance(action_id, str):
                if action_id in seen:
                    self.fail(f"duplicate action_id {action_id!r}", f"{path}/{i}/action_id")
                seen.add(action_id)

    def blocks(self, blocks: Any, path: str, limit: int) -> None:
        if not isinstance(blocks, list):
            self.fail("must be a list of blocks", path)
            return
        self.max_items(blocks, limit, path)
        seen: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"{path}/{i}")
            block_id = block.get("block_id") if isinstance(block, dict) else None
            if isinstance(block_id, str):
                # Slack refuses the whole payload, not just the later block.
                if block_id in seen:
                    self.fail(f"duplicate block_id {block_id!r}", f"{path}/{i}/block_id")
                seen.add(block_id)


def validate_message_blocks(blocks: Any) -> list[str]:
    """Errors Slack would report for a message's `blocks` (empty when Slack accepts them)."""
    checker = _Checker()
    checker.blocks(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
    return checker.errors


def validate_message_text(text: Any) -> list[str]:
    """Errors for a message's top-level `text` fallback."""
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        return [f"must be less than {MAX_MESSAGE_TEXT + 1} characters [json-pointer:/text]"]
    return []


def validate_view(view: Any) -> list[str]:
    """Errors Slack would report for a modal or Home tab passed to views.open/update/publish."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.fail("must be a view object", "/view")
        return checker.errors
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.fail("must be 'modal' or 'home'", "/view/type")
    if "blocks" not in view:
        checker.fail("must provide blocks", "/view/blocks")
    else:
        checker.blocks(view["blocks"], "/view/blocks", MAX_VIEW_BLOCKS)
    if kind == "modal":
        checker.text_object(view.get("title"), "/view/title", limit=24, plain_only=True)
        for key in ("submit", "close"):
            if key in view:
                checker.text_object(view[key], f"/view/{key}", limit=24, plain_only=True)
        has_inputs = any(b.get("type") == "input" for b in _dicts(view.get("blocks")))
        if has_inputs and "submit" not in view:
            checker.fail("must provide submit when the view has input blocks", "/view/submit")
    checker.max_len(view.get("private_metadata"), 3000, "/view/private_metadata")
    checker.max_len(view.get("callback_id"), 255, "/view/callback_id")
    checker.max_len(view.get("external_id"), 255, "/view/external_id")
    return checker.errors


def _dicts(items: Any) -> Iterator[dict[str, Any]]:
    if isinstance(items, list):
        yield from (item for item in items if isinstance(item, dict))
