"""`homeroom demo`: the main job on the built-in Zoom and Slack sandboxes, in one process, with no
credentials.

It starts the sandboxes and the service, loads a sample cohort (four modules, two programs), syncs the
meetings, runs week 2's Mix It Up poll in Slack (the cohort votes through it), forms and announces the
groups, plays week 1 and then a whole week-2 Wednesday through signed webhooks on a faster clock, telling
what happens as it plays (`narrator`), computes attendance, runs the backfill (and the reps' digest), and
serves the dashboard until Ctrl-C (or the stop event).
`fast=True` plays with no waiting and returns.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ..core.formation import quality_summary
from ..core.meetings import room_name
from ..core.models import HOMEROOM, Calendar, homeroom_key, mix_it_up_key
from ..core.planning import plan_sessions
from ..core.roster import parse_roster, roster_changes
from ..errors import HomeroomError
from ..runtime import Runtime
from ..sandbox import LocalServer, Participant, ZoomSandbox
from ..services import attendance, jobs, mixitup
from ..services.sync import sync_homeroom
from ..services.users import DEMO_MARKER, DEMO_PASSWORD, DEMO_USER, hash_password
from ..settings import Settings, load_calendar, sandbox_settings
from ..web.app import create_app
from .cohort import TOPICS, roster_csv, sample_students
from .narrator import Narrator
from .play import DemoClock, Pacer, Stopped, play
from .slack import DemoSlack, SlackChannels
from .wednesday import Action, MeetingPlan, script_day

TIMEZONE = "America/Denver"
SEED = 2027
PROMPTS = {
    1: "Introduce yourself: what brought you to coding, and one goal for this module.",
    2: "Share one thing you got stuck on this week and how you got unstuck.",
    3: "Demo something you built (even something small) and ask for one piece of feedback.",
    4: "Which job-search habit are you building? Trade one tip with your group.",
    5: "Looking back at the module: what would you tell yourself in week 1?",
}
# Zoom takes a while to process a meeting's report (its rows show duration 0 meanwhile); the backfill
# after the sessions runs later than this.
REPORT_DELAY = dt.timedelta(minutes=30)
Echo = Callable[[str], None]


@dataclass(frozen=True)
class PlayedDay:
    """One day the demo played: the meetings' plans, the script's actions, what to call each meeting."""

    plans: list[MeetingPlan]
    actions: list[Action]
    labels: dict[str, str]  # plan key -> "Mod 1", "Mix It Up"


@dataclass
class DemoOptions:
    data_dir: Path
    port: int = 8000
    sandbox_port: int = 0
    fast: bool = False
    speed: float = 240.0  # simulated seconds per real second: an hour in 15 s


def demo_calendar_toml(week1_monday: dt.date, slack: SlackChannels | None = None) -> str:
    """The demo's calendar; with `slack`, where it posts in the Slack sandbox (and the poll's topics)."""
    modules = "\n".join(
        f'[[modules]]\nnumber = {n}\nhost = "mod{n}@school.example.org"\n'
        f'week1_monday = "{week1_monday.isoformat()}"\nskip = []\n'
        + (f'slack_channel = "{slack.modules[n]}"\n' if slack else "")
        for n in (1, 2, 3, 4)
    )
    topics = ", ".join(f'"{topic}"' for topic in TOPICS)
    slack_tables = (
        f'[slack]\nchannel = "{slack.channel}"\nreps_channel = "{slack.reps_channel}"\n'
        f'dashboard_url = "{slack.dashboard_url}"\n'
        if slack
        else ""
    )
    return f"""# The demo's program calendar (written by `homeroom demo`).
timezone = "{TIMEZONE}"

[sessions]
weekday = "wednesday"
start = "13:00"
duration_minutes = 60
weeks = [1, 2, 3, 4, 5]

[mix_it_up]
weeks = [2, 4]
start = "13:30"
duration_minutes = 30
host = "careers@school.example.org"
group_size = [4, 6]
upper_modules = [3, 4]
topics = [{topics}]

[attendance]
present_fraction = 0.5
late_after_minutes = 10

{slack_tables}
{modules}"""


def run_demo(options: DemoOptions, echo: Echo, *, stop: threading.Event | None = None) -> list[PlayedDay]:
    """Run the whole demo; returns after `fast`, else serves until Ctrl-C or `stop` is set.

    Returns the days it played (fewer when stopped while playing).
    """
    stop = stop or threading.Event()
    data = _fresh_data_dir(options.data_dir)
    week1_monday = _this_monday()
    calendar_path = data / "homeroom.toml"
    calendar_path.write_text(demo_calendar_toml(week1_monday), encoding="utf-8")
    write_prompts(data)
    calendar = load_calendar(calendar_path)
    tz = calendar.timezone
    clock = DemoClock(_local(week1_monday + dt.timedelta(days=1), 12, tz))

    hosts = sorted({m.host for m in calendar.modules} | {calendar.mix_it_up.host})
    sandbox = ZoomSandbox(users=hosts, clock=clock, report_delay=REPORT_DELAY, seed=SEED).start(
        port=options.sandbox_port
    )
    slack = DemoSlack(sample_students(seed=SEED), clock, seed=SEED)
    settings = sandbox_settings(
        sandbox, database=data / "homeroom.db", config=calendar_path, slack=slack.sandbox
    )
    runtime = Runtime(settings, clock=clock)
    server = None
    played: list[PlayedDay] = []
    try:
        server = _serve(settings, calendar, clock, options.port)
        service_url = server.url
        sandbox.connect_webhooks(f"{service_url}/webhooks/zoom")
        # The calendar gains its [slack] table now that the service's address is known.
        calendar_path.write_text(
            demo_calendar_toml(week1_monday, slack.connect(service_url)), encoding="utf-8"
        )
        echo(f"Zoom sandbox:  {sandbox.url}  (API {sandbox.api_url})")
        echo(f"Slack sandbox: {slack.sandbox.url}  (API {slack.sandbox.api_url})")
        echo(f"Service:       {service_url}  (health: {service_url}/healthz)")
        echo(
            f"Data:          {data}  (HOMEROOM_DATABASE={settings.database} HOMEROOM_CONFIG={calendar_path})"
        )
        _load_cohort(runtime, data, echo)
        _sync_all(runtime, echo)
        week1 = _script(runtime, 1, seed=SEED)
        echo(f"\nPlaying week 1 ({_day(calendar, 1):%A %Y-%m-%d}) in a blink ...")
        _play(runtime, sandbox, week1, Pacer(clock, stop, speed=None), echo, detail=False)
        played.append(week1)
        clock.advance_to(_local(_day(calendar, 1) + dt.timedelta(days=6), 12, tz))
        echo(
            "\nThe day before week 2: sync again (the agenda moves to week 2's prompt), form Mix It Up groups"
        )
        _sync_all(runtime, echo)
        slack.run_poll(runtime, clock.advance_to, echo)
        _form_mix_it_up(runtime, echo)
        slack.announce(runtime, echo)
        clock.advance_to(_local(_day(calendar, 2), 9, tz))
        slack.post_prompts(runtime, _day(calendar, 2), echo)
        week2 = _script(runtime, 2, seed=SEED + 2, mix_it_up=True)
        speed = None if options.fast else options.speed
        echo(f"\n{_play_header(calendar, week2, speed)} ...")
        _play(runtime, sandbox, week2, Pacer(clock, stop, speed=speed), echo, detail=True)
        played.append(week2)
        clock.advance_to(_local(_day(calendar, 2), 15, tz))
        _finish(runtime, echo)
        slack.report_digests(echo)
        _summary(runtime, echo)
        _create_demo_user(runtime)
        echo(f"\nDashboard: {service_url}/  sign in as {DEMO_USER} / {DEMO_PASSWORD}")
        if options.fast:
            return played
        echo("Serving until Ctrl-C ...")
        while not stop.wait(3600):
            pass
        raise Stopped  # set from outside (a test), as Ctrl-C would
    except (KeyboardInterrupt, Stopped):
        stop.set()
        echo("\nstopping the demo")
    finally:
        if server is not None:
            server.stop()
        sandbox.stop()
        slack.stop()
        runtime.close()
    return played


def _fresh_data_dir(path: Path) -> Path:
    if path.exists():
        if not (path / "homeroom.toml").is_file() and any(path.iterdir()):
            raise HomeroomError(f"{path} exists and is not a demo folder; pass another --data-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    # config check knows the demo's database by this file (its admin has a public password).
    (path / DEMO_MARKER).write_text("Data of `homeroom demo`, replaced at its next run.\n", encoding="utf-8")
    return path.resolve()


def _this_monday() -> dt.date:
    today = dt.date.today()
    return today - dt.timedelta(days=today.weekday())


def _local(day: dt.date, hour: int, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).astimezone(dt.UTC)


def _day(calendar: Calendar, week: int) -> dt.date:
    return next(s.date for s in plan_sessions(calendar, kinds=(HOMEROOM,)) if s.week == week)


def write_prompts(data: Path) -> None:
    """A discussion prompt per module and week, where the demo's calendar looks for them."""
    for module in (1, 2, 3, 4):
        folder = data / "prompts" / f"mod{module}"
        folder.mkdir(parents=True)
        for week, text in PROMPTS.items():
            (folder / f"week{week}.md").write_text(text + "\n", encoding="utf-8")


def _serve(settings: Settings, calendar: Calendar, clock: DemoClock, port: int) -> LocalServer:
    app = create_app(settings, calendar=calendar, clock=clock)
    return LocalServer(app, port=port, name="demo-service")


def _load_cohort(runtime: Runtime, data: Path, echo: Echo) -> None:
    students = sample_students(seed=SEED)
    (data / "roster.csv").write_text(roster_csv(students), encoding="utf-8")
    parsed = parse_roster(
        (data / "roster.csv").read_bytes(), filename="roster.csv", modules=runtime.calendar.module_numbers
    )
    changes = roster_changes([], parsed)
    runtime.storage.apply_roster(changes, today=runtime.now().date(), now=runtime.now())
    echo(f"\nRoster: {len(parsed)} students in 4 modules ({data / 'roster.csv'})")
    for change in changes:
        echo(f"  {change.summary()}")


def _sync_all(runtime: Runtime, echo: Echo) -> None:
    for module in runtime.calendar.module_numbers:
        result = sync_homeroom(runtime, module)
        echo(f"  Mod {module}: {'; '.join(result.actions) or 'up to date'}")
        if "created" in " ".join(result.actions):
            spec_rooms = runtime.storage.meeting(result.key).spec["settings"]["breakout_room"]["rooms"]
            rooms = ", ".join(f"{room['name']} ({len(room['participants'])})" for room in spec_rooms)
            echo(f"    join {result.join_url}")
            echo(f"    {len(spec_rooms)} breakout rooms, pre-assigned by group: {rooms}")


def _form_mix_it_up(runtime: Runtime, echo: Echo) -> None:
    formation, seed = mixitup.form(runtime, 2, time_limit_seconds=5)
    q = formation.quality
    echo(f"  Mix It Up week 2: {q.groups} groups of {q.students} students; {quality_summary(q.as_dict())}")
    result = mixitup.sync_week(runtime, 2)
    echo(f"  Mix It Up week 2 meeting: {'; '.join(result.actions)}  join {result.join_url}")


def _plans(runtime: Runtime, week: int) -> dict[str, MeetingPlan]:
    """Each module's meeting plan, by its label ("Mod 1")."""
    plans = {}
    for module in runtime.calendar.module_numbers:
        session = runtime.storage.session(homeroom_key(module, _day(runtime.calendar, week)))
        students = runtime.storage.students(module=module)
        rooms = {s.id: f"Breakout Room {s.group}" for s in students}
        plans[f"Mod {module}"] = MeetingPlan(
            session.zoom_meeting_id, session.start, session.end, rooms, students
        )
    return plans


def _mix_plan(runtime: Runtime, week: int) -> MeetingPlan:
    session = runtime.storage.session(mix_it_up_key(mixitup.week_date(runtime.calendar, week)))
    formation = runtime.storage.formation(session.date)
    students = {s.id: s for s in runtime.storage.students()}
    rooms = {sid: room_name(group.number, group.topic) for group in formation.groups for sid in group.members}
    return MeetingPlan(
        session.zoom_meeting_id, session.start, session.end, rooms, [students[i] for i in rooms]
    )


def _script(runtime: Runtime, week: int, *, seed: int, mix_it_up: bool = False) -> PlayedDay:
    """The week's meetings and what happens in them; the first student of Mod 1 sits in the wrong room."""
    plans = _plans(runtime, week)
    homerooms = list(plans.values())
    if mix_it_up:
        plans["Mix It Up"] = _mix_plan(runtime, week)
    wrong_room = homerooms[0].students[0].id if homerooms and homerooms[0].students else None
    actions = script_day(homerooms, plans.get("Mix It Up"), seed=seed, wrong_room_student=wrong_room)
    return PlayedDay(list(plans.values()), actions, {plan.key: label for label, plan in plans.items()})


def _play_header(calendar: Calendar, day: PlayedDay, speed: float | None) -> str:
    first, last = (action.at.astimezone(calendar.timezone) for action in (day.actions[0], day.actions[-1]))
    if speed is None:
        pace = "with no waiting"
    else:
        seconds = (last - first).total_seconds() / speed
        pace = f"{speed:g}x faster than real time (about {seconds:.0f} s; Ctrl-C stops)"
    return f"Playing Wednesday {first:%Y-%m-%d}, {first:%H:%M}-{last:%H:%M} {calendar.timezone.key}, {pace}"


def _play(
    runtime: Runtime, sandbox: ZoomSandbox, day: PlayedDay, pacer: Pacer, echo: Echo, *, detail: bool
) -> None:
    """Perform the day's actions on the sandbox at the pacer's pace, narrated (`detail`) or only ticked."""
    calendar = runtime.calendar
    narrator = Narrator(
        echo,
        day.plans,
        day.labels,
        timezone=calendar.timezone,
        late_after=dt.timedelta(minutes=calendar.attendance.late_after_minutes),
        detail=detail,
    )
    play(day.actions, pacer, narrator, lambda action: _perform(sandbox, action))
    narrator.finish()


def _perform(sandbox: ZoomSandbox, action: Action) -> None:
    meeting = action.meeting
    host = {
        "start": sandbox.start_instance,
        "end": sandbox.end_instance,
        "open_rooms": sandbox.open_rooms,
        "close_rooms": sandbox.close_rooms,
    }
    if action.kind in host:
        host[action.kind](meeting, action.at)
        return
    who = action.person
    person = Participant(who.name, who.email, web_client=who.web_client)
    if action.kind == "join":
        sandbox.join(meeting, person, action.at, duplicate=action.duplicate)
    elif action.kind == "leave":
        sandbox.leave(meeting, person, action.at, action.how, duplicate=action.duplicate)
    elif action.kind == "join_breakout":
        sandbox.join_breakout(meeting, person, action.room, action.at)
    elif action.kind == "leave_breakout":
        sandbox.leave_breakout(meeting, person, action.room, action.at)
    elif action.kind == "rename":
        sandbox.rename(meeting, person, action.name, action.at)


def _finish(runtime: Runtime, echo: Echo) -> None:
    echo(
        "\nAfter the sessions: backfill from Zoom's reports (what a scheduler run does 45 minutes after each)"
    )
    jobs.finalize_pending(runtime=runtime)
    final = [s for s in runtime.storage.sessions() if s.final]
    echo(f"  {len(final)} sessions final")


def _summary(runtime: Runtime, echo: Echo) -> None:
    rows = attendance.records(runtime)
    echo("\nAttendance (week: present / late / partial / absent, wrong room):")
    for kind, label in (("homeroom", "Homeroom"), ("mix_it_up", "Mix It Up")):
        groups: dict[tuple, list[dict]] = {}
        for row in rows:
            if row["kind"] == kind:
                groups.setdefault((row["week"], row["module"]), []).append(row)
        for (week, module), items in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
            counts = {
                status: sum(r["status"] == status for r in items)
                for status in ("present", "late", "partial", "absent")
            }
            wrong = sum(r["in_assigned_room"] is False for r in items)
            where = f"Mod {module}" if module else "all modules"
            echo(
                f"  {label} week {week} {where}: {counts['present']} / {counts['late']} / {counts['partial']} / "
                f"{counts['absent']}, {wrong} in the wrong room"
            )
    unmatched = attendance.read(runtime).unmatched()
    echo(f"Unmatched Zoom participants for reps to resolve: {len(unmatched)}")
    for row in unmatched[:5]:
        echo(f"  {row.session_key}: {row.name!r} ({row.minutes} min)")
    counts = runtime.storage.delivery_counts()
    echo(
        f"Webhook deliveries stored: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
    )


def _create_demo_user(runtime: Runtime) -> None:
    runtime.storage.save_user(DEMO_USER, "admin", hash_password(DEMO_PASSWORD), now=runtime.now())
