"""Announcing a week's Mix It Up groups in Slack: one message in the channel, and a direct message to
each student with their group, topic, the others in it and their join link.

Announcing again edits the channel message (when the groups changed) and messages only the students
whose group (its number or topic) or link changed: each DM is recorded the moment it is sent, so a run
cut short (a rate limit, an outage) is finished by the next one without anyone told twice. Students
Slack does not know (no member with their roster email or an alias email) are listed at the end of the
channel message and returned, for staff to tell by hand.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from ...core.models import FormedGroup, SessionRecord, Student, mix_it_up_key
from ...runtime import Runtime
from ...slack import (
    SlackAPIError,
    SlackAuthError,
    SlackConnectionError,
    SlackError,
    SlackMissingScope,
    SlackRateLimited,
    SlackServerError,
)
from ...slack.blocks import Group, Message, group_dm_message, groups_message
from ...storage.slack import SentDm
from ..mixitup import SharedGroups, shared_groups
from .links import join_link_for
from .posting import (
    Kept,
    SlackServiceError,
    failure,
    keep_posted,
    local_time_text,
    require_channel,
    require_slack,
)

log = logging.getLogger(__name__)

# Failures that say nothing about one student: stop, and let the next run carry on.
_STOPPING = (SlackRateLimited, SlackServerError, SlackAuthError, SlackMissingScope)


@dataclass(frozen=True)
class Announcement:
    """What announcing did: the channel message, who was messaged now, and who must be told by hand."""

    week: int
    channel: str
    channel_message: Kept
    messaged: tuple[str, ...]  # names, in group order
    already_told: int
    not_on_slack: tuple[str, ...]
    unconfirmed: tuple[str, ...]  # Slack did not answer: the DM may not have arrived


@dataclass
class _Plan:
    """A student to message: their group, what their DM says, who they are on Slack."""

    student: Student
    group: FormedGroup
    link: str | None
    digest: str
    previous: SentDm | None
    slack_user_id: str | None = None


def announce(runtime: Runtime, week: int) -> Announcement:
    """Post (or bring up to date) week `week`'s groups in `[slack] channel` and DM each student whose
    group is new to them. Raises SlackServiceError (what was sent stays recorded) or NotFoundError."""
    require_slack(runtime, "announce the groups")
    channel = require_channel(runtime.calendar.slack.channel, "[slack] channel", "announce the groups")
    shared = shared_groups(runtime, week)
    session = runtime.storage.session(mix_it_up_key(shared.date))
    if session is None or not session.join_url:
        raise SlackServiceError(
            f"week {week}'s Mix It Up meeting is not synced yet, so there is no link to send: "
            f"run homeroom mixitup sync --week {week} first"
        )
    plans, already_told = _plans(runtime, shared, session)
    try:
        for plan in plans:
            plan.slack_user_id = (
                plan.previous.slack_user_id if plan.previous else _slack_user(runtime, plan.student)
            )
    except SlackError as error:
        raise failure(error, "look the students up on Slack (nothing was posted)") from None
    missing = sorted((plan.student.name for plan in plans if plan.slack_user_id is None), key=str.casefold)
    kept = _post_groups(runtime, shared, session, channel, missing)
    messaged, unconfirmed, unreachable = _send_all(
        runtime, shared, session, [p for p in plans if p.slack_user_id]
    )
    if unreachable:
        missing = sorted([*missing, *unreachable], key=str.casefold)
        again = _post_groups(runtime, shared, session, channel, missing)
        kept = again if kept == "unchanged" else kept
    log.info(
        "Mix It Up week %s announced: channel message %s, %d DMs, %d not on Slack",
        week,
        kept,
        len(messaged),
        len(missing),
    )
    return Announcement(
        week, channel, kept, tuple(messaged), already_told, tuple(missing), tuple(unconfirmed)
    )


def _plans(runtime: Runtime, shared: SharedGroups, session: SessionRecord) -> tuple[list[_Plan], int]:
    """The students whose DM would say something new, and how many were told already."""
    storage = runtime.storage
    students = {student.id: student for student in storage.students(active_only=False)}
    told = storage.sent_dms(shared.date)
    plans, already = [], 0
    for group in shared.formation.groups:
        for student_id in group.members:
            link = join_link_for(runtime, session, student_id)
            digest = _dm_digest(group, link)
            previous = told.get(student_id)
            if previous is not None and previous.content_hash == digest:
                already += 1
                continue
            plans.append(_Plan(students[student_id], group, link, digest, previous))
    return plans, already


def _dm_digest(group: FormedGroup, link: str | None) -> str:
    """What makes a student's DM out of date: their group's number or topic, or their link."""
    data = json.dumps([group.number, group.topic, link])
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _slack_user(runtime: Runtime, student: Student) -> str | None:
    """The student's Slack user: by their roster email, else by an alias email."""
    emails = [student.email, *(alias for alias in student.aliases if "@" in alias)]
    for email in emails:
        user_id = runtime.slack.lookup_user_by_email(email)
        if user_id is not None:
            return user_id
    return None


def _post_groups(
    runtime: Runtime, shared: SharedGroups, session: SessionRecord, channel: str, missing: list[str]
) -> Kept:
    groups = [
        Group(group.number, group.topic, sorted((m.name for m in shared.members_of(group)), key=str.casefold))
        for group in shared.formation.groups
    ]
    message = groups_message(
        shared.date, shared.week, groups, join_url=join_link_for(runtime, session, None), unknown=missing
    )
    try:
        return keep_posted(runtime, "groups", shared.date.isoformat(), channel, message, now=runtime.now())
    except SlackError as error:
        raise failure(error, f"post week {shared.week}'s groups to the channel (no DM was sent)") from None


def _send_all(
    runtime: Runtime, shared: SharedGroups, session: SessionRecord, plans: list[_Plan]
) -> tuple[list[str], list[str], list[str]]:
    """DM each planned student, recording each DM as it goes; (messaged, unconfirmed, unreachable)."""
    messaged: list[str] = []
    unconfirmed: list[str] = []
    unreachable: list[str] = []
    when = local_time_text(session.start, runtime)
    for plan in plans:
        others = sorted(
            (m.name for m in shared.members_of(plan.group) if m.email != plan.student.email), key=str.casefold
        )
        message = group_dm_message(
            shared.date,
            shared.week,
            Group(plan.group.number, plan.group.topic, others),
            when=when,
            join_url=plan.link,
            changed=plan.previous is not None,
        )
        try:
            outcome = _deliver(runtime, shared, plan, message)
        except (SlackConnectionError, *_STOPPING) as error:
            raise _stopped(error, messaged, plans) from None
        if outcome == "sent":
            messaged.append(plan.student.name)
        elif outcome == "unconfirmed":
            unconfirmed.append(plan.student.name)
        else:
            unreachable.append(plan.student.name)
    return messaged, unconfirmed, unreachable


def _deliver(runtime: Runtime, shared: SharedGroups, plan: _Plan, message: Message) -> str:
    """Send one DM and record it: "sent", "unconfirmed" (recorded too, so never sent twice) or
    "unreachable" (this student cannot be messaged). Raises the failures that are not the student's."""
    try:
        channel = _dm_channel(runtime, plan)
        try:
            posted = runtime.slack.post_message(channel, message.text, message.blocks)
        except SlackConnectionError as error:
            if not error.unanswered:
                raise
            _record(runtime, shared, plan, channel, None)
            return "unconfirmed"
    except (SlackConnectionError, *_STOPPING):
        raise
    except SlackAPIError as error:
        log.warning("Mix It Up DM to student %s not possible: %s", plan.student.id, error)
        return "unreachable"
    _record(runtime, shared, plan, posted.channel, posted.ts)
    return "sent"


def _dm_channel(runtime: Runtime, plan: _Plan) -> str:
    """The DM channel: the one used before for this Slack user, else opened (conversations.open)."""
    if plan.previous is not None and plan.previous.slack_user_id == plan.slack_user_id:
        return plan.previous.channel
    return runtime.slack.open_dm(plan.slack_user_id or "")


def _record(runtime: Runtime, shared: SharedGroups, plan: _Plan, channel: str, ts: str | None) -> None:
    dm = SentDm(plan.student.id, plan.slack_user_id or "", channel, ts, plan.group.number, plan.digest)
    runtime.storage.save_dm(shared.date, dm, now=runtime.now())


def _stopped(error: SlackError, messaged: list[str], plans: list[_Plan]) -> SlackServiceError:
    return failure(
        error,
        f"send every DM: {len(messaged)} of {len(plans)} sent (recorded: running announce again sends "
        "the rest, and nobody twice)",
    )
