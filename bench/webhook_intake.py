"""Webhook intake benchmark: the service's POST /webhooks/zoom against a bare Flask endpoint, both under gunicorn.

    .venv/bin/python bench/webhook_intake.py [--seconds 15] [--connections 16] [--workers 2]
                                             [--generator wrk|python] [--access-log]
                                             [--rate 500] [--no-pieces] [--pieces-repeat 300]

Both servers run with `homeroom serve`'s gunicorn settings (`zoom_homeroom.web.server.gunicorn_options`:
the threaded ThreadWorker, preload, keepalive) and, by default, no access log: the strict comparison.
The bare one is bench/bare_app.py. `--access-log` runs both again with gunicorn's access log and prints
that ratio beside the strict one. The service gets a temporary database with the real migrations and
module 1's meeting and week-1 session, so every `meeting.participant_joined` is verified and stored
durably, as in production; after the run the deliveries are processed into presence edges as the
service's next attendance read does. Every request carries a distinct body (participant user_id and
join_time), signed at start with a timestamp inside the replay window, so nothing is deduplicated. After
the run the stored deliveries are counted against the unique events answered 2xx.

The load generator is wrk (with a Lua script that cycles through pre-signed bodies) when installed,
else Python threads over http.client; `--generator` picks one. Besides requests a second and latency,
each server's CPU time per request is read from /proc.

Those runs are closed loops: each connection sends its next request when the last is answered, so they
measure how many deliveries a second a server can take, and their latency is the queue that the 16
connections build at that rate (Little's law: connections / throughput), not what Zoom meets. So
`--rate` (default 500 a second, well above a whole cohort's join and room-move peak; 0 skips it) then
drives fresh servers on a fixed timetable with Python threads and reports the latency from each
request's scheduled time; the p99 target is that run's. Then bench/intake_pieces.py times the pieces of
one delivery in-process (skip with `--no-pieces`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import interrupt_on_sigterm, print_rows
from intake_common import CALENDAR_PATH, MEETING_ID, ROOT, WEBHOOK_PATH, BodyMaker, prepare_database
from intake_load import MAX_RATE, LoadResult, run_python, run_wrk
from intake_servers import Server, server_flags, service_env, warm_up

from zoom_homeroom.services.intake import process_pending
from zoom_homeroom.settings import load_calendar
from zoom_homeroom.storage import Storage
from zoom_homeroom.web.server import REQUEST_READ_SECONDS, THREADS

TARGET_RATIO = 0.5
TARGET_P99_MS = 10.0
DEFAULT_RATE = 500.0


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


@dataclass(frozen=True)
class PairResult:
    """One side-by-side run: the bare endpoint, then the service, with the same gunicorn settings."""

    access_log: bool
    bare: LoadResult
    service: LoadResult
    stored: Stored

    @property
    def label(self) -> str:
        return "with the access log" if self.access_log else "no access log (strict)"

    @property
    def ratio(self) -> float:
        return self.service.per_second / self.bare.per_second if self.bare.per_second else 0.0


def report(pair: PairResult, connections: int) -> bool:
    """Print one pair's figures and its targets; True when every target is met. The ratio and p99
    targets are the strict run's (no access log); every run must lose nothing."""
    print(f"\n== {pair.label}")
    print_load(pair.bare, pair.service)
    print(f"ratio service / bare, {pair.label}: {pair.ratio:.3f}")
    if pair.bare.cpu_ms_per_request and pair.service.cpu_ms_per_request:
        cpu_ratio = pair.bare.cpu_ms_per_request / pair.service.cpu_ms_per_request
        print(
            f"  server CPU per request, bare / service: {cpu_ratio:.3f} (steadier than req/s on a busy machine)"
        )
    missing = print_accounting(pair.service, pair.stored, connections)
    checks = [
        (
            "nothing lost (every 2xx stored and processed)",
            missing == 0 and pair.service.non_2xx == 0,
            f"{missing} missing or unprocessed, {pair.service.non_2xx} non-2xx",
        ),
    ]
    if not pair.access_log:
        checks[:0] = [(f"ratio >= {TARGET_RATIO}", pair.ratio >= TARGET_RATIO, f"{pair.ratio:.3f}")]
    queue_ms = connections / pair.service.per_second * 1000 if pair.service.per_second else 0.0
    print(
        f"closed loop: the service's mean latency is its queue, {connections} connections / "
        f"{pair.service.per_second:.0f} req/s = {queue_ms:.1f} ms (the p99 target is the steady run's)"
    )
    for name, met, value in checks:
        print(f"target {name}: {'met' if met else 'MISSED'} ({value})")
    return all(met for _, met, _ in checks)


def print_load(bare: LoadResult, service: LoadResult) -> None:
    header = [
        "",
        "requests",
        "seconds",
        "req/s",
        "p50 ms",
        "p99 ms",
        "CPU ms/req",
        "non-2xx",
        "socket errors",
    ]
    rows = [
        [
            name,
            str(r.requests),
            f"{r.seconds:.1f}",
            f"{r.per_second:.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            "?" if r.cpu_ms_per_request is None else f"{r.cpu_ms_per_request:.3f}",
            str(r.non_2xx),
            str(r.socket_errors),
        ]
        for name, r in (("bare Flask 204", bare), ("service /webhooks/zoom", service))
    ]
    print()
    print_rows([header, *rows])


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
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server (default 2)")
    parser.add_argument(
        "--generator",
        choices=("wrk", "python"),
        default=None,
        help="load generator (default: wrk when installed, else python)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="also run both servers with gunicorn's access log, and report that ratio beside the strict one",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"deliveries a second of the steady run, the p99 target's (default {DEFAULT_RATE:g}; 0 skips it)",
    )
    parser.add_argument(
        "--no-pieces", action="store_true", help="skip timing the pieces of a delivery in-process"
    )
    parser.add_argument(
        "--pieces-repeat", type=int, default=300, help="iterations per timed piece (default 300)"
    )
    return parser.parse_args()


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
    session, day_start = prepare_database(tmp / "pieces-template.db")
    maker = BodyMaker(secret, str(int(time.time())), session, day_start)
    print(
        f"gunicorn: {args.workers} workers of {THREADS} threads each (the service's ThreadWorker, "
        f"request-read deadline {REQUEST_READ_SECONDS:g} s), {args.connections} connections, "
        f"{args.seconds:g} s per run; events for session {session.key} (meeting {MEETING_ID})"
    )
    pairs = [
        run_pair(args, generator, tmp, maker, secret, access_log=access_log)
        for access_log in ((False, True) if args.access_log else (False,))
    ]
    met = [report(pair, args.connections) for pair in pairs]
    if args.rate > 0:
        met.append(report_steady(run_steady(args, tmp, maker, secret), args.rate))
    if len(pairs) == 2:
        print(
            f"\nratios side by side: {pairs[0].ratio:.3f} strict (no access log), "
            f"{pairs[1].ratio:.3f} with the access log"
        )
    if not args.no_pieces:
        # Imported here: the pieces build the app in this process (Flask), which the load runs do without.
        from intake_pieces import print_pieces, time_pieces

        print_pieces(time_pieces(tmp, maker, args.pieces_repeat))
    return 0 if all(met) else 1


def run_pair(
    args: argparse.Namespace, generator: str, tmp: Path, maker: BodyMaker, secret: str, *, access_log: bool
) -> PairResult:
    """Start both servers with the same settings, drive each in turn, stop them, count what was stored."""
    name = "log" if access_log else "strict"
    database = tmp / f"homeroom-{name}.db"
    bare, service = both_servers(args, tmp, database, secret, name=name, access_log=access_log)

    def load(server: Server, unique: bool) -> LoadResult:
        if generator == "wrk":
            url = f"http://127.0.0.1:{server.port}{WEBHOOK_PATH}"
            return run_wrk(
                url, maker, seconds=args.seconds, connections=args.connections, tmp=tmp, unique=unique
            )
        return run_python(
            server.port, maker, seconds=args.seconds, connections=args.connections, unique=unique
        )

    bare_result, service_result = drive_both(bare, service, load)
    processed, seconds = process_stored(database)
    print(
        f"processed after intake (as the next attendance read does): {processed} deliveries in "
        f"{seconds:.2f} s ({processed / max(seconds, 1e-9):.0f}/s, one process)"
    )
    return PairResult(access_log, bare_result, service_result, count_stored(database))


def both_servers(
    args: argparse.Namespace, tmp: Path, database: Path, secret: str, *, name: str, access_log: bool
) -> tuple[Server, Server]:
    """The bare app and the service with the same gunicorn settings; the service on a fresh `database`."""
    prepare_database(database)
    env = service_env(database, secret)
    log_flags = [] if access_log else ["--no-access-log"]
    bare = Server(
        f"bare app ({name})",
        [sys.executable, str(ROOT / "bench" / "bare_app.py"), *server_flags(args.workers), *log_flags],
        env=env,
        cwd=tmp,
        log=tmp / f"bare-{name}.log",
    )
    service = Server(
        f"service ({name})",
        [sys.executable, "-m", "zoom_homeroom.cli", "serve", *server_flags(args.workers), *log_flags],
        env=env,
        cwd=tmp,
        log=tmp / f"service-{name}.log",
    )
    return bare, service


def drive_both(
    bare: Server, service: Server, load: Callable[[Server, bool], LoadResult], *, label: str = ""
) -> tuple[LoadResult, LoadResult]:
    """Start both servers, drive each in turn with `load(server, unique bodies?)`, reading its CPU time
    around the run, and stop them (also on Ctrl-C); the service's unexpected log lines are printed."""
    results = []
    try:
        bare.start(WEBHOOK_PATH)
        service.start("/healthz")
        warm_up(bare.port, WEBHOOK_PATH)
        warm_up(service.port, "/healthz")
        for server, unique in ((bare, False), (service, True)):
            print(f"running {server.name}{label} (load average {load_average()}) ...", flush=True)
            cpu_before = server.cpu_seconds()
            result = load(server, unique)
            cpu_after = server.cpu_seconds()
            if cpu_before is not None and cpu_after is not None:
                result.server_cpu_seconds = cpu_after - cpu_before
            results.append(result)
    finally:
        bare.stop()
        service.stop()
    problems = service.error_lines()
    if problems:
        print(f"service log: {len(problems)} unexpected lines, e.g.:")
        for line in problems[:5]:
            print(f"  {line}")
    return results[0], results[1]


@dataclass(frozen=True)
class SteadyResult:
    bare: LoadResult
    service: LoadResult
    stored: Stored


def run_steady(args: argparse.Namespace, tmp: Path, maker: BodyMaker, secret: str) -> SteadyResult:
    """Both servers, fresh, driven in turn on a fixed timetable of `args.rate` deliveries a second."""
    database = tmp / "homeroom-steady.db"
    bare, service = both_servers(args, tmp, database, secret, name="steady", access_log=False)

    def load(server: Server, unique: bool) -> LoadResult:
        return run_python(
            server.port,
            maker,
            seconds=args.seconds,
            connections=args.connections,
            unique=unique,
            rate=args.rate,
        )

    bare_result, service_result = drive_both(bare, service, load, label=f" at {args.rate:g}/s")
    process_stored(database)
    return SteadyResult(bare_result, service_result, count_stored(database))


def report_steady(steady: SteadyResult, rate: float) -> bool:
    """Print the steady run's figures and its targets (p99, nothing lost); True when both are met."""
    print(f"\n== a steady {rate:g} deliveries a second (Python threads on a fixed timetable, no access log)")
    print_load(steady.bare, steady.service)
    missing = print_accounting(steady.service, steady.stored, 0)
    kept_up = steady.service.per_second >= 0.95 * rate
    checks = [
        (
            f"service p99 < {TARGET_P99_MS:g} ms at {rate:g}/s",
            steady.service.p99_ms < TARGET_P99_MS and kept_up,
            f"{steady.service.p99_ms:.2f} ms, {steady.service.per_second:.0f}/s answered",
        ),
        (
            "nothing lost at the steady rate",
            missing == 0 and steady.service.non_2xx == 0,
            f"{missing} missing or unprocessed, {steady.service.non_2xx} non-2xx",
        ),
    ]
    for name, met, value in checks:
        print(f"target {name}: {'met' if met else 'MISSED'} ({value})")
    return all(met for _, met, _ in checks)


if __name__ == "__main__":
    sys.exit(main())
