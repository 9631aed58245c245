"""The sandbox's signed webhooks, received by a tiny local server that checks signatures itself."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import FakeClock
from tests.factories import utc
from zoom_homeroom.sandbox import Participant, WebhookSender, ZoomSandbox

SECRET = "receiver-test-secret"
HOST = "mod1@school.example.org"
START = utc("2027-01-06 20:00")
ADA = Participant("Ada Lovelace", "ada@students.example.org", zoom_user_id="ADA-ZOOM-ID")
ALAN = Participant("Alan Turing", "alan@students.example.org")


def minutes(n: float) -> dt.datetime:
    return START + dt.timedelta(minutes=n)


def signature_ok(secret: str, timestamp: str, raw: bytes, signature: str) -> bool:
    """Zoom's scheme, written out here rather than imported from the code under test."""
    expected = (
        "v0="
        + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, signature)


@dataclass
class Receiver:
    """Records every delivery; answers `status`, and Zoom's URL validation challenge."""

    url: str = ""
    status: int = 200
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw = request.get_data()
        self.deliveries.append(({k.lower(): v for k, v in request.headers.items()}, raw))
        body = json.loads(raw)
        if body.get("event") == "endpoint.url_validation":
            plain = body["payload"]["plainToken"]
            encrypted = hmac.new(SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
            answer = Response(json.dumps({"plainToken": plain, "encryptedToken": encrypted}), 200)
        else:
            answer = Response("", self.status)
        return answer(environ, start_response)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for _, raw in self.deliveries]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    receiver.url = f"http://127.0.0.1:{server.server_port}/webhooks/zoom"
    thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.02), daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(clock: FakeClock, receiver: Receiver) -> Iterator[ZoomSandbox]:
    with ZoomSandbox(clock=clock, users=[HOST], webhook_secret=SECRET) as sandbox:
        sandbox.connect_webhooks(receiver.url)
        yield sandbox


@pytest.fixture
def meeting_id(sandbox: ZoomSandbox) -> int:
    token = requests.post(
        sandbox.token_url,
        auth=(sandbox.client_id, sandbox.client_secret),
        data={"grant_type": "account_credentials", "account_id": sandbox.account_id},
        timeout=5,
    ).json()["access_token"]
    response = requests.post(
        f"{sandbox.api_url}/users/{HOST}/meetings",
        json={
            "topic": "Homeroom",
            "type": 2,
            "start_time": "2027-01-06T13:00:00",
            "timezone": "America/Denver",
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    return response.json()["id"]


def test_every_delivery_is_signed_with_the_senders_clock(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ADA, minutes(1))

    assert len(receiver.deliveries) == 2
    for headers, raw in receiver.deliveries:
        assert headers["x-zm-request-timestamp"] == str(int(utc("2027-01-05 12:00").timestamp()))
        assert signature_ok(SECRET, headers["x-zm-request-timestamp"], raw, headers["x-zm-signature"])
        assert not signature_ok(
            "another-secret", headers["x-zm-request-timestamp"], raw, headers["x-zm-signature"]
        )
        assert headers["content-type"].startswith("application/json")


def test_events_are_shaped_like_zoom_and_carry_simulated_times(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    uuid = sandbox.start_instance(meeting_id, START)
    assert sandbox.join(meeting_id, ADA, minutes(1)) == 200
    sandbox.leave(meeting_id, ADA, minutes(30), reason="left the meeting")
    sandbox.end_instance(meeting_id, minutes(60))

    started, joined, left, ended = receiver.events()

    assert [e["event"] for e in (started, joined, left, ended)] == [
        "meeting.started",
        "meeting.participant_joined",
        "meeting.participant_left",
        "meeting.ended",
    ]
    assert started["event_ts"] == int(START.timestamp() * 1000)
    assert started["payload"]["account_id"] == sandbox.account_id
    assert (
        started["payload"]["object"].items()
        >= {
            "id": str(meeting_id),
            "uuid": uuid,
            "type": 2,
            "start_time": "2027-01-06T20:00:00Z",
            "timezone": "America/Denver",
            "duration": 60,
        }.items()
    )
    person = joined["payload"]["object"]["participant"]
    assert person["user_name"] == "Ada Lovelace"
    assert person["email"] == "ada@students.example.org"
    assert person["id"] == person["participant_user_id"] == "ADA-ZOOM-ID"
    assert person["join_time"] == "2027-01-06T20:01:00Z"
    assert person["user_id"] and person["participant_uuid"]
    assert joined["event_ts"] == int(minutes(1).timestamp() * 1000)
    gone = left["payload"]["object"]["participant"]
    assert (gone["leave_time"], gone["leave_reason"]) == ("2027-01-06T20:30:00Z", "left the meeting")
    assert (gone["user_id"], gone["participant_uuid"]) == (person["user_id"], person["participant_uuid"])
    assert ended["payload"]["object"]["end_time"] == "2027-01-06T21:00:00Z"


def test_rejoining_gets_a_new_user_id_but_the_same_participant_uuid(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ADA, minutes(1))
    sandbox.leave(meeting_id, ADA, minutes(2))
    sandbox.join(meeting_id, ADA, minutes(3))
    sandbox.join(meeting_id, ALAN, minutes(3))

    joins = [
        e["payload"]["object"]["participant"] for e in receiver.events() if e["event"].endswith("joined")
    ]

    assert joins[0]["user_id"] != joins[1]["user_id"]
    assert joins[0]["participant_uuid"] == joins[1]["participant_uuid"] != joins[2]["participant_uuid"]
    assert joins[2]["id"] == joins[2]["participant_user_id"] == ""  # not signed in to Zoom


def test_breakout_events_carry_the_room_uuid_and_the_parent_user_id(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ADA, minutes(1))
    sandbox.join(meeting_id, ALAN, minutes(1))
    sandbox.join_breakout(meeting_id, ADA, "Group 1", minutes(5))
    sandbox.join_breakout(meeting_id, ALAN, "Group 1", minutes(5))
    sandbox.join_breakout(meeting_id, ADA, "Group 2", minutes(10))  # moving leaves Group 1 first
    sandbox.leave_breakout(meeting_id, ADA, "Group 2", minutes(15))
    sandbox.end_instance(meeting_id, minutes(60))  # closes Alan's room stay before his meeting stay

    events = receiver.events()
    main_ids = {
        e["payload"]["object"]["participant"]["user_name"]: e["payload"]["object"]["participant"]["user_id"]
        for e in events
        if e["event"] == "meeting.participant_joined"
    }
    room_events = [e for e in events if "breakout_room" in e["event"]]

    assert [
        (e["event"].removesuffix("_breakout_room"), e["payload"]["object"]["participant"]["user_name"])
        for e in room_events
    ] == [
        ("meeting.participant_joined", "Ada Lovelace"),
        ("meeting.participant_joined", "Alan Turing"),
        ("meeting.participant_left", "Ada Lovelace"),
        ("meeting.participant_joined", "Ada Lovelace"),
        ("meeting.participant_left", "Ada Lovelace"),
        ("meeting.participant_left", "Alan Turing"),
    ]
    rooms = [e["payload"]["object"]["breakout_room_uuid"] for e in room_events]
    assert rooms[0] == rooms[1] == rooms[2] == rooms[5] != rooms[3] == rooms[4]
    for event in room_events:
        participant = event["payload"]["object"]["participant"]
        assert participant["parent_user_id"] == main_ids[participant["user_name"]]
        assert participant["user_id"] != participant["parent_user_id"]
    assert [e["event"] for e in events[-3:]] == [
        "meeting.participant_left",
        "meeting.participant_left",
        "meeting.ended",
    ]


def test_duplicate_delivery_sends_the_same_bytes_twice(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)

    status = sandbox.join(meeting_id, ADA, minutes(1), duplicate=True)

    assert status == 200
    assert receiver.deliveries[1] == receiver.deliveries[2]
    assert len(receiver.deliveries) == 3


def test_lost_delivery_is_not_sent_but_the_report_still_has_the_join(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)

    status = sandbox.join(meeting_id, ADA, minutes(1), deliver=False)
    sandbox.end_instance(meeting_id, minutes(60), deliver=False)

    assert status is None
    assert [e["event"] for e in receiver.events()] == ["meeting.started"]
    assert [(e["body"]["event"], e["delivered"]) for e in sandbox.events][1] == (
        "meeting.participant_joined",
        False,
    )
    instance = sandbox.simulation.ended(meeting_id)[0]
    assert [instance.report_row(stay)["name"] for stay in instance.stays] == ["Ada Lovelace"]


def test_global_options_apply_to_every_call(sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int):
    sandbox.duplicate_webhooks = True
    sandbox.start_instance(meeting_id, START)
    sandbox.deliver_webhooks = False
    sandbox.join(meeting_id, ADA, minutes(1))

    assert [e["event"] for e in receiver.events()] == ["meeting.started", "meeting.started"]


def test_record_only_without_a_webhook_url(sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int):
    sandbox.connect_webhooks(None)
    sandbox.start_instance(meeting_id, START)

    assert sandbox.join(meeting_id, ADA, minutes(1)) is None
    assert receiver.deliveries == []
    assert [e["body"]["event"] for e in sandbox.events] == ["meeting.started", "meeting.participant_joined"]


def test_sender_returns_the_receivers_status(receiver: Receiver, clock: FakeClock):
    receiver.status = 401

    status = WebhookSender(receiver.url, "wrong-secret", clock=clock).send({"event": "meeting.started"})

    assert status == 401


def test_sender_returns_none_when_nobody_listens(clock: FakeClock):
    server = make_server("127.0.0.1", 0, Receiver())
    url = f"http://127.0.0.1:{server.server_port}/"
    server.server_close()  # the port is closed now

    assert WebhookSender(url, SECRET, clock=clock).send({"event": "meeting.started"}) is None


def test_url_validation_challenge(receiver: Receiver, clock: FakeClock):
    response = WebhookSender(receiver.url, SECRET, clock=clock).send_url_validation("qgg8vlvZRS6UYooatFL8Aw")

    headers, raw = receiver.deliveries[0]
    body = json.loads(raw)
    assert body["event"] == "endpoint.url_validation"
    assert body["payload"] == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}
    assert body["event_ts"] == int(clock().timestamp() * 1000)
    assert signature_ok(SECRET, headers["x-zm-request-timestamp"], raw, headers["x-zm-signature"])
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def test_sender_signs_with_its_own_clock(receiver: Receiver):
    later = FakeClock(utc("2027-02-01 09:30"))

    WebhookSender(receiver.url, SECRET, clock=later).send({"event": "meeting.started"})

    headers, raw = receiver.deliveries[0]
    assert headers["x-zm-request-timestamp"] == str(int(later().timestamp()))
    assert signature_ok(SECRET, headers["x-zm-request-timestamp"], raw, headers["x-zm-signature"])


def test_sender_repr_hides_the_secret():
    assert SECRET not in repr(WebhookSender("http://127.0.0.1:1/", SECRET))
