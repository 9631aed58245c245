"""Attendance on the event streams Zoom really sends, end to end: the faithful sandbox delivers signed
webhooks (and serves reports) to the running service, and each record is checked against minutes worked
out by hand in the test.

Module 1's week-1 session: Wednesday 2027-01-06, 13:00-14:00 America/Denver = 20:00-21:00 UTC; present
needs 30 minutes, late is a first join after 13:10. Sync pre-assigns group N to "Breakout Room N" by roster
email. Nobody is a user of the school's Zoom account: Zoom shows no email on their main-meeting events
or report rows, and a pre-assigned email only on breakout events.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import TEST_WEBHOOK_SECRET, FakeSleep
from tests.factories import utc
from zoom_homeroom.core.attendance import Edge, ZoomIdentity
from zoom_homeroom.core.roster import parse_roster, roster_changes
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.sandbox import Participant, ZoomSandbox
from zoom_homeroom.services import attendance, backfill
from zoom_homeroom.services.sync import sync_homeroom

ROSTER = """name,email,module,program,group,aliases
Ada Lovelace,ada@x.org,1,BE,1,
Alan Turing,alan@x.org,1,FE,1,
Hana Okafor,hana@x.org,1,BE,1,
Grace Hopper,grace@x.org,1,BE,2,
Edsger Dijkstra,edsger@x.org,1,FE,2,
Barbara Liskov,barbara@x.org,1,BE,2,
"""
SESSION = "homeroom:1:2027-01-06"

# Students signed in to the Zoom app with their school email (pre-assignment places them).
ADA = Participant("Ada Lovelace", "ada@x.org", "zu-ada")
ALAN = Participant("Alan Turing", "alan@x.org", "zu-alan")
HANA_IPAD = Participant("Hana's iPad", "hana@x.org", "zu-hana")  # a device name
GRACE = Participant("Grace Hopper", "grace@x.org", "zu-grace")
EDSGER = Participant("Edsger Dijkstra", "edsger@x.org", "zu-edsger")
BARBARA_GUEST = Participant("iPhone")  # not signed in: a guest, never placed in a room


def at(hhmm: str) -> dt.datetime:
    return utc(f"2027-01-06 {hhmm}")


class Meeting:
    """Drives module 1's meeting in the sandbox, moving the test clock with each step."""

    def __init__(self, sandbox: ZoomSandbox, meeting_id: str, clock) -> None:
        self.sandbox, self.id, self.clock = sandbox, meeting_id, clock

    def __getattr__(self, action: str):
        method = getattr(self.sandbox, action)

        def step(hhmm: str, *args, **kwargs):
            self.clock.now = at(hhmm)
            return method(self.id, *args, at(hhmm), **kwargs) if args else method(self.id, at(hhmm), **kwargs)

        return step

    def rename(self, hhmm: str, person: Participant, name: str) -> None:
        self.clock.now = at(hhmm)
        self.sandbox.rename(self.id, person, name, at(hhmm))


@pytest.fixture
def seed() -> int:
    """The sandbox's seed: the order in which same-instant events arrive."""
    return 0


@pytest.fixture
def sandbox(clock, calendar, seed):
    """The conftest sandbox, with a seed a test can choose."""
    hosts = sorted({module.host for module in calendar.modules} | {calendar.mix_it_up.host})
    box = ZoomSandbox(
        clock=clock, users=hosts, webhook_secret=TEST_WEBHOOK_SECRET, sleep=FakeSleep(), seed=seed
    )
    with box.start():
        yield box


@pytest.fixture
def meeting(sandbox_runtime, sandbox, live_app, clock) -> Meeting:
    students = parse_roster(
        ROSTER.encode(), filename="roster.csv", modules=sandbox_runtime.calendar.module_numbers
    )
    changes = roster_changes(sandbox_runtime.storage.students(active_only=False), students)
    sandbox_runtime.storage.apply_roster(changes, today=dt.date(2027, 1, 5), now=sandbox_runtime.now())
    meeting_id = sync_homeroom(sandbox_runtime, 1).zoom_meeting_id
    sandbox.connect_webhooks(f"{live_app.url}/webhooks/zoom")
    return Meeting(sandbox, meeting_id, clock)


def records(runtime: Runtime) -> dict[str, tuple]:
    """email: (status, minutes, first join, last leave, in assigned room), for students who attended."""
    rows = attendance.records(runtime, module=1, week=1)
    return {
        row["email"]: (
            row["status"],
            row["minutes"],
            row["first_join"],
            row["last_leave"],
            row["in_assigned_room"],
        )
        for row in rows
        if row["status"] != "absent"
    }


def unmatched(runtime: Runtime) -> dict[str, int]:
    session = runtime.storage.session(SESSION)
    return {row.name: row.minutes for row in runtime.storage.unmatched_rows(session_id=session.id)}


def z(hhmm: str) -> str:
    return f"2027-01-06T{hhmm}:00Z"


def test_quitting_from_a_room_ends_presence_there(meeting, sandbox_runtime):
    meeting.start_instance("19:58")
    meeting.join("20:00", ADA)
    meeting.join("20:00", ALAN)
    meeting.open_rooms("20:05")  # both are placed in room 1
    meeting.leave("20:20", ADA)  # she quits Zoom from the room: Zoom sends no breakout leave
    meeting.end_instance("21:00")

    assert records(sandbox_runtime) == {
        "ada@x.org": ("partial", 20, z("20:00"), z("20:20"), True),
        "alan@x.org": ("present", 60, z("20:00"), z("21:00"), True),
    }


def test_the_host_closing_the_rooms_ends_the_room_stays(meeting, sandbox_runtime):
    meeting.start_instance("19:58")
    meeting.join("20:00", ADA)
    meeting.join("20:00", ALAN)
    meeting.open_rooms("20:05")
    meeting.close_rooms("20:45")  # everyone back in the main meeting, no breakout leaves
    meeting.leave("20:46", ALAN)
    meeting.end_instance("21:00")

    assert records(sandbox_runtime) == {
        "ada@x.org": ("present", 60, z("20:00"), z("21:00"), True),
        "alan@x.org": ("present", 46, z("20:00"), z("20:46"), True),
    }


def test_moving_back_by_oneself(meeting, sandbox_runtime):
    meeting.start_instance("19:58")
    meeting.join("20:00", ADA)
    meeting.join("20:00", ALAN)
    meeting.open_rooms("20:05")
    meeting.leave_breakout("20:30", ADA, "Breakout Room 1")
    meeting.leave("20:50", ADA)  # from the main meeting
    meeting.end_instance("21:00")

    assert records(sandbox_runtime)["ada@x.org"] == ("present", 50, z("20:00"), z("20:50"), True)


def test_joining_late_straight_into_a_room(meeting, sandbox_runtime):
    meeting.start_instance("19:58")
    meeting.join("20:00", EDSGER)
    meeting.open_rooms("20:05")
    meeting.join("20:15", GRACE)  # the rooms are open: Zoom puts her in room 2 at once
    meeting.end_instance("21:00")

    assert records(sandbox_runtime) == {
        "grace@x.org": ("late", 45, z("20:15"), z("21:00"), True),
        "edsger@x.org": ("present", 60, z("20:00"), z("21:00"), True),
    }


def test_end_and_restart_reuses_user_ids_for_other_people(meeting, sandbox, sandbox_runtime):
    first = meeting.start_instance("19:58")
    meeting.join("20:00", ADA)  # user_id 16778240 of the first instance
    meeting.join("20:02", ALAN)  # 16779264
    meeting.end_instance("20:20")
    second = meeting.start_instance("20:21")  # the host restarts: a new instance the same day
    meeting.join("20:22", ALAN)  # now 16778240
    meeting.join("20:23", ADA)  # now 16779264
    meeting.end_instance("21:00")

    joins = [
        (e["body"]["payload"]["object"]["uuid"], e["body"]["payload"]["object"]["participant"]["user_id"])
        for e in sandbox.events
        if e["body"]["event"] == "meeting.participant_joined"
    ]
    assert joins == [(first, "16778240"), (first, "16779264"), (second, "16778240"), (second, "16779264")]
    # Ada 13:00-13:20 + 13:23-14:00 = 57; Alan 13:02-13:20 + 13:22-14:00 = 56.
    assert records(sandbox_runtime) == {
        "ada@x.org": ("present", 57, z("20:00"), z("21:00"), None),
        "alan@x.org": ("present", 56, z("20:02"), z("21:00"), None),
    }


def restarted_session(meeting: Meeting) -> None:
    """The host ends the meeting at 13:20 and restarts it: user_ids start again, the rooms get new ids."""
    meeting.start_instance("19:58")
    meeting.join("20:00", ADA)  # 16778240 of the first instance
    meeting.join("20:02", ALAN)  # 16779264
    meeting.join("20:00", GRACE)
    meeting.open_rooms("20:05")
    meeting.end_instance("20:20")
    meeting.start_instance("20:21")
    meeting.join("20:22", ALAN)  # now 16778240
    meeting.join("20:23", ADA)  # now 16779264
    meeting.join("20:23", GRACE)
    meeting.open_rooms("20:25")
    meeting.end_instance("21:00")


# By hand: Ada 13:00-13:20 + 13:23-14:00 = 57; Alan 13:02-13:20 + 13:22-14:00 = 56; Grace 13:00-13:20 +
# 13:23-14:00 = 57; each in their group's room in both instances.
RESTARTED = {
    "ada@x.org": ("present", 57, z("20:00"), z("21:00"), True),
    "alan@x.org": ("present", 56, z("20:02"), z("21:00"), True),
    "grace@x.org": ("present", 57, z("20:00"), z("21:00"), True),
}


def test_backfill_alone_counts_both_instances_of_a_restarted_meeting(
    meeting, sandbox, sandbox_runtime, clock
):
    sandbox.deliver_webhooks = False
    restarted_session(meeting)
    clock.now = at("21:50")

    result = backfill.backfill(sandbox_runtime, sandbox_runtime.storage.session(SESSION))

    assert result.final, result.message
    assert records(sandbox_runtime) == RESTARTED


def test_a_restarted_meetings_webhooks_and_backfill_merge_without_double_counting(
    meeting, sandbox_runtime, clock
):
    restarted_session(meeting)
    before = records(sandbox_runtime)
    clock.now = at("21:50")

    assert backfill.backfill(sandbox_runtime, sandbox_runtime.storage.session(SESSION)).final

    assert before == RESTARTED
    assert records(sandbox_runtime) == RESTARTED


def test_the_backfill_recovers_an_instance_whose_webhooks_were_lost(meeting, sandbox, sandbox_runtime, clock):
    sandbox.deliver_webhooks = False  # the service was unreachable for the first instance
    meeting.start_instance("19:58")
    meeting.join("20:00", ADA)
    meeting.open_rooms("20:05")
    meeting.end_instance("20:20")
    sandbox.deliver_webhooks = True
    meeting.start_instance("20:21")
    meeting.join("20:23", ADA)
    meeting.end_instance("21:00")
    # From the second instance's webhooks alone: 13:23-14:00, first seen 13 minutes after the start.
    assert records(sandbox_runtime) == {"ada@x.org": ("late", 37, z("20:23"), z("21:00"), None)}
    clock.now = at("21:50")

    assert backfill.backfill(sandbox_runtime, sandbox_runtime.storage.session(SESSION)).final

    # 13:00-13:20 from the first instance's report, 13:23-14:00 from both sources of the second.
    assert records(sandbox_runtime) == {"ada@x.org": ("present", 57, z("20:00"), z("21:00"), True)}


def test_a_device_named_pre_assigned_student_is_credited_from_her_breakout_event(meeting, sandbox_runtime):
    meeting.start_instance("19:58")
    meeting.join("20:00", HANA_IPAD)  # no email on main-meeting events, and no roster name
    meeting.join("20:00", ADA)
    meeting.open_rooms("20:05")  # her breakout event carries hana@x.org: the whole connection is hers
    meeting.end_instance("21:00")

    assert records(sandbox_runtime)["hana@x.org"] == ("present", 60, z("20:00"), z("21:00"), True)
    assert unmatched(sandbox_runtime) == {}


def test_a_rename_does_not_split_a_person(meeting, sandbox_runtime):
    meeting.start_instance("19:58")
    meeting.join("20:00", BARBARA_GUEST)
    meeting.open_rooms("20:05")
    meeting.rename("20:10", BARBARA_GUEST, "Barbara Liskov")
    meeting.join_breakout("20:15", BARBARA_GUEST, "Breakout Room 2")
    meeting.leave("20:40", BARBARA_GUEST)  # from the room
    meeting.end_instance("21:00")

    assert records(sandbox_runtime) == {"barbara@x.org": ("present", 40, z("20:00"), z("20:40"), True)}
    assert unmatched(sandbox_runtime) == {}


def full_session(meeting: Meeting) -> None:
    """Every shape at once: room moves, a quit from a room, the host closing the rooms, a late joiner."""
    meeting.start_instance("19:58")
    meeting.join("20:00", ADA)
    meeting.join("20:00", ALAN)
    meeting.join("20:01", HANA_IPAD)
    meeting.join("20:00", EDSGER)
    meeting.open_rooms("20:05")
    meeting.join("20:12", GRACE)
    meeting.leave("20:25", ALAN)  # from his room
    meeting.join_breakout("20:30", EDSGER, "Breakout Room 1")  # visits the other room
    meeting.close_rooms("20:50")
    meeting.leave("20:55", HANA_IPAD)
    meeting.end_instance("21:00")


# By hand: Ada 13:00-14:00; Alan 13:00-13:25; Hana 13:01-13:55; Edsger 13:00-14:00, 25 minutes in room 2
# and 20 in room 1 (group 2's room is room 2); Grace 13:12-14:00.
FULL = {
    "ada@x.org": ("present", 60, z("20:00"), z("21:00"), True),
    "alan@x.org": ("partial", 25, z("20:00"), z("20:25"), True),
    "hana@x.org": ("present", 54, z("20:01"), z("20:55"), True),
    "edsger@x.org": ("present", 60, z("20:00"), z("21:00"), True),
    "grace@x.org": ("late", 48, z("20:12"), z("21:00"), True),
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shuffled_arrival_gives_the_same_record(meeting, sandbox, sandbox_runtime, seed):
    full_session(meeting)

    leave_first, moves = room_move_orders(sandbox)
    assert 0 < leave_first < moves  # some moves arrived leave first, others join first
    assert records(sandbox_runtime) == FULL


def room_move_orders(sandbox: ZoomSandbox) -> tuple[int, int]:
    """(room moves whose leave arrived before their join, all room moves) in the delivered stream."""
    arrived: dict[tuple[str, str, str], int] = {}
    for index, event in enumerate(e["body"] for e in sandbox.events):
        if event["event"] in ("meeting.participant_left", "meeting.participant_joined"):
            person = event["payload"]["object"]["participant"]
            moment = person.get("leave_time") or person["join_time"]
            arrived[(event["event"], person["participant_uuid"], moment)] = index
    pairs = [
        (index, arrived[("meeting.participant_joined", uuid, moment)])
        for (name, uuid, moment), index in arrived.items()
        if name == "meeting.participant_left" and ("meeting.participant_joined", uuid, moment) in arrived
    ]
    return sum(left < joined for left, joined in pairs), len(pairs)


def test_duplicate_deliveries_count_once(meeting, sandbox, sandbox_runtime):
    sandbox.duplicate_webhooks = True
    full_session(meeting)

    assert records(sandbox_runtime) == FULL
    stored = sandbox_runtime.storage.db.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0]
    assert stored == len(sandbox.events)


def test_backfill_alone_finds_the_rooms_in_the_reports_breakout_segments(
    meeting, sandbox, sandbox_runtime, clock
):
    sandbox.deliver_webhooks = False
    full_session(meeting)
    clock.now = at("21:50")

    result = backfill.backfill(sandbox_runtime, sandbox_runtime.storage.session(SESSION))

    assert result.final, result.message
    got = records(sandbox_runtime)
    # The report hides every email here: "Hana's iPad" names no student, so a rep must match her.
    assert got == {email: value for email, value in FULL.items() if email != "hana@x.org"}
    assert unmatched(sandbox_runtime) == {"Hana's iPad": 54}


def test_a_report_with_zero_durations_keeps_the_session_pending_until_zoom_has_processed_it(
    meeting, sandbox, sandbox_runtime, clock
):
    sandbox.simulation.report_delay = dt.timedelta(hours=2)
    sandbox.deliver_webhooks = False
    full_session(meeting)
    clock.now = at("21:50")

    pending = backfill.backfill(sandbox_runtime, sandbox_runtime.storage.session(SESSION))
    session = sandbox_runtime.storage.session(SESSION)

    assert not pending.final and not session.final
    assert "Zoom is still processing the report" in session.backfill_error
    assert "have duration 0" in session.backfill_error
    assert sandbox_runtime.storage.presence(session.id) == []  # nothing of an unsettled report is kept

    clock.now = at("23:01")  # two hours after the end: processed
    final = backfill.backfill(sandbox_runtime, sandbox_runtime.storage.session(SESSION))

    assert final.final, final.message
    assert records(sandbox_runtime) == {
        email: value for email, value in FULL.items() if email != "hana@x.org"
    }


def test_webhooks_and_the_backfill_merge_without_double_counting(meeting, sandbox_runtime, clock):
    full_session(meeting)
    before = records(sandbox_runtime)
    clock.now = at("21:50")

    assert backfill.backfill(sandbox_runtime, sandbox_runtime.storage.session(SESSION)).final

    assert before == FULL
    assert records(sandbox_runtime) == FULL


def test_a_backfill_replaces_report_rows_stored_before_it(meeting, sandbox_runtime, clock):
    full_session(meeting)
    clock.now = at("21:50")
    storage = sandbox_runtime.storage
    session = storage.session(SESSION)
    # A report row as the code before presence-by-instance stored it: no instance, "user_id@join".
    old = ZoomIdentity("Ada Lovelace")
    storage.add_presence(
        session.id,
        [Edge("16778240@2027-01-06T19:50:00Z", "report", "", "join", at("19:50"), old)],
    )
    attendance.refresh(storage, sandbox_runtime.calendar)  # the deliveries become edges
    webhook_edges = [edge for edge in storage.presence(session.id) if edge.source == "webhook"]
    assert webhook_edges

    assert backfill.backfill(sandbox_runtime, session).final

    stored = storage.presence(session.id)
    assert [edge for edge in stored if edge.source == "webhook"] == webhook_edges
    assert {edge.instance for edge in stored if edge.source == "report"} == {
        storage.session(SESSION).zoom_uuid
    }
    assert records(sandbox_runtime) == FULL
