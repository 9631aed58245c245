"""POST /webhooks/zoom: signatures, replay window, validation, durability and idempotence.

Bodies are signed here with a few lines of hmac, never with the code under test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest

from tests.conftest import TEST_WEBHOOK_SECRET
from tests.factories import utc
from tests.webhook_bodies import MEETING_ID, URL, participant_event, signed_headers
from zoom_homeroom.core.models import PlannedSession, StoredMeeting
from zoom_homeroom.services.intake import process_pending


def participant_joined(**fields: str) -> dict:
    return participant_event(**fields)


def post(client, body: dict | bytes, *, at: dt.datetime, secret: str = TEST_WEBHOOK_SECRET, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        URL, data=raw, headers=headers if headers is not None else signed_headers(raw, at=at, secret=secret)
    )


def deliveries(storage) -> list[dict]:
    return list(storage.db.query("SELECT * FROM webhook_deliveries ORDER BY id"))


@pytest.fixture
def known_meeting(storage, clock):
    """Module 1's meeting and its week-1 session, as sync would have stored them."""
    storage.save_meeting(
        StoredMeeting(
            "homeroom:1:2027-01-04", "homeroom", 1, "mod1@x.org", MEETING_ID, "https://zoom.test/j/1", {}
        ),
        now=clock(),
    )
    session = PlannedSession(
        "homeroom", 1, 1, dt.date(2027, 1, 6), utc("2027-01-06 20:00"), utc("2027-01-06 21:00")
    )
    storage.upsert_sessions([session], meeting_key="homeroom:1:2027-01-04", occurrence_ids={})
    return storage.session(session.key)


def process(storage, calendar, clock) -> int:
    """What happens right after intake: the next attendance read (or the scheduler) processes."""
    return process_pending(storage, calendar, now=clock())


def test_good_signature_is_stored_answered_204_then_processed(
    client, storage, calendar, clock, known_meeting
):
    response = post(client, participant_joined(), at=clock())
    assert response.status_code == 204
    (row,) = deliveries(storage)
    assert row["event"] == "meeting.participant_joined"
    assert row["processed_at"] is None  # stored durably; processing is not on Zoom's clock
    assert process(storage, calendar, clock) == 1
    (row,) = deliveries(storage)
    assert row["outcome"] == "ok" and row["processed_at"]
    (edge,) = storage.presence(known_meeting.id)
    assert edge.kind == "join" and edge.identity.email == "ada@students.example.org"
    assert edge.at == utc("2027-01-06 20:01")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-zm-signature": "v0=abc"},
        {"x-zm-request-timestamp": "1799265600"},
        {"x-zm-request-timestamp": "soon", "x-zm-signature": "v0=abc"},
    ],
)
def test_missing_or_malformed_headers_are_401_and_nothing_is_stored(client, storage, clock, headers):
    response = post(client, participant_joined(), at=clock(), headers=headers)
    assert response.status_code == 401
    assert response.is_json
    assert deliveries(storage) == []


def test_wrong_secret_is_401(client, storage, clock):
    response = post(client, participant_joined(), at=clock(), secret="not-the-secret")
    assert response.status_code == 401
    assert deliveries(storage) == []


def test_altered_body_is_401(client, storage, clock):
    raw = json.dumps(participant_joined()).encode()
    headers = signed_headers(raw, at=clock())
    response = client.post(URL, data=raw.replace(b"Ada", b"Eve"), headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (dt.timedelta(hours=-3), 401),  # stale: outside the 2-hour window
        (dt.timedelta(minutes=-90), 204),  # Zoom's 60-minute retry of a delivery first sent 30 minutes late
        (dt.timedelta(minutes=-119), 204),
        (dt.timedelta(minutes=3), 204),  # small clock skew
        (dt.timedelta(hours=1), 401),  # future
    ],
)
def test_replay_window(client, clock, offset, status):
    assert post(client, participant_joined(), at=clock() + offset).status_code == status


def test_replay_window_is_configurable(settings, clock):
    from tests.factories import make_calendar
    from zoom_homeroom import create_app

    app = create_app(settings, calendar=make_calendar(webhooks={"replay_window_minutes": 30}), clock=clock)
    response = post(app.test_client(), participant_joined(), at=clock() - dt.timedelta(minutes=45))
    assert response.status_code == 401


def test_url_validation_answers_with_the_hmac_of_the_plain_token(client, storage, clock):
    body = {
        "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
        "event_ts": 1654503849680,
        "event": "endpoint.url_validation",
    }
    response = post(client, body, at=clock())
    assert response.status_code == 200
    expected = hmac.new(TEST_WEBHOOK_SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.get_json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert deliveries(storage) == []


def test_url_validation_without_a_token_is_400(client, clock):
    assert post(client, {"event": "endpoint.url_validation", "payload": {}}, at=clock()).status_code == 400


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[]",
        b'"text"',
        b'{"payload": {}}',
        b'{"event": 7}',
        b'{"event": ""}',
        "\ufeff{}".encode("utf-16"),
    ],
)
def test_malformed_json_or_missing_event_is_400_and_nothing_is_stored(client, storage, clock, raw):
    response = post(client, raw, at=clock())
    assert response.status_code == 400
    assert response.is_json
    assert deliveries(storage) == []


def test_oversize_body_is_413_and_nothing_is_stored(client, storage, clock):
    body = participant_joined()
    body["padding"] = "x" * (256 * 1024)
    response = post(client, body, at=clock())
    assert response.status_code == 413
    assert deliveries(storage) == []


def test_duplicate_delivery_counts_once(client, storage, calendar, clock, known_meeting):
    body = participant_joined()
    assert post(client, body, at=clock()).status_code == 204
    process(storage, calendar, clock)
    # Zoom's retry: same body, new timestamp and signature.
    assert post(client, body, at=clock() + dt.timedelta(minutes=5)).status_code == 204
    assert process(storage, calendar, clock) == 0
    assert len(deliveries(storage)) == 1
    assert len(storage.presence(known_meeting.id)) == 1


def test_unknown_event_type_is_stored_and_answered_204(client, storage, calendar, clock):
    response = post(
        client, {"event": "meeting.sharing_started", "payload": {"object": {"id": 1}}}, at=clock()
    )
    assert response.status_code == 204
    process(storage, calendar, clock)
    (row,) = deliveries(storage)
    assert row["outcome"] == "ignored"


def test_unknown_meeting_is_kept_reported_and_processed_once_the_meeting_is_known(
    client, storage, calendar, clock
):
    assert post(client, participant_joined(), at=clock()).status_code == 204
    process(storage, calendar, clock)
    (row,) = deliveries(storage)
    assert row["outcome"] == "unknown_meeting" and row["zoom_meeting_id"] == MEETING_ID
    assert storage.unknown_meetings()[0][:2] == (MEETING_ID, 1)

    storage.save_meeting(
        StoredMeeting("homeroom:1:2027-01-04", "homeroom", 1, "mod1@x.org", MEETING_ID, None, {}), now=clock()
    )
    session = PlannedSession(
        "homeroom", 1, 1, dt.date(2027, 1, 6), utc("2027-01-06 20:00"), utc("2027-01-06 21:00")
    )
    storage.upsert_sessions([session], meeting_key="homeroom:1:2027-01-04", occurrence_ids={})
    assert storage.requeue_unknown_meeting_deliveries(MEETING_ID) == 1  # what sync does once it knows
    process(storage, calendar, clock)
    assert deliveries(storage)[0]["outcome"] == "ok"
    assert len(storage.presence(storage.session(session.key).id)) == 1


def test_a_processing_failure_keeps_the_delivery_for_a_retry_at_start_up(
    client, storage, clock, known_meeting, monkeypatch, settings, calendar
):
    import zoom_homeroom.services.intake as process_module
    from zoom_homeroom import create_app

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(process_module, "process", broken)
    assert post(client, participant_joined(), at=clock()).status_code == 204
    process(storage, calendar, clock)
    (row,) = deliveries(storage)
    assert row["processed_at"] is None and row["outcome"] == "error" and "bug" in row["error"]
    assert storage.presence(known_meeting.id) == []
    monkeypatch.undo()

    assert process(storage, calendar, clock) == 0  # a read does not retry it every time
    create_app(settings, calendar=calendar, clock=clock)  # the next start-up does
    (row,) = deliveries(storage)
    assert row["outcome"] == "ok"
    assert len(storage.presence(known_meeting.id)) == 1


def test_missing_secret_refuses_every_delivery(env, calendar, clock):
    from zoom_homeroom import create_app
    from zoom_homeroom.settings import load_settings

    settings = load_settings({**env, "ZOOM_WEBHOOK_SECRET_TOKEN": ""})
    client = create_app(settings, calendar=calendar, clock=clock).test_client()
    assert post(client, participant_joined(), at=clock()).status_code == 503


def test_unknown_meetings_are_reported_to_reps(client, storage, calendar, clock, runner, runtime):
    from tests.dashboard_data import sign_in
    from zoom_homeroom.cli import cli

    assert post(client, participant_joined(), at=clock()).status_code == 204
    output = runner.invoke(cli, ["attendance", "unmatched"], obj=runtime).output
    assert f"unknown meeting {MEETING_ID}: 1 Zoom events kept" in output

    from tests import dashboard_data

    dashboard_data._users(storage)
    assert sign_in(client).status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "Zoom events for meetings this service does not know" in html
    assert f"<code>{MEETING_ID}</code>" in html


def nested(levels: int) -> bytes:
    """An object whose `payload` holds arrays inside arrays: `levels` levels counting the outer object."""
    return (
        b'{"event": "meeting.participant_joined", "payload": '
        + b"[" * (levels - 1)
        + b"]" * (levels - 1)
        + b"}"
    )


@pytest.mark.parametrize("levels", [33, 100, 990])
def test_a_body_nested_deeper_than_processing_can_read_is_400_and_nothing_is_stored(
    client, storage, clock, levels
):
    response = post(client, nested(levels), at=clock())
    assert response.status_code == 400
    assert "nested at most 32 levels" in response.get_json()["error"]
    assert deliveries(storage) == []


def test_a_body_nested_32_levels_is_stored_and_processing_reads_it(client, storage, calendar, clock):
    """Intake and processing draw the line at the same depth: what is answered 204 is parsed."""
    assert post(client, nested(32), at=clock()).status_code == 204
    assert process(storage, calendar, clock) == 1
    (row,) = deliveries(storage)
    assert row["outcome"] == "invalid"  # a join without a participant, but read: not refused for its depth
    assert "deeper" not in row["error"] and "participant" in row["error"]


def test_brackets_inside_strings_are_not_nesting(client, storage, clock):
    body = participant_joined(name="[{" * 200 + "Ada")
    assert post(client, body, at=clock()).status_code == 204
    assert (
        json.loads(deliveries(storage)[0]["body"])["payload"]["object"]["participant"]["user_name"]
        == "[{" * 200 + "Ada"
    )


@pytest.fixture
def dashboard_work(monkeypatch) -> dict[str, int]:
    """Counts of the dashboard's per-request work: opening the session cookie, looking up the
    signed-in user, checking CSRF, adding the security headers."""
    from flask_wtf.csrf import CSRFProtect

    from zoom_homeroom.storage.users import UserStore
    from zoom_homeroom.web import auth

    counts = {"session": 0, "user": 0, "csrf": 0}

    def counted(name: str, original):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        auth.SchemeAwareSessionInterface,
        "open_session",
        counted("session", auth.SchemeAwareSessionInterface.open_session),
    )
    monkeypatch.setattr(UserStore, "session_user", counted("user", UserStore.session_user))
    monkeypatch.setattr(CSRFProtect, "protect", counted("csrf", CSRFProtect.protect))
    return counts


def test_a_delivery_skips_the_dashboards_per_request_work(rep, storage, clock, dashboard_work):
    """Issue 16: the webhook path only verifies, parses, stores and answers, even when the request
    carries a rep's session cookie (the test client sends it)."""
    response = post(rep, participant_joined(), at=clock())
    assert response.status_code == 204
    assert dashboard_work == {"session": 0, "user": 0, "csrf": 0}
    assert "Set-Cookie" not in response.headers and "Content-Security-Policy" not in response.headers
    assert len(deliveries(storage)) == 1
    # The same cookie on a page does all of it: the counters watch the right functions.
    page = rep.post("/sign-out")  # a form post without its CSRF token
    assert page.status_code == 400 and "Content-Security-Policy" in page.headers
    assert dashboard_work["session"] >= 1 and dashboard_work["user"] == 1 and dashboard_work["csrf"] == 1
