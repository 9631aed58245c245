"""The webhook intake benchmark's load generators: wrk with a generated Lua script when installed, else
Python threads over http.client. Both send distinct signed bodies and measure what was answered."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from intake_common import SLOTS, WEBHOOK_PATH, BodyMaker

# Enough distinct signed bodies for this many requests a second; a run faster than that repeats
# bodies (counted and reported), which the service would store once.
MAX_RATE = 10_000


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
    server_cpu_seconds: float | None = None  # the server's processes, during the run

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds * 1000 / self.requests

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


def run_python(
    port: int,
    maker: BodyMaker,
    *,
    seconds: float,
    connections: int,
    unique: bool,
    rate: float | None = None,
    first_index: int = 0,
) -> LoadResult:
    """Drive the endpoint from `connections` threads, one kept-alive http.client connection each
    (reopened whenever the server closes it).

    Without `rate`, each thread sends its next request as soon as the last is answered (a closed loop:
    it measures how many the server can take). With `rate`, the requests are sent on a fixed timetable
    of `rate` a second in all, whatever the answers do, and each latency runs from the request's
    scheduled time: a server that falls behind is charged for the wait of the requests queued behind
    the slow one, as Zoom's would be (no "coordinated omission")."""
    indexes = itertools.count(first_index)
    index_lock = threading.Lock()
    stop = threading.Event()
    results: list[tuple[float, int, str]] = []  # (latency s, status or 0, participant index)
    results_lock = threading.Lock()

    def next_index() -> int:
        with index_lock:
            index = next(indexes)
        return index if unique else index % 2_000

    def worker(number: int) -> None:
        local: list[tuple[float, int, str]] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for sent in itertools.count():
            if stop.is_set():
                break
            index = next_index()
            body = maker.body(index)
            headers = maker.headers(body)
            began = time.perf_counter()
            if rate:
                # This thread's share of the timetable: requests number, number + connections, ...
                scheduled = start + (sent * connections + number) / rate
                if scheduled > began:
                    if stop.wait(scheduled - began):
                        break
                began = scheduled
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

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(connections)]
    began = start = time.perf_counter()
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
