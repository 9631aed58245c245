"""The Mix It Up poll in Slack: posted to the channel, students' picks taken from `POST /slack/interactions`,
closed with the counts per topic.

A pick is stored the moment it arrives (`receive_pick`, before Slack gets its 200) and applied right
after (`process_picks`): who the Slack user is (the email of `users.info`, cached by the client) may
take a call to Slack, which must not hold up the answer Slack waits three seconds for. A pick counts
when it *arrived* before the poll closed, however late it is applied. Each pick replaces one rank of
that student's answers, whatever their source (the CSV import feeds the same answers), and the student
is told privately what is saved now, through the click's `response_url`.

The poll message is never edited while it is open: an edit clears every student's menus. Closing edits
it once, to the results.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ...core.models import PlannedSession
from ...core.planning import forming_at, poll_closes_at
from ...core.poll import check_topics
from ...runtime import Runtime
from ...slack import (
    PollPick,
    SlackAuthError,
    SlackError,
    SlackMissingScope,
    SlackPayloadError,
    SlackUserNotFound,
)
from ...slack.blocks import (
    Message,
    MessageError,
    closed_poll_message,
    notice_message,
    picks_message,
    poll_message,
)
from ...storage.slack import PendingPick, SlackPoll
from ..mixitup import week_date, week_session
from .posting import (
    SlackServiceError,
    content_hash,
    failure,
    local_moment_text,
    require_channel,
    require_slack,
)

log = logging.getLogger(__name__)

RANKS = 3  # first, second and third choice
# A click's response_url works for 30 minutes (docs.slack.dev/interactivity/handling-user-interaction);
# a pick whose sender cannot be looked up for that long is given up, with a reply while one is possible.
GIVE_UP_AFTER = dt.timedelta(minutes=25)
ORDINALS = ("1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th")

# One processing run at a time in a process: the web request that stored a pick and a command closing the
# poll take turns, so whoever returns has seen every pick stored before it started applied and answered.
_processing = threading.Lock()


@dataclass(frozen=True)
class PollPosted:
    """A poll just posted: where, with which topics, when the scheduler will close it."""

    week: int
    channel: str
    ts: str
    topics: tuple[str, ...]
    closes: dt.datetime | None
    reopened: bool


@dataclass(frozen=True)
class PollClosed:
    """A closed poll's results: students who answered in Slack, and picks per topic by rank."""

    week: int
    respondents: int
    counts: dict[str, tuple[int, ...]]
    already_closed: bool


# -- opening --------------------------------------------------------------------------------------


def open_poll(runtime: Runtime, week: int, topics: Sequence[str] | None = None) -> PollPosted:
    """Post week `week`'s poll to `[slack] channel` with `topics` (default: `[mix_it_up] topics`).

    A poll that was closed is posted again (reopened); its picks so far stay. Raises SlackServiceError.
    """
    require_slack(runtime, "post the poll")
    calendar, storage = runtime.calendar, runtime.storage
    channel = require_channel(calendar.slack.channel, "[slack] channel", "post the poll")
    day = week_date(calendar, week)
    chosen = _topics(topics if topics is not None else calendar.mix_it_up.topics, week)
    existing = storage.slack_poll(day)
    if existing is not None and existing.is_open:
        raise SlackServiceError(
            f"week {week}'s poll is already open in Slack (posted {local_moment_text(existing.opened_at, runtime)}); "
            f"close it first: homeroom mixitup poll close --week {week}"
        )
    closes = next_close(runtime, week_session(runtime, week))
    try:
        message = poll_message(
            day, week, chosen, ranks=RANKS, closes=local_moment_text(closes, runtime) if closes else None
        )
    except MessageError as error:
        raise SlackServiceError(f"week {week}'s poll cannot be posted: {error}") from None
    try:
        posted = runtime.slack.post_message(channel, message.text, message.blocks)
    except SlackError as error:
        raise failure(error, f"post week {week}'s poll") from None
    ranks = min(RANKS, len(chosen))
    storage.save_slack_poll(
        day, week, channel=posted.channel, ts=posted.ts, topics=chosen, ranks=ranks, now=runtime.now()
    )
    log.info("Mix It Up week %s: poll posted to %s (%s)", week, posted.channel, posted.ts)
    return PollPosted(week, posted.channel, posted.ts, chosen, closes, reopened=existing is not None)


def _topics(raw: Sequence[str], week: int) -> tuple[str, ...]:
    if not raw:
        raise SlackServiceError(
            f"week {week}'s poll has no topics: set [mix_it_up] topics in the calendar or pass --topics"
        )
    topics, problems = check_topics(list(raw))
    if problems:
        raise SlackServiceError([f"--topics: {problem}" for problem in problems])
    return topics


def next_close(runtime: Runtime, session: PlannedSession) -> dt.datetime | None:
    """When the scheduler will close the poll: at its close time, else (opened later) when it forms the
    groups at a sync; None when every one of those has passed."""
    calendar = runtime.calendar
    syncs = [session.start - dt.timedelta(minutes=m) for m in calendar.scheduler.sync_before_minutes]
    moments = [poll_closes_at(calendar, session), forming_at(calendar, session), *syncs]
    return min((moment for moment in moments if moment > runtime.now()), default=None)


# -- picks ----------------------------------------------------------------------------------------


def receive_pick(runtime: Runtime, pick: PollPick) -> None:
    """Store a verified pick durably (Slack's 200 follows); `process_picks` applies it."""
    runtime.storage.add_slack_pick(
        received_at=runtime.now(),
        user_id=pick.user_id,
        team_id=pick.team_id,
        miu_date=pick.poll_date,
        week=pick.week,
        rank=pick.rank,
        topic=pick.topic,
        channel=pick.channel_id,
        message_ts=pick.message_ts,
        response_url=pick.response_url,
    )


@dataclass(frozen=True)
class _Reply:
    response_url: str
    message: Message


_LOOKUP_FAILED = object()  # Slack could not say who a user is just now: their picks wait


def process_picks(runtime: Runtime) -> int:
    """Apply every stored pick in the order they arrived and answer each privately; returns how many.

    A pick whose sender Slack cannot name just now (rate limit, outage) stays for the next run.
    """
    with _processing:
        done, seen = 0, 0
        while True:
            pending = [pick for pick in runtime.storage.pending_slack_picks() if pick.id > seen]
            if not pending:
                return done
            seen = pending[-1].id
            emails = _emails(runtime, {pick.user_id for pick in pending})
            replies = _apply(runtime, pending, emails)
            for reply in replies:
                _send(runtime, reply)
            done += len(replies)


def _emails(runtime: Runtime, user_ids: set[str]) -> dict[str, str | None | object]:
    """Each user's profile email (None: none, or no such user), or _LOOKUP_FAILED."""
    emails: dict[str, str | None | object] = {}
    for user_id in sorted(user_ids):
        try:
            emails[user_id] = runtime.slack.user_email(user_id)
        except SlackUserNotFound:
            emails[user_id] = None
        except (SlackMissingScope, SlackAuthError) as error:
            log.error("Slack poll: cannot read who %s is: %s", user_id, error)
            emails[user_id] = error
        except SlackError as error:
            log.warning("Slack poll: who %s is must wait: %s", user_id, error)
            emails[user_id] = _LOOKUP_FAILED
    return emails


def _apply(
    runtime: Runtime, picks: list[PendingPick], emails: dict[str, str | None | object]
) -> list[_Reply]:
    """Apply the picks in one transaction (another worker's run skips those done); the replies to send."""
    storage, now = runtime.storage, runtime.now()
    replies: list[_Reply] = []
    with storage.write():
        for pick in picks:
            email = emails.get(pick.user_id, _LOOKUP_FAILED)
            if email is _LOOKUP_FAILED and now - pick.received_at < GIVE_UP_AFTER:
                continue
            if not storage.slack_pick_pending(pick.id):
                continue
            outcome, message = _outcome(runtime, pick, email, now)
            storage.mark_slack_pick(pick.id, outcome, now=now)
            log.info("Slack poll pick %s (week %s, rank %s): %s", pick.id, pick.week, pick.rank, outcome)
            if pick.response_url:
                replies.append(_Reply(pick.response_url, message))
    return replies


def _outcome(runtime: Runtime, pick: PendingPick, email: object, now: dt.datetime) -> tuple[str, Message]:
    storage = runtime.storage
    poll = storage.slack_poll(pick.miu_date)
    if poll is None or (poll.channel, poll.ts) != (pick.channel, pick.message_ts) or pick.rank > poll.ranks:
        return "unknown_poll", notice_message(
            "This poll is no longer in use, so your pick was not saved: please use the latest Mix It Up "
            "poll in the channel."
        )
    if poll.closed_at is not None and pick.received_at > poll.closed_at:
        return "closed", notice_message(
            f"The Mix It Up poll for week {poll.week} closed {local_moment_text(poll.closed_at, runtime)}, "
            "so this pick was not saved. Your earlier picks stand; ask the career team if something must change."
        )
    if pick.topic is not None and pick.topic not in poll.topics:
        return "unknown_topic", notice_message(
            "That topic is not one of this poll's, so it was not saved: please pick again from the menu."
        )
    if email is _LOOKUP_FAILED or isinstance(email, SlackError):
        return "failed", notice_message(
            "Your pick could not be saved: Homeroom could not see who you are on Slack just now. "
            "Please pick again in a few minutes; if it keeps failing, tell the career team."
        )
    student = storage.active_student_with_email(email) if isinstance(email, str) else None
    if student is None:
        shown = f"your Slack email ({email})" if isinstance(email, str) else "an email on your Slack profile"
        return "not_student", notice_message(
            f"Your pick was not saved: the Mix It Up poll is for Homeroom students, and the roster has no "
            f"student with {shown}. If you are a student, ask the career team to add that email to your "
            "roster entry."
        )
    before = storage.student_picks(pick.miu_date, student.id)
    storage.save_slack_pick(pick.miu_date, pick.week, student.id, pick.rank, pick.topic, now=now)
    after = storage.student_picks(pick.miu_date, student.id)
    return "saved", picks_message(pick.week, after, note=_moved(before, pick))


def _moved(before: dict[int, str], pick: PendingPick) -> str | None:
    """A note when the picked topic was another of the student's choices: it moved."""
    earlier = next(
        (rank for rank, topic in before.items() if topic == pick.topic and rank != pick.rank), None
    )
    if earlier is None:
        return None
    return f"{pick.topic} was your {ORDINALS[earlier - 1]} choice; it is now your {ORDINALS[pick.rank - 1]}."


def _send(runtime: Runtime, reply: _Reply) -> None:
    try:
        runtime.slack.reply(reply.response_url, reply.message.text, reply.message.blocks)
    except (SlackError, SlackPayloadError) as error:
        # The pick is saved (or refused) either way; the student sees their menus, only not this note.
        log.warning("Slack poll: the private reply was not delivered: %s", error)


# -- closing --------------------------------------------------------------------------------------


def close_poll(runtime: Runtime, week: int) -> PollClosed:
    """Close week `week`'s poll: picks arriving from now on are refused; the message shows the results.

    Closing again only brings the message up to date (after a failed edit). Raises SlackServiceError.
    """
    require_slack(runtime, "close the poll")
    storage = runtime.storage
    day = week_date(runtime.calendar, week)
    poll = storage.slack_poll(day)
    if poll is None:
        raise SlackServiceError(
            f"week {week} has no Slack poll to close (post one with homeroom mixitup poll open --week {week})"
        )
    storage.close_slack_poll(day, now=runtime.now())
    process_picks(runtime)  # those that arrived before the close count
    result = _results(runtime, poll, already_closed=not poll.is_open)
    message = closed_poll_message(day, week, result.counts, respondents=result.respondents)
    digest = content_hash(message)
    if poll.closed_hash != digest:
        try:
            runtime.slack.update_message(poll.channel, poll.ts, message.text, message.blocks)
        except SlackError as error:
            raise failure(
                error,
                "show the results in the poll message (the poll is closed all the same; run this again)",
            ) from None
        storage.note_closed_message(day, digest)
    log.info("Mix It Up week %s: poll closed, %s students answered in Slack", week, result.respondents)
    return result


def close_open_poll(runtime: Runtime, week: int) -> PollClosed | None:
    """Close the week's poll if one is open (the scheduler's step before forming); None otherwise."""
    if not runtime.slack_enabled:
        return None
    poll = runtime.storage.slack_poll(week_date(runtime.calendar, week))
    if poll is None or not poll.is_open:
        return None
    return close_poll(runtime, week)


def _results(runtime: Runtime, poll: SlackPoll, *, already_closed: bool) -> PollClosed:
    storage = runtime.storage
    tally = storage.poll_tally(poll.miu_date, source="slack")
    counts = {
        topic: tuple(tally.get(topic, {}).get(rank, 0) for rank in range(1, poll.ranks + 1))
        for topic in poll.topics
    }
    respondents = storage.poll_respondents(poll.miu_date).get("slack", 0)
    return PollClosed(poll.week, respondents, counts, already_closed)
