"""The web app closes what it opens: a threaded server (the demo's kind) runs each request in a new
thread, and the process's open files stay flat however many requests it serves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer
from tests.webhook_bodies import URL, participant_event, signed_headers, store_known_session

REQUESTS = 300
# Connections kept idle for the next requests, the sockets in flight, a log file or two.
SLACK = 12


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc (Linux)")
def test_a_threaded_server_keeps_open_files_flat(app, storage, clock):
    store_known_session(storage, now=clock())
    server = LiveServer(app)
    try:
        http = requests.Session()
        http.headers["Connection"] = "close"  # a new connection, so a new server thread, per request

        def serve(n: int) -> None:
            raw = json.dumps(participant_event(user_id=f"user-{n}")).encode()
            delivered = http.post(
                server.url + URL, data=raw, headers=signed_headers(raw, at=clock()), timeout=10
            )
            assert delivered.status_code == 204, delivered.text
            assert http.get(server.url + "/healthz", timeout=10).status_code == 200

        for n in range(10):  # warm up: imports, the first connections, the WAL
            serve(n)
        before = open_files()
        for n in range(10, 10 + REQUESTS // 2):
            serve(n)
        after = open_files()
    finally:
        server.stop()
    assert after <= before + SLACK, f"{after - before} more files open after {REQUESTS} requests"
