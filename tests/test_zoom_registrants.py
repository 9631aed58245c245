"""ZoomClient's registrant calls against a mocked Zoom (responses): bodies, paging, limits, errors."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import utc
from tests.test_zoom_client import API, MEETING_ID, add_token, calls_to, make_zoom
from zoom_homeroom.zoom import (
    ZoomAccountDailyLimit,
    ZoomAPIError,
    ZoomClient,
    ZoomRateLimited,
    ZoomRegistrantDailyLimit,
    ZoomRegistrationNotEnabled,
)

REGISTRANTS_URL = f"{API}/meetings/{MEETING_ID}/registrants"
# Zoom's 429 for a 4th registration of one email for one meeting in a day, as quoted in its forum.
REGISTRANT_LIMIT = {
    "code": 429,
    "message": "You have exceeded the daily rate limit of (3) for Add a meeting registrant API requests for "
    "the registrant (ada@x.org). You can resume these API requests at GMT 00:00:00.",
}
OLD_REGISTRANT_LIMIT = {
    "code": 429,
    "message": "You have exceeded the daily rate limit (3) of Webinar Batch Registration API requests "
    "permitted for (ada@x.org) this particular registrant. You may resume these requests at GMT 00:00:00.",
}


@pytest.fixture
def zoom(clock, sleep) -> ZoomClient:
    return make_zoom(clock, sleep)


def test_add_registrant_posts_the_body_and_returns_the_registration(zoom_api, zoom, openapi_spec):
    add_token(zoom_api)
    answer = {"id": MEETING_ID, "registrant_id": "r-1", "join_url": "https://us02web.zoom.us/w/1?tk=t"}
    zoom_api.post(REGISTRANTS_URL, status=201, json=answer)
    body = {"email": "ada@x.org", "first_name": "Ada", "last_name": "Lovelace"}

    assert zoom.add_registrant(MEETING_ID, body) == answer

    sent = json.loads(zoom_api.calls[-1].request.body)
    assert sent == body
    openapi_spec.validate_request("POST", REGISTRANTS_URL, sent)


def test_a_registrant_post_is_retried_after_a_server_error(zoom_api, zoom, sleep):
    # Zoom answers a second registration of one email with the first, so a repeat is safe.
    add_token(zoom_api)
    zoom_api.post(REGISTRANTS_URL, status=502, json={"code": 502, "message": "Bad gateway"})
    zoom_api.post(REGISTRANTS_URL, status=201, json={"registrant_id": "r-1", "join_url": "u"})

    assert zoom.add_registrant(MEETING_ID, {"email": "a@x.org", "first_name": "A"})["registrant_id"] == "r-1"
    assert len(calls_to(zoom_api, "POST", REGISTRANTS_URL)) == 2 and len(sleep.calls) == 1


@pytest.mark.parametrize("answer", [REGISTRANT_LIMIT, OLD_REGISTRANT_LIMIT], ids=["current", "older"])
def test_the_per_registrant_daily_limit_is_its_own_error_and_is_not_retried(zoom_api, zoom, clock, answer):
    clock.now = utc("2027-01-06 18:30")
    add_token(zoom_api)
    zoom_api.post(REGISTRANTS_URL, status=429, json=answer)

    with pytest.raises(ZoomRegistrantDailyLimit) as error:
        zoom.add_registrant(MEETING_ID, {"email": "ada@x.org", "first_name": "Ada"})

    assert not isinstance(error.value, ZoomAccountDailyLimit)
    assert error.value.reset_at == utc("2027-01-07 00:00")
    assert len(calls_to(zoom_api, "POST", REGISTRANTS_URL)) == 1
    assert str(error.value).endswith("(it resets at 2027-01-07 00:00 UTC)")


def test_registration_not_enabled_is_its_own_error(zoom_api, zoom):
    add_token(zoom_api)
    message = f"Registration has not been enabled for this meeting: {MEETING_ID}."
    zoom_api.post(REGISTRANTS_URL, status=400, json={"code": 404, "message": message})

    with pytest.raises(ZoomRegistrationNotEnabled) as error:
        zoom.add_registrant(MEETING_ID, {"email": "ada@x.org", "first_name": "Ada"})
    assert (error.value.status, error.value.code) == (400, 404)


def test_registrants_are_listed_by_status_page_after_page(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.get(REGISTRANTS_URL, json={"registrants": [{"id": "r-1"}], "next_page_token": "p2"})
    zoom_api.get(REGISTRANTS_URL, json={"registrants": [{"id": "r-2"}], "next_page_token": ""})

    assert [r["id"] for r in zoom.iter_registrants(MEETING_ID)] == ["r-1", "r-2"]

    queries = [parse_qs(urlsplit(c.request.url).query) for c in calls_to(zoom_api, "GET", REGISTRANTS_URL)]
    assert [q["status"] for q in queries] == [["approved"], ["approved"]]
    assert [q.get("next_page_token") for q in queries] == [None, ["p2"]]


def test_a_status_update_sends_the_action_and_each_registrants_id_and_email(zoom_api, zoom, openapi_spec):
    add_token(zoom_api)
    zoom_api.put(f"{REGISTRANTS_URL}/status", status=204)
    entries = [{"id": "r-1", "email": "ada@x.org"}]

    assert zoom.update_registrant_status(MEETING_ID, "cancel", entries) is None

    sent = json.loads(zoom_api.calls[-1].request.body)
    assert sent == {"action": "cancel", "registrants": entries}
    openapi_spec.validate_request("PUT", f"{REGISTRANTS_URL}/status", sent)


def test_a_batch_registration_returns_zooms_entries(zoom_api, zoom, openapi_spec):
    add_token(zoom_api)
    url = f"{API}/meetings/{MEETING_ID}/batch_registrants"
    entries = [{"email": "ada@x.org", "registrant_id": "r-1", "join_url": "u"}]
    zoom_api.post(url, status=201, json={"registrants": entries})
    registrants = [{"email": "ada@x.org", "first_name": "Ada"}]

    assert zoom.add_batch_registrants(MEETING_ID, registrants) == entries

    sent = json.loads(zoom_api.calls[-1].request.body)
    assert sent == {"registrants": registrants}
    openapi_spec.validate_request("POST", url, sent)


@pytest.mark.parametrize("call", ["add_batch_registrants", "update_registrant_status"])
def test_more_than_thirty_registrants_in_one_call_is_a_programming_error(zoom, call):
    registrants = [{"email": f"s{n}@x.org", "first_name": "S", "id": str(n)} for n in range(31)]
    args = (
        (MEETING_ID, registrants) if call == "add_batch_registrants" else (MEETING_ID, "cancel", registrants)
    )
    with pytest.raises(ValueError, match="31 registrants in one call"):
        getattr(zoom, call)(*args)


def test_reports_are_asked_for_each_rows_registrant_id(zoom_api, zoom, openapi_spec):
    add_token(zoom_api)
    url = f"{API}/report/meetings/{MEETING_ID}/participants"
    zoom_api.get(url, json={"participants": [{"user_id": "16778240", "registrant_id": "r-1"}]})

    assert [row["registrant_id"] for row in zoom.iter_report_participants(str(MEETING_ID))] == ["r-1"]

    query = parse_qs(urlsplit(zoom_api.calls[-1].request.url).query)
    assert query["include_fields"] == ["registrant_id"]
    assert "include_fields" in openapi_spec.parameters("GET", url)


def test_a_per_second_limit_on_registrants_is_waited_out_like_any_other(zoom_api, zoom, sleep):
    add_token(zoom_api)
    zoom_api.post(
        REGISTRANTS_URL,
        status=429,
        json={"code": 429, "message": "You have reached the maximum per-second rate limit for this API."},
        headers={"Retry-After": "2"},
    )
    zoom_api.post(REGISTRANTS_URL, status=201, json={"registrant_id": "r-1"})

    zoom.add_registrant(MEETING_ID, {"email": "ada@x.org", "first_name": "Ada"})

    assert sleep.calls == [2.0]


def test_other_refusals_stay_plain_api_errors(zoom_api, zoom):
    add_token(zoom_api)
    zoom_api.post(REGISTRANTS_URL, status=400, json={"code": 3027, "message": "Host can not register"})
    with pytest.raises(ZoomAPIError) as error:
        zoom.add_registrant(MEETING_ID, {"email": "mod1@school.example.org", "first_name": "Host"})
    assert not isinstance(error.value, ZoomRateLimited | ZoomRegistrationNotEnabled)
    assert error.value.code == 3027
