"""Webhook intake benchmark: the service's POST /webhooks/zoom against a bare Flask endpoint, both under gunicorn.

    .venv/bin/python bench/webhook_intake.py [--seconds 15] [--connections 16] [--workers 2]
                                             [--generator wrk|python] [--pieces] [--pieces-repeat 300]

Both servers run with `homeroom serve`'s gunicorn settings (sync workers, preload, access log); the bare
one is bench/bare_app.py. The service gets a temporary database with the real migrations and module 1's
meeting and week-1 session, so every `meeting.participant_joined` is verified and stored durably,
as in production; after the run the deliveries are processed into presence edges as the service's next
attendance read does. Every request carries a distinct
body (participant user_id and join_time), signed at start with a timestamp inside the replay window, so
nothing is deduplicated. After the run the stored deliveries are counted against the unique events
answered 2xx.

The load generator is wrk (with a Lua script that cycles through pre-signed bodies) when installed,
else Python threads over http.client; `--generator` picks one. When a target is missed (or with
`--pieces`), bench/intake_pieces.py times the pieces of one delivery in-process: HMAC, JSON, the
transaction with synchronous=FULL and NORMAL, the whole request, and two writers contending for the lock.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import itertools
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from intake_common import CALENDAR_PATH, MEETING_ID, ROOT, SLOTS, WEBHOOK_PATH, BodyMaker, prepare_database

TARGET_RATIO = 0.35
TARGET_P99_MS = 25.0
# Enough distinct signed bodies for this many requests a second; a run faster than that repeats
# bodies (counted and reported), which the service would store once.
MAX_RATE = 10_000
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0


# -- the database after the run -----------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    deliveries: int
    processed_ok: int
    pending: int
    other_outcomes: dict[str, int]
    presence: int
    user_ids: frozenset[str]


def process_stored(path: Path) -> tuple[int, float]:
    """Process the stored deliveries as the service does after intake (the next attendance read, or
    the scheduler's minute job); returns how many and the seconds it took."""
    from zoom_homeroom.services.intake import process_pending
    from zoom_homeroom.settings import load_calendar
    from zoom_homeroom.storage import Storage

    storage = Storage.open(path, migrate=False)
    try:
        started = time.perf_counter()
        done = process_pending(storage, load_calendar(CALENDAR_PATH), now=dt.datetime.now(dt.UTC))
        return done, time.perf_counter() - started
    finally:
        storage.close()


def count_stored(path: Path) -> Stored:
    """What the service stored, read after it stopped (and its deliveries were processed)."""
    conn = sqlite3.connect(path)
    try:
        outcomes = dict(
            conn.execute(
                "SELECT coalesce(outcome, 'pending'), count(*) FROM webhook_deliveries GROUP BY 1"
            ).fetchall()
        )
        user_ids = frozenset(
            row[0]
            for row in conn.execute(
                "SELECT json_extract(body, '$.payload.object.participant.user_id') FROM webhook_deliveries"
            )
        )
        presence = conn.execute("SELECT count(*) FROM presence").fetchone()[0]
    finally:
        conn.close()
    ok = outcomes.pop("ok", 0)
    pending = outcomes.pop("pending", 0)
    total = ok + pending + sum(outcomes.values())
    return Stored(total, ok, pending, outcomes, presence, user_ids)


# -- servers ---------------------------------------------------------------------------------------


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


def service_env(tmp: Path, secret: str) -> dict[str, str]:
    """The process environment minus any ZOOM_/HOMEROOM_/SLACK_ settings, plus the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOM_", "HOMEROOM_", "SLACK_"))}
    env.update(
        HOMEROOM_DATABASE=str(tmp / "homeroom.db"),
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


# -- load generators -------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """One load run's figures, as the generator measured them."""

    seconds: float
    requests: int
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    repeated_bodies: int = 0
    answered_ids: set[str] | None = None  # exact, from the Python generator only

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def answered_2xx(self) -> int:
        return self.requests - self.non_2xx


WRK_SCRIPT = """-- Written by bench/webhook_intake.py: POST pre-signed, distinct webhook bodies.
local chunks = {%(chunks)s}
local slots = {%(slots)s}
local counter, threads = 0, {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local nthreads, line = tonumber(args[2]), 0
  signatures, join_times, indexes = {}, {}, {}
  for text in io.lines(args[1]) do
    if line %% nthreads == id - 1 then
      local sig, joined = text:match("^(%%S+) (%%S+)$")
      table.insert(signatures, sig)
      table.insert(join_times, joined)
      table.insert(indexes, tostring(line))
    end
    line = line + 1
  end
  sent, repeated = 0, 0
  headers = {["Content-Type"] = "application/json", ["x-zm-request-timestamp"] = args[3]}
end

function request()
  sent = sent + 1
  if sent > #signatures then repeated = repeated + 1 end
  local k = (sent - 1) %% #signatures + 1
  local values = {index = indexes[k], join_time = join_times[k]}
  local parts = {}
  for i, slot in ipairs(slots) do
    parts[#parts + 1] = chunks[i]
    parts[#parts + 1] = values[slot]
  end
  parts[#parts + 1] = chunks[#chunks]
  headers["x-zm-signature"] = signatures[k]
  return wrk.format("POST", nil, headers, table.concat(parts))
end

function done(summary, latency, requests)
  local total_repeated = 0
  for _, thread in ipairs(threads) do total_repeated = total_repeated + thread:get("repeated") end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%%d duration_us=%%d non_2xx=%%d socket_errors=%%d p50_us=%%d p99_us=%%d repeated=%%d\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), total_repeated))
end
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_wrk(
    url: str, maker: BodyMaker, *, seconds: float, connections: int, tmp: Path, unique: bool
) -> LoadResult:
    """Drive `url` with wrk for `seconds`; `unique=False` reuses a small set of bodies (the bare app)."""
    count = int(seconds * MAX_RATE) if unique else 2_000
    signatures = tmp / ("signatures.txt" if unique else "signatures-bare.txt")
    with signatures.open("w", encoding="ascii") as out:
        for index in range(count):
            body = maker.body(index)
            out.write(f"{maker.signature(body)} {maker.join_time(index)}\n")
    script = tmp / "intake.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "chunks": ", ".join(lua_string(chunk) for chunk in maker.chunks()),
            "slots": ", ".join(f'"{slot}"' for slot in SLOTS),
        },
        encoding="utf-8",
    )
    threads = max(1, min(os.cpu_count() or 1, connections))
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
        "--",
        str(signatures),
        str(threads),
        maker.timestamp,
    ]
    output = _run_child(command)
    line = next((text for text in output.splitlines() if text.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    fields = dict(item.split("=") for item in line.split()[1:])
    return LoadResult(
        seconds=int(fields["duration_us"]) / 1e6,
        requests=int(fields["requests"]),
        non_2xx=int(fields["non_2xx"]),
        socket_errors=int(fields["socket_errors"]),
        p50_ms=int(fields["p50_us"]) / 1000,
        p99_ms=int(fields["p99_us"]) / 1000,
        repeated_bodies=int(fields["repeated"]) if unique else 0,
    )


def _run_child(command: list[str]) -> str:
    """Run a child in its own session and return its output; Ctrl-C stops it by its id."""
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True
    )
    try:
        output, _ = child.communicate()
    finally:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    if child.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {child.returncode}:\n{output}")
    return output


def run_python(port: int, maker: BodyMaker, *, seconds: float, connections: int, unique: bool) -> LoadResult:
    """Drive the endpoint from `connections` threads, one http.client connection each (reopened
    whenever gunicorn's sync worker closes it, which is after every response)."""
    indexes = itertools.count()
    index_lock = threading.Lock()
    stop = threading.Event()
    results: list[tuple[float, int, str]] = []  # (latency s, status or 0, participant index)
    results_lock = threading.Lock()

    def next_index() -> int:
        with index_lock:
            index = next(indexes)
        return index if unique else index % 2_000

    def worker() -> None:
        local: list[tuple[float, int, str]] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            index = next_index()
            body = maker.body(index)
            headers = maker.headers(body)
            began = time.perf_counter()
            try:
                conn.request("POST", WEBHOOK_PATH, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
            local.append((time.perf_counter() - began, status, str(index)))
        conn.close()
        with results_lock:
            results.extend(local)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    began = time.perf_counter()
    for thread in pool:
        thread.start()
    try:
        stop.wait(seconds)
    finally:  # also on Ctrl-C: each thread finishes its request in hand, then the servers are stopped
        stop.set()
        for thread in pool:
            thread.join()
    elapsed = time.perf_counter() - began
    latencies = sorted(latency for latency, _, _ in results)
    statuses: dict[int, int] = {}
    for _, status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    ok = {f"bench-{index}" for _, status, index in results if 200 <= status < 300}
    socket_errors = statuses.get(0, 0)
    return LoadResult(
        seconds=elapsed,
        requests=len(results) - socket_errors,
        non_2xx=sum(n for status, n in statuses.items() if status and not 200 <= status < 300),
        socket_errors=socket_errors,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        answered_ids=ok,
    )


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


# -- the report --------------------------------------------------------------------------------------


def machine_lines(tmp: Path, generator: str) -> list[str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    lines = [
        f"machine: {os.cpu_count()} CPUs ({model}), {platform.platform()}",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, temp dir {tmp} on {filesystem_of(tmp)}",
    ]
    lines.append(
        f"load average before the runs: {load_average()} (other work on this machine skews the figures)"
    )
    if generator == "wrk":
        wrk = subprocess.run(
            [shutil.which("wrk") or "wrk", "-v"], capture_output=True, text=True, check=False
        )
        version = (wrk.stdout + wrk.stderr).splitlines()
        lines.append(f"load generator: {version[0] if version else 'wrk'}")
    else:
        lines.append("load generator: Python threads over http.client (wrk not used)")
    return lines


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def filesystem_of(path: Path) -> str:
    """`ext4 (/dev/vda on /)`: the mount holding `path`, from /proc/mounts."""
    target = os.path.realpath(path)
    best = ("?", "?", "?")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best[1]):
                best = (device, mount, kind)
    return f"{best[2]} ({best[0]} on {best[1]})"


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def report(bare: LoadResult, service: LoadResult, stored: Stored, connections: int) -> bool:
    """Print the figures and the targets; True when every target is met."""
    print_load(bare, service)
    ratio = service.per_second / bare.per_second if bare.per_second else 0.0
    print(f"ratio service / bare: {ratio:.3f}")
    missing = print_accounting(service, stored, connections)
    checks = [
        (f"ratio >= {TARGET_RATIO}", ratio >= TARGET_RATIO, f"{ratio:.3f}"),
        (f"service p99 < {TARGET_P99_MS:g} ms", service.p99_ms < TARGET_P99_MS, f"{service.p99_ms:.2f} ms"),
        (
            "nothing lost (every 2xx stored and processed)",
            missing == 0 and service.non_2xx == 0,
            f"{missing} missing or unprocessed, {service.non_2xx} non-2xx",
        ),
    ]
    print()
    for name, met, value in checks:
        print(f"target {name}: {'met' if met else 'MISSED'} ({value})")
    return all(met for _, met, _ in checks)


def print_load(bare: LoadResult, service: LoadResult) -> None:
    header = ["", "requests", "seconds", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors"]
    rows = [
        [
            name,
            str(r.requests),
            f"{r.seconds:.1f}",
            f"{r.per_second:.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            str(r.non_2xx),
            str(r.socket_errors),
        ]
        for name, r in (("bare Flask 204", bare), ("service /webhooks/zoom", service))
    ]
    print()
    print_table([header, *rows])


def print_accounting(service: LoadResult, stored: Stored, connections: int) -> int:
    """Stored deliveries against the unique events answered 2xx; returns how many are missing or
    not processed."""
    answered = service.answered_2xx - service.repeated_bodies
    print()
    print(f"unique events answered 2xx:       {answered}")
    print(f"rows in webhook_deliveries:       {stored.deliveries}")
    print(f"  processed (outcome ok):         {stored.processed_ok}")
    print(f"  pending:                        {stored.pending}")
    for outcome, n in sorted(stored.other_outcomes.items()):
        print(f"  outcome {outcome}:".ljust(34) + str(n))
    print(f"presence edges stored:            {stored.presence}")
    if service.repeated_bodies:
        print(f"(the run outpaced the {MAX_RATE}/s of signed bodies: {service.repeated_bodies} repeats)")
    if service.answered_ids is not None:
        missing = len(service.answered_ids - stored.user_ids)
        print(f"answered 2xx but not stored (by participant id): {missing}")
    else:
        # wrk cannot pair answers with bodies, so counts are compared. A request cut off by wrk's stop
        # may still have been stored: stored may exceed answered by up to one per connection.
        missing = max(0, answered - stored.deliveries)
        extra = stored.deliveries - answered
        print(
            f"stored minus answered: {extra} (0..{connections} expected: requests in flight when wrk stopped)"
        )
    return missing + stored.pending + sum(stored.other_outcomes.values())


# -- main --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each load run (default 15)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn sync workers of each server (default 2)"
    )
    parser.add_argument(
        "--generator",
        choices=("wrk", "python"),
        default=None,
        help="load generator (default: wrk when installed, else python)",
    )
    parser.add_argument(
        "--pieces", action="store_true", help="time the pieces of a delivery even if targets are met"
    )
    parser.add_argument(
        "--pieces-repeat", type=int, default=300, help="iterations per timed piece (default 300)"
    )
    return parser.parse_args()


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so the finally blocks stop the servers and remove the files."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> int:
    args = parse_args()
    generator = args.generator or ("wrk" if shutil.which("wrk") else "python")
    if generator == "wrk" and not shutil.which("wrk"):
        print("wrk is not installed (Debian: apt-get install wrk); use --generator python", file=sys.stderr)
        return 2
    with interrupt_on_sigterm(), tempfile.TemporaryDirectory(prefix="homeroom-bench-") as name:
        tmp = Path(name)
        try:
            return run(args, generator, tmp)
        except KeyboardInterrupt:
            print("\ninterrupted: servers stopped, temporary files removed", file=sys.stderr)
            return 130


def run(args: argparse.Namespace, generator: str, tmp: Path) -> int:
    for line in machine_lines(tmp, generator):
        print(line)
    secret = secrets.token_hex(16)
    session, day_start = prepare_database(tmp / "homeroom.db")
    maker = BodyMaker(secret, str(int(time.time())), session, day_start)
    print(
        f"gunicorn: {args.workers} sync workers each, {args.connections} connections, {args.seconds:g} s per run; "
        f"events for session {session.key} (meeting {MEETING_ID})"
    )
    env = service_env(tmp, secret)
    bare = Server(
        "bare app",
        [sys.executable, str(ROOT / "bench" / "bare_app.py"), *server_flags(args.workers)],
        env=env,
        cwd=tmp,
        log=tmp / "bare.log",
    )
    service = Server(
        "service",
        [sys.executable, "-m", "zoom_homeroom.cli", "serve", *server_flags(args.workers)],
        env=env,
        cwd=tmp,
        log=tmp / "service.log",
    )
    try:
        bare.start(WEBHOOK_PATH)
        service.start("/healthz")
        warm_up(bare.port, WEBHOOK_PATH)
        warm_up(service.port, "/healthz")
        results = {}
        for server, unique in ((bare, False), (service, True)):
            print(f"running {server.name} (load average {load_average()}) ...", flush=True)
            if generator == "wrk":
                url = f"http://127.0.0.1:{server.port}{WEBHOOK_PATH}"
                results[server.name] = run_wrk(
                    url, maker, seconds=args.seconds, connections=args.connections, tmp=tmp, unique=unique
                )
            else:
                results[server.name] = run_python(
                    server.port, maker, seconds=args.seconds, connections=args.connections, unique=unique
                )
    finally:
        bare.stop()
        service.stop()
    problems = service.error_lines()
    if problems:
        print(f"service log: {len(problems)} unexpected lines, e.g.:")
        for line in problems[:5]:
            print(f"  {line}")
    processed, seconds = process_stored(tmp / "homeroom.db")
    print(
        f"processed after intake (as the next attendance read does): {processed} deliveries in "
        f"{seconds:.2f} s ({processed / max(seconds, 1e-9):.0f}/s, one process)"
    )
    met = report(results["bare app"], results["service"], count_stored(tmp / "homeroom.db"), args.connections)
    if args.pieces or not met:
        from intake_pieces import print_pieces, time_pieces

        print_pieces(time_pieces(tmp, maker, args.pieces_repeat))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
