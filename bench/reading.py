"""Reading benchmark: a year of synthetic history, then the overview page and one session's records.

2,000 students in 4 modules, 40 homeroom sessions per module (eight 5-week cycles), about six Zoom events
per student and session (join, leave, rejoin, leave, a breakout room's join and leave). Prints the time to
build it and compute attendance once, then the median time of `GET /` (the overview, signed in) and of
`GET /api/attendance?module=1&date=...&kind=homeroom` (one session, 500 records, with a token), measured
in-process through the Flask test client (no network). Target: under 200 ms each.

    .venv/bin/python bench/reading.py [--students 2000] [--sessions 40] [--repeat 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoom_homeroom import create_app  # noqa: E402
from zoom_homeroom.core.attendance import Edge, ZoomIdentity  # noqa: E402
from zoom_homeroom.core.models import PlannedSession, StoredMeeting, Student  # noqa: E402
from zoom_homeroom.core.planning import local_to_utc  # noqa: E402
from zoom_homeroom.core.roster import ModuleChanges  # noqa: E402
from zoom_homeroom.services import attendance  # noqa: E402
from zoom_homeroom.services.users import hash_password, hash_token  # noqa: E402
from zoom_homeroom.settings import Settings, load_calendar  # noqa: E402
from zoom_homeroom.storage import Storage  # noqa: E402

MODULES = (1, 2, 3, 4)
TOKEN = "bench-reading-token-0123456789abcdef"
PASSWORD = "bench reading password"
FIRST_MONDAY = dt.date(2026, 1, 5)


def calendar_text(week1_monday: dt.date) -> str:
    modules = "".join(
        f'[[modules]]\nnumber = {n}\nhost = "mod{n}@school.example.org"\nweek1_monday = "{week1_monday}"\n'
        for n in MODULES
    )
    return (
        'timezone = "America/Denver"\n[sessions]\nweekday = "wednesday"\nstart = "13:00"\nduration_minutes = 60\n'
        'weeks = [1, 2, 3, 4, 5]\n[mix_it_up]\nweeks = [2, 4]\nstart = "13:30"\nduration_minutes = 30\n'
        'host = "careers@school.example.org"\ngroup_size = [4, 6]\nupper_modules = [3, 4]\n'
        "[attendance]\npresent_fraction = 0.5\nlate_after_minutes = 10\n" + modules
    )


def build(storage: Storage, calendar, students_total: int, sessions_per_module: int) -> list[PlannedSession]:
    rng = random.Random(7)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    per_module = students_total // len(MODULES)
    changes = []
    for module in MODULES:
        change = ModuleChanges(module)
        change.added = [
            Student(
                f"s{module}-{i}@students.example.org",
                f"Student {module}-{i}",
                module,
                "FE" if i % 2 else "BE",
                i // 5 + 1,
            )
            for i in range(per_module)
        ]
        changes.append(change)
    storage.apply_roster(changes, today=now.date(), now=now)
    students = {m: storage.students(module=m) for m in MODULES}
    sessions: list[PlannedSession] = []
    for module in MODULES:
        meeting_key = f"homeroom:{module}:history"
        storage.save_meeting(
            StoredMeeting(
                meeting_key, "homeroom", module, f"mod{module}@x.org", f"8{module}00000000", None, {}
            ),
            now=now,
        )
        for index in range(sessions_per_module):
            day = FIRST_MONDAY + dt.timedelta(weeks=index, days=2)
            start = local_to_utc(day, dt.time(13), calendar.timezone)
            session = PlannedSession(
                "homeroom", module, index % 5 + 1, day, start, start + dt.timedelta(hours=1)
            )
            sessions.append(session)
        storage.upsert_sessions(
            [s for s in sessions if s.module == module], meeting_key=meeting_key, occurrence_ids={}
        )
    for session in sessions:
        record = storage.session(session.key)
        members = [(s.id, s.group) for s in students[session.module]]
        storage.replace_session_members(session.key, members)
        storage.add_presence(record.id, list(_edges(rng, session, students[session.module])))
        storage.finalize_session(record.id, now=now)
    return sessions


def _edges(rng: random.Random, session: PlannedSession, students: list[Student]):
    minute = dt.timedelta(minutes=1)
    for student in students:
        if rng.random() < 0.08:
            continue
        who = ZoomIdentity(student.name, student.email)
        join = session.start + rng.randint(-3, 12) * minute
        drop = join + rng.randint(10, 30) * minute
        back = drop + rng.randint(1, 5) * minute
        leave = session.end - rng.randint(0, 10) * minute
        key = f"{session.key}:{student.id}"
        yield Edge(f"{key}:a", "webhook", "", "join", join, who)
        yield Edge(f"{key}:a", "webhook", "", "leave", drop, who)
        yield Edge(f"{key}:b", "webhook", "", "join", back, who)
        yield Edge(f"{key}:b", "webhook", "", "leave", leave, who)
        room = f"room-{session.key}-{student.group}"
        yield Edge(f"{key}:r", "webhook", room, "join", join + 5 * minute, who)
        yield Edge(f"{key}:r", "webhook", room, "leave", join + 25 * minute, who)


def median_ms(call, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=40, help="homeroom sessions per module")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )

    with tempfile.TemporaryDirectory(prefix="homeroom-bench-") as folder:
        folder = Path(folder)
        last_cycle = FIRST_MONDAY + dt.timedelta(weeks=(args.sessions // 5 - 1) * 5)
        (folder / "homeroom.toml").write_text(calendar_text(last_cycle))
        calendar = load_calendar(folder / "homeroom.toml")
        settings = Settings(
            database=folder / "h.db", config_path=folder / "homeroom.toml", secret_key="x" * 32
        )
        storage = Storage.open(settings.database)

        started = time.perf_counter()
        sessions = build(storage, calendar, args.students, args.sessions)
        built = time.perf_counter() - started
        edges = storage.db.execute("SELECT count(*) FROM presence").fetchone()[0]
        started = time.perf_counter()
        computed = attendance.refresh(storage, calendar)
        compute = time.perf_counter() - started
        rows = storage.db.execute("SELECT count(*) FROM attendance").fetchone()[0]
        print(
            f"history: {args.students} students, {len(sessions)} sessions, {edges} presence edges; "
            f"built in {built:.1f} s; attendance of {computed} sessions ({rows} records) computed in {compute:.1f} s "
            f"({compute / max(computed, 1) * 1000:.0f} ms per session)"
        )
        storage.save_user(
            "rep@school.example.org", "rep", hash_password(PASSWORD), now=dt.datetime.now(dt.UTC)
        )
        storage.add_token("bench", hash_token(TOKEN), now=dt.datetime.now(dt.UTC))
        storage.close()

        clock_now = local_to_utc(last_cycle + dt.timedelta(weeks=4, days=3), dt.time(9), calendar.timezone)
        app = create_app(settings, calendar=calendar, clock=lambda: clock_now)
        client = app.test_client()
        page = client.get("/sign-in").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(
            "/sign-in", data={"csrf_token": token, "email": "rep@school.example.org", "password": PASSWORD}
        )
        assert client.get("/").status_code == 200

        one = next(s for s in sessions if s.module == 1 and s.date >= last_cycle)
        url = f"/api/attendance?module=1&date={one.date}&kind=homeroom"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        records = client.get(url, headers=headers).get_json()["records"]
        overview, overview_max = median_ms(lambda: client.get("/").close(), args.repeat)
        api, api_max = median_ms(lambda: client.get(url, headers=headers).close(), args.repeat)
        print(
            f"GET /                      median {overview:6.1f} ms  (max {overview_max:.1f}, {args.repeat} runs)"
        )
        print(f"GET {url[:34]}... median {api:6.1f} ms  (max {api_max:.1f}; {len(records)} records)")
        verdict = "met" if max(overview, api) < 200 else "MISSED"
        print(f"target: under 200 ms each: {verdict}")


if __name__ == "__main__":
    main()
