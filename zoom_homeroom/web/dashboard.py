"""Server-rendered pages for reps and admins: overview, session, student, module and users.

Views read attendance through `services.attendance.read` (which brings it up to date first), shape
plain values for the templates and render. Forms post, flash a message and redirect back.
Times are shown in the calendar's time zone; a session that has not started shows no status.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from ..core.models import HOMEROOM, MIX_IT_UP, STATUSES, Calendar, SessionRecord, Student
from ..core.times import parse_utc_text
from ..services import attendance, registration
from ..storage import Storage
from ..storage.attendance import AttendanceRow, StatusCount, UnmatchedRow
from .auth import error_page
from .charts import Bar, stacked_bars
from .context import get_runtime

bp = Blueprint("dashboard", __name__)
bp.register_error_handler(HTTPException, error_page)

NOT_A_STUDENT = "not-a-student"
OVERRIDE_ACTIONS: dict[str, str | None] = {"excused": "excused", "present": "present", "clear": None}
STATUS_LETTERS = {"present": "P", "late": "L", "partial": "Pt", "absent": "A", "excused": "E"}
ATTENDED = ("present", "late")
# Unmatched participants per page of a session: each carries a form listing the session's students.
UNMATCHED_PER_PAGE = 25


# -- template helpers --------------------------------------------------------------------------------


@bp.app_context_processor
def _layout_values() -> dict[str, Any]:
    calendar = get_runtime().calendar
    return {
        "nav_modules": calendar.module_numbers,
        "timezone_name": calendar.timezone.key,
        "statuses": STATUSES,
        "status_letters": STATUS_LETTERS,
    }


def _local(value: dt.datetime | str) -> dt.datetime:
    moment = parse_utc_text(value) if isinstance(value, str) else value
    return moment.astimezone(get_runtime().calendar.timezone)


@bp.app_template_filter("local_time")
def local_time(value: dt.datetime | str | None, zone: bool = False) -> str:
    """13:05 (or 13:05 MST) in the calendar's time zone; "–" for nothing."""
    if not value:
        return "–"
    local = _local(value)
    return local.strftime("%H:%M %Z") if zone else local.strftime("%H:%M")


@bp.app_template_filter("local_date")
def local_date(value: dt.datetime | dt.date | str | None, year: bool = True) -> str:
    """Wed 6 Jan 2027 (or Wed 6 Jan); a date is shown as is, a moment in the calendar's time zone."""
    if not value:
        return "–"
    if isinstance(value, str) and len(value) == 10:
        value = dt.date.fromisoformat(value)
    day = value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else _local(value)
    return f"{day:%a} {day.day} {day:%b %Y}" if year else f"{day:%a} {day.day} {day:%b}"


@bp.app_template_filter("web_url")
def web_url(value: str | None) -> str | None:
    """The URL when it is http(s), else None: a link from Zoom's data must never run script."""
    if value and value.lower().startswith(("https://", "http://")):
        return value
    return None


# -- overview ----------------------------------------------------------------------------------------


@dataclass
class Summary:
    """A card of the overview: a module's homeroom, or Mix It Up."""

    title: str
    has_sessions: bool
    latest: SessionRecord | None
    running: bool  # the latest session is on now: its join link is still useful
    upcoming: SessionRecord | None
    counts: dict[str, int]
    rate: int | None  # percent attended (present or late) of the records that count
    chart: Markup
    link: str | None = None


@bp.get("/")
def overview() -> ResponseReturnValue:
    """Each module's latest and next session, attendance rate and chart; unmatched people waiting."""
    runtime = get_runtime()
    storage, calendar, now = runtime.storage, runtime.calendar, runtime.now()
    fresh = attendance.read(runtime)
    cycle = _cycle_start(calendar)
    homeroom_counts = _weekly_counts(fresh.status_counts(kind=HOMEROOM, started_before=now, since=cycle))
    summaries = [
        _summary(
            f"Module {module}",
            storage.sessions(kind=HOMEROOM, module=module, since=calendar.module(module).week1_monday),
            homeroom_counts.get(module, {}),
            weeks=calendar.sessions.weeks,
            now=now,
            chart_id=f"chart-module-{module}",
            link=url_for(".module_page", number=module),
        )
        for module in calendar.module_numbers
    ]
    mix_counts = _weekly_counts(fresh.status_counts(kind=MIX_IT_UP, started_before=now, since=cycle))
    mix_it_up = _summary(
        "Mix It Up",
        storage.sessions(kind=MIX_IT_UP, since=cycle),
        mix_counts.get(None, {}),
        weeks=calendar.mix_it_up.weeks,
        now=now,
        chart_id="chart-mix-it-up",
    )
    waiting = fresh.unmatched_counts()
    return render_template(
        "dashboard/overview.html",
        summaries=summaries,
        mix_it_up=mix_it_up,
        waiting=waiting,
        waiting_total=sum(row.count for row in waiting),
        unknown_meetings=storage.unknown_meetings(),
    )


def _cycle_start(calendar: Calendar) -> dt.date:
    """The first day of the calendar's current cycle: earlier sessions belonged to other cohorts."""
    return min(module.week1_monday for module in calendar.modules)


def _weekly_counts(rows: Iterable[StatusCount]) -> dict[int | None, dict[int, dict[str, int]]]:
    """module -> week -> status -> count."""
    counts: dict[int | None, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        counts[row.module][row.week][row.status] = row.count
    return counts


def _summary(
    title: str,
    sessions: Sequence[SessionRecord],
    weekly: dict[int, dict[str, int]],
    *,
    weeks: Sequence[int],
    now: dt.datetime,
    chart_id: str,
    link: str | None = None,
) -> Summary:
    started = [session for session in sessions if session.start <= now]
    later = [session for session in sessions if session.start > now]
    totals = {status: sum(week.get(status, 0) for week in weekly.values()) for status in STATUSES}
    bars = [Bar(f"W{week}", f"Week {week}", weekly.get(week, {})) for week in weeks]
    return Summary(
        title=title,
        has_sessions=bool(sessions),
        latest=started[-1] if started else None,
        running=bool(started) and now < started[-1].end,
        upcoming=later[0] if later else None,
        counts=totals,
        rate=attendance_rate(totals),
        chart=stacked_bars(bars, title=f"{title}: attendance by week", chart_id=chart_id),
        link=link,
    )


def attendance_rate(counts: dict[str, int]) -> int | None:
    """Percent present or late among the records that count (excused ones do not); None for none."""
    counted = sum(counts.get(status, 0) for status in STATUSES if status != "excused")
    if not counted:
        return None
    return round(100 * sum(counts.get(status, 0) for status in ATTENDED) / counted)


# -- a session -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A student on a session page: their record, or (before the session has any) who is expected."""

    student_id: int
    name: str
    email: str
    group: int
    record: AttendanceRow | None = None


@dataclass
class Group:
    number: int
    topic: str | None
    lines: list[Line] = field(default_factory=list)


@bp.get("/sessions/<key>")
def session_page(key: str) -> ResponseReturnValue:
    """A session's groups with each member's attendance, unmatched participants and the rep's forms."""
    runtime = get_runtime()
    storage, now = runtime.storage, runtime.now()
    session = _session_or_404(storage, key)
    fresh = attendance.read(runtime, [session])
    lines = _lines(fresh, session)
    topics = _topics(storage, session)
    groups: dict[int, Group] = {}
    for line in lines:
        groups.setdefault(line.group, Group(line.group, topics.get(line.group))).lines.append(line)
    students = sorted({line.email: line.name for line in lines}.items(), key=lambda item: item[1].casefold())
    page = _unmatched_page(fresh, session)
    return render_template(
        "dashboard/session.html",
        session=session,
        started=session.start <= now,
        recorded=any(line.record for line in lines),
        groups=sorted(groups.values(), key=lambda group: group.number),
        unmatched=[(row, fresh.candidates(row)) for row in page.rows],
        page=page,
        students=students,
        not_a_student=NOT_A_STUDENT,
    )


@dataclass(frozen=True)
class UnmatchedPage:
    """One page of a session's unmatched participants (`number` from 1), and where it sits."""

    rows: list[UnmatchedRow]
    number: int
    pages: int
    total: int

    @property
    def first(self) -> int:
        return (self.number - 1) * UNMATCHED_PER_PAGE + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.number * UNMATCHED_PER_PAGE, self.total)


def _unmatched_page(fresh: attendance.Attendance, session: SessionRecord) -> UnmatchedPage:
    """The page `?unmatched=N` asks for (the last one when N is past it); suggestions are scored only
    for its rows."""
    wanted = _page_number(request.args.get("unmatched", ""))
    total = sum(count.count for count in fresh.unmatched_counts(session_id=session.id))
    pages = max(1, -(-total // UNMATCHED_PER_PAGE))
    number = min(wanted, pages)
    rows = fresh.unmatched(
        session_id=session.id, limit=UNMATCHED_PER_PAGE, offset=(number - 1) * UNMATCHED_PER_PAGE
    )
    return UnmatchedPage(rows, number, pages, total)


def _page_number(text: str) -> int:
    text = text.strip()
    if not text:
        return 1
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or int(text) < 1:
        abort(400, f"unmatched must be a page number, not {text[:20]!r}")
    return int(text)


def _session_or_404(storage: Storage, key: str) -> SessionRecord:
    session = storage.session(key)
    if session is None:
        abort(404, f"There is no session {key!r}.")
    return session


def _lines(fresh: attendance.Attendance, session: SessionRecord) -> list[Line]:
    """The session's records; before it has any, the students it expects (sorted by group and name)."""
    records = fresh.rows(session_id=session.id)
    if records:
        return [Line(r.student_id, r.name, r.email, r.group, r) for r in records]
    expected = [Line(s.id, s.name, s.email, group) for s, group in fresh.expected(session)]
    return sorted(expected, key=lambda line: (line.group, line.name.casefold()))


def _topics(storage: Storage, session: SessionRecord) -> dict[int, str]:
    if session.kind != MIX_IT_UP:
        return {}
    formation = storage.formation(session.date)
    return {group.number: group.topic for group in formation.groups} if formation else {}


@bp.post("/sessions/<key>/assign")
def assign(key: str) -> ResponseReturnValue:
    """Tie an unmatched participant to a student, or mark them not a student."""
    runtime = get_runtime()
    session = _session_or_404(runtime.storage, key)
    ident, choice = _required("ident"), _required("student")
    try:
        message = attendance.assign_participant(
            runtime,
            session=session,
            ident=ident,
            student_email=None if choice == NOT_A_STUDENT else choice,
            set_by=current_user.email,
        )
    except attendance.CorrectionError as error:
        flash(f"Not assigned: {error}", "error")
    else:
        flash(f"{message}.", "ok")
    return redirect(url_for(".session_page", key=key, _anchor="unmatched"))


@bp.post("/sessions/<key>/override")
def override(key: str) -> ResponseReturnValue:
    """Excuse a student, mark them present (with a note), or clear the override."""
    runtime = get_runtime()
    storage = runtime.storage
    session = _session_or_404(storage, key)
    email, action = _required("email"), _required("action")
    if action not in OVERRIDE_ACTIONS:
        abort(400, f"Unknown action {action!r}: choose excused, present or clear.")
    status = OVERRIDE_ACTIONS[action]
    try:
        attendance.set_override(
            runtime,
            session=session,
            student_email=email,
            status=status,
            note=request.form.get("note", ""),
            set_by=current_user.email,
        )
    except attendance.CorrectionError as error:
        flash(f"Not changed: {error}.", "error")
    else:
        student = storage.student_by_email(email)
        name = student.name if student else email
        flash(f"{name} is now {status}." if status else f"{name}: the computed status applies again.", "ok")
    return redirect(url_for(".session_page", key=key, _anchor="attendance"))


def _required(name: str) -> str:
    value = request.form.get(name, "").strip()
    if not value:
        abort(400, f"The form did not send {name!r}.")
    return value


# -- a student ---------------------------------------------------------------------------------------


@bp.get("/students/<int:student_id>")
def student_page(student_id: int) -> ResponseReturnValue:
    """One student's attendance across every session and their groups over time."""
    runtime = get_runtime()
    storage, now = runtime.storage, runtime.now()
    student = storage.student(student_id)
    if student is None:
        abort(404, f"There is no student {student_id}.")
    records = attendance.read(runtime).rows(student_id=student_id)
    starts = {session.key: session.start for session in storage.sessions()}
    rows = [(row, starts[row.session_key] <= now) for row in records]  # (record, whether it has started)
    counts = {status: 0 for status in STATUSES}
    for row, started in rows:
        if started:
            counts[row.status] += 1
    return render_template(
        "dashboard/student.html",
        student=student,
        rows=rows,
        counts=counts,
        rate=attendance_rate(counts),
        history=storage.group_history(student_id),
        registration=runtime.calendar.sessions.registration,
        join_url=_personal_link(runtime.calendar, storage, student),
    )


def _personal_link(calendar: Calendar, storage: Storage, student: Student) -> str | None:
    """The student's personal homeroom link when registration is on (only a web address is a link)."""
    key = registration.homeroom_meeting_key(calendar, student.module)
    if not calendar.sessions.registration or key is None or student.id is None:
        return None
    url = registration.personal_join_url(storage, key, student.id)
    return url if url and url.startswith(("https://", "http://")) else None


# -- a module ----------------------------------------------------------------------------------------


@dataclass
class Column:
    week: int
    session: SessionRecord
    recorded: bool  # the session has started and has attendance records


@dataclass
class GridRow:
    student_id: int
    name: str
    group: int | None
    cells: list[str | None]  # the status per column; None: not expected, or no records yet


@dataclass
class Grid:
    title: str
    columns: list[Column]
    rows: list[GridRow]


@bp.get("/modules/<int:number>")
def module_page(number: int) -> ResponseReturnValue:
    """A students x weeks grid of statuses, for the module's homeroom and for Mix It Up."""
    runtime = get_runtime()
    storage, calendar, now = runtime.storage, runtime.calendar, runtime.now()
    if number not in calendar.module_numbers:
        abort(404, f"There is no module {number} in the calendar.")
    fresh = attendance.read(runtime)
    students = storage.students(module=number)
    since = calendar.module(number).week1_monday  # this cycle's cohort; earlier ones were other students
    homeroom_rows = fresh.rows(module=number, kind=HOMEROOM, since=since)
    homeroom = _grid(
        "Homeroom",
        students,
        homeroom_rows,
        _columns(storage.sessions(kind=HOMEROOM, module=number, since=since), homeroom_rows, now),
    )
    mix_rows = fresh.rows(kind=MIX_IT_UP, since=since)
    mix_it_up = _grid(
        "Mix It Up",
        students,
        [row for row in mix_rows if row.student_module == number],
        _columns(storage.sessions(kind=MIX_IT_UP, since=since), mix_rows, now),
    )
    return render_template("dashboard/module.html", number=number, grids=[homeroom, mix_it_up])


def _columns(
    sessions: Sequence[SessionRecord], rows: Iterable[AttendanceRow], now: dt.datetime
) -> list[Column]:
    recorded = {row.session_key for row in rows}
    return [Column(s.week, s, s.start <= now and s.key in recorded) for s in sessions]


def _grid(
    title: str, students: Sequence[Student], rows: Sequence[AttendanceRow], columns: list[Column]
) -> Grid:
    status = {(row.student_id, row.session_key): row.status for row in rows}
    people = {student.id: (student.name, student.group) for student in students}
    # Students who left or moved still have their past records: list them after the current roster.
    for row in sorted(rows, key=lambda row: row.name.casefold()):
        people.setdefault(row.student_id, (row.name, None))
    grid_rows = [
        GridRow(
            student_id,
            name,
            group,
            [status.get((student_id, column.session.key)) if column.recorded else None for column in columns],
        )
        for student_id, (name, group) in people.items()
    ]
    return Grid(title, columns, grid_rows)


# -- users -------------------------------------------------------------------------------------------


@bp.get("/users")
def users_page() -> ResponseReturnValue:
    """Admins only: who can sign in, and which API tokens exist (never the tokens themselves)."""
    if not current_user.is_admin:
        abort(403, "Only admins can see users and API tokens.")
    storage = get_runtime().storage
    return render_template("dashboard/users.html", users=storage.users(), tokens=storage.tokens())
