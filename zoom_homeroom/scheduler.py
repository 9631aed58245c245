"""The scheduler process (`homeroom scheduler`): APScheduler 3 in its own process, never in the web app.

Jobs are computed from the calendar (syncs, finalising and, where `[slack]` says where to post, the
weekly prompts and closing the Mix It Up poll) at start-up and every few hours, so calendar edits are
picked up, with fixed ids, so registering them again replaces rather than duplicates. Date jobs in the past
are registered when they are within the misfire grace period: a scheduler that was down catches up
once (coalesce) on what it missed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from .core.models import HOMEROOM, Calendar, PlannedSession
from .core.planning import local_to_utc, plan_sessions, poll_closes_at
from .runtime import Runtime
from .settings import load_calendar

log = logging.getLogger(__name__)

JOBS = "zoom_homeroom.services.jobs"
REFRESH_EVERY = dt.timedelta(hours=6)


@dataclass(frozen=True)
class PlannedJob:
    """One run of a job function at a time, with a stable id."""

    id: str
    func: str  # "module:function", resolved by APScheduler
    args: tuple
    run_at: dt.datetime


def planned_jobs(calendar: Calendar, now: dt.datetime, *, include_missed: bool = True) -> list[PlannedJob]:
    """Every date job still due, ordered by time; with `include_missed`, also those missed within
    the grace period (at start-up only: a refresh must not run a job twice). Pure."""
    config = calendar.scheduler
    grace = dt.timedelta(minutes=config.misfire_grace_minutes) if include_missed else dt.timedelta(0)
    finalize_after = dt.timedelta(minutes=config.finalize_after_minutes)
    jobs: list[PlannedJob] = []
    for session in plan_sessions(calendar):
        # A module's meeting is synced by module number, a Mix It Up meeting by its week.
        sync = (
            ("sync_module", (session.module,))
            if session.kind == HOMEROOM
            else ("sync_mix_it_up", (session.week,))
        )
        for minutes in config.sync_before_minutes:
            run_at = session.start - dt.timedelta(minutes=minutes)
            job_id = f"sync:{session.key}:{_before_label(minutes)}"
            jobs.append(PlannedJob(job_id, f"{JOBS}:{sync[0]}", sync[1], run_at))
        jobs.append(
            PlannedJob(
                f"finalize:{session.key}",
                f"{JOBS}:finalize_session",
                (session.key,),
                session.end + finalize_after,
            )
        )
        jobs.extend(_slack_jobs(calendar, session))
    earliest = now - grace if include_missed else now + dt.timedelta(microseconds=1)
    return sorted((job for job in jobs if job.run_at >= earliest), key=lambda job: (job.run_at, job.id))


def _slack_jobs(calendar: Calendar, session: PlannedSession) -> list[PlannedJob]:
    """The Slack steps of a session, where the calendar says where to post: the module's prompt on the
    morning of its session, and the Mix It Up poll closed before its groups are formed."""
    slack = calendar.slack
    if session.kind == HOMEROOM:
        if calendar.module(session.module).slack_channel is None:
            return []
        at = local_to_utc(session.date, slack.prompt_time, calendar.timezone)
        args = (session.module, session.date.isoformat())
        return [PlannedJob(f"prompt:{session.key}", f"{JOBS}:post_prompt", args, at)]
    if slack.channel is None:
        return []
    at = poll_closes_at(calendar, session)
    return [PlannedJob(f"close_poll:{session.key}", f"{JOBS}:close_poll", (session.week,), at)]


def _before_label(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def register_jobs(
    scheduler: BaseScheduler, calendar: Calendar, now: dt.datetime, *, include_missed: bool = True
) -> list[PlannedJob]:
    """(Re)register the calendar's jobs and the periodic ones; returns the date jobs."""
    jobs = planned_jobs(calendar, now, include_missed=include_missed)
    for job in jobs:
        scheduler.add_job(
            job.func, "date", run_date=job.run_at, args=job.args, id=job.id, replace_existing=True
        )
    scheduler.add_job(
        f"{JOBS}:process_deliveries", "interval", minutes=1, id="process-deliveries", replace_existing=True
    )
    scheduler.add_job(
        f"{JOBS}:finalize_pending",
        "interval",
        minutes=calendar.scheduler.retry_every_minutes,
        id="finalize-pending",
        replace_existing=True,
    )
    return jobs


def build_scheduler(runtime: Runtime) -> BlockingScheduler:
    """A BlockingScheduler with the calendar's jobs, a refresh job and logging of every run."""
    calendar = runtime.calendar
    scheduler = BlockingScheduler(
        timezone=calendar.timezone,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": calendar.scheduler.misfire_grace_minutes * 60,
        },
    )
    scheduler.add_listener(_log_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    jobs = register_jobs(scheduler, calendar, runtime.now())
    scheduler.add_job(
        refresh_jobs,
        "interval",
        seconds=REFRESH_EVERY.total_seconds(),
        args=(scheduler, runtime),
        id="refresh-jobs",
        replace_existing=True,
    )
    log.info("scheduler: %d dated jobs registered; next: %s", len(jobs), jobs[0].id if jobs else "none")
    return scheduler


def refresh_jobs(scheduler: BaseScheduler, runtime: Runtime) -> None:
    """Re-read the calendar and re-register its jobs (same ids: replaced, never doubled)."""
    calendar = load_calendar(runtime.settings.config_path)
    register_jobs(scheduler, calendar, runtime.now(), include_missed=False)


def _log_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_ERROR:
        log.error("job %s failed: %s", event.job_id, event.exception, exc_info=event.exception)
    elif event.code == EVENT_JOB_MISSED:
        log.warning(
            "job %s missed its time (%s) beyond the grace period", event.job_id, event.scheduled_run_time
        )
    else:
        log.info("job %s ran", event.job_id)
