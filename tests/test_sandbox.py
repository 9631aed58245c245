"""The built-in Zoom sandbox, over real HTTP: OAuth, users, meetings, recurrence, limits, faults, reports, CLI."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.conftest import FakeClock
from tests.factories import utc
from zoom_homeroom.sandbox import Participant, SandboxError, ZoomSandbox

HOST = "mod1@school.example.org"
OTHER_HOST = "mod2@school.example.org"
DENVER = ZoneInfo("America/Denver")
TIMEOUT = 5


@pytest.fixture
def sandbox(clock: FakeClock):
    with ZoomSandbox(clock=clock, users=[HOST, OTHER_HOST]) as sandbox:
        yield sandbox


def fetch_token(sandbox: ZoomSandbox, **overrides: Any) -> requests.Response:
    auth = overrides.pop("auth", (sandbox.client_id, sandbox.client_secret))
    data = {"grant_type": "account_credentials", "account_id": sandbox.account_id, **overrides}
    return requests.post(sandbox.token_url, auth=auth, data=data, timeout=TIMEOUT)


class Api:
    """A tiny authenticated client: `api.get("/meetings/1")` -> requests.Response."""

    def __init__(self, sandbox: ZoomSandbox, token: str | None = None):
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.headers["Authorization"] = (
            f"Bearer {token or fetch_token(sandbox).json()['access_token']}"
        )

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return self.session.request(method, self.sandbox.api_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, host: str = HOST, **body: Any) -> dict[str, Any]:
        body = {"topic": "Homeroom", "type": 2, "start_time": "2027-01-06T13:00:00", "duration": 60, **body}
        response = self.post(f"/users/{host}/meetings", json=body)
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def api(sandbox: ZoomSandbox) -> Api:
    return Api(sandbox)


def weekly(start: str, count: int, day: str = "4") -> dict[str, Any]:
    """A type 8 body: every Wednesday (Zoom day 4) at `start` local time in Denver."""
    recurrence = {"type": 2, "weekly_days": day, "repeat_interval": 1, "end_times": count}
    return {"type": 8, "start_time": start, "timezone": "America/Denver", "recurrence": recurrence}


# -- OAuth -------------------------------------------------------------------------------------


def test_issues_bearer_token_with_classic_scopes(sandbox: ZoomSandbox):
    response = fetch_token(sandbox)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["api_url"] == sandbox.url
    assert set(body["scope"].split()) == {
        "meeting:read:admin",
        "meeting:write:admin",
        "report:read:admin",
        "user:read:admin",
    }


def test_accepts_token_parameters_in_the_query_string(sandbox: ZoomSandbox):
    response = requests.post(
        sandbox.token_url,
        params={"grant_type": "account_credentials", "account_id": sandbox.account_id},
        auth=(sandbox.client_id, sandbox.client_secret),
        timeout=TIMEOUT,
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"auth": ("sandbox-client", "wrong-secret")}, 401, "invalid_client"),
        ({"auth": ("other-client", "sandbox-secret")}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"account_id": "someone-else"}, 400, "invalid_request"),
    ],
)
def test_rejects_bad_token_requests_like_zoom(sandbox: ZoomSandbox, overrides, status, error):
    response = fetch_token(sandbox, **overrides)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_rejects_wrong_secret_with_zoom_reason(sandbox: ZoomSandbox):
    response = fetch_token(sandbox, auth=("sandbox-client", "nope"))

    assert response.json() == {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}


def test_token_expires_on_the_injected_clock(sandbox: ZoomSandbox, api: Api, clock: FakeClock):
    assert api.get(f"/users/{HOST}").status_code == 200

    clock.advance(seconds=3599)
    assert api.get(f"/users/{HOST}").status_code == 200
    clock.advance(seconds=1)
    response = api.get(f"/users/{HOST}")

    assert response.status_code == 401
    assert response.json() == {"code": 124, "message": "Invalid access token."}


def test_invalidated_tokens_answer_401_and_new_ones_work(sandbox: ZoomSandbox, api: Api):
    sandbox.invalidate_tokens()

    assert api.get(f"/users/{HOST}").status_code == 401
    assert Api(sandbox).get(f"/users/{HOST}").status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic c2FuZGJveA=="])
def test_api_calls_without_a_live_bearer_token_are_401(sandbox: ZoomSandbox, header):
    headers = {"Authorization": header} if header else {}

    response = requests.get(f"{sandbox.api_url}/users/{HOST}", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 401
    assert response.json()["code"] == 124


def test_token_without_a_scope_is_refused_for_that_endpoint(clock: FakeClock):
    scopes = ("meeting:read:admin", "meeting:write:admin", "user:read:admin")
    with ZoomSandbox(clock=clock, users=[HOST], scopes=scopes) as sandbox:
        api = Api(sandbox)
        assert "report:read:admin" not in fetch_token(sandbox).json()["scope"]

        response = api.get("/report/meetings/81000000000/participants")

    assert response.status_code == 400
    assert response.json()["code"] == 4711
    assert "report:read:admin" in response.json()["message"]


# -- users -------------------------------------------------------------------------------------


def test_finds_user_by_email_in_any_case_or_by_id(api: Api):
    by_email = api.get(f"/users/{HOST.upper()}").json()

    by_id = api.get(f"/users/{by_email['id']}").json()

    assert by_email == by_id
    assert by_email["email"] == HOST
    assert by_email["status"] == "active"
    assert by_email["type"] == 2
    assert {"first_name", "last_name", "timezone"} <= by_email.keys()


def test_unknown_user_is_404_code_1001(api: Api):
    response = api.get("/users/nobody@school.example.org")

    assert response.status_code == 404
    assert response.json() == {"code": 1001, "message": "User does not exist: nobody@school.example.org."}


def test_add_user_sets_type_and_status(sandbox: ZoomSandbox, api: Api):
    sandbox.add_user("Basic.Person@school.example.org", type=1, status="inactive")

    user = api.get("/users/basic.person@school.example.org").json()

    assert (user["type"], user["status"]) == (1, "inactive")


def test_add_user_rejects_a_duplicate_or_a_non_email(sandbox: ZoomSandbox):
    with pytest.raises(SandboxError, match="already exists"):
        sandbox.add_user(HOST)
    with pytest.raises(SandboxError, match="not an email"):
        sandbox.add_user("not-an-email")


def test_control_api_adds_users(sandbox: ZoomSandbox, api: Api):
    response = requests.post(
        f"{sandbox.url}/_sandbox/users", json={"email": "new@school.example.org"}, timeout=TIMEOUT
    )

    assert response.status_code == 201
    assert api.get("/users/new@school.example.org").status_code == 200
    assert [
        user["email"]
        for user in requests.get(f"{sandbox.url}/_sandbox/state", timeout=TIMEOUT).json()["users"]
    ][-1] == "new@school.example.org"


# -- meetings ----------------------------------------------------------------------------------


def test_creates_meeting_with_zoom_fields(api: Api, clock: FakeClock):
    meeting = api.create(topic="Homeroom M1", agenda="Week 1")

    assert isinstance(meeting["id"], int) and len(str(meeting["id"])) == 11
    assert meeting["uuid"]
    assert meeting["host_email"] == HOST
    assert meeting["host_id"] == api.get(f"/users/{HOST}").json()["id"]
    assert meeting["join_url"].startswith("http://127.0.0.1:")
    assert meeting["start_url"]
    assert meeting["created_at"] == "2027-01-05T12:00:00Z"
    # Local start time in, UTC out, plus the time zone it was given in (the host's: UTC here).
    assert (meeting["start_time"], meeting["timezone"]) == ("2027-01-06T13:00:00Z", "UTC")
    assert api.get(f"/meetings/{meeting['id']}").json()["topic"] == "Homeroom M1"


def test_local_start_time_is_read_in_the_given_time_zone(api: Api):
    meeting = api.create(start_time="2027-01-06T13:00:00", timezone="America/Denver")

    assert (meeting["start_time"], meeting["timezone"]) == ("2027-01-06T20:00:00Z", "America/Denver")


def test_scheduled_meeting_without_start_time_becomes_instant(api: Api):
    response = api.post(f"/users/{HOST}/meetings", json={"topic": "Now", "type": 2})

    assert response.json()["type"] == 1
    assert response.json()["start_time"] == "2027-01-05T12:00:00Z"


def test_create_for_unknown_user_is_404(api: Api, sandbox: ZoomSandbox):
    response = api.post("/users/ghost@school.example.org/meetings", json={"topic": "x"})

    assert response.status_code == 404
    assert response.json()["code"] == 1001
    assert sandbox.state()["meetings"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duration": 0}, "duration"),
        ({"type": 5}, "type"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"start_time": "next wednesday"}, "start_time"),
        ({"type": 8, "start_time": "2027-01-06T13:00:00"}, "recurrence"),
        ({"type": 8, "recurrence": {"type": 2, "weekly_days": "9"}}, "recurrence.weekly_days"),
        ({"settings": {"breakout_room": {"enable": True, "rooms": [{"participants": []}]}}}, "settings"),
        ({"topic": "x" * 201}, "topic"),
    ],
)
def test_rejects_invalid_meeting_fields_with_validation_failed(api: Api, body, field):
    body = {"topic": "Homeroom", "start_time": "2027-01-06T13:00:00", **body}

    response = api.post(f"/users/{HOST}/meetings", json=body)

    assert response.status_code == 400
    assert response.json()["code"] == 300
    assert response.json()["message"] == "Validation Failed."
    assert response.json()["errors"][0]["field"].startswith(field)


def test_rejects_a_body_that_is_not_json(api: Api):
    response = api.post(
        f"/users/{HOST}/meetings", data=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json() == {"code": 300, "message": "Request Body should be a valid JSON object."}


def test_unknown_meeting_is_404_code_3001(api: Api):
    for method in ("GET", "PATCH", "DELETE"):
        response = api.request(method, "/meetings/123", json={} if method == "PATCH" else None)

        assert response.status_code == 404
        assert response.json() == {"code": 3001, "message": "Meeting does not exist: 123."}


def test_patch_replaces_fields_and_merges_settings_key_by_key(api: Api):
    rooms = [{"name": "Room A", "participants": ["a@x.org"]}, {"name": "Room B", "participants": ["b@x.org"]}]
    meeting = api.create(settings={"waiting_room": True, "breakout_room": {"enable": True, "rooms": rooms}})
    new_rooms = [{"name": "Room C", "participants": ["c@x.org"]}]

    response = api.patch(
        f"/meetings/{meeting['id']}",
        json={"topic": "Renamed", "settings": {"breakout_room": {"enable": True, "rooms": new_rooms}}},
    )
    after = api.get(f"/meetings/{meeting['id']}").json()

    assert response.status_code == 204 and response.content == b""
    assert after["topic"] == "Renamed"
    assert after["settings"]["waiting_room"] is True
    assert after["settings"]["breakout_room"] == {"enable": True, "rooms": new_rooms}
    assert after["agenda"] == meeting["agenda"]


def test_patch_ignores_a_start_time_in_the_past_as_zoom_documents(api: Api):
    meeting = api.create()

    api.patch(f"/meetings/{meeting['id']}", json={"start_time": "2026-12-01T10:00:00Z", "topic": "Kept"})
    after = api.get(f"/meetings/{meeting['id']}").json()

    assert (after["start_time"], after["topic"]) == (meeting["start_time"], "Kept")


def test_rejected_patch_changes_nothing(api: Api):
    meeting = api.create()

    response = api.patch(f"/meetings/{meeting['id']}", json={"topic": "New", "duration": 5000})

    assert response.status_code == 400
    assert api.get(f"/meetings/{meeting['id']}").json()["topic"] == "Homeroom"


def test_delete_removes_the_meeting(api: Api):
    meeting = api.create()

    assert api.delete(f"/meetings/{meeting['id']}").status_code == 204
    assert api.get(f"/meetings/{meeting['id']}").status_code == 404


# -- recurrence --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "expected_utc"),
    [
        # US daylight saving time starts on 2027-03-14: 13:00 MST = 20:00 UTC, 13:00 MDT = 19:00 UTC.
        ("2027-03-03T13:00:00", ["2027-03-03T20:00:00Z", "2027-03-10T20:00:00Z", "2027-03-17T19:00:00Z"]),
        # ... and ends on 2027-11-07.
        ("2027-10-27T13:00:00", ["2027-10-27T19:00:00Z", "2027-11-03T19:00:00Z", "2027-11-10T20:00:00Z"]),
    ],
)
def test_weekly_occurrences_keep_local_time_across_dst(api: Api, first, expected_utc):
    meeting = api.create(**weekly(first, 3))

    starts = [occurrence["start_time"] for occurrence in meeting["occurrences"]]

    assert starts == expected_utc
    local = [dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(DENVER) for text in starts]
    assert {(moment.hour, moment.minute, moment.weekday()) for moment in local} == {(13, 0, 2)}
    assert [o["occurrence_id"] for o in meeting["occurrences"]] == [
        str(int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)) for text in starts
    ]
    assert all(o["status"] == "available" and o["duration"] == 60 for o in meeting["occurrences"])


def test_get_returns_utc_start_of_the_next_occurrence_and_the_time_zone(
    sandbox: ZoomSandbox, clock: FakeClock
):
    meeting = Api(sandbox).create(**weekly("2027-01-06T13:00:00", 3))
    clock.now = utc("2027-01-07 00:00")  # the first occurrence is over
    api = Api(sandbox)  # a fresh token: the first one expired meanwhile

    after = api.get(f"/meetings/{meeting['id']}").json()

    assert (after["start_time"], after["timezone"]) == ("2027-01-13T20:00:00Z", "America/Denver")
    assert [o["start_time"] for o in after["occurrences"]] == ["2027-01-13T20:00:00Z", "2027-01-20T20:00:00Z"]
    previous = api.get(f"/meetings/{meeting['id']}", params={"show_previous_occurrences": "true"}).json()
    assert len(previous["occurrences"]) == 3


def test_utc_start_time_and_several_weekdays(api: Api):
    body = weekly("2027-01-11T20:00:00Z", 4, day="2,4")  # Mondays and Wednesdays

    meeting = api.create(**body)

    assert [o["start_time"][:10] for o in meeting["occurrences"]] == [
        "2027-01-11",
        "2027-01-13",
        "2027-01-18",
        "2027-01-20",
    ]
    assert meeting["recurrence"]["weekly_days"] == "2,4"


def test_daily_recurrence_until_end_date_time(api: Api):
    recurrence = {"type": 1, "repeat_interval": 2, "end_date_time": "2027-01-12T23:59:00Z"}

    meeting = api.create(type=8, start_time="2027-01-06T20:00:00Z", recurrence=recurrence)

    assert [o["start_time"][:10] for o in meeting["occurrences"]] == [
        "2027-01-06",
        "2027-01-08",
        "2027-01-10",
        "2027-01-12",
    ]


def test_patched_recurrence_recomputes_occurrences(api: Api):
    meeting = api.create(**weekly("2027-01-06T13:00:00", 2))

    api.patch(
        f"/meetings/{meeting['id']}", json={"recurrence": {"type": 2, "weekly_days": "4", "end_times": 5}}
    )

    assert len(api.get(f"/meetings/{meeting['id']}").json()["occurrences"]) == 5


def test_deleted_occurrence_disappears_and_others_stay(api: Api):
    meeting = api.create(**weekly("2027-01-06T13:00:00", 3))
    second = meeting["occurrences"][1]["occurrence_id"]

    response = api.delete(f"/meetings/{meeting['id']}", params={"occurrence_id": second})
    after = api.get(f"/meetings/{meeting['id']}").json()

    assert response.status_code == 204
    assert [o["occurrence_id"] for o in after["occurrences"]] == [
        meeting["occurrences"][0]["occurrence_id"],
        meeting["occurrences"][2]["occurrence_id"],
    ]
    again = api.delete(f"/meetings/{meeting['id']}", params={"occurrence_id": second})
    assert again.status_code == 400 and again.json()["code"] == 300


def test_get_with_occurrence_id_returns_that_occurrence(api: Api):
    meeting = api.create(**weekly("2027-01-06T13:00:00", 3))
    third = meeting["occurrences"][2]

    response = api.get(f"/meetings/{meeting['id']}", params={"occurrence_id": third["occurrence_id"]})

    assert response.json()["start_time"] == third["start_time"]
    assert response.json()["occurrences"] == [third]


def test_patch_with_occurrence_id_moves_only_that_occurrence(api: Api):
    meeting = api.create(**weekly("2027-01-06T13:00:00", 3))
    first = meeting["occurrences"][0]["occurrence_id"]

    api.patch(
        f"/meetings/{meeting['id']}",
        params={"occurrence_id": first},
        json={"start_time": "2027-01-06T14:00:00"},
    )
    after = api.get(f"/meetings/{meeting['id']}").json()

    assert [o["start_time"] for o in after["occurrences"]] == [
        "2027-01-06T21:00:00Z",
        "2027-01-13T20:00:00Z",
        "2027-01-20T20:00:00Z",
    ]


# -- breakout rooms, admin edits ---------------------------------------------------------------


def test_breakout_rooms_round_trip(api: Api):
    rooms = [{"name": "Group 1", "participants": ["ada@students.example.org", "alan@students.example.org"]}]

    meeting = api.create(
        **weekly("2027-01-06T13:00:00", 2), settings={"breakout_room": {"enable": True, "rooms": rooms}}
    )

    assert api.get(f"/meetings/{meeting['id']}").json()["settings"]["breakout_room"] == {
        "enable": True,
        "rooms": rooms,
    }


def test_new_meeting_has_breakout_rooms_disabled_without_rooms(api: Api):
    assert api.create()["settings"]["breakout_room"] == {"enable": False}


def test_rooms_edited_by_hand_show_up_without_any_api_call(sandbox: ZoomSandbox, api: Api):
    meeting = api.create(
        settings={"breakout_room": {"enable": True, "rooms": [{"name": "A", "participants": []}]}}
    )
    calls = len(sandbox.calls)

    sandbox.edit_rooms_by_hand(meeting["id"], [{"name": "Renamed", "participants": ["x@y.org"]}])

    assert len(sandbox.calls) == calls
    assert sandbox.meeting(meeting["id"])["settings"]["breakout_room"]["rooms"] == [
        {"name": "Renamed", "participants": ["x@y.org"]}
    ]
    rooms = api.get(f"/meetings/{meeting['id']}").json()["settings"]["breakout_room"]["rooms"]
    assert rooms == [{"name": "Renamed", "participants": ["x@y.org"]}]


def test_meeting_deleted_behind_your_back_is_404(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()

    sandbox.delete_meeting_behind_your_back(meeting["id"])

    assert api.get(f"/meetings/{meeting['id']}").status_code == 404
    assert sandbox.count_calls("DELETE") == 0
    with pytest.raises(SandboxError, match="does not exist"):
        sandbox.delete_meeting_behind_your_back(meeting["id"])


# -- the daily limit -----------------------------------------------------------------------------


def test_daily_write_limit_per_host_resets_at_midnight_utc(clock: FakeClock):
    clock.now = utc("2027-01-05 23:30")
    with ZoomSandbox(
        clock=clock, users=[HOST, OTHER_HOST], daily_write_limit=3, token_ttl_seconds=86400
    ) as sandbox:
        api = Api(sandbox)
        first = api.create()
        api.create()
        assert api.patch(f"/meetings/{first['id']}", json={"topic": "x"}).status_code == 204

        refused = api.post(f"/users/{HOST}/meetings", json={"topic": "one too many"})
        refused_patch = api.patch(f"/meetings/{first['id']}", json={"topic": "y"})
        other_host = api.post(f"/users/{OTHER_HOST}/meetings", json={"topic": "other"})
        clock.now = utc("2027-01-06 00:00")
        next_day = api.post(f"/users/{HOST}/meetings", json={"topic": "tomorrow"})

    assert refused.status_code == 429
    assert refused.json() == {
        "code": 429,
        "message": "You have exceeded the daily rate limit (3) of Meeting Create/Update API requests permitted "
        "for this particular user. You may resume these requests at GMT 00:00:00.",
    }
    assert "Retry-After" not in refused.headers
    assert refused_patch.status_code == 429
    assert other_host.status_code == 201
    assert next_day.status_code == 201


def test_the_account_wide_daily_limit_answers_with_an_iso_retry_after(clock: FakeClock):
    clock.now = utc("2027-01-05 23:30")
    with ZoomSandbox(clock=clock, users=[HOST], account_daily_limit=2, token_ttl_seconds=86400) as sandbox:
        api = Api(sandbox)
        answers = [api.get(f"/users/{HOST}") for _ in range(3)]
        clock.now = utc("2027-01-06 00:00")
        next_day = api.get(f"/users/{HOST}")

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.json() == {
        "code": 429,
        "message": "You have reached the maximum daily rate limit for this API. "
        "Refer to the response header for details on when you can make another request.",
    }
    assert refused.headers["X-RateLimit-Type"] == "Daily-limit"
    assert refused.headers["Retry-After"] == "2027-01-06T00:00:00Z"
    assert next_day.status_code == 200


# -- paging ------------------------------------------------------------------------------------


def test_lists_meetings_in_pages(api: Api):
    created = [api.create(topic=f"M{n}")["id"] for n in range(5)]
    api.create(host=OTHER_HOST)

    seen, sizes, token = [], [], ""
    while True:
        page = api.get(f"/users/{HOST}/meetings", params={"page_size": 2, "next_page_token": token}).json()
        assert page["total_records"] == 5 and page["page_size"] == 2
        sizes.append(len(page["meetings"]))
        seen += [meeting["id"] for meeting in page["meetings"]]
        token = page["next_page_token"]
        if not token:
            break

    assert sizes == [2, 2, 1]
    assert seen == created


def test_list_types_upcoming_and_previous(api: Api, clock: FakeClock):
    past = api.create(start_time="2027-01-05T08:00:00Z", topic="earlier today")
    future = api.create(topic="tomorrow")

    upcoming = api.get(f"/users/{HOST}/meetings", params={"type": "upcoming"}).json()["meetings"]
    previous = api.get(f"/users/{HOST}/meetings", params={"type": "previous_meetings"}).json()["meetings"]

    assert [m["id"] for m in upcoming] == [future["id"]]
    assert [m["id"] for m in previous] == [past["id"]]
    assert api.get(f"/users/{HOST}/meetings", params={"type": "bogus"}).status_code == 400


def test_unknown_page_token_is_refused(api: Api):
    response = api.get(f"/users/{HOST}/meetings", params={"next_page_token": "made-up"})

    assert response.status_code == 400
    assert response.json()["code"] == 300


# -- faults and the call log ------------------------------------------------------------------


def test_500_fault_hits_once_then_the_api_answers(sandbox: ZoomSandbox, api: Api):
    sandbox.faults.add(500)

    failed = api.get(f"/users/{HOST}")
    ok = api.get(f"/users/{HOST}")

    assert failed.status_code == 500 and "code" in failed.json()
    assert ok.status_code == 200
    assert sandbox.calls[-2:] == [("GET", f"/v2/users/{HOST}", 500), ("GET", f"/v2/users/{HOST}", 200)]


def test_429_fault_sends_retry_after(sandbox: ZoomSandbox, api: Api):
    sandbox.faults.add(429, times=2, retry_after=7)

    responses = [api.get(f"/users/{HOST}") for _ in range(3)]

    assert [r.status_code for r in responses] == [429, 429, 200]
    assert responses[0].headers["Retry-After"] == "7"
    assert responses[0].json()["code"] == 429


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(None, "2027-01-06T00:00:00Z"), ("Wed, 06 Jan 2027 00:00:00 GMT", "Wed, 06 Jan 2027 00:00:00 GMT")],
)
def test_daily_limit_fault_answers_like_the_account_wide_limit(
    sandbox: ZoomSandbox, api: Api, retry_after: str | None, header: str
):
    sandbox.faults.add("daily_limit", retry_after=retry_after)

    refused = api.get(f"/users/{HOST}")

    assert refused.status_code == 429
    assert refused.json()["message"].startswith("You have reached the maximum daily rate limit for this API.")
    assert (refused.headers["Retry-After"], refused.headers["X-RateLimit-Type"]) == (header, "Daily-limit")


def test_fault_matches_only_its_method_and_path(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()
    sandbox.faults.add(503, method="PATCH", path_prefix="/v2/meetings/")

    assert api.get(f"/meetings/{meeting['id']}").status_code == 200
    assert api.patch(f"/meetings/{meeting['id']}", json={"topic": "x"}).status_code == 503
    assert api.patch(f"/meetings/{meeting['id']}", json={"topic": "x"}).status_code == 204


def test_fault_can_hit_the_token_endpoint(sandbox: ZoomSandbox):
    sandbox.faults.add(500, path_prefix="/oauth/token")

    assert fetch_token(sandbox).status_code == 500
    assert fetch_token(sandbox).status_code == 200


def test_slow_fault_times_the_client_out_but_the_create_happens(clock: FakeClock):
    gate = threading.Event()
    with ZoomSandbox(clock=clock, users=[HOST], sleep=lambda seconds: gate.wait(TIMEOUT)) as sandbox:
        api = Api(sandbox)
        sandbox.faults.add("slow", delay=30, method="POST")

        with pytest.raises(requests.Timeout):
            api.post(f"/users/{HOST}/meetings", json={"topic": "late"}, timeout=0.05)
        gate.set()
        deadline = time.monotonic() + TIMEOUT
        while sandbox.count_calls("POST", "/v2/users/") == 0 and time.monotonic() < deadline:
            time.sleep(0.005)

        listed = api.get(f"/users/{HOST}/meetings").json()["meetings"]

    assert [meeting["topic"] for meeting in listed] == ["late"]
    assert sandbox.calls[-2][2] == 201


def test_drop_fault_closes_the_connection_unanswered(sandbox: ZoomSandbox, api: Api):
    sandbox.faults.add("drop", method="POST")

    with pytest.raises(requests.ConnectionError):
        api.post(f"/users/{HOST}/meetings", json={"topic": "lost"})

    assert sandbox.calls[-1] == ("POST", f"/v2/users/{HOST}/meetings", 0)
    assert api.get(f"/users/{HOST}/meetings").json()["meetings"] == []


@pytest.mark.parametrize("status", [404, "sometimes", 200])
def test_unknown_fault_kinds_are_refused(sandbox: ZoomSandbox, status):
    with pytest.raises(ValueError, match="fault status"):
        sandbox.faults.add(status)


def test_faults_and_admin_actions_through_the_control_api(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()
    control = f"{sandbox.url}/_sandbox/faults"

    added = requests.post(control, json={"status": 429, "retry_after": 3}, timeout=TIMEOUT)
    limited = api.get(f"/users/{HOST}")
    requests.post(control, json={"action": "delete_meeting", "meeting_id": meeting["id"]}, timeout=TIMEOUT)
    requests.post(control, json={"action": "invalidate_tokens"}, timeout=TIMEOUT)
    refused = requests.post(control, json={"status": "explode"}, timeout=TIMEOUT)

    assert added.status_code == 201
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    assert api.get(f"/meetings/{meeting['id']}").status_code == 401
    assert Api(sandbox).get(f"/meetings/{meeting['id']}").status_code == 404
    assert refused.status_code == 400 and "fault status" in refused.json()["message"]


def test_call_log_counts_calls_but_not_control_calls(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()
    api.patch(f"/meetings/{meeting['id']}", json={"topic": "x"})
    requests.get(f"{sandbox.url}/_sandbox/state", timeout=TIMEOUT)

    assert sandbox.count_calls("PATCH") == 1
    assert sandbox.count_calls("patch", "/v2/meetings/") == 1
    assert sandbox.count_calls(path_prefix="/_sandbox") == 0
    assert sandbox.count_calls() == 3  # token, create, patch


def test_state_reports_meetings_and_calls(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()

    state = requests.get(f"{sandbox.url}/_sandbox/state", timeout=TIMEOUT).json()

    assert [m["id"] for m in state["meetings"]] == [meeting["id"]]
    assert ["POST", f"/v2/users/{HOST}/meetings", 201] in state["calls"]


def test_unknown_path_answers_json_404(api: Api):
    response = api.get("/no/such/thing")

    assert response.status_code == 404
    assert response.json()["code"] == 404


# -- simulated meetings: past instances and participant reports --------------------------------

# Ada is a user of the host's account, so Zoom shows her email and id; the guest is not signed in.
ADA = Participant("Ada Lovelace", "ada@students.example.org", zoom_user_id="ADA-ZOOM-ID", in_account=True)
GUEST = Participant("Guest Phone")
START = utc("2027-01-06 20:00")


def minutes(n: float) -> dt.datetime:
    return START + dt.timedelta(minutes=n)


def run_meeting(sandbox: ZoomSandbox, meeting_id: int) -> str:
    """Ada joins, goes to a room at 20:05, quits Zoom from it at 20:20, rejoins at 20:25; a guest stays."""
    uuid = sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ADA, minutes(1))
    sandbox.join(meeting_id, GUEST, minutes(2))
    sandbox.open_rooms(meeting_id, minutes(4))
    sandbox.join_breakout(meeting_id, ADA, "Group 1", minutes(5))
    sandbox.leave(meeting_id, ADA, minutes(20))
    sandbox.join(meeting_id, ADA, minutes(25))
    sandbox.end_instance(meeting_id, minutes(60))
    return uuid


def double_encoded(uuid: str) -> str:
    return quote(quote(uuid, safe=""), safe="")


def test_simulated_meeting_feeds_the_participant_report_one_row_per_segment(sandbox: ZoomSandbox, api: Api):
    meeting = api.create(**weekly("2027-01-06T13:00:00", 3))
    uuid = run_meeting(sandbox, meeting["id"])

    rows = api.get(f"/report/meetings/{double_encoded(uuid)}/participants").json()["participants"]

    ada_rows = [row for row in rows if row["user_email"] == ADA.email]
    assert [(row["join_time"], row["leave_time"], row["duration"]) for row in ada_rows] == [
        ("2027-01-06T20:01:00Z", "2027-01-06T20:05:00Z", 4 * 60),  # the main-meeting row ends at the move
        ("2027-01-06T20:05:00Z", "2027-01-06T20:20:00Z", 15 * 60),  # the room row, until she quit
        ("2027-01-06T20:25:00Z", "2027-01-06T21:00:00Z", 35 * 60),
    ]
    assert len({row["user_id"] for row in ada_rows}) == 3  # a new per-join id for every segment
    assert [row["participant_user_id"] for row in ada_rows] == ["ADA-ZOOM-ID", "", "ADA-ZOOM-ID"]
    assert [row["id"] for row in ada_rows] == ["ADA-ZOOM-ID", "", "ADA-ZOOM-ID"]  # room rows lack it
    assert ["bo_mtg_id" in row for row in ada_rows] == [False, True, False]
    guest = next(row for row in rows if row["name"] == "Guest Phone")
    assert (guest["user_email"], guest["participant_user_id"], guest["id"]) == ("", "", "")
    assert guest["duration"] == 58 * 60
    assert {row["status"] for row in rows} == {"in_meeting"}


def test_a_room_row_carries_the_rooms_bo_mtg_id_shared_by_everyone_in_it(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()
    sandbox.start_instance(meeting["id"], START)
    people = [Participant(f"Student {n}") for n in range(3)]
    for person in people:
        sandbox.join(meeting["id"], person, minutes(1))
    sandbox.open_rooms(meeting["id"], minutes(4))
    sandbox.join_breakout(meeting["id"], people[0], "Group 1", minutes(5))
    sandbox.join_breakout(meeting["id"], people[1], "Group 1", minutes(6))
    sandbox.join_breakout(meeting["id"], people[2], "Group 2", minutes(6))
    sandbox.close_rooms(meeting["id"], minutes(40))
    sandbox.end_instance(meeting["id"], minutes(60))

    rows = api.get(f"/report/meetings/{meeting['id']}/participants").json()["participants"]
    rooms = {row["name"]: row["bo_mtg_id"] for row in rows if "bo_mtg_id" in row}
    hook_rooms = {
        event["body"]["payload"]["object"]["breakout_room_uuid"]
        for event in sandbox.events
        if event["body"]["event"] == "meeting.participant_joined_breakout_room"
    }

    assert len(rows) == 9  # per student: main, room, main again after the host closed the rooms
    assert rooms["Student 0"] == rooms["Student 1"] != rooms["Student 2"]
    assert not hook_rooms & set(rooms.values())  # the webhooks' room uuids are other ids


def test_reports_show_duration_zero_until_zoom_has_processed_them(clock: FakeClock):
    clock.now = START
    with ZoomSandbox(
        clock=clock, users=[HOST], report_delay=dt.timedelta(minutes=30), token_ttl_seconds=86400
    ) as sandbox:
        api = Api(sandbox)
        meeting = api.create()
        run_meeting(sandbox, meeting["id"])

        clock.now = minutes(89)
        processing = api.get(f"/report/meetings/{meeting['id']}/participants").json()["participants"]
        clock.now = minutes(90)
        processed = api.get(f"/report/meetings/{meeting['id']}/participants").json()["participants"]

    assert {row["duration"] for row in processing} == {0}
    assert [row["leave_time"] for row in processing] == [row["leave_time"] for row in processed]
    assert [row["duration"] for row in processed] == [4 * 60, 58 * 60, 15 * 60, 35 * 60]


def test_processing_reports_at_once_through_the_python_and_control_api(clock: FakeClock):
    with ZoomSandbox(clock=clock, users=[HOST], report_delay=dt.timedelta(days=1)) as sandbox:
        api = Api(sandbox)
        meeting = api.create()
        run_meeting(sandbox, meeting["id"])
        control = f"{sandbox.url}/_sandbox/simulate"
        done = requests.post(
            control, json={"action": "process_reports", "meeting_id": meeting["id"]}, timeout=TIMEOUT
        )
        rows = api.get(f"/report/meetings/{meeting['id']}/participants").json()["participants"]

    assert done.json() == {"done": "process_reports"}
    assert 0 not in {row["duration"] for row in rows}


def test_past_meeting_participants_and_instances(sandbox: ZoomSandbox, api: Api):
    meeting = api.create(**weekly("2027-01-06T13:00:00", 3))
    uuid = run_meeting(sandbox, meeting["id"])

    instances = api.get(f"/past_meetings/{meeting['id']}/instances").json()
    by_id = api.get(f"/past_meetings/{meeting['id']}/participants").json()
    by_uuid = api.get(f"/past_meetings/{double_encoded(uuid)}/participants").json()

    assert instances == {"meetings": [{"uuid": uuid, "start_time": "2027-01-06T20:00:00Z"}]}
    assert by_id == by_uuid
    assert by_id["total_records"] == 4  # Ada's three segments and the guest's one
    assert {"id", "name", "user_id", "user_email", "join_time", "leave_time", "duration"} <= by_id[
        "participants"
    ][0].keys()


def test_instance_uuids_need_double_encoding(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()
    uuid = run_meeting(sandbox, meeting["id"])

    single = api.get(f"/report/meetings/{quote(uuid, safe='')}/participants")
    double = api.get(f"/report/meetings/{double_encoded(uuid)}/participants")

    assert uuid.startswith("//")
    assert single.status_code == 404 and single.json()["code"] == 3001
    assert double.status_code == 200


def test_a_uuid_with_one_slash_inside_works_encoded_once_as_on_zoom(sandbox: ZoomSandbox, api: Api):
    meeting = api.create(**weekly("2027-01-06T13:00:00", 10))
    uuid = ""
    for week in range(10):
        uuid = sandbox.start_instance(meeting["id"], utc("2027-01-06 20:00") + dt.timedelta(weeks=week))
        sandbox.end_instance(meeting["id"], utc("2027-01-06 21:00") + dt.timedelta(weeks=week))
        if "/" in uuid and not uuid.startswith("/") and "//" not in uuid:
            break
    assert "/" in uuid and "//" not in uuid and not uuid.startswith("/")
    assert api.get(f"/report/meetings/{quote(uuid, safe='')}/participants").status_code == 200
    assert api.get(f"/report/meetings/{double_encoded(uuid)}/participants").status_code == 200


def test_each_instance_gets_its_own_uuid_and_the_id_means_the_latest(sandbox: ZoomSandbox, api: Api):
    meeting = api.create(**weekly("2027-01-06T13:00:00", 3))
    first = run_meeting(sandbox, meeting["id"])
    second = sandbox.start_instance(meeting["id"], utc("2027-01-13 20:00"))
    sandbox.join(meeting["id"], GUEST, utc("2027-01-13 20:05"))
    sandbox.end_instance(meeting["id"], utc("2027-01-13 21:00"))

    latest = api.get(f"/report/meetings/{meeting['id']}/participants").json()["participants"]
    instances = api.get(f"/past_meetings/{meeting['id']}/instances").json()["meetings"]

    assert first != second
    assert [instance["uuid"] for instance in instances] == [first, second]
    assert [row["name"] for row in latest] == ["Guest Phone"]


def test_live_instance_is_not_a_past_instance_yet(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()
    uuid = sandbox.start_instance(meeting["id"], START)
    sandbox.join(meeting["id"], ADA, minutes(1))

    assert api.get(f"/meetings/{meeting['id']}").json()["status"] == "started"
    assert api.get(f"/past_meetings/{meeting['id']}/instances").json() == {"meetings": []}
    assert api.get(f"/report/meetings/{double_encoded(uuid)}/participants").status_code == 404


def test_participant_report_pages(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()
    sandbox.start_instance(meeting["id"], START)
    for n in range(5):
        sandbox.join(meeting["id"], Participant(f"Student {n}", f"s{n}@x.org"), minutes(n))
    sandbox.end_instance(meeting["id"], minutes(60))

    first = api.get(f"/report/meetings/{meeting['id']}/participants", params={"page_size": 3}).json()
    second = api.get(
        f"/report/meetings/{meeting['id']}/participants",
        params={"page_size": 3, "next_page_token": first["next_page_token"]},
    ).json()

    assert [len(first["participants"]), len(second["participants"])] == [3, 2]
    assert second["next_page_token"] == ""
    names = [row["name"] for row in first["participants"] + second["participants"]]
    assert names == [f"Student {n}" for n in range(5)]


def test_reports_unavailable_answers_like_a_plan_without_reports(clock: FakeClock):
    with ZoomSandbox(clock=clock, users=[HOST], reports_available=False) as sandbox:
        api = Api(sandbox)
        meeting = api.create()
        run_meeting(sandbox, meeting["id"])

        report = api.get(f"/report/meetings/{meeting['id']}/participants")
        past = api.get(f"/past_meetings/{meeting['id']}/participants")

    assert report.status_code == 400
    assert report.json() == {
        "code": 200,
        "message": "Only available for Paid or ZMP account: sandbox-account.",
    }
    assert past.status_code == 200


def test_unknown_past_meeting_is_404(api: Api):
    assert api.get("/past_meetings/123/instances").json()["code"] == 3001
    assert api.get("/past_meetings/123/participants").status_code == 404
    report = api.get("/report/meetings/abc%253D%253D/participants")
    assert report.json() == {"code": 3001, "message": "Meeting abc== not found or has expired."}


def test_simulation_misuse_raises_a_sandbox_error(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()

    with pytest.raises(SandboxError, match="no live instance"):
        sandbox.join(meeting["id"], ADA, START)
    sandbox.start_instance(meeting["id"], START)
    with pytest.raises(SandboxError, match="already has a live instance"):
        sandbox.start_instance(meeting["id"], START)
    with pytest.raises(SandboxError, match="not in meeting"):
        sandbox.leave(meeting["id"], ADA, minutes(1))
    with pytest.raises(SandboxError, match="before a breakout room"):
        sandbox.join_breakout(meeting["id"], ADA, "Group 1", minutes(1))
    sandbox.join(meeting["id"], ADA, minutes(1))
    with pytest.raises(SandboxError, match="already in meeting"):
        sandbox.join(meeting["id"], ADA, minutes(1))
    with pytest.raises(SandboxError, match="not opened the breakout rooms"):
        sandbox.join_breakout(meeting["id"], ADA, "Group 1", minutes(1))
    with pytest.raises(SandboxError, match="not open"):
        sandbox.close_rooms(meeting["id"], minutes(1))
    sandbox.open_rooms(meeting["id"], minutes(2))
    with pytest.raises(SandboxError, match="already open"):
        sandbox.open_rooms(meeting["id"], minutes(2))
    with pytest.raises(SandboxError, match="not in breakout room"):
        sandbox.leave_breakout(meeting["id"], ADA, "Group 1", minutes(3))
    with pytest.raises(SandboxError, match="leave how"):
        sandbox.leave(meeting["id"], ADA, minutes(3), how="vanished")
    with pytest.raises(SandboxError, match="naive"):
        sandbox.join(meeting["id"], ADA, dt.datetime(2027, 1, 6, 20, 1))
    with pytest.raises(SandboxError, match="does not exist"):
        sandbox.start_instance(999, START)


def test_simulation_through_the_control_api(sandbox: ZoomSandbox, api: Api):
    meeting = api.create()
    control = f"{sandbox.url}/_sandbox/simulate"
    person = {"name": "Ada Lovelace", "email": "ada@students.example.org"}

    def simulate(**body: Any) -> requests.Response:
        return requests.post(control, json={"meeting_id": meeting["id"], **body}, timeout=TIMEOUT)

    started = simulate(action="start", at="2027-01-06T20:00:00Z")
    simulate(action="join", at="2027-01-06T20:01:00Z", participant=person)
    simulate(action="open_rooms", at="2027-01-06T20:04:00Z")
    simulate(action="join_breakout", at="2027-01-06T20:05:00Z", participant=person, room="Group 1")
    simulate(action="rename", at="2027-01-06T20:06:00Z", participant=person, name="Ada L.")
    simulate(action="close_rooms", at="2027-01-06T20:30:00Z")
    simulate(action="leave", at="2027-01-06T20:40:00Z", participant=person, how="disconnected")
    simulate(action="end", at="2027-01-06T21:00:00Z")
    refused = simulate(action="join", at="2027-01-06T21:01:00Z", participant=person)
    unknown = simulate(action="explode", at="2027-01-06T21:01:00Z")

    rows = api.get(f"/report/meetings/{meeting['id']}/participants").json()["participants"]
    assert (
        started.json()["uuid"]
        == api.get(f"/past_meetings/{meeting['id']}/instances").json()["meetings"][0]["uuid"]
    )
    assert [(row["name"], row["duration"], "bo_mtg_id" in row) for row in rows] == [
        ("Ada Lovelace", 4 * 60, False),
        ("Ada L.", 25 * 60, True),
        ("Ada L.", 10 * 60, False),
    ]
    assert refused.status_code == 400 and "no live instance" in refused.json()["message"]
    assert unknown.status_code == 400 and "process_reports" in unknown.json()["message"]


# -- lifecycle ---------------------------------------------------------------------------------


def test_url_before_start_is_a_clear_error():
    with pytest.raises(SandboxError, match="not running"):
        _ = ZoomSandbox().url


def test_stopped_sandbox_refuses_connections(clock: FakeClock):
    sandbox = ZoomSandbox(clock=clock).start()
    url = sandbox.token_url

    sandbox.stop()
    sandbox.stop()  # twice is harmless

    with pytest.raises(requests.ConnectionError):
        requests.post(url, timeout=TIMEOUT)


def test_repr_shows_no_secret(clock: FakeClock):
    sandbox = ZoomSandbox(client_secret="top-secret-value", clock=clock)

    assert "top-secret-value" not in repr(sandbox)


# -- CLI ---------------------------------------------------------------------------------------

ENV_NAMES = (
    "ZOOM_API_URL",
    "ZOOM_OAUTH_TOKEN_URL",
    "ZOOM_ACCOUNT_ID",
    "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET",
    "ZOOM_WEBHOOK_SECRET_TOKEN",
)


CLI_ENTRY = "from zoom_homeroom.cli import cli; cli(prog_name='homeroom')"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_cli(config: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start `homeroom sandbox` and read the variables it prints."""
    port = free_port()
    env = {**os.environ, "HOMEROOM_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", CLI_ENTRY, "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    printed: dict[str, str] = {}
    while len(printed) < len(ENV_NAMES):
        line = process.stdout.readline()
        if not line:
            break
        name, _, value = line.strip().partition("=")
        printed[name] = value
    return process, printed


def stop_cli(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, err


def test_cli_prints_the_environment_serves_calendar_hosts_and_stops_on_ctrl_c(config_file: Path):
    process, printed = run_cli(config_file)
    try:
        token = requests.post(
            printed["ZOOM_OAUTH_TOKEN_URL"],
            auth=(printed["ZOOM_CLIENT_ID"], printed["ZOOM_CLIENT_SECRET"]),
            data={"grant_type": "account_credentials", "account_id": printed["ZOOM_ACCOUNT_ID"]},
            timeout=TIMEOUT,
        ).json()["access_token"]
        host = requests.get(
            f"{printed['ZOOM_API_URL']}/users/mod3@school.example.org",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        ).json()
    finally:
        code, err = stop_cli(process)

    assert list(printed) == list(ENV_NAMES)
    assert printed["ZOOM_API_URL"].startswith("http://127.0.0.1:") and printed["ZOOM_API_URL"].endswith("/v2")
    assert (host["email"], host["timezone"]) == ("mod3@school.example.org", "America/Denver")
    assert code == 0
    assert "Traceback" not in err


def test_cli_without_a_calendar_says_so_and_starts_empty(tmp_path: Path):
    process, printed = run_cli(tmp_path / "missing.toml")
    code, err = stop_cli(process)

    assert list(printed) == list(ENV_NAMES)
    assert "cannot read the calendar" in err and "missing.toml" in err
    assert code == 0
