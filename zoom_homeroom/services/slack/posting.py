"""What every Slack use case shares: its error, the channel it needs, and one channel message per
(kind, key) kept up to date: posted once, edited when its content changes, left alone otherwise."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Literal

from ...errors import HomeroomError
from ...runtime import Runtime
from ...slack import SlackConnectionError, SlackError, SlackMessageNotFound
from ...slack.blocks import Message

log = logging.getLogger(__name__)

Kept = Literal["posted", "edited", "unchanged"]


class SlackServiceError(HomeroomError):
    """A Slack step cannot be carried out (not configured, Slack refused or is unreachable); the
    message says why and what to do."""


def require_slack(runtime: Runtime, doing: str) -> None:
    """SlackServiceError unless the service has a Slack bot token."""
    if not runtime.slack_enabled:
        raise SlackServiceError(
            f"Slack is not set up, so the service cannot {doing}: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
            "(see the README's Slack section)"
        )


def require_channel(channel: str | None, setting: str, doing: str) -> str:
    """The configured channel, or SlackServiceError naming the calendar key to set."""
    if not channel:
        raise SlackServiceError(f"{setting} is not set in the calendar, so the service cannot {doing}")
    return channel


def failure(error: SlackError, doing: str) -> SlackServiceError:
    """A Slack failure as the user's error: what was being done, and Slack's own words."""
    text = f"could not {doing}: {error}"
    if isinstance(error, SlackConnectionError) and error.unanswered:
        text += " (Slack may have carried it out: look in the channel before trying again)"
    return SlackServiceError(text)


def content_hash(message: Message) -> str:
    """A digest of what a message shows, to tell whether Slack's copy is up to date."""
    data = json.dumps({"text": message.text, "blocks": list(message.blocks)}, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def keep_posted(
    runtime: Runtime, kind: str, key: str, channel: str, message: Message, *, now: dt.datetime
) -> Kept:
    """Make the one message of (kind, key) in `channel` show `message`.

    Posted the first time (or in a channel that changed, or again when someone deleted it), edited when
    its content differs from what was posted, untouched otherwise. Raises SlackError.
    """
    storage, client = runtime.storage, runtime.slack
    digest = content_hash(message)
    record = storage.posted(kind, key)
    if record is not None and record.channel == channel:
        if record.content_hash == digest:
            return "unchanged"
        try:
            client.update_message(record.channel, record.ts, message.text, message.blocks)
        except SlackMessageNotFound:
            log.info("Slack %s message %s was deleted: posting it again", kind, key)
        else:
            storage.save_posted(kind, key, channel=channel, ts=record.ts, content_hash=digest, now=now)
            return "edited"
    posted = client.post_message(channel, message.text, message.blocks)
    storage.save_posted(kind, key, channel=posted.channel, ts=posted.ts, content_hash=digest, now=now)
    return "posted"


def local_time_text(moment: dt.datetime, runtime: Runtime) -> str:
    """`1:30 pm`, in the calendar's time zone."""
    local = moment.astimezone(runtime.calendar.timezone)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"


def local_moment_text(moment: dt.datetime, runtime: Runtime) -> str:
    """`Tuesday January 12 at 12:30 pm`, in the calendar's time zone."""
    local = moment.astimezone(runtime.calendar.timezone)
    return f"{local:%A %B} {local.day} at {local_time_text(moment, runtime)}"
