"""Bringing Zoom to the desired state with as few calls as possible.

For each meeting the service owns, the desired body (from the calendar and the roster) is compared with
the body Zoom last accepted (stored) and with Zoom's current meeting (one GET):

- nothing differs: no write call at all;
- something differs: one PATCH carrying only the differing fields (rooms before each session, since Zoom
  keeps one set of breakout pre-assignments per series); hand edits in Zoom's portal are restored and
  reported;
- the meeting is gone from Zoom (404, code 3001): it is created again and the new join link reported;
- skipped dates' occurrences still in Zoom are deleted one by one;
- with registration on, the meeting's registrants are then made equal to its students
  (`services.registration`).

A change is recorded only after Zoom accepted it. A database lock per meeting keeps two syncs (the
scheduler and an admin) from creating two meetings; a host's meetings are searched before any create,
so a meeting created just before a crash is adopted, not duplicated.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.meetings import (
    MeetingSpec,
    agenda_for_week,
    diff_meeting,
    homeroom_meeting_spec,
    occurrences_to_delete,
    patch_body,
    requires_registration,
    start_instant,
    stored_spec_differs,
)
from ..core.models import HOMEROOM, MIX_IT_UP, PlannedSession, StoredMeeting, Student
from ..core.planning import PlanningError, next_session, plan_sessions
from ..core.registration import RegistrationError
from ..core.text import NotUtf8Error, decode_utf8
from ..core.times import parse_utc_text
from ..errors import HomeroomError
from ..runtime import Runtime
from ..zoom import ZoomDailyLimitExceeded, ZoomError, ZoomNotFound
from .intake import process_pending
from .registration import sync_registrations

log = logging.getLogger(__name__)

ZOOM_DAILY_WRITE_LIMIT = 100  # meeting create/update calls per host per UTC day
LOCK_TTL = dt.timedelta(minutes=10)
LOCK_WAIT_SECONDS = 120
LOCK_POLL_SECONDS = 2.0


class SyncError(HomeroomError):
    """A sync could not finish; the message is one line saying what and why. Nothing unaccepted is stored."""


@dataclass
class SyncResult:
    """What one meeting's sync did (or, in a dry run, would do)."""

    key: str
    label: str
    actions: list[str] = field(default_factory=list)
    zoom_meeting_id: str | None = None
    join_url: str | None = None
    writes: int = 0
    created: bool = False  # this sync made the meeting (so Zoom has no registrant for it yet)

    @property
    def changed(self) -> bool:
        return bool(self.actions)


# -- desired state -----------------------------------------------------------------------------------


def read_prompts(config_path: Path, module: int) -> dict[int, str]:
    """The module's weekly discussion prompts, `config/prompts/mod<N>/week<W>.md`, by week."""
    folder = config_path.parent / "prompts" / f"mod{module}"
    prompts: dict[int, str] = {}
    if not folder.is_dir():
        return prompts
    for path in sorted(folder.glob("week*.md")):
        number = path.stem.removeprefix("week")
        if number.isdigit():
            try:
                prompts[int(number)] = decode_utf8(path.read_bytes())
            except NotUtf8Error as error:
                raise SyncError(f"{path} {error}") from None
            except OSError as error:
                raise SyncError(f"{path}: cannot be read: {error.strerror or error}") from None
    return prompts


def homeroom_plan(runtime: Runtime, module: int) -> tuple[MeetingSpec, list[PlannedSession], list[Student]]:
    """The desired series for a module, its planned sessions and its active students."""
    calendar = runtime.calendar
    if module not in calendar.module_numbers:
        known = ", ".join(str(n) for n in calendar.module_numbers)
        raise SyncError(f"module {module} is not in the calendar (modules: {known})")
    students = runtime.storage.students(module=module)
    sessions = plan_sessions(calendar, module=module, kinds=(HOMEROOM,))
    upcoming = next_session(sessions, runtime.now()) or (sessions[-1] if sessions else None)
    prompts = read_prompts(runtime.settings.config_path, module)
    agenda = agenda_for_week(prompts, upcoming.week) if upcoming else None
    try:
        spec = homeroom_meeting_spec(calendar, module, students, agenda=agenda)
    except PlanningError as error:
        raise SyncError(str(error)) from None
    return spec, sessions, students


# -- syncing -----------------------------------------------------------------------------------------


def sync_homeroom(runtime: Runtime, module: int, *, dry_run: bool = False) -> SyncResult:
    """Sync module `module`'s recurring meeting and store its sessions and expected members."""
    spec, sessions, students = homeroom_plan(runtime, module)
    members = [(student.id, student.group) for student in students]
    if not dry_run:
        _store_mix_it_up_dates(runtime)
    return sync_meeting(
        runtime,
        spec,
        sessions,
        {session.key: members for session in sessions},
        label=f"Mod {module}",
        students=students,
        dry_run=dry_run,
    )


def _store_mix_it_up_dates(runtime: Runtime) -> None:
    """Record the calendar's Mix It Up sessions, so pages can show them as coming before their meeting
    exists (it is created when the groups are formed, shortly before)."""
    planned = plan_sessions(runtime.calendar, kinds=(MIX_IT_UP,))
    runtime.storage.upsert_sessions(planned, meeting_key=None, occurrence_ids={})


def sync_meeting(
    runtime: Runtime,
    spec: MeetingSpec,
    sessions: Sequence[PlannedSession],
    members: dict[str, list[tuple[int, int]]],
    *,
    label: str,
    students: Sequence[Student] = (),
    dry_run: bool = False,
) -> SyncResult:
    """Bring one meeting to `spec`, then store its sessions (and, for those not started, their members);
    when the meeting requires registration, `students` are its registrants."""
    result = SyncResult(spec.key, label)
    with _meeting_lock(runtime, spec.key, dry_run=dry_run):
        try:
            current = _converge(runtime, spec, result, dry_run=dry_run)
        except ZoomDailyLimitExceeded as error:
            raise SyncError(
                f"{label}: Zoom's daily limit of meeting create/update calls for {spec.host} is used up; "
                f"it resets at {error.reset_at:%Y-%m-%d %H:%M} UTC"
            ) from None
        except ZoomError as error:
            raise SyncError(f"{label}: {error}") from None
        if not dry_run:
            _store_sessions(runtime, spec, sessions, members, current)
        _registrations(runtime, spec, current, students, result, dry_run=dry_run)
    return result


def _registrations(
    runtime: Runtime,
    spec: MeetingSpec,
    current: dict[str, Any] | None,
    students: Sequence[Student],
    result: SyncResult,
    *,
    dry_run: bool,
) -> None:
    """Registrants equal to `students` when the meeting requires registration; else no registrant call
    at all (and the next time it is switched on, Zoom's list is read first)."""
    if not requires_registration(spec.body):
        if not dry_run and runtime.storage.registrations_checked(spec.key) is not None:
            runtime.storage.forget_registrations_check(spec.key)
        return
    try:
        result.actions += sync_registrations(
            runtime, spec, current, students, label=result.label, created=result.created, dry_run=dry_run
        )
    except RegistrationError as error:
        raise SyncError(str(error)) from None
    except ZoomError as error:
        raise SyncError(
            f"{result.label}: the meeting is up to date but its registrations are not: {error}"
        ) from None


def _converge(
    runtime: Runtime, spec: MeetingSpec, result: SyncResult, *, dry_run: bool
) -> dict[str, Any] | None:
    storage = runtime.storage
    stored = storage.meeting(spec.key)
    current = None
    if stored is not None:
        result.zoom_meeting_id, result.join_url = stored.zoom_meeting_id, stored.join_url
        try:
            current = runtime.zoom.get_meeting(stored.zoom_meeting_id)
        except ZoomNotFound:
            result.actions.append(f"meeting {stored.zoom_meeting_id} was deleted in Zoom")
    if current is None:
        current = _adopt_or_create(runtime, spec, result, recreating=stored is not None, dry_run=dry_run)
        if current is None:  # dry run
            return None
    else:
        _update(runtime, spec, stored, current, result, dry_run=dry_run)
    _delete_skipped(runtime, spec, current, result, dry_run=dry_run)
    return current


def _adopt_or_create(
    runtime: Runtime, spec: MeetingSpec, result: SyncResult, *, recreating: bool, dry_run: bool
) -> dict[str, Any] | None:
    existing = _find_unrecorded(runtime, spec)
    if existing is not None:
        result.actions.append(f"found meeting {existing['id']} in Zoom (created before it could be recorded)")
        current = runtime.zoom.get_meeting(existing["id"])
        _record(runtime, spec, current, spec_body=None)
        _update(runtime, spec, runtime.storage.meeting(spec.key), current, result, dry_run=dry_run)
        return current
    verb = "create again" if recreating else "create"
    if dry_run:
        result.actions.append(f"would {verb} the meeting for {spec.host}")
        return None
    _spend_write(runtime, spec.host)
    created = runtime.zoom.create_meeting(spec.host, spec.body)
    result.writes += 1
    result.created = True
    _record(runtime, spec, created, spec_body=spec.body)
    result.zoom_meeting_id, result.join_url = str(created["id"]), created.get("join_url")
    note = ": its join link changed" if recreating else ""
    result.actions.append(f"{'created again' if recreating else 'created'} meeting {created['id']}{note}")
    requeued = runtime.storage.requeue_unknown_meeting_deliveries(str(created["id"]))
    if requeued:
        process_pending(runtime.storage, runtime.calendar, now=runtime.now())
    return created


def _find_unrecorded(runtime: Runtime, spec: MeetingSpec) -> dict[str, Any] | None:
    """A meeting of this host with our topic and start that no stored meeting points at."""
    known = {meeting.zoom_meeting_id for meeting in runtime.storage.all_meetings()}
    return runtime.zoom.find_meeting(spec.host, spec.body, ignoring=known)


def _update(
    runtime: Runtime,
    spec: MeetingSpec,
    stored: StoredMeeting | None,
    current: dict[str, Any],
    result: SyncResult,
    *,
    dry_run: bool,
) -> None:
    differences = diff_meeting(spec, current)
    if any(d.field == "schedule" for d in differences) and _series_started(spec, runtime.now()):
        # Zoom ignores a start_time in the past, so patching a running series' schedule would repeat
        # at every sync without effect. The new schedule applies from the next cycle's meeting.
        result.actions.append(
            "schedule differs from the calendar but the series has begun: left as it is in Zoom "
            "(the next cycle's meeting follows the calendar)"
        )
        differences = [d for d in differences if d.field != "schedule"]
    ours_changed = stored is None or stored_spec_differs(spec, stored.spec)
    if not differences:
        if ours_changed and not dry_run:
            _record(runtime, spec, current, spec_body=spec.body)  # Zoom already has it
        return
    prefix = "" if ours_changed else "restored what was edited in Zoom: "
    summaries = "; ".join(difference.summary for difference in differences)
    if dry_run:
        result.actions.append(f"would update: {prefix}{summaries}")
        return
    _spend_write(runtime, spec.host)
    runtime.zoom.update_meeting(current["id"], patch_body(spec, differences))
    result.writes += 1
    _record(runtime, spec, current, spec_body=spec.body)
    result.actions.append(f"updated: {prefix}{summaries}")


def _series_started(spec: MeetingSpec, now: dt.datetime) -> bool:
    first = start_instant(spec.body)
    return first is not None and first <= now


def _delete_skipped(
    runtime: Runtime, spec: MeetingSpec, current: dict[str, Any], result: SyncResult, *, dry_run: bool
) -> None:
    for occurrence_id in occurrences_to_delete(spec, current):
        when = dt.datetime.fromtimestamp(int(occurrence_id) / 1000, dt.UTC)
        day = when.astimezone(runtime.calendar.timezone).date().isoformat()
        if dry_run:
            result.actions.append(f"would delete the occurrence on {day} (skipped)")
            continue
        runtime.zoom.delete_meeting(current["id"], occurrence_id=occurrence_id)
        result.actions.append(f"deleted the occurrence on {day} (skipped)")


def _record(
    runtime: Runtime, spec: MeetingSpec, zoom_meeting: dict[str, Any], *, spec_body: dict | None
) -> None:
    """Store the meeting; `spec_body` is what Zoom now holds (None: unknown, so the next sync compares)."""
    runtime.storage.save_meeting(
        StoredMeeting(
            key=spec.key,
            kind=spec.kind,
            module=spec.module,
            host=spec.host,
            zoom_meeting_id=str(zoom_meeting["id"]),
            join_url=zoom_meeting.get("join_url"),
            spec=spec_body if spec_body is not None else {},
        ),
        now=runtime.now(),
    )


def _spend_write(runtime: Runtime, host: str) -> None:
    """Count a create/update call against the host's daily budget, refusing past Zoom's limit."""
    day = runtime.now().astimezone(dt.UTC).date()
    used = runtime.storage.zoom_writes_today(host, day)
    if used >= ZOOM_DAILY_WRITE_LIMIT:
        raise SyncError(
            f"{host} has made {used} meeting create/update calls today (UTC); Zoom allows "
            f"{ZOOM_DAILY_WRITE_LIMIT} per host per day and resets at 00:00 UTC"
        )
    runtime.storage.count_zoom_write(host, day)


def _store_sessions(
    runtime: Runtime,
    spec: MeetingSpec,
    sessions: Sequence[PlannedSession],
    members: dict[str, list[tuple[int, int]]],
    current: dict[str, Any] | None,
) -> None:
    occurrence_ids = _occurrence_ids(sessions, current)
    storage = runtime.storage
    now = runtime.now()
    with storage.write():
        storage.upsert_sessions(list(sessions), meeting_key=spec.key, occurrence_ids=occurrence_ids)
        for session in sessions:
            if session.start > now:  # the roster of a session that has begun stays as it was
                storage.replace_session_members(session.key, members.get(session.key, []))


def _occurrence_ids(sessions: Sequence[PlannedSession], current: dict[str, Any] | None) -> dict[str, str]:
    by_start: dict[dt.datetime, str] = {}
    for occurrence in (current or {}).get("occurrences") or ():
        if occurrence.get("start_time") and occurrence.get("occurrence_id"):
            by_start[parse_utc_text(occurrence["start_time"])] = str(occurrence["occurrence_id"])
    return {session.key: by_start[session.start] for session in sessions if session.start in by_start}


@contextmanager
def _meeting_lock(runtime: Runtime, key: str, *, dry_run: bool) -> Iterator[None]:
    """Hold the meeting's lock (waiting up to two minutes for another sync to finish)."""
    if dry_run:
        yield
        return
    name, owner = f"sync:{key}", uuid.uuid4().hex
    waited = 0.0
    while not runtime.storage.acquire_lock(name, owner, now=runtime.now(), ttl=LOCK_TTL):
        if waited >= LOCK_WAIT_SECONDS:
            raise SyncError(f"another sync of {key} is still running; try again in a few minutes")
        runtime.sleep(LOCK_POLL_SECONDS)
        waited += LOCK_POLL_SECONDS
    try:
        yield
    finally:
        runtime.storage.release_lock(name, owner)
