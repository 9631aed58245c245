"""Zoom registration in the pure core: the calendar switch, the meeting settings, the plan of registrant
changes, and a registrant id as the strictest identity (matching, presence, webhook parsing)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import calendar_doc, make_calendar, make_student, utc
from zoom_homeroom.core.attendance import Edge, Member, ZoomIdentity, compute_session
from zoom_homeroom.core.calendar import CalendarError, parse_calendar
from zoom_homeroom.core.events import parse_event
from zoom_homeroom.core.matching import RosterIndex, match
from zoom_homeroom.core.meetings import (
    MixItUpRoom,
    diff_meeting,
    homeroom_meeting_spec,
    mix_it_up_meeting_spec,
    patch_body,
    requires_registration,
)
from zoom_homeroom.core.models import AttendanceConfig
from zoom_homeroom.core.registration import (
    ListedRegistrant,
    Registrant,
    Registration,
    RegistrationError,
    batches,
    check_capacity,
    plan_registrations,
    registrant_for,
    split_name,
)

ADA = make_student(id=1, email="ada@x.org", name="Ada Lovelace", group=1)
ALAN = make_student(id=2, email="alan@x.org", name="Alan Turing", group=1)
GRACE = make_student(id=3, email="grace@x.org", name="Grace Hopper", group=2)


def registration_calendar(on: bool = True):
    doc = calendar_doc()
    doc["sessions"]["registration"] = on
    return parse_calendar(doc)


# -- the calendar and the meetings ---------------------------------------------------------------------


def test_registration_is_off_unless_the_calendar_switches_it_on():
    assert make_calendar().sessions.registration is False
    assert registration_calendar().sessions.registration is True


def test_a_registration_that_is_not_true_or_false_is_a_named_problem():
    doc = calendar_doc()
    doc["sessions"]["registration"] = "yes"
    with pytest.raises(CalendarError) as error:
        parse_calendar(doc)
    assert error.value.problems == ["sessions.registration: must be true or false, not 'yes'"]


def test_with_registration_the_series_approves_automatically_and_registers_once(openapi_spec):
    spec = homeroom_meeting_spec(registration_calendar(), 1, [ADA, ALAN], agenda=None)
    settings = spec.body["settings"]
    assert (settings["approval_type"], settings["registration_type"]) == (0, 1)
    assert requires_registration(spec.body)
    openapi_spec.validate_request("POST", "/users/mod1@school.example.org/meetings", spec.body)


def test_with_registration_mix_it_up_approves_automatically_without_a_series_type(openapi_spec):
    spec = mix_it_up_meeting_spec(
        registration_calendar(), dt.date(2027, 1, 13), 2, [MixItUpRoom(1, "Interviews", ["ada@x.org"])]
    )
    assert spec.body["settings"]["approval_type"] == 0
    assert "registration_type" not in spec.body["settings"]  # Zoom: for type 8 only
    openapi_spec.validate_request("POST", "/users/careers@school.example.org/meetings", spec.body)


def test_without_registration_the_meeting_needs_none():
    spec = homeroom_meeting_spec(make_calendar(), 1, [ADA], agenda=None)
    assert spec.body["settings"]["approval_type"] == 2
    assert "registration_type" not in spec.body["settings"]
    assert not requires_registration(spec.body)


def test_switching_registration_on_patches_only_the_registration_settings():
    before = homeroom_meeting_spec(make_calendar(), 1, [ADA], agenda=None)
    after = homeroom_meeting_spec(registration_calendar(), 1, [ADA], agenda=None)
    zoom_has = {**before.body, "settings": {**before.body["settings"], "registration_type": 1}}

    differences = diff_meeting(after, zoom_has)

    assert [d.field for d in differences] == ["registration"]
    assert differences[0].summary == (
        "registration on, approved automatically, once for the series (Zoom has off)"
    )
    assert patch_body(after, differences) == {"settings": {"approval_type": 0, "registration_type": 1}}


def test_a_room_change_and_registration_share_one_settings_patch():
    before = homeroom_meeting_spec(make_calendar(), 1, [ADA], agenda=None)
    after = homeroom_meeting_spec(registration_calendar(), 1, [ADA, ALAN], agenda=None)
    body = patch_body(after, diff_meeting(after, before.body))
    assert body["settings"]["approval_type"] == 0
    assert body["settings"]["breakout_room"]["rooms"] == [
        {"name": "Breakout Room 1", "participants": ["ada@x.org", "alan@x.org"]}
    ]


def test_a_meeting_zoom_reports_with_registration_on_matches_the_spec():
    spec = homeroom_meeting_spec(registration_calendar(), 1, [ADA], agenda=None)
    assert diff_meeting(spec, spec.body) == []
    # Zoom may leave registration_type out (its default is 1): still no difference.
    settings = {k: v for k, v in spec.body["settings"].items() if k != "registration_type"}
    assert diff_meeting(spec, {**spec.body, "settings": settings}) == []


# -- registrants and the plan --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("Ada Lovelace", ("Ada", "Lovelace")),
        ("  Ada   King  Lovelace ", ("Ada", "King Lovelace")),
        ("Plato", ("Plato", "")),
        ("A" * 70 + " " + "B" * 70, ("A" * 64, "B" * 64)),
    ],
)
def test_names_split_into_zooms_first_and_last_name(name, parts):
    assert split_name(name) == parts


def test_a_registrant_body_is_email_first_and_last_name(openapi_spec):
    body = registrant_for(make_student(id=7, email="Ada@X.org", name="Ada Lovelace")).body()
    assert body == {"email": "ada@x.org", "first_name": "Ada", "last_name": "Lovelace"}
    openapi_spec.validate_request("POST", "/meetings/81000000000/registrants", body)
    assert registrant_for(make_student(id=8, name="Plato")).body() == {
        "email": "ada.lovelace@students.example.org",
        "first_name": "Plato",
    }


def registration(student, registrant_id: str) -> Registration:
    return Registration(student.id, student.email, registrant_id, f"https://zoom.us/w/1?tk={registrant_id}")


def test_nothing_to_do_when_what_is_stored_equals_the_students():
    wanted = [registrant_for(ADA), registrant_for(ALAN)]
    plan = plan_registrations(wanted, [registration(ADA, "r-ada"), registration(ALAN, "r-alan")])
    assert not plan.writes and plan == type(plan)()


def test_a_newcomer_is_registered_and_a_leaver_cancelled():
    wanted = [registrant_for(ADA), registrant_for(GRACE)]
    plan = plan_registrations(wanted, [registration(ADA, "r-ada"), registration(ALAN, "r-alan")])
    assert plan.register == (registrant_for(GRACE),)
    assert plan.cancel == (registration(ALAN, "r-alan"),)


def test_a_stale_store_adopts_what_zoom_has_forgets_what_it_lost_and_leaves_guests_alone():
    wanted = [registrant_for(ADA), registrant_for(ALAN), registrant_for(GRACE)]
    listed = [
        ListedRegistrant("r-alan-2", "ALAN@x.org", "https://zoom.us/w/1?tk=alan"),
        ListedRegistrant("r-guest", "speaker@elsewhere.org", "https://zoom.us/w/1?tk=guest"),
        ListedRegistrant("r-grace", "grace@x.org", "https://zoom.us/w/1?tk=grace"),
    ]
    stored = [registration(ADA, "r-ada"), registration(GRACE, "r-grace")]
    roster = {"ada@x.org": 1, "alan@x.org": 2, "grace@x.org": 3}

    plan = plan_registrations(wanted, stored, listed=listed, roster=roster)

    assert plan.forget == (registration(ADA, "r-ada"),)  # Zoom no longer lists her registration
    assert plan.adopt == (Registration(2, "alan@x.org", "r-alan-2", "https://zoom.us/w/1?tk=alan"),)
    assert plan.register == (registrant_for(ADA),)
    assert plan.cancel == ()  # the guest speaker is no student: left as the admin made it


def test_a_student_zoom_has_but_who_left_is_adopted_then_cancelled():
    listed = [ListedRegistrant("r-alan", "alan@x.org", "u")]
    plan = plan_registrations([], [], listed=listed, roster={"alan@x.org": 2})
    assert plan.adopt == (Registration(2, "alan@x.org", "r-alan", "u"),)
    assert plan.cancel == plan.adopt


def test_zoom_takes_4999_registrants_a_meeting():
    wanted = [Registrant(n, f"s{n}@x.org", "S", "") for n in range(4_999)]
    check_capacity("Mod 1", wanted)
    with pytest.raises(RegistrationError) as error:
        check_capacity("Mod 1", [*wanted, Registrant(5_000, "one@more.org", "One", "")])
    assert error.value.problems == [
        "Mod 1: 5,000 students would register; Zoom allows 4,999 registrants a meeting"
    ]


def test_batches_hold_at_most_thirty():
    assert [len(batch) for batch in batches(list(range(65)))] == [30, 30, 5]
    assert list(batches([])) == []


# -- the registrant id as identity ---------------------------------------------------------------------


INDEX = RosterIndex.build([ADA, ALAN, GRACE], confirmed={}, registrants=[("r-ada", 1), ("r-grace", 3)])


def test_a_registrant_id_matches_first_whatever_the_name_or_email():
    assert match(ZoomIdentity("iPhone (7)", registrant_id="r-ada"), INDEX, {1, 2, 3}).rule == "registrant"
    # Alan signed in on Ada's personal link: the link says who is counted.
    assert (
        match(ZoomIdentity("Alan Turing", "alan@x.org", registrant_id="r-ada"), INDEX, {1, 2, 3}).student_id
        == 1
    )
    # An unknown registrant id (a guest registered by hand) falls through to the other rules.
    assert (
        match(ZoomIdentity("Alan Turing", "alan@x.org", registrant_id="r-x"), INDEX, {1, 2, 3}).rule
        == "email"
    )


def test_a_registrant_id_given_for_two_students_identifies_neither():
    index = RosterIndex.build([ADA, ALAN], confirmed={}, registrants=[("r-1", 1), ("r-1", 2)])
    assert match(ZoomIdentity("iPhone", registrant_id="r-1"), index, {1, 2}).rule == "unmatched"


def edges(
    connection: str, start: str, end: str, identity: ZoomIdentity, *, source: str = "webhook", **fields
) -> list[Edge]:
    return [
        Edge(connection, source, "", "join", utc(f"2027-01-06 {start}"), identity, **fields),
        Edge(connection, source, "", "leave", utc(f"2027-01-06 {end}"), identity, **fields),
    ]


def compute(index: RosterIndex, stream: list[Edge]):
    return compute_session(
        start=utc("2027-01-06 20:00"),
        end=utc("2027-01-06 21:00"),
        ended_at=None,
        members=[Member(1, 1), Member(2, 1), Member(3, 2)],
        edges=stream,
        index=index,
        overrides={},
        config=AttendanceConfig(),
    )


def test_a_device_with_no_email_and_a_students_registrant_id_is_that_student():
    # "iPhone (7)" joins 13:04 (20:04 UTC), before 13:10, and leaves 13:46: 42 minutes, present.
    phone = ZoomIdentity("iPhone (7)", registrant_id="r-ada")
    result = compute(INDEX, edges("16778240", "20:04", "20:46", phone, instance="i-1"))
    ada = next(record for record in result.records if record.student_id == 1)
    assert (ada.status, ada.minutes, ada.first_join) == ("present", 42, utc("2027-01-06 20:04"))
    assert result.unmatched == ()


def test_a_registrant_id_chains_a_persons_connections_across_a_restart():
    # Instance 1: the link's phone, 20:00-20:20. After the host restarts, the same link joins from a
    # laptop in instance 2 (20:25-20:40); Zoom shows that connection no registrant id on its join...
    phone = ZoomIdentity("iPhone (7)", registrant_id="r-grace")
    laptop_join = ZoomIdentity("Laptop")
    stream = edges("16778240", "20:00", "20:20", phone, instance="i-1", participant_uuid="p1")
    stream += [
        Edge(
            "16778240",
            "webhook",
            "",
            "join",
            utc("2027-01-06 20:25"),
            laptop_join,
            instance="i-2",
            participant_uuid="p2",
        ),
        # ...but its leave carries it: one connection (participant_uuid), one person, one student.
        Edge(
            "16778240",
            "webhook",
            "",
            "leave",
            utc("2027-01-06 20:40"),
            phone,
            instance="i-2",
            participant_uuid="p2",
        ),
    ]
    result = compute(INDEX, stream)
    grace = next(record for record in result.records if record.student_id == 3)
    assert grace.minutes == 35
    assert result.unmatched == ()


def test_a_report_row_carries_the_registrant_id_too():
    row = ZoomIdentity("Ada's iPad", registrant_id="r-ada")
    result = compute(INDEX, edges("16779264", "20:00", "20:31", row, source="report", instance="i-1"))
    assert next(r for r in result.records if r.student_id == 1).minutes == 31


def test_webhook_events_carry_the_participants_registrant_id():
    body = {
        "event": "meeting.participant_joined",
        "event_ts": 1799265660000,
        "payload": {
            "account_id": "a",
            "object": {
                "id": "81000000000",
                "uuid": "i-1",
                "participant": {
                    "user_id": "16778240",
                    "user_name": "iPhone (7)",
                    "email": "",
                    "registrant_id": "r-ada",
                    "participant_uuid": "P-1",
                    "join_time": "2027-01-06T20:04:00Z",
                },
            },
        },
    }
    event = parse_event(body)
    assert event.identity == ZoomIdentity("iPhone (7)", "", "", "r-ada")
