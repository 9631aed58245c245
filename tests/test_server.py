"""The web service under gunicorn (`homeroom serve`), over real sockets: slow and idle clients never
keep a webhook waiting, a request's read has a deadline, chunked bodies are limited like any other, the
access log cannot be forged, and gunicorn started directly without the secret key says so in one line.

These start real processes and wait for real: a slow client is slow in wall-clock time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_WEBHOOK_SECRET, LiveServer
from tests.factories import calendar_toml
from tests.processes import PROJECT_ROOT, ServiceProcess, child_env, free_port
from tests.webhook_bodies import URL, delivery_digests, participant_event, signed_headers, store_known_session
from zoom_homeroom.clock import utc_now
from zoom_homeroom.storage import Storage

pytestmark = pytest.mark.slow

# What the service promises (zoom_homeroom/web/server.py), restated: a request is read within 2 s of
# its first byte; a worker has 8 threads; Zoom waits 3 s for an answer.
READ_DEADLINE = 2.0
THREADS_PER_WORKER = 8
ZOOM_WAITS = 3.0
WEBHOOK_LIMIT = 256 * 1024
DASHBOARD_LIMIT = 1024 * 1024  # web/app.MAX_REQUEST_BYTES, written out
SLACK_LIMIT = 1024 * 1024  # slack/interactions.MAX_BODY_BYTES, written out: the test states the limit


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    """A folder with a calendar and a database holding module 1's meeting and week-1 session."""
    (tmp_path / "homeroom.toml").write_text(calendar_toml(), encoding="utf-8")
    env = {
        "HOMEROOM_DATABASE": str(tmp_path / "homeroom.db"),
        "HOMEROOM_CONFIG": str(tmp_path / "homeroom.toml"),
        "HOMEROOM_SECRET_KEY": "server-test-secret-key-0123456789",
        "ZOOM_WEBHOOK_SECRET_TOKEN": TEST_WEBHOOK_SECRET,
    }
    storage = Storage.open(tmp_path / "homeroom.db")
    store_known_session(storage, now=utc_now())
    storage.close()
    return env


@pytest.fixture
def service(tmp_path: Path, service_env: dict[str, str]) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path, service_env, workers=2)
    process.start()
    yield process
    process.kill()


def stored_digests(service: ServiceProcess) -> set[str]:
    storage = Storage.open(service.workdir / "homeroom.db", migrate=False)
    try:
        return delivery_digests(storage)
    finally:
        storage.close()


def webhook(n: int) -> bytes:
    return json.dumps(participant_event(user_id=f"server-test-{n}")).encode()


def post_webhook(url: str, raw: bytes) -> tuple[int, float]:
    """POST a signed delivery; (status, seconds until answered)."""
    started = time.monotonic()
    response = requests.post(url + URL, data=raw, headers=signed_headers(raw, at=utc_now()), timeout=30)
    return response.status_code, time.monotonic() - started


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection; (bytes, seconds it took)."""
    started = time.monotonic()
    sock.settimeout(timeout)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


class Trickler:
    """Connections that each send a request's first bytes, then one more byte every `every` seconds,
    never finishing: the slowest client that per-read timeouts alone would let through."""

    def __init__(self, port: int, count: int, *, start: bytes, every: float = 0.25):
        self.socks = [connect(port) for _ in range(count)]
        self.every = every
        self._stop = threading.Event()
        for sock in self.socks:
            sock.sendall(start)
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(self.every):
            for sock in self.socks:
                try:
                    sock.send(b"a")
                except OSError:
                    pass  # closed by the server: what the deadline is for

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.socks:
            sock.close()


HEADERS_BEGUN = b"POST /webhooks/zoom HTTP/1.1\r\nHost: homeroom\r\nX-Slow: "


def test_idle_and_trickling_connections_do_not_keep_a_webhook_waiting(service):
    # More idle connections than the two workers have threads, and more trickling ones too: with
    # gunicorn's sync workers two of either held the service for 30 s.
    idle = [connect(service.port) for _ in range(4 * THREADS_PER_WORKER)]
    slow = Trickler(service.port, 3 * THREADS_PER_WORKER, start=HEADERS_BEGUN)
    try:
        time.sleep(0.3)  # the server has taken every connection and is reading the trickling ones
        raw = webhook(1)
        status, waited = post_webhook(service.url, raw)
    finally:
        slow.close()
        for sock in idle:
            sock.close()
    assert status == 204
    assert waited < ZOOM_WAITS, f"the webhook waited {waited:.2f} s"
    assert {hashlib.sha256(raw).hexdigest()} <= stored_digests(service)


def test_a_trickling_client_is_cut_off_at_the_read_deadline(service):
    slow = Trickler(service.port, 1, start=HEADERS_BEGUN, every=0.25)
    try:
        received, took = read_until_closed(slow.socks[0], timeout=10)
    finally:
        slow.close()
    assert received == b""  # closed without an answer: the request never finished arriving
    assert READ_DEADLINE - 0.3 <= took <= READ_DEADLINE + 1.5, f"closed after {took:.2f} s"


def test_a_body_that_does_not_arrive_in_time_is_a_408_and_nothing_is_stored(service):
    raw = webhook(2)
    head = b"POST /webhooks/zoom HTTP/1.1\r\nHost: homeroom\r\nContent-Length: %d\r\n" % len(raw)
    head += b"".join(
        f"{name}: {value}\r\n".encode() for name, value in signed_headers(raw, at=utc_now()).items()
    )
    sock = connect(service.port)
    try:
        sock.sendall(head + b"\r\n" + raw[:10])  # then nothing more
        received, took = read_until_closed(sock, timeout=10)
    finally:
        sock.close()
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert READ_DEADLINE - 0.3 <= took <= READ_DEADLINE + 1.5, f"answered after {took:.2f} s"
    assert hashlib.sha256(raw).hexdigest() not in stored_digests(service)


# -- chunked bodies ------------------------------------------------------------------------------------


def chunked_post(port: int, raw: bytes, *, at: dt.datetime, chunk: int = 16 * 1024, path: str = URL) -> bytes:
    """POST `raw` to `path`, signed at `at` as Zoom signs, with `Transfer-Encoding: chunked` (no
    Content-Length); the answer."""
    head = b"POST %s HTTP/1.1\r\nHost: homeroom\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n" % (
        path.encode()
    )
    head += b"".join(f"{name}: {value}\r\n".encode() for name, value in signed_headers(raw, at=at).items())
    pieces = [raw[i : i + chunk] for i in range(0, len(raw), chunk)]
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    sock = connect(port)
    try:
        try:
            sock.sendall(head + b"\r\n" + body)
        except OSError:
            pass  # the server answered (413) and closed before taking it all: its answer is still there
        return read_until_closed(sock, timeout=10)[0]
    finally:
        sock.close()


def big_webhook(size: int) -> bytes:
    return json.dumps(participant_event(user_id=f"big-{size}", name="x" * size)).encode()


@pytest.fixture
def werkzeug_server(app, storage, clock):
    store_known_session(storage, now=clock())
    server = LiveServer(app)
    yield server
    server.stop()


def werkzeug_port(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_a_chunked_body_over_the_limit_is_a_413_under_gunicorn_and_nothing_is_stored(service):
    raw = big_webhook(WEBHOOK_LIMIT + 1000)
    answer = chunked_post(service.port, raw, at=utc_now())
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert hashlib.sha256(raw).hexdigest() not in stored_digests(service)


def test_a_chunked_body_within_the_limit_is_read_whole_under_gunicorn(service):
    raw = big_webhook(WEBHOOK_LIMIT - 1000)
    answer = chunked_post(service.port, raw, at=utc_now())
    assert answer.startswith(b"HTTP/1.1 204 "), answer[:200]
    assert hashlib.sha256(raw).hexdigest() in stored_digests(service)


def test_a_chunked_body_over_the_limit_is_a_413_under_werkzeug_and_nothing_is_stored(
    werkzeug_server, storage, clock
):
    raw = big_webhook(WEBHOOK_LIMIT + 1000)
    answer = chunked_post(werkzeug_port(werkzeug_server), raw, at=clock())
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"413", answer[:200]
    assert hashlib.sha256(raw).hexdigest() not in delivery_digests(storage)


def test_a_chunked_body_within_the_limit_is_read_whole_under_werkzeug(werkzeug_server, storage, clock):
    raw = big_webhook(WEBHOOK_LIMIT - 1000)
    answer = chunked_post(werkzeug_port(werkzeug_server), raw, at=clock())
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"204", answer[:200]
    assert hashlib.sha256(raw).hexdigest() in delivery_digests(storage)


def test_a_chunked_slack_interaction_over_its_limit_is_a_413_under_gunicorn_and_werkzeug(
    service, werkzeug_server
):
    """Werkzeug's own limit handed back such a body cut at 1 MiB, which then failed its signature."""
    raw = b"payload=" + b"x" * SLACK_LIMIT
    for port in (service.port, werkzeug_port(werkzeug_server)):
        answer = chunked_post(port, raw, at=utc_now(), path="/slack/interactions")
        assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"413", answer[:200]


def test_a_chunked_form_over_the_limit_is_a_413_and_within_it_reaches_the_page(service, werkzeug_server):
    """Werkzeug's limit handed the dashboard a chunked form cut at 1 MiB (a field silently shortened)."""
    for port in (service.port, werkzeug_port(werkzeug_server)):
        too_big = chunked_post(port, b"note=" + b"x" * DASHBOARD_LIMIT, at=utc_now(), path="/sign-in")
        assert too_big.split(b"\r\n", 1)[0].split(b" ")[1] == b"413", too_big[:200]
        # Within the limit the form arrives whole: refused for its missing CSRF token, as it should be.
        whole = chunked_post(port, b"note=" + b"x" * (DASHBOARD_LIMIT - 100), at=utc_now(), path="/sign-in")
        assert whole.split(b"\r\n", 1)[0].split(b" ")[1] == b"400", whole[:200]
        assert b"did not come from this site" in whole, whole[-500:]


# -- the access log ------------------------------------------------------------------------------------


FORGED = '203.0.113.9 "POST /webhooks/zoom" 204 0 1ms'


def test_a_line_break_in_the_path_cannot_forge_an_access_log_line(tmp_path, service_env):
    service = ServiceProcess(tmp_path, service_env, workers=1)
    service.start()
    try:
        sock = connect(service.port)
        # gunicorn logs the decoded path: %0a is a line break there, %5c a backslash.
        sock.sendall(
            b"GET /nothing%0a"
            + FORGED.replace(" ", "%20").encode()
            + b"%5c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        )
        read_until_closed(sock, timeout=10)
        sock.close()
    finally:
        service.stop()
    lines = service.log_text().splitlines()
    assert FORGED not in lines
    # The one line of that request: the break and the backslash escaped (and gunicorn's own \" quotes).
    logged = '127.0.0.1 "GET /nothing\\x0a203.0.113.9 \\"POST /webhooks/zoom\\" 204 0 1ms\\x5c" 302 '
    assert len([line for line in lines if line.startswith(logged)]) == 1, lines


# -- gunicorn started directly -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config", [[], ["-c", str(PROJECT_ROOT / "config" / "gunicorn.conf.py")]], ids=["plain", "conf"]
)
def test_gunicorn_started_directly_without_the_secret_key_says_so_in_one_line(tmp_path, service_env, config):
    env = child_env({k: v for k, v in service_env.items() if k != "HOMEROOM_SECRET_KEY"}, home=tmp_path)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        *config,
        "-b",
        f"127.0.0.1:{free_port()}",
        "zoom_homeroom:create_app()",
    ]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output, output
    message = "HOMEROOM_SECRET_KEY is not set: the web service refuses to start without it"
    assert [line for line in output.splitlines() if message in line] == [message] or output.count(
        message
    ) == 1, output


def test_workers_fork_with_the_masters_objects_frozen_out_of_the_garbage_collector():
    # The hook runs in gunicorn's master before each fork; run here in a child, so this test process's
    # own collector is left alone. What it must do: leave every object built so far frozen.
    script = (
        "import gc\n"
        "from zoom_homeroom.web.server import gunicorn_options\n"
        "options = gunicorn_options('127.0.0.1', 8000, 2)\n"
        "before = len(gc.get_objects())\n"
        "options['pre_fork'](None, None)\n"
        "print(before, gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    before, frozen, still_tracked = map(int, result.stdout.split())
    assert frozen >= before > 10_000  # the whole app's import graph, now out of the collector's sight
    assert still_tracked < 1_000
