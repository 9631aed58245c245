"""Which join link a Slack message gives: the one place that decides."""

from __future__ import annotations

from ...core.models import SessionRecord
from ...runtime import Runtime
from ..registration import personal_join_url


def join_link_for(runtime: Runtime, session: SessionRecord, student_id: int | None) -> str | None:
    """The link `student_id` should join `session` with (None: a link for a whole channel).

    A student who holds a personal link (Zoom registration, `[sessions] registration = true`) gets it:
    it carries their registrant id, so attendance knows them whatever device or name they join with, and
    the meeting's own link would ask them to register. Everyone else, and a channel, gets the meeting's
    link. None while the session's meeting is not synced.
    """
    if student_id is not None and session.meeting_key and runtime.calendar.sessions.registration:
        personal = personal_join_url(runtime.storage, session.meeting_key, student_id)
        if personal:
            return personal
    return session.join_url
