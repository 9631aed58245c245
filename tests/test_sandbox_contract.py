"""Every sandbox endpoint that Zoom's Meetings spec has, checked against the spec: statuses and bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.conftest import FakeClock
from tests.contract import ContractViolation
from tests.factories import utc
from zoom_homeroom.sandbox import Participant, ZoomSandbox

HOST = "mod1@school.example.org"
TIMEOUT = 5
ROOMS = [{"name": "Group 1", "participants": ["ada@students.example.org"]}]
RECURRING = {
    "topic": "Homeroom M1",
    "type": 8,
    "start_time": "2027-01-06T13:00:00",
    "timezone": "America/Denver",
    "duration": 60,
    "agenda": "Week 1",
    "recurrence": {"type": 2, "weekly_days": "4", "repeat_interval": 1, "end_times": 5},
    "settings": {"waiting_room": False, "breakout_room": {"enable": True, "rooms": ROOMS}},
}


class CheckedApi:
    """Sends requests to the sandbox and validates each request and answer against the spec."""

    def __init__(self, sandbox: ZoomSandbox, contract: Any):
        self.sandbox = sandbox
        self.contract = contract
        self.checked: set[tuple[str, str, int]] = set()
        token = requests.post(
            sandbox.token_url,
            auth=(sandbox.client_id, sandbox.client_secret),
            data={"grant_type": "account_credentials", "account_id": sandbox.account_id},
            timeout=TIMEOUT,
        ).json()["access_token"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(
        self,
        method: str,
        path: str,
        expected: int,
        json: Any = None,
        valid_request: bool = True,
        **params: Any,
    ) -> Any:
        """Send, check the status, validate both bodies; `valid_request=False` for deliberately bad input."""
        url = self.sandbox.api_url + path
        if json is not None and valid_request:
            self.contract.validate_request(method, url, json)
        documented = self.contract.parameters(method, url)
        assert set(params) <= set(documented), (
            f"{method} {path}: undocumented query {set(params) - set(documented)}"
        )
        response = self.session.request(method, url, json=json, params=params or None, timeout=TIMEOUT)
        assert response.status_code == expected, response.text
        body = response.json() if response.content else None
        self.contract.validate_response(method, url, response.status_code, body)
        template, _ = self.contract.operation(method, url)
        self.checked.add((method, template, response.status_code))
        return body


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[ZoomSandbox]:
    with ZoomSandbox(clock=clock, users=[HOST], daily_write_limit=4) as sandbox:
        yield sandbox


@pytest.fixture
def api(sandbox: ZoomSandbox, openapi_spec: Any) -> CheckedApi:
    return CheckedApi(sandbox, openapi_spec)


def ended_instance(sandbox: ZoomSandbox, meeting_id: int) -> str:
    uuid = sandbox.start_instance(meeting_id, utc("2027-01-06 20:00"))
    sandbox.join(
        meeting_id, Participant("Ada Lovelace", "ada@students.example.org", "ADA-ID"), utc("2027-01-06 20:01")
    )
    sandbox.join(meeting_id, Participant("Guest"), utc("2027-01-06 20:02"))
    sandbox.open_rooms(meeting_id, utc("2027-01-06 20:04"))  # Ada is pre-assigned to Group 1
    sandbox.join_breakout(meeting_id, Participant("Guest"), "Group 1", utc("2027-01-06 20:05"))
    sandbox.end_instance(meeting_id, utc("2027-01-06 21:00"))
    return uuid


def test_meeting_endpoints_answer_as_the_spec_documents(api: CheckedApi):
    created = api.call("POST", f"/users/{HOST}/meetings", 201, json=RECURRING)
    scheduled = api.call("POST", f"/users/{HOST}/meetings", 201, json={"topic": "One-off", "type": 2})
    meeting = f"/meetings/{created['id']}"
    occurrence = created["occurrences"][1]["occurrence_id"]

    api.call("GET", meeting, 200)
    api.call("GET", meeting, 200, occurrence_id=occurrence)
    api.call("GET", meeting, 200, show_previous_occurrences="true")
    api.call("GET", f"/meetings/{scheduled['id']}", 200)
    api.call("GET", f"/users/{HOST}/meetings", 200)
    api.call("GET", f"/users/{HOST}/meetings", 200, type="upcoming", page_size=1)
    api.call(
        "PATCH", meeting, 204, json={"topic": "Renamed", "settings": {"breakout_room": {"enable": False}}}
    )
    api.call("DELETE", meeting, 204, occurrence_id=occurrence)
    api.call("DELETE", f"/meetings/{scheduled['id']}", 204)

    assert api.checked >= {
        ("POST", "/users/{userId}/meetings", 201),
        ("GET", "/users/{userId}/meetings", 200),
        ("GET", "/meetings/{meetingId}", 200),
        ("PATCH", "/meetings/{meetingId}", 204),
        ("DELETE", "/meetings/{meetingId}", 204),
    }


def test_meeting_errors_use_documented_statuses(api: CheckedApi, sandbox: ZoomSandbox):
    created = api.call("POST", f"/users/{HOST}/meetings", 201, json=RECURRING)
    meeting = f"/meetings/{created['id']}"

    error = api.call("POST", "/users/nobody@school.example.org/meetings", 404, json={"topic": "x"})
    assert error["code"] == 1001
    assert api.call("GET", "/users/nobody@school.example.org/meetings", 404)["code"] == 1001
    assert (
        api.call(
            "POST", f"/users/{HOST}/meetings", 400, json={"topic": "x", "duration": 0}, valid_request=False
        )["code"]
        == 300
    )
    assert api.call("PATCH", meeting, 400, json={"duration": 0}, valid_request=False)["code"] == 300
    assert api.call("GET", "/meetings/1234", 404)["code"] == 3001
    assert api.call("PATCH", "/meetings/1234", 404, json={"topic": "x"})["code"] == 3001
    assert api.call("DELETE", "/meetings/1234", 404)["code"] == 3001
    assert api.call("GET", meeting, 400, occurrence_id="1")["code"] == 300
    assert api.call("DELETE", meeting, 400, occurrence_id="1")["code"] == 300
    api.call("PATCH", meeting, 204, json={"topic": "2"})
    api.call("POST", f"/users/{HOST}/meetings", 201, json={"topic": "3"})
    api.call("PATCH", meeting, 204, json={"topic": "4"})  # the fourth write of the day: the limit
    assert api.call("POST", f"/users/{HOST}/meetings", 429, json={"topic": "5"})["code"] == 429
    assert api.call("PATCH", meeting, 429, json={"topic": "5"})["code"] == 429
    sandbox.faults.add(429, retry_after=1)
    assert api.call("GET", meeting, 429)["code"] == 429
    sandbox.faults.add(429, method="GET", path_prefix="/v2/users/")
    assert api.call("GET", f"/users/{HOST}/meetings", 429)["code"] == 429
    sandbox.faults.add(429, method="DELETE")
    api.call("DELETE", meeting, 429)


def test_past_meeting_and_report_endpoints_answer_as_the_spec_documents(
    api: CheckedApi, sandbox: ZoomSandbox
):
    created = api.call("POST", f"/users/{HOST}/meetings", 201, json=RECURRING)
    uuid = ended_instance(sandbox, created["id"])
    encoded = quote(quote(uuid, safe=""), safe="")

    instances = api.call("GET", f"/past_meetings/{created['id']}/instances", 200)
    past = api.call("GET", f"/past_meetings/{encoded}/participants", 200, page_size=1)
    api.call(
        "GET",
        f"/past_meetings/{created['id']}/participants",
        200,
        next_page_token=past["next_page_token"],
        page_size=1,
    )
    report = api.call("GET", f"/report/meetings/{encoded}/participants", 200)
    api.call("GET", f"/report/meetings/{created['id']}/participants", 200, include_fields="registrant_id")

    assert instances["meetings"][0]["uuid"] == uuid
    assert report["total_records"] == 4  # each person's main-meeting row, then their room row
    assert sum("bo_mtg_id" in row for row in report["participants"]) == 2
    assert api.call("GET", "/past_meetings/1234/instances", 404)["code"] == 3001
    assert api.call("GET", "/past_meetings/1234/participants", 404)["code"] == 3001
    assert api.call("GET", "/report/meetings/1234/participants", 404)["code"] == 3001
    sandbox.faults.add(429, method="GET", times=3)
    api.call("GET", f"/past_meetings/{created['id']}/instances", 429)
    api.call("GET", f"/past_meetings/{created['id']}/participants", 429)
    api.call("GET", f"/report/meetings/{created['id']}/participants", 429)
    sandbox.reports_available = False
    assert api.call("GET", f"/report/meetings/{encoded}/participants", 400)["code"] == 200


def test_the_contract_check_catches_a_body_zoom_would_not_send(api: CheckedApi, openapi_spec: Any):
    # Proves the checks above can fail: Zoom's meeting ids are integers, never text.
    created = api.call("POST", f"/users/{HOST}/meetings", 201, json=RECURRING)
    broken = {**created, "id": str(created["id"])}

    with pytest.raises(ContractViolation, match="id"):
        openapi_spec.validate_response("GET", f"/v2/meetings/{created['id']}", 200, broken)


REGISTRATION = {"approval_type": 0, "registration_type": 1}


def registration_meeting(api: CheckedApi, **settings: Any) -> dict[str, Any]:
    body = {**RECURRING, "settings": {**RECURRING["settings"], **REGISTRATION, **settings}}
    return api.call("POST", f"/users/{HOST}/meetings", 201, json=body)


def test_registrant_endpoints_answer_as_the_spec_documents(api: CheckedApi, sandbox: ZoomSandbox):
    created = registration_meeting(api)
    scheduled = api.call(
        "POST",
        f"/users/{HOST}/meetings",
        201,
        json={
            "topic": "Mix",
            "type": 2,
            "start_time": "2027-01-13T20:30:00Z",
            "settings": {"approval_type": 0},
        },
    )
    registrants = f"/meetings/{created['id']}/registrants"
    ada = {"email": "ada@students.example.org", "first_name": "Ada", "last_name": "Lovelace"}

    first = api.call("POST", registrants, 201, json=ada)
    again = api.call("POST", registrants, 201, json=ada)  # Zoom answers with the same registration
    api.call("POST", registrants, 201, json={"email": "alan@students.example.org", "first_name": "Alan"})
    page = api.call("GET", registrants, 200, page_size=1)
    rest = api.call("GET", registrants, 200, page_size=1, next_page_token=page["next_page_token"])
    api.call("GET", registrants, 200, status="pending")
    cancel = {"action": "cancel", "registrants": [{"id": first["registrant_id"], "email": ada["email"]}]}
    api.call("PUT", f"{registrants}/status", 204, json=cancel)
    batch = api.call(
        "POST",
        f"/meetings/{scheduled['id']}/batch_registrants",
        201,
        json={"registrants": [{"email": f"s{n}@students.example.org", "first_name": "S"} for n in range(30)]},
    )

    assert created["settings"]["approval_type"] == 0 and "registration_url" in created
    assert again["registrant_id"] == first["registrant_id"] and again["join_url"] == first["join_url"]
    # A personal link is /w/{meeting id}?tk=...&pwd=..., unlike the meeting's own /j/ link.
    assert f"/w/{created['id']}?tk=" in first["join_url"] and "&pwd=" in first["join_url"]
    assert f"/j/{created['id']}" in created["join_url"]
    assert page["total_records"] == 2 and len(page["registrants"]) == len(rest["registrants"]) == 1
    # A cancelled registrant is listed under no status.
    listed = [
        api.call("GET", registrants, 200, status=status)["registrants"]
        for status in ("approved", "pending", "denied")
    ]
    assert [[r["email"] for r in group] for group in listed] == [["alan@students.example.org"], [], []]
    assert len(batch["registrants"]) == 30 and all("/w/" in r["join_url"] for r in batch["registrants"])
    assert [r["status"] for r in sandbox.registrants(created["id"])] == ["cancelled", "approved"]
    assert api.checked >= {
        ("POST", "/meetings/{meetingId}/registrants", 201),
        ("GET", "/meetings/{meetingId}/registrants", 200),
        ("PUT", "/meetings/{meetingId}/registrants/status", 204),
        ("POST", "/meetings/{meetingId}/batch_registrants", 201),
    }


def test_manual_approval_registrants_wait_without_a_link_until_approved(api: CheckedApi):
    created = registration_meeting(api, approval_type=1)
    registrants = f"/meetings/{created['id']}/registrants"

    pending = api.call(
        "POST", registrants, 201, json={"email": "ada@students.example.org", "first_name": "Ada"}
    )
    waiting = api.call("GET", registrants, 200, status="pending")["registrants"]
    body = {"action": "approve", "registrants": [{"id": pending["registrant_id"]}]}
    api.call("PUT", f"{registrants}/status", 204, json=body)
    approved = api.call("GET", registrants, 200)["registrants"]

    assert "join_url" not in pending  # the spec: not returned with manual approval
    assert [r["status"] for r in waiting] == ["pending"]
    assert [r["id"] for r in approved] == [pending["registrant_id"]] and "/w/" in approved[0]["join_url"]


def test_registrant_errors_use_documented_statuses_and_zooms_codes(api: CheckedApi, sandbox: ZoomSandbox):
    plain = api.call("POST", f"/users/{HOST}/meetings", 201, json=RECURRING)
    created = registration_meeting(api)
    registrants = f"/meetings/{created['id']}/registrants"
    ada = {"email": "ada@students.example.org", "first_name": "Ada"}

    off = api.call("POST", f"/meetings/{plain['id']}/registrants", 400, json=ada)
    assert (off["code"], off["message"]) == (
        404,
        f"Registration has not been enabled for this meeting: {plain['id']}.",
    )
    assert api.call("GET", f"/meetings/{plain['id']}/registrants", 400)["code"] == 404
    assert (
        api.call("POST", f"/meetings/{created['id']}/batch_registrants", 400, json={"registrants": [ada]})[
            "code"
        ]
        == 303
    )
    assert api.call("POST", "/meetings/1234/registrants", 404, json=ada)["code"] == 3001
    bad = api.call(
        "POST", registrants, 400, json={"email": "not-an-email", "first_name": "X"}, valid_request=False
    )
    assert bad["code"] == 300
    status = api.call("PUT", f"{registrants}/status", 400, json={"action": "remove"}, valid_request=False)
    assert status["code"] == 300
    for _ in range(3):
        api.call("POST", registrants, 201, json=ada)
    limit = api.call("POST", registrants, 429, json=ada)  # the 4th registration of one email today
    assert "daily rate limit of (3)" in limit["message"] and "ada@students.example.org" in limit["message"]
    sandbox.clock.advance(days=1)  # a new UTC day (and a new token: the old one lasted an hour)
    CheckedApi(sandbox, api.contract).call("POST", registrants, 201, json=ada)


def test_a_full_meeting_refuses_the_next_registrant(clock: FakeClock, openapi_spec: Any):
    with ZoomSandbox(clock=clock, users=[HOST], registrant_capacity=2) as small:
        api = CheckedApi(small, openapi_spec)
        registrants = f"/meetings/{registration_meeting(api)['id']}/registrants"
        for name in ("ada", "alan"):
            api.call("POST", registrants, 201, json={"email": f"{name}@x.org", "first_name": name})
        full = api.call("POST", registrants, 400, json={"email": "grace@x.org", "first_name": "Grace"})
    assert (full["code"], full["message"]) == (3043, "Meeting has reached maximum attendee capacity.")


def test_a_basic_host_cannot_have_registration(api: CheckedApi, sandbox: ZoomSandbox):
    sandbox.add_user("basic@school.example.org", type=1)
    body = {**RECURRING, "settings": {**RECURRING["settings"], **REGISTRATION}}
    created = api.call("POST", "/users/basic@school.example.org/meetings", 201, json=body)
    assert created["settings"]["approval_type"] == 2  # dropped without an error
    assert (
        api.call(
            "POST",
            f"/meetings/{created['id']}/registrants",
            400,
            json={"email": "a@x.org", "first_name": "A"},
        )["code"]
        == 404
    )


@pytest.mark.parametrize(
    ("emails_shown", "email"),
    [
        pytest.param(None, "", id="by-default-the-registered-email-is-hidden"),
        pytest.param(True, "ada@students.example.org", id="zoom-showing-the-registered-email"),
    ],
)
def test_reports_show_the_registrant_id_of_a_personal_link_only_when_asked(
    api: CheckedApi, sandbox: ZoomSandbox, emails_shown: bool | None, email: str
):
    if emails_shown is not None:
        sandbox.simulation.registrant_emails_shown = emails_shown
    created = registration_meeting(api)
    ada = api.call(
        "POST",
        f"/meetings/{created['id']}/registrants",
        201,
        json={"email": "ada@students.example.org", "first_name": "Ada"},
    )
    sandbox.start_instance(created["id"], utc("2027-01-06 20:00"))
    phone = Participant("iPhone (7)", join_url=ada["join_url"])
    sandbox.join(created["id"], phone, utc("2027-01-06 20:04"))
    sandbox.end_instance(created["id"], utc("2027-01-06 20:46"))

    asked = api.call(
        "GET", f"/report/meetings/{created['id']}/participants", 200, include_fields="registrant_id"
    )
    plain = api.call("GET", f"/report/meetings/{created['id']}/participants", 200)
    past = api.call("GET", f"/past_meetings/{created['id']}/participants", 200)

    (row,) = asked["participants"]
    assert (row["name"], row["registrant_id"], row["user_email"]) == (
        "iPhone (7)",
        ada["registrant_id"],
        email,
    )
    assert "registrant_id" not in plain["participants"][0]
    assert past["participants"][0]["user_email"] == email
