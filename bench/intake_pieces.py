"""Where one webhook delivery's time goes, timed in-process on the same machine and filesystem.

Printed by bench/webhook_intake.py (unless --no-pieces): the HMAC check, the route's strict JSON parse,
a durable write alone, the group commit's cost per delivery when 8 threads write at once, the whole
request through Flask's test client (service and bare app, one thread), and two connections' durable
commits contending for the write lock (queued on the writer flock, as two workers' are).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
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

from webhooks.routes import json_object
from webhooks.verify import verify
from zoom_homeroom import create_app
from zoom_homeroom.core.models import Delivery
from zoom_homeroom.settings import Settings
from zoom_homeroom.storage import GroupCommit, Storage

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
        time_call("JSON: the route's strict parse (json_object)", lambda: json_object(body), repeat=repeat),
    ]


def time_storage(tmp: Path, maker: BodyMaker, repeat: int) -> list[Timing]:
    counter = itertools.count()
    now = dt.datetime.now(dt.UTC)

    def delivery() -> Delivery:
        raw = maker.body(next(counter))
        digest = hashlib.sha256(raw).hexdigest()
        return Delivery(digest, "meeting.participant_joined", now, 0, None, raw.decode(), MEETING_ID)

    path = tmp / "pieces-store.db"
    prepare_database(path)
    group = GroupCommit(lambda: Storage.open(path, migrate=False))
    try:

        def store_one() -> None:
            item = delivery()
            group.write(lambda storage: storage.store_delivery(item))

        alone = time_call(
            "store one delivery alone (group commit: commit + fdatasync)", store_one, repeat=repeat
        )
        together = _concurrent_writes(group, delivery, threads=8, per_thread=max(1, repeat // 4))
    finally:
        group.close()
    with prepared_storage(tmp / "pieces-commit.db") as storage:
        one_row = time_call(
            "one-row INSERT + durable COMMIT (write(durable=True))", _one_row_commit(storage), repeat=repeat
        )
    return [alone, together, one_row]


def _concurrent_writes(
    group: GroupCommit[Storage], delivery: Callable[[], Delivery], *, threads: int, per_thread: int
) -> Timing:
    """`threads` threads storing deliveries at once through one group commit: the time each waited."""
    samples: list[float] = []
    lock = threading.Lock()
    deliveries = [[delivery() for _ in range(per_thread)] for _ in range(threads)]

    def writer(mine: list[Delivery]) -> None:
        waited = []
        for item in mine:
            began = time.perf_counter()
            group.write(lambda storage, d=item: storage.store_delivery(d))
            waited.append(time.perf_counter() - began)
        with lock:
            samples.extend(waited)

    began = time.perf_counter()
    pool = [threading.Thread(target=writer, args=(mine,)) for mine in deliveries]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    label = f"store, {threads} threads at once through one group commit"
    return _timing(label, samples, per_second=len(samples) / elapsed)


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
    """`writers` threads, each with its own connection (as two workers have), looping one-row durable
    commits: they queue on the writer flock beside the database, as the service's writers do."""
    path = tmp / "contend.db"
    prepare_database(path)
    samples: list[float] = []
    samples_lock = threading.Lock()
    deadline = time.monotonic() + CONTENTION_SECONDS

    def writer() -> None:
        storage = Storage.open(path, migrate=False)
        commit = _one_row_commit(storage)
        mine = []
        try:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                commit()
                mine.append(time.perf_counter() - began)
        finally:
            storage.close()
        with samples_lock:
            samples.extend(mine)

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    label = f"{writers} connections' durable commits, queued on the writer flock"
    return [_timing(label, samples, per_second=len(samples) / CONTENTION_SECONDS)]


def print_pieces(timings: list[Timing]) -> None:
    print(f"\n{'where one delivery goes (in-process)':<72} {'mean ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for timing in timings:
        rate = f"  ({timing.per_second:.0f}/s)" if timing.per_second is not None else ""
        print(f"  {timing.label:<70} {timing.mean_ms:8.3f} {timing.p99_ms:8.3f} {timing.max_ms:8.1f}{rate}")
