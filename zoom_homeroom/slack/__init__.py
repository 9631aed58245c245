"""The only code that speaks HTTP to Slack: `SlackClient` (on slack-sdk's WebClient), its errors,
inbound request verification, interaction parsing and the Block Kit messages the service sends."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..clock import Clock, Sleep, utc_now
from .client import ChannelInfo, PostedMessage, SlackClient, SlackIdentity
from .errors import (
    SlackAPIError,
    SlackAuthError,
    SlackChannelNotFound,
    SlackConnectionError,
    SlackError,
    SlackMessageNotFound,
    SlackMissingScope,
    SlackNotInChannel,
    SlackPayloadError,
    SlackRateLimited,
    SlackServerError,
    SlackSignatureError,
    SlackUserNotFound,
)
from .interactions import Ignored, PollPick, parse_interaction
from .verify import verify_request

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "ChannelInfo",
    "Ignored",
    "PollPick",
    "PostedMessage",
    "SlackAPIError",
    "SlackAuthError",
    "SlackChannelNotFound",
    "SlackClient",
    "SlackConnectionError",
    "SlackError",
    "SlackIdentity",
    "SlackMessageNotFound",
    "SlackMissingScope",
    "SlackNotInChannel",
    "SlackPayloadError",
    "SlackRateLimited",
    "SlackServerError",
    "SlackSignatureError",
    "SlackUserNotFound",
    "make_client",
    "parse_interaction",
    "verify_request",
]


def make_client(settings: Settings, *, sleep: Sleep = time.sleep, clock: Clock = utc_now) -> SlackClient:
    """The bot's client for these settings (SLACK_BOT_TOKEN, SLACK_API_URL); ConfigError without a token."""
    settings.require_slack()
    return SlackClient(
        settings.slack_bot_token or "", base_url=settings.slack_api_url, sleep=sleep, clock=clock
    )
