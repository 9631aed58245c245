"""ZoomAuth and ZoomClient against a mocked Zoom (responses): tokens, retries, creates, paging, encoding."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import logging
import random
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from tests.conftest import TEST_CLIENT_SECRET, FakeClock, FakeSleep
from tests.factories import utc
from zoom_homeroom.zoom import (
    ZoomAccountDailyLimit,
    ZoomAPIError,
    ZoomAuth,
    ZoomAuthError,
    ZoomClient,
    ZoomConnectionError,
    ZoomDailyLimitExceeded,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomServerError,
    make_client,
)
from zoom_homeroom.zoom.errors import error_for_response, parse_retry_after

FIXTURES = Path(__file__).parent / "fixtures" / "zoom"
API = "https://api.zoom.test/v2"
TOKEN_URL = "https://zoom.test/oauth/token"
HOST = "mod1@school.example.org"
MEETINGS_URL = f"{API}/users/mod1%40school.example.org/meetings"
MEETING_ID = 85746065123
MEETING_URL = f"{API}/meetings/{MEETING_ID}"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class CeilingRandom(random.Random):
    """Full jitter's upper bound every time, so the backoff's growth and cap are visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


def add_token(mock: responses.RequestsMock, token: str = "tok-1", **fields: Any) -> None:
    mock.post(TOKEN_URL, json={**fixture("token"), "access_token": token, **fields})


def make_auth(clock: FakeClock, sleep: FakeSleep, secret: str = TEST_CLIENT_SECRET) -> ZoomAuth:
    return ZoomAuth(
        account_id="test-account",
        client_id="test-client",
        client_secret=secret,
        token_url=TOKEN_URL,
        sleep=sleep,
        rng=CeilingRandom(),
        clock=clock,
    )


def make_zoom(clock: FakeClock, sleep: FakeSleep, *, max_retries: int = 3, auth: ZoomAuth | None = None):
    return ZoomClient(
        auth or make_auth(clock, sleep),
        base_url=API,
        max_retries=max_retries,
        sleep=sleep,
        rng=CeilingRandom(),
        clock=clock,
    )


@pytest.fixture
def zoom(clock: FakeClock, sleep: FakeSleep) -> ZoomClient:
    return make_zoom(clock, sleep)


def calls_to(mock: responses.RequestsMock, method: str, url_prefix: str) -> list[Any]:
    return [c for c in mock.calls if c.request.method == method and c.request.url.startswith(url_prefix)]


def token_calls(mock: responses.RequestsMock) -> list[Any]:
    return calls_to(mock, "POST", TOKEN_URL)


# -- tokens -----------------------------------------------------------------------------------


def test_token_is_fetched_with_basic_auth_grant_type_and_account_id(zoom_api, zoom):
    add_token(zoom_api, "tok-1")
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    zoom.get_meeting(MEETING_ID)

    token_request = token_calls(zoom_api)[0].request
    expected = base64.b64encode(f"test-client:{TEST_CLIENT_SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"
    form = parse_qs(token_request.body)
    assert form["grant_type"] == ["account_credentials"]
    assert form["account_id"] == ["test-account"]
    assert zoom_api.calls[1].request.headers["Authorization"] == "Bearer tok-1"


def test_token_and_api_requests_carry_a_timeout(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    zoom.get_meeting(MEETING_ID)

    assert [call.request.req_kwargs["timeout"] for call in zoom_api.calls] == [10.0, 10.0]


def test_token_is_cached_across_calls(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.get(MEETING_URL, json=fixture("meeting"))
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    zoom.get_meeting(MEETING_ID)
    zoom.get_meeting(MEETING_ID)

    assert len(token_calls(zoom_api)) == 1


def test_concurrent_first_calls_fetch_one_token(zoom_api, clock, sleep):
    auth = make_auth(clock, sleep)

    def slow_token(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        time.sleep(0.01)  # hold the fetch open so the other threads arrive while it runs
        return 200, {}, json.dumps(fixture("token"))

    zoom_api.add_callback(responses.POST, TOKEN_URL, callback=slow_token)
    start = threading.Barrier(8)
    tokens: list[str] = []

    def first_call() -> None:
        start.wait()
        tokens.append(auth.access_token())

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(token_calls(zoom_api)) == 1
    assert tokens == [fixture("token")["access_token"]] * 8


def test_token_is_renewed_when_fewer_than_60_seconds_remain(zoom_api, clock, sleep):
    auth = make_auth(clock, sleep)
    add_token(zoom_api, "tok-1", expires_in=3600)
    add_token(zoom_api, "tok-2", expires_in=3600)

    assert auth.access_token() == "tok-1"
    clock.advance(seconds=3600 - 61)
    assert auth.access_token() == "tok-1"
    clock.advance(seconds=2)
    assert auth.access_token() == "tok-2"
    assert len(token_calls(zoom_api)) == 2


def test_renewing_a_token_another_thread_already_replaced_fetches_nothing(zoom_api, clock, sleep):
    auth = make_auth(clock, sleep)
    add_token(zoom_api, "tok-1")
    add_token(zoom_api, "tok-2")

    rejected = auth.access_token()
    assert auth.renew(rejected=rejected) == "tok-2"
    assert auth.renew(rejected=rejected) == "tok-2"
    assert len(token_calls(zoom_api)) == 2


def test_granted_scopes_come_from_the_token_response(zoom_api, zoom):
    add_token(zoom_api, scope="meeting:read:admin user:read:user:admin")

    assert zoom.granted_scopes() == frozenset({"meeting:read:admin", "user:read:user:admin"})


def test_401_renews_the_token_once_and_retries(zoom_api, zoom):
    add_token(zoom_api, "tok-old")
    zoom_api.get(MEETING_URL, status=401, json=fixture("error_invalid_token"))
    add_token(zoom_api, "tok-new")
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    meeting = zoom.get_meeting(MEETING_ID)

    assert meeting["id"] == MEETING_ID
    api_calls = calls_to(zoom_api, "GET", MEETING_URL)
    assert [c.request.headers["Authorization"] for c in api_calls] == ["Bearer tok-old", "Bearer tok-new"]


def test_second_401_raises_auth_error(zoom_api, zoom):
    add_token(zoom_api, "tok-old")
    zoom_api.get(MEETING_URL, status=401, json=fixture("error_invalid_token"))
    add_token(zoom_api, "tok-new")
    zoom_api.get(MEETING_URL, status=401, json=fixture("error_invalid_token"))

    with pytest.raises(ZoomAuthError, match="Invalid access token") as caught:
        zoom.get_meeting(MEETING_ID)

    assert caught.value.status == 401
    assert len(calls_to(zoom_api, "GET", MEETING_URL)) == 2


def test_bad_client_secret_raises_auth_error_without_the_secret(zoom_api, clock, sleep, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "wrong-secret-0123456789"
    zoom = make_zoom(clock, sleep, auth=make_auth(clock, sleep, secret=secret))
    zoom_api.post(TOKEN_URL, status=400, json=fixture("token_invalid_client"))

    with pytest.raises(ZoomAuthError) as caught:
        zoom.get_meeting(MEETING_ID)

    text = str(caught.value)
    assert "invalid_client" in text
    assert "ZOOM_CLIENT_SECRET" in text
    assert "\n" not in text
    for shown in (text, repr(caught.value), repr(zoom), repr(zoom._auth), caplog.text):
        assert secret not in shown
    assert sleep.calls == []  # refused credentials are not retried


@pytest.mark.parametrize(
    ("body", "setting"),
    [
        ({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, "ZOOM_CLIENT_ID"),
        ({"reason": "Bad Request: invalid account_id", "error": "invalid_request"}, "ZOOM_ACCOUNT_ID"),
        ({"reason": "unsupported grant type", "error": "unsupported_grant_type"}, "Server-to-Server"),
    ],
)
def test_token_refusal_names_the_setting_to_check(zoom_api, clock, sleep, body, setting):
    zoom_api.post(TOKEN_URL, status=401, json=body)

    with pytest.raises(ZoomAuthError, match=setting) as caught:
        make_auth(clock, sleep).access_token()

    assert body["error"] in str(caught.value)


def test_token_endpoint_failures_are_retried_with_backoff(zoom_api, clock, sleep):
    zoom_api.post(TOKEN_URL, status=503, body="Service Unavailable")
    zoom_api.post(TOKEN_URL, body=requests.ConnectTimeout("connect timed out"))
    zoom_api.post(TOKEN_URL, status=429, headers={"Retry-After": "3"}, json=fixture("error_rate_limit"))
    add_token(zoom_api, "tok-1")

    assert make_auth(clock, sleep).access_token() == "tok-1"
    assert sleep.calls == [1.0, 2.0, 3.0]


def test_token_endpoint_unreachable_raises_connection_error(zoom_api, clock, sleep):
    for _ in range(4):
        zoom_api.post(TOKEN_URL, body=requests.ConnectionError("refused"))

    with pytest.raises(ZoomConnectionError, match="token endpoint"):
        make_auth(clock, sleep).access_token()
    assert len(sleep.calls) == 3


# -- retries ----------------------------------------------------------------------------------


def test_429_with_retry_after_seconds_sleeps_that_long(zoom_api, zoom, sleep):
    add_token(zoom_api)
    zoom_api.get(MEETING_URL, status=429, headers={"Retry-After": "7"}, json=fixture("error_rate_limit"))
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    zoom.get_meeting(MEETING_ID)

    assert sleep.calls == [7.0]


def test_retry_after_as_http_date_counts_from_the_injected_clock(zoom_api, zoom, sleep, clock):
    add_token(zoom_api)
    when = email.utils.format_datetime(clock.now + dt.timedelta(seconds=12), usegmt=True)
    zoom_api.get(MEETING_URL, status=429, headers={"Retry-After": when}, json=fixture("error_rate_limit"))
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    zoom.get_meeting(MEETING_ID)

    assert sleep.calls == [12.0]


def test_retry_after_over_five_minutes_raises_rate_limited_without_sleeping(zoom_api, zoom, sleep):
    add_token(zoom_api)
    zoom_api.get(MEETING_URL, status=429, headers={"Retry-After": "900"}, json=fixture("error_rate_limit"))

    with pytest.raises(ZoomRateLimited) as caught:
        zoom.get_meeting(MEETING_ID)

    assert caught.value.retry_after == 900.0
    assert sleep.calls == []


def test_429_without_retry_after_backs_off_then_raises_rate_limited(zoom_api, zoom, sleep):
    add_token(zoom_api)
    for _ in range(4):
        zoom_api.get(MEETING_URL, status=429, json=fixture("error_rate_limit"))

    with pytest.raises(ZoomRateLimited) as caught:
        zoom.get_meeting(MEETING_ID)

    assert caught.value.retry_after is None
    assert sleep.calls == [1.0, 2.0, 4.0]


def test_daily_limit_raises_at_once_with_reset_at_next_utc_midnight(zoom_api, zoom, sleep):
    add_token(zoom_api)
    zoom_api.post(MEETINGS_URL, status=429, json=fixture("error_daily_limit"))

    with pytest.raises(ZoomDailyLimitExceeded) as caught:
        zoom.create_meeting(HOST, fixture("meeting_create_body"))

    assert caught.value.host == HOST
    assert caught.value.reset_at == utc("2027-01-06 00:00")
    assert len(calls_to(zoom_api, "POST", MEETINGS_URL)) == 1
    assert sleep.calls == []
    assert "daily limit" in str(caught.value)


def test_the_account_wide_daily_limit_raises_at_once_with_zooms_reset_time(zoom_api, zoom, sleep):
    add_token(zoom_api)
    headers = {"X-RateLimit-Type": "Daily-limit", "Retry-After": "2027-01-06T00:00:00Z"}
    zoom_api.get(MEETING_URL, status=429, headers=headers, json=fixture("error_account_daily_limit"))

    with pytest.raises(ZoomAccountDailyLimit) as caught:
        zoom.get_meeting(MEETING_ID)

    assert caught.value.reset_at == utc("2027-01-06 00:00")
    assert caught.value.retry_after == 12 * 3600.0  # the clock stands at 2027-01-05 12:00
    assert sleep.calls == []
    assert "the account's daily API limit is used up; it resets at 2027-01-06 00:00 UTC" in str(caught.value)


def test_daily_limit_on_an_update_names_the_meeting_id(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.patch(MEETING_URL, status=429, json=fixture("error_daily_limit"))

    with pytest.raises(ZoomDailyLimitExceeded) as caught:
        zoom.update_meeting(MEETING_ID, fixture("meeting_patch_breakout_body"))

    assert caught.value.host == str(MEETING_ID)


def test_5xx_is_retried_with_growing_capped_backoff_then_raises_server_error(zoom_api, clock, sleep):
    zoom = make_zoom(clock, sleep, max_retries=7)
    add_token(zoom_api)
    for _ in range(8):
        zoom_api.get(MEETING_URL, status=503, body="<html>Service Unavailable</html>")

    with pytest.raises(ZoomServerError) as caught:
        zoom.get_meeting(MEETING_ID)

    assert sleep.calls == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert caught.value.status == 503
    assert len(calls_to(zoom_api, "GET", MEETING_URL)) == 8


def test_backoff_jitter_comes_from_the_injected_rng(zoom_api, clock):
    def sleeps_with(seed: int) -> list[float]:
        sleep = FakeSleep()
        auth = make_auth(clock, sleep)
        client = ZoomClient(auth, base_url=API, sleep=sleep, rng=random.Random(seed), clock=clock)
        add_token(zoom_api)
        for _ in range(4):
            zoom_api.get(MEETING_URL, status=500, json={"code": 500, "message": "Internal error"})
        with pytest.raises(ZoomServerError):
            client.get_meeting(MEETING_ID)
        return sleep.calls

    first, again = sleeps_with(7), sleeps_with(7)

    assert first == again
    assert all(0.0 <= wait <= ceiling for wait, ceiling in zip(first, [1.0, 2.0, 4.0], strict=True))
    assert first != [1.0, 2.0, 4.0]


def test_connection_errors_are_retried_then_raise_connection_error(zoom_api, zoom, sleep):
    add_token(zoom_api)
    for _ in range(4):
        zoom_api.get(MEETING_URL, body=requests.ConnectionError("connection refused"))

    with pytest.raises(ZoomConnectionError, match=f"GET /meetings/{MEETING_ID}"):
        zoom.get_meeting(MEETING_ID)
    assert sleep.calls == [1.0, 2.0, 4.0]


def test_a_timeout_is_retried(zoom_api, zoom, sleep):
    add_token(zoom_api)
    zoom_api.get(MEETING_URL, body=requests.ReadTimeout("read timed out"))
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    assert zoom.get_meeting(MEETING_ID)["id"] == MEETING_ID
    assert sleep.calls == [1.0]


def test_404_raises_not_found_with_a_readable_one_line_message(zoom_api, zoom, sleep):
    add_token(zoom_api)
    zoom_api.get(MEETING_URL, status=404, json=fixture("error_meeting_not_found"))

    with pytest.raises(ZoomNotFound) as caught:
        zoom.get_meeting(MEETING_ID)

    error = caught.value
    assert (error.status, error.code) == (404, 3001)
    assert error.url == MEETING_URL
    assert str(error) == (
        f"Zoom API 404 (code 3001) on GET /meetings/{MEETING_ID}: Meeting does not exist: {MEETING_ID}."
    )
    assert sleep.calls == []


def test_a_400_is_not_retried(zoom_api, zoom, sleep):
    add_token(zoom_api)
    zoom_api.patch(MEETING_URL, status=400, json={"code": 300, "message": "Invalid recurrence."})

    with pytest.raises(ZoomAPIError, match=r"Zoom API 400 \(code 300\) on PATCH") as caught:
        zoom.update_meeting(MEETING_ID, {"topic": "x"})

    assert type(caught.value) is ZoomAPIError
    assert sleep.calls == []


# -- creating a meeting safely ----------------------------------------------------------------


def listing(*meetings: dict[str, Any]) -> dict[str, Any]:
    return {
        "next_page_token": "",
        "page_size": 300,
        "total_records": len(meetings),
        "meetings": list(meetings),
    }


def listed(topic: str, start_time: str, meeting_id: int = MEETING_ID) -> dict[str, Any]:
    return {
        "id": meeting_id,
        "topic": topic,
        "type": 8,
        "start_time": start_time,
        "timezone": "America/Denver",
    }


def test_a_create_that_got_a_500_but_happened_is_found_and_not_repeated(zoom_api, zoom):
    body = fixture("meeting_create_body")  # 13:00 America/Denver, which Zoom lists as 20:00Z
    add_token(zoom_api)
    zoom_api.post(MEETINGS_URL, status=500, json={"code": 500, "message": "Internal error"})
    other = listed("Office hours", "2027-01-06T20:00:00Z", meeting_id=111)
    zoom_api.get(MEETINGS_URL, json=listing(other, listed(body["topic"], "2027-01-06T20:00:00Z")))
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    meeting = zoom.create_meeting(HOST, body)

    assert meeting["id"] == MEETING_ID
    assert len(calls_to(zoom_api, "POST", MEETINGS_URL)) == 1


def test_a_create_that_got_a_500_and_did_not_happen_is_retried_once(zoom_api, zoom, sleep):
    body = fixture("meeting_create_body")
    add_token(zoom_api)
    zoom_api.post(MEETINGS_URL, status=502, body="Bad Gateway")
    # Same topic an hour later (a different instant) is another meeting.
    zoom_api.get(MEETINGS_URL, json=listing(listed(body["topic"], "2027-01-06T21:00:00Z", 222)))
    zoom_api.post(MEETINGS_URL, status=201, json=fixture("meeting_created"))

    meeting = zoom.create_meeting(HOST, body)

    assert meeting["id"] == MEETING_ID
    assert len(calls_to(zoom_api, "POST", MEETINGS_URL)) == 2
    assert sleep.calls == [1.0]


def test_a_create_whose_connection_dropped_checks_the_listing_first(zoom_api, zoom):
    body = {**fixture("meeting_create_body"), "start_time": "2027-01-06T20:00:00Z"}
    del body["timezone"]
    add_token(zoom_api)
    zoom_api.post(MEETINGS_URL, body=requests.ConnectionError("connection reset"))
    zoom_api.get(MEETINGS_URL, json=listing(listed(body["topic"], "2027-01-06T20:00:00Z")))
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    assert zoom.create_meeting(HOST, body)["id"] == MEETING_ID
    assert len(calls_to(zoom_api, "POST", MEETINGS_URL)) == 1


def test_a_create_that_keeps_failing_raises_after_max_retries(zoom_api, zoom):
    add_token(zoom_api)
    for _ in range(3):
        zoom_api.post(MEETINGS_URL, status=500, json={"code": 500, "message": "Internal error"})
        zoom_api.get(MEETINGS_URL, json=listing())
    zoom_api.post(MEETINGS_URL, status=500, json={"code": 500, "message": "Internal error"})

    with pytest.raises(ZoomServerError):
        zoom.create_meeting(HOST, fixture("meeting_create_body"))
    assert len(calls_to(zoom_api, "POST", MEETINGS_URL)) == 4


def test_a_create_is_repeated_after_a_429_without_listing(zoom_api, zoom, sleep):
    add_token(zoom_api)
    zoom_api.post(MEETINGS_URL, status=429, headers={"Retry-After": "2"}, json=fixture("error_rate_limit"))
    zoom_api.post(MEETINGS_URL, status=201, json=fixture("meeting_created"))

    assert zoom.create_meeting(HOST, fixture("meeting_create_body"))["id"] == MEETING_ID
    assert calls_to(zoom_api, "GET", API) == []
    assert sleep.calls == [2.0]


# -- paging, encoding, parameters -------------------------------------------------------------


def test_paging_follows_next_page_token_over_three_pages(zoom_api, zoom):
    add_token(zoom_api)
    for page in ("meetings_page1", "meetings_page2", "meetings_page3"):
        zoom_api.get(MEETINGS_URL, json=fixture(page))

    meetings = list(zoom.iter_meetings(HOST))

    assert [m["id"] for m in meetings] == [85746065123, 85746065124, 85746065125]
    queries = [parse_qs(urlsplit(c.request.url).query) for c in calls_to(zoom_api, "GET", MEETINGS_URL)]
    assert [q.get("next_page_token") for q in queries] == [None, ["page2-token"], ["page3-token"]]
    assert all(q["page_size"] == ["300"] and q["type"] == ["scheduled"] for q in queries)


@pytest.mark.parametrize(
    ("uuid", "encoded"),
    [
        ("/abc==", "%252Fabc%253D%253D"),
        ("ab//c", "ab%252F%252Fc"),
        ("aB3+c9/x==", "aB3%2Bc9%2Fx%3D%3D"),
    ],
)
@pytest.mark.parametrize(
    ("method_name", "template"),
    [
        ("iter_past_participants", "/v2/past_meetings/{}/participants"),
        ("iter_report_participants", "/v2/report/meetings/{}/participants"),
    ],
)
def test_meeting_uuids_are_encoded_twice_only_when_zoom_requires_it(
    zoom_api, zoom, method_name, template, uuid, encoded
):
    add_token(zoom_api)
    path = template.format(encoded)
    zoom_api.get(f"https://api.zoom.test{path}", json=fixture("past_participants"))

    people = list(getattr(zoom, method_name)(uuid))

    assert len(people) == 2
    assert urlsplit(zoom_api.calls[-1].request.url).path == path


def test_list_past_instances_returns_the_instances(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.get(f"{API}/past_meetings/{MEETING_ID}/instances", json=fixture("past_instances"))

    instances = zoom.list_past_instances(MEETING_ID)

    assert [i["uuid"] for i in instances] == ["Bnh3SAIGSXS+1s53Yzr8Ow==", "/ajXp112QmuoKj4854875=="]


def test_delete_sends_no_reminder_and_the_occurrence(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.delete(MEETING_URL, status=204)

    assert zoom.delete_meeting(MEETING_ID, occurrence_id="1799265600000") is None

    query = parse_qs(urlsplit(zoom_api.calls[-1].request.url).query)
    assert query == {"schedule_for_reminder": ["false"], "occurrence_id": ["1799265600000"]}


def test_get_meeting_passes_occurrence_options(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    zoom.get_meeting(MEETING_ID, occurrence_id="1799265600000", show_previous_occurrences=True)

    query = parse_qs(urlsplit(zoom_api.calls[-1].request.url).query)
    assert query == {"occurrence_id": ["1799265600000"], "show_previous_occurrences": ["true"]}


def test_update_sends_the_body_as_json(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.patch(MEETING_URL, status=204)
    body = fixture("meeting_patch_breakout_body")

    zoom.update_meeting(MEETING_ID, body)

    assert json.loads(zoom_api.calls[-1].request.body) == body


def test_get_user_looks_up_by_email(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.get(f"{API}/users/mod1%40school.example.org", json=fixture("user"))

    assert zoom.get_user(HOST)["status"] == "active"


def test_calls_are_logged_at_debug_without_tokens(zoom_api, zoom, caplog):
    caplog.set_level(logging.DEBUG, logger="zoom_homeroom.zoom")
    add_token(zoom_api, "tok-secret-value")
    zoom_api.get(MEETING_URL, status=503, body="down")
    zoom_api.get(MEETING_URL, json=fixture("meeting"))

    zoom.get_meeting(MEETING_ID)

    messages = [r.getMessage() for r in caplog.records if r.name == "zoom_homeroom.zoom.client"]
    assert messages == [
        f"zoom GET /meetings/{MEETING_ID} -> 503 (attempt 1)",
        f"zoom GET /meetings/{MEETING_ID} -> 200 (attempt 2)",
    ]
    assert "tok-secret-value" not in caplog.text


def test_make_client_builds_auth_and_client_from_settings(zoom_api, settings, sleep, clock):
    zoom = make_client(settings, sleep=sleep, clock=clock)
    zoom_api.post(settings.zoom_oauth_token_url, json=fixture("token"))
    zoom_api.get(f"{settings.zoom_api_url}/meetings/{MEETING_ID}", json=fixture("meeting"))

    assert zoom.get_meeting(MEETING_ID)["id"] == MEETING_ID
    assert parse_qs(zoom_api.calls[0].request.body)["account_id"] == [settings.zoom_account_id]
    assert TEST_CLIENT_SECRET not in repr(zoom)


# -- mapping responses to errors --------------------------------------------------------------


def response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.reason = {404: "Not Found", 502: "Bad Gateway"}.get(status, "Error")
    resp.url = MEETING_URL
    resp._content = json.dumps(body).encode() if body is not None else b"<html>oops</html>"
    resp.headers.update(headers or {})
    resp.request = requests.Request("GET", MEETING_URL).prepare()
    return resp


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"code": 3001, "message": "Meeting does not exist"}, ZoomNotFound),
        (429, fixture("error_rate_limit"), ZoomRateLimited),
        (429, fixture("error_daily_limit"), ZoomDailyLimitExceeded),
        (500, {"code": 500, "message": "Internal"}, ZoomServerError),
        (502, None, ZoomServerError),
        (400, {"code": 300, "message": "Bad"}, ZoomAPIError),
        (403, {"code": 200, "message": "No permission."}, ZoomAPIError),
    ],
)
def test_error_for_response_maps_statuses_to_classes(status, body, expected, clock):
    error = error_for_response(response(status, body), now=clock())

    assert type(error) is expected
    assert error.status == status
    assert "\n" not in str(error)


def test_error_for_a_non_json_body_uses_the_reason_phrase(clock):
    error = error_for_response(response(502), now=clock())

    assert error.code is None
    assert str(error) == f"Zoom API 502 on GET /meetings/{MEETING_ID}: Bad Gateway"


@pytest.mark.parametrize(
    ("message", "headers", "expected", "reset_at"),
    [
        pytest.param(
            fixture("error_daily_limit")["message"],
            {},
            ZoomDailyLimitExceeded,
            "2027-01-06 00:00",
            id="host-fixture",
        ),
        pytest.param(
            "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests permitted for "
            "this particular user. You may resume these requests at GMT 00:00:00.",
            {},
            ZoomDailyLimitExceeded,
            "2027-01-06 00:00",
            id="host-create-update",
        ),
        pytest.param(
            fixture("error_account_daily_limit")["message"],
            {"Retry-After": "2027-01-06T00:00:00Z"},
            ZoomAccountDailyLimit,
            "2027-01-06 00:00",
            id="account-iso-retry-after",
        ),
        pytest.param(
            fixture("error_account_daily_limit")["message"],
            {},
            ZoomAccountDailyLimit,
            "2027-01-06 00:00",
            id="account-no-header",
        ),
        pytest.param(
            "Too many requests.",
            {"X-RateLimit-Type": "Daily-limit", "Retry-After": "Wed, 06 Jan 2027 06:00:00 GMT"},
            ZoomAccountDailyLimit,
            "2027-01-06 06:00",
            id="account-by-header-http-date",
        ),
        pytest.param(
            fixture("error_rate_limit")["message"],
            {"Retry-After": "3"},
            ZoomRateLimited,
            None,
            id="per-second",
        ),
    ],
)
def test_429s_are_told_apart_by_their_text_and_headers(message, headers, expected, reset_at, clock):
    error = error_for_response(response(429, {"code": 429, "message": message}, headers), now=clock())

    assert type(error) is expected
    assert getattr(error, "reset_at", None) == (utc(reset_at) if reset_at else None)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("7", 7.0, id="delta-seconds"),
        pytest.param("Tue, 05 Jan 2027 12:00:30 GMT", 30.0, id="http-date"),
        pytest.param("2027-01-05T12:01:00Z", 60.0, id="iso-utc"),
        pytest.param("2027-01-05T05:02:00-07:00", 120.0, id="iso-offset"),
        pytest.param("2027-01-05T12:03:00", 180.0, id="iso-without-zone-is-utc"),
        pytest.param("2027-01-05T12:03:00.500Z", 180.5, id="iso-fraction"),
    ],
)
def test_retry_after_as_seconds_an_http_date_or_an_iso_time(value, seconds, clock):
    assert parse_retry_after(value, clock()) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "2027-01-05", "2027-13-05T00:00:00Z"])
def test_unreadable_retry_after_is_none(value, clock):
    assert parse_retry_after(value, clock()) is None


def test_retry_after_in_the_past_is_zero(clock):
    past = email.utils.format_datetime(clock.now - dt.timedelta(minutes=1), usegmt=True)

    assert parse_retry_after(past, clock()) == 0.0
