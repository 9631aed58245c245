"""The weekly prompt: on the morning of each session, the module's prompt for the week
(`config/prompts/mod<N>/week<W>.md`) and the join link, in the module's `slack_channel`."""

from __future__ import annotations

import datetime as dt
import logging

from ...core.models import HOMEROOM, homeroom_key
from ...core.planning import plan_sessions
from ...runtime import Runtime
from ...slack import SlackError
from ...slack.blocks import prompt_message
from ..sync import read_prompts
from .links import join_link_for
from .posting import Kept, failure, keep_posted, local_time_text, require_slack

log = logging.getLogger(__name__)


def post_prompt(runtime: Runtime, module: int, day: dt.date) -> Kept | None:
    """Post module `module`'s prompt for its session on `day`; None when there is nothing to post (no
    channel, no session that day, no prompt for the week). Posting again edits it only if it changed.
    Raises SlackServiceError."""
    channel = runtime.calendar.module(module).slack_channel
    planned = next(
        (s for s in plan_sessions(runtime.calendar, module=module, kinds=(HOMEROOM,)) if s.date == day), None
    )
    if channel is None or planned is None:
        return None
    prompt = (read_prompts(runtime.settings.config_path, module).get(planned.week) or "").strip()
    if not prompt:
        log.info("Mod %s week %s: no prompt to post", module, planned.week)
        return None
    require_slack(runtime, "post the weekly prompt")
    session = runtime.storage.session(homeroom_key(module, day))
    link = join_link_for(runtime, session, None) if session is not None else None
    message = prompt_message(
        module, planned.week, day, prompt, when=local_time_text(planned.start, runtime), join_url=link
    )
    try:
        return keep_posted(runtime, "prompt", planned.key, channel, message, now=runtime.now())
    except SlackError as error:
        raise failure(error, f"post Mod {module}'s week {planned.week} prompt") from None
