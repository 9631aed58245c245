"""Running the web app under gunicorn, the production server, from `homeroom serve` (and
config/gunicorn.conf.py, which takes the same settings from here).

The workers are gunicorn's threaded workers (gthread) with a read deadline of our own: a slow or idle
client holds at most one thread, for at most `REQUEST_READ_SECONDS`, so a handful of them can never
keep Zoom's deliveries waiting (Zoom gives up after 3 s). The threads are also what lets concurrent
deliveries share one durable commit (`storage.GroupCommit`). The access log escapes control
characters, so no request can write a forged line into it.
"""

from __future__ import annotations

import gc
import math
import socket
import time
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers import gthread
from werkzeug.exceptions import RequestTimeout

from ..settings import Settings
from .app import create_app

# Threads per worker: enough that slow clients and a burst of deliveries are served at once (and
# share commits); few enough that the GIL is not the queue.
THREADS = 8
# From a request's first byte to its last: headers and body. Behind the TLS proxy (which buffers
# whole requests) a request arrives in one go; a client trickling bytes directly is cut off.
REQUEST_READ_SECONDS = 2.0
# How long a thread waits for a new connection's first bytes before handing it back to the worker's
# poller (gunicorn's own wait is 5 s): an idle connection costs no thread.
FIRST_BYTES_WAIT_SECONDS = 0.1
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


class _Gunicorn(BaseApplication):
    def __init__(self, app: Any, options: dict[str, Any]):
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._app


def gunicorn_options(host: str, port: int, workers: int, *, access_log: bool = True) -> dict[str, Any]:
    """The settings `homeroom serve` and config/gunicorn.conf.py share."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": f"{__name__}.ThreadWorker",
        "threads": THREADS,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-" if access_log else None,
        "logger_class": f"{__name__}.EscapingLogger",
        # Only the path, never the query string or headers: nothing secret reaches the log.
        "access_log_format": ACCESS_LOG_FORMAT,
        "pre_fork": freeze_before_fork,
    }


def freeze_before_fork(server: Any, worker: Any) -> None:
    """gunicorn's pre_fork hook: move everything the master built (the app, and the libraries it
    imported: about 100,000 objects) out of the garbage collector's sight before a worker forks.

    A full collection in a worker walks every tracked object with all its threads stopped: 47 ms for
    these, a stall that every delivery arriving meanwhile waits out (it was the service's p99 at a
    steady 500 deliveries a second). Frozen, they are never walked; and memory the workers share
    with the master stays shared, since the collector no longer writes to those objects."""
    gc.freeze()


def serve(app: Any, *, host: str, port: int, workers: int, access_log: bool = True) -> None:
    """Serve a WSGI app object under gunicorn with `homeroom serve`'s settings, loaded once in the master."""
    options = gunicorn_options(host, port, workers, access_log=access_log)
    _Gunicorn(app, {**options, "preload_app": True}).run()


def run_gunicorn(settings: Settings, *, host: str, port: int, workers: int, access_log: bool = True) -> None:
    """Build the app once in the master (so configuration errors show before any fork) and serve it."""
    serve(create_app(settings), host=host, port=port, workers=workers, access_log=access_log)


# -- the worker ------------------------------------------------------------------------------------


_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class _DeadlineSocket(socket.socket):
    """An accepted connection whose reads share one deadline per request.

    gunicorn reads the headers, and the app the body, through `recv`; each call waits only for what is
    left of the deadline. Past it, bytes already received are still read (a request that arrived in
    time is served, however long it queued for a thread), but a read that would wait ends: in
    gunicorn's hands as if the client had gone (gunicorn closes the connection quietly), in the app's
    as 408 Request Timeout, never a short body.
    """

    read_deadline = math.inf
    in_app = False

    @classmethod
    def adopt(cls, sock: socket.socket) -> _DeadlineSocket:
        return cls(sock.family, sock.type, sock.proto, fileno=sock.detach())

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if _DONTWAIT:
            # Usually the bytes are there already (the poller saw them): one call, no mode switching.
            try:
                return super().recv(bufsize, flags | _DONTWAIT)
            except BlockingIOError:
                pass
        asked = self.gettimeout()  # gunicorn's own short waits (closing a connection) still apply
        if asked == 0:
            return super().recv(bufsize, flags)  # non-blocking: nothing to wait for
        wait = max(0.0, self.read_deadline - time.monotonic())
        self.settimeout(wait if asked is None else min(wait, asked))
        try:
            return super().recv(bufsize, flags)
        except (TimeoutError, BlockingIOError):
            return self._expired()
        finally:
            # Blocking again for the writes (and sendfile) of the response: only reads have a deadline.
            self.settimeout(asked)

    def _expired(self) -> bytes:
        if self.in_app:
            raise RequestTimeout(f"the request was not received within {REQUEST_READ_SECONDS:g} s")
        return b""


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker, with a deadline for reading each request and no thread held by a
    connection that sends nothing. Built on gthread's own steps (gunicorn 27): a connection is queued
    for a thread (`enqueue_req`) when accepted or when its next request starts arriving, `handle` reads
    and answers one request, `handle_request` runs the app."""

    def enqueue_req(self, conn: gthread.TConn) -> None:
        # The deadline runs from here: the time a client's request spends queued for a thread counts,
        # so a queue of slow clients drains at once when their time is up.
        conn.read_deadline = time.monotonic() + REQUEST_READ_SECONDS
        super().enqueue_req(conn)

    def handle(self, conn: gthread.TConn) -> Any:
        if not conn.initialized:
            if not conn.data_ready and not conn.wait_for_data(FIRST_BYTES_WAIT_SECONDS):
                return gthread._DEFER  # to the poller, which closes it after `keepalive` seconds
            if not self.cfg.is_ssl:  # TLS is the proxy's job; gunicorn would wrap this socket anew
                conn.sock = _DeadlineSocket.adopt(conn.sock)
        if isinstance(conn.sock, _DeadlineSocket):
            conn.sock.read_deadline = conn.read_deadline
        return super().handle(conn)

    def handle_request(self, req: Any, conn: gthread.TConn) -> bool:
        if not isinstance(conn.sock, _DeadlineSocket):
            return super().handle_request(req, conn)
        conn.sock.in_app = True
        try:
            return super().handle_request(req, conn)
        finally:
            conn.sock.in_app = False


# -- the access log --------------------------------------------------------------------------------


def escape_control(text: str) -> str:
    """`text` with control characters and backslashes as `\\xNN` escapes (as nginx logs them)."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char.isprintable() and char != "\\":
        return char
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class EscapingLogger(Logger):
    """gunicorn's logger, with every access log field's control characters escaped: a `%0a` in a
    path (gunicorn logs the decoded path) or a header cannot start a forged line."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: escape_control(value) if isinstance(value, str) else value for key, value in atoms.items()
        }
