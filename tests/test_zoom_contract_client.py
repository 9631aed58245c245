"""The client's requests and our canned responses, checked against Zoom's Meetings OpenAPI spec."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from tests.conftest import FakeSleep
from zoom_homeroom.zoom import ZoomClient

FIXTURES = Path(__file__).parent / "fixtures" / "zoom"
API = "https://api.zoom.test/v2"
HOST = "mod1@school.example.org"
MEETING_ID = 85746065123
UUID = "/ajXp112QmuoKj4854875=="


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class FixedToken:
    """A token source that needs no token endpoint: these tests are about the API calls."""

    def access_token(self) -> str:
        return "contract-token"

    def renew(self, rejected: str | None = None) -> str:
        return "contract-token"

    def granted_scopes(self) -> frozenset[str]:
        return frozenset()


@pytest.fixture
def zoom(clock) -> ZoomClient:
    return ZoomClient(FixedToken(), base_url=API, sleep=FakeSleep(), rng=random.Random(0), clock=clock)


# (client call, HTTP method, canned status, canned body fixture or None)
CALLS: dict[str, tuple[Callable[[ZoomClient], Any], str, int, str | None]] = {
    "create_meeting": (
        lambda zoom: zoom.create_meeting(HOST, fixture("meeting_create_body")),
        "POST",
        201,
        "meeting_created",
    ),
    "get_meeting": (
        lambda zoom: zoom.get_meeting(
            MEETING_ID, occurrence_id="1799265600000", show_previous_occurrences=True
        ),
        "GET",
        200,
        "meeting",
    ),
    "update_meeting": (
        lambda zoom: zoom.update_meeting(
            MEETING_ID, fixture("meeting_patch_breakout_body"), occurrence_id="1799265600000"
        ),
        "PATCH",
        204,
        None,
    ),
    "delete_meeting": (
        lambda zoom: zoom.delete_meeting(MEETING_ID, occurrence_id="1799265600000"),
        "DELETE",
        204,
        None,
    ),
    "iter_meetings": (lambda zoom: list(zoom.iter_meetings(HOST)), "GET", 200, "meetings_page3"),
    "list_past_instances": (lambda zoom: zoom.list_past_instances(MEETING_ID), "GET", 200, "past_instances"),
    "iter_past_participants": (
        lambda zoom: list(zoom.iter_past_participants(UUID)),
        "GET",
        200,
        "past_participants",
    ),
    "iter_report_participants": (
        lambda zoom: list(zoom.iter_report_participants(UUID)),
        "GET",
        200,
        "report_participants",
    ),
}


def capture(zoom: ZoomClient, name: str) -> tuple[Any, Any]:
    """Run one client call against a catch-all mock; the request it sent and the mock's answer."""
    call, method, status, body_name = CALLS[name]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        body = fixture(body_name) if body_name else None
        mock.add(method, re.compile(re.escape(API) + r"/.*"), status=status, json=body)
        call(zoom)
        assert len(mock.calls) == 1
        return mock.calls[0].request, body


@pytest.mark.parametrize("name", list(CALLS))
def test_client_requests_follow_the_spec(openapi_spec, zoom, name):
    request, _ = capture(zoom, name)
    method = request.method

    openapi_spec.operation(method, request.url)  # raises when the spec has no such operation
    sent = set(parse_qs(urlsplit(request.url).query))
    documented = {
        p for p, spec in openapi_spec.parameters(method, request.url).items() if spec["in"] == "query"
    }
    assert sent <= documented, f"{name} sends undocumented query parameters {sent - documented}"
    body = json.loads(request.body) if request.body else None
    openapi_spec.validate_request(method, request.url, body)


@pytest.mark.parametrize("name", list(CALLS))
def test_canned_responses_follow_the_spec(openapi_spec, zoom, name):
    request, body = capture(zoom, name)
    _, method, status, _ = CALLS[name]

    openapi_spec.validate_response(method, request.url, status, body)


@pytest.mark.parametrize("name", ["meetings_page1", "meetings_page2", "meetings_page3"])
def test_every_listing_page_follows_the_spec(openapi_spec, name):
    openapi_spec.validate_response("GET", f"{API}/users/{HOST}/meetings", 200, fixture(name))


def test_the_create_body_is_a_weekly_series_with_breakout_rooms(openapi_spec):
    body = fixture("meeting_create_body")

    assert body["type"] == 8 and body["recurrence"]["type"] == 2
    assert body["settings"]["breakout_room"]["rooms"]
    openapi_spec.validate_request("POST", f"{API}/users/{HOST}/meetings", body)


def test_the_patch_body_carries_only_breakout_rooms(openapi_spec):
    body = fixture("meeting_patch_breakout_body")

    assert list(body) == ["settings"] and list(body["settings"]) == ["breakout_room"]
    openapi_spec.validate_request("PATCH", f"{API}/meetings/{MEETING_ID}", body)


def test_the_contract_catches_a_wrong_body(openapi_spec):
    from tests.contract import ContractViolation

    wrong = {**fixture("meeting_create_body"), "type": "weekly"}

    with pytest.raises(ContractViolation, match="type"):
        openapi_spec.validate_request("POST", f"{API}/users/{HOST}/meetings", wrong)
