"""Sync against the Zoom sandbox over real HTTP: create once, no write when nothing changed, one PATCH
per roster change, hand edits restored, deleted meetings recreated, skipped occurrences deleted."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest

from tests.factories import make_calendar, utc
from zoom_homeroom.cli import cli
from zoom_homeroom.core.roster import parse_roster, roster_changes
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.services.sync import SyncError, homeroom_plan, sync_homeroom

DENVER = ZoneInfo("America/Denver")
ROSTER = """name,email,module,program,group
Ada Lovelace,ada@x.org,1,BE,1
Alan Turing,alan@x.org,1,FE,1
Grace Hopper,grace@x.org,1,BE,2
Edsger Dijkstra,edsger@x.org,1,FE,2
Barbara Liskov,barbara@x.org,1,BE,3
Ken Thompson,ken@x.org,2,FE,1
Donald Knuth,donald@x.org,3,BE,1
Frances Allen,frances@x.org,4,FE,1
"""


def import_roster(runtime: Runtime, text: str) -> None:
    students = parse_roster(text.encode(), filename="roster.csv", modules=runtime.calendar.module_numbers)
    changes = roster_changes(runtime.storage.students(active_only=False), students)
    runtime.storage.apply_roster(changes, today=dt.date(2027, 1, 5), now=runtime.now())


def writes(sandbox) -> int:
    return sum(sandbox.count_calls(method, "/v2/") for method in ("POST", "PATCH", "DELETE"))


def rooms_of(sandbox, meeting_id) -> dict[str, list[str]]:
    rooms = sandbox.meeting(meeting_id)["settings"]["breakout_room"]["rooms"]
    return {room["name"]: sorted(room["participants"]) for room in rooms}


@pytest.fixture
def synced(sandbox_runtime, sandbox):
    import_roster(sandbox_runtime, ROSTER)
    result = sync_homeroom(sandbox_runtime, 1)
    return result


def test_first_sync_creates_the_series_with_rooms_by_group(synced, sandbox, sandbox_runtime, openapi_spec):
    assert synced.actions == [f"created meeting {synced.zoom_meeting_id}"]
    assert sandbox.count_calls("POST", "/v2/users/") == 1
    meeting = sandbox.meeting(synced.zoom_meeting_id)
    assert meeting["type"] == 8
    assert meeting["topic"] == "Homeroom: Mod 1"
    assert meeting["recurrence"]["weekly_days"] == "4"
    assert meeting["recurrence"]["end_times"] == 5
    assert meeting["duration"] == 60
    assert meeting["timezone"] == "America/Denver"
    starts = [
        dt.datetime.fromisoformat(o["start_time"].replace("Z", "+00:00")) for o in meeting["occurrences"]
    ]
    assert len(starts) == 5
    assert {start.astimezone(DENVER).strftime("%a %H:%M") for start in starts} == {"Wed 13:00"}
    assert rooms_of(sandbox, synced.zoom_meeting_id) == {
        "Breakout Room 1": ["ada@x.org", "alan@x.org"],
        "Breakout Room 2": ["edsger@x.org", "grace@x.org"],
        "Breakout Room 3": ["barbara@x.org"],
    }
    spec, _, _ = homeroom_plan(sandbox_runtime, 1)
    openapi_spec.validate_request("POST", "/users/mod1@school.example.org/meetings", spec.body)


def test_sync_stores_sessions_with_occurrences_and_members(synced, sandbox_runtime):
    sessions = sandbox_runtime.storage.sessions(module=1)
    assert [s.week for s in sessions] == [1, 2, 3, 4, 5]
    assert all(s.occurrence_id and s.zoom_meeting_id == synced.zoom_meeting_id for s in sessions)
    week2 = sessions[1]
    assert week2.start == utc("2027-01-13 20:00") and week2.end == utc("2027-01-13 20:30")  # Mix It Up week
    members = sandbox_runtime.storage.session_members(sessions[0].id)
    assert sorted(group for _, group in members) == [1, 1, 2, 2, 3]
    # Mix It Up's dates are known from the calendar before its meeting exists.
    mix = sandbox_runtime.storage.sessions(kind="mix_it_up")
    assert [(s.week, s.date.isoformat(), s.zoom_meeting_id) for s in mix] == [
        (2, "2027-01-13", None),
        (4, "2027-01-27", None),
    ]


def test_second_sync_makes_no_write_call(synced, sandbox, sandbox_runtime):
    before = writes(sandbox)
    result = sync_homeroom(sandbox_runtime, 1)
    assert result.actions == []
    assert writes(sandbox) == before
    assert sandbox.count_calls("GET", "/v2/meetings/") >= 1


def test_moving_one_student_makes_exactly_one_patch(synced, sandbox, sandbox_runtime):
    import_roster(
        sandbox_runtime, ROSTER.replace("Ada Lovelace,ada@x.org,1,BE,1", "Ada Lovelace,ada@x.org,1,BE,3")
    )
    before_posts, before_patches = sandbox.count_calls("POST", "/v2/"), sandbox.count_calls("PATCH")
    result = sync_homeroom(sandbox_runtime, 1)
    assert sandbox.count_calls("PATCH") == before_patches + 1
    assert sandbox.count_calls("POST", "/v2/") == before_posts
    assert "ada@x.org moved from Breakout Room 1 to Breakout Room 3" in result.actions[0]
    rooms = rooms_of(sandbox, synced.zoom_meeting_id)
    assert rooms["Breakout Room 1"] == ["alan@x.org"]
    assert rooms["Breakout Room 3"] == ["ada@x.org", "barbara@x.org"]
    assert sync_homeroom(sandbox_runtime, 1).actions == []


def test_rooms_edited_by_hand_in_zoom_are_restored_and_reported(synced, sandbox, sandbox_runtime):
    sandbox.edit_rooms_by_hand(
        synced.zoom_meeting_id, [{"name": "Breakout Room 1", "participants": ["x@y.org"]}]
    )
    result = sync_homeroom(sandbox_runtime, 1)
    assert result.actions[0].startswith("updated: restored what was edited in Zoom: rooms:")
    assert rooms_of(sandbox, synced.zoom_meeting_id)["Breakout Room 2"] == ["edsger@x.org", "grace@x.org"]


def test_a_meeting_deleted_in_zoom_is_created_again_and_reported(synced, sandbox, sandbox_runtime):
    sandbox.delete_meeting_behind_your_back(synced.zoom_meeting_id)
    result = sync_homeroom(sandbox_runtime, 1)
    assert result.actions[0] == f"meeting {synced.zoom_meeting_id} was deleted in Zoom"
    assert result.actions[1].startswith("created again meeting ") and "join link changed" in result.actions[1]
    assert result.zoom_meeting_id != synced.zoom_meeting_id
    stored = sandbox_runtime.storage.meeting(result.key)
    assert stored.zoom_meeting_id == result.zoom_meeting_id
    assert all(
        s.zoom_meeting_id == result.zoom_meeting_id for s in sandbox_runtime.storage.sessions(module=1)
    )


def test_a_skipped_date_occurrence_is_deleted(sandbox_env, sandbox, clock, sleep):
    from zoom_homeroom.settings import load_settings

    doc_modules = [
        {
            "number": 1,
            "host": "mod1@school.example.org",
            "week1_monday": "2027-01-04",
            "skip": ["2027-01-20"],
        },
        {"number": 2, "host": "mod2@school.example.org", "week1_monday": "2027-01-04", "skip": []},
    ]
    calendar = make_calendar(
        modules=doc_modules,
        mix_it_up={**_mix(), "upper_modules": [2]},
    )
    runtime = Runtime(load_settings(sandbox_env), clock=clock, sleep=sleep, calendar_override=calendar)
    import_roster(runtime, "name,email,module,program,group\nAda,ada@x.org,1,BE,1\n")
    result = sync_homeroom(runtime, 1)
    assert result.actions[-1] == "deleted the occurrence on 2027-01-20 (skipped)"
    occurrences = sandbox.meeting(result.zoom_meeting_id)["occurrences"]
    dates = [
        dt.datetime.fromisoformat(o["start_time"].replace("Z", "+00:00")).astimezone(DENVER).date()
        for o in occurrences
    ]
    assert dt.date(2027, 1, 20) not in dates and len(dates) == 4
    assert [s.week for s in runtime.storage.sessions(module=1)] == [1, 2, 4, 5]
    assert sync_homeroom(runtime, 1).actions == []
    runtime.close()


def _mix():
    from tests.factories import CALENDAR_DOC

    return dict(CALENDAR_DOC["mix_it_up"])


def test_two_syncs_at_once_create_one_meeting(sandbox_env, sandbox, calendar, clock):
    from zoom_homeroom.settings import load_settings

    settings = load_settings(sandbox_env)
    first = Runtime(settings, clock=clock, sleep=lambda s: None, calendar_override=calendar)
    import_roster(first, ROSTER)
    results, errors = [], []

    def run():
        runtime = Runtime(
            settings, clock=clock, sleep=lambda s: threading.Event().wait(0.01), calendar_override=calendar
        )
        try:
            results.append(sync_homeroom(runtime, 1))
        except SyncError as error:
            errors.append(error)
        finally:
            runtime.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sandbox.count_calls("POST", "/v2/users/") == 1
    assert len({r.zoom_meeting_id for r in results}) == 1
    first.close()


def test_a_failed_create_records_nothing_and_says_why(sandbox_runtime, sandbox):
    import_roster(sandbox_runtime, ROSTER)
    sandbox.faults.add(500, times=20, method="POST", path_prefix="/v2/users/")
    with pytest.raises(SyncError, match="Mod 1: Zoom API 500"):
        sync_homeroom(sandbox_runtime, 1)
    assert sandbox_runtime.storage.meeting("homeroom:1:2027-01-04") is None
    assert sandbox_runtime.storage.sessions(module=1) == []


def test_a_meeting_created_before_a_crash_is_adopted_not_duplicated(synced, sandbox, sandbox_runtime):
    sandbox_runtime.storage.db.execute("DELETE FROM sessions")
    sandbox_runtime.storage.db.execute("DELETE FROM meetings")  # Zoom made it; our record was lost
    result = sync_homeroom(sandbox_runtime, 1)
    assert sandbox.count_calls("POST", "/v2/users/") == 1
    assert result.zoom_meeting_id == synced.zoom_meeting_id or result.actions[0].startswith("found meeting")
    assert sandbox_runtime.storage.meeting(synced.key).zoom_meeting_id == synced.zoom_meeting_id


def test_the_daily_create_update_budget_is_kept(synced, sandbox, sandbox_runtime):
    day = sandbox_runtime.now().date()
    for _ in range(99):
        sandbox_runtime.storage.count_zoom_write("mod1@school.example.org", day)
    import_roster(
        sandbox_runtime, ROSTER.replace("Alan Turing,alan@x.org,1,FE,1", "Alan Turing,alan@x.org,1,FE,2")
    )
    with pytest.raises(SyncError, match="Zoom allows 100 per host per day and resets at 00:00 UTC"):
        sync_homeroom(sandbox_runtime, 1)
    assert rooms_of(sandbox, synced.zoom_meeting_id)["Breakout Room 1"] == ["ada@x.org", "alan@x.org"]


def test_the_weeks_prompt_becomes_the_agenda(sandbox_runtime, sandbox, tmp_path):
    prompts = sandbox_runtime.settings.config_path.parent / "prompts" / "mod1"
    prompts.mkdir(parents=True)
    (prompts / "week1.md").write_text("What did you ship this week?\n")
    (prompts / "week2.md").write_text("Pair on a bug you are stuck on.\n")
    import_roster(sandbox_runtime, ROSTER)
    result = sync_homeroom(sandbox_runtime, 1)
    assert sandbox.meeting(result.zoom_meeting_id)["agenda"] == "What did you ship this week?"
    sandbox_runtime.clock.advance(days=7)  # now week 2 is next: one PATCH of the agenda
    before = sandbox.count_calls("PATCH")
    sync_homeroom(sandbox_runtime, 1)
    assert sandbox.count_calls("PATCH") == before + 1
    assert sandbox.meeting(result.zoom_meeting_id)["agenda"] == "Pair on a bug you are stuck on."


def test_sync_command_prints_changes_and_exits_non_zero_on_failure(runner, sandbox_runtime, sandbox):
    import_roster(sandbox_runtime, ROSTER)
    result = runner.invoke(cli, ["sync"], obj=sandbox_runtime)
    assert result.exit_code == 0, result.output
    for module in (1, 2, 3, 4):
        assert f"Mod {module}: created meeting" in result.output
    assert "join: http" in result.output
    assert runner.invoke(cli, ["sync"], obj=sandbox_runtime).output.count("up to date") == 4

    sandbox.invalidate_tokens()
    sandbox.faults.add(500, times=50, method="GET")
    result = runner.invoke(cli, ["sync", "--module", "2"], obj=sandbox_runtime)
    assert result.exit_code == 1
    assert "Mod 2: failed:" in result.output and "Traceback" not in result.output


def test_dry_run_reads_but_never_writes(runner, sandbox_runtime, sandbox):
    import_roster(sandbox_runtime, ROSTER)
    result = runner.invoke(cli, ["sync", "--dry-run", "--module", "1"], obj=sandbox_runtime)
    assert result.exit_code == 0, result.output
    assert "would create the meeting for mod1@school.example.org" in result.output
    assert writes(sandbox) == 0
    assert sandbox_runtime.storage.sessions() == []


def test_plan_shows_sessions_rooms_and_pending_changes_without_calling_zoom(runner, runtime):
    import_roster(runtime, ROSTER)
    result = runner.invoke(cli, ["plan", "--module", "1"], obj=runtime)
    assert result.exit_code == 0, result.output
    assert "Mod 1 (host mod1@school.example.org): create" in result.output
    assert "week 1  2027-01-06 13:00 MST-14:00 MST  (UTC 2027-01-06T20:00:00Z" in result.output
    assert "week 2  2027-01-13 13:00 MST-13:30 MST" in result.output
    assert "Breakout Room 1: Ada Lovelace <ada@x.org>, Alan Turing <alan@x.org>" in result.output

    import json

    result = runner.invoke(cli, ["plan", "--json"], obj=runtime)
    plan = json.loads(result.output)
    assert [m["module"] for m in plan["modules"]] == [1, 2, 3, 4]
    assert plan["modules"][0]["meeting"]["status"] == "create"
    assert plan["modules"][0]["sessions"][0]["start_utc"] == "2027-01-06T20:00:00Z"


def test_unknown_module_is_a_clear_error(runner, runtime):
    result = runner.invoke(cli, ["sync", "--module", "9"], obj=runtime)
    assert result.exit_code == 1
    assert "module 9 is not in the calendar" in result.output


def test_a_schedule_change_after_the_series_began_is_reported_not_patched_again_and_again(
    synced, sandbox, sandbox_runtime, clock
):
    from tests.factories import CALENDAR_DOC

    clock.advance(days=8)  # week 2: the series has begun
    sessions = {**CALENDAR_DOC["sessions"], "start": "12:00"}
    later = Runtime(
        sandbox_runtime.settings,
        clock=clock,
        sleep=sandbox_runtime.sleep,
        calendar_override=make_calendar(sessions=sessions, mix_it_up={**_mix(), "start": "12:30"}),
    )
    patches = sandbox.count_calls("PATCH")
    for _ in range(2):
        result = sync_homeroom(later, 1)
        assert any("series has begun" in action for action in result.actions)
    assert sandbox.count_calls("PATCH") - patches <= 1  # the agenda or rooms at most, never a loop
    later.close()
