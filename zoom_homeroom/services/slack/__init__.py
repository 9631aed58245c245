"""Slack use cases: the Mix It Up poll (open, picks, close), the groups announced, the weekly prompts
and the reps' digest. Each takes the Runtime; `runtime.slack` is the adapter's client."""

from .announce import Announcement, announce
from .digest import digest_for, post_digests
from .links import join_link_for
from .poll import PollClosed, PollPosted, close_open_poll, close_poll, open_poll, process_picks, receive_pick
from .posting import SlackServiceError
from .prompts import post_prompt

__all__ = [
    "Announcement",
    "PollClosed",
    "PollPosted",
    "SlackServiceError",
    "announce",
    "close_open_poll",
    "close_poll",
    "digest_for",
    "join_link_for",
    "open_poll",
    "post_digests",
    "post_prompt",
    "process_picks",
    "receive_pick",
]
