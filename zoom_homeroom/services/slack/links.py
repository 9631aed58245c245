"""Which join link a Slack message gives: the one place that decides."""

from __future__ import annotations

from ...core.models import SessionRecord
from ...runtime import Runtime


def join_link_for(runtime: Runtime, session: SessionRecord, student_id: int | None) -> str | None:
    """The link `student_id` should join `session` with (None: a link for a whole channel).

    For now every student gets the meeting's own join link; with registration on, a student's personal
    link belongs here. None while the session's meeting is not synced.
    """
    del runtime, student_id  # what a personal link will need
    return session.join_url
