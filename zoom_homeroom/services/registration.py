"""Zoom registration (`[sessions] registration = true`): keep each meeting's registrants equal to its
students, and hand out their personal join links.

Sync calls `sync_registrations` for a meeting that requires registration, after the meeting itself is
up to date. What is stored is compared with what should be; Zoom's list of approved registrants is
read first only when the stored state may be stale (a write whose outcome Zoom never told, a meeting
adopted or with registration just switched on). Nothing to change: no call at all. A new student is
registered (one call each; Mix It Up's scheduled meeting in batches of 30), a student who left is
cancelled (30 a call), and each registrant id and personal link Zoom returns is stored the moment it
answers. Registrant calls have their own rate-limit labels in the spec (LIGHT to add, MEDIUM to list
and update, HEAVY for batches), not the host's daily budget of meeting creates and updates.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..core.meetings import SCHEDULED, MeetingSpec, requires_registration
from ..core.models import Calendar, Student, homeroom_key
from ..core.registration import (
    DAILY_REGISTRATIONS_PER_EMAIL,
    ListedRegistrant,
    Registrant,
    Registration,
    RegistrationError,
    RegistrationPlan,
    batches,
    check_capacity,
    plan_registrations,
    registrant_for,
)
from ..runtime import Runtime
from ..storage import Storage
from ..zoom import ZoomAPIError, ZoomRegistrantDailyLimit, ZoomRegistrationNotEnabled

log = logging.getLogger(__name__)

# Zoom's codes for a registration the meeting itself refuses, from the spec's error lists: nobody else
# can be registered either, so the sync stops.
MEETING_FULL = 3043  # "Meeting has reached maximum attendee capacity."
MEETING_OVER = 3038  # "Meeting is over, you can not register now."


# -- sync ---------------------------------------------------------------------------------------------


def sync_registrations(
    runtime: Runtime,
    spec: MeetingSpec,
    meeting: Mapping[str, Any] | None,
    students: Sequence[Student],
    *,
    label: str,
    created: bool,
    dry_run: bool,
) -> list[str]:
    """Make the registrants of `meeting` (Zoom's, as just synced) equal `students`; returns what was done.

    `created`: the meeting was made by this sync, so Zoom has no registrant yet. Raises RegistrationError
    for what Zoom would refuse (too many students, registration not enabled) and ZoomError when Zoom
    fails; a single student Zoom refuses is reported and the others go on.
    """
    wanted = [registrant_for(student) for student in students]
    check_capacity(label, wanted)
    if meeting is None:  # a dry run before the meeting exists
        return [f"would register {len(wanted)} student(s) once the meeting exists"] if wanted else []
    storage, zoom_id = runtime.storage, str(meeting["id"])
    stale = not created and (
        storage.registrations_checked(spec.key) != zoom_id or not requires_registration(meeting)
    )
    if dry_run and not requires_registration(meeting):
        stale = False  # registration is switched on only by the update a dry run does not make
    try:
        plan = _plan(runtime, spec, zoom_id, wanted, stale=stale)
        if dry_run:
            return _would(plan)
        return _carry_out(runtime, spec, meeting, plan, stale=stale)
    except ZoomRegistrationNotEnabled as error:
        raise RegistrationError(
            f"{label}: Zoom has not enabled registration on meeting {zoom_id} ({error.message}); "
            f"its host {spec.host} must be a Licensed user, and the meeting must not have been changed "
            "to need no registration in Zoom's portal"
        ) from None


def _plan(
    runtime: Runtime, spec: MeetingSpec, zoom_id: str, wanted: list[Registrant], *, stale: bool
) -> RegistrationPlan:
    storage = runtime.storage
    stored = storage.registrations(spec.key, zoom_id)
    if not stale:
        return plan_registrations(wanted, stored)
    listed = [
        ListedRegistrant(
            str(item.get("id") or ""), str(item.get("email") or ""), str(item.get("join_url") or "")
        )
        for item in runtime.zoom.iter_registrants(zoom_id)
    ]
    roster = {student.email: student.id for student in storage.students(active_only=False)}
    return plan_registrations(
        wanted, stored, listed=[item for item in listed if item.registrant_id], roster=roster
    )


def _would(plan: RegistrationPlan) -> list[str]:
    lines = []
    if plan.cancel:
        lines.append(f"would cancel the registration of {_emails(plan.cancel)}")
    if plan.register:
        lines.append(f"would register {len(plan.register)} student(s)")
    return lines


def _carry_out(
    runtime: Runtime, spec: MeetingSpec, meeting: Mapping[str, Any], plan: RegistrationPlan, *, stale: bool
) -> list[str]:
    storage, now = runtime.storage, runtime.now()
    writes = _Writes(runtime, spec.key, str(meeting["id"]))
    if plan.forget:
        storage.cancel_registrations(writes.zoom_id, [r.registrant_id for r in plan.forget], now=now)
        writes.lines.append(f"registrations Zoom no longer has: {_emails(plan.forget)}")
    if plan.adopt:
        storage.save_registrations(spec.key, writes.zoom_id, plan.adopt, now=now)
        writes.lines.append(f"kept {len(plan.adopt)} registration(s) Zoom already had")
    if plan.writes:
        # Until every call below has been answered, the stored rows may not equal Zoom's.
        storage.forget_registrations_check(spec.key)
        writes.cancel(plan.cancel)
        if meeting.get("type") == SCHEDULED:
            writes.register_in_batches(plan.register)
        else:
            writes.register_each(plan.register)
    if writes.complete and (stale or plan.writes):
        storage.mark_registrations_checked(spec.key, writes.zoom_id, now=runtime.now())
    return writes.lines


class _Writes:
    """The registrant calls of one meeting's sync, what they did (`lines`), and whether every answer
    was understood (`complete`: else the next sync reads Zoom's list first)."""

    def __init__(self, runtime: Runtime, meeting_key: str, zoom_id: str) -> None:
        self.runtime, self.meeting_key, self.zoom_id = runtime, meeting_key, zoom_id
        self.lines: list[str] = []
        self.complete = True

    def cancel(self, registrations: Sequence[Registration]) -> None:
        """`PUT .../registrants/status` with action cancel, 30 at a time."""
        for batch in batches(registrations):
            entries = [{"id": r.registrant_id, "email": r.email} for r in batch]
            self.runtime.zoom.update_registrant_status(self.zoom_id, "cancel", entries)
            self.runtime.storage.cancel_registrations(
                self.zoom_id, [r.registrant_id for r in batch], now=self.runtime.now()
            )
        if registrations:
            self.lines.append(f"cancelled the registration of {_emails(registrations)}")

    def register_each(self, registrants: Sequence[Registrant]) -> None:
        """One `POST /meetings/{id}/registrants` per student (a recurring series takes no batch)."""
        made, first_line = 0, len(self.lines)
        for registrant in self._within_daily_limit(registrants):
            self._count([registrant])
            try:
                answer = self.runtime.zoom.add_registrant(self.zoom_id, registrant.body())
            except ZoomRegistrantDailyLimit as error:
                self.lines.append(f"{registrant.email}: not registered: {error}")
                continue
            except ZoomAPIError as error:
                _raise_unless_one_student(error)
                self.lines.append(f"{registrant.email}: not registered: {error}")
                continue
            made += self._save(registrant, answer)
        if made:
            self.lines.insert(first_line, f"registered {made} student(s): personal join links stored")

    def register_in_batches(self, registrants: Sequence[Registrant]) -> None:
        """`POST /meetings/{id}/batch_registrants`, 30 at a time (Zoom takes batches for type 2 only)."""
        made, first_line = 0, len(self.lines)
        for batch in batches(self._within_daily_limit(registrants)):
            self._count(batch)
            try:
                answers = self.runtime.zoom.add_batch_registrants(self.zoom_id, [r.body() for r in batch])
            except ZoomRegistrantDailyLimit as error:
                self.lines.append(f"{len(batch)} student(s) not registered ({_emails(batch)}): {error}")
                continue
            by_email = {str(answer.get("email") or "").strip().lower(): answer for answer in answers}
            made += sum(self._save(r, by_email.get(r.email, {})) for r in batch)
        if made:
            self.lines.insert(
                first_line, f"registered {made} student(s) in batches: personal join links stored"
            )

    def _within_daily_limit(self, registrants: Sequence[Registrant]) -> list[Registrant]:
        """The registrants Zoom still takes today; the others are reported and wait for 00:00 UTC."""
        day = _utc_day(self.runtime.now())
        allowed = []
        for registrant in registrants:
            sent = self.runtime.storage.registrant_calls_today(self.zoom_id, registrant.email, day)
            if sent < DAILY_REGISTRATIONS_PER_EMAIL:
                allowed.append(registrant)
                continue
            self.lines.append(
                f"{registrant.email}: not registered again today: Zoom takes {DAILY_REGISTRATIONS_PER_EMAIL} "
                "registrations of one email a day for a meeting (a sync after 00:00 UTC does it)"
            )
        return allowed

    def _count(self, registrants: Sequence[Registrant]) -> None:
        emails = [registrant.email for registrant in registrants]
        self.runtime.storage.count_registrant_calls(self.zoom_id, emails, _utc_day(self.runtime.now()))

    def _save(self, registrant: Registrant, answer: Mapping[str, Any]) -> int:
        """Store what Zoom answered for one registrant: 1 when stored, 0 when the answer had no id."""
        registrant_id = str(answer.get("registrant_id") or "")
        if not registrant_id:
            log.warning(
                "Zoom registered %s for meeting %s without a registrant id", registrant.email, self.zoom_id
            )
            self.lines.append(
                f"{registrant.email}: Zoom's answer named no registrant id; the next sync looks again"
            )
            self.complete = False
            return 0
        registration = Registration(
            registrant.student_id, registrant.email, registrant_id, str(answer.get("join_url") or "")
        )
        self.runtime.storage.save_registrations(
            self.meeting_key, self.zoom_id, [registration], now=self.runtime.now()
        )
        return 1


def _raise_unless_one_student(error: ZoomAPIError) -> None:
    """A 400 about one registrant (an email Zoom refuses, the host's own) spares the others; a meeting
    that is full or over, or any other failure, stops the sync."""
    if error.status != 400 or isinstance(error, ZoomRegistrationNotEnabled):
        raise error
    if error.code in (MEETING_FULL, MEETING_OVER):
        raise RegistrationError(f"Zoom refuses more registrants for this meeting: {error}") from None


def _emails(items: Sequence[Registration | Registrant]) -> str:
    return ", ".join(item.email for item in items)


def _utc_day(now: dt.datetime) -> dt.date:
    return now.astimezone(dt.UTC).date()


# -- personal links -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentLink:
    """A student's personal join link for their module's homeroom meeting (None: not registered yet)."""

    name: str
    email: str
    module: int
    group: int
    join_url: str | None


LINK_FIELDS = tuple(field.name for field in fields(StudentLink))


def personal_join_url(storage: Storage, meeting_key: str, student_id: int) -> str | None:
    """The personal join link Zoom issued this student for the meeting with this key (a module's series,
    `homeroom_meeting_key`, or a week's Mix It Up meeting), or None when they hold none."""
    registration = storage.registration_of(meeting_key, student_id)
    return registration.join_url if registration and registration.join_url else None


def homeroom_meeting_key(calendar: Calendar, module: int) -> str | None:
    """The key of the module's homeroom series in this calendar, or None for a module it lacks."""
    try:
        return homeroom_key(module, calendar.module(module).week1_monday)
    except KeyError:
        return None


def student_links(runtime: Runtime, module: int | None = None) -> list[StudentLink]:
    """Every active student (of `module`) with their personal homeroom link, by module, group, name.

    Raises RegistrationError when registration is off or the module is not in the calendar.
    """
    calendar = runtime.calendar
    if not calendar.sessions.registration:
        raise RegistrationError(
            "registration is off ([sessions] registration = false): students join with their module's "
            "meeting link, and there are no personal links"
        )
    if module is not None and module not in calendar.module_numbers:
        known = ", ".join(str(n) for n in calendar.module_numbers)
        raise RegistrationError(f"module {module} is not in the calendar (modules: {known})")
    links = []
    for number in [module] if module is not None else calendar.module_numbers:
        key = homeroom_meeting_key(calendar, number)
        registrations = runtime.storage.current_registrations(key) if key else {}
        for student in runtime.storage.students(module=number):
            registration = registrations.get(student.id)
            url = registration.join_url if registration and registration.join_url else None
            links.append(StudentLink(student.name, student.email, student.module, student.group, url))
    return links


def link_rows(links: Sequence[StudentLink]) -> list[dict[str, Any]]:
    """One dict of LINK_FIELDS per link, for CSV, tables and JSON."""
    return [asdict(link) for link in links]
