"""The sandbox's signed webhooks, received by a tiny local server that checks signatures itself, and the
shapes of Zoom's real event streams they follow (see `sandbox/simulation.py` for the evidence)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import FakeClock
from tests.factories import utc
from zoom_homeroom.sandbox import LocalServer, Participant, WebhookSender, ZoomSandbox

SECRET = "receiver-test-secret"
HOST = "mod1@school.example.org"
START = utc("2027-01-06 20:00")
# Ada is a user of the host's account (Zoom shows her email and id); Alan and Hana are not.
ADA = Participant("Ada Lovelace", "ada@students.example.org", zoom_user_id="ADA-ZOOM-ID", in_account=True)
ALAN = Participant("Alan Turing", "alan@students.example.org", zoom_user_id="ALAN-ZOOM-ID")
HANA_IPAD = Participant("Hana's iPad", "hana@students.example.org", zoom_user_id="HANA-ZOOM-ID")
HANA_WEB = Participant(
    "Hana Okafor", "hana@students.example.org", zoom_user_id="HANA-ZOOM-ID", web_client=True
)
ROOMS = [
    {"name": "Breakout Room 1", "participants": ["hana@students.example.org", "alan@students.example.org"]},
    {"name": "Breakout Room 2", "participants": ["ada@students.example.org"]},
]


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
    server = LocalServer(receiver, name="receiver")
    receiver.url = f"{server.url}/webhooks/zoom"
    yield receiver
    server.stop()


@pytest.fixture
def sandbox(clock: FakeClock, receiver: Receiver) -> Iterator[ZoomSandbox]:
    with ZoomSandbox(clock=clock, users=[HOST], webhook_secret=SECRET) as sandbox:
        sandbox.connect_webhooks(receiver.url)
        yield sandbox


def create_meeting(sandbox: ZoomSandbox, **settings: Any) -> int:
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
            "settings": settings,
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    return response.json()["id"]


@pytest.fixture
def meeting_id(sandbox: ZoomSandbox) -> int:
    return create_meeting(sandbox)


@pytest.fixture
def assigned_meeting(sandbox: ZoomSandbox) -> int:
    """A meeting whose breakout rooms are pre-assigned by email, as sync makes them."""
    return create_meeting(sandbox, breakout_room={"enable": True, "rooms": ROOMS})


def participant(event: dict[str, Any]) -> dict[str, Any]:
    return event["payload"]["object"]["participant"]


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
    sandbox.leave(meeting_id, ADA, minutes(30))
    sandbox.join(meeting_id, ALAN, minutes(31))
    sandbox.leave(meeting_id, ALAN, minutes(40), how="disconnected")
    sandbox.end_instance(meeting_id, minutes(60))

    started, joined, left, alan_joined, alan_left, ended = receiver.events()

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
    person = participant(joined)
    assert person["user_name"] == "Ada Lovelace"
    assert person["email"] == "ada@students.example.org"  # a user of the host's account
    assert person["id"] == person["participant_user_id"] == "ADA-ZOOM-ID"
    assert person["join_time"] == "2027-01-06T20:01:00Z"
    assert person["user_id"] == "16778240" and person["participant_uuid"]  # the first id of an instance
    assert joined["event_ts"] == int(minutes(1).timestamp() * 1000)
    gone = participant(left)
    assert (gone["leave_time"], gone["leave_reason"]) == (
        "2027-01-06T20:30:00Z",
        "left the meeting. Reason : left the meeting",
    )
    assert (gone["user_id"], gone["participant_uuid"]) == (person["user_id"], person["participant_uuid"])
    outsider = participant(alan_joined)
    assert (outsider["email"], outsider["id"], outsider["participant_user_id"]) == ("", "", "")
    assert outsider["user_id"] == "16779264"  # +1024
    assert (
        participant(alan_left)["leave_reason"] == "got disconnected from the meeting. Reason : Client Close."
    )
    assert ended["payload"]["object"]["end_time"] == "2027-01-06T21:00:00Z"


def test_a_reconnect_gets_a_new_user_id_and_a_new_participant_uuid(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ADA, minutes(1))
    sandbox.leave(meeting_id, ADA, minutes(2))
    sandbox.join(meeting_id, ADA, minutes(3))

    first, _, second = (participant(e) for e in receiver.events()[1:])

    assert first["user_id"] != second["user_id"]
    assert first["participant_uuid"] != second["participant_uuid"]


def test_a_room_move_is_a_main_meeting_leave_and_join_under_a_new_user_id(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    uuid = sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ALAN, minutes(1))
    sandbox.open_rooms(meeting_id, minutes(4))
    sandbox.join_breakout(meeting_id, ALAN, "Group 1", minutes(5))

    move = receiver.events()[2:]
    by_event = {e["event"]: participant(e) for e in move}
    left, joined = by_event["meeting.participant_left"], by_event["meeting.participant_joined"]
    room = next(e for e in move if e["event"] == "meeting.participant_joined_breakout_room")
    in_room = participant(room)

    assert len(move) == 3
    assert left["leave_time"] == joined["join_time"] == in_room["join_time"] == "2027-01-06T20:05:00Z"
    assert (left["user_id"], joined["user_id"]) == ("16778240", "16779264")
    assert left["participant_uuid"] == joined["participant_uuid"] == in_room["participant_uuid"]
    assert left["leave_reason"] in (
        "left the meeting. Reason : left the meeting to join breakout room",
        "left the meeting. Reason : left the meeting",  # 26 of 40 captured moves said only this
    )
    # The breakout event names the main meeting, the room by a uuid only, and its parent stay.
    assert (room["payload"]["object"]["id"], room["payload"]["object"]["uuid"]) == (str(meeting_id), uuid)
    assert room["payload"]["object"]["breakout_room_uuid"]
    assert in_room["parent_user_id"] == "16779264"
    assert in_room["user_id"] == "167792642027-01-06 20:05:00:000"


def test_same_instant_events_arrive_in_either_order_deterministically(clock: FakeClock):
    def arrival(seed: int) -> list[list[str]]:
        with ZoomSandbox(clock=clock, users=[HOST], seed=seed) as sandbox:
            meeting = create_meeting(sandbox)
            sandbox.start_instance(meeting, START)
            people = [Participant(f"Student {n}") for n in range(12)]
            for person in people:
                sandbox.join(meeting, person, minutes(1))
            sandbox.open_rooms(meeting, minutes(2))
            for n, person in enumerate(people):
                sandbox.join_breakout(meeting, person, "Group 1", minutes(5 + n))
            return [
                [e["body"]["event"] for e in sandbox.events[13 + 3 * n : 16 + 3 * n]]
                for n in range(len(people))
            ]

    orders = arrival(seed=7)
    leave_first = sum(
        order.index("meeting.participant_left") < order.index("meeting.participant_joined")
        for order in orders
    )

    assert 0 < leave_first < len(orders)  # both orders happen
    assert arrival(seed=7) == orders  # and the same seed gives the same stream


def test_quitting_from_a_room_sends_no_breakout_leave(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ALAN, minutes(1))
    sandbox.open_rooms(meeting_id, minutes(4))
    sandbox.join_breakout(meeting_id, ALAN, "Group 1", minutes(5))
    quit_at = len(receiver.events())
    sandbox.leave(meeting_id, ALAN, minutes(20))

    (left,) = receiver.events()[quit_at:]
    assert left["event"] == "meeting.participant_left"
    assert participant(left)["user_id"] == "16779264"  # the stay in the room ends
    assert participant(left)["leave_time"] == "2027-01-06T20:20:00Z"


def test_the_host_closing_the_rooms_moves_everyone_back_without_breakout_leaves(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ADA, minutes(1))
    sandbox.join(meeting_id, ALAN, minutes(1))
    sandbox.open_rooms(meeting_id, minutes(4))
    sandbox.join_breakout(meeting_id, ADA, "Group 1", minutes(5))
    sandbox.join_breakout(meeting_id, ALAN, "Group 2", minutes(5))
    closing = len(receiver.events())
    sandbox.close_rooms(meeting_id, minutes(45))

    moves = receiver.events()[closing:]
    assert (
        sorted(e["event"] for e in moves)
        == ["meeting.participant_joined"] * 2 + ["meeting.participant_left"] * 2
    )
    left = {participant(e)["user_name"]: participant(e) for e in moves if e["event"].endswith("left")}
    assert {p["user_id"] for p in left.values()} == {"16780288", "16781312"}  # the room stays end
    assert {p["leave_time"] for p in left.values()} == {"2027-01-06T20:45:00Z"}


def test_going_back_by_oneself_sends_the_breakout_leave_and_a_room_move(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ALAN, minutes(1))
    sandbox.open_rooms(meeting_id, minutes(4))
    sandbox.join_breakout(meeting_id, ALAN, "Group 1", minutes(5))
    back = len(receiver.events())
    sandbox.leave_breakout(meeting_id, ALAN, "Group 1", minutes(15))

    events = receiver.events()[back:]
    room_left = next(e for e in events if e["event"] == "meeting.participant_left_breakout_room")
    assert sorted(e["event"] for e in events) == [
        "meeting.participant_joined",
        "meeting.participant_left",
        "meeting.participant_left_breakout_room",
    ]
    assert participant(room_left)["user_id"] == "167792642027-01-06 20:05:00:000"
    assert participant(room_left)["parent_user_id"] == "16779264"
    assert participant(room_left)["leave_time"] == "2027-01-06T20:15:00Z"


def test_the_host_ending_the_meeting_sends_everyones_leave_then_the_end(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ADA, minutes(1))
    sandbox.join(meeting_id, ALAN, minutes(1))
    sandbox.open_rooms(meeting_id, minutes(4))
    sandbox.join_breakout(meeting_id, ALAN, "Group 1", minutes(5))
    ending = len(receiver.events())
    sandbox.end_instance(meeting_id, minutes(60))

    events = receiver.events()[ending:]
    assert sorted(e["event"] for e in events) == ["meeting.ended"] + ["meeting.participant_left"] * 2
    reasons = {participant(e)["leave_reason"] for e in events if "participant" in e["payload"]["object"]}
    assert reasons == {"left the meeting. Reason : Host ended the meeting."}


def test_user_ids_restart_in_every_instance_and_go_to_other_people(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    first = sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, ADA, minutes(1))
    sandbox.end_instance(meeting_id, minutes(20))
    second = sandbox.start_instance(meeting_id, minutes(22))  # the host restarts it the same day
    sandbox.join(meeting_id, ALAN, minutes(23))

    joins = [e for e in receiver.events() if e["event"] == "meeting.participant_joined"]
    assert [
        (e["payload"]["object"]["uuid"], participant(e)["user_name"], participant(e)["user_id"])
        for e in joins
    ] == [
        (first, "Ada Lovelace", "16778240"),
        (second, "Alan Turing", "16778240"),
    ]
    assert first != second


def test_pre_assigned_app_users_are_placed_and_their_email_shows_on_breakout_events(
    sandbox: ZoomSandbox, receiver: Receiver, assigned_meeting: int
):
    sandbox.start_instance(assigned_meeting, START)
    sandbox.join(assigned_meeting, HANA_IPAD, minutes(1))
    sandbox.open_rooms(assigned_meeting, minutes(5))
    sandbox.join(assigned_meeting, ALAN, minutes(12))  # late: straight into his room

    events = receiver.events()
    main = [
        participant(e)
        for e in events
        if e["event"] in ("meeting.participant_joined", "meeting.participant_left")
    ]
    rooms = [e for e in events if e["event"] == "meeting.participant_joined_breakout_room"]
    assert {p["email"] for p in main} == {""}  # neither is a user of the host's account
    assert [(participant(e)["user_name"], participant(e)["email"]) for e in rooms] == [
        ("Hana's iPad", "hana@students.example.org"),
        ("Alan Turing", "alan@students.example.org"),
    ]
    assert (
        rooms[0]["payload"]["object"]["breakout_room_uuid"]
        == rooms[1]["payload"]["object"]["breakout_room_uuid"]
    )
    alan = [participant(e) for e in events if "participant" in e["payload"]["object"]]
    alan = [p for p in alan if p["user_name"] == "Alan Turing"]
    assert len(alan) == 4  # joined, then at once: the move's leave and join, and the breakout join
    assert {p.get("join_time") or p.get("leave_time") for p in alan} == {"2027-01-06T20:12:00Z"}


def test_web_client_users_are_not_placed_in_their_rooms(
    sandbox: ZoomSandbox, receiver: Receiver, assigned_meeting: int
):
    sandbox.start_instance(assigned_meeting, START)
    sandbox.join(assigned_meeting, HANA_WEB, minutes(1))
    sandbox.join(assigned_meeting, Participant("Guest"), minutes(1))
    opened = len(receiver.events())
    sandbox.open_rooms(assigned_meeting, minutes(5))

    assert receiver.events()[opened:] == []


def test_a_rename_changes_later_events_but_not_the_connection(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)
    sandbox.join(meeting_id, HANA_IPAD, minutes(1))
    sandbox.rename(meeting_id, HANA_IPAD, "Hana Okafor", minutes(3))
    sandbox.leave(meeting_id, HANA_IPAD, minutes(30))

    joined, left = (participant(e) for e in receiver.events()[1:])
    assert (joined["user_name"], left["user_name"]) == ("Hana's iPad", "Hana Okafor")
    assert joined["participant_uuid"] == left["participant_uuid"]
    assert len(receiver.events()) == 3  # Zoom sends nothing for the rename itself


def test_duplicate_delivery_sends_the_same_bytes_twice(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int
):
    sandbox.start_instance(meeting_id, START)

    status = sandbox.join(meeting_id, ADA, minutes(1), duplicate=True)

    assert status == 200
    assert receiver.deliveries[1] == receiver.deliveries[2]
    assert len(receiver.deliveries) == 3


def test_lost_delivery_is_not_sent_but_the_report_still_has_the_join(
    sandbox: ZoomSandbox, receiver: Receiver, meeting_id: int, clock: FakeClock
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
    assert [row["name"] for row in instance.report_rows(clock())] == ["Ada Lovelace"]


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
