"""A small, realistic dataset for the dashboard and API tests: two modules' rosters, their meetings, three
held weeks of Zoom presence (with breakout rooms), one Mix It Up, unmatched participants, users and a token.

Two roster names are hostile on purpose: markup and a spreadsheet formula. The test calendar's sessions
are Wednesdays 13:00-14:00 America/Denver (20:00 UTC); `NOW` is the Thursday of week 3.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from werkzeug.security import generate_password_hash

from tests.factories import utc
from zoom_homeroom.core.attendance import Edge
from zoom_homeroom.core.matching import ZoomIdentity, identity_key
from zoom_homeroom.core.models import (
    HOMEROOM,
    MIX_IT_UP,
    Calendar,
    FormedGroup,
    PlannedSession,
    StoredMeeting,
    Student,
)
from zoom_homeroom.core.planning import plan_sessions
from zoom_homeroom.core.roster import ModuleChanges, Move
from zoom_homeroom.services.users import hash_token
from zoom_homeroom.storage import Storage

NOW = utc("2027-01-21 18:00")
PASSWORD = "correct horse battery staple"
REP = "rep@school.example.org"
ADMIN = "admin@school.example.org"
TOKEN = "dashboard-test-token-5f1c0e8e4b7a4d0c9a6b"
TOKEN_NAME = "reports"
SCRIPT_NAME = "<script>alert(1)</script>"
FORMULA_NAME = '=HYPERLINK("http://x","y")'
DOMAIN = "students.example.org"
# Tests only: a cheap hash keeps each sign-in fast. The service itself hashes with scrypt.
FAST_HASH = "pbkdf2:sha256:1000"

# (slug, name, module, group)
ROSTER = (
    ("ada", "Ada Lovelace", 1, 1),
    ("grace", "Grace Hopper", 1, 1),
    ("script", SCRIPT_NAME, 1, 1),
    ("alan", "Alan Turing", 1, 2),
    ("formula", FORMULA_NAME, 1, 2),
    ("katherine", "Katherine Johnson", 1, 2),
    ("linus", "Linus Torvalds", 2, 1),
    ("margaret", "Margaret Hamilton", 2, 1),
    ("dennis", "Dennis Ritchie", 2, 1),
    ("barbara", "Barbara Liskov", 2, 2),
    ("ken", "Ken Thompson", 2, 2),
)

# Minutes after the start: (join, leave, breakout room). Missing students are absent.
ROOMS = {1: "room-a", 2: "room-b"}
FULL, HALF = (0, 60, None), (0, 30, None)
PRESENCE: dict[tuple[int, int], dict[str, tuple[int, int, str | None]]] = {
    (1, 1): {
        "ada": FULL,
        "grace": (12, 60, None),  # late
        "script": (0, 20, None),  # partial
        "alan": FULL,
        "formula": (1, 58, None),
        "katherine": (0, 60, ROOMS[1]),  # in group 1's room, not her own
    },
    (2, 1): {"linus": FULL, "margaret": FULL, "dennis": (15, 60, None), "ken": FULL},
    (1, 2): {"ada": HALF, "grace": HALF, "alan": (0, 29, None), "formula": HALF, "katherine": (0, 10, None)},
    (2, 2): {"linus": HALF, "margaret": HALF, "barbara": HALF, "ken": HALF},
    (1, 3): {"ada": FULL, "grace": FULL, "script": FULL, "formula": FULL},
    (2, 3): {"linus": FULL, "margaret": FULL, "dennis": FULL, "barbara": FULL, "ken": (20, 60, None)},
}
MIX_IT_UP_GROUPS = (
    (1, "Technical interviews", ("ada", "linus", "alan")),
    (2, "Resume review", ("grace", "margaret", "ken", "formula")),
)
MIX_IT_UP_PRESENCE = {
    "ada": FULL,
    "linus": FULL,
    "alan": (8, 30, None),
    "margaret": FULL,
    "ken": FULL,
    "formula": FULL,
}
# Week 3 of module 1: Katherine joins from her phone under a short name; week 2 has a guest speaker.
NICKNAME = ZoomIdentity("Katherine J.")
GUEST = ZoomIdentity("Careers Team (guest)")


@dataclass(frozen=True)
class Dataset:
    """What tests need to refer to: ids, keys and the secrets they sign in with."""

    students: dict[str, int]  # slug -> student id
    week3: str  # module 1's week-3 session key (pending, with an unmatched participant)
    week2: str  # module 1's week-2 session key (final, with a guest)
    week4: str  # module 1's week-4 session key (not held yet)
    mix_it_up: str
    nickname_ident: str
    guest_ident: str

    def email(self, slug: str) -> str:
        return f"{slug}@{DOMAIN}"


# As the solver stores it when its time limit stopped the tie-break on group sizes.
MIX_IT_UP_QUALITY = {
    "students": 7,
    "groups": 2,
    "answered": 4,
    "first_choice_share": 0.75,
    "top2_share": 1.0,
    "groups_single_module": 0,
    "groups_single_program": 1,
    "isolated_students": 0,
    "repeated_pairs": 0,
    "solve_seconds": 0.5,
    "optimal": False,
    "gap": None,
    "status": "FEASIBLE",
    "proof": [
        {"rule": "topic choices", "optimal": True, "gap": 0.0},
        {"rule": "mixing", "optimal": True, "gap": 0.0},
        {"rule": "group sizes", "optimal": False, "gap": None},
    ],
}


def fill(storage: Storage, calendar: Calendar) -> Dataset:
    """Store the dataset in an empty, migrated database."""
    students = _roster(storage)
    sessions = _sessions(storage, calendar)
    for (module, week), stays in PRESENCE.items():
        session = sessions[(HOMEROOM, module, week)]
        _presence(storage, session, stays)
    mix = sessions[(MIX_IT_UP, None, 2)]
    storage.save_formation(
        mix.date,
        2,
        seed=7,
        quality=MIX_IT_UP_QUALITY,
        groups=[
            FormedGroup(n, topic, tuple(students[s] for s in slugs)) for n, topic, slugs in MIX_IT_UP_GROUPS
        ],
        now=utc("2027-01-12 12:00"),
    )
    _presence(storage, mix, MIX_IT_UP_PRESENCE)
    week3, week2 = sessions[(HOMEROOM, 1, 3)], sessions[(HOMEROOM, 1, 2)]
    _stay(storage, week3, NICKNAME, "nick-1", 3, 60)
    _stay(storage, week2, GUEST, "guest-1", 5, 25)
    for session in sessions.values():
        if session.week <= 2:
            storage.finalize_session(storage.session(session.key).id, now=session.end + dt.timedelta(hours=1))
    storage.set_session_instance(storage.session(week3.key).id, zoom_uuid="uuid-w3", ended_at=week3.end)
    _users(storage)
    return Dataset(
        students=students,
        week3=week3.key,
        week2=week2.key,
        week4=sessions[(HOMEROOM, 1, 4)].key,
        mix_it_up=mix.key,
        nickname_ident=identity_key(NICKNAME),
        guest_ident=identity_key(GUEST),
    )


def _roster(storage: Storage) -> dict[str, int]:
    changes: dict[int, ModuleChanges] = {}
    for slug, name, module, group in ROSTER:
        student = Student(email=f"{slug}@{DOMAIN}", name=name, module=module, program="BE", group=group)
        changes.setdefault(module, ModuleChanges(module)).added.append(student)
    storage.apply_roster(list(changes.values()), today=dt.date(2027, 1, 2), now=utc("2027-01-02 12:00"))
    # Ken moved to group 1 after week 2: his group history has two entries.
    move = ModuleChanges(2, moved=[Move(f"ken@{DOMAIN}", "Ken Thompson", 2, 1)])
    storage.apply_roster([move], today=dt.date(2027, 1, 14), now=utc("2027-01-14 12:00"))
    return {slug: storage.student_by_email(f"{slug}@{DOMAIN}").id for slug, *_ in ROSTER}


def _sessions(storage: Storage, calendar: Calendar) -> dict[tuple[str, int | None, int], PlannedSession]:
    planned = [s for s in plan_sessions(calendar) if s.module in (1, 2, None)]
    meetings: dict[str, list[PlannedSession]] = {}
    for session in planned:
        key = f"{HOMEROOM}:{session.module}:2027-01-04" if session.kind == HOMEROOM else session.key
        meetings.setdefault(key, []).append(session)
    for number, (key, group) in enumerate(sorted(meetings.items()), start=1):
        zoom_id = f"8574606{number:04d}"
        meeting = StoredMeeting(
            key,
            group[0].kind,
            group[0].module,
            "host@school.example.org",
            zoom_id,
            f"https://zoom.example/j/{zoom_id}",
            {},
        )
        storage.save_meeting(meeting, now=utc("2027-01-02 12:00"))
        storage.upsert_sessions(group, meeting_key=key, occurrence_ids={})
    return {(s.kind, s.module, s.week): s for s in planned}


def _presence(
    storage: Storage,
    session: PlannedSession,
    stays: dict[str, tuple[int, int, str | None]],
) -> None:
    groups = _mix_it_up_groups() if session.kind == MIX_IT_UP else _homeroom_groups()
    for slug, (join, leave, room) in stays.items():
        identity = ZoomIdentity(_name(slug), f"{slug}@{DOMAIN}", f"zu-{slug}")
        _stay(storage, session, identity, f"{slug}-main", join, leave)
        # Most of the stay in a breakout room: their own group's unless the plan says otherwise.
        breakout = room or ROOMS[groups[slug]]
        _stay(
            storage, session, identity, f"{slug}-room", join + 2, leave - 2, room=f"{session.key}:{breakout}"
        )


def _homeroom_groups() -> dict[str, int]:
    # Attendance uses today's roster, where Ken is in group 1.
    return {slug: 1 if slug == "ken" else group for slug, _, _, group in ROSTER}


def _mix_it_up_groups() -> dict[str, int]:
    return {slug: number for number, _, slugs in MIX_IT_UP_GROUPS for slug in slugs}


def _stay(
    storage: Storage,
    session: PlannedSession,
    identity: ZoomIdentity,
    connection: str,
    join: int,
    leave: int,
    *,
    room: str = "",
) -> None:
    at = session.start
    edges = [
        Edge(connection, "webhook", room, "join", at + dt.timedelta(minutes=join), identity),
        Edge(connection, "webhook", room, "leave", at + dt.timedelta(minutes=leave), identity),
    ]
    storage.add_presence(storage.session(session.key).id, edges)


def _name(slug: str) -> str:
    return next(name for s, name, *_ in ROSTER if s == slug)


def _users(storage: Storage) -> None:
    for email, role in ((REP, "rep"), (ADMIN, "admin")):
        storage.save_user(
            email, role, generate_password_hash(PASSWORD, method=FAST_HASH), now=utc("2027-01-02 12:00")
        )
    storage.add_token(TOKEN_NAME, hash_token(TOKEN), now=utc("2027-01-02 12:00"))


# -- web helpers ------------------------------------------------------------------------------------


def form_token(client, path: str = "/sign-in", **kwargs) -> str:
    """The CSRF token of the first form on a page, as a browser would send it back."""
    page = client.get(path, **kwargs).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no form with a CSRF token on {path}"
    return match.group(1)


def sign_in(client, email: str = REP, password: str = PASSWORD, *, next_path: str | None = None, **kwargs):
    """Post the sign-in form (with its CSRF token); returns the response. kwargs go to both requests."""
    data = {"email": email, "password": password, "csrf_token": form_token(client, **kwargs)}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/sign-in", data=data, **kwargs)
