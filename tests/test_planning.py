"""Session planning: weekly homerooms and Mix It Up as UTC windows, across DST and differing calendars."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import calendar_doc, make_calendar, utc
from zoom_homeroom.core.calendar import parse_calendar
from zoom_homeroom.core.models import Calendar
from zoom_homeroom.core.planning import (
    PlanningError,
    calendar_notes,
    mix_it_up_date,
    next_session,
    plan_sessions,
    sessions_between,
)

DENVER = ZoneInfo("America/Denver")


def calendar_with(*mondays: str, skips: dict[int, list[str]] | None = None) -> Calendar:
    """A calendar with one module per Monday (numbered from 1), optional skip dates by module."""
    skips = skips or {}
    modules: list[dict[str, Any]] = [
        {
            "number": number,
            "host": f"mod{number}@school.example.org",
            "week1_monday": monday,
            "skip": skips.get(number, []),
        }
        for number, monday in enumerate(mondays, start=1)
    ]
    doc = calendar_doc(modules=modules)
    doc["mix_it_up"]["upper_modules"] = [len(modules)]
    return parse_calendar(doc)


def homeroom_starts(calendar: Calendar, module: int) -> list[dt.datetime]:
    return [session.start for session in plan_sessions(calendar, module=module)]


@pytest.mark.parametrize(
    ("week1_monday", "expected_utc_hours"),
    [
        ("2027-01-04", [20, 20, 20, 20, 20]),  # winter: MST, UTC-7
        ("2027-03-08", [20, 19, 19, 19, 19]),  # DST starts Sunday 2027-03-14
        ("2027-06-07", [19, 19, 19, 19, 19]),  # a module starting mid-year: MDT, UTC-6
        ("2027-10-25", [19, 19, 20, 20, 20]),  # DST ends Sunday 2027-11-07
    ],
)
def test_sessions_stay_at_one_pm_local_across_dst(week1_monday, expected_utc_hours):
    calendar = calendar_with(week1_monday)

    starts = homeroom_starts(calendar, 1)

    assert [start.hour for start in starts] == expected_utc_hours
    assert all(start.tzinfo == dt.UTC for start in starts)
    assert {start.astimezone(DENVER).time() for start in starts} == {dt.time(13, 0)}
    assert {start.astimezone(DENVER).weekday() for start in starts} == {2}  # Wednesday


def test_march_change_moves_the_utc_start_by_an_hour():
    calendar = calendar_with("2027-03-08")

    sessions = plan_sessions(calendar, module=1)

    assert (sessions[0].date, sessions[0].start) == (dt.date(2027, 3, 10), utc("2027-03-10 20:00"))
    assert (sessions[1].date, sessions[1].start) == (dt.date(2027, 3, 17), utc("2027-03-17 19:00"))


def test_november_change_moves_the_utc_start_back():
    calendar = calendar_with("2027-10-25")

    sessions = plan_sessions(calendar, module=1)

    assert (sessions[1].date, sessions[1].start) == (dt.date(2027, 11, 3), utc("2027-11-03 19:00"))
    assert (sessions[2].date, sessions[2].start) == (dt.date(2027, 11, 10), utc("2027-11-10 20:00"))
    assert sessions[2].end == utc("2027-11-10 21:00")


def test_plans_one_homeroom_per_module_per_week_and_mix_it_up_per_mix_week():
    sessions = plan_sessions(make_calendar())

    homerooms = [s for s in sessions if s.kind == "homeroom"]
    mixes = [s for s in sessions if s.kind == "mix_it_up"]
    assert len(homerooms) == 4 * 5
    assert [(s.key, s.week) for s in mixes] == [
        ("mix_it_up:2027-01-13", 2),
        ("mix_it_up:2027-01-27", 4),
    ]
    assert {s.module for s in mixes} == {None}


def test_homeroom_ends_when_mix_it_up_starts_in_mix_it_up_weeks():
    sessions = {s.key: s for s in plan_sessions(make_calendar())}

    week1 = sessions["homeroom:1:2027-01-06"]
    week2 = sessions["homeroom:1:2027-01-13"]
    mix = sessions["mix_it_up:2027-01-13"]
    assert (week1.start, week1.end, week1.minutes) == (utc("2027-01-06 20:00"), utc("2027-01-06 21:00"), 60)
    assert (week2.start, week2.end, week2.minutes) == (utc("2027-01-13 20:00"), utc("2027-01-13 20:30"), 30)
    assert (mix.start, mix.end) == (utc("2027-01-13 20:30"), utc("2027-01-13 21:00"))
    assert mix.start.astimezone(DENVER).time() == dt.time(13, 30)


def test_leaves_out_a_modules_skip_dates():
    calendar = calendar_with("2027-01-04", "2027-01-04", skips={2: ["2027-01-20"]})

    keys = {s.key for s in plan_sessions(calendar)}

    assert "homeroom:2:2027-01-20" not in keys
    assert "homeroom:1:2027-01-20" in keys
    assert [s.week for s in plan_sessions(calendar, module=2)] == [1, 2, 4, 5]


def test_sorts_by_start_then_module():
    calendar = calendar_with("2027-01-11", "2027-01-04", "2027-01-04")

    sessions = plan_sessions(calendar)

    order = [(s.start, s.module is None, s.module or 0) for s in sessions]
    assert order == sorted(order)
    assert [s.module for s in sessions[:2]] == [2, 3]


def test_module_filter_gives_only_that_modules_homerooms():
    sessions = plan_sessions(make_calendar(), module=3)

    assert {(s.kind, s.module) for s in sessions} == {("homeroom", 3)}
    assert [s.week for s in sessions] == [1, 2, 3, 4, 5]


def test_kinds_filter_gives_only_mix_it_up():
    sessions = plan_sessions(make_calendar(), kinds=("mix_it_up",))

    assert [s.key for s in sessions] == ["mix_it_up:2027-01-13", "mix_it_up:2027-01-27"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"module": 9}, "module 9 is not in the calendar (modules: 1, 2, 3, 4)"),
        ({"kinds": ("homeroom", "standup")}, "unknown session kind standup"),
    ],
)
def test_rejects_unknown_module_or_kind(kwargs, message):
    with pytest.raises(PlanningError) as caught:
        plan_sessions(make_calendar(), **kwargs)

    assert message in str(caught.value)


def test_mix_it_up_date_is_the_weeks_session_day():
    calendar = make_calendar()

    assert mix_it_up_date(calendar, 2) == dt.date(2027, 1, 13)
    assert mix_it_up_date(calendar, 4) == dt.date(2027, 1, 27)


def test_mix_it_up_date_rejects_a_week_without_mix_it_up():
    with pytest.raises(PlanningError, match=r"week 3 is not a Mix It Up week \(mix_it_up.weeks: 2, 4\)"):
        mix_it_up_date(make_calendar(), 3)


def test_no_notes_when_calendars_are_aligned():
    assert calendar_notes(make_calendar()) == []


def test_mix_it_up_follows_the_calendar_most_modules_share():
    calendar = calendar_with("2027-01-04", "2027-01-04", "2027-01-04", "2027-01-11")

    assert mix_it_up_date(calendar, 2) == dt.date(2027, 1, 13)
    sessions = {s.key: s for s in plan_sessions(calendar)}
    # Module 4's week 1 falls on the week 2 Mix It Up date: its homeroom half ends at 13:30 ...
    assert sessions["homeroom:4:2027-01-13"].end == utc("2027-01-13 20:30")
    # ... and its own week 2, a week later, is a full hour with no Mix It Up that day.
    assert sessions["homeroom:4:2027-01-20"].minutes == 60
    assert "mix_it_up:2027-01-20" not in sessions


def test_tied_calendars_take_the_earliest_week1():
    calendar = calendar_with("2027-01-11", "2027-01-04")

    assert mix_it_up_date(calendar, 2) == dt.date(2027, 1, 13)
    notes = calendar_notes(calendar)
    assert notes[0] == (
        "Mix It Up week 2 is on Wednesday 2027-01-13 at 13:30: modules start on different Mondays and as "
        "many modules follow each calendar, the earliest week 1 (Monday 2027-01-04, module 2) decides."
    )


def test_notes_explain_the_rule_and_the_modules_whose_week_falls_elsewhere():
    calendar = calendar_with("2027-01-04", "2027-01-04", "2027-01-04", "2027-01-11")

    notes = calendar_notes(calendar)

    assert notes == [
        "Mix It Up week 2 is on Wednesday 2027-01-13 at 13:30: modules start on different Mondays and it "
        "follows the calendar most modules share (modules 1, 2 and 3, week 1 Monday 2027-01-04).",
        "Module 4's own week 2 is Wednesday 2027-01-20, not the Mix It Up date: its students join Mix It "
        "Up week 2 on 2027-01-13 and their week 1 homeroom that day ends at 13:30.",
        "Mix It Up week 4 is on Wednesday 2027-01-27 at 13:30: modules start on different Mondays and it "
        "follows the calendar most modules share (modules 1, 2 and 3, week 1 Monday 2027-01-04).",
        "Module 4's own week 4 is Wednesday 2027-02-03, not the Mix It Up date: its students join Mix It "
        "Up week 4 on 2027-01-27 and their week 3 homeroom that day ends at 13:30.",
    ]


def test_notes_say_when_a_module_has_no_homeroom_on_the_mix_it_up_date():
    # Module 3 starts after week 2's Mix It Up date, so it has no session of its own that day.
    calendar = calendar_with("2027-01-04", "2027-01-04", "2027-01-18")

    notes = calendar_notes(calendar)

    assert (
        "Module 3's own week 2 is Wednesday 2027-01-27, not the Mix It Up date: its students join Mix It "
        "Up week 2 on 2027-01-13 and they have no homeroom half that day." in notes
    )


def test_notes_flag_a_mix_it_up_date_that_a_module_skips():
    calendar = calendar_with("2027-01-04", "2027-01-04", skips={2: ["2027-01-27"]})

    notes = calendar_notes(calendar)

    assert notes == [
        "Mix It Up week 4 (Wednesday 2027-01-27) is a skip date of module 2: Mix It Up still meets that "
        "day, without a homeroom half for that module."
    ]
    assert "mix_it_up:2027-01-27" in {s.key for s in plan_sessions(calendar)}


@pytest.mark.parametrize(
    ("now", "expected_key"),
    [
        (utc("2027-01-05 12:00"), "homeroom:1:2027-01-06"),  # before anything
        (utc("2027-01-06 20:59"), "homeroom:1:2027-01-06"),  # still running
        (utc("2027-01-06 21:00"), "homeroom:1:2027-01-13"),  # ended exactly now
        (utc("2027-01-13 20:45"), "mix_it_up:2027-01-13"),  # homeroom half over, Mix It Up on
        (utc("2027-02-03 21:00"), None),  # after the last session
    ],
)
def test_next_session_is_the_first_not_yet_ended(now, expected_key):
    sessions = plan_sessions(make_calendar())

    found = next_session(sessions, now)

    assert (found.key if found else None) == expected_key


def test_sessions_between_includes_the_start_and_excludes_the_end():
    sessions = plan_sessions(make_calendar(), module=1)

    found = sessions_between(sessions, utc("2027-01-13 20:00"), utc("2027-01-27 20:00"))

    assert [s.key for s in found] == ["homeroom:1:2027-01-13", "homeroom:1:2027-01-20"]
