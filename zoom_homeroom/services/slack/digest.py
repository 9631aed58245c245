"""The reps' digest: when a session becomes final, one message per session day in `[slack] reps_channel`
listing, per module (and Mix It Up), who was absent or partial, who sat in the wrong room, and the Zoom
participants still waiting to be matched, each module linked to its session page.

The day's message is posted when its first session becomes final and edited as the others do (and as
reps resolve what it lists) for a couple of days; a day whose digest says nothing new costs no call.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote

from ...core.models import MIX_IT_UP, SessionRecord
from ...runtime import Runtime
from ...slack import SlackError
from ...slack.blocks import DigestModule, Message, day_text, digest_message
from .. import attendance
from .posting import Kept, keep_posted

log = logging.getLogger(__name__)

# How long after its last session became final a day's digest is kept up to date.
DIGEST_DAYS = dt.timedelta(days=2)


def post_digests(runtime: Runtime) -> dict[dt.date, Kept]:
    """Bring the digest of every day with a session final in the last two days up to date.

    Does nothing without Slack or a `[slack] reps_channel`; a Slack failure is logged and left for the
    next run (the finalising job calls this again every hour), never raised.
    """
    channel = runtime.calendar.slack.reps_channel
    if not runtime.slack_enabled or not channel:
        return {}
    since = runtime.now() - DIGEST_DAYS
    days = sorted(
        {
            session.date
            for session in runtime.storage.sessions(state="final")
            if (session.final_at or since) > since
        }
    )
    kept: dict[dt.date, Kept] = {}
    for day in days:
        try:
            kept[day] = keep_posted(
                runtime, "digest", day.isoformat(), channel, digest_for(runtime, day), now=runtime.now()
            )
        except SlackError as error:
            log.warning("reps' digest of %s not posted: %s", day, error)
    return kept


def digest_for(runtime: Runtime, day: dt.date) -> Message:
    """The digest of one session day: each of its sessions, final or not yet."""
    sessions = runtime.storage.sessions(date=day)
    fresh = attendance.read(runtime, sessions)
    modules = [_module(runtime, fresh, session) for session in sessions]
    return digest_message(f"Homeroom digest · {day_text(day)}", modules)


def _module(runtime: Runtime, fresh: attendance.Attendance, session: SessionRecord) -> DigestModule:
    rows = fresh.rows(session_id=session.id)
    unmatched = fresh.unmatched(session_id=session.id)
    return DigestModule(
        title=_title(session),
        session_url=session_url(runtime, session),
        absent=[f"{row.name} (group {row.group})" for row in rows if row.status == "absent"],
        partial=[f"{row.name} ({row.minutes} min)" for row in rows if row.status == "partial"],
        wrong_room=[f"{row.name} (group {row.group})" for row in rows if row.in_assigned_room is False],
        unmatched=[f"{row.name or row.email or row.ident} ({row.minutes} min)" for row in unmatched],
        final=session.final,
    )


def _title(session: SessionRecord) -> str:
    if session.kind == MIX_IT_UP:
        return f"Mix It Up · week {session.week}"
    return f"Mod {session.module} · week {session.week}"


def session_url(runtime: Runtime, session: SessionRecord) -> str:
    """The session's page on the dashboard (`[slack] dashboard_url` + `/sessions/<key>`)."""
    base = runtime.calendar.slack.dashboard_url or ""
    return f"{base}/sessions/{quote(session.key, safe=':')}"
