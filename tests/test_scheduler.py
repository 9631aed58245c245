"""The scheduler: which jobs it registers (fixed ids, catch-up within the grace period) and the job
functions themselves, called with a fake clock against the sandbox."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from tests.factories import make_calendar, utc
from zoom_homeroom.core.roster import parse_roster, roster_changes
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.scheduler import _log_event, build_scheduler, planned_jobs, register_jobs
from zoom_homeroom.services import jobs

ROSTER = "name,email,module,program,group\nAda,ada@x.org,1,BE,1\nDon,don@x.org,3,FE,1\n"


def import_roster(runtime: Runtime) -> None:
    students = parse_roster(ROSTER.encode(), filename="r.csv", modules=runtime.calendar.module_numbers)
    runtime.storage.apply_roster(roster_changes([], students), today=dt.date(2027, 1, 5), now=runtime.now())


def test_jobs_for_a_session_sync_twice_before_and_finalize_after(calendar):
    jobs_ = {job.id: job for job in planned_jobs(calendar, utc("2027-01-01 00:00"))}
    before_24h = jobs_["sync:homeroom:1:2027-01-06:24h"]
    assert before_24h.run_at == utc("2027-01-05 20:00")
    assert (before_24h.func, before_24h.args) == ("zoom_homeroom.services.jobs:sync_module", (1,))
    assert jobs_["sync:homeroom:1:2027-01-06:1h"].run_at == utc("2027-01-06 19:00")
    assert jobs_["finalize:homeroom:1:2027-01-06"].run_at == utc("2027-01-06 21:45")
    # Mix It Up weeks: the homeroom half ends at 13:30, and the Mix It Up meeting has its own jobs.
    assert jobs_["finalize:homeroom:1:2027-01-13"].run_at == utc("2027-01-13 21:15")
    mix = jobs_["sync:mix_it_up:2027-01-13:24h"]
    assert (mix.func, mix.args, mix.run_at) == (
        "zoom_homeroom.services.jobs:sync_mix_it_up",
        (2,),
        utc("2027-01-12 20:30"),
    )
    assert jobs_["finalize:mix_it_up:2027-01-27"].run_at == utc("2027-01-27 21:45")
    assert len(jobs_) == 4 * 5 * 3 + 2 * 3  # per session: two syncs and a finalize


def test_jobs_across_the_march_dst_change_keep_local_time():
    calendar = make_calendar(
        modules=[{"number": 1, "host": "m@x.org", "week1_monday": "2027-03-01", "skip": []}],
        mix_it_up={
            "weeks": [2, 4],
            "start": "13:30",
            "duration_minutes": 30,
            "host": "c@x.org",
            "group_size": [4, 6],
            "upper_modules": [1],
        },
    )
    runs = {job.id: job.run_at for job in planned_jobs(calendar, utc("2027-02-01 00:00"))}
    assert runs["sync:homeroom:1:2027-03-10:1h"] == utc("2027-03-10 19:00")  # MST
    assert runs["sync:homeroom:1:2027-03-17:1h"] == utc("2027-03-17 18:00")  # MDT


def test_missed_jobs_within_the_grace_period_are_caught_up_once(calendar):
    now = utc("2027-01-06 20:30")  # the scheduler was down at 19:00 (the 1-hour sync)
    ids = [job.id for job in planned_jobs(calendar, now)]
    assert "sync:homeroom:1:2027-01-06:1h" in ids  # 90 minutes late, grace is 120
    assert "sync:homeroom:1:2027-01-06:24h" not in ids  # a day late: past the grace period
    refreshed = [job.id for job in planned_jobs(calendar, now, include_missed=False)]
    assert "sync:homeroom:1:2027-01-06:1h" not in refreshed  # a refresh never runs it twice


def test_registering_twice_replaces_and_never_duplicates(calendar):
    scheduler = BackgroundScheduler(timezone=calendar.timezone)
    scheduler.start(paused=True)  # as after start-up, when the refresh job re-registers
    try:
        first = register_jobs(scheduler, calendar, utc("2027-01-01 00:00"))
        register_jobs(scheduler, calendar, utc("2027-01-01 00:00"), include_missed=False)
        ids = [job.id for job in scheduler.get_jobs()]
    finally:
        scheduler.shutdown(wait=False)
    assert len(ids) == len(set(ids)) == len(first) + 2
    assert {"finalize-pending", "process-deliveries"} <= set(ids)


def test_build_scheduler_registers_calendar_jobs_with_safe_defaults(runtime):
    scheduler = build_scheduler(runtime)
    jobs_ = {job.id: job for job in scheduler.get_jobs()}
    assert {"finalize-pending", "refresh-jobs", "sync:homeroom:1:2027-01-06:24h"} <= set(jobs_)
    assert jobs_["sync:homeroom:2:2027-01-06:1h"].args == (2,)
    # Applied to each job when the scheduler starts (APScheduler keeps them as defaults until then).
    assert scheduler._job_defaults == {"coalesce": True, "max_instances": 1, "misfire_grace_time": 120 * 60}


def test_a_failing_job_is_logged_and_does_not_stop_the_others(caplog):
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    done = {"broken": threading.Event(), "fine": threading.Event()}
    scheduler = BackgroundScheduler(job_defaults={"misfire_grace_time": 60})
    scheduler.add_listener(_log_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.add_listener(lambda event: done[event.job_id].set(), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def broken():
        raise RuntimeError("Zoom is down")

    scheduler.add_job(broken, id="broken")
    scheduler.add_job(lambda: None, id="fine")
    with caplog.at_level(logging.INFO, logger="zoom_homeroom.scheduler"):
        scheduler.start()
        try:
            assert done["broken"].wait(5) and done["fine"].wait(5)
        finally:
            scheduler.shutdown(wait=True)
    messages = [record.getMessage() for record in caplog.records]
    assert "job broken failed: Zoom is down" in messages
    assert "job fine ran" in messages


def test_sync_job_creates_then_leaves_the_meeting_alone(sandbox_runtime, sandbox):
    import_roster(sandbox_runtime)
    jobs.sync_module(1, runtime=sandbox_runtime)
    jobs.sync_module(1, runtime=sandbox_runtime)
    assert sandbox.count_calls("POST", "/v2/users/") == 1
    assert sandbox.count_calls("PATCH") == 0


def test_finalize_job_waits_for_the_end_then_backfills(sandbox_runtime, sandbox, clock):
    from zoom_homeroom.sandbox import Participant

    import_roster(sandbox_runtime)
    jobs.sync_module(1, runtime=sandbox_runtime)
    meeting_id = sandbox_runtime.storage.session("homeroom:1:2027-01-06").zoom_meeting_id
    clock.now = utc("2027-01-06 20:30")
    jobs.finalize_session("homeroom:1:2027-01-06", runtime=sandbox_runtime)
    assert not sandbox_runtime.storage.session("homeroom:1:2027-01-06").final  # not over yet

    sandbox.start_instance(meeting_id, utc("2027-01-06 20:00"))
    sandbox.join(meeting_id, Participant("Ada", "ada@x.org"), utc("2027-01-06 20:01"))
    sandbox.end_instance(meeting_id, utc("2027-01-06 21:00"))
    clock.now = utc("2027-01-06 21:45")
    jobs.finalize_pending(runtime=sandbox_runtime)
    session = sandbox_runtime.storage.session("homeroom:1:2027-01-06")
    assert session.final
    row = next(r for r in sandbox_runtime.storage.attendance_rows(session_id=session.id))
    assert (row.email, row.status, row.minutes) == ("ada@x.org", "present", 59)
    # Later sessions are not due yet and stay pending.
    assert not sandbox_runtime.storage.session("homeroom:1:2027-01-13").final


def test_a_meeting_never_held_becomes_final_after_a_day(sandbox_runtime, clock):
    import_roster(sandbox_runtime)
    jobs.sync_module(1, runtime=sandbox_runtime)
    clock.now = utc("2027-01-06 22:00")
    jobs.finalize_session("homeroom:1:2027-01-06", runtime=sandbox_runtime)
    session = sandbox_runtime.storage.session("homeroom:1:2027-01-06")
    assert not session.final and "no ended instance" in session.backfill_error
    clock.now = utc("2027-01-07 22:00")
    jobs.finalize_session("homeroom:1:2027-01-06", runtime=sandbox_runtime)
    assert sandbox_runtime.storage.session("homeroom:1:2027-01-06").final


def test_automatic_backfill_gives_up_after_its_attempts(sandbox_runtime, sandbox, clock):
    from zoom_homeroom.services.backfill import MAX_AUTOMATIC_BACKFILLS, due_for_backfill

    import_roster(sandbox_runtime)
    jobs.sync_module(1, runtime=sandbox_runtime)
    storage = sandbox_runtime.storage
    session = storage.session("homeroom:1:2027-01-06")
    clock.now = utc("2027-01-06 22:00")
    assert [s.key for s in due_for_backfill(storage, sandbox_runtime.calendar, clock())] == [session.key]
    for _ in range(MAX_AUTOMATIC_BACKFILLS):
        storage.note_backfill_failure(session.id, "Zoom API 500")
    assert due_for_backfill(storage, sandbox_runtime.calendar, clock()) == []
    before = sandbox.count_calls()
    jobs.finalize_pending(runtime=sandbox_runtime)
    assert sandbox.count_calls() == before  # no more calls to Zoom for it


def test_the_scheduler_process_shares_one_zoom_and_one_slack_client_across_jobs(env, monkeypatch):
    for key, value in {**env, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(jobs, "runtime_factory", jobs.runtime_factory)  # restored after the test
    jobs.share_clients()
    first, second = jobs.runtime_factory(), jobs.runtime_factory()
    try:
        assert first.zoom is second.zoom  # one OAuth token, renewed once an hour, for every job
        assert first.slack is second.slack  # one cache of Slack users' emails
        assert first.storage is not second.storage  # each run still has its own connection
    finally:
        first.close()
        second.close()
