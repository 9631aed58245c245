"""What each Zoom meeting should look like, and how a meeting in Zoom differs from that.

`homeroom_meeting_spec` and `mix_it_up_meeting_spec` build the JSON body for
`POST /users/{host}/meetings`. `diff_meeting` compares a desired spec with Zoom's `GET /meetings/{id}`
(or with the stored body Zoom last accepted) on the fields we own only: topic, agenda (when we set one),
schedule, breakout rooms and registration. Zoom answers with `start_time` in UTC, may add settings, reorder
participants and lower-case emails, so both sides are normalised before comparing. `patch_body` turns
the differences into the smallest PATCH body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from .calendar import session_date
from .matching import normalise_email
from .models import (
    HOMEROOM,
    MIX_IT_UP,
    Calendar,
    PlannedSession,
    SessionKind,
    Student,
    homeroom_key,
    mix_it_up_key,
)
from .planning import PlanningError, local_to_utc, mix_it_up_date, plan_sessions, zoom_weekday
from .times import parse_utc_text

SCHEDULED = 2  # Zoom meeting type: one scheduled meeting
RECURRING_FIXED_TIME = 8  # Zoom meeting type: recurring with a fixed time
WEEKLY = 2  # Zoom recurrence type

# Neither Zoom's spec nor its docs state a limit on breakout room names; we keep names short so a long
# discussion topic can neither be refused nor fill the host's room list.
ROOM_NAME_MAX_CHARS = 50
ROOM_NAME_SEPARATOR = " · "

# What a school wants for these meetings, set when a meeting is created (never compared or patched):
# students may come in 5 minutes early without the host (join before host needs the waiting room off),
# and people arrive muted so a late joiner does not interrupt.
MEETING_SETTINGS: dict[str, Any] = {
    "join_before_host": True,
    "jbh_time": 5,
    "waiting_room": False,
    "mute_upon_entry": True,
}
# Registration (`[sessions] registration`), compared and patched like the rooms. Zoom's spec:
# `approval_type` 0 automatic approval, 2 no registration; `registration_type` 1 "attendees register
# once and can attend any meeting occurrence", only for recurring meetings with a fixed time (type 8).
AUTOMATIC_APPROVAL, NO_REGISTRATION = 0, 2
REGISTER_ONCE = 1

DifferenceField = Literal["topic", "agenda", "schedule", "rooms", "registration"]
_SCHEDULE_KEYS = ("type", "start_time", "timezone", "duration", "recurrence")
_RECURRENCE_KEYS = ("type", "repeat_interval", "weekly_days", "end_times")
_SUMMARY_ROOM_LINES = 10  # a summary is one line; describe_room_changes gives them all


@dataclass(frozen=True)
class ZoomLimits:
    """Zoom's documented limits for the meetings we create."""

    breakout_rooms: int = 100
    preassigned_participants: int = 1000
    topic_chars: int = 200
    agenda_chars: int = 2000
    # The spec allows recurrence.end_times up to 60, but a weekly series holds at most 50 occurrences.
    occurrences: int = 50


ZOOM_LIMITS = ZoomLimits()


class MeetingLimitError(PlanningError):
    """A meeting would exceed one or more of Zoom's limits; `.problems` has one line each."""


class MixItUpRoom(NamedTuple):
    """One Mix It Up group as its meeting needs it: the room's number and topic, and the emails Zoom
    pre-assigns to it (Zoom knows a participant by email, not by our student id)."""

    number: int
    topic: str
    emails: Sequence[str]


@dataclass(frozen=True)
class Occurrence:
    """One week of a recurring series; `skipped` ones exist in Zoom only to be deleted."""

    date: dt.date
    week: int
    start_utc: dt.datetime
    skipped: bool


@dataclass(frozen=True)
class MeetingSpec:
    """A meeting as we want it in Zoom. `body` is the POST body; treat it as read-only."""

    key: str
    kind: SessionKind
    module: int | None
    host: str
    body: dict[str, Any]
    occurrences: tuple[Occurrence, ...] = ()


@dataclass(frozen=True)
class Difference:
    """One owned field that differs from Zoom, with a line a person can read."""

    field: DifferenceField
    summary: str


def homeroom_meeting_spec(
    calendar: Calendar, module: int, students: Sequence[Student], *, agenda: str | None
) -> MeetingSpec:
    """The module's recurring homeroom series, one breakout room per group of its active students.

    The series runs weekly from the first to the last planned week; configured-out weeks and skip dates
    inside that span are occurrences marked `skipped`. Raises PlanningError for an unknown module or a
    module with no planned week, MeetingLimitError past Zoom's limits.
    """
    planned = plan_sessions(calendar, module=module, kinds=(HOMEROOM,))
    if not planned:
        raise PlanningError(f"module {module} has no homeroom sessions to schedule (every week is skipped)")
    config = calendar.module(module)
    occurrences = _weekly_occurrences(calendar, config.week1_monday, planned)
    topic = f"Homeroom: Mod {module}"
    rooms = _homeroom_rooms(module, students)
    body: dict[str, Any] = {
        "topic": topic,
        "type": RECURRING_FIXED_TIME,
        "start_time": _local_text(planned[0].date, calendar.sessions.start),
        "timezone": calendar.timezone.key,
        "duration": calendar.sessions.duration_minutes,
        "recurrence": {
            "type": WEEKLY,
            "repeat_interval": 1,
            "weekly_days": str(zoom_weekday(calendar.sessions.weekday)),
            "end_times": len(occurrences),
        },
        "settings": {
            **MEETING_SETTINGS,
            **registration_settings(calendar.sessions.registration, recurring=True),
            "breakout_room": _breakout_room(rooms),
        },
    }
    _add_agenda(body, agenda)
    check_zoom_limits(body, occurrences=len(occurrences))
    return MeetingSpec(
        key=homeroom_key(module, config.week1_monday),
        kind=HOMEROOM,
        module=module,
        host=config.host,
        body=body,
        occurrences=occurrences,
    )


def mix_it_up_meeting_spec(
    calendar: Calendar,
    date: dt.date,
    week: int,
    groups: Sequence[MixItUpRoom],
    *,
    agenda: str | None = None,
) -> MeetingSpec:
    """The week's Mix It Up meeting: one room per group, named "<n> · <topic>".

    Raises PlanningError when `date` is not week `week`'s Mix It Up date or groups repeat a number or
    an email, MeetingLimitError past Zoom's limits.
    """
    expected = mix_it_up_date(calendar, week)
    if date != expected:
        raise PlanningError(
            f"{date.isoformat()} is not the Mix It Up date of week {week} ({expected.isoformat()})"
        )
    _check_groups(groups)
    mix = calendar.mix_it_up
    rooms = [
        (room_name(group.number, group.topic), _emails(group.emails))
        for group in sorted(groups, key=lambda group: group.number)
    ]
    body: dict[str, Any] = {
        "topic": f"Mix It Up: week {week} ({date.isoformat()})",
        "type": SCHEDULED,
        "start_time": _local_text(date, mix.start),
        "timezone": calendar.timezone.key,
        "duration": mix.duration_minutes,
        "settings": {
            **MEETING_SETTINGS,
            **registration_settings(calendar.sessions.registration, recurring=False),
            "breakout_room": _breakout_room(rooms),
        },
    }
    _add_agenda(body, agenda)
    check_zoom_limits(body)
    return MeetingSpec(key=mix_it_up_key(date), kind=MIX_IT_UP, module=None, host=mix.host, body=body)


def registration_settings(registration: bool, *, recurring: bool) -> dict[str, int]:
    """The `settings` fields that switch registration on (automatic approval) or off."""
    if not registration:
        return {"approval_type": NO_REGISTRATION}
    settings = {"approval_type": AUTOMATIC_APPROVAL}
    if recurring:
        settings["registration_type"] = REGISTER_ONCE
    return settings


def requires_registration(meeting: Mapping[str, Any]) -> bool:
    """Whether a meeting (Zoom's GET, or a spec's body) makes participants register."""
    return _approval_type(meeting) != NO_REGISTRATION


def room_name(number: int, topic: str) -> str:
    """`"3 · Mock interviews"`, the topic cut with an ellipsis to fit ROOM_NAME_MAX_CHARS."""
    prefix = f"{number}{ROOM_NAME_SEPARATOR}"
    topic = " ".join(topic.split())
    if not topic:
        return f"Room {number}"
    space = max(ROOM_NAME_MAX_CHARS - len(prefix), 1)
    if len(topic) > space:
        topic = topic[: space - 1].rstrip() + "…"
    return prefix + topic


def agenda_for_week(prompts: Mapping[int, str], week: int) -> str | None:
    """The week's discussion prompt, trimmed; None when there is none or it is blank."""
    prompt = (prompts.get(week) or "").strip()
    return prompt or None


def diff_meeting(desired: MeetingSpec, current: Mapping[str, Any]) -> list[Difference]:
    """The owned fields where `current` (Zoom's GET, or a stored body) differs from `desired`.

    The agenda is compared only when the spec sets one. A recurring series matches when Zoom's
    `start_time` is any of the series' occurrences, because Zoom may report the next one.
    """
    want = desired.body
    differences: list[Difference] = []
    if _text(want.get("topic")) != _text(current.get("topic")):
        differences.append(
            Difference("topic", f"topic: {want.get('topic')!r} (Zoom has {current.get('topic')!r})")
        )
    if "agenda" in want and _text(want["agenda"]) != _text(current.get("agenda")):
        differences.append(
            Difference(
                "agenda",
                f"agenda: the week's prompt ({len(_text(want['agenda']))} characters) differs from "
                f"Zoom's ({len(_text(current.get('agenda')))} characters)",
            )
        )
    schedule = _schedule_changes(desired, current)
    if schedule:
        differences.append(Difference("schedule", "schedule: " + "; ".join(schedule)))
    rooms = _room_changes(want, current)
    if rooms:
        differences.append(Difference("rooms", "rooms: " + _first_lines(rooms)))
    if _registration(want) != _registration(current):
        differences.append(
            Difference(
                "registration",
                f"registration {_describe_registration(want)} (Zoom has {_describe_registration(current)})",
            )
        )
    return differences


def describe_room_changes(
    old_rooms: Sequence[Mapping[str, Any]], new_rooms: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Readable lines going from `old_rooms` to `new_rooms` (both `[{name, participants}]`).

    Rooms added come first, then each student moved, added or removed (by email), then rooms removed.
    """
    old, new = _room_map(old_rooms), _room_map(new_rooms)
    lines = [f"{name} added" for name in new if name not in old]
    old_of, new_of = _room_of(old), _room_of(new)
    for email in sorted(set(old_of) | set(new_of)):
        before, after = old_of.get(email), new_of.get(email)
        if before == after:
            continue
        if before is None:
            lines.append(f"{email} added to {after}")
        elif after is None:
            lines.append(f"{email} removed from {before}")
        else:
            lines.append(f"{email} moved from {before} to {after}")
    lines.extend(f"{name} removed" for name in old if name not in new)
    return lines


def patch_body(desired: MeetingSpec, differences: Sequence[Difference]) -> dict[str, Any]:
    """The smallest `PATCH /meetings/{id}` body that carries every differing field ({} for none)."""
    want = desired.body
    fields = {difference.field for difference in differences}
    body: dict[str, Any] = {}
    for name in ("topic", "agenda"):
        if name in fields:
            body[name] = want[name]
    if "schedule" in fields:
        # Zoom reads start_time together with timezone, and a series' recurrence with its start.
        body.update({key: want[key] for key in _SCHEDULE_KEYS if key in want})
    if "rooms" in fields:
        body.setdefault("settings", {})["breakout_room"] = want["settings"]["breakout_room"]
    if "registration" in fields:
        body.setdefault("settings", {}).update(_registration(want))
    return body


def occurrences_to_delete(desired: MeetingSpec, current: Mapping[str, Any]) -> list[str]:
    """Zoom occurrence ids (still available) that start on one of the spec's skipped occurrences."""
    skipped = {occurrence.start_utc for occurrence in desired.occurrences if occurrence.skipped}
    ids = []
    for occurrence in current.get("occurrences") or ():
        if occurrence.get("status") == "deleted" or not occurrence.get("start_time"):
            continue
        if parse_utc_text(occurrence["start_time"]) in skipped:
            ids.append(str(occurrence["occurrence_id"]))
    return ids


def stored_spec_differs(desired: MeetingSpec, stored_body: Mapping[str, Any]) -> bool:
    """Whether `desired.body` differs from the body Zoom last accepted (participant order ignored)."""
    return _canonical(desired.body) != _canonical(stored_body)


def check_zoom_limits(body: Mapping[str, Any], *, occurrences: int | None = None) -> None:
    """Raise MeetingLimitError naming the meeting and every Zoom limit `body` would exceed."""
    topic = body["topic"]
    rooms = body["settings"]["breakout_room"]["rooms"]
    participants = sum(len(room["participants"]) for room in rooms)
    problems = []
    if len(topic) > ZOOM_LIMITS.topic_chars:
        problems.append(
            f"{topic[:40]}…: the topic is {len(topic)} characters; Zoom allows {ZOOM_LIMITS.topic_chars}"
        )
    if len(rooms) > ZOOM_LIMITS.breakout_rooms:
        problems.append(
            f"{topic} would have {len(rooms)} breakout rooms; Zoom allows {ZOOM_LIMITS.breakout_rooms} "
            "(use fewer, larger groups)"
        )
    if participants > ZOOM_LIMITS.preassigned_participants:
        problems.append(
            f"{topic} would pre-assign {participants:,} participants to breakout rooms; Zoom allows "
            f"{ZOOM_LIMITS.preassigned_participants:,}"
        )
    agenda = body.get("agenda", "")
    if len(agenda) > ZOOM_LIMITS.agenda_chars:
        problems.append(
            f"{topic}: the agenda is {len(agenda):,} characters; Zoom allows {ZOOM_LIMITS.agenda_chars:,} "
            "(shorten the week's prompt)"
        )
    if occurrences is not None and occurrences > ZOOM_LIMITS.occurrences:
        problems.append(
            f"{topic} would have {occurrences} weekly occurrences; Zoom allows {ZOOM_LIMITS.occurrences} "
            "(shorten sessions.weeks)"
        )
    if problems:
        raise MeetingLimitError(problems)


def _weekly_occurrences(
    calendar: Calendar, week1_monday: dt.date, planned: Sequence[PlannedSession]
) -> tuple[Occurrence, ...]:
    """Every week from the first to the last planned session; the unplanned ones are `skipped`."""
    planned_dates = {session.date for session in planned}
    occurrences = []
    for week in range(planned[0].week, planned[-1].week + 1):
        day = session_date(week1_monday, week, calendar.sessions.weekday)
        start = local_to_utc(day, calendar.sessions.start, calendar.timezone)
        occurrences.append(Occurrence(day, week, start, skipped=day not in planned_dates))
    return tuple(occurrences)


def _homeroom_rooms(module: int, students: Sequence[Student]) -> list[tuple[str, list[str]]]:
    groups: dict[int, list[str]] = {}
    for student in students:
        if student.module == module and student.active:
            groups.setdefault(student.group, []).append(student.email)
    return [(f"Breakout Room {group}", _emails(groups[group])) for group in sorted(groups)]


def _breakout_room(rooms: Sequence[tuple[str, list[str]]]) -> dict[str, Any]:
    return {
        "enable": bool(rooms),
        "rooms": [{"name": name, "participants": participants} for name, participants in rooms],
    }


def _emails(emails: Sequence[str]) -> list[str]:
    return sorted({normalise_email(email) for email in emails if email.strip()})


def _check_groups(groups: Sequence[MixItUpRoom]) -> None:
    seen_numbers: set[int] = set()
    group_of: dict[str, int] = {}
    for group in groups:
        if group.number in seen_numbers:
            raise PlanningError(f"Mix It Up group {group.number} is listed twice")
        seen_numbers.add(group.number)
        for email in _emails(group.emails):
            if email in group_of:
                raise PlanningError(f"{email} is in Mix It Up groups {group_of[email]} and {group.number}")
            group_of[email] = group.number


def _add_agenda(body: dict[str, Any], agenda: str | None) -> None:
    text = (agenda or "").strip()
    if text:
        body["agenda"] = text


def _local_text(day: dt.date, time: dt.time) -> str:
    # Local wall time without Z: Zoom reads it in the body's `timezone`, DST included.
    return dt.datetime.combine(day, time).strftime("%Y-%m-%dT%H:%M:%S")


def _text(value: Any) -> str:
    # Zoom may send CRLF line ends or trailing blanks back; neither is a change we made.
    return "\n".join(line.rstrip() for line in str(value or "").replace("\r\n", "\n").split("\n")).strip()


def _schedule_changes(desired: MeetingSpec, current: Mapping[str, Any]) -> list[str]:
    want = desired.body
    changes = []
    if want.get("type") != current.get("type"):
        changes.append(f"meeting type {want.get('type')} (Zoom has {current.get('type')})")
    if not _start_matches(desired, current):
        changes.append(f"starts {_describe_start(want)} (Zoom has {_describe_start(current)})")
    if want.get("timezone") != current.get("timezone"):
        changes.append(f"time zone {want.get('timezone')} (Zoom has {current.get('timezone')})")
    if want.get("duration") != current.get("duration"):
        changes.append(f"{want.get('duration')} minutes (Zoom has {current.get('duration')})")
    wanted_recurrence = _recurrence(want)
    if wanted_recurrence is not None and wanted_recurrence != _recurrence(current):
        changes.append(
            f"recurrence {_describe_recurrence(wanted_recurrence)} "
            f"(Zoom has {_describe_recurrence(_recurrence(current))})"
        )
    return changes


def _start_matches(desired: MeetingSpec, current: Mapping[str, Any]) -> bool:
    wanted = start_instant(desired.body)
    actual = start_instant(current)
    if actual is None:
        return False
    if actual == wanted:
        return True
    return actual in {occurrence.start_utc for occurrence in desired.occurrences}


def start_instant(meeting: Mapping[str, Any]) -> dt.datetime | None:
    """A meeting's (or a body's) `start_time` as an aware UTC instant; None when it has none that reads.

    Zoom's GET sends UTC with Z; our bodies send local wall time in the body's `timezone`. A series'
    start is its first occurrence.
    """
    text = meeting.get("start_time")
    if not text:
        return None
    try:
        return parse_utc_text(str(text), zone=meeting.get("timezone"))
    except ValueError:
        return None


def _describe_start(meeting: Mapping[str, Any]) -> str:
    instant = start_instant(meeting)
    if instant is None:
        return "no start time"
    return f"{instant:%Y-%m-%d %H:%M} UTC"


def _recurrence(meeting: Mapping[str, Any]) -> dict[str, Any] | None:
    recurrence = meeting.get("recurrence")
    if not recurrence:
        return None
    owned = {key: recurrence.get(key) for key in _RECURRENCE_KEYS}
    owned["weekly_days"] = None if owned["weekly_days"] is None else str(owned["weekly_days"])
    return owned


def _describe_recurrence(recurrence: Mapping[str, Any] | None) -> str:
    if recurrence is None:
        return "none"
    return (
        f"weekly on Zoom day {recurrence['weekly_days']} every {recurrence['repeat_interval']} week(s), "
        f"{recurrence['end_times']} times"
        if recurrence.get("type") == WEEKLY
        else f"type {recurrence.get('type')}, {recurrence.get('end_times')} times"
    )


def _approval_type(meeting: Mapping[str, Any]) -> Any:
    # Zoom's default is 2 (no registration): a meeting that does not say requires none.
    return (meeting.get("settings") or {}).get("approval_type", NO_REGISTRATION)


def _registration(meeting: Mapping[str, Any]) -> dict[str, Any]:
    """The owned registration fields: the approval type, and for a series with registration its
    registration type (Zoom's default 1)."""
    owned = {"approval_type": _approval_type(meeting)}
    if owned["approval_type"] != NO_REGISTRATION and meeting.get("type") == RECURRING_FIXED_TIME:
        owned["registration_type"] = (meeting.get("settings") or {}).get("registration_type", REGISTER_ONCE)
    return owned


def _describe_registration(meeting: Mapping[str, Any]) -> str:
    owned = _registration(meeting)
    approval = owned["approval_type"]
    if approval == NO_REGISTRATION:
        return "off"
    text = "on, approved automatically" if approval == AUTOMATIC_APPROVAL else f"on, approval type {approval}"
    if "registration_type" in owned:
        once = owned["registration_type"] == REGISTER_ONCE
        text += ", once for the series" if once else f", registration type {owned['registration_type']}"
    return text


def _breakout_settings(meeting: Mapping[str, Any]) -> Mapping[str, Any]:
    return (meeting.get("settings") or {}).get("breakout_room") or {}


def _room_changes(want: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    wanted, actual = _breakout_settings(want), _breakout_settings(current)
    lines = []
    if bool(wanted.get("enable")) != bool(actual.get("enable")):
        state = "on" if wanted.get("enable") else "off"
        lines.append(f"breakout room pre-assignment turned {state}")
    wanted_rooms, actual_rooms = wanted.get("rooms") or [], actual.get("rooms") or []
    if _room_map(wanted_rooms) != _room_map(actual_rooms):
        # Described from Zoom's side, so each line says what the PATCH will do.
        lines.extend(
            describe_room_changes(actual_rooms, wanted_rooms)
            or ["participants differ (a student is in more than one room)"]
        )
    return lines


def _room_map(rooms: Sequence[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    mapped: dict[str, frozenset[str]] = {}
    for room in rooms:
        name = str(room.get("name", ""))
        emails = frozenset(normalise_email(str(email)) for email in room.get("participants") or ())
        mapped[name] = mapped.get(name, frozenset()) | emails
    return mapped


def _room_of(rooms: Mapping[str, frozenset[str]]) -> dict[str, str]:
    room_of: dict[str, str] = {}
    for name, emails in rooms.items():
        for email in emails:
            room_of.setdefault(email, name)
    return room_of


def _first_lines(lines: Sequence[str]) -> str:
    shown = "; ".join(lines[:_SUMMARY_ROOM_LINES])
    hidden = len(lines) - _SUMMARY_ROOM_LINES
    return f"{shown}; and {hidden} more" if hidden > 0 else shown


def _canonical(body: Mapping[str, Any]) -> Any:
    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, Mapping):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            items = [walk(item) for item in value]
            if key == "participants":
                return sorted(normalise_email(str(item)) for item in items)
            return items
        return value

    return walk(body)
