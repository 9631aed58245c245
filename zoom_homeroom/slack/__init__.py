"""The only code that speaks HTTP to Slack: `SlackClient` (on slack-sdk's WebClient), its errors,
inbound request verification, interaction parsing and the Block Kit messages the service sends."""

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
    "parse_interaction",
    "verify_request",
]
