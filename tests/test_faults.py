"""Faults: the web service killed mid-stream, Zoom failing during sync and backfill, the database busy.

The Zoom faults run against the sandbox over real HTTP; the client sleeps through the injected
FakeSleep, so retries are instant and the waits it asked for can be checked. Only the "slow" faults
and the processes below take real time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_WEBHOOK_SECRET, FakeClock, FakeSleep
from tests.factories import calendar_toml, utc
from tests.processes import ServiceProcess, WriteLockHolder
from tests.webhook_bodies import (
    MEETING_ID,
    SESSION_KEY,
    URL,
    delivery_digests,
    participant_event,
    signed_headers,
    store_known_session,
)
from zoom_homeroom.clock import utc_now
from zoom_homeroom.core.models import Calendar, Delivery
from zoom_homeroom.core.roster import parse_roster, roster_changes
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.sandbox import Participant, ZoomSandbox
from zoom_homeroom.services import backfill as backfill_service
from zoom_homeroom.services.sync import SyncError, sync_homeroom
from zoom_homeroom.services.users import hash_token
from zoom_homeroom.settings import load_settings
from zoom_homeroom.storage import Storage
from zoom_homeroom.zoom import ZoomAuth, ZoomClient

MEETING_KEY_1 = "homeroom:1:2027-01-04"
TOPIC_1 = "Homeroom: Mod 1"
ROSTER = """name,email,module,program,group
Ada Lovelace,ada@x.org,1,BE,1
Alan Turing,alan@x.org,1,FE,1
Grace Hopper,grace@x.org,1,BE,2
Ken Thompson,ken@x.org,2,FE,1
"""
MOVED_ROSTER = ROSTER.replace("Alan Turing,alan@x.org,1,FE,1", "Alan Turing,alan@x.org,1,FE,2")
ADA = Participant("Ada Lovelace", "ada@x.org")
ALAN = Participant("Alan Turing", "alan@x.org")
# A "slow" fault answers after SLOW_DELAY; the client gives up after CLIENT_TIMEOUT. The gap is wide
# enough that the sandbox never finishes a slow request before the client has moved on.
CLIENT_TIMEOUT = 0.5
SLOW_DELAY = 1.1


def at(hhmm: str) -> dt.datetime:
    return utc(f"2027-01-06 {hhmm}")


def import_roster(runtime: Runtime, text: str = ROSTER) -> None:
    students = parse_roster(text.encode(), filename="roster.csv", modules=runtime.calendar.module_numbers)
    changes = roster_changes(runtime.storage.students(active_only=False), students)
    runtime.storage.apply_roster(changes, today=dt.date(2027, 1, 5), now=runtime.now())


def mod1_meetings(sandbox: ZoomSandbox) -> list[dict]:
    """Module 1's meetings as Zoom has them (duplicates included)."""
    return [meeting for meeting in sandbox.state()["meetings"] if meeting["topic"] == TOPIC_1]


def answered(sandbox: ZoomSandbox, method: str, path_prefix: str) -> int:
    """Calls Zoom answered with success (faulted ones are logged too, with their status)."""
    return sum(
        1
        for call_method, path, status in sandbox.calls
        if call_method == method and path.startswith(path_prefix) and 0 < status < 400
    )


def refused_tokens(sandbox: ZoomSandbox) -> int:
    """API calls Zoom refused with 401 (an invalid access token)."""
    return sum(1 for _, path, status in sandbox.calls if status == 401 and path.startswith("/v2/"))


def rooms(sandbox: ZoomSandbox, meeting_id: str) -> dict[str, list[str]]:
    listed = sandbox.meeting(meeting_id)["settings"]["breakout_room"]["rooms"]
    return {room["name"]: sorted(room["participants"]) for room in listed}


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message, message


def assert_nothing_recorded(runtime: Runtime) -> None:
    assert runtime.storage.meeting(MEETING_KEY_1) is None
    assert runtime.storage.sessions(module=1) == []


# -- sync against a failing Zoom ---------------------------------------------------------------------


@pytest.fixture
def roster_runtime(sandbox_runtime: Runtime) -> Runtime:
    import_roster(sandbox_runtime)
    return sandbox_runtime


def test_sync_waits_as_long_as_retry_after_says_and_creates_once(roster_runtime, sandbox, sleep):
    sandbox.faults.add(429, times=2, method="POST", path_prefix="/v2/users/", retry_after=7)
    result = sync_homeroom(roster_runtime, 1)
    assert sleep.calls == [7, 7]
    assert [m["id"] for m in mod1_meetings(sandbox)] == [int(result.zoom_meeting_id)]
    assert roster_runtime.storage.meeting(MEETING_KEY_1).zoom_meeting_id == result.zoom_meeting_id


def test_a_retry_after_too_long_to_wait_fails_the_sync_at_once_and_records_nothing(
    roster_runtime, sandbox, sleep
):
    sandbox.faults.add(429, times=5, method="POST", path_prefix="/v2/users/", retry_after=3600)
    with pytest.raises(SyncError) as failure:
        sync_homeroom(roster_runtime, 1)
    assert_one_line(str(failure.value))
    assert "Mod 1: Zoom API 429" in str(failure.value) and "retry after 3600 s" in str(failure.value)
    assert sleep.calls == []  # an hour is not waited out inside a job
    assert mod1_meetings(sandbox) == []
    assert_nothing_recorded(roster_runtime)


@pytest.mark.parametrize("fault", [500, 503, "drop"])
def test_a_failed_create_is_retried_only_after_zoom_shows_it_was_not_made(
    roster_runtime, sandbox, sleep, fault
):
    sandbox.faults.add(fault, times=2, method="POST", path_prefix="/v2/users/")
    result = sync_homeroom(roster_runtime, 1)
    assert len(mod1_meetings(sandbox)) == 1
    assert roster_runtime.storage.meeting(MEETING_KEY_1).zoom_meeting_id == result.zoom_meeting_id
    # Before each repeat the host's meetings were listed (one list before the first create, too).
    assert answered(sandbox, "GET", "/v2/users/mod1@school.example.org/meetings") == 3
    assert len(sleep.calls) == 2 and all(0 <= wait <= 2 for wait in sleep.calls)  # backoff with jitter


def test_server_errors_that_last_fail_the_sync_with_one_line_and_record_nothing(
    roster_runtime, sandbox, sleep
):
    sandbox.faults.add(500, times=50, method="POST", path_prefix="/v2/users/")
    with pytest.raises(SyncError) as failure:
        sync_homeroom(roster_runtime, 1)
    assert_one_line(str(failure.value))
    assert str(failure.value).startswith("Mod 1: Zoom API 500")
    assert len(sleep.calls) == 3  # the client's max_retries, each with backoff
    assert mod1_meetings(sandbox) == []
    assert_nothing_recorded(roster_runtime)


@pytest.fixture
def synced(roster_runtime: Runtime):
    result = sync_homeroom(roster_runtime, 1)
    week2 = roster_runtime.storage.session("homeroom:1:2027-01-13")
    return result, week2, roster_runtime.storage.session_members(week2.id)


def test_a_failed_update_keeps_the_old_state_everywhere_and_the_next_sync_applies_it(
    synced, roster_runtime, sandbox, sleep
):
    result, week2, members = synced
    stored_spec = roster_runtime.storage.meeting(MEETING_KEY_1).spec
    rooms_before = rooms(sandbox, result.zoom_meeting_id)
    import_roster(roster_runtime, MOVED_ROSTER)
    sandbox.faults.add(500, times=50, method="PATCH")
    with pytest.raises(SyncError) as failure:
        sync_homeroom(roster_runtime, 1)
    assert_one_line(str(failure.value))
    assert "Zoom API 500" in str(failure.value)
    assert len(sleep.calls) == 3  # a PATCH is safe to repeat: retried, then given up
    assert (
        roster_runtime.storage.meeting(MEETING_KEY_1).spec == stored_spec
    )  # only what Zoom accepted is recorded
    assert roster_runtime.storage.session_members(week2.id) == members
    assert rooms(sandbox, result.zoom_meeting_id) == rooms_before

    sandbox.faults.clear()
    sync_homeroom(roster_runtime, 1)
    assert answered(sandbox, "PATCH", "/v2/meetings/") == 1
    assert rooms(sandbox, result.zoom_meeting_id)["Breakout Room 2"] == ["alan@x.org", "grace@x.org"]
    assert roster_runtime.storage.session_members(week2.id) != members


def test_invalidated_tokens_are_renewed_once_and_the_sync_carries_on(synced, roster_runtime, sandbox, sleep):
    result, _, _ = synced
    import_roster(roster_runtime, MOVED_ROSTER)
    sandbox.invalidate_tokens()
    sync_homeroom(roster_runtime, 1)
    assert refused_tokens(sandbox) == 1
    assert answered(sandbox, "POST", "/oauth/token") == 2
    assert rooms(sandbox, result.zoom_meeting_id)["Breakout Room 2"] == ["alan@x.org", "grace@x.org"]
    assert sleep.calls == []


def test_invalidated_tokens_with_the_token_endpoint_down_fail_with_one_line(
    synced, roster_runtime, sandbox, sleep
):
    result, week2, members = synced
    stored_spec = roster_runtime.storage.meeting(MEETING_KEY_1).spec
    import_roster(roster_runtime, MOVED_ROSTER)
    sandbox.invalidate_tokens()
    sandbox.faults.add(500, times=50, path_prefix="/oauth/token")
    with pytest.raises(SyncError) as failure:
        sync_homeroom(roster_runtime, 1)
    assert_one_line(str(failure.value))
    assert "/oauth/token" in str(failure.value) and roster_runtime.settings.zoom_client_secret not in str(
        failure.value
    )
    assert roster_runtime.storage.meeting(MEETING_KEY_1).spec == stored_spec
    assert roster_runtime.storage.session_members(week2.id) == members
    assert answered(sandbox, "PATCH", "/v2/meetings/") == 0


# -- backfill against a failing Zoom -----------------------------------------------------------------


def hold_session(runtime: Runtime, sandbox: ZoomSandbox, clock: FakeClock) -> str:
    """Sync module 1 and hold week 1's session in Zoom without webhooks; the clock ends after it."""
    meeting_id = sync_homeroom(runtime, 1).zoom_meeting_id
    clock.now = at("19:58")
    sandbox.start_instance(meeting_id, at("19:58"), deliver=False)
    sandbox.join(meeting_id, ADA, at("19:59"), deliver=False)
    sandbox.join(meeting_id, ALAN, at("20:00"), deliver=False)
    sandbox.leave(meeting_id, ALAN, at("20:40"), deliver=False)
    sandbox.end_instance(meeting_id, at("21:00"), deliver=False)
    clock.now = at("21:50")
    return SESSION_KEY


def backfill(runtime: Runtime) -> backfill_service.BackfillResult:
    return backfill_service.backfill(runtime, runtime.storage.session(SESSION_KEY))


def statuses(runtime: Runtime) -> dict[str, str]:
    rows = runtime.storage.attendance_rows(session_id=runtime.storage.session(SESSION_KEY).id)
    return {row.email: row.status for row in rows}


@pytest.fixture
def held(roster_runtime, sandbox, clock) -> Runtime:
    hold_session(roster_runtime, sandbox, clock)
    return roster_runtime


def test_backfill_honours_retry_after_and_becomes_final(held, sandbox, sleep):
    sandbox.faults.add(429, times=2, method="GET", path_prefix="/v2/report/meetings/", retry_after=5)
    result = backfill(held)
    assert result.final, result.message
    assert sleep.calls == [5, 5]
    assert statuses(held) == {"ada@x.org": "present", "alan@x.org": "present", "grace@x.org": "absent"}


@pytest.mark.parametrize("path_prefix", ["/v2/past_meetings/", "/v2/report/meetings/"])
def test_backfill_stays_pending_with_the_reason_while_zoom_fails(held, sandbox, path_prefix):
    sandbox.faults.add(500, times=50, method="GET", path_prefix=path_prefix)
    result = backfill(held)
    assert not result.final
    session = held.storage.session(SESSION_KEY)
    assert not session.final and session.final_at is None
    assert session.backfill_attempts == 1
    assert_one_line(session.backfill_error)
    assert session.backfill_error.startswith("Zoom API 500") and result.message.startswith(
        "pending: Zoom API 500"
    )
    assert held.storage.presence(session.id) == []  # nothing half-read is kept

    sandbox.faults.clear()
    assert backfill(held).final


def test_backfill_renews_invalidated_tokens(held, sandbox):
    held.zoom.get_user("mod1@school.example.org")  # a token fresh at the clock's time, then revoked
    tokens = answered(sandbox, "POST", "/oauth/token")
    sandbox.invalidate_tokens()
    assert backfill(held).final
    assert refused_tokens(sandbox) == 1
    assert answered(sandbox, "POST", "/oauth/token") == tokens + 1


# -- slow answers past the client's timeout ----------------------------------------------------------


class RealSleep:
    """time.sleep for the sandbox's "slow" faults, counting sleeps in progress so they can be waited out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self._active += 1
        try:
            time.sleep(seconds)
        finally:
            with self._lock:
                self._active -= 1

    def wait_idle(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self._active and time.monotonic() < deadline:
            time.sleep(0.02)


@dataclass
class SlowWorld:
    sandbox: ZoomSandbox
    runtime: Runtime
    sandbox_sleep: RealSleep

    def use_client(self, *, max_retries: int) -> None:
        """Give the runtime a Zoom client with a short timeout (its retries still sleep through FakeSleep)."""
        settings, runtime = self.runtime.settings, self.runtime
        auth = ZoomAuth(
            account_id=settings.zoom_account_id or "",
            client_id=settings.zoom_client_id or "",
            client_secret=settings.zoom_client_secret or "",
            token_url=settings.zoom_oauth_token_url,
            timeout=CLIENT_TIMEOUT,
            sleep=runtime.sleep,
            clock=runtime.clock,
        )
        runtime.zoom = ZoomClient(
            auth,
            base_url=settings.zoom_api_url,
            timeout=CLIENT_TIMEOUT,
            max_retries=max_retries,
            sleep=runtime.sleep,
            clock=runtime.clock,
        )

    def wait_for_meetings(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(mod1_meetings(self.sandbox)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return mod1_meetings(self.sandbox)


@pytest.fixture
def slow_world(env, calendar: Calendar, clock: FakeClock, sleep: FakeSleep):
    """A dedicated sandbox whose "slow" faults wait for real, and a runtime on it."""
    sandbox_sleep = RealSleep()
    hosts = sorted({module.host for module in calendar.modules} | {calendar.mix_it_up.host})
    box = ZoomSandbox(clock=clock, users=hosts, webhook_secret=TEST_WEBHOOK_SECRET, sleep=sandbox_sleep)
    with box.start():
        settings = load_settings(
            {
                **env,
                "ZOOM_API_URL": box.api_url,
                "ZOOM_OAUTH_TOKEN_URL": box.token_url,
                "ZOOM_ACCOUNT_ID": box.account_id,
                "ZOOM_CLIENT_ID": box.client_id,
                "ZOOM_CLIENT_SECRET": box.client_secret,
            }
        )
        runtime = Runtime(settings, clock=clock, sleep=sleep, calendar_override=calendar)
        import_roster(runtime)
        yield SlowWorld(box, runtime, sandbox_sleep)
        sandbox_sleep.wait_idle()  # let a slow request finish before the server goes
        runtime.close()


@pytest.mark.slow
def test_a_slow_create_that_zoom_performed_is_adopted_by_the_next_sync(slow_world):
    slow_world.use_client(max_retries=0)
    slow_world.sandbox.faults.add("slow", method="POST", path_prefix="/v2/users/", delay=SLOW_DELAY)
    with pytest.raises(SyncError) as failure:
        sync_homeroom(slow_world.runtime, 1)
    assert_one_line(str(failure.value))
    assert "timed out" in str(failure.value)
    assert_nothing_recorded(slow_world.runtime)

    (made,) = slow_world.wait_for_meetings(1)  # Zoom finishes the create after the client gave up
    result = sync_homeroom(slow_world.runtime, 1)
    assert result.actions[0] == f"found meeting {made['id']} in Zoom (created before it could be recorded)"
    assert [m["id"] for m in mod1_meetings(slow_world.sandbox)] == [made["id"]]
    assert slow_world.runtime.storage.meeting(MEETING_KEY_1).zoom_meeting_id == str(made["id"])


@pytest.mark.slow
def test_a_slow_create_is_not_repeated_into_a_second_meeting(slow_world):
    slow_world.use_client(max_retries=3)
    slow_world.sandbox.faults.add("slow", method="POST", path_prefix="/v2/users/", delay=SLOW_DELAY)
    try:
        sync_homeroom(slow_world.runtime, 1)
    except SyncError:
        pass  # failing is fine; a second meeting is not
    slow_world.sandbox_sleep.wait_idle()
    assert len(slow_world.wait_for_meetings(2, timeout=0.3)) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("slow_times", "final"), [(1, True), (2, False)])
def test_backfill_retries_a_read_that_timed_out_and_stays_pending_when_it_keeps_timing_out(
    slow_world, clock, slow_times, final
):
    runtime = slow_world.runtime
    hold_session(runtime, slow_world.sandbox, clock)
    slow_world.use_client(max_retries=1)
    slow_world.sandbox.faults.add(
        "slow", times=slow_times, method="GET", path_prefix="/v2/past_meetings/", delay=SLOW_DELAY
    )
    result = backfill(runtime)
    session = runtime.storage.session(SESSION_KEY)
    assert result.final is final and session.final is final
    if not final:
        assert_one_line(session.backfill_error)
        assert "timed out" in session.backfill_error
        assert runtime.storage.presence(session.id) == []


# -- the web service killed while webhooks stream in -------------------------------------------------


@dataclass
class Stream:
    """Signed participant events posted from several threads; remembers every delivery answered 2xx."""

    url: str
    per_thread: int
    acked: list[bytes]
    refused: list[int]

    def run(self, worker: int) -> None:
        with requests.Session() as http:
            for n in range(self.per_thread):
                raw = stream_body(worker, n)
                try:
                    # The service checks signatures against the real clock.
                    response = http.post(
                        self.url, data=raw, headers=signed_headers(raw, at=utc_now()), timeout=10
                    )
                except requests.RequestException:
                    return  # killed: this delivery was never acknowledged
                if 200 <= response.status_code < 300:
                    self.acked.append(raw)
                else:
                    self.refused.append(response.status_code)


def stream_body(worker: int, n: int) -> bytes:
    """Participant `w<worker>-<n//2>` joins (even n) then leaves (odd n): one edge per delivery."""
    joined = n % 2 == 0
    body = participant_event(
        event="meeting.participant_joined" if joined else "meeting.participant_left",
        user_id=f"w{worker}-{n // 2}",
        name=f"Student {worker}-{n // 2}",
        email=f"s{worker}-{n // 2}@x.org",
        at="2027-01-06T20:01:00Z" if joined else "2027-01-06T20:50:00Z",
    )
    return json.dumps(body).encode()


def expected_edge(raw: bytes) -> tuple[str, str, str]:
    """(connection, edge, at) the delivery must leave in `presence`."""
    participant = json.loads(raw)["payload"]["object"]["participant"]
    if "join_time" in participant:
        return participant["user_id"], "join", participant["join_time"]
    return participant["user_id"], "leave", participant["leave_time"]


def stored_edges(storage: Storage) -> set[tuple[str, str, str]]:
    return {tuple(row) for row in storage.db.execute("SELECT connection, edge, at FROM presence")}


def store_unprocessed_delivery(storage: Storage) -> bytes:
    """A delivery stored (durably) whose processing never ran, as if the process died in between."""
    raw = stream_body(99, 0)
    with storage.write(durable=True):
        storage.store_delivery(
            Delivery(
                digest=hashlib.sha256(raw).hexdigest(),
                event="meeting.participant_joined",
                received_at=utc_now(),
                request_timestamp=int(time.time()),
                request_id=None,
                body=raw.decode(),
                zoom_meeting_id=MEETING_ID,
            )
        )
    return raw


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@pytest.fixture
def service_dir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder with a calendar and a database holding module 1's meeting and week-1 session."""
    workdir = tmp_path / "service"
    workdir.mkdir()
    (workdir / "homeroom.toml").write_text(calendar_toml(), encoding="utf-8")
    env = {
        "HOMEROOM_DATABASE": str(workdir / "homeroom.db"),
        "HOMEROOM_CONFIG": str(workdir / "homeroom.toml"),
        "HOMEROOM_SECRET_KEY": "fault-test-secret-key-0123456789",
        "ZOOM_WEBHOOK_SECRET_TOKEN": TEST_WEBHOOK_SECRET,
    }
    storage = Storage.open(workdir / "homeroom.db")
    store_known_session(storage, now=utc_now())
    storage.close()
    return workdir, env


@pytest.fixture
def service(service_dir):
    """`homeroom serve --workers 2` on the prepared folder; killed at the end whatever happened."""
    workdir, env = service_dir
    process = ServiceProcess(workdir, env, workers=2)
    yield process
    process.kill()


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_delivery_and_restart_processes_the_rest(service):
    database = service.workdir / "homeroom.db"
    service.start()
    stream = Stream(service.url + URL, per_thread=400, acked=[], refused=[])
    threads = [threading.Thread(target=stream.run, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(stream.acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.005)
    service.kill()  # SIGKILL to master and workers, mid-stream
    for thread in threads:
        thread.join(timeout=15)
    acked = list(stream.acked)
    assert len(acked) >= 60, service.log_text()
    assert len(acked) < 4 * 400, "the kill must land while deliveries are still streaming in"
    assert stream.refused == []

    storage = Storage.open(database)
    try:
        assert storage.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {digest(raw) for raw in acked} <= delivery_digests(storage)  # every 2xx was on disk
        pending = [body.encode() for _, body in storage.pending_deliveries()]
        if not pending:  # processing shares the store's transaction: make the crash-in-between case
            pending = [store_unprocessed_delivery(storage)]
    finally:
        storage.close()

    service.start()  # start-up processes what was stored but not processed
    service.stop()
    storage = Storage.open(database)
    try:
        assert storage.pending_deliveries() == []
        outcomes = dict(storage.db.execute("SELECT digest, outcome FROM webhook_deliveries").fetchall())
        assert {outcomes[digest(raw)] for raw in acked + pending} == {"ok"}
        assert {expected_edge(raw) for raw in acked + pending} <= stored_edges(storage)
    finally:
        storage.close()


# -- the database busy -------------------------------------------------------------------------------


API_TOKEN = "fault-test-api-token-0123456789abcdef"


@pytest.mark.slow
def test_requests_wait_for_another_process_holding_the_write_lock_and_succeed(
    live_app, storage, settings, clock
):
    store_known_session(storage, now=clock())
    # A token never used: its first use records last_used_at, so the API read must write too.
    storage.add_token("busy-test", hash_token(API_TOKEN), now=clock())
    bodies = [stream_body(7, n) for n in range(4)]

    def timed(method: str, path: str, **kwargs) -> tuple[int, float]:
        started = time.monotonic()
        response = requests.request(method, live_app.url + path, timeout=30, **kwargs)
        return response.status_code, time.monotonic() - started

    requests_to_send = [
        ("POST", URL, {"data": raw, "headers": signed_headers(raw, at=clock())}) for raw in bodies
    ]
    requests_to_send += [
        ("GET", "/api/sessions", {"headers": {"Authorization": f"Bearer {API_TOKEN}"}}),
        ("GET", "/healthz", {}),
        ("GET", "/healthz", {}),
    ]
    with WriteLockHolder(settings.database, seconds=1.5) as holder, ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(timed, method, path, **kwargs) for method, path, kwargs in requests_to_send]
        results = [future.result(timeout=30) for future in futures]
        assert holder.wait() == "committed"
    assert [status for status, _ in results] == [204, 204, 204, 204, 200, 200, 200]
    # The writers queued behind the other process's lock instead of failing with "database is locked".
    assert all(waited >= 1.0 for _, waited in results[:5])
    assert {digest(raw) for raw in bodies} <= delivery_digests(storage)
    # Deliveries become edges when attendance is next read (here: the API's attendance records).
    response = requests.get(
        live_app.url + "/api/attendance", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30
    )
    assert response.status_code == 200
    assert {expected_edge(raw) for raw in bodies} <= stored_edges(storage)
    assert storage.tokens()[0].last_used_at is not None
