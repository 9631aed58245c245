"""Real processes for fault tests: `homeroom serve` (gunicorn) and a process holding SQLite's write lock.

Every process here is started in its own session, so it can be killed with its children and nothing
else; each class cleans up after itself even when a test fails halfway.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 20.0
POLL_SECONDS = 0.05


def free_port() -> int:
    """A localhost port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(extra: dict[str, str], *, home: Path) -> dict[str, str]:
    """The current environment without the service's variables, plus `extra`.

    HOME is a temporary folder: gunicorn keeps a control socket there, and two test runs (or a
    socket left by a killed master) must not meet. PYTHONPATH puts this checkout first.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ZOOM_", "HOMEROOM_", "SLACK_"))
    }
    env.update(extra)
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


class ServiceProcess:
    """`homeroom serve --workers N` in a subprocess, run from `workdir` (so no `.env` leaks in)."""

    def __init__(self, workdir: Path, env: dict[str, str], *, workers: int = 2) -> None:
        self.workdir = workdir
        self.env = child_env(env, home=workdir)
        self.workers = workers
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start on a free port and wait until GET /healthz answers 200."""
        self.port = free_port()
        self._log = open(self.workdir / f"serve-{self.port}.log", "wb")  # closed in _reap
        command = [
            sys.executable,
            "-c",
            "from zoom_homeroom.cli import cli; cli()",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        self._process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: master and workers die together
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise AssertionError(f"homeroom serve exited early:\n{self.log_text()}")
            try:
                if requests.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(POLL_SECONDS)
        self.kill()
        raise AssertionError(f"homeroom serve was not ready in {READY_TIMEOUT_SECONDS} s:\n{self.log_text()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers) and reap the master."""
        self._signal_group(signal.SIGKILL)
        self._reap(timeout=10)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM to the group); SIGKILL if it does not stop within 10 s."""
        self._signal_group(signal.SIGTERM)
        try:
            self._reap(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal_group(self, signum: int) -> None:
        if self._process is None or self._process.returncode is not None:
            return
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            pass  # already gone

    def _reap(self, *, timeout: float) -> None:
        # Only the master is ours to wait for; killed workers hold no locks (the kernel drops them).
        if self._process is not None:
            self._process.wait(timeout=timeout)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        logs = sorted(self.workdir.glob("serve-*.log"))
        return "\n".join(path.read_text(errors="replace")[-4000:] for path in logs)


LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO locks (name, owner, expires_at) VALUES ('busy-test', 'other', '2099-01-01T00:00:00Z')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("DELETE FROM locks WHERE name = 'busy-test'")
conn.execute("COMMIT")
print("committed", flush=True)
"""


class WriteLockHolder:
    """Another process that takes the database's write lock (`BEGIN IMMEDIATE`) and holds it."""

    def __init__(self, database: Path, *, seconds: float) -> None:
        self.database = database
        self.seconds = seconds
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> WriteLockHolder:
        self._process = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(self.database), str(self.seconds)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if line != "locked":
            self.__exit__()
            raise AssertionError(f"the lock holder did not take the lock (said {line!r})")
        return self

    def wait(self) -> str:
        """Wait until it committed; returns what it printed after taking the lock."""
        assert self._process is not None and self._process.stdout is not None
        out = self._process.stdout.read()
        self._process.wait(timeout=30)
        return out.strip()

    def __exit__(self, *exc_info: object) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None
