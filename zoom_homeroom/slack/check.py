"""`homeroom config check --slack`: can the installed Slack app do what the service needs?

It calls `auth.test` (the token, and the scopes Slack granted it in `x-oauth-scopes`), names every
scope the service's calls need that the app lacks, and looks up every channel of the calendar: it must
exist, not be archived, and have the app in it. Each problem is one line that says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import make_client
from .errors import SlackAuthError, SlackChannelNotFound, SlackError, SlackMissingScope

if TYPE_CHECKING:
    from ..core.models import Calendar
    from ..settings import Settings
    from .client import SlackClient

SETTINGS_PAGE = "add it under OAuth & Permissions > Bot Token Scopes, then reinstall the app"


@dataclass(frozen=True)
class ScopeNeed:
    """A bot scope and what the service does with it (the methods' pages on docs.slack.dev)."""

    scope: str
    purpose: str


SCOPES: tuple[ScopeNeed, ...] = (
    ScopeNeed("chat:write", "post and edit the poll, the groups, the prompts and the digest"),
    ScopeNeed("im:write", "open a direct message with each student (conversations.open)"),
    ScopeNeed("users:read", "see who picked in the poll (users.info)"),
    ScopeNeed("users:read.email", "find that person, and each student, by email"),
)


@dataclass(frozen=True)
class ChannelUse:
    """One channel of the calendar and where it is set."""

    id: str
    where: str


def check_slack(
    settings: Settings, calendar: Calendar | None, *, client: SlackClient | None = None
) -> list[str]:
    """Problems with the Slack app set up for the service, one line each; empty when all is well."""
    if client is None:
        client = make_client(settings)
    try:
        identity = client.auth_test()
    except SlackAuthError as error:
        return [f"SLACK_BOT_TOKEN: {error}"]
    except SlackError as error:
        return [f"Slack: could not check the token: {error}"]
    problems = [
        f"Slack app lacks the bot scope {need.scope} (to {need.purpose}): {SETTINGS_PAGE}"
        for need in SCOPES
        if need.scope not in identity.scopes
    ]
    if calendar is None:
        return problems
    uses = channel_uses(calendar, str(settings.config_path))
    if not uses:
        problems.append(
            f"{settings.config_path}: no Slack channel is set ([slack] channel, reps_channel, or a module's "
            "slack_channel): the service has nowhere to post"
        )
    return problems + [problem for use in uses for problem in _channel_problems(client, use)]


def channel_uses(calendar: Calendar, config: str) -> list[ChannelUse]:
    """Every channel the calendar names, once each, with every place it is set."""
    places: dict[str, list[str]] = {}
    if calendar.slack.channel:
        places.setdefault(calendar.slack.channel, []).append("[slack] channel")
    if calendar.slack.reps_channel:
        places.setdefault(calendar.slack.reps_channel, []).append("[slack] reps_channel")
    for module in calendar.modules:
        if module.slack_channel:
            places.setdefault(module.slack_channel, []).append(f"module {module.number} slack_channel")
    return [ChannelUse(channel, f"{' and '.join(where)} in {config}") for channel, where in places.items()]


def _channel_problems(client: SlackClient, use: ChannelUse) -> list[str]:
    try:
        info = client.channel_info(use.id)
    except SlackChannelNotFound:
        return [
            f"Slack channel {use.id} ({use.where}): not found; check the ID, and invite the app if the "
            "channel is private (/invite @<app> in the channel)"
        ]
    except SlackMissingScope as error:
        needed = error.needed or "channels:read (public) or groups:read (private)"
        return [
            f"Slack channel {use.id} ({use.where}): cannot be checked, the app lacks {needed}: {SETTINGS_PAGE}"
        ]
    except SlackError as error:
        return [f"Slack channel {use.id} ({use.where}): could not be checked: {error}"]
    name = f"#{info.name}" if info.name else use.id
    if info.is_archived:
        return [f"Slack channel {name} ({use.where}) is archived: unarchive it or pick another channel"]
    if not info.is_member:
        return [f"Slack channel {name} ({use.where}): the app is not in it: /invite @<app> in {name}"]
    return []
