"""Zoom API calls of one 6-week cycle of 4 modules, counted on the built-in Zoom sandbox (real HTTP).

    .venv/bin/python bench/zoom_calls.py [--per-module 30] [--seed 2027]

The sample cohort (zoom_homeroom.demo.cohort) is imported, then the scheduler's timeline is played on
an injected clock, running the same job functions the scheduler runs, each with a fresh Runtime (as
the scheduler's jobs build their own, so each fetches its own token):

- every session: sync 24 h and 1 h before (each module; Mix It Up's meeting in weeks 2 and 4, whose
  first sync also forms the groups), the meeting held in the sandbox (host starts it, the expected
  students join and leave, it ends), and the finalize (backfill from Zoom's reports) after it;
- the hourly retry of pending backfills, all cycle long;
- in week 3 one student moves group (a roster import) the day before the 24 h sync.

Calls are counted by kind from the sandbox's call log. Targets: one create per module and per Mix It
Up week, and no write call from the second sync before each session (nothing changed since the first).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import interrupt_on_sigterm, print_rows  # noqa: E402

from zoom_homeroom.core.models import HOMEROOM, Calendar, PlannedSession, SessionRecord  # noqa: E402
from zoom_homeroom.core.planning import plan_sessions  # noqa: E402
from zoom_homeroom.core.roster import parse_roster, roster_changes  # noqa: E402
from zoom_homeroom.demo.cohort import SampleStudent, poll_csv, roster_csv, sample_students  # noqa: E402
from zoom_homeroom.demo.run import demo_calendar_toml, write_prompts  # noqa: E402
from zoom_homeroom.runtime import Runtime  # noqa: E402
from zoom_homeroom.sandbox import Participant, ZoomSandbox  # noqa: E402
from zoom_homeroom.scheduler import PlannedJob, planned_jobs  # noqa: E402
from zoom_homeroom.services import jobs, mixitup  # noqa: E402
from zoom_homeroom.settings import load_calendar, sandbox_settings  # noqa: E402
from zoom_homeroom.storage import Storage  # noqa: E402
from zoom_homeroom.zoom import ZoomClient, make_client  # noqa: E402

WEEK1_MONDAY = dt.date(2027, 1, 4)
CYCLE_WEEKS = 6
MOVED_STUDENT_MODULE = 1
KINDS = (
    "create",
    "update",
    "delete",
    "get meeting",
    "list meetings",
    "past instances",
    "participants",
    "token",
)
LOG_WIDTH = 160
WRITE_KINDS = ("create", "update", "delete")


# -- the clock ---------------------------------------------------------------------------------------


class SimClock:
    """The injected clock: the timeline sets it; nothing waits for real."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def no_sleep(seconds: float) -> None:
    """Retries and lock polls would wait; the benchmark counts calls, not seconds."""


class JobLog(logging.Handler):
    """Keeps what the scheduled jobs log (`sync Mod 1: updated: ...`), to show what a sync changed."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# -- classifying calls -------------------------------------------------------------------------------


def kind_of(method: str, path: str) -> str:
    """The kind of one logged sandbox call: create, update, delete, the reads, token, or other."""
    if path == "/oauth/token":
        return "token"
    if method == "POST" and path.startswith("/v2/users/") and path.endswith("/meetings"):
        return "create"
    if method == "PATCH" and path.startswith("/v2/meetings/"):
        return "update"
    if method == "DELETE" and path.startswith("/v2/meetings/"):
        return "delete"
    if method == "GET" and path.startswith("/v2/users/") and path.endswith("/meetings"):
        return "list meetings"
    if method == "GET" and path.startswith("/v2/meetings/"):
        return "get meeting"
    if method == "GET" and path.startswith("/v2/past_meetings/") and path.endswith("/instances"):
        return "past instances"
    if method == "GET" and path.endswith("/participants"):
        return "participants"  # past-meeting participants or the participant report
    return f"other {method} {path.split('/')[2] if path.count('/') > 1 else path}"


@dataclass
class Tally:
    """Calls by kind, plus how many answered an error status."""

    kinds: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    runs: int = 0
    log: str = ""  # what a scheduled job logged, for a single run

    def add(self, calls: list[tuple[str, str, int]]) -> None:
        self.runs += 1
        for method, path, status in calls:
            self.kinds[kind_of(method, path)] += 1
            if not 200 <= status < 300:
                self.errors += 1

    def merge(self, other: Tally) -> None:
        self.kinds.update(other.kinds)
        self.errors += other.errors
        self.runs += other.runs

    @property
    def writes(self) -> int:
        return sum(self.kinds[kind] for kind in WRITE_KINDS)

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


# -- the timeline ------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Step:
    """One thing that happens at one moment; `phase` and `week` group its calls in the tables."""

    at: dt.datetime
    order: int
    week: int = field(compare=False)
    phase: str = field(compare=False)
    action: Callable[[], None] = field(compare=False, repr=False)
    job_id: str = field(default="", compare=False)  # the scheduler's job id, for scheduled jobs


class Cycle:
    """The sandbox, the service's settings and the cohort: what every step needs."""

    def __init__(
        self,
        folder: Path,
        sandbox: ZoomSandbox,
        clock: SimClock,
        calendar: Calendar,
        args: argparse.Namespace,
    ):
        self.folder = folder
        self.sandbox = sandbox
        self.clock = clock
        self.calendar = calendar
        self.args = args
        self.students = sample_students(per_module=args.per_module, seed=args.seed)
        self.settings = sandbox_settings(
            sandbox, database=folder / "homeroom.db", config=folder / "homeroom.toml"
        )
        self.client: ZoomClient | None = None

    @contextmanager
    def runtime(self) -> Iterator[Runtime]:
        """A fresh Runtime, as each scheduled job builds one (its own storage), sharing the process's
        Zoom client and so its token, as `homeroom scheduler` does (`jobs.share_zoom_client`)."""
        if self.client is None:
            self.client = make_client(self.settings, sleep=no_sleep, clock=self.clock)
        runtime = Runtime(self.settings, clock=self.clock, sleep=no_sleep, zoom_client=self.client)
        try:
            yield runtime
        finally:
            runtime.close()

    # -- steps that make no scheduled job -----------------------------------------------------------

    def import_cohort(self) -> None:
        """The roster, and a Mix It Up poll for each Mix It Up week (no Zoom calls)."""
        with self.runtime() as runtime:
            self._import_roster(runtime, self.students)
            for week in self.calendar.mix_it_up.weeks:
                data = poll_csv(self.students, seed=self.args.seed + week).encode()
                mixitup.import_poll(runtime, data, filename="poll.csv", week=week)

    def move_one_student(self) -> None:
        """A roster import in which one module-1 student moves to another group."""
        moved = next(s for s in self.students if s.module == MOVED_STUDENT_MODULE and s.group == 1)
        groups = max(s.group for s in self.students if s.module == MOVED_STUDENT_MODULE)
        roster = [dataclasses.replace(s, group=groups) if s is moved else s for s in self.students]
        with self.runtime() as runtime:
            self._import_roster(runtime, roster)
        self.students = roster

    def _import_roster(self, runtime: Runtime, roster: list[SampleStudent]) -> None:
        parsed = parse_roster(
            roster_csv(roster).encode(), filename="roster.csv", modules=self.calendar.module_numbers
        )
        changes = roster_changes(runtime.storage.students(active_only=False), parsed)
        now = runtime.now()
        runtime.storage.apply_roster(changes, today=now.astimezone(self.calendar.timezone).date(), now=now)

    def hold(self, session: PlannedSession) -> list[Step]:
        """The meeting taking place in the sandbox: start, the expected students join, leave, end."""

        def with_meeting(act: Callable[[str], None]) -> Callable[[], None]:
            def run() -> None:
                with self.runtime() as runtime:
                    stored = runtime.storage.session(session.key)
                if stored is None or stored.zoom_meeting_id is None:
                    raise RuntimeError(f"{session.key}: not synced before it starts")
                act(stored.zoom_meeting_id)

            return run

        people = [Participant(s.name, s.email) for s in self._expected(session)]
        minute = dt.timedelta(minutes=1)

        def start(meeting: str) -> None:
            self.sandbox.start_instance(meeting, session.start - 5 * minute)

        def join(meeting: str) -> None:
            for person in people:
                self.sandbox.join(meeting, person, session.start + minute)

        def leave_and_end(meeting: str) -> None:
            for person in people:
                self.sandbox.leave(meeting, person, session.end - minute)
            self.sandbox.end_instance(meeting, session.end + minute)

        phase = "meeting held in Zoom"
        return [
            Step(session.start - 5 * minute, 0, session.week, phase, with_meeting(start)),
            Step(session.start + minute, 0, session.week, phase, with_meeting(join)),
            Step(session.end + minute, 0, session.week, phase, with_meeting(leave_and_end)),
        ]

    def _expected(self, session: PlannedSession) -> list[SampleStudent]:
        if session.kind == HOMEROOM:
            return [s for s in self.students if s.module == session.module]
        return list(self.students)

    def retry_pending(self) -> None:
        """The scheduler's interval job: backfill every session still pending after its delay."""
        with self.runtime() as runtime:
            jobs.finalize_pending(runtime=runtime)

    def job(self, job: PlannedJob) -> Callable[[], None]:
        """Run one of the scheduler's job functions, as the scheduler would, with a fresh Runtime."""
        function = getattr(jobs, job.func.split(":")[1])

        def run() -> None:
            with self.runtime() as runtime:
                function(*job.args, runtime=runtime)

        return run


def job_phase(job: PlannedJob) -> str:
    kind, *_, last = job.id.split(":")
    mix = ":mix_it_up:" in job.id
    if kind == "finalize":
        return "finalize (backfill) Mix It Up" if mix else "finalize (backfill) each module"
    before = {"24h": "24 h", "1h": "1 h"}.get(last, last)
    if mix:
        return (
            f"Mix It Up form + sync {before} before" if last == "24h" else f"Mix It Up sync {before} before"
        )
    return f"sync {before} before (each module)"


def session_of(job: PlannedJob, sessions: dict[str, PlannedSession]) -> PlannedSession:
    parts = job.id.split(":")
    key = ":".join(parts[1:]) if parts[0] == "finalize" else ":".join(parts[1:-1])
    return sessions[key]


def local(calendar: Calendar, day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=calendar.timezone).astimezone(dt.UTC)


def build_timeline(cycle: Cycle) -> list[Step]:
    """Every step of the cycle, in time order (ties: the order they were added)."""
    calendar = cycle.calendar
    start = local(calendar, WEEK1_MONDAY - dt.timedelta(days=3), 9)  # the Friday before week 1
    end = local(calendar, WEEK1_MONDAY + dt.timedelta(weeks=CYCLE_WEEKS, days=-1), 23)  # week 6's Sunday
    steps: list[Step] = [Step(start, 0, 0, "import the sample cohort", cycle.import_cohort)]
    sessions = {session.key: session for session in plan_sessions(calendar)}
    for job in planned_jobs(calendar, start, include_missed=False):
        week = session_of(job, sessions).week
        steps.append(Step(job.run_at, 0, week, job_phase(job), cycle.job(job), job.id))
    for session in sessions.values():
        steps.extend(cycle.hold(session))
    week3_monday = WEEK1_MONDAY + dt.timedelta(weeks=2)
    steps.append(
        Step(
            local(calendar, week3_monday, 10),
            0,
            3,
            "roster change: one student moves group",
            cycle.move_one_student,
        )
    )
    retry = dt.timedelta(minutes=calendar.scheduler.retry_every_minutes)
    tick = start + retry
    while tick <= end:
        week = (tick.astimezone(calendar.timezone).date() - WEEK1_MONDAY).days // 7 + 1
        steps.append(Step(tick, 0, week, "hourly retry of pending backfills", cycle.retry_pending))
        tick += retry
    # Steps due at the same instant run in the order added: scheduled jobs first.
    return sorted(dataclasses.replace(step, order=index) for index, step in enumerate(steps))


# -- the report --------------------------------------------------------------------------------------


def print_table(title: str, rows: list[tuple[str, Tally]]) -> None:
    """Calls by kind, one row per label."""
    header = ["", "runs", *KINDS, "total", "errors"]
    body = [
        [label, str(t.runs), *(str(t.kinds[k]) for k in KINDS), str(t.total), str(t.errors)]
        for label, t in rows
    ]
    print(f"\n{title}")
    print_rows([header, *body])


def week_label(week: int) -> str:
    return f"week {week}" if week else "before week 1"


def total_of(tallies: list[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


def second_sync_rows(by_job: dict[str, Tally], sessions: list[PlannedSession]) -> list[list[str]]:
    """Per session: write calls of its 24 h sync and of its 1 h sync."""
    rows = [["session", "writes 24 h", "writes 1 h", "reads 1 h", "what the 24 h sync logged"]]
    for session in sessions:
        first, second = by_job[f"sync:{session.key}:24h"], by_job[f"sync:{session.key}:1h"]
        reads = second.total - second.writes - second.kinds["token"]
        said = first.log.split(": ", 1)[-1]
        said = said if len(said) <= LOG_WIDTH else said[: LOG_WIDTH - 3] + "..."
        rows.append([session.key, str(first.writes), str(second.writes), str(reads), said])
    return rows


def report(by_week_phase: dict[tuple[int, str], Tally], by_job: dict[str, Tally], calendar: Calendar) -> bool:
    """Print the tables and the targets; True when both targets are met."""
    order = sorted(by_week_phase, key=lambda key: key[0])  # the timeline's order within a week
    print_table(
        "calls by week and phase (runs: how many times the phase ran)",
        [(f"{week_label(week)}: {phase}", by_week_phase[(week, phase)]) for week, phase in order],
    )
    phases: dict[str, list[Tally]] = {}
    for (_, phase), tally in by_week_phase.items():
        phases.setdefault(phase, []).append(tally)
    everything = total_of(list(by_week_phase.values()))
    print_table(
        "calls by phase over the cycle",
        [*((phase, total_of(tallies)) for phase, tallies in phases.items()), ("total", everything)],
    )
    sessions = plan_sessions(calendar)
    rows = second_sync_rows(by_job, sessions)
    print("\nthe two syncs before each session (writes = create + update + delete calls)")
    print_rows(rows, text_columns=(0, 4))
    expected_creates = len(calendar.modules) + len(calendar.mix_it_up.weeks)
    second_writes = sum(int(row[2]) for row in rows[1:])
    checks = [
        (
            f"one create per module and per Mix It Up week ({expected_creates})",
            everything.kinds["create"] == expected_creates,
            str(everything.kinds["create"]),
        ),
        ("no write from the second sync before each session", second_writes == 0, f"{second_writes} writes"),
    ]
    print()
    for name, met, value in checks:
        print(f"target {name}: {'met' if met else 'MISSED'} ({value})")
    return all(met for _, met, _ in checks)


# -- main --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-module", type=int, default=30, help="students per module, about (default 30)")
    parser.add_argument(
        "--seed", type=int, default=2027, help="seed of the sample cohort and polls (default 2027)"
    )
    args = parser.parse_args()
    with interrupt_on_sigterm(), tempfile.TemporaryDirectory(prefix="homeroom-bench-") as name:
        try:
            return run(Path(name), args)
        except KeyboardInterrupt:
            print("\ninterrupted: sandbox stopped, temporary files removed", file=sys.stderr)
            return 130


def write_config(folder: Path) -> Calendar:
    """The demo's calendar (4 modules, Mix It Up in weeks 2 and 4) and a prompt per module and week."""
    (folder / "homeroom.toml").write_text(demo_calendar_toml(WEEK1_MONDAY), encoding="utf-8")
    write_prompts(folder)
    return load_calendar(folder / "homeroom.toml")


def run(folder: Path, args: argparse.Namespace) -> int:
    calendar = write_config(folder)
    clock = SimClock(local(calendar, WEEK1_MONDAY, 0))
    hosts = sorted({m.host for m in calendar.modules} | {calendar.mix_it_up.host})
    began = time.perf_counter()
    with ZoomSandbox(users=hosts, clock=clock, sleep=no_sleep) as sandbox:
        cycle = Cycle(folder, sandbox, clock, calendar, args)
        Storage.open(cycle.settings.database).close()  # `homeroom init-db`
        timeline = build_timeline(cycle)
        by_week_phase: dict[tuple[int, str], Tally] = {}
        by_job: dict[str, Tally] = {}
        job_log = JobLog()
        logger = logging.getLogger("zoom_homeroom.services.jobs")
        logger.addHandler(job_log)
        logger.setLevel(logging.INFO)
        for step in timeline:
            clock.now = step.at
            before = len(sandbox.calls)
            job_log.messages.clear()
            step.action()
            tally = Tally()
            tally.add(sandbox.calls[before:])
            by_week_phase.setdefault((step.week, step.phase), Tally()).merge(tally)
            if step.job_id:
                tally.log = "; ".join(job_log.messages)
                by_job[step.job_id] = tally
        students = len(cycle.students)
        with cycle.runtime() as runtime:
            sessions = runtime.storage.sessions()
    print(
        f"cycle: {len(calendar.modules)} modules, {students} students, week 1 = {WEEK1_MONDAY}, "
        f"{CYCLE_WEEKS} weeks (sessions in weeks {', '.join(map(str, calendar.sessions.weeks))}, "
        f"Mix It Up in weeks {', '.join(map(str, calendar.mix_it_up.weeks))}); {len(timeline)} steps "
        f"played in {time.perf_counter() - began:.1f} s on the sandbox"
    )
    met = report(by_week_phase, by_job, calendar)
    print_final_states(sessions)
    return 0 if met else 1


def print_final_states(sessions: list[SessionRecord]) -> None:
    """Which sessions the backfill finalised by the end of the cycle, and why the others are not."""
    pending = [session for session in sessions if not session.final]
    print(f"\nsessions final at the end of the cycle: {len(sessions) - len(pending)} of {len(sessions)}")
    for session in pending:
        print(
            f"  still pending: {session.key} after {session.backfill_attempts} attempts: {session.backfill_error}"
        )


if __name__ == "__main__":
    sys.exit(main())
