"""`check_zoom`: token, scopes and calendar hosts, each problem one line."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import responses

from tests.conftest import TEST_CLIENT_SECRET
from zoom_homeroom.zoom import ZoomAuth, ZoomClient
from zoom_homeroom.zoom.check import CAPABILITIES, REGISTRATION_CAPABILITY, check_zoom

FIXTURES = Path(__file__).parent / "fixtures" / "zoom"
API = "https://api.zoom.test/v2"
TOKEN_URL = "https://zoom.test/oauth/token"
HOSTS = [f"mod{n}@school.example.org" for n in (1, 2, 3, 4)] + ["careers@school.example.org"]
CLASSIC = "meeting:read:admin meeting:write:admin report:read:admin user:read:admin"
GRANULAR = (
    "meeting:read:meeting:admin meeting:read:list_meetings:admin meeting:write:meeting:admin "
    "meeting:update:meeting:admin meeting:delete:meeting:admin meeting:read:list_past_instances:admin "
    "meeting:read:list_past_participants:admin report:read:list_meeting_participants:admin "
    "user:read:user:admin"
)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def zoom(settings, clock, sleep) -> ZoomClient:
    auth = ZoomAuth(
        account_id=settings.zoom_account_id,
        client_id=settings.zoom_client_id,
        client_secret=settings.zoom_client_secret,
        token_url=TOKEN_URL,
        sleep=sleep,
        rng=random.Random(1),
        clock=clock,
    )
    return ZoomClient(auth, base_url=API, sleep=sleep, rng=random.Random(1), clock=clock)


def add_token(mock: responses.RequestsMock, scope: str = CLASSIC) -> None:
    mock.post(TOKEN_URL, json={**fixture("token"), "scope": scope})


def add_users(mock: responses.RequestsMock, **overrides: dict[str, Any]) -> None:
    """A licensed, active user for every host; `overrides` by host local part (mod2=...)."""
    for email in HOSTS:
        change = overrides.get(email.split("@")[0], {})
        status = change.pop("_status", 200)
        body = {**fixture("user"), "email": email, **change} if status == 200 else change
        mock.get(f"{API}/users/{email.replace('@', '%40')}", status=status, json=body)


def test_a_ready_account_has_no_problems(zoom_api, zoom, settings, calendar):
    add_token(zoom_api)
    add_users(zoom_api)

    assert check_zoom(settings, calendar, client=zoom) == []


def test_granular_scopes_are_accepted(zoom_api, zoom, settings, calendar):
    add_token(zoom_api, GRANULAR)
    add_users(zoom_api)

    assert check_zoom(settings, calendar, client=zoom) == []


def test_a_missing_scope_is_one_line_naming_the_scope_to_add(zoom_api, zoom, settings, calendar):
    add_token(zoom_api, "meeting:read:admin meeting:write:admin user:read:admin")
    add_users(zoom_api)

    problems = check_zoom(settings, calendar, client=zoom)

    assert len(problems) == 1
    assert "read reports (meeting participants)" in problems[0]
    assert "report:read:list_meeting_participants:admin" in problems[0]
    assert "report:read:admin" in problems[0]
    assert "Marketplace" in problems[0]


def test_a_partly_granted_capability_names_only_the_missing_granular_scope(zoom_api, zoom, settings):
    add_token(zoom_api, GRANULAR.replace("meeting:delete:meeting:admin", ""))

    problems = check_zoom(settings, None, client=zoom)

    assert len(problems) == 1
    assert "write meetings (create/update/delete)" in problems[0]
    assert "add the scope meeting:delete:meeting:admin (or the classic meeting:write:admin)" in problems[0]


def test_without_the_users_scope_hosts_are_not_looked_up(zoom_api, zoom, settings, calendar):
    add_token(zoom_api, "meeting:read:admin meeting:write:admin report:read:admin")

    problems = check_zoom(settings, calendar, client=zoom)

    assert len(problems) == 2
    assert "user:read:user:admin" in problems[0]
    assert "not checked" in problems[1]


def test_an_unknown_host_names_the_module_and_the_setting(zoom_api, zoom, settings, calendar):
    add_token(zoom_api)
    add_users(zoom_api, mod2={"_status": 404, **fixture("error_user_not_found")})

    problems = check_zoom(settings, calendar, client=zoom)

    assert problems == [
        "module 2 host mod2@school.example.org: no such user in this Zoom account; "
        f"fix [[modules]] host in {settings.config_path}"
    ]


def test_an_unknown_mix_it_up_host_names_its_own_setting(zoom_api, zoom, settings, calendar):
    add_token(zoom_api)
    add_users(zoom_api, careers={"_status": 404, "code": 1001, "message": "User does not exist."})

    problems = check_zoom(settings, calendar, client=zoom)

    assert problems == [
        "Mix It Up host careers@school.example.org: no such user in this Zoom account; "
        f"fix [mix_it_up] host in {settings.config_path}"
    ]


def test_a_basic_host_is_a_problem(zoom_api, zoom, settings, calendar):
    add_token(zoom_api)
    add_users(zoom_api, mod3={"type": 1})

    problems = check_zoom(settings, calendar, client=zoom)

    assert len(problems) == 1
    assert problems[0].startswith("module 3 host mod3@school.example.org: ")
    assert "40 minutes" in problems[0]
    assert "Licensed" in problems[0]


def test_an_inactive_host_is_a_problem(zoom_api, zoom, settings, calendar):
    add_token(zoom_api)
    add_users(zoom_api, mod4={"status": "pending"})

    problems = check_zoom(settings, calendar, client=zoom)

    assert len(problems) == 1
    assert problems[0].startswith("module 4 host mod4@school.example.org: the Zoom user is pending")


def test_a_host_shared_by_modules_is_looked_up_once(zoom_api, zoom, settings, calendar):
    from dataclasses import replace

    shared = replace(calendar, modules=tuple(replace(m, host=HOSTS[0]) for m in calendar.modules))
    add_token(zoom_api)
    zoom_api.get(f"{API}/users/mod1%40school.example.org", json=fixture("user"))
    zoom_api.get(f"{API}/users/careers%40school.example.org", json=fixture("user"))

    assert check_zoom(settings, shared, client=zoom) == []
    assert len(zoom_api.calls) == 3


def test_bad_credentials_are_one_line_without_the_secret(zoom_api, zoom, settings, calendar):
    zoom_api.post(TOKEN_URL, status=400, json=fixture("token_invalid_client"))

    problems = check_zoom(settings, calendar, client=zoom)

    assert len(problems) == 1
    assert "invalid_client" in problems[0]
    assert "ZOOM_CLIENT_SECRET" in problems[0]
    assert TEST_CLIENT_SECRET not in problems[0]
    assert "\n" not in problems[0]


def test_check_builds_its_client_from_settings(zoom_api, settings):
    zoom_api.post(settings.zoom_oauth_token_url, status=401, json=fixture("token_invalid_client"))

    problems = check_zoom(settings, None)

    assert len(problems) == 1
    assert problems[0].startswith("Zoom credentials: ")


def _documented_scopes(description: str, label: str) -> set[str]:
    match = re.search(rf"\*\*\[{label}\]\([^)]*\):\*\* (.+)", description)
    assert match, f"no {label} line"
    return set(re.findall(r"`([^`]+)`", match.group(1)))


def test_required_scopes_are_the_ones_zoom_documents(openapi_spec):
    checked = 0
    for capability in (*CAPABILITIES, REGISTRATION_CAPABILITY):
        for need in capability.needs:
            method, path = need.operation.split(" ", 1)
            operation = openapi_spec.spec["paths"].get(path, {}).get(method.lower())
            if path == "/users/{userId}":
                assert operation is None  # the Users API is not in the Meetings spec
                continue
            description = operation["description"]
            assert need.classic in _documented_scopes(description, "Scopes"), need
            assert need.granular in _documented_scopes(description, "Granular Scopes"), need
            checked += 1
    assert checked == 12
