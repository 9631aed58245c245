"""The Web API methods the sandbox answers, with Slack's `ok`/`error` answers.

Errors follow each method's page on docs.slack.dev and the spec's error lists, with the newer
codes the 2020 spec lacks: `ratelimited` (the rate-limit guide), `missing_scope` with `needed` and
`provided` (every method's "Errors" table), `invalid_arguments`, `invalid_blocks`,
`msg_blocks_too_long`, `user_not_in_channel`. A bot token's scopes are checked per method as the
methods' pages list them for bot tokens (chat:write, im:write, users:read, users:read.email;
conversations.info needs channels:read for a public channel and groups:read for a private one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .blockkit import parse_blocks
from .workspace import Channel, Ephemeral, SlackApiFailure, Workspace

MAX_TEXT_CHARS = 40_000  # chat.postMessage: "truncated ... 40,000 characters"; the sandbox refuses


@dataclass(frozen=True)
class Call:
    """One call as a method sees it: its arguments, the token's scopes and the sandbox's time."""

    args: Mapping[str, Any]
    scopes: frozenset[str]
    now: dt.datetime


Handler = Callable[[Workspace, Call], dict[str, Any]]


@dataclass(frozen=True)
class Method:
    handler: Handler
    accepted_scopes: tuple[str, ...]
    # Methods whose spec `consumes` lists application/json; the others read form or query only
    # (docs.slack.dev/apis/web-api: "JSON-encoded bodies ... not supported by methods that read").
    json_body: bool


def require(call: Call, scope: str) -> None:
    """`missing_scope` unless the token has `scope`, naming it as Slack does."""
    if scope not in call.scopes:
        raise SlackApiFailure(
            "missing_scope", extra={"needed": scope, "provided": ",".join(sorted(call.scopes))}
        )


def text_arg(call: Call, name: str) -> str | None:
    """A string argument (forms carry only strings; a JSON body may carry anything)."""
    value = call.args.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SlackApiFailure(
            "invalid_arguments",
            extra={"response_metadata": {"messages": [f"[ERROR] {name} must be a string"]}},
        )
    return value


def required_arg(call: Call, name: str) -> str:
    value = text_arg(call, name)
    if value is None:
        messages = [f"[ERROR] missing required field: {name}"]
        raise SlackApiFailure("invalid_arguments", extra={"response_metadata": {"messages": messages}})
    return value


# -- methods ---------------------------------------------------------------------------------------


def auth_test(ws: Workspace, call: Call) -> dict[str, Any]:
    return {
        "ok": True,
        "url": f"https://{ws.domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def conversations_info(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.channels.get(text_arg(call, "channel") or "")
    # Only channels are modelled; an IM id is "not found" here (the service never asks for one).
    if channel is None or channel.is_im:
        raise SlackApiFailure("channel_not_found")
    require(call, "groups:read" if channel.is_private else "channels:read")
    if channel.is_private and ws.bot_user_id not in channel.members:
        raise SlackApiFailure("channel_not_found")
    return {"ok": True, "channel": channel.to_json(ws.bot_user_id)}


def chat_post_message(ws: Workspace, call: Call) -> dict[str, Any]:
    require(call, "chat:write")
    channel = _postable(ws, call, text_arg(call, "channel"))
    text, blocks = _content(call)
    message = ws.post(channel, text, blocks, call.now)
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": message.to_json()}


def chat_update(ws: Workspace, call: Call) -> dict[str, Any]:
    require(call, "chat:write")
    channel_id = text_arg(call, "channel") or ""
    if channel_id not in ws.channels:
        raise SlackApiFailure("channel_not_found")
    message = ws.messages.get((channel_id, text_arg(call, "ts") or ""))
    if message is None:
        raise SlackApiFailure("message_not_found")
    if message.user != ws.bot_user_id:
        raise SlackApiFailure("cant_update_message")
    text, blocks = _content(call)
    message.replace(text, ws.named(blocks))
    # The spec types chat.update's `message.blocks` as an object, where Slack sends a list: the
    # answer leaves blocks out rather than break the spec or lie about their shape.
    return {
        "ok": True,
        "channel": channel_id,
        "ts": message.ts,
        "text": text,
        "message": {"text": text, "user": message.user, "bot_id": message.bot_id, "type": "message"},
    }


def chat_post_ephemeral(ws: Workspace, call: Call) -> dict[str, Any]:
    require(call, "chat:write")
    channel = _postable(ws, call, text_arg(call, "channel"))
    user = ws.users.get(text_arg(call, "user") or "")
    if user is None or user.id not in channel.members:
        raise SlackApiFailure("user_not_in_channel")
    text, blocks = _content(call)
    ws.ephemerals.append(Ephemeral("chat.postEphemeral", channel.id, user.id, text, tuple(blocks)))
    return {"ok": True, "message_ts": ws.next_ts(call.now)}


def users_info(ws: Workspace, call: Call) -> dict[str, Any]:
    require(call, "users:read")
    user = ws.users.get(text_arg(call, "user") or "")
    if user is None:
        raise SlackApiFailure("user_not_found")
    return {"ok": True, "user": user.to_json(with_email="users:read.email" in call.scopes)}


def users_lookup_by_email(ws: Workspace, call: Call) -> dict[str, Any]:
    require(call, "users:read.email")
    user = ws.user_by_email(required_arg(call, "email"))
    if user is None:
        raise SlackApiFailure("users_not_found")
    # A deactivated member is still found, flagged `deleted` (harsher than ignoring them).
    return {"ok": True, "user": user.to_json(with_email=True)}


def conversations_open(ws: Workspace, call: Call) -> dict[str, Any]:
    require(call, "im:write")
    users = [part.strip() for part in (text_arg(call, "users") or "").split(",") if part.strip()]
    if not users:
        raise SlackApiFailure("users_list_not_supplied")
    if len(users) > 1:  # a group DM needs mpim:write and is not modelled
        raise SlackApiFailure("method_not_supported_for_channel_type")
    user = ws.users.get(users[0])
    if user is None:
        raise SlackApiFailure("user_not_found")
    if user.deleted:
        raise SlackApiFailure("user_disabled")
    channel, existed = ws.im_with(user.id)
    answer: dict[str, Any] = {"ok": True, "channel": {"id": channel.id}}
    if existed:
        answer.update(no_op=True, already_open=True)
    return answer


METHODS: dict[str, Method] = {
    "auth.test": Method(auth_test, (), json_body=True),
    "conversations.info": Method(
        conversations_info, ("channels:read", "groups:read", "im:read", "mpim:read"), json_body=False
    ),
    "chat.postMessage": Method(chat_post_message, ("chat:write",), json_body=True),
    "chat.update": Method(chat_update, ("chat:write",), json_body=True),
    "chat.postEphemeral": Method(chat_post_ephemeral, ("chat:write",), json_body=True),
    "users.info": Method(users_info, ("users:read",), json_body=False),
    "users.lookupByEmail": Method(users_lookup_by_email, ("users:read.email",), json_body=False),
    "conversations.open": Method(conversations_open, ("im:write",), json_body=True),
}


# -- helpers ---------------------------------------------------------------------------------------


def _postable(ws: Workspace, call: Call, channel_id: str | None) -> Channel:
    """The channel a message goes to, if the bot may post there (a user id means their DM)."""
    if channel_id and channel_id[0] in "UW" and channel_id in ws.users:
        return ws.im_with(channel_id)[0]
    channel = ws.channels.get(channel_id or "")
    if channel is None:
        raise SlackApiFailure("channel_not_found")
    if ws.bot_user_id not in channel.members:
        if channel.is_private:
            raise SlackApiFailure("channel_not_found")
        if "chat:write.public" not in call.scopes:
            raise SlackApiFailure("not_in_channel")
    if channel.is_archived:
        raise SlackApiFailure("is_archived")
    return channel


def _content(call: Call) -> tuple[str, list[dict[str, Any]]]:
    text = text_arg(call, "text") or ""
    blocks = parse_blocks(call.args.get("blocks"))
    if not text and not blocks:
        raise SlackApiFailure("no_text")
    if len(text) > MAX_TEXT_CHARS:
        raise SlackApiFailure("msg_too_long")
    return text, blocks
