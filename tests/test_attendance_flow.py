"""A scripted session through the sandbox's signed webhooks into the real service, then backfill.

Week 1 of module 1: Wednesday 2027-01-06, 13:00-14:00 America/Denver = 20:00-21:00 UTC. Sync pre-assigns
group N to "Breakout Room N" by roster email. Nobody is a user of the school's Zoom account, so Zoom hides
their emails on main-meeting events and in reports; signed-in students see their pre-assigned email on
their breakout events.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import utc
from zoom_homeroom.cli import cli
from zoom_homeroom.core.roster import parse_roster, roster_changes
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.sandbox import Participant
from zoom_homeroom.services import attendance, backfill, jobs
from zoom_homeroom.services.sync import sync_homeroom

ROSTER = """name,email,module,program,group,aliases
Ada Lovelace,ada@x.org,1,BE,1,
Alan Turing,alan@x.org,1,FE,1,
Ken Thompson,ken@x.org,1,FE,1,Ken T.
Grace Hopper,grace@x.org,1,BE,2,
Edsger Dijkstra,edsger@x.org,1,FE,2,
Barbara Liskov,barbara@x.org,1,BE,2,
Alex Kim,alex.kim1@x.org,1,FE,3,
Alex Kim,alex.kim2@x.org,1,BE,3,
Donald Knuth,donald@x.org,3,BE,1,
"""

ADA = Participant("Ada Lovelace", "ada@x.org")
ALAN = Participant("Alan Turing", "alan@x.org")
ALAN_PHONE = Participant("Alan's phone", "alan@x.org", zoom_user_id="alan-phone")  # signed in on the app
KEN_GUEST = Participant("Ken T.")  # a guest without email: matched by alias
GRACE = Participant("Grace Hopper", "grace@x.org")
EDSGER = Participant("Edsger Dijkstra", "edsger@x.org")
ALEX_GUEST = Participant("alex kim")  # two students share that name: left unmatched


def at(hhmm: str) -> dt.datetime:
    return utc(f"2027-01-06 {hhmm}")


def import_roster(runtime: Runtime) -> None:
    students = parse_roster(ROSTER.encode(), filename="roster.csv", modules=runtime.calendar.module_numbers)
    changes = roster_changes(runtime.storage.students(active_only=False), students)
    runtime.storage.apply_roster(changes, today=dt.date(2027, 1, 5), now=runtime.now())


def play_session(sandbox, meeting_id: str, clock) -> None:
    """The scripted Wednesday; the clock follows the events."""

    def step(hhmm: str, action, *args, **kwargs):
        clock.now = at(hhmm)
        action(meeting_id, *args, at(hhmm), **kwargs)

    clock.now = at("19:58")
    sandbox.start_instance(meeting_id, at("19:58"))
    step("19:59", sandbox.join, ADA)  # early: counted from 13:00
    step("20:00", sandbox.join, ALAN)
    step("20:00", sandbox.join, EDSGER)
    step("20:02", sandbox.join, KEN_GUEST, duplicate=True)  # delivered twice
    step("20:03", sandbox.join, ALEX_GUEST)
    clock.now = at("20:05")
    sandbox.open_rooms(meeting_id, at("20:05"))  # Zoom places Ada and Alan in 1, Edsger in 2
    step("20:05", sandbox.join_breakout, KEN_GUEST, "Breakout Room 1")  # a guest picks his room
    step("20:06", sandbox.join_breakout, ALAN, "Breakout Room 2")  # the wrong room
    step("20:15", sandbox.join, GRACE)  # 15 minutes late, straight into her room
    step("20:20", sandbox.leave, ADA, duplicate=True)  # drops out of Zoom from her room
    step("20:20", sandbox.leave, EDSGER)  # leaves early for good, from his room
    step("20:25", sandbox.join, ADA)  # rejoins, straight back into her room
    step("20:30", sandbox.join, ALAN_PHONE)  # a second device, overlapping; placed in room 1
    step("20:40", sandbox.leave, ALAN)
    clock.now = at("21:00")
    sandbox.end_instance(meeting_id, at("21:00"))


@pytest.fixture
def flow(sandbox_runtime, sandbox, live_app, clock):
    import_roster(sandbox_runtime)
    meeting_id = sync_homeroom(sandbox_runtime, 1).zoom_meeting_id
    sandbox.connect_webhooks(f"{live_app.url}/webhooks/zoom")
    return sandbox_runtime, sandbox, meeting_id


def records_by_email(runtime: Runtime, **filters) -> dict[str, dict]:
    rows = attendance.records(runtime, **filters)
    return {row["email"]: row for row in rows}


EXPECTED = {
    # email: (status, minutes, first join, in assigned room), by hand from the script:
    # Ada 13:00-13:20 + 13:25-14:00; Alan's laptop 13:00-13:40 and phone 13:30-14:00, most of his room
    # time (34 of 65 minutes) in room 2 while group 1 sat in room 1; Ken 13:02-14:00; Grace 13:15-14:00;
    # Edsger 13:00-13:20.
    "ada@x.org": ("present", 55, "2027-01-06T19:59:00Z", True),
    "alan@x.org": ("present", 60, "2027-01-06T20:00:00Z", False),
    "ken@x.org": ("present", 58, "2027-01-06T20:02:00Z", True),
    "grace@x.org": ("late", 45, "2027-01-06T20:15:00Z", True),
    "edsger@x.org": ("partial", 20, "2027-01-06T20:00:00Z", True),
    "barbara@x.org": ("absent", 0, None, None),
    "alex.kim1@x.org": ("absent", 0, None, None),
    "alex.kim2@x.org": ("absent", 0, None, None),
}


def test_scripted_session_through_signed_webhooks(flow, clock):
    runtime, sandbox, meeting_id = flow
    play_session(sandbox, meeting_id, clock)
    records = records_by_email(runtime, module=1, week=1)
    got = {
        email: (r["status"], r["minutes"], r["first_join"], r["in_assigned_room"])
        for email, r in records.items()
    }
    assert got == EXPECTED
    assert all(
        r["group"] in (1, 2, 3) and r["kind"] == "homeroom" and r["date"] == "2027-01-06"
        for r in records.values()
    )

    session = runtime.storage.session("homeroom:1:2027-01-06")
    assert session.ended_at == at("21:00")
    (unmatched,) = runtime.storage.unmatched_rows(session_id=session.id)
    assert unmatched.name == "alex kim" and unmatched.minutes == 57
    kims = {runtime.storage.student_by_email(e).id for e in ("alex.kim1@x.org", "alex.kim2@x.org")}
    assert {student.id for student in attendance.read(runtime).candidates(unmatched)} == kims
    duplicates = runtime.storage.db.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0]
    assert duplicates == len(
        sandbox.events
    )  # every event stored once, duplicates included in sandbox.events once


def test_a_reps_match_is_remembered_and_recomputed(flow, clock, runner):
    runtime, sandbox, meeting_id = flow
    play_session(sandbox, meeting_id, clock)
    attendance.records(runtime)
    (unmatched,) = runtime.storage.unmatched_rows()
    result = runner.invoke(
        cli,
        [
            "attendance",
            "match",
            "homeroom:1:2027-01-06",
            unmatched.ident,
            "--student",
            "alex.kim2@x.org",
            "--by",
            "rep@x.org",
        ],
        obj=runtime,
    )
    assert result.exit_code == 0, result.output
    records = records_by_email(runtime, module=1, week=1)
    assert (records["alex.kim2@x.org"]["status"], records["alex.kim2@x.org"]["minutes"]) == ("present", 57)
    assert runtime.storage.unmatched_rows() == []
    assert runtime.storage.confirmed_matches() == {
        ("name", "alex kim"): runtime.storage.student_by_email("alex.kim2@x.org").id
    }


def test_overrides_win_and_keep_who_and_when(flow, clock, runner):
    runtime, sandbox, meeting_id = flow
    play_session(sandbox, meeting_id, clock)
    result = runner.invoke(
        cli,
        [
            "attendance",
            "excuse",
            "homeroom:1:2027-01-06",
            "barbara@x.org",
            "--note",
            "doctor",
            "--by",
            "rep@x.org",
        ],
        obj=runtime,
    )
    assert result.exit_code == 0, result.output
    attendance.refresh(runtime.storage, runtime.calendar)
    row = next(r for r in runtime.storage.attendance_rows(week=1) if r.email == "barbara@x.org")
    assert (row.status, row.computed_status, row.override_note, row.override_by) == (
        "excused",
        "absent",
        "doctor",
        "rep@x.org",
    )
    missing_note = runner.invoke(
        cli, ["attendance", "excuse", "homeroom:1:2027-01-06", "ada@x.org"], obj=runtime
    )
    assert missing_note.exit_code == 1 and "note" in missing_note.output


def test_backfill_fills_a_session_whose_webhooks_never_arrived(flow, clock):
    runtime, sandbox, meeting_id = flow
    sandbox.deliver_webhooks = False
    play_session(sandbox, meeting_id, clock)
    session = runtime.storage.session("homeroom:1:2027-01-06")
    assert runtime.storage.presence(session.id) == []
    clock.now = at("21:50")
    jobs.finalize_session(session.key, runtime=runtime)
    session = runtime.storage.session(session.key)
    assert session.final
    records = records_by_email(runtime, module=1, week=1)
    got = {
        email: (r["status"], r["minutes"], r["first_join"], r["in_assigned_room"])
        for email, r in records.items()
    }
    # The report hides outsiders' emails, so only the breakout events told that "Alan's phone" is Alan:
    # from the report alone he has his laptop's 13:00-13:40. Rooms come from the rows' bo_mtg_id.
    assert got == {**EXPECTED, "alan@x.org": ("present", 40, "2027-01-06T20:00:00Z", False)}
    unmatched = {row.name: row.minutes for row in runtime.storage.unmatched_rows(session_id=session.id)}
    assert unmatched == {"alex kim": 57, "Alan's phone": 30}


def test_backfill_agrees_with_the_webhook_record(flow, clock):
    runtime, sandbox, meeting_id = flow
    play_session(sandbox, meeting_id, clock)
    before = records_by_email(runtime, module=1, week=1)
    clock.now = at("21:50")
    result = backfill.backfill(runtime, runtime.storage.session("homeroom:1:2027-01-06"))
    assert result.final, result.message
    after = records_by_email(runtime, module=1, week=1)
    assert after == before


def test_backfill_stays_pending_while_zoom_fails_and_says_why(flow, clock, runner):
    runtime, sandbox, meeting_id = flow
    play_session(sandbox, meeting_id, clock)
    clock.now = at("21:50")
    sandbox.faults.add(500, times=50, path_prefix="/v2/past_meetings")
    result = runner.invoke(cli, ["backfill", "--module", "1", "--week", "1"], obj=runtime)
    assert result.exit_code == 1
    assert "homeroom:1:2027-01-06: pending: Zoom API 500" in result.output
    session = runtime.storage.session("homeroom:1:2027-01-06")
    assert not session.final and "500" in session.backfill_error
    sandbox.faults.clear()
    result = runner.invoke(cli, ["backfill", "--module", "1", "--week", "1"], obj=runtime)
    assert result.exit_code == 0, result.output
    assert runtime.storage.session("homeroom:1:2027-01-06").final


def test_attendance_command_formats(flow, clock, runner):
    runtime, sandbox, meeting_id = flow
    play_session(sandbox, meeting_id, clock)
    import json

    result = runner.invoke(
        cli, ["attendance", "--module", "1", "--week", "1", "--format", "json"], obj=runtime
    )
    records = json.loads(result.output)["records"]
    assert len(records) == 8
    assert set(records[0]) == set(attendance.RECORD_FIELDS)
    csv_out = runner.invoke(cli, ["attendance", "--week", "1", "--format", "csv"], obj=runtime).output
    assert csv_out.splitlines()[0] == ",".join(attendance.RECORD_FIELDS)
    table = runner.invoke(cli, ["attendance", "--week", "1"], obj=runtime).output
    assert "grace@x.org" in table and "late" in table
    unmatched = runner.invoke(cli, ["attendance", "unmatched"], obj=runtime).output
    assert (
        "alex kim" in unmatched
        and "candidates: Alex Kim <alex.kim1@x.org>; Alex Kim <alex.kim2@x.org>" in unmatched
    )
