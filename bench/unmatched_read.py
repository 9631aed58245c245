"""Hostile-session benchmark: reads of a session with 3,000 unmatched participants, and how long webhooks
wait meanwhile (issue 12).

Builds a database with module 1's roster (40 students) and today's session holding 3,000 distinct guests
(no email, no roster name: every one unmatched), starts `homeroom serve` (gunicorn, its threaded
workers: `web/server.ThreadWorker`) on it, then for `--seconds`:

- readers (`--readers`, 2 by default) each post a new guest's signed `meeting.participant_joined`, so the
  session is stale again, then read it: `GET /api/attendance?module=1` (a Bearer token) and, every other
  time, the session page (signed in). Each read recomputes the session's attendance.
- a webhook poster sends a signed join every 100 ms and times the answer, as Zoom would see it.

Prints the reads' and the webhooks' median, p95 and max in milliseconds, and the unmatched participants
stored at the end. Targets: every read under 1 s, every webhook under 3 s (Zoom's timeout).

    .venv/bin/python bench/unmatched_read.py [--guests 3000] [--seconds 15] [--readers 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import platform
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import interrupt_on_sigterm, print_rows  # noqa: E402

from zoom_homeroom.core.attendance import Edge, ZoomIdentity  # noqa: E402
from zoom_homeroom.core.models import PlannedSession, StoredMeeting, Student  # noqa: E402
from zoom_homeroom.core.roster import ModuleChanges  # noqa: E402
from zoom_homeroom.services.users import hash_password, hash_token  # noqa: E402
from zoom_homeroom.storage import Storage  # noqa: E402

MEETING_ID = "81234567890"
INSTANCE = "bench-instance-uuid=="
TOKEN = "bench-unmatched-token-0123456789abcdef"
REP, PASSWORD = "rep@school.example.org", "bench unmatched password"
WEBHOOK_SECRET = "bench-webhook-secret-token"
READ_TARGET_MS, WEBHOOK_TARGET_MS = 1000, 3000
START_TIMEOUT_SECONDS = 30


def calendar_text() -> str:
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    return (
        'timezone = "UTC"\n[sessions]\nweekday = "wednesday"\nstart = "13:00"\nduration_minutes = 60\n'
        'weeks = [1, 2, 3, 4, 5]\n[mix_it_up]\nweeks = [2, 4]\nstart = "13:30"\nduration_minutes = 30\n'
        'host = "careers@school.example.org"\ngroup_size = [4, 6]\nupper_modules = [1]\n'
        "[attendance]\npresent_fraction = 0.5\nlate_after_minutes = 10\n"
        f'[[modules]]\nnumber = 1\nhost = "mod1@school.example.org"\nweek1_monday = "{monday}"\n'
    )


def build(database: Path, guests: int, now: dt.datetime) -> str:
    """The roster, today's session (its window around now) and its guests; returns the session key."""
    storage = Storage.open(database)
    try:
        change = ModuleChanges(1)
        change.added = [
            Student(f"s{i}@students.example.org", f"Student {i} Lastname{i}", 1, "BE", i // 5 + 1)
            for i in range(40)
        ]
        storage.apply_roster([change], today=now.date(), now=now)
        storage.save_meeting(
            StoredMeeting("homeroom:1:bench", "homeroom", 1, "mod1@school.example.org", MEETING_ID, None, {}),
            now=now,
        )
        start = now.replace(minute=0, second=0, microsecond=0)
        session = PlannedSession("homeroom", 1, 1, now.date(), start, start + dt.timedelta(hours=2))
        storage.upsert_sessions([session], meeting_key="homeroom:1:bench", occurrence_ids={})
        stored = storage.session(session.key)
        edges = []
        for number in range(guests):
            who = ZoomIdentity(f"Visitor {number:05d} Guest", "", f"guest-{number}")
            joined = start + dt.timedelta(seconds=number % 3000)
            edges += [
                Edge(f"g{number}", "webhook", "", "join", joined, who, INSTANCE, f"pg{number}"),
                Edge(f"g{number}", "webhook", "", "leave", joined + dt.timedelta(minutes=20), who, INSTANCE),
            ]
        storage.add_presence(stored.id, edges)
        storage.save_user(REP, "rep", hash_password(PASSWORD), now=now)
        storage.add_token("bench", hash_token(TOKEN), now=now)
        return session.key
    finally:
        storage.close()


def join_body(number: int, at: dt.datetime) -> bytes:
    return json.dumps(
        {
            "event": "meeting.participant_joined",
            "event_ts": int(at.timestamp() * 1000),
            "payload": {
                "account_id": "bench",
                "object": {
                    "id": MEETING_ID,
                    "uuid": INSTANCE,
                    "participant": {
                        "user_id": f"late-{number}",
                        "user_name": f"Latecomer {number}",
                        "participant_uuid": f"late-uuid-{number}",
                        "join_time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "email": "",
                    },
                },
            },
        }
    ).encode()


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": f"v0={digest}",
        "content-type": "application/json",
    }


class Client:
    """One keep-alive connection to the service."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        for attempt in (1, 2):  # gunicorn closes a keep-alive connection after 5 s idle: reconnect once
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                return response.status, response.read(), response.getheader("Set-Cookie")
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post_webhook(self, number: int) -> tuple[int, float]:
        body = join_body(number, dt.datetime.now(dt.UTC))
        started = time.perf_counter()
        status, _, _ = self.request("POST", "/webhooks/zoom", body, signed(body))
        return status, (time.perf_counter() - started) * 1000


def sign_in(client: Client) -> str:
    """The session cookie of a signed-in rep."""
    _, page, cookie = client.request("GET", "/sign-in")
    token = page.decode().split('name="csrf_token" value="')[1].split('"')[0]
    jar = cookie.split(";")[0]
    form = f"csrf_token={token}&email={REP}&password={PASSWORD.replace(' ', '+')}".encode()
    headers = {"Cookie": jar, "Content-Type": "application/x-www-form-urlencoded"}
    status, _, cookie = client.request("POST", "/sign-in", form, headers)
    assert status == 302, status
    return cookie.split(";")[0]


def percentiles(values: list[float]) -> list[str]:
    if not values:
        return ["-", "-", "-", "0"]
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return [f"{statistics.median(ordered):.0f}", f"{p95:.0f}", f"{ordered[-1]:.0f}", str(len(ordered))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"homeroom serve exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"homeroom serve did not answer within {START_TIMEOUT_SECONDS} s")


def run(args: argparse.Namespace, folder: Path) -> bool:
    now = dt.datetime.now(dt.UTC)
    (folder / "homeroom.toml").write_text(calendar_text(), encoding="utf-8")
    started = time.perf_counter()
    key = build(folder / "homeroom.db", args.guests, now)
    print(
        f"built: 40 students, session {key} with {args.guests} guests in {time.perf_counter() - started:.1f} s"
    )
    port = free_port()
    env = {
        **os.environ,
        "HOMEROOM_DATABASE": str(folder / "homeroom.db"),
        "HOMEROOM_CONFIG": str(folder / "homeroom.toml"),
        "HOMEROOM_SECRET_KEY": secrets.token_hex(32),
        "ZOOM_WEBHOOK_SECRET_TOKEN": WEBHOOK_SECRET,
    }
    log = folder / "serve.log"
    command = [
        sys.executable,
        "-m",
        "zoom_homeroom.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(process, port, log)
        return measure(args, port, key)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def measure(args: argparse.Namespace, port: int, key: str) -> bool:
    stop = threading.Event()
    reads: dict[str, list[float]] = {"GET /api/attendance?module=1": [], f"GET /sessions/{key}": []}
    hooks: list[float] = []
    failures: list[str] = []
    cookie = sign_in(Client(port))

    def reader(offset: int) -> None:
        client, number = Client(port), offset
        while not stop.is_set():
            status, _ = client.post_webhook(number)
            number += args.readers
            page = number % (2 * args.readers) < args.readers
            label = f"GET /sessions/{key}" if page else "GET /api/attendance?module=1"
            path = f"/sessions/{key}" if page else "/api/attendance?module=1"
            headers = {"Cookie": cookie} if page else {"Authorization": f"Bearer {TOKEN}"}
            started = time.perf_counter()
            status, _, _ = client.request("GET", path, headers=headers)
            if status != 200:
                failures.append(f"{label} answered {status}")
            reads[label].append((time.perf_counter() - started) * 1000)

    def poster() -> None:
        client, number = Client(port), 10_000_000
        while not stop.is_set():
            status, elapsed = client.post_webhook(number)
            if status != 204:
                failures.append(f"webhook answered {status}")
            hooks.append(elapsed)
            number += 1
            stop.wait(0.1)

    threads = [
        threading.Thread(target=reader, args=(1_000_000 * (i + 1),), daemon=True) for i in range(args.readers)
    ]
    threads.append(threading.Thread(target=poster, daemon=True))
    for thread in threads:
        thread.start()
    try:
        stop.wait(args.seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    rows = [["", "median ms", "p95 ms", "max ms", "count"]]
    rows += [[label, *percentiles(times)] for label, times in reads.items()]
    rows.append(["POST /webhooks/zoom (meanwhile)", *percentiles(hooks)])
    print_rows(rows)
    slowest_read = max((max(times) for times in reads.values() if times), default=0.0)
    slowest_hook = max(hooks, default=0.0)
    for failure in sorted(set(failures)):
        print(f"failure: {failure}")
    met = not failures and slowest_read < READ_TARGET_MS and slowest_hook < WEBHOOK_TARGET_MS and hooks
    print(
        f"targets: every read under {READ_TARGET_MS} ms (slowest {slowest_read:.0f}), every webhook under "
        f"{WEBHOOK_TARGET_MS} ms (slowest {slowest_hook:.0f}): {'met' if met else 'MISSED'}"
    )
    return bool(met)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=3000, help="unmatched participants in the session")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long readers and webhooks run")
    parser.add_argument("--readers", type=int, default=2, help="concurrent readers recomputing the session")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of `homeroom serve`")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"load {load:.2f}"
    )
    try:
        with (
            interrupt_on_sigterm(),
            tempfile.TemporaryDirectory(prefix="homeroom-bench-unmatched-") as folder,
        ):
            return 0 if run(args, Path(folder)) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
