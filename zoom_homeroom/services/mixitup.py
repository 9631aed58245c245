"""Mix It Up: poll import, group formation, the week's meeting and sharing the groups (the poll in Slack and
the announcement there: `services.slack`).

A week's Mix It Up is keyed by its date (the calendar's week W Wednesday), so each cycle's week 2
is its own. Forming again replaces the week's groups.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, fields
from itertools import combinations
from typing import Any

from ..core.formation import Formation, FormationError, form_groups
from ..core.meetings import MixItUpRoom, mix_it_up_meeting_spec
from ..core.models import MIX_IT_UP, Calendar, FormedGroup, PlannedSession, StoredFormation, mix_it_up_key
from ..core.planning import PlanningError, mix_it_up_date, plan_sessions
from ..core.poll import PollAnswer, parse_poll
from ..errors import HomeroomError, NotFoundError
from ..runtime import Runtime
from ..storage import Storage
from .exports import csv_text
from .sync import SyncResult, sync_meeting

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT_SECONDS = 10.0


class MixItUpError(HomeroomError):
    """A Mix It Up request cannot be carried out; the message says why and what to do."""


def week_date(calendar: Calendar, week: int) -> dt.date:
    """The local date of week `week`'s Mix It Up; NotFoundError for a week without one."""
    try:
        return mix_it_up_date(calendar, week)
    except PlanningError as error:
        raise NotFoundError(str(error)) from None


def week_session(runtime: Runtime, week: int) -> PlannedSession:
    day = week_date(runtime.calendar, week)
    return next(s for s in plan_sessions(runtime.calendar, kinds=(MIX_IT_UP,)) if s.date == day)


# -- poll ---------------------------------------------------------------------------------------------


def import_poll(runtime: Runtime, data: bytes, *, filename: str, week: int) -> list[PollAnswer]:
    """Validate and store a poll export for week `week`, replacing that week's answers.

    Raises PollError (every problem, with line numbers) or MixItUpError; nothing is stored then.
    """
    day = week_date(runtime.calendar, week)
    students = {student.email: student.id for student in runtime.storage.students()}
    answers = parse_poll(data, filename=filename, students=students)
    runtime.storage.replace_poll_answers(day, week, ((a.student_id, a.topic, a.rank) for a in answers))
    return answers


# -- formation ----------------------------------------------------------------------------------------


def default_seed(day: dt.date) -> int:
    """The seed used when none is given: the date, so re-forming a week gives the same groups."""
    return int(day.strftime("%Y%m%d"))


def form(
    runtime: Runtime,
    week: int,
    *,
    seed: int | None = None,
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS,
) -> tuple[Formation, int]:
    """Form and store week `week`'s groups from every active student; returns them and the seed."""
    day = week_date(runtime.calendar, week)
    seed = default_seed(day) if seed is None else seed
    mix = runtime.calendar.mix_it_up
    students = runtime.storage.students()
    if not students:
        raise MixItUpError("there are no active students: import the roster first")
    _require_an_upper_module(runtime.calendar, week)
    try:
        formation = form_groups(
            students,
            runtime.storage.poll_answers(day),
            group_size=mix.group_size,
            upper_modules=mix.upper_modules,
            previous_pairs=previous_pairs(runtime, week),
            seed=seed,
            time_limit_seconds=time_limit_seconds,
        )
    except FormationError as error:
        raise MixItUpError(f"week {week}: {error}") from None
    runtime.storage.save_formation(
        day,
        week,
        seed=seed,
        quality=formation.quality.as_dict(),
        groups=formation.groups,
        now=runtime.now(),
    )
    return formation, seed


def _require_an_upper_module(calendar: Calendar, week: int) -> None:
    """MixItUpError when the calendar has none of the upper modules every group needs a student of."""
    upper = calendar.mix_it_up.upper_modules
    if any(number in calendar.module_numbers for number in upper):
        return
    raise MixItUpError(
        f"week {week}: every Mix It Up group needs an upper-module student, and none of the upper modules "
        f"(mix_it_up.upper_modules: {', '.join(map(str, upper))}) is in the calendar's [[modules]] "
        f"({', '.join(map(str, calendar.module_numbers))}): add an upper module to the calendar, "
        "or list one of its modules in mix_it_up.upper_modules"
    )


def previous_pairs(runtime: Runtime, week: int) -> set[frozenset[int]]:
    """Pairs who already met in this cycle's earlier Mix It Up weeks (week 2's groups, for week 4)."""
    pairs: set[frozenset[int]] = set()
    for earlier in runtime.calendar.mix_it_up.weeks:
        if earlier >= week:
            continue
        formation = runtime.storage.formation(week_date(runtime.calendar, earlier))
        for group in formation.groups if formation else ():
            pairs.update(frozenset(pair) for pair in combinations(group.members, 2))
    return pairs


def ensure_formed(runtime: Runtime, week: int) -> str | None:
    """Form the week's groups unless they exist; returns what happened, or None."""
    if runtime.storage.formation(week_date(runtime.calendar, week)) is not None:
        return None
    formation, seed = form(runtime, week)
    return f"formed {len(formation.groups)} groups (seed {seed})"


def formed_groups(storage: Storage, calendar: Calendar, week: int) -> StoredFormation:
    """The week's stored groups; NotFoundError (saying how to form them) until they are formed."""
    formation = storage.formation(week_date(calendar, week))
    if formation is None:
        raise NotFoundError(
            f"week {week}'s groups are not formed yet: run `homeroom mixitup form --week {week}`"
        )
    return formation


# -- meeting ------------------------------------------------------------------------------------------


def sync_week(runtime: Runtime, week: int, *, dry_run: bool = False) -> SyncResult:
    """Create or update the week's Mix It Up meeting with one room per group (same rules as homeroom;
    with registration on, the groups' members are its registrants)."""
    day = week_date(runtime.calendar, week)
    formation = formed_groups(runtime.storage, runtime.calendar, week)
    students = {student.id: student for student in runtime.storage.students(active_only=False)}
    rooms = [
        MixItUpRoom(group.number, group.topic, [students[s].email for s in group.members])
        for group in formation.groups
    ]
    spec = mix_it_up_meeting_spec(runtime.calendar, day, week, rooms)
    session = week_session(runtime, week)
    members = [(student_id, group.number) for group in formation.groups for student_id in group.members]
    return sync_meeting(
        runtime,
        spec,
        [session],
        {session.key: members},
        label=f"Mix It Up week {week}",
        students=[students[student_id] for student_id, _ in members],
        dry_run=dry_run,
    )


# -- sharing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedMember:
    """One member of a week's group, as the page, the CSV and the Slack message show them."""

    group: int
    topic: str
    name: str
    email: str
    module: int
    program: str


SHARE_FIELDS = tuple(field.name for field in fields(SharedMember))


@dataclass(frozen=True)
class SharedGroups:
    """A week's formed groups, their members' details and the meeting's join link."""

    week: int
    date: dt.date
    join_url: str | None
    formation: StoredFormation
    members: tuple[SharedMember, ...]  # by group

    def members_of(self, group: FormedGroup) -> list[SharedMember]:
        return [member for member in self.members if member.group == group.number]

    def rows(self) -> list[dict[str, Any]]:
        """One dict of SHARE_FIELDS per member, for CSV and tables."""
        return [asdict(member) for member in self.members]


def shared_groups(runtime: Runtime, week: int) -> SharedGroups:
    """The week's formed groups with each member's details and the meeting's join link."""
    storage = runtime.storage
    day = week_date(runtime.calendar, week)
    formation = formed_groups(storage, runtime.calendar, week)
    students = {student.id: student for student in storage.students(active_only=False)}
    members = tuple(
        SharedMember(group.number, group.topic, student.name, student.email, student.module, student.program)
        for group in formation.groups
        for student in (students[s] for s in group.members)
    )
    meeting = storage.meeting(mix_it_up_key(day))
    return SharedGroups(week, day, meeting.join_url if meeting else None, formation, members)


def share_csv(shared: SharedGroups) -> str:
    return csv_text(shared.rows(), SHARE_FIELDS)


def share_markdown(shared: SharedGroups) -> str:
    """The week's groups as Markdown (Slack's mrkdwn renders it), ready to paste."""
    lines = [f"*Mix It Up, week {shared.week} ({shared.date:%A %B} {shared.date.day})*"]
    if shared.join_url:
        lines.append(f"Join: {shared.join_url}")
    lines.append("Your breakout room is assigned when you join with your school email.")
    for group in shared.formation.groups:
        people = ", ".join(
            f"{_slack_text(m.name)} (Mod {m.module} {_slack_text(m.program)})"
            for m in shared.members_of(group)
        )
        lines.append(f"• *{group.number} · {_slack_text(group.topic)}*: {people}")
    return "\n".join(lines) + "\n"


def _slack_text(text: str) -> str:
    """Escape Slack's control characters so a name cannot ping a channel or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
