"""A scripted Slack for client unit tests: a local HTTP server answering from a queue of canned answers.

slack-sdk speaks urllib, not requests, so `responses` cannot intercept it; this plays the same role.
Each request takes the next answer queued for its path (`/api/chat.postMessage`, `/hooks/...`);
a request nobody scripted is answered 599 and recorded in `unscripted`, and `assert_done()` fails
on it or on answers left unused.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from zoom_homeroom.sandbox import LocalServer


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # a dict is sent as JSON, bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # close the connection instead of answering


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedSlack:
    def __init__(self) -> None:
        self._answers: dict[str, deque[Answer]] = {}
        self.requests: list[Seen] = []
        self.unscripted: list[str] = []
        self._lock = threading.Lock()
        self._http = LocalServer(self._app, name="scripted-slack")

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def add(self, path: str, answer: Answer | None = None, **fields: Any) -> None:
        """Queue an answer for `path` ("chat.postMessage" means "/api/chat.postMessage")."""
        full = path if path.startswith("/") else f"/api/{path}"
        with self._lock:
            self._answers.setdefault(full, deque()).append(answer or Answer(**fields))

    def seen(self, path: str) -> list[Seen]:
        full = path if path.startswith("/") else f"/api/{path}"
        return [request for request in self.requests if request.path == full]

    def assert_done(self) -> None:
        left = {path: len(queue) for path, queue in self._answers.items() if queue}
        assert not self.unscripted, f"unscripted requests: {self.unscripted}"
        assert not left, f"answers never used: {left}"

    def close(self) -> None:
        self._http.stop()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        seen = Seen(request.path, dict(request.headers), request.get_data(), request.mimetype)
        with self._lock:
            self.requests.append(seen)
            queue = self._answers.get(request.path)
            answer = queue.popleft() if queue else None
            if answer is None:
                self.unscripted.append(request.path)
        if answer is None:
            return Response("unscripted", status=599)(environ, start_response)
        if answer.close:
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            return Response(b"", status=500)(environ, start_response)
        if isinstance(answer.body, bytes):
            response = Response(answer.body, status=answer.status, mimetype="text/html")
        else:
            response = Response(json.dumps(answer.body), status=answer.status, mimetype="application/json")
        for key, value in answer.headers.items():
            response.headers[key] = value
        return response(environ, start_response)
