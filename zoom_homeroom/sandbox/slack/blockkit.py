"""Block Kit checks, as harsh as Slack's `invalid_blocks` and `msg_blocks_too_long` answers.

Limits are Block Kit's reference (docs.slack.dev/reference/block-kit): 50 blocks a message; section
text 3000 characters and 10 fields of 2000; header plain_text 150; context 10 elements; actions 25
elements; `block_id` and `action_id` 255; static_select 100 options, each option's text 75 and
value 150, placeholder 150; button text 75, url 3000, value 2000. On top, chat.postMessage refuses
blocks whose text adds up past about 12,000 characters (`msg_blocks_too_long`, undocumented:
github.com/slackapi/bolt-js/issues/2867). Slack names each problem with a JSON pointer, e.g.
"must be less than 3001 characters [json-pointer:/blocks/1/text/text]"
(github.com/adobe/spacecat-api-service/issues/176 shows a real answer).

Only the block and element types this project sends are known; anything else is refused, which is
harsher than Slack and keeps the sandbox honest about what it has modelled. Unknown fields in a
known object are refused too, as Slack does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .workspace import SlackApiFailure

MAX_BLOCKS = 50
MAX_TOTAL_TEXT = 12_000

_TEXT_KEYS = {"plain_text": {"type", "text", "emoji"}, "mrkdwn": {"type", "text", "verbatim"}}
_BLOCK_KEYS = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "header": {"type", "block_id", "text"},
    "divider": {"type", "block_id"},
    "context": {"type", "block_id", "elements"},
    "actions": {"type", "block_id", "elements"},
}
_ELEMENT_KEYS = {
    "static_select": {"type", "action_id", "placeholder", "options", "initial_option", "focus_on_load"},
    "button": {"type", "action_id", "text", "url", "value", "style", "accessibility_label"},
}
_OPTION_KEYS = {"text", "value", "description"}


class _Problems:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, pointer: str, message: str) -> None:
        self.errors.append(f"{message} [json-pointer:{pointer}]")


def parse_blocks(raw: Any) -> list[dict[str, Any]]:
    """`blocks` as sent (a JSON string from a form, a list from a JSON body), checked.

    Raises SlackApiFailure `invalid_blocks_format`, `invalid_blocks` or `msg_blocks_too_long`.
    """
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SlackApiFailure("invalid_blocks_format") from None
    if not isinstance(raw, list) or not all(isinstance(block, Mapping) for block in raw):
        raise SlackApiFailure("invalid_blocks_format")
    problems = _Problems()
    if len(raw) > MAX_BLOCKS:
        problems.add("/blocks", f"no more than {MAX_BLOCKS} items allowed")
    block_ids: set[str] = set()
    for index, block in enumerate(raw):
        _block(block, f"/blocks/{index}", problems, block_ids)
    if problems.errors:
        messages = [f"[ERROR] {error}" for error in problems.errors]
        raise SlackApiFailure(
            "invalid_blocks", extra={"errors": problems.errors, "response_metadata": {"messages": messages}}
        )
    if total_text(raw) > MAX_TOTAL_TEXT:
        raise SlackApiFailure("msg_blocks_too_long")
    return [dict(block) for block in raw]


def total_text(value: Any) -> int:
    """Every `text` string's length, summed over the blocks."""
    if isinstance(value, Mapping):
        own = value.get("text")
        rest = sum(total_text(item) for key, item in value.items() if key != "text")
        return rest + (len(own) if isinstance(own, str) else total_text(own))
    if isinstance(value, list):
        return sum(total_text(item) for item in value)
    return 0


def _block(block: Mapping[str, Any], at: str, problems: _Problems, block_ids: set[str]) -> None:
    kind = _kind(block, _BLOCK_KEYS, "block", at, problems)
    if kind is None:
        return
    block_id = block.get("block_id")
    if block_id is not None:
        if _string(block_id, 255, f"{at}/block_id", problems) and block_id in block_ids:
            problems.add(f"{at}/block_id", "duplicate block_id")
        block_ids.add(str(block_id))
    if kind == "section":
        _section(block, at, problems)
    elif kind == "header":
        _text(block.get("text"), f"{at}/text", problems, limit=150, plain_only=True)
    elif kind == "context":
        elements = _list(block.get("elements"), f"{at}/elements", problems, most=10)
        for index, element in enumerate(elements):
            _text(element, f"{at}/elements/{index}", problems, limit=3000)
    elif kind == "actions":
        elements = _list(block.get("elements"), f"{at}/elements", problems, most=25)
        action_ids: set[str] = set()
        for index, element in enumerate(elements):
            _element(element, f"{at}/elements/{index}", problems, action_ids)


def _section(block: Mapping[str, Any], at: str, problems: _Problems) -> None:
    if "text" not in block and "fields" not in block:
        problems.add(at, "must provide a text or fields")
    if "text" in block:
        _text(block["text"], f"{at}/text", problems, limit=3000)
    if "fields" in block:
        fields = _list(block["fields"], f"{at}/fields", problems, most=10)
        for index, item in enumerate(fields):
            _text(item, f"{at}/fields/{index}", problems, limit=2000)
    if "accessory" in block:
        _element(block["accessory"], f"{at}/accessory", problems, set())


def _element(element: Any, at: str, problems: _Problems, action_ids: set[str]) -> None:
    if not isinstance(element, Mapping):
        problems.add(at, "must be an object")
        return
    kind = _kind(element, _ELEMENT_KEYS, "element", at, problems)
    if kind is None:
        return
    action_id = element.get("action_id")
    if action_id is not None and _string(action_id, 255, f"{at}/action_id", problems):
        if action_id in action_ids:
            problems.add(f"{at}/action_id", "duplicate action_id")
        action_ids.add(action_id)
    if kind == "static_select":
        _static_select(element, at, problems)
    else:
        _text(element.get("text"), f"{at}/text", problems, limit=75, plain_only=True)
        if "url" in element:
            _string(element["url"], 3000, f"{at}/url", problems)
        if "value" in element:
            _string(element["value"], 2000, f"{at}/value", problems)
        if element.get("style") not in (None, "primary", "danger"):
            problems.add(f"{at}/style", "must be primary or danger")


def _static_select(element: Mapping[str, Any], at: str, problems: _Problems) -> None:
    if "placeholder" in element:
        _text(element["placeholder"], f"{at}/placeholder", problems, limit=150, plain_only=True)
    options = _list(element.get("options"), f"{at}/options", problems, most=100)
    values: set[str] = set()
    for index, option in enumerate(options):
        where = f"{at}/options/{index}"
        if not isinstance(option, Mapping):
            problems.add(where, "must be an object")
            continue
        _known_keys(option, _OPTION_KEYS, where, problems)
        _text(option.get("text"), f"{where}/text", problems, limit=75, plain_only=True)
        value = option.get("value")
        if _string(value, 150, f"{where}/value", problems):
            if value in values:
                problems.add(f"{where}/value", "duplicate option value")
            values.add(value)
    initial = element.get("initial_option")
    if initial is not None and (not isinstance(initial, Mapping) or initial.get("value") not in values):
        problems.add(f"{at}/initial_option", "must be one of the options")


def _text(value: Any, at: str, problems: _Problems, *, limit: int, plain_only: bool = False) -> None:
    if not isinstance(value, Mapping):
        problems.add(at, "must be a text object")
        return
    kind = value.get("type")
    if kind not in _TEXT_KEYS or (plain_only and kind != "plain_text"):
        problems.add(f"{at}/type", "must be plain_text" if plain_only else "must be plain_text or mrkdwn")
        return
    _known_keys(value, _TEXT_KEYS[kind], at, problems)
    _string(value.get("text"), limit, f"{at}/text", problems)


def _string(value: Any, limit: int, at: str, problems: _Problems) -> bool:
    if not isinstance(value, str) or not value:
        problems.add(at, "must be a non-empty string")
        return False
    if len(value) > limit:
        problems.add(at, f"must be less than {limit + 1} characters")
        return False
    return True


def _list(value: Any, at: str, problems: _Problems, *, most: int) -> list[Any]:
    if not isinstance(value, list) or not value:
        problems.add(at, "must be a non-empty array")
        return []
    if len(value) > most:
        problems.add(at, f"no more than {most} items allowed")
    return value


def _kind(
    value: Mapping[str, Any], keys: Mapping[str, set[str]], what: str, at: str, problems: _Problems
) -> str | None:
    """The object's `type` with its fields checked, or None (a problem) when `keys` has no such type."""
    kind = value.get("type")
    allowed = keys.get(kind) if isinstance(kind, str) else None
    if allowed is None:
        problems.add(f"{at}/type", f"unsupported {what} type {kind!r}")
        return None
    _known_keys(value, allowed, at, problems)
    return kind


def _known_keys(data: Mapping[str, Any], allowed: set[str], at: str, problems: _Problems) -> None:
    for key in data:
        if key not in allowed:
            problems.add(f"{at}/{key}", "unsupported field")
