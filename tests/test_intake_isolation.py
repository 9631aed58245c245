"""Processing stored deliveries one by one (issue 12, item 2): whatever one delivery does, it is marked
and the others go on; no stored body can break an attendance read."""

from __future__ import annotations

import json
import sys

import pytest

from tests import dashboard_data as data
from tests.factories import utc
from tests.webhook_bodies import participant_event, store_known_session
from zoom_homeroom.core.events import MAX_BODY_DEPTH, EventError, load_body
from zoom_homeroom.core.models import Delivery
from zoom_homeroom.services.intake import process_pending


def store(storage, body: str, digest: str) -> int:
    """A delivery as the webhook view stores it, bypassing the view's own checks."""
    with storage.write():
        return storage.store_delivery(
            Delivery(
                digest, "meeting.participant_joined", utc("2027-01-06 20:05"), 0, None, body, "85746065432"
            )
        )


def nested(depth: int) -> str:
    return '{"event": "meeting.participant_joined", "payload": ' + "[" * depth + "]" * depth + "}"


def outcomes(storage) -> dict[int, tuple[str | None, str | None]]:
    return {
        row[0]: (row[1], row[2])
        for row in storage.db.execute("SELECT id, outcome, error FROM webhook_deliveries")
    }


@pytest.mark.parametrize("depth", [MAX_BODY_DEPTH + 1, 990, sys.getrecursionlimit() * 2, 120_000])
def test_a_stored_nested_body_is_marked_invalid_and_the_others_are_processed(storage, calendar, depth):
    session = store_known_session(storage, now=utc("2027-01-05 12:00"))
    before = store(storage, json.dumps(participant_event(user_id="1", name="Ada")), "before")
    bad = store(storage, nested(depth), "nested")
    after = store(storage, json.dumps(participant_event(user_id="2", name="Grace")), "after")
    assert process_pending(storage, calendar, now=utc("2027-01-06 22:00")) == 3
    states = outcomes(storage)
    assert states[before] == states[after] == ("ok", None)
    outcome, error = states[bad]
    assert outcome == "invalid" and f"deeper than {MAX_BODY_DEPTH} levels" in error
    assert {edge.identity.name for edge in storage.presence(session.id)} == {"Ada", "Grace"}
    assert storage.pending_deliveries(retry_errors=True) == []  # settled: never tried again


def test_every_read_answers_while_a_nested_body_is_stored(client, storage, calendar, clock):
    """Called from deep inside a request, json.loads of a body nested ~950 levels raised RecursionError
    and every attendance read answered 500."""
    clock.now = data.NOW
    dataset = data.fill(storage, calendar)
    store(storage, nested(990), "nested")
    assert data.sign_in(client).status_code == 302
    for path in ("/api/attendance", "/api/attendance.csv", "/", f"/sessions/{dataset.week3}", "/modules/1"):
        assert client.get(path).status_code == 200, path
    ((outcome,),) = storage.db.execute("SELECT outcome FROM webhook_deliveries").fetchall()
    assert outcome == "invalid"


def test_a_delivery_whose_processing_fails_is_kept_with_its_reason(storage, calendar, monkeypatch):
    import zoom_homeroom.services.intake as intake

    store_known_session(storage, now=utc("2027-01-05 12:00"))
    first = store(storage, json.dumps(participant_event(user_id="1")), "first")
    second = store(storage, json.dumps(participant_event(user_id="2")), "second")
    process = intake.process

    def fails_on_the_first(storage_, calendar_, body):
        if body["payload"]["object"]["participant"]["user_id"] == "1":
            raise MemoryError("out of memory while processing")
        return process(storage_, calendar_, body)

    monkeypatch.setattr(intake, "process", fails_on_the_first)
    process_pending(storage, calendar, now=utc("2027-01-06 22:00"))
    states = outcomes(storage)
    assert states[first] == ("error", "MemoryError: out of memory while processing")
    assert states[second] == ("ok", None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]", "not a JSON object"),
        ("{", "not JSON"),
        ('{"a": ' * 40 + "1" + "}" * 40, "deeper than"),
    ],
)
def test_load_body_names_what_is_wrong(text: str, problem: str):
    with pytest.raises(EventError, match=problem):
        load_body(text)


def test_brackets_inside_strings_do_not_count_as_nesting():
    name = "[" * 500 + '\\"{' * 100
    body = load_body(json.dumps({"event": "x", "payload": {"name": name}}))
    assert body["payload"]["name"] == name
    assert load_body('{"a": ' * MAX_BODY_DEPTH + "1" + "}" * MAX_BODY_DEPTH) is not None
