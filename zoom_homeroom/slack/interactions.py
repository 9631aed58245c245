"""Reading `POST /slack/interactions` bodies: a student's pick in the Mix It Up poll. Pure.

Slack posts interactions form-encoded, the JSON in one `payload` field
(docs.slack.dev/interactivity/handling-user-interaction). A choice in one of the poll's
`static_select` menus arrives as a `block_actions` payload whose one action carries the menu's
`action_id` (the poll's date, week and the rank, see `poll_action_id`) and the `selected_option`,
which is null when the student cleared the menu (docs.slack.dev/reference/interaction-payloads/
block_actions-payload: "Deselecting the currently selected option ... will return a null value").

Everything is checked and bounded: a malformed body raises SlackPayloadError (the route answers
400, never 500); an interaction that is not a poll pick (a link button's click, another payload
type) comes back as `Ignored`, which the route acknowledges with an empty 200.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import SlackPayloadError

# A poll message with 100 topics in three menus comes back whole in `message`: ~250 KB encoded.
MAX_BODY_BYTES = 1024 * 1024
MAX_TOPIC_CHARS = 150  # an option's `value` (Block Kit's limit)
MAX_RANK = 10
POLL_ACTION_PREFIX = "mixitup-poll"

_POLL_ACTION = re.compile(rf"^{POLL_ACTION_PREFIX}:(\d{{4}}-\d{{2}}-\d{{2}}):w(\d{{1,2}}):r(\d{{1,2}})$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,30}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
_MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class PollPick:
    """One menu of the poll, chosen (or cleared: `topic` None) by one Slack user."""

    user_id: str
    team_id: str | None
    poll_date: dt.date
    week: int
    rank: int
    topic: str | None
    channel_id: str
    message_ts: str
    response_url: str


@dataclass(frozen=True)
class Ignored:
    """An interaction the service has nothing to do with; `.reason` says which, for the log."""

    reason: str


def poll_action_id(poll_date: dt.date, week: int, rank: int) -> str:
    """The `action_id` of the poll's menu for `rank`: `mixitup-poll:2027-01-13:w2:r1`."""
    return f"{POLL_ACTION_PREFIX}:{poll_date.isoformat()}:w{week}:r{rank}"


def parse_interaction(body: bytes) -> PollPick | Ignored:
    """The poll pick in a verified interaction body, or Ignored; SlackPayloadError when malformed."""
    payload = _payload(body)
    kind = payload.get("type")
    if kind != "block_actions":
        return Ignored(f"a {_short(kind)} interaction")
    action = _one_action(payload)
    action_id = _string(action, "action_id", "actions[0].action_id", limit=255)
    if not action_id.startswith(POLL_ACTION_PREFIX + ":"):
        return Ignored(f"action {_short(action_id)} is not the poll's")
    if action.get("type") != "static_select":
        raise SlackPayloadError(f"the poll action is a {_short(action.get('type'))}, not a static_select")
    poll_date, week, rank = _poll_action(action_id)
    channel_id, message_ts = _message(payload)
    return PollPick(
        user_id=_matching(_mapping(payload, "user"), "id", "user.id", _USER_ID),
        team_id=_team(payload),
        poll_date=poll_date,
        week=week,
        rank=rank,
        topic=_topic(action),
        channel_id=channel_id,
        message_ts=message_ts,
        response_url=_response_url(payload),
    )


def _payload(body: bytes) -> Mapping[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise SlackPayloadError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("ascii")  # form encoding is ASCII; anything else was not made by Slack
        fields = parse_qs(text, strict_parsing=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise SlackPayloadError("the body is not a form") from None
    values = fields.get("payload")
    if values is None or len(values) != 1:
        raise SlackPayloadError("the form has no single payload field")
    try:
        payload = json.loads(values[0])
    except (ValueError, RecursionError):
        raise SlackPayloadError("payload is not JSON") from None
    if not isinstance(payload, Mapping):
        raise SlackPayloadError("payload is not a JSON object")
    return payload


def _one_action(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], Mapping):
        raise SlackPayloadError("actions is not a list of one action")
    return actions[0]


def _poll_action(action_id: str) -> tuple[dt.date, int, int]:
    match = _POLL_ACTION.match(action_id)
    if match is None:
        raise SlackPayloadError(f"action_id {action_id!r} is not a poll menu's")
    try:
        poll_date = dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise SlackPayloadError(f"action_id {action_id!r} has no valid date") from None
    week, rank = int(match.group(2)), int(match.group(3))
    if not 1 <= rank <= MAX_RANK or week < 1:
        raise SlackPayloadError(f"action_id {action_id!r} has no valid week or rank")
    return poll_date, week, rank


def _topic(action: Mapping[str, Any]) -> str | None:
    option = action.get("selected_option")
    if option is None:
        return None
    if not isinstance(option, Mapping):
        raise SlackPayloadError("actions[0].selected_option is not an object")
    topic = _string(option, "value", "actions[0].selected_option.value", limit=MAX_TOPIC_CHARS)
    if not topic.strip():
        raise SlackPayloadError("actions[0].selected_option.value is empty")
    return topic


def _message(payload: Mapping[str, Any]) -> tuple[str, str]:
    """The poll message's channel and ts, from `container` (checked against `channel`/`message`)."""
    container = _mapping(payload, "container")
    if container.get("type") != "message":
        raise SlackPayloadError("container is not a message")
    channel_id = _matching(container, "channel_id", "container.channel_id", _CHANNEL_ID)
    message_ts = _matching(container, "message_ts", "container.message_ts", _TS)
    channel = payload.get("channel")
    if isinstance(channel, Mapping) and channel.get("id") not in (None, channel_id):
        raise SlackPayloadError("channel.id differs from container.channel_id")
    message = payload.get("message")
    if isinstance(message, Mapping) and message.get("ts") not in (None, message_ts):
        raise SlackPayloadError("message.ts differs from container.message_ts")
    return channel_id, message_ts


def _team(payload: Mapping[str, Any]) -> str | None:
    """The workspace; Slack sends `team: null` for apps installed on a whole Enterprise Grid org."""
    team = payload.get("team")
    if team is None:
        return None
    if not isinstance(team, Mapping):
        raise SlackPayloadError("team is not an object")
    return _matching(team, "id", "team.id", _TEAM_ID)


def _response_url(payload: Mapping[str, Any]) -> str:
    url = _string(payload, "response_url", "response_url", limit=_MAX_URL_CHARS)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise SlackPayloadError("response_url is not a URL")
    return url


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise SlackPayloadError(f"{key} is missing or not an object")
    return value


def _string(data: Mapping[str, Any], key: str, name: str, *, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise SlackPayloadError(f"{name} is missing or not text")
    if len(value) > limit:
        raise SlackPayloadError(f"{name} is longer than {limit} characters")
    return value


def _matching(data: Mapping[str, Any], key: str, name: str, pattern: re.Pattern[str]) -> str:
    value = _string(data, key, name, limit=64)
    if not pattern.match(value):
        raise SlackPayloadError(f"{name} {value!r} is not a Slack id")
    return value


def _short(value: object) -> str:
    """A value from the payload, safe and short enough for a log line."""
    text = value if isinstance(value, str) else type(value).__name__
    return repr(text[:40])
