"""Exact identity through Zoom registration, end to end: students join through the personal links sync
stored, the sandbox delivers signed webhooks (and serves reports) carrying each link's registrant id,
and each record is checked against minutes worked out by hand.

Module 1's week-1 session: Wednesday 2027-01-06, 13:00-14:00 America/Denver = 20:00-21:00 UTC; present
needs 30 minutes, late is a first join after 13:10. Nobody is a user of the school's Zoom account.
"""

from __future__ import annotations

import pytest
import requests

from tests.conftest import TEST_WEBHOOK_SECRET, FakeSleep
from tests.factories import utc
from tests.test_registration import ROSTER, import_roster, registration_calendar
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.sandbox import Participant, SandboxError, ZoomSandbox
from zoom_homeroom.services import attendance, backfill
from zoom_homeroom.services.registration import student_links
from zoom_homeroom.services.sync import sync_homeroom

SESSION = "homeroom:1:2027-01-06"


@pytest.fixture
def calendar():
    return registration_calendar()


@pytest.fixture
def emails_shown() -> bool:
    """Whether Zoom shows a registrant's registered email (the sandbox plays both cases)."""
    return False


@pytest.fixture
def sandbox(clock, calendar, emails_shown):
    hosts = sorted({module.host for module in calendar.modules} | {calendar.mix_it_up.host})
    box = ZoomSandbox(
        clock=clock,
        users=hosts,
        webhook_secret=TEST_WEBHOOK_SECRET,
        sleep=FakeSleep(),
        registrant_emails_shown=emails_shown,
    )
    with box.start():
        yield box


@pytest.fixture
def links(sandbox_runtime, sandbox, live_app) -> dict[str, str]:
    """Module 1 synced (students registered); webhooks go to the running service. email: personal link."""
    import_roster(sandbox_runtime, ROSTER)
    sync_homeroom(sandbox_runtime, 1)
    sandbox.connect_webhooks(f"{live_app.url}/webhooks/zoom")
    return {link.email: link.join_url for link in student_links(sandbox_runtime, 1)}


def at(hhmm: str):
    return utc(f"2027-01-06 {hhmm}")


def play(sandbox: ZoomSandbox, clock, meeting_id: str, steps) -> None:
    """Run (hh:mm, action, args...) steps in order, moving the test clock with each."""
    for hhmm, action, *args in steps:
        clock.now = at(hhmm)
        getattr(sandbox, action)(meeting_id, *args, at(hhmm))


def records(runtime: Runtime) -> dict[str, tuple]:
    """email: (status, minutes, first join, last leave), for students who attended."""
    return {
        row["email"]: (row["status"], row["minutes"], row["first_join"], row["last_leave"])
        for row in attendance.records(runtime, module=1, week=1)
        if row["status"] != "absent"
    }


def unmatched(runtime: Runtime) -> list[str]:
    session = runtime.storage.session(SESSION)
    return [row.name for row in runtime.storage.unmatched_rows(session_id=session.id)]


def meeting_id(runtime: Runtime) -> str:
    return runtime.storage.session(SESSION).zoom_meeting_id


def test_iphone_7_with_no_email_on_adas_link_is_credited_to_ada(links, sandbox, sandbox_runtime, clock):
    phone = Participant("iPhone (7)", join_url=links["ada@x.org"])  # a guest: not signed in, no email
    alan = Participant("Alan Turing", join_url=links["alan@x.org"])
    play(
        sandbox,
        clock,
        meeting_id(sandbox_runtime),
        [
            ("19:58", "start_instance"),
            ("20:00", "join", alan),
            ("20:04", "join", phone),  # 13:04: not late
            ("20:46", "leave", phone),  # 42 minutes
            ("21:00", "end_instance"),
        ],
    )

    assert records(sandbox_runtime) == {
        "ada@x.org": ("present", 42, "2027-01-06T20:04:00Z", "2027-01-06T20:46:00Z"),
        "alan@x.org": ("present", 60, "2027-01-06T20:00:00Z", "2027-01-06T21:00:00Z"),
    }
    assert unmatched(sandbox_runtime) == []
    joined = [
        e["body"]["payload"]["object"]["participant"]
        for e in sandbox.events
        if e["body"]["event"] == "meeting.participant_joined"
    ]
    phone_event = next(p for p in joined if p["user_name"] == "iPhone (7)")
    assert phone_event["email"] == "" and phone_event["registrant_id"]  # what Zoom sent: no email at all


def test_a_link_shared_across_a_restart_and_two_devices_counts_once(links, sandbox, sandbox_runtime, clock):
    # Grace joins from her laptop, the host ends and restarts the meeting (user_ids restart), and she
    # comes back from her phone with the same link while the laptop reconnects too.
    laptop = Participant("Grace's MacBook", join_url=links["grace@x.org"])
    phone = Participant("iPhone", join_url=links["grace@x.org"])
    play(
        sandbox,
        clock,
        meeting_id(sandbox_runtime),
        [
            ("19:58", "start_instance"),
            ("20:00", "join", laptop),
            ("20:20", "end_instance"),
            ("20:25", "start_instance"),
            ("20:25", "join", phone),
            ("20:30", "join", laptop),
            ("20:40", "leave", phone),
            ("20:50", "leave", laptop),
            ("21:00", "end_instance"),
        ],
    )

    # 20:00-20:20 and 20:25-20:50 (the devices overlap): 20 + 25 = 45 minutes.
    assert records(sandbox_runtime) == {
        "grace@x.org": ("present", 45, "2027-01-06T20:00:00Z", "2027-01-06T20:50:00Z")
    }
    assert unmatched(sandbox_runtime) == []


def test_reports_alone_credit_a_link_by_its_registrant_id(links, sandbox, sandbox_runtime, clock):
    sandbox.deliver_webhooks = False  # every webhook lost: only Zoom's report knows
    phone = Participant("iPhone (7)", join_url=links["ada@x.org"])
    play(
        sandbox,
        clock,
        meeting_id(sandbox_runtime),
        [
            ("19:58", "start_instance"),
            ("20:15", "join", phone),
            ("20:49", "leave", phone),
            ("21:00", "end_instance"),
        ],
    )
    clock.now = at("21:50")

    result = backfill.backfill(sandbox_runtime, sandbox_runtime.storage.session(SESSION))

    assert result.final, result.message
    assert records(sandbox_runtime) == {
        "ada@x.org": ("late", 34, "2027-01-06T20:15:00Z", "2027-01-06T20:49:00Z")  # 13:15 is after 13:10
    }
    assert unmatched(sandbox_runtime) == []


@pytest.mark.parametrize("emails_shown", [True])
def test_zoom_showing_the_registered_email_names_the_same_student(links, sandbox, sandbox_runtime, clock):
    phone = Participant("iPhone (7)", join_url=links["ada@x.org"])
    play(
        sandbox,
        clock,
        meeting_id(sandbox_runtime),
        [
            ("19:58", "start_instance"),
            ("20:00", "join", phone),
            ("20:31", "leave", phone),
            ("21:00", "end_instance"),
        ],
    )

    assert records(sandbox_runtime) == {
        "ada@x.org": ("present", 31, "2027-01-06T20:00:00Z", "2027-01-06T20:31:00Z")
    }
    shown = [e["body"]["payload"]["object"].get("participant", {}) for e in sandbox.events]
    assert {p["email"] for p in shown if p} == {"ada@x.org"}


def test_a_meeting_that_requires_registration_lets_in_only_personal_links(
    links, sandbox, sandbox_runtime, clock
):
    meeting = meeting_id(sandbox_runtime)
    sandbox.start_instance(meeting, at("19:58"))
    generic = sandbox_runtime.storage.meeting("homeroom:1:2027-01-04").join_url
    with pytest.raises(SandboxError, match="requires registration"):
        sandbox.join(meeting, Participant("Guest", join_url=generic), at("20:00"))
    # A cancelled registration's link no longer lets anyone in.
    import_roster(sandbox_runtime, ROSTER.replace("Alan Turing,alan@x.org,1,FE,1\n", ""))
    sync_homeroom(sandbox_runtime, 1)
    with pytest.raises(SandboxError, match="registration is cancelled"):
        sandbox.join(meeting, Participant("Alan", join_url=links["alan@x.org"]), at("20:01"))


def test_the_control_api_joins_through_a_personal_link_too(links, sandbox, sandbox_runtime, clock):
    meeting = meeting_id(sandbox_runtime)
    control = f"{sandbox.url}/_sandbox/simulate"
    phone = {"name": "iPhone (7)", "join_url": links["ada@x.org"]}
    for action, hhmm, extra in (("start", "19:58", {}), ("join", "20:05", {"participant": phone})):
        answer = requests.post(
            control,
            json={"action": action, "meeting_id": meeting, "at": f"2027-01-06T{hhmm}:00Z", **extra},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text

    (joined,) = [e["body"] for e in sandbox.events if e["body"]["event"] == "meeting.participant_joined"]
    registrant = next(r for r in sandbox.registrants(meeting) if r["email"] == "ada@x.org")
    assert joined["payload"]["object"]["participant"]["registrant_id"] == registrant["id"]
