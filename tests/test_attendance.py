"""Attendance from Zoom's join and leave edges: pairing, union of stays, status, rooms, unmatched people."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from tests.factories import make_student, utc
from zoom_homeroom.core.attendance import (
    REASON_AMBIGUOUS,
    REASON_NO_MATCH,
    REASON_OTHER_SESSION,
    AttendanceError,
    Edge,
    Member,
    Override,
    SessionAttendance,
    compute_session,
    intervals,
)
from zoom_homeroom.core.matching import RosterIndex, ZoomIdentity
from zoom_homeroom.core.models import AttendanceConfig

CONFIG = AttendanceConfig(present_fraction=0.5, late_after_minutes=10)


def t(clock: str) -> dt.datetime:
    """t("13:05") or t("13:05:30") on the session's day, UTC."""
    return utc(f"2027-01-06 {clock}")


START, END = t("13:00"), t("14:00")

ADA = make_student(id=1, email="ada@students.example.org", name="Ada Lovelace", aliases=("Countess Ada",))
BOB = make_student(id=2, email="bob@students.example.org", name="Bob Moses")
CY = make_student(id=3, email="cy@students.example.org", name="Cy Young")
DEE = make_student(id=4, email="dee@students.example.org", name="Dee Dee", group=2)
ALEX_A = make_student(id=5, email="alex.a@students.example.org", name="Alex Kim", group=2)
ALEX_B = make_student(id=6, email="alex.b@students.example.org", name="Alex Kim", group=2)
LINUS = make_student(id=9, email="linus@students.example.org", name="Linus Torvalds", module=2)
ROSTER = (ADA, BOB, CY, DEE, ALEX_A, ALEX_B, LINUS)
MEMBERS = tuple(Member(s.id, s.group) for s in ROSTER if s.module == 1)

ADA_ZOOM = ZoomIdentity("Ada Lovelace", "ada@students.example.org", "zu-ada")


def who(student) -> ZoomIdentity:
    return ZoomIdentity(student.name, student.email)


def stay(
    connection: str,
    join: str | None,
    leave: str | None = None,
    *,
    identity: ZoomIdentity = ADA_ZOOM,
    source: str = "webhook",
    room: str = "",
) -> list[Edge]:
    """The edges of one stay; None for a join or leave that Zoom never delivered."""
    moments = [("join", join), ("leave", leave)]
    return [Edge(connection, source, room, kind, t(at), identity) for kind, at in moments if at is not None]


def compute(
    edges: list[Edge],
    *,
    start: dt.datetime = START,
    end: dt.datetime = END,
    ended_at: dt.datetime | None = None,
    members: tuple[Member, ...] = MEMBERS,
    overrides: dict[int, Override] | None = None,
    confirmed: dict[tuple[str, str], int | None] | None = None,
    config: AttendanceConfig = CONFIG,
) -> SessionAttendance:
    return compute_session(
        start=start,
        end=end,
        ended_at=ended_at,
        members=members,
        edges=edges,
        index=RosterIndex.build(ROSTER, confirmed=confirmed or {}),
        overrides=overrides or {},
        config=config,
    )


def record_of(result: SessionAttendance, student_id: int):
    return next(record for record in result.records if record.student_id == student_id)


# -- pairing edges into intervals -------------------------------------------------------------------


def edge(kind: str, at: str, connection: str = "c1", source: str = "webhook", room: str = "") -> Edge:
    return Edge(connection, source, room, kind, t(at), ADA_ZOOM)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        pytest.param([edge("join", "13:00"), edge("leave", "13:20")], [("13:00", "13:20")], id="join-leave"),
        pytest.param(
            [edge("join", "13:00"), edge("leave", "13:20"), edge("join", "13:25"), edge("leave", "13:50")],
            [("13:00", "13:20"), ("13:25", "13:50")],
            id="rejoin",
        ),
        pytest.param(
            [edge("leave", "13:20"), edge("join", "13:00")], [("13:00", "13:20")], id="out-of-order"
        ),
        pytest.param(
            [edge("join", "13:00"), edge("join", "13:05"), edge("leave", "13:20")],
            [("13:00", "13:20")],
            id="second-join-keeps-earlier",
        ),
        pytest.param(
            [edge("join", "13:00"), edge("leave", "13:20"), edge("leave", "13:20"), edge("leave", "13:30")],
            [("13:00", "13:20")],
            id="leave-with-nothing-open-ignored",
        ),
        pytest.param([edge("join", "13:40")], [("13:40", "13:45")], id="lost-leave-closes-at-close_at"),
        pytest.param([edge("join", "13:50")], [("13:50", "13:50")], id="join-after-close_at-is-instant"),
        pytest.param(
            [edge("join", "13:00"), edge("join", "13:10", connection="c2"), edge("leave", "13:20")],
            [("13:00", "13:20"), ("13:10", "13:45")],
            id="paired-per-connection",
        ),
        pytest.param(
            [edge("join", "13:00"), edge("leave", "13:20", source="report")],
            [("13:00", "13:45")],
            id="paired-per-source",
        ),
        pytest.param(
            [edge("join", "13:00"), edge("join", "13:05", room="r1"), edge("leave", "13:10", room="r1")],
            [("13:00", "13:45"), ("13:05", "13:10")],
            id="paired-per-room",
        ),
        pytest.param(
            [edge("join", "13:00"), edge("join", "13:20"), edge("leave", "13:20"), edge("leave", "13:30")],
            [("13:00", "13:20"), ("13:20", "13:30")],
            id="reconnect-at-one-instant",
        ),
        pytest.param(
            [edge("leave", "13:20"), edge("join", "13:20")], [("13:20", "13:20")], id="instant-stay"
        ),
    ],
)
def test_intervals(edges: list[Edge], expected: list[tuple[str, str]]):
    close_at = t("13:45")
    assert intervals(edges, close_at=close_at) == [(t(a), t(b)) for a, b in expected]
    assert intervals(edges[::-1], close_at=close_at) == [(t(a), t(b)) for a, b in expected]


def test_intervals_reject_naive_times():
    naive = dataclasses.replace(edge("join", "13:00"), at=dt.datetime(2027, 1, 6, 13))
    with pytest.raises(AttendanceError, match="naive"):
        intervals([naive], close_at=END)


def test_intervals_reject_an_unknown_edge_kind():
    with pytest.raises(AttendanceError, match="unknown kind 'joined'"):
        intervals([dataclasses.replace(edge("join", "13:00"), kind="joined")], close_at=END)


# -- one student's minutes, times and status --------------------------------------------------------


@pytest.mark.parametrize(
    ("edges", "ended_at", "expected"),
    [
        pytest.param(
            [*stay("a", "13:00", "13:20"), *stay("b", "13:25", "13:50")],
            None,
            ("present", 45, "13:00", "13:50"),
            id="join-leave-rejoin",
        ),
        pytest.param(
            [*stay("laptop", "13:00", "13:40"), *stay("phone", "13:30", "13:50")],
            None,
            ("present", 50, "13:00", "13:50"),
            id="two-devices-overlapping-count-once",
        ),
        pytest.param(
            [
                *stay("a", "13:00", "13:40"),
                *stay("a", "13:00", "13:40"),  # the same webhook delivered twice
                *stay("row-1", "13:00", "13:40", source="report"),
                *stay("p-1", "13:00:05", "13:39:55", source="past_participants"),
            ],
            None,
            ("present", 40, "13:00", "13:40"),
            id="webhook-and-report-duplicates-count-once",
        ),
        pytest.param(
            [*stay("a", None, "13:20"), *stay("b", "13:25", "13:50"), *stay("a", "13:00", None)],
            None,
            ("present", 45, "13:00", "13:50"),
            id="out-of-order-edges",
        ),
        pytest.param(
            stay("a", "13:05"),
            t("13:45"),
            ("present", 40, "13:05", "13:45"),
            id="lost-leave-then-meeting-ended",
        ),
        pytest.param(
            stay("a", "13:05"), None, ("present", 55, "13:05", "14:00"), id="lost-leave-closes-at-end"
        ),
        pytest.param(
            stay("a", "13:05"), t("14:20"), ("present", 55, "13:05", "14:20"), id="meeting-ended-after-end"
        ),
        pytest.param(
            stay("a", "12:58", "13:40"), None, ("present", 40, "12:58", "13:40"), id="joined-before-start"
        ),
        pytest.param(stay("a", "13:15", "14:00"), None, ("late", 45, "13:15", "14:00"), id="joining-late"),
        pytest.param(
            stay("a", "13:00", "13:20"), None, ("partial", 20, "13:00", "13:20"), id="leaving-early"
        ),
        pytest.param([], None, ("absent", 0, None, None), id="never-joining"),
        pytest.param(stay("a", "12:30", "13:00"), None, ("absent", 0, None, None), id="left-at-the-start"),
        pytest.param(stay("a", "14:00", "14:30"), None, ("absent", 0, None, None), id="joined-at-the-end"),
        pytest.param(stay("a", "13:20", "13:20"), None, ("partial", 0, "13:20", "13:20"), id="instant-stay"),
        pytest.param(
            stay("a", "13:00", "13:00"), None, ("absent", 0, None, None), id="instant-stay-at-start"
        ),
        pytest.param(
            stay("a", "13:10", "13:40"),
            None,
            ("present", 30, "13:10", "13:40"),
            id="exactly-half-exactly-10-late",
        ),
        pytest.param(stay("a", "13:11", "13:41"), None, ("late", 30, "13:11", "13:41"), id="11-minutes-late"),
        pytest.param(
            stay("a", "13:10:01", "13:50"), None, ("late", 40, "13:10:01", "13:50"), id="one-second-past-late"
        ),
        pytest.param(
            stay("a", "13:00", "13:29"), None, ("partial", 29, "13:00", "13:29"), id="one-minute-short"
        ),
        pytest.param(
            stay("a", "13:00", "13:29:30"),
            None,
            ("present", 30, "13:00", "13:29:30"),
            id="half-minute-rounds-up",
        ),
        pytest.param(
            stay("a", "13:00", "13:29:29"),
            None,
            ("partial", 29, "13:00", "13:29:29"),
            id="under-half-rounds-down",
        ),
        pytest.param(
            [*stay("a", "13:00", "13:00:20"), *stay("b", "13:30", "13:30:20")],
            None,
            ("partial", 1, "13:00", "13:30:20"),
            id="rounds-the-total-not-each-stay",
        ),
        pytest.param(
            [*stay("a", "13:00", "13:20"), *stay("a", "13:05", "13:35", room="room-1")],
            None,
            ("partial", 20, "13:00", "13:20"),
            id="a-breakout-stay-only-says-where",  # Zoom's room move is a main-meeting leave and join
        ),
    ],
)
def test_one_students_attendance(edges: list[Edge], ended_at, expected):
    status, minutes, first_join, last_leave = expected
    record = record_of(compute(edges, ended_at=ended_at), 1)
    assert record.status == record.computed_status == status
    assert record.minutes == minutes
    assert record.first_join == (t(first_join) if first_join else None)
    assert record.last_leave == (t(last_leave) if last_leave else None)
    assert record.override is None


def test_half_session_window_clips_a_longer_stay():
    result = compute(stay("a", "12:55", "13:45"), start=t("13:00"), end=t("13:30"))
    record = record_of(result, 1)
    assert (record.status, record.minutes) == ("present", 30)
    assert (record.first_join, record.last_leave) == (t("12:55"), t("13:45"))


@pytest.mark.parametrize(
    ("fraction", "leave", "status"),
    [
        (0.7, "13:42", "present"),
        (0.7, "13:41", "partial"),
        (0.1, "13:06", "present"),
        (0.1, "13:05", "partial"),
    ],
)
def test_present_fraction_is_compared_exactly(fraction: float, leave: str, status: str):
    config = AttendanceConfig(present_fraction=fraction, late_after_minutes=10)
    assert record_of(compute(stay("a", "13:00", leave), config=config), 1).status == status


def test_result_does_not_depend_on_edge_order():
    edges = [
        *stay("a", "12:58", "13:20"),
        *stay("b", "13:22", None),
        *stay("row", "12:58", "13:21", source="report"),
        *stay("a", "13:05", "13:15", room="room-1"),
        *stay("g", "13:02", "13:30", identity=ZoomIdentity("Guest")),
        *stay("x", "13:02", "13:30", identity=who(BOB)),
        *main_stay("1", "13:00", "13:05", identity=ADA_DEVICE),
        *main_stay("2", "13:05", "13:20", identity=ADA_DEVICE),
        *room_stay("2", "r1", "13:05", identity=ZoomIdentity("Hana's iPad", "ada@students.example.org")),
        *report_row("2", "13:05", "13:20", room="bo-1", identity=ADA_DEVICE),
    ]
    expected = compute(edges, ended_at=t("13:50"))
    for seed in range(5):
        shuffled = list(edges)
        random.Random(seed).shuffle(shuffled)
        assert compute(shuffled, ended_at=t("13:50")) == expected


def test_records_cover_every_member_ordered_by_group_then_id():
    members = (Member(6, 2), Member(2, 1), Member(4, 2), Member(1, 1))
    result = compute([], members=members)
    assert [(r.group, r.student_id) for r in result.records] == [(1, 1), (1, 2), (2, 4), (2, 6)]
    assert {r.status for r in result.records} == {"absent"}


# -- matching participants --------------------------------------------------------------------------


def test_stays_of_differently_named_participants_of_one_student_merge():
    edges = [
        *stay("a", "13:00", "13:20", identity=ZoomIdentity("Ada's iPad", "ada@students.example.org")),
        *stay("b", "13:10", "13:40", identity=ZoomIdentity("ADA LOVELACE")),
    ]
    record = record_of(compute(edges), 1)
    assert (record.minutes, record.status) == (40, "present")


def test_guest_without_email_matched_by_alias():
    result = compute(stay("g", "13:00", "13:45", identity=ZoomIdentity("countess ada 🦋")))
    assert (record_of(result, 1).status, record_of(result, 1).minutes) == ("present", 45)
    assert result.unmatched == ()


def test_ambiguous_display_name_left_unmatched():
    result = compute(stay("g", "13:00", "13:45", identity=ZoomIdentity("Alex Kim")))
    assert record_of(result, 5).status == record_of(result, 6).status == "absent"
    [unmatched] = result.unmatched
    assert unmatched.ident == "name:alex kim"
    assert unmatched.matched_elsewhere == ()  # both Alexes are suggested when a page shows it
    assert unmatched.reason == REASON_AMBIGUOUS
    assert (unmatched.minutes, unmatched.first_join) == (45, t("13:00"))


@pytest.mark.parametrize(
    ("identity", "confirmed"),
    [
        pytest.param(
            ZoomIdentity("Alex Kim", "", "zu-77"), {("zoom_user_id", "zu-77"): 6}, id="by-zoom-user-id"
        ),
        pytest.param(ZoomIdentity("alex kim"), {("name", "Alex Kim"): 6}, id="by-name"),
        pytest.param(
            ZoomIdentity("Alex", "alex@home.example.net"), {("email", "alex@home.example.net"): 6}, id="email"
        ),
    ],
)
def test_confirmed_mapping_credits_the_student(identity: ZoomIdentity, confirmed):
    result = compute(stay("g", "13:00", "13:45", identity=identity), confirmed=confirmed)
    assert record_of(result, 6).status == "present"
    assert record_of(result, 5).status == "absent"
    assert result.unmatched == ()


def test_not_a_student_mapping_is_ignored():
    staff = ZoomIdentity("Homeroom Rep", "", "zu-rep")
    result = compute(
        stay("s", "12:50", "14:00", identity=staff), confirmed={("zoom_user_id", "zu-rep"): None}
    )
    assert result.unmatched == ()
    assert {r.status for r in result.records} == {"absent"}


def test_student_of_another_session_is_reported_unmatched():
    result = compute(stay("l", "13:00", "13:45", identity=who(LINUS)))
    assert all(r.status == "absent" for r in result.records)
    [unmatched] = result.unmatched
    assert unmatched.ident == "email:linus@students.example.org"
    assert unmatched.matched_elsewhere == (9,)
    assert unmatched.reason == REASON_OTHER_SESSION


def test_unmatched_participants_grouped_by_identity():
    phone = ZoomIdentity("iPhone")
    signed_in = ZoomIdentity("Visitor", "visitor@example.org", "zu-v")
    edges = [
        *stay("w1", "13:05", "13:20", identity=phone),
        *stay("row-9", "13:06", "13:20", identity=ZoomIdentity(" IPHONE "), source="report"),
        *stay("w2", "13:30", "13:40", identity=phone),
        *stay("w3", "13:01", "13:10", identity=signed_in),
        *stay("w4", "13:12", "13:15", identity=dataclasses.replace(signed_in, name="Visitor (2)", email="")),
        *stay("w5", "14:10", "14:20", identity=ZoomIdentity("Late Visitor")),  # outside the window
    ]
    result = compute(edges)
    summary = [(u.ident, u.identity, u.minutes, u.first_join, u.reason) for u in result.unmatched]
    assert summary == [
        ("user:zu-v", signed_in, 12, t("13:01"), REASON_NO_MATCH),
        ("name:iphone", phone, 25, t("13:05"), REASON_NO_MATCH),
    ]


@pytest.mark.parametrize(
    ("join_identity", "leave_identity"),
    [
        pytest.param(
            ZoomIdentity("Ada's iPad", "ada@students.example.org"),
            ZoomIdentity("Ada's iPad"),
            id="email-lost",
        ),
        pytest.param(ZoomIdentity("iPad", "", "zu-9"), ZoomIdentity("Ada Lovelace"), id="renamed"),
    ],
)
def test_connection_belongs_to_its_best_matched_identity(join_identity, leave_identity):
    # One stay whose edges carry different identities: one owner, the one a rule matched.
    edges = [
        Edge("c", "webhook", "", "join", t("13:00"), join_identity),
        Edge("c", "webhook", "", "leave", t("13:30"), leave_identity),
    ]
    result = compute(edges)
    assert (record_of(result, 1).minutes, record_of(result, 1).last_leave) == (30, t("13:30"))
    assert result.unmatched == ()


# -- Zoom's real streams: room moves, missing breakout leaves, restarts, identity chains -------------

ADA_DEVICE = ZoomIdentity("Hana's iPad")  # a device name: no email on main-meeting events


def main_stay(
    user_id: str,
    join: str,
    leave: str | None = None,
    *,
    connection: str = "p-ada",
    instance: str = "i1",
    identity: ZoomIdentity = ADA_ZOOM,
) -> list[Edge]:
    """A main-meeting stay of one user_id, as webhooks describe it."""
    moments = [("join", join), ("leave", leave)]
    return [
        Edge(user_id, "webhook", "", kind, t(at), identity, instance=instance, participant_uuid=connection)
        for kind, at in moments
        if at is not None
    ]


def room_stay(
    parent: str,
    room: str,
    join: str,
    leave: str | None = None,
    *,
    connection: str = "p-ada",
    instance: str = "i1",
    identity: ZoomIdentity = ADA_ZOOM,
) -> list[Edge]:
    """A breakout-room stay: user_id = the parent's followed by the join time, as Zoom writes it."""
    user_id = f"{parent}2027-01-06 {join}:00:000"
    return [
        Edge(user_id, "webhook", room, kind, t(at), identity, instance, connection, parent)
        for kind, at in [("join", join), ("leave", leave)]
        if at is not None
    ]


def report_row(
    user_id: str,
    join: str,
    leave: str,
    *,
    room: str = "",
    instance: str = "i1",
    identity: ZoomIdentity = ADA_ZOOM,
) -> list[Edge]:
    """One row of the participant report: a segment; a room's row carries its bo_mtg_id."""
    return [
        Edge(user_id, "report", room, kind, t(at), identity, instance=instance)
        for kind, at in [("join", join), ("leave", leave)]
    ]


# Ada's minutes computed by hand for each stream; the window is 13:00-14:00, the host ends at 14:00.
@pytest.mark.parametrize(
    ("edges", "instance_ends", "expected"),
    [
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05"),
                *main_stay("2", "13:05", "13:20"),
                *room_stay("2", "r1", "13:05"),
            ],
            {},
            ("partial", 20, "13:00", "13:20", True),
            id="quits-zoom-from-her-room",  # no breakout leave: the room stay ends with its parent
        ),
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05"),
                *main_stay("2", "13:05", "13:45"),
                *main_stay("3", "13:45", "14:00"),
                *room_stay("2", "r1", "13:05"),
            ],
            {},
            ("present", 60, "13:00", "14:00", True),
            id="the-host-closes-the-rooms",
        ),
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05"),
                *main_stay("2", "13:05", "13:30"),
                *main_stay("3", "13:30", "13:50"),
                *room_stay("2", "r1", "13:05", "13:30"),
            ],
            {},
            ("present", 50, "13:00", "13:50", True),
            id="moves-back-by-herself",
        ),
        pytest.param(
            [
                *main_stay("1", "13:15", "13:15"),
                *main_stay("2", "13:15", "14:00"),
                *room_stay("2", "r1", "13:15"),
            ],
            {},
            ("late", 45, "13:15", "14:00", True),
            id="joins-late-straight-into-her-room",
        ),
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05"),
                *main_stay("2", "13:05", "13:20"),
                *room_stay("1", "r1", "13:05"),
            ],
            {},
            ("partial", 20, "13:00", "13:20", True),
            id="parent-is-the-stay-before-the-move",  # either reading of parent_user_id holds
        ),
        pytest.param(
            [*main_stay("1", "13:00", "13:10"), *main_stay("5", "13:12", "13:50", connection="p-ada-2")],
            {},
            ("present", 48, "13:00", "13:50", None),
            id="reconnects-under-a-new-participant-uuid",
        ),
        pytest.param(
            [*main_stay("16778240", "13:00"), *main_stay("16779264", "13:32", "14:00", instance="i2")],
            {"i1": t("13:30")},
            ("present", 58, "13:00", "14:00", None),
            id="restart-open-stay-closes-at-its-instances-end",
        ),
        pytest.param(
            [*main_stay("16778240", "13:00"), *main_stay("16779264", "13:40", "14:00", instance="i2")],
            {},
            ("present", 60, "13:00", "14:00", None),
            id="restart-open-stay-closes-when-the-next-instance-begins",
        ),
        pytest.param(
            [
                *report_row("1", "13:00", "13:05"),
                *report_row("2", "13:05", "13:20", room="bo-1"),
                *report_row("3", "13:25", "14:00"),
            ],
            {},
            ("present", 55, "13:00", "14:00", True),
            id="report-presence-is-every-row-room-rows-included",
        ),
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05"),
                *main_stay("2", "13:05", "13:40"),
                *main_stay("3", "13:40", "14:00"),
                *room_stay("2", "r1", "13:05"),
                *report_row("1", "13:00", "13:05"),
                *report_row("2", "13:05", "13:40", room="bo-1"),
                *report_row("3", "13:40", "14:00"),
            ],
            {},
            ("present", 60, "13:00", "14:00", True),
            id="webhooks-and-report-merge-without-double-counting",
        ),
        pytest.param(
            [
                *(edge for _ in range(2) for edge in main_stay("1", "13:00", "13:05")),
                *main_stay("2", "13:05", "13:20"),
                *main_stay("2", "13:05", "13:20"),
                *room_stay("2", "r1", "13:05"),
                *room_stay("2", "r1", "13:05"),
            ],
            {},
            ("partial", 20, "13:00", "13:20", True),
            id="duplicates",
        ),
    ],
)
def test_presence_from_main_meeting_stays(edges, instance_ends, expected):
    status, minutes, first_join, last_leave, in_room = expected
    result = compute_session(
        start=START,
        end=END,
        ended_at=t("14:00"),
        members=MEMBERS,
        edges=edges,
        index=RosterIndex.build(ROSTER, confirmed={}),
        overrides={},
        config=CONFIG,
        instance_ends=instance_ends,
    )
    record = record_of(result, 1)
    assert (record.status, record.minutes) == (status, minutes)
    assert (record.first_join, record.last_leave) == (t(first_join), t(last_leave))
    assert record.in_assigned_room is in_room
    assert result.unmatched == ()


def test_restarted_meetings_reuse_user_ids_for_other_people():
    # Instance 1: Ada 13:00-13:30 as 16778240, Bob 13:05-13:20 as 16779264. The host ends at 13:30 and
    # restarts at 13:31; in instance 2 Bob rejoins first (13:32) as 16778240, Ada (13:33) as 16779264.
    # By hand: Ada 30 + 27 = 57 minutes, Bob 15 + 28 = 43.
    edges = [
        *main_stay("16778240", "13:00", "13:30", connection="a1", identity=who(ADA)),
        *main_stay("16779264", "13:05", "13:20", connection="b1", identity=who(BOB)),
        *main_stay("16778240", "13:32", "14:00", connection="b2", instance="i2", identity=who(BOB)),
        *main_stay("16779264", "13:33", "14:00", connection="a2", instance="i2", identity=who(ADA)),
    ]
    result = compute(edges, ended_at=t("14:00"))
    assert (record_of(result, 1).minutes, record_of(result, 2).minutes) == (57, 43)


@pytest.mark.parametrize(
    ("edges", "confirmed"),
    [
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05", identity=ADA_DEVICE),
                *main_stay("2", "13:05", "13:50", identity=ADA_DEVICE),
                *room_stay(
                    "2", "r1", "13:05", identity=ZoomIdentity("Hana's iPad", "ada@students.example.org")
                ),
            ],
            {},
            id="the-pre-assigned-email-on-her-breakout-event-credits-the-whole-chain",
        ),
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05", identity=ADA_DEVICE),
                *main_stay("2", "13:05", "13:50", identity=ZoomIdentity("Ada Lovelace")),
            ],
            {},
            id="a-rename-does-not-split-her",
        ),
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05", identity=ADA_DEVICE),
                *main_stay("2", "13:05", "13:50", identity=ZoomIdentity("iPad")),
            ],
            {("name", "iPad"): 1},
            id="a-reps-match-of-one-connection-resolves-the-others",
        ),
        pytest.param(
            [
                *main_stay("1", "13:00", "13:05", identity=ADA_DEVICE),
                *main_stay("2", "13:05", "13:50", identity=ADA_DEVICE),
                *report_row("2", "13:05", "13:50", identity=who(ADA)),
            ],
            {},
            id="a-report-row-with-her-email-credits-the-webhook-stays-of-its-user-id",
        ),
    ],
)
def test_identity_spreads_along_a_persons_connections(edges, confirmed):
    result = compute(edges, confirmed=confirmed, ended_at=t("14:00"))
    assert (record_of(result, 1).minutes, record_of(result, 1).status) == (50, "present")
    assert result.unmatched == ()


def test_an_unmatched_device_is_listed_once_with_its_minutes_from_main_stays():
    edges = [
        *main_stay("1", "13:00", "13:05", connection="p-x", identity=ZoomIdentity("iPhone (3)")),
        *main_stay("2", "13:05", "13:20", connection="p-x", identity=ZoomIdentity("iPhone (3)")),
        *room_stay("2", "r9", "13:05", connection="p-x", identity=ZoomIdentity("iPhone (3)")),
    ]
    [unmatched] = compute(edges).unmatched
    assert (unmatched.ident, unmatched.minutes, unmatched.first_join) == ("name:iphone (3", 20, t("13:00"))


def test_the_room_check_merges_webhook_rooms_and_report_rooms():
    # Group 1 is Ada, Bob and Cy. The webhook calls their room "uuid-x", the report "bo-y". Ada has both,
    # Bob only the report, Cy only webhooks but in another room ("uuid-z" / nothing in the report).
    edges = [
        *main_stay("1", "13:00", "13:05", connection="pa", identity=who(ADA)),
        *main_stay("2", "13:05", "13:50", connection="pa", identity=who(ADA)),
        *room_stay("2", "uuid-x", "13:05", connection="pa", identity=who(ADA)),
        *report_row("2", "13:05", "13:50", room="bo-y", identity=who(ADA)),
        *report_row("4", "13:00", "13:06", identity=who(BOB)),
        *report_row("6", "13:06", "13:50", room="bo-y", identity=who(BOB)),
        *main_stay("7", "13:00", "13:06", connection="pc", identity=who(CY)),
        *main_stay("8", "13:06", "13:50", connection="pc", identity=who(CY)),
        *room_stay("8", "uuid-z", "13:06", connection="pc", identity=who(CY)),
    ]
    rooms = {r.student_id: r.in_assigned_room for r in compute(edges).records if r.group == 1}
    assert rooms == {1: True, 2: True, 3: False}


def test_after_a_restart_the_rooms_have_new_ids_and_each_instance_has_its_group_room():
    # Group 1's room is "a1" in instance 1 and "a2" in instance 2. Ada and Bob stay in it; Cy spends
    # 15 minutes in it before the restart and 25 in another room after.
    def visit(student, instance: str, room: str, join: str, leave: str) -> list[Edge]:
        parent = f"{student.id}{instance}"
        connection = f"p{student.id}{instance}"
        return [
            *main_stay(parent, join, leave, connection=connection, instance=instance, identity=who(student)),
            *room_stay(
                parent, room, join, leave, connection=connection, instance=instance, identity=who(student)
            ),
        ]

    edges = [
        *visit(ADA, "i1", "a1", "13:05", "13:15"),
        *visit(ADA, "i2", "a2", "13:30", "13:50"),
        *visit(BOB, "i1", "a1", "13:05", "13:25"),
        *visit(BOB, "i2", "a2", "13:30", "13:35"),
        *visit(CY, "i1", "a1", "13:05", "13:20"),
        *visit(CY, "i2", "z2", "13:30", "13:55"),
    ]
    rooms = {r.student_id: r.in_assigned_room for r in compute(edges).records if r.group == 1}
    assert rooms == {1: True, 2: True, 3: False}


# -- breakout rooms ---------------------------------------------------------------------------------


def test_student_in_the_wrong_breakout_room():
    edges = [
        *stay("a", "13:00", "13:50", identity=who(ADA)),
        *stay("a", "13:10", "13:40", identity=who(ADA), room="uuid-b"),
        *stay("b", "13:00", "13:50", identity=who(BOB)),
        *stay("b", "13:10", "13:40", identity=who(BOB), room="uuid-b"),
        *stay("c", "13:00", "13:50", identity=who(CY)),
        *stay("c", "13:10", "13:12", identity=who(CY), room="uuid-b"),
        *stay("c", "13:12", "13:40", identity=who(CY), room="uuid-z"),
        *stay("d", "13:00", "13:50", identity=who(DEE)),
        *stay("d", "13:10", "13:40", identity=who(DEE), room="uuid-a"),
        *stay("e", "13:00", "13:50", identity=ZoomIdentity("Alex Kim", "alex.a@students.example.org")),
    ]
    rooms = {r.student_id: r.in_assigned_room for r in compute(edges).records}
    assert rooms == {1: True, 2: True, 3: False, 4: True, 5: None, 6: None}


def test_group_room_tie_goes_to_more_time_then_smaller_uuid():
    edges = [
        *stay("a", "13:10", "13:40", identity=who(ADA), room="uuid-b"),
        *stay("b", "13:10", "13:30", identity=who(BOB), room="uuid-a"),
        *stay("d", "13:10", "13:30", identity=who(DEE), room="uuid-y"),
        *stay("e", "13:10", "13:30", identity=who(ALEX_A), room="uuid-x"),
    ]
    rooms = {r.student_id: r.in_assigned_room for r in compute(edges).records}
    assert rooms == {1: True, 2: False, 3: None, 4: False, 5: True, 6: None}


def test_no_breakout_data_means_no_room_verdict():
    edges = [*stay("a", "13:00", "13:50", identity=who(ADA)), *stay("b", "13:00", "13:50", identity=who(BOB))]
    assert {r.in_assigned_room for r in compute(edges).records} == {None}


def test_breakout_time_outside_the_window_does_not_count():
    edges = [*stay("a", "13:00", "13:50", identity=who(ADA)), *stay("a", "14:05", "14:20", room="uuid-a")]
    assert record_of(compute(edges), 1).in_assigned_room is None


# -- overrides --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edges", "override_status", "computed"),
    [
        pytest.param([], "excused", "absent", id="excused-absent"),
        pytest.param(stay("a", "13:00", "13:10"), "present", "partial", id="present-partial"),
        pytest.param(stay("a", "13:00", "13:50"), "excused", "present", id="excused-present"),
    ],
)
def test_override_wins_and_computed_status_is_kept(edges, override_status: str, computed: str):
    override = Override(override_status, "doctor's appointment", "rep@school.example.org", t("15:00"))
    result = compute(edges, overrides={1: override, 42: override})
    record = record_of(result, 1)
    assert (record.status, record.computed_status, record.override) == (override_status, computed, override)
    assert record_of(result, 2).override is None


# -- impossible input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": dt.datetime(2027, 1, 6, 13)}, "start is a naive datetime"),
        ({"ended_at": dt.datetime(2027, 1, 6, 14)}, "ended_at is a naive datetime"),
        ({"end": START}, "session window is empty"),
        ({"members": (Member(1, 1), Member(1, 2))}, "student 1 is listed twice"),
    ],
)
def test_rejects_impossible_input(changes, message: str):
    with pytest.raises(AttendanceError, match=message):
        compute([], **changes)
