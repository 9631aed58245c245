"""The webhook intake benchmark's servers: gunicorn process groups of ours, started on free ports in
their own sessions and stopped by their ids."""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from intake_common import CALENDAR_PATH, ROOT

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A gunicorn process group of ours: started in its own session, stopped by its id."""

    def __init__(self, name: str, command: list[str], *, env: dict[str, str], cwd: Path, log: Path):
        self.name = name
        self.command = command
        self.env = env
        self.cwd = cwd
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str) -> None:
        """Start, then wait until `GET ready_path` gets an HTTP answer (any status)."""
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop the group ourselves
            )
        self._wait_ready(ready_path)

    def _wait_ready(self, path: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name} did not answer within {START_TIMEOUT_SECONDS:g} s:\n{self.log_tail()}"
        )

    @property
    def port(self) -> int:
        return int(self.command[self.command.index("--port") + 1])

    def stop(self) -> None:
        """SIGTERM (gunicorn finishes the requests in hand), then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def cpu_seconds(self) -> float | None:
        """CPU time (user and system) the server's processes have used so far, from /proc (Linux);
        None elsewhere. Unlike requests a second, it hardly moves with other work on the machine."""
        if self.process is None or not Path("/proc/self/stat").exists():
            return None
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid:  # its process group: the master and workers
                    ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def error_lines(self) -> list[str]:
        """Log lines that are neither access-log 2xx/4xx lines nor gunicorn's start/stop notices."""
        wanted = []
        for line in self.log.read_text(errors="replace").splitlines():
            if " 204 " in line or " 200 " in line or " 405 " in line or "[INFO]" in line:
                continue
            wanted.append(line)
        return wanted


def server_flags(workers: int) -> list[str]:
    """`homeroom serve`'s flags (and bare_app.py's): a free port and the number of workers."""
    return ["--port", str(free_port()), "--workers", str(workers)]


def service_env(database: Path, secret: str) -> dict[str, str]:
    """The process environment minus any ZOOM_/HOMEROOM_/SLACK_ settings, plus the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM_", "HOMEROOM_", "SLACK_"))}
    env.update(
        HOMEROOM_DATABASE=str(database),
        HOMEROOM_CONFIG=str(CALENDAR_PATH),
        HOMEROOM_SECRET_KEY=secrets.token_hex(32),
        ZOOM_WEBHOOK_SECRET_TOKEN=secret,
        PYTHONPATH=str(ROOT),
    )
    return env


def warm_up(port: int, path: str, requests: int = 64, threads: int = 8) -> None:
    """A few concurrent GETs, so every worker has imported, connected and answered once."""

    def worker() -> None:
        for _ in range(requests // threads):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
