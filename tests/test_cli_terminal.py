"""Names the CLI prints reach the terminal with their control characters escaped (issue 12, item 11):
an escape sequence or a carriage return in a Zoom display name or a roster name cannot act on it."""

from __future__ import annotations

import datetime as dt

from tests.factories import utc
from tests.webhook_bodies import store_known_session
from zoom_homeroom.cli import cli
from zoom_homeroom.core.attendance import Edge
from zoom_homeroom.core.matching import ZoomIdentity
from zoom_homeroom.core.models import Student
from zoom_homeroom.core.roster import ModuleChanges

HOSTILE_GUEST = "\x1b[2J\x1b[1;31mFAKE: all absent\rGuest"
HOSTILE_STUDENT = "Eve\x1b]0;owned\x07 Student"


def hostile_session(runtime) -> None:
    now = utc("2027-01-05 12:00")
    change = ModuleChanges(1, added=[Student("eve@x.org", HOSTILE_STUDENT, 1, "BE", 1)])
    runtime.storage.apply_roster([change], today=now.date(), now=now)
    session = store_known_session(runtime.storage, now=now)
    guest = ZoomIdentity(HOSTILE_GUEST, "", "zu-guest")
    eve = ZoomIdentity(HOSTILE_STUDENT, "eve@x.org", "zu-eve")
    start = session.start
    runtime.storage.add_presence(
        session.id,
        [
            Edge("g", "webhook", "", "join", start, guest, "i"),
            Edge("g", "webhook", "", "leave", start + dt.timedelta(minutes=30), guest, "i"),
            Edge("e", "webhook", "", "join", start, eve, "i"),
            Edge("e", "webhook", "", "leave", start + dt.timedelta(minutes=55), eve, "i"),
        ],
    )


def test_unmatched_display_names_are_printed_escaped(runner, runtime, clock):
    hostile_session(runtime)
    clock.now = utc("2027-01-06 22:00")
    result = runner.invoke(cli, ["attendance", "unmatched"], obj=runtime)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\r" not in result.output
    assert "\\x1b[2J\\x1b[1;31mFAKE: all absent\\rGuest" in result.output


def test_roster_names_in_the_attendance_table_are_printed_escaped(runner, runtime, clock):
    hostile_session(runtime)
    clock.now = utc("2027-01-06 22:00")
    result = runner.invoke(cli, ["attendance"], obj=runtime)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "Eve\\x1b]0;owned\\x07 Student" in result.output


def test_a_users_email_is_printed_escaped(runner, runtime):
    result = runner.invoke(
        cli,
        ["user", "add", "a\x1b[8m@school.example.org", "--role", "rep", "--password-stdin"],
        input="a long enough password\n",
        obj=runtime,
    )
    assert "\x1b" not in result.output and "a\\x1b[8m@school.example.org" in result.output
