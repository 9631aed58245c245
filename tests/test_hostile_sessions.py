"""Large or hostile sessions (issue 12, item 1): thousands of unmatched guests, huge display names.

Reads of such a session answer in under a second, webhooks are answered within Zoom's 3 seconds while
such reads run, and the session page shows the unmatched participants a page at a time.

A read is measured as the CPU time of the thread serving it (the test client serves it in the test's
thread), so other work on a busy machine does not count against it; `bench/unmatched_read.py` reports
the wall time on a quiet one. A webhook's answer is measured in wall time while reads run, as Zoom sees it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
import requests

from tests import dashboard_data as data
from tests.dashboard_data import sign_in
from tests.webhook_bodies import URL, signed_headers
from zoom_homeroom.core.attendance import Edge
from zoom_homeroom.core.matching import ZoomIdentity
from zoom_homeroom.web.dashboard import UNMATCHED_PER_PAGE

GUESTS = 3000
READ_BUDGET_SECONDS = 1.0
ZOOM_WAITS_SECONDS = 3.0


@pytest.fixture
def crowded(storage, calendar, clock) -> data.Dataset:
    """The dashboard dataset, with 3,000 distinct guests (no email, no roster name) in module 1's week 3."""
    clock.now = data.NOW
    dataset = data.fill(storage, calendar)
    session = storage.session(dataset.week3)
    edges = []
    for number in range(GUESTS):
        identity = ZoomIdentity(f"Visitor {number:04d} Quux", "", f"guest-{number}")
        joined = session.start + dt.timedelta(seconds=number % 1800)
        edges += [
            Edge(f"g{number}", "webhook", "", "join", joined, identity, "uuid-w3", f"pg{number}"),
            Edge(
                f"g{number}", "webhook", "", "leave", joined + dt.timedelta(minutes=20), identity, "uuid-w3"
            ),
        ]
    storage.add_presence(session.id, edges)
    return dataset


def guest_join(meeting_id: str, number: int, *, name: str | None = None) -> bytes:
    """A `meeting.participant_joined` body of a new guest in module 1's week 3 (meeting `meeting_id`)."""
    return json.dumps(
        {
            "event": "meeting.participant_joined",
            "event_ts": 1800000000000,
            "payload": {
                "account_id": "acc",
                "object": {
                    "id": meeting_id,
                    "uuid": "uuid-w3",
                    "participant": {
                        "user_id": f"late-{number}",
                        "user_name": name or f"Latecomer {number}",
                        "participant_uuid": f"late-uuid-{number}",
                        "join_time": "2027-01-20T20:40:00Z",
                        "email": "",
                    },
                },
            },
        }
    ).encode()


def timed(call) -> tuple[float, object]:
    """Wall time of a call, and its result."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def cpu_timed(call) -> tuple[float, object]:
    """CPU time this thread spent in a call, and its result."""
    started = time.thread_time()
    result = call()
    return time.thread_time() - started, result


def test_reads_of_a_session_with_3000_unmatched_answer_in_under_a_second(client, storage, crowded, clock):
    assert sign_in(client).status_code == 302
    meeting = storage.session(crowded.week3).zoom_meeting_id
    paths = ("/api/attendance?module=1", "/", f"/sessions/{crowded.week3}", "/modules/1")
    for number, path in enumerate(paths):
        # A new event first, as during the session: every read recomputes the crowded session.
        body = guest_join(meeting, number)
        assert client.post(URL, data=body, headers=signed_headers(body, at=clock())).status_code == 204
        elapsed, response = cpu_timed(lambda path=path: client.get(path))
        assert response.status_code == 200, path
        assert elapsed < READ_BUDGET_SECONDS, f"{path} took {elapsed:.2f} s"
    (count,) = storage.db.execute(
        "SELECT count(*) FROM unmatched_participants u JOIN sessions s ON s.id = u.session_id WHERE s.key = ?",
        [crowded.week3],
    ).fetchone()
    assert count == GUESTS + 1 + len(paths)  # the guests, the dataset's nickname, the latecomers


def test_the_session_page_shows_unmatched_participants_a_page_at_a_time(client, storage, crowded):
    assert sign_in(client).status_code == 302
    total = GUESTS + 1
    pages = -(-total // UNMATCHED_PER_PAGE)
    first = client.get(f"/sessions/{crowded.week3}").get_data(as_text=True)
    assert first.count('<article class="unmatched">') == UNMATCHED_PER_PAGE
    assert f"1–{UNMATCHED_PER_PAGE} of {total}" in first
    assert "unmatched=2#unmatched" in first and 'rel="prev"' not in first
    assert len(first.encode()) < 300_000  # 9,000 participants once made a 31.8 MB page
    # First joins are spread over 30 minutes from 20:00 UTC (13:00 in Denver): page 2 starts later.
    second = client.get(f"/sessions/{crowded.week3}?unmatched=2").get_data(as_text=True)
    assert f"{UNMATCHED_PER_PAGE + 1}–{2 * UNMATCHED_PER_PAGE} of {total}" in second
    last = client.get(f"/sessions/{crowded.week3}?unmatched={pages}").get_data(as_text=True)
    assert last.count('<article class="unmatched">') == total - (pages - 1) * UNMATCHED_PER_PAGE
    assert 'rel="next"' not in last
    beyond = client.get(f"/sessions/{crowded.week3}?unmatched={pages + 50}").get_data(as_text=True)
    assert beyond.count('<article class="unmatched">') == total - (pages - 1) * UNMATCHED_PER_PAGE
    for bad in ("0", "-1", "two", "99999999999999999999"):
        assert client.get(f"/sessions/{crowded.week3}?unmatched={bad}").status_code == 400


def test_long_display_names_are_capped_before_they_are_stored(client, storage, crowded, clock):
    """Twelve signed joins with 200 KB display names once made every read take 25-30 s."""
    assert sign_in(client).status_code == 302
    meeting = storage.session(crowded.week3).zoom_meeting_id
    huge = "A" * 200_000
    for number in range(12):
        body = guest_join(meeting, 100 + number, name=f"{number:02d}{huge}")
        assert client.post(URL, data=body, headers=signed_headers(body, at=clock())).status_code == 204
    elapsed, response = cpu_timed(lambda: client.get(f"/sessions/{crowded.week3}?unmatched=200"))
    assert response.status_code == 200 and elapsed < READ_BUDGET_SECONDS
    names = [row[0] for row in storage.db.execute("SELECT name FROM presence WHERE connection LIKE 'late-%'")]
    assert sorted(names) == [f"{number:02d}" + "A" * 62 for number in range(12)]  # Zoom's limit: 64


def test_webhooks_are_answered_within_3_seconds_while_hostile_reads_run(live_app, storage, crowded, clock):
    """Readers recompute the crowded session over and over (each posts a new guest first); webhooks
    posted meanwhile are measured. Computing attendance inside the write lock made them wait 12-28 s."""
    meeting = storage.session(crowded.week3).zoom_meeting_id
    stop = threading.Event()
    reads: list[float] = []
    failures: list[str] = []

    def reader(offset: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {data.TOKEN}"
        number = offset
        while not stop.is_set():
            body = guest_join(meeting, number)
            session.post(live_app.url + URL, data=body, headers=signed_headers(body, at=clock()), timeout=30)
            number += 2
            elapsed, response = timed(
                lambda: session.get(f"{live_app.url}/api/attendance?module=1&week=3", timeout=30)
            )
            if response.status_code != 200:
                failures.append(f"read answered {response.status_code}")
            reads.append(elapsed)

    readers = [threading.Thread(target=reader, args=(offset,), daemon=True) for offset in (10_000, 10_001)]
    for thread in readers:
        thread.start()
    latencies = []
    try:
        while len(reads) < 2 and not failures:  # the readers are recomputing by now
            time.sleep(0.05)
        for number in range(20):
            body = guest_join(meeting, 50_000 + number)
            elapsed, response = timed(
                lambda body=body: requests.post(
                    live_app.url + URL, data=body, headers=signed_headers(body, at=clock()), timeout=30
                )
            )
            assert response.status_code == 204
            latencies.append(elapsed)
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
    assert not failures, failures
    assert len(reads) >= 4  # the webhooks were posted while reads ran
    assert max(latencies) < ZOOM_WAITS_SECONDS, f"slowest webhook answer {max(latencies):.2f} s"
    stored = storage.db.execute("SELECT count(*) FROM webhook_deliveries WHERE body LIKE '%late-5%'")
    assert stored.fetchone()[0] == 20


def test_a_save_computed_from_older_inputs_never_replaces_a_newer_one(storage, crowded, calendar):
    """Two reads computing at once: the one that read its inputs first saves last, and is dropped."""
    from zoom_homeroom.services.attendance import refresh_session

    session = storage.session(crowded.week3)
    seen = storage.attendance_state(session.id)
    newer = refresh_session(storage, calendar, session)  # saves first
    assert storage.save_attendance(session.id, newer, seen=seen) is False
    assert storage.attendance_state(session.id).version == seen.version + 1


def test_an_edge_stored_while_attendance_is_computed_leaves_the_session_stale(
    storage, crowded, calendar, monkeypatch
):
    """The computation runs outside the write lock: an edge stored meanwhile is not in its result, so
    the session stays stale and the next read counts the edge."""
    from zoom_homeroom.services import attendance as service

    session = storage.session(crowded.week3)
    service.refresh_session(storage, calendar, session)
    assert storage.dirty_count(session.id) == 0
    late = ZoomIdentity("Late Guest", "", "late-guest")
    compute = service.compute_session

    def compute_while_an_edge_arrives(**inputs):
        storage.add_presence(session.id, [Edge("lg", "webhook", "", "join", session.start, late, "uuid-w3")])
        return compute(**inputs)

    monkeypatch.setattr(service, "compute_session", compute_while_an_edge_arrives)
    service.refresh_session(storage, calendar, session)
    assert storage.dirty_count(session.id) == 1
    monkeypatch.undo()
    service.refresh_session(storage, calendar, session)
    assert storage.dirty_count(session.id) == 0
    assert storage.unmatched_participant(session.id, "user:late-guest") is not None


def test_every_source_caps_names_emails_and_ids_before_storing():
    from zoom_homeroom.core.events import parse_event
    from zoom_homeroom.core.matching import MAX_DISPLAY_NAME, MAX_ZOOM_ID, zoom_identity

    long_email = "a" * 250 + "@x.org"
    assert zoom_identity("  " + "N" * 500, long_email, "u" * 500) == ZoomIdentity(
        "N" * MAX_DISPLAY_NAME, "", "u" * MAX_ZOOM_ID
    )
    assert zoom_identity("Ada", " ADA@X.org ", "zu-1") == ZoomIdentity("Ada", "ada@x.org", "zu-1")
    body = json.loads(guest_join("85746065432", 1, name="x" * 1000))
    participant = body["payload"]["object"]["participant"]
    participant.update(user_id="9" * 300, participant_uuid="p" * 300, email=long_email, id="i" * 300)
    body["payload"]["object"]["uuid"] = "U" * 300
    event = parse_event(body)
    assert (len(event.identity.name), event.identity.email, len(event.identity.zoom_user_id)) == (64, "", 128)
    assert (event.connection, event.participant_uuid, event.meeting_uuid) == ("9" * 128, "p" * 128, "U" * 128)


def test_the_migration_caps_what_was_stored_before(tmp_path, calendar):
    from tests.webhook_bodies import store_known_session
    from zoom_homeroom.storage import Storage, connect
    from zoom_homeroom.storage.migrations import migrations

    path = tmp_path / "old.db"
    old = connect(path)
    migrations.apply(old, stop_before="m008_attendance_outside_the_write_lock")
    old.close()
    storage = Storage.open(path, migrate=False)
    try:
        session = store_known_session(storage, now=dt.datetime(2027, 1, 5, tzinfo=dt.UTC))
        with storage.write():
            storage.db.execute(
                "INSERT INTO presence (session_id, source, instance, connection, room, edge, at, name, email, "
                "zoom_user_id) VALUES (?, 'report', ?, ?, '', 'join', '2027-01-06T20:01:00Z', ?, ?, ?)",
                [session.id, "I" * 300, "c" * 300, " " + "N" * 200_000, "e" * 300 + "@x.org", "z" * 300],
            )
            storage.db.execute("UPDATE sessions SET dirty = 0")
        storage.migrate()
        (edge,) = storage.presence(session.id)
        assert edge.identity == ZoomIdentity("N" * 64, "", "z" * 128)
        assert (edge.connection, edge.instance) == ("c" * 128, "I" * 128)
        assert storage.dirty_count(session.id) == 1  # recomputed at the next read
    finally:
        storage.close()
