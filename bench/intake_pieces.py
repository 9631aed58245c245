"""Where one webhook delivery's time goes, timed in-process on the same machine and filesystem.

Used by bench/webhook_intake.py when a target is missed (or with --pieces): HMAC, JSON, the store and
process transaction with synchronous=FULL and NORMAL, a bare one-row commit, the whole request through
Flask's test client (service and bare app), and two writers contending for SQLite's write lock,
first through SQLite's busy handler (what the service does), then queued on a flock.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import itertools
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bare_app import create_bare_app
from flask.testing import FlaskClient
from intake_common import CALENDAR_PATH, MEETING_ID, WEBHOOK_PATH, BodyMaker, prepare_database

from webhooks.verify import verify
from zoom_homeroom import create_app
from zoom_homeroom.core.models import Delivery
from zoom_homeroom.services.intake import process_in_transaction
from zoom_homeroom.settings import Settings, load_calendar
from zoom_homeroom.storage import Storage

CONTENTION_SECONDS = 2.0


@dataclass(frozen=True)
class Timing:
    label: str
    mean_ms: float
    p99_ms: float
    max_ms: float
    per_second: float | None = None  # for the contention runs: commits a second, both writers


def time_call(label: str, function: Callable[[], object], *, repeat: int) -> Timing:
    """Mean, p99 and max of `repeat` calls, after one warm-up call."""
    function()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        samples.append(time.perf_counter() - began)
    return _timing(label, samples)


def _timing(label: str, samples: list[float], per_second: float | None = None) -> Timing:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    mean = sum(samples) / len(samples)
    return Timing(label, mean * 1000, p99 * 1000, samples[-1] * 1000, per_second)


@contextmanager
def prepared_storage(path: Path) -> Iterator[Storage]:
    prepare_database(path)
    storage = Storage.open(path, migrate=False)
    try:
        yield storage
    finally:
        storage.close()


def time_pieces(tmp: Path, maker: BodyMaker, repeat: int) -> list[Timing]:
    """Every piece, in the order a delivery meets them."""
    return [
        *time_parsing(maker, repeat * 10),
        *time_storage(tmp, maker, repeat),
        *time_requests(tmp, maker, repeat),
        *time_contention(tmp),
    ]


def time_parsing(maker: BodyMaker, repeat: int) -> list[Timing]:
    body = maker.body(10**9)
    headers = {name.lower(): value for name, value in maker.headers(body).items()}
    now, window = dt.datetime.now(dt.UTC), dt.timedelta(hours=2)
    return [
        time_call(
            "verify(): HMAC-SHA256 and checks",
            lambda: verify(headers, body, secret=maker.secret, now=now, window=window),
            repeat=repeat,
        ),
        time_call(
            "JSON: decode, parse, re-encode check (as the route does)",
            lambda: json.dumps(json.loads(body.decode("utf-8")), ensure_ascii=False).encode("utf-8"),
            repeat=repeat,
        ),
    ]


def time_storage(tmp: Path, maker: BodyMaker, repeat: int) -> list[Timing]:
    calendar = load_calendar(CALENDAR_PATH)
    counter = itertools.count()
    now = dt.datetime.now(dt.UTC)

    def store_and_process(storage: Storage, durable: bool) -> Callable[[], None]:
        def one() -> None:
            raw = maker.body(next(counter))
            digest = hashlib.sha256(raw).hexdigest()
            delivery = Delivery(digest, "meeting.participant_joined", now, 0, None, raw.decode(), MEETING_ID)
            with storage.write(durable=durable):
                delivery_id = storage.store_delivery(delivery)
                process_in_transaction(storage, calendar, delivery_id, json.loads(raw), now=now)

        return one

    timings = []
    for name, durable in (("FULL", True), ("NORMAL", False)):
        with prepared_storage(tmp / f"pieces-{name.lower()}.db") as storage:
            label = f"store + process transaction, synchronous={name}"
            timings.append(time_call(label, store_and_process(storage, durable), repeat=repeat))
    with prepared_storage(tmp / "pieces-commit.db") as storage:
        timings.append(
            time_call("one-row INSERT + COMMIT, synchronous=FULL", _one_row_commit(storage), repeat=repeat)
        )
    return timings


def _one_row_commit(storage: Storage) -> Callable[[], None]:
    def one() -> None:
        with storage.write(durable=True):
            storage.db.execute(
                "INSERT INTO locks (name, owner, expires_at) VALUES (?, 'bench', 'bench')",
                [secrets.token_hex(8)],
            )

    return one


def time_requests(tmp: Path, maker: BodyMaker, repeat: int) -> list[Timing]:
    path = tmp / "pieces-app.db"
    prepare_database(path)
    settings = Settings(
        zoom_webhook_secret_token=maker.secret,
        database=path,
        config_path=CALENDAR_PATH,
        secret_key=secrets.token_hex(32),
    )
    service = create_app(settings).test_client()
    bare = create_bare_app().test_client()
    counter = itertools.count(10**6)

    def post(client: FlaskClient) -> Callable[[], None]:
        def one() -> None:
            raw = maker.body(next(counter))
            response = client.post(WEBHOOK_PATH, data=raw, headers=maker.headers(raw))
            if response.status_code != 204:
                raise RuntimeError(f"in-process request answered {response.status_code}")

        return one

    return [
        time_call("whole request, Flask test client, service", post(service), repeat=repeat),
        time_call("whole request, Flask test client, bare app", post(bare), repeat=repeat),
    ]


def time_contention(tmp: Path, writers: int = 2) -> list[Timing]:
    """`writers` threads, each with its own connection, looping one-row durable commits."""
    return [
        _contend(tmp / "contend-busy.db", writers, lock_path=None),
        _contend(tmp / "contend-flock.db", writers, lock_path=tmp / "contend.lock"),
    ]


def _contend(path: Path, writers: int, *, lock_path: Path | None) -> Timing:
    prepare_database(path)
    samples: list[float] = []
    samples_lock = threading.Lock()
    deadline = time.monotonic() + CONTENTION_SECONDS

    def writer() -> None:
        storage = Storage.open(path, migrate=False)
        commit = _one_row_commit(storage)
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT) if lock_path else None
        mine = []
        try:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                if descriptor is not None:
                    fcntl.flock(descriptor, fcntl.LOCK_EX)  # waiters sleep in the kernel, woken in turn
                try:
                    commit()
                finally:
                    if descriptor is not None:
                        fcntl.flock(descriptor, fcntl.LOCK_UN)
                mine.append(time.perf_counter() - began)
        finally:
            storage.close()
            if descriptor is not None:
                os.close(descriptor)
        with samples_lock:
            samples.extend(mine)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    how = "queued on a flock" if lock_path else "SQLite busy handler (as the service)"
    label = f"{writers} writers' durable commits, {how}"
    return _timing(label, samples, per_second=len(samples) / CONTENTION_SECONDS)


def print_pieces(timings: list[Timing]) -> None:
    print(f"\n{'where one delivery goes (in-process)':<72} {'mean ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for timing in timings:
        rate = f"  ({timing.per_second:.0f} commits/s)" if timing.per_second is not None else ""
        print(f"  {timing.label:<70} {timing.mean_ms:8.3f} {timing.p99_ms:8.3f} {timing.max_ms:8.1f}{rate}")
