"""Zoom meeting specs for homerooms and Mix It Up, Zoom's limits, and diffing against Zoom's GET."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import calendar_doc, make_calendar, make_student, utc
from zoom_homeroom.core.calendar import parse_calendar
from zoom_homeroom.core.meetings import (
    ROOM_NAME_MAX_CHARS,
    ZOOM_LIMITS,
    Difference,
    MeetingLimitError,
    MeetingSpec,
    MixItUpRoom,
    agenda_for_week,
    check_zoom_limits,
    describe_room_changes,
    diff_meeting,
    homeroom_meeting_spec,
    mix_it_up_meeting_spec,
    occurrences_to_delete,
    patch_body,
    stored_spec_differs,
)
from zoom_homeroom.core.planning import PlanningError

ROSTER = [
    make_student(email="ada@x.org", name="Ada", group=1),
    make_student(email="bo@x.org", name="Bo", group=3),
    make_student(email="al@x.org", name="Al", group=1),
    make_student(email="cy@x.org", name="Cy", group=10),
    make_student(email="gone@x.org", name="Gone", group=2, active=False),
    make_student(email="other@x.org", name="Other", module=2, group=5),
]

MIX_GROUPS = [
    MixItUpRoom(2, "Salary negotiation", ["Zed@x.org", "amy@x.org"]),
    MixItUpRoom(1, "Career stories", ["bo@x.org", "ada@x.org"]),
]


def homeroom(students=ROSTER, *, agenda: str | None = None, calendar=None, module: int = 1) -> MeetingSpec:
    return homeroom_meeting_spec(calendar or make_calendar(), module, students, agenda=agenda)


def calendar_with_module1(**module1: Any):
    doc = calendar_doc()
    doc["modules"][0].update(module1)
    return parse_calendar(doc)


def rooms_of(spec_or_body: Any) -> dict[str, list[str]]:
    body = spec_or_body.body if isinstance(spec_or_body, MeetingSpec) else spec_or_body
    return {room["name"]: room["participants"] for room in body["settings"]["breakout_room"]["rooms"]}


def zoom_get(spec: MeetingSpec) -> dict[str, Any]:
    """What Zoom's GET /meetings/{id} answers for a meeting created from `spec`.

    UTC start_time with Z, extra fields and settings, rooms and participants in another order, upper-case
    letters in emails, and the occurrences of a series.
    """
    body = copy.deepcopy(spec.body)
    local = dt.datetime.fromisoformat(body["start_time"]).replace(tzinfo=ZoneInfo(body["timezone"]))
    body["start_time"] = local.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body.update(id=85746065432, uuid="aDYlohsHRtCd4ii1uC2+hA==", host_id="KDcuGIm1QgePTO8WbOqwIQ")
    body["join_url"] = "https://zoom.us/j/85746065432"
    body["settings"].update(host_video=False, participant_video=False, use_pmi=False, audio="voip")
    rooms = body["settings"]["breakout_room"]["rooms"]
    for room in rooms:
        room["participants"] = [email.upper() for email in reversed(room["participants"])]
    rooms.reverse()
    if spec.occurrences:
        body["recurrence"]["end_date_time"] = "2027-02-03T20:00:00Z"
        body["occurrences"] = [
            {
                "occurrence_id": str(int(o.start_utc.timestamp() * 1000)),
                "start_time": o.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration": body["duration"],
                "status": "available",
            }
            for o in spec.occurrences
        ]
    return body


def test_homeroom_body_is_a_weekly_wednesday_series_at_one_pm_denver():
    spec = homeroom()

    body = spec.body
    assert (spec.key, spec.kind, spec.module, spec.host) == (
        "homeroom:1:2027-01-04",
        "homeroom",
        1,
        "mod1@school.example.org",
    )
    assert body["topic"] == "Homeroom: Mod 1"
    assert body["type"] == 8
    assert body["start_time"] == "2027-01-06T13:00:00"
    assert body["timezone"] == "America/Denver"
    assert body["duration"] == 60
    assert body["recurrence"] == {"type": 2, "repeat_interval": 1, "weekly_days": "4", "end_times": 5}
    assert "agenda" not in body


def test_homeroom_settings_let_students_in_early_without_waiting_room_or_registration():
    settings = homeroom().body["settings"]

    assert settings["join_before_host"] is True
    assert settings["jbh_time"] == 5
    assert settings["waiting_room"] is False
    assert settings["approval_type"] == 2


def test_homeroom_rooms_match_groups_of_active_students_of_the_module():
    spec = homeroom()

    assert spec.body["settings"]["breakout_room"]["enable"] is True
    assert list(rooms_of(spec).items()) == [
        ("Breakout Room 1", ["ada@x.org", "al@x.org"]),
        ("Breakout Room 3", ["bo@x.org"]),
        ("Breakout Room 10", ["cy@x.org"]),
    ]


def test_homeroom_emails_are_lower_cased():
    spec = homeroom([make_student(email="Ada@X.org", group=1)])

    assert rooms_of(spec) == {"Breakout Room 1": ["ada@x.org"]}


def test_homeroom_agenda_is_set_when_given():
    assert (
        homeroom(agenda="  What did you ship this week?\n").body["agenda"] == "What did you ship this week?"
    )


def test_homeroom_occurrences_cover_every_week_with_utc_starts():
    spec = homeroom()

    assert [(o.week, o.date, o.start_utc, o.skipped) for o in spec.occurrences] == [
        (week, dt.date(2027, 1, 6) + dt.timedelta(weeks=week - 1), start, False)
        for week, start in zip(
            range(1, 6),
            [utc(f"2027-{d} 20:00") for d in ("01-06", "01-13", "01-20", "01-27", "02-03")],
            strict=True,
        )
    ]


def test_skip_date_inside_the_series_is_a_skipped_occurrence():
    spec = homeroom(calendar=calendar_with_module1(skip=["2027-01-20"]))

    assert spec.body["recurrence"]["end_times"] == 5
    assert [o.week for o in spec.occurrences if o.skipped] == [3]


def test_series_starts_at_the_first_planned_week():
    spec = homeroom(calendar=calendar_with_module1(skip=["2027-01-06"]))

    assert spec.body["start_time"] == "2027-01-13T13:00:00"
    assert spec.body["recurrence"]["end_times"] == 4
    assert not any(o.skipped for o in spec.occurrences)


def test_series_across_the_november_change_keeps_local_start():
    spec = homeroom(calendar=calendar_with_module1(week1_monday="2027-10-25"))

    assert spec.key == "homeroom:1:2027-10-25"
    assert spec.body["start_time"] == "2027-10-27T13:00:00"
    assert [o.start_utc.hour for o in spec.occurrences] == [19, 19, 20, 20, 20]


@pytest.mark.parametrize(("weekday", "zoom_day"), [("sunday", "1"), ("monday", "2"), ("saturday", "7")])
def test_weekly_days_uses_zoom_day_numbers(weekday, zoom_day):
    doc = calendar_doc()
    doc["sessions"]["weekday"] = weekday

    spec = homeroom(calendar=parse_calendar(doc))

    assert spec.body["recurrence"]["weekly_days"] == zoom_day


def test_homeroom_without_students_has_no_rooms():
    assert homeroom([]).body["settings"]["breakout_room"] == {"enable": False, "rooms": []}


def test_homeroom_for_unknown_module_is_a_planning_error():
    with pytest.raises(PlanningError, match="module 7 is not in the calendar"):
        homeroom(module=7)


def test_limits_match_zoom():
    assert ZOOM_LIMITS.breakout_rooms == 100
    assert ZOOM_LIMITS.preassigned_participants == 1000
    assert ZOOM_LIMITS.topic_chars == 200
    assert ZOOM_LIMITS.agenda_chars == 2000
    assert ZOOM_LIMITS.occurrences == 50


def test_too_many_breakout_rooms_is_refused_with_the_numbers():
    students = [make_student(email=f"s{n}@x.org", group=n) for n in range(1, 105)]

    with pytest.raises(MeetingLimitError) as caught:
        homeroom(students)

    assert "Homeroom: Mod 1 would have 104 breakout rooms; Zoom allows 100" in str(caught.value)
    assert isinstance(caught.value, PlanningError)


def test_too_many_preassigned_participants_is_refused():
    students = [make_student(email=f"s{n}@x.org", group=n % 50 + 1) for n in range(1001)]

    with pytest.raises(MeetingLimitError) as caught:
        homeroom(students)

    assert "Homeroom: Mod 1 would pre-assign 1,001 participants to breakout rooms; Zoom allows 1,000" in str(
        caught.value
    )


def test_too_long_agenda_is_refused():
    with pytest.raises(MeetingLimitError) as caught:
        homeroom(agenda="x" * 2001)

    assert "Homeroom: Mod 1: the agenda is 2,001 characters; Zoom allows 2,000" in str(caught.value)


def test_agenda_at_the_limit_is_accepted():
    assert len(homeroom(agenda="x" * 2000).body["agenda"]) == 2000


def test_too_long_topic_is_refused():
    with pytest.raises(MeetingLimitError) as caught:
        check_zoom_limits({"topic": "T" * 201, "settings": {"breakout_room": {"rooms": []}}})

    assert "the topic is 201 characters; Zoom allows 200" in str(caught.value)


def test_too_many_weekly_occurrences_is_refused():
    doc = calendar_doc()
    doc["sessions"]["weeks"] = [1, 2, 4, 55]

    with pytest.raises(MeetingLimitError) as caught:
        homeroom(calendar=parse_calendar(doc))

    assert "Homeroom: Mod 1 would have 55 weekly occurrences; Zoom allows 50" in str(caught.value)


def test_limit_error_lists_every_problem():
    students = [make_student(email=f"s{n}@x.org", group=n) for n in range(1, 102)]

    with pytest.raises(MeetingLimitError) as caught:
        homeroom(students, agenda="x" * 2001)

    assert len(caught.value.problems) == 2


def test_nothing_changed_gives_no_differences():
    spec = homeroom(agenda="Ship it")
    current = zoom_get(spec)
    current["agenda"] = "Ship it\r\n"

    differences = diff_meeting(spec, current)

    assert differences == []
    assert patch_body(spec, differences) == {}


def test_series_reported_from_its_next_occurrence_is_unchanged():
    spec = homeroom()
    current = zoom_get(spec)
    current["start_time"] = "2027-01-20T20:00:00Z"

    assert diff_meeting(spec, current) == []


def test_one_student_moved_is_one_rooms_difference(openapi_spec):
    before = homeroom()
    moved = [make_student(email="ada@x.org", group=3) if s.email == "ada@x.org" else s for s in ROSTER]
    after = homeroom(moved)

    differences = diff_meeting(after, zoom_get(before))

    assert [d.field for d in differences] == ["rooms"]
    assert "ada@x.org moved from Breakout Room 1 to Breakout Room 3" in differences[0].summary
    patch = patch_body(after, differences)
    assert patch == {"settings": {"breakout_room": after.body["settings"]["breakout_room"]}}
    openapi_spec.validate_request("PATCH", "/meetings/1", patch)


def test_rooms_edited_by_hand_are_described_and_restored():
    spec = homeroom()
    current = zoom_get(spec)
    current["settings"]["breakout_room"]["rooms"] = [
        {"name": "Breakout Room 1", "participants": ["ADA@x.org", "al@x.org", "stranger@x.org"]},
        {"name": "Ada's corner", "participants": ["bo@x.org"]},
    ]

    differences = diff_meeting(spec, current)

    assert [d.field for d in differences] == ["rooms"]
    summary = differences[0].summary
    for line in (
        "Breakout Room 3 added",
        "Breakout Room 10 added",
        "bo@x.org moved from Ada's corner to Breakout Room 3",
        "cy@x.org added to Breakout Room 10",
        "stranger@x.org removed from Breakout Room 1",
        "Ada's corner removed",
    ):
        assert line in summary
    assert (
        patch_body(spec, differences)["settings"]["breakout_room"] == spec.body["settings"]["breakout_room"]
    )


def test_rooms_turned_off_in_zoom_is_a_difference():
    spec = homeroom()
    current = zoom_get(spec)
    current["settings"]["breakout_room"] = {"enable": False}

    differences = diff_meeting(spec, current)

    assert [d.field for d in differences] == ["rooms"]
    assert "breakout room pre-assignment turned on" in differences[0].summary


def test_describe_room_changes_lists_moves_additions_and_removals():
    old = [
        {"name": "Breakout Room 1", "participants": ["ada@x.org"]},
        {"name": "Breakout Room 2", "participants": []},
        {"name": "Breakout Room 4", "participants": ["cy@x.org"]},
    ]
    new = [
        {"name": "Breakout Room 2", "participants": ["bo@x.org"]},
        {"name": "Breakout Room 3", "participants": ["ada@x.org"]},
        {"name": "Breakout Room 7", "participants": []},
    ]

    assert describe_room_changes(old, new) == [
        "Breakout Room 3 added",
        "Breakout Room 7 added",
        "ada@x.org moved from Breakout Room 1 to Breakout Room 3",
        "bo@x.org added to Breakout Room 2",
        "cy@x.org removed from Breakout Room 4",
        "Breakout Room 1 removed",
        "Breakout Room 4 removed",
    ]


def test_describe_room_changes_ignores_order_and_case():
    rooms = [{"name": "Breakout Room 1", "participants": ["ada@x.org", "bo@x.org"]}]
    shuffled = [{"name": "Breakout Room 1", "participants": ["BO@x.org", "ada@x.org"]}]

    assert describe_room_changes(rooms, shuffled) == []


def test_topic_change_patches_only_the_topic():
    spec = homeroom()
    current = zoom_get(spec)
    current["topic"] = "Homeroom Mod 1 (old)"

    differences = diff_meeting(spec, current)

    assert differences == [
        Difference("topic", "topic: 'Homeroom: Mod 1' (Zoom has 'Homeroom Mod 1 (old)')"),
    ]
    assert patch_body(spec, differences) == {"topic": "Homeroom: Mod 1"}


def test_agenda_change_patches_only_the_agenda():
    spec = homeroom(agenda="Week 2: pair on a kata")
    current = zoom_get(spec)
    current["agenda"] = "Week 1: introductions"

    differences = diff_meeting(spec, current)

    assert [d.field for d in differences] == ["agenda"]
    assert patch_body(spec, differences) == {"agenda": "Week 2: pair on a kata"}


def test_agenda_is_not_compared_when_the_spec_sets_none():
    spec = homeroom()
    current = zoom_get(spec)
    current["agenda"] = "Written by a host"

    assert diff_meeting(spec, current) == []


def test_schedule_change_patches_start_timezone_duration_and_recurrence_together(openapi_spec):
    spec = homeroom()
    current = zoom_get(spec)
    current["start_time"] = "2027-01-06T21:00:00Z"
    current["duration"] = 45

    differences = diff_meeting(spec, current)

    assert [d.field for d in differences] == ["schedule"]
    summary = differences[0].summary
    assert "starts 2027-01-06 20:00 UTC (Zoom has 2027-01-06 21:00 UTC)" in summary
    assert "60 minutes (Zoom has 45)" in summary
    patch = patch_body(spec, differences)
    assert patch == {
        "type": 8,
        "start_time": "2027-01-06T13:00:00",
        "timezone": "America/Denver",
        "duration": 60,
        "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "4", "end_times": 5},
    }
    openapi_spec.validate_request("PATCH", "/meetings/1", patch)


def test_recurrence_change_is_a_schedule_difference():
    spec = homeroom()
    current = zoom_get(spec)
    current["recurrence"]["end_times"] = 4

    differences = diff_meeting(spec, current)

    assert [d.field for d in differences] == ["schedule"]
    assert "5 times (Zoom has weekly on Zoom day 4 every 1 week(s), 4 times)" in differences[0].summary


def test_deletes_the_occurrence_on_a_skip_date():
    spec = homeroom(calendar=calendar_with_module1(skip=["2027-01-20"]))
    current = zoom_get(spec)
    current["occurrences"].append(
        {"occurrence_id": "1", "start_time": "2027-01-20T20:00:00Z", "status": "deleted"}
    )

    assert occurrences_to_delete(spec, current) == [str(int(utc("2027-01-20 20:00").timestamp() * 1000))]


def test_nothing_to_delete_without_skips():
    spec = homeroom()

    assert occurrences_to_delete(spec, zoom_get(spec)) == []


def test_stored_body_with_reordered_participants_does_not_differ():
    spec = homeroom()
    stored = copy.deepcopy(spec.body)
    for room in stored["settings"]["breakout_room"]["rooms"]:
        room["participants"].reverse()

    assert stored_spec_differs(spec, stored) is False


def test_stored_body_differs_after_a_roster_change():
    stored = homeroom().body

    assert stored_spec_differs(homeroom(ROSTER[:2]), stored) is True


def test_mix_it_up_spec_is_one_scheduled_half_hour():
    spec = mix_it_up_meeting_spec(make_calendar(), dt.date(2027, 1, 13), 2, MIX_GROUPS, agenda="Meet people")

    body = spec.body
    assert (spec.key, spec.kind, spec.module, spec.host) == (
        "mix_it_up:2027-01-13",
        "mix_it_up",
        None,
        "careers@school.example.org",
    )
    assert spec.occurrences == ()
    assert body["topic"] == "Mix It Up: week 2 (2027-01-13)"
    assert body["type"] == 2
    assert body["start_time"] == "2027-01-13T13:30:00"
    assert body["timezone"] == "America/Denver"
    assert body["duration"] == 30
    assert body["agenda"] == "Meet people"
    assert "recurrence" not in body
    assert list(rooms_of(spec).items()) == [
        ("1 · Career stories", ["ada@x.org", "bo@x.org"]),
        ("2 · Salary negotiation", ["amy@x.org", "zed@x.org"]),
    ]


def test_mix_it_up_room_names_cut_long_topics():
    topic = "How to talk about a gap in your résumé without apologising for it " * 2
    spec = mix_it_up_meeting_spec(
        make_calendar(), dt.date(2027, 1, 13), 2, [MixItUpRoom(12, topic, ["a@x.org"])]
    )

    (name,) = rooms_of(spec)
    assert len(name) == ROOM_NAME_MAX_CHARS
    assert name.startswith("12 · How to talk about")
    assert name.endswith("…")


def test_mix_it_up_rejects_a_date_that_is_not_the_weeks_mix_it_up():
    with pytest.raises(PlanningError, match=r"2027-01-14 is not the Mix It Up date of week 2 \(2027-01-13\)"):
        mix_it_up_meeting_spec(make_calendar(), dt.date(2027, 1, 14), 2, MIX_GROUPS)


def test_mix_it_up_rejects_a_student_in_two_groups():
    groups = [MixItUpRoom(1, "A", ["ada@x.org"]), MixItUpRoom(2, "B", ["ADA@x.org"])]

    with pytest.raises(PlanningError, match="ada@x.org is in Mix It Up groups 1 and 2"):
        mix_it_up_meeting_spec(make_calendar(), dt.date(2027, 1, 13), 2, groups)


def test_mix_it_up_unchanged_in_zoom_gives_no_differences():
    spec = mix_it_up_meeting_spec(make_calendar(), dt.date(2027, 1, 13), 2, MIX_GROUPS)

    assert diff_meeting(spec, zoom_get(spec)) == []


def test_create_bodies_follow_zooms_spec(openapi_spec):
    calendar = make_calendar()
    bodies = [
        homeroom(agenda="Ship it").body,
        mix_it_up_meeting_spec(calendar, dt.date(2027, 1, 27), 4, MIX_GROUPS, agenda="Mix").body,
    ]

    for body in bodies:
        openapi_spec.validate_request("POST", "/users/x/meetings", body)


@pytest.mark.parametrize(
    ("prompts", "week", "expected"),
    [
        ({2: "  Pair on a kata.\n"}, 2, "Pair on a kata."),
        ({2: "Pair on a kata."}, 3, None),
        ({3: "   \n"}, 3, None),
    ],
)
def test_agenda_for_week_is_the_trimmed_prompt(prompts, week, expected):
    assert agenda_for_week(prompts, week) == expected


def test_rooms_summary_stays_one_readable_line_for_many_changes():
    before = homeroom([make_student(email=f"s{n:02}@x.org", group=1) for n in range(12)])
    after = homeroom([make_student(email=f"s{n:02}@x.org", group=2) for n in range(12)])

    (difference,) = diff_meeting(after, zoom_get(before))

    assert difference.summary.startswith("rooms: Breakout Room 2 added; s00@x.org moved from Breakout Room 1")
    assert difference.summary.endswith("; and 4 more")  # 12 moves, a room added, a room removed


def test_stored_body_compares_equal_to_its_own_spec():
    spec = homeroom(agenda="Ship it")

    assert diff_meeting(spec, copy.deepcopy(spec.body)) == []
