"""Students' clicks, delivered as Slack delivers them: signed `block_actions` form posts.

The body is `payload=<url-encoded JSON>` (application/x-www-form-urlencoded); the headers carry
`X-Slack-Request-Timestamp` (seconds, the sender's clock) and `X-Slack-Signature`: `v0=` + hex
HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the signing secret
(docs.slack.dev/authentication/verifying-requests-from-slack). The payload's shape follows
docs.slack.dev/reference/interaction-payloads/block_actions-payload and the captures in
slackapi/bolt-python's tests (tests/scenario_tests/test_block_actions.py): `type`, `user`,
`api_app_id`, `token`, `container` (message_ts, channel_id, is_ephemeral), `trigger_id`, `team`,
`enterprise`, `is_enterprise_install`, `channel`, `message` (the whole message), `state`,
`response_url` and `actions` (one, with `action_ts`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 3.0  # Slack gives up on an interaction after three seconds
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class Delivery:
    """One delivered click: the receiver's status and answer, and the exact bytes and headers sent.

    `status` is None when the receiver could not be reached. Tests replay `body` with `headers`.
    """

    status: int | None
    text: str
    body: bytes
    headers: dict[str, str]
    payload: dict[str, Any]


def form_body(payload: Mapping[str, Any]) -> bytes:
    """`payload=...` as Slack form-encodes it."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode("ascii")


def signed_headers(body: bytes, secret: str, now: dt.datetime) -> dict[str, str]:
    """The headers Slack sends with `body`, signed at `now`."""
    timestamp = str(int(now.timestamp()))
    digest = hmac.new(secret.encode("utf-8"), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def send(
    url: str, payload: Mapping[str, Any], secret: str, now: dt.datetime, session: requests.Session
) -> Delivery:
    """POST one signed payload to `url`; never raises for an unreachable receiver."""
    body = form_body(payload)
    headers = signed_headers(body, secret, now)
    try:
        response = session.post(url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        log.warning("click to %s not delivered: %s", url, type(error).__name__)
        return Delivery(None, "", body, headers, dict(payload))
    return Delivery(response.status_code, response.text, body, headers, dict(payload))


def find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
    """The interactive element with `action_id` in a message, and its block's id; KeyError if none."""
    for index, block in enumerate(blocks):
        block_id = str(block.get("block_id") or f"block-{index}")
        candidates = [block["accessory"]] if "accessory" in block else list(block.get("elements") or ())
        for element in candidates:
            if isinstance(element, Mapping) and element.get("action_id") == action_id:
                return block_id, dict(element)
    raise KeyError(action_id)


def action(
    element: Mapping[str, Any], block_id: str, selected: Mapping[str, Any] | None, action_ts: str
) -> dict[str, Any]:
    """The `actions[0]` entry for a menu choice (selected_option None: cleared) or a button press."""
    entry: dict[str, Any] = {
        "type": element["type"],
        "action_id": element["action_id"],
        "block_id": block_id,
        "action_ts": action_ts,
    }
    if element["type"] == "static_select":
        entry["selected_option"] = dict(selected) if selected is not None else None
        if "placeholder" in element:
            entry["placeholder"] = element["placeholder"]
    else:
        entry["text"] = element.get("text")
        if "value" in element:
            entry["value"] = element["value"]
    return entry
