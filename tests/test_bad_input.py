"""Property-based bad input: webhook bodies and headers, roster and poll CSVs, calendar files.

Every case gets a clean 4xx or a one-line message, never a 500 or a traceback, and a rejected input
stores nothing. Runs are derandomized, so a failure found once is found again.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from tests.factories import CALENDAR_DOC, calendar_toml
from tests.webhook_bodies import (
    URL,
    delivery_count,
    delivery_digests,
    participant_event,
    signed_headers,
    store_known_session,
)
from zoom_homeroom.cli import cli
from zoom_homeroom.core.roster import parse_roster, roster_changes
from zoom_homeroom.services import mixitup
from zoom_homeroom.services.intake import process_pending
from zoom_homeroom.settings import ConfigError, load_calendar

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(FUZZ, max_examples=40)

MAX_WEBHOOK_BYTES = 256 * 1024
# The route refuses bodies nested deeper than this (issue 12: processing must be able to read them back).
MAX_WEBHOOK_NESTING = 32
HANDLED_EVENTS = (
    "meeting.participant_joined",
    "meeting.participant_left",
    "meeting.participant_joined_breakout_room",
    "meeting.participant_left_breakout_room",
    "meeting.started",
    "meeting.ended",
)
# Strings that have broken parsers before: control and bidi characters, a lone surrogate (JSON can
# escape one; UTF-8 cannot carry it), superscript digits (str.isdigit() says yes, int() says no),
# formulas, HTML, times out of range, and sizes around the limits.
NASTY_TEXT = (
    "",
    " ",
    "\x00",
    "\ud800",
    "\u202eevil",
    "²",
    "١٢",
    "💥" * 20,
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "<script>alert(1)</script>",
    "Ada\r\nLovelace",
    "2027-13-45T25:61:00Z",
    "2027-01-06T20:01:00",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T03:00:00Z",
    "9999-12-31T23:59:59-12:00",
    "NaN",
    "x" * 5000,
)
text_values = st.sampled_from(NASTY_TEXT) | st.text(max_size=30)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | text_values
)
odd_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


# -- webhooks ----------------------------------------------------------------------------------------

PARTICIPANT_PATHS = (
    ("event_ts",),
    ("payload",),
    ("payload", "object"),
    ("payload", "object", "id"),
    ("payload", "object", "uuid"),
    ("payload", "object", "start_time"),
    ("payload", "object", "breakout_room_uuid"),
    ("payload", "object", "participant"),
    ("payload", "object", "participant", "join_time"),
    ("payload", "object", "participant", "leave_time"),
    ("payload", "object", "participant", "user_name"),
    ("payload", "object", "participant", "email"),
    ("payload", "object", "participant", "user_id"),
    ("payload", "object", "participant", "id"),
)
DELETE = object()


def replaced(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `body` with the value at `path` replaced (or removed, for DELETE); missing parents are
    left alone, since an earlier change may have replaced them with a non-object."""
    body = copy.deepcopy(body)
    parent: Any = body
    for key in path[:-1]:
        if not isinstance(parent, dict) or not isinstance(parent.get(key), dict):
            return body
        parent = parent[key]
    if value is DELETE:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return body


@st.composite
def odd_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A handled event whose fields have wrong types, odd formats or are missing."""
    body = participant_event(
        event=draw(st.sampled_from(HANDLED_EVENTS)),
        user_id=draw(st.text(min_size=1, max_size=12)),
        at=draw(st.sampled_from(["2027-01-06T20:01:00Z", "2027-01-06T13:01:00-07:00"]) | text_values),
    )
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PARTICIPANT_PATHS))
        body = replaced(body, path, draw(st.just(DELETE) | odd_values))
    return body


def mutate(raw: bytes, operations: list[tuple[str, int, bytes]]) -> bytes:
    """Apply byte-level edits: flip a bit, delete a run, insert bytes."""
    data = bytearray(raw)
    for operation, position, payload in operations:
        index = position % (len(data) + 1)
        if operation == "flip" and index < len(data):
            data[index] ^= 1 << (payload[0] % 8 if payload else 0)
        elif operation == "delete":
            del data[index : index + 1 + len(payload)]
        elif operation == "insert":
            data[index:index] = payload
    return bytes(data)


byte_edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "delete", "insert"]),
        st.integers(0, 10**6),
        st.binary(max_size=6) | st.sampled_from([b"\xff", b"\x00", b'"', b"{", b"\\ud800", b"\xed\xa0\x80"]),
    ),
    min_size=1,
    max_size=4,
)


def deeply_nested(depth: int) -> bytes:
    return b'{"event": "meeting.participant_joined", "payload": ' + b"[" * depth + b"]" * depth + b"}"


def huge_string_body(size: int) -> bytes:
    return json.dumps(participant_event(name="x" * size)).encode()


def acceptable(raw: bytes) -> bool:
    """Whether a properly signed body must be accepted: a UTF-8 JSON object with a non-empty `event`,
    whose strings are all real Unicode (a lone `\\ud800` escape cannot be stored as text), nested at
    most MAX_WEBHOOK_NESTING levels (deeper ones processing could not read back safely)."""
    if len(raw) > MAX_WEBHOOK_BYTES:
        return False
    try:
        body = json.loads(raw.decode("utf-8"))
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        return False
    if nesting(body) > MAX_WEBHOOK_NESTING:
        return False
    return isinstance(body, dict) and isinstance(body.get("event"), str) and bool(body["event"])


def nesting(value: object) -> int:
    """Levels of objects and arrays: `{}` is 1, `{"a": [[]]}` is 3 (counted without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


@pytest.fixture
def known_session(storage, clock):
    return store_known_session(storage, now=clock())


header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
header_values = (
    st.none() | header_text | st.from_regex(r"\A(v0=)?[0-9a-f]{0,70}\Z") | st.from_regex(r"\A[0-9]{1,14}\Z")
)


@FUZZ
@given(
    body=st.binary(max_size=2000) | st.builds(lambda b: json.dumps(b).encode(), odd_bodies()),
    signature=header_values,
    timestamp=header_values,
    request_id=st.none() | header_text,
)
def test_unsigned_or_badly_signed_deliveries_are_401_and_store_nothing(
    client, storage, body, signature, timestamp, request_id
):
    headers = {
        name: value
        for name, value in (
            ("x-zm-signature", signature),
            ("x-zm-request-timestamp", timestamp),
            ("x-zm-request-id", request_id),
        )
        if value is not None
    }
    before = delivery_count(storage)
    response = client.post(URL, data=body, headers=headers)
    event(f"status {response.status_code}")
    assert response.status_code in (400, 401, 413), response.data
    assert response.is_json
    assert delivery_count(storage) == before


@FUZZ
@given(edits=byte_edits)
def test_a_body_altered_after_signing_is_401_and_stores_nothing(client, storage, clock, known_session, edits):
    raw = json.dumps(participant_event()).encode()
    headers = signed_headers(raw, at=clock())
    altered = mutate(raw, edits)
    before = delivery_count(storage)
    response = client.post(URL, data=altered, headers=headers)
    if altered == raw:
        assert response.status_code == 204
    else:
        assert response.status_code == 401, response.data
        assert delivery_count(storage) == before


@FUZZ
@given(
    raw=st.one_of(
        st.builds(mutate, st.just(json.dumps(participant_event()).encode()), byte_edits),
        st.builds(lambda b: json.dumps(b).encode(), odd_bodies()),
        st.builds(deeply_nested, st.integers(1, 40) | st.integers(5_000, 120_000)),
        st.builds(huge_string_body, st.sampled_from([1_000, 200_000, 300_000])),
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    )
)
@example(raw=b'{"event": "\\ud800"}')
@example(raw=b'{"event": "meeting.ended", "payload": {"object": {"id": "\\udc00"}}}')
@example(raw=b'\xef\xbb\xbf{"event": "x"}')
@example(raw="{}".encode("utf-16"))
def test_a_properly_signed_body_is_stored_only_when_it_is_a_json_object_with_an_event(
    client, storage, clock, known_session, raw
):
    before = delivery_count(storage)
    response = client.post(URL, data=raw, headers=signed_headers(raw, at=clock()))
    event(f"status {response.status_code}")
    assert response.status_code in (200, 204, 400, 413), response.data
    if not acceptable(raw):
        assert response.status_code in (400, 413)
        assert response.is_json
        assert delivery_count(storage) == before
        return
    if json.loads(raw)["event"] == "endpoint.url_validation":
        assert response.status_code in (200, 400)
        assert delivery_count(storage) == before
        return
    assert response.status_code == 204
    assert hashlib.sha256(raw).hexdigest() in delivery_digests(storage)


@FUZZ
@given(body=odd_bodies())
@example(body=participant_event(at="0001-01-01T00:00:00+01:00"))
@example(body=participant_event(at="0001-01-01T03:00:00Z"))
@example(body=participant_event(at="9999-12-31T23:59:59-12:00"))
@example(body=replaced(participant_event(), ("payload", "object", "id"), 85746065432))
@example(body=replaced(participant_event(), ("payload", "object", "id"), {"nested": [1, 2]}))
@example(body=replaced(participant_event(), ("payload", "object", "participant"), DELETE))
def test_signed_but_odd_events_are_answered_2xx_kept_and_processed(
    client, storage, calendar, clock, known_session, body
):
    raw = json.dumps(body).encode()
    assume(acceptable(raw))  # a lone surrogate makes it unacceptable: the test above covers that
    response = client.post(URL, data=raw, headers=signed_headers(raw, at=clock()))
    assert response.status_code == 204, response.data  # a 4xx or 5xx would make Zoom retry for days
    process_pending(storage, calendar, now=clock())  # what the next attendance read does
    row = storage.db.execute(
        "SELECT processed_at, outcome, error FROM webhook_deliveries WHERE digest = ?",
        [hashlib.sha256(raw).hexdigest()],
    ).fetchone()
    assert row is not None, "a signed delivery must be kept"
    processed_at, outcome, error = row
    event(f"outcome {outcome}")
    # Kept and settled: an unusable event is 'invalid', never an error left pending for every restart.
    assert outcome in ("ok", "ignored", "unknown_meeting", "invalid"), error
    assert processed_at is not None


@FUZZ
@given(timestamp=st.from_regex(r"\A[0-9]{1,12}\Z") | st.sampled_from(["999999999999", "0", "253402300800"]))
def test_a_signed_delivery_with_any_timestamp_is_204_or_401(client, storage, clock, known_session, timestamp):
    raw = json.dumps(participant_event(user_id=f"t{timestamp}")).encode()
    response = client.post(URL, data=raw, headers=signed_headers(raw, timestamp=timestamp))
    sent = int(timestamp)
    fresh = clock().timestamp() - 2 * 3600 <= sent <= clock().timestamp() + 300
    assert response.status_code == (204 if fresh else 401), response.data


# -- roster and poll CSVs ----------------------------------------------------------------------------

ROSTER_COLUMNS = ("name", "email", "module", "program", "group", "aliases")
GOOD_ROSTER_ROWS = (
    ("Ada Lovelace", "ada@x.org", "1", "BE", "1", ""),
    ("Alan Turing", "alan@x.org", "1", "FE", "2", "Al T.;alan.t@x.org"),
    ("Grace Hopper", "grace@x.org", "2", "BE", "#1", ""),
)
HUGE_FIELD = "x" * 200_000  # past csv's field size limit
csv_cells = (
    st.sampled_from(NASTY_TEXT)
    | st.sampled_from(["1", "2", "#3", "0", "-1", "99", "1.5", "ada@x.org", "a@b", "José Ñúñez", "x" * 300])
    | st.just(HUGE_FIELD)
    | st.text(max_size=20)
)


def render_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace" if encoding != "utf-8" else "surrogatepass")


@st.composite
def roster_files(draw: st.DrawFn) -> bytes:
    """Roster-like CSVs: shuffled or missing columns, good rows with nasty cells, odd encodings."""
    shuffled = st.permutations(ROSTER_COLUMNS).flatmap(lambda c: st.integers(3, 6).map(lambda n: c[:n]))
    columns = draw(st.sampled_from([ROSTER_COLUMNS, ROSTER_COLUMNS[:5]]) | shuffled)
    rows = []
    for good in draw(st.lists(st.sampled_from(GOOD_ROSTER_ROWS), max_size=3, unique=True)):
        cells = dict(zip(ROSTER_COLUMNS, good, strict=True))
        if draw(st.integers(0, 2)) == 0:  # one row in three carries a nasty cell
            cells[draw(st.sampled_from(ROSTER_COLUMNS))] = draw(csv_cells)
        rows.append([cells[column] for column in columns])
    text = render_csv(list(columns), rows)
    return encode(text, draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])))


def roster_state(storage) -> list[list[tuple]]:
    return [
        storage.db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        for table in ("students", "student_aliases", "group_moves")
    ]


def assert_clean_exit(result) -> None:
    """Exit 0 or 1 with a message; never a traceback or an exception other than click's SystemExit."""
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert "Error:" in result.output


@FUZZ
@given(
    data=st.one_of(
        roster_files(),
        st.binary(max_size=400)
        | st.text(max_size=400).map(lambda text: text.encode("utf-8", "surrogatepass")),
    )
)
@example(data="name,email,module,program,group\nAda,ada@x.org,²,BE,1\n".encode())
@example(data="name,email,module,program,group\nAda,ada@x.org,1,BE,²\n".encode())
@example(data="name,email,module,program,group\nJosé,jose@x.org,1,BE,1\n".encode("latin-1"))
@example(data="name,email,module,program,group\nAda,ada@x.org,1,BE,1\n".encode("utf-16"))
@example(data=b"name,email,module,program,group\nAda,ada@x.org,1,BE,1\x00\n")
@example(data=f"name,email,module,program,group\n{HUGE_FIELD},ada@x.org,1,BE,1\n".encode())
@example(data=render_csv(list(ROSTER_COLUMNS), [list(row) for row in GOOD_ROSTER_ROWS]).encode())
def test_roster_import_of_any_file_exits_cleanly_and_changes_nothing_on_error(
    runner, runtime, tmp_path, data
):
    path = tmp_path / "roster.csv"
    path.write_bytes(data)
    before = roster_state(runtime.storage)
    result = runner.invoke(cli, ["roster", "import", str(path)], obj=runtime)
    event(f"exit {result.exit_code}")
    assert_clean_exit(result)
    if result.exit_code == 1:
        assert roster_state(runtime.storage) == before
    else:
        assert "imported" in result.output


POLL_ROSTER = "name,email,module,program,group\nAda,ada@x.org,1,BE,1\nAlan,alan@x.org,2,FE,1\nGrace,grace@x.org,3,BE,1\n"


@pytest.fixture
def poll_runtime(runtime):
    """The runtime with three active students and an earlier import of week 2's poll."""
    students = parse_roster(
        POLL_ROSTER.encode(), filename="roster.csv", modules=runtime.calendar.module_numbers
    )
    changes = roster_changes(runtime.storage.students(active_only=False), students)
    runtime.storage.apply_roster(changes, today=dt.date(2027, 1, 5), now=runtime.now())
    ada = runtime.storage.student_by_email("ada@x.org")
    runtime.storage.replace_poll_answers(mixitup.week_date(runtime.calendar, 2), 2, [(ada.id, "Careers", 1)])
    return runtime


@st.composite
def poll_files(draw: st.DrawFn) -> bytes:
    shuffled = st.permutations(("email", "topic", "rank", "comment")).flatmap(
        lambda c: st.integers(1, 4).map(lambda n: c[:n])
    )
    columns = draw(st.sampled_from([("email", "topic"), ("email", "topic", "rank")]) | shuffled)
    good = {
        "email": st.sampled_from(["ada@x.org", "ALAN@x.org ", "grace@x.org", "nobody@x.org"]),
        "topic": st.sampled_from(["Careers", "Open source", "Interviews"]),
        "rank": st.sampled_from(["1", "2", "10", "11", "0", "²", "١", ""]),
        "comment": st.text(max_size=10),
    }
    rows = [
        # Three cells in four are plausible, so some files are valid and get imported.
        [draw(good[column] if draw(st.integers(0, 3)) else csv_cells) for column in columns]
        for _ in range(draw(st.integers(0, 5)))
    ]
    text = render_csv(list(columns), rows)
    return encode(text, draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])))


@FUZZ
@given(data=poll_files() | st.binary(max_size=300))
@example(data=b"email,topic,rank\nada@x.org,Careers,\xc2\xb2\n")
@example(data=b'email,topic\nada@x.org,<b>=HYPERLINK("x")</b>\n')
@example(data=b"email,topic\n\xe9@x.org,Careers\n")
@example(data=b"email,topic,rank\nada@x.org,Careers,1\nalan@x.org,Interviews,1\n")
def test_poll_import_of_any_file_exits_cleanly_and_changes_nothing_on_error(
    runner, poll_runtime, tmp_path, data
):
    path = tmp_path / "poll.csv"
    path.write_bytes(data)
    storage = poll_runtime.storage
    before = storage.db.execute("SELECT * FROM poll_answers ORDER BY rowid").fetchall()
    result = runner.invoke(cli, ["mixitup", "import-poll", str(path), "--week", "2"], obj=poll_runtime)
    event(f"exit {result.exit_code}")
    assert_clean_exit(result)
    if result.exit_code == 1:
        assert storage.db.execute("SELECT * FROM poll_answers ORDER BY rowid").fetchall() == before
    else:
        assert "answers from" in result.output


# -- calendar files ----------------------------------------------------------------------------------

TOML_LITERALS = (
    "2027-01-04",
    "2027-01-05",
    "9999-12-27",
    "0001-01-01",
    "13:00:00",
    "1979-05-27T07:32:00Z",
    "[]",
    "{}",
    "[[]]",
    "true",
    "-0",
    "1e999",
    "nan",
    "-inf",
    "99999999999999999999",
    '"America"',
    '"Mars/Base"',
    '"/etc/passwd"',
    '"../../etc/passwd"',
    '"' + "a" * 300 + '"',
    '"²²:00"',
    '"13:00"',
    '"\\u0000"',
    '"wednesday"',
    "[1, 2, 2]",
    '[1, "2"]',
    '["2027-01-20"]',
    "[2027-01-20]",
)
LEAF_PATHS = (
    ("timezone",),
    *(("sessions", key) for key in CALENDAR_DOC["sessions"]),
    *(("mix_it_up", key) for key in CALENDAR_DOC["mix_it_up"]),
    *(("attendance", key) for key in CALENDAR_DOC["attendance"]),
    *(("modules", 0, key) for key in ("number", "host", "week1_monday", "skip")),
    *(("modules", 1, key) for key in ("number", "week1_monday")),
)


def with_literal(text: str, line_index: int, literal: str) -> str:
    """Replace the value of the `key = value` line at `line_index` (modulo the count) with a literal."""
    lines = text.splitlines()
    assignments = [i for i, line in enumerate(lines) if " = " in line]
    index = assignments[line_index % len(assignments)]
    key = lines[index].split(" = ", 1)[0]
    lines[index] = f"{key} = {literal}"
    return "\n".join(lines) + "\n"


@st.composite
def calendar_texts(draw: st.DrawFn) -> bytes:
    """Calendar files: leaves re-typed, then literals swapped in, lines dropped or repeated, noise."""
    doc = copy.deepcopy(CALENDAR_DOC)
    for path in draw(st.lists(st.sampled_from(LEAF_PATHS), max_size=2)):
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(json_scalars | st.lists(st.integers(-5, 70), max_size=4))
    text = calendar_toml(doc)
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["literal", "drop", "repeat", "noise"]))
        lines = text.splitlines()
        index = draw(st.integers(0, len(lines) - 1))
        if how == "literal":
            text = with_literal(text, index, draw(st.sampled_from(TOML_LITERALS)))
        elif how == "drop":
            text = "\n".join(lines[:index] + lines[index + 1 :]) + "\n"
        elif how == "repeat":
            text = "\n".join(lines[: index + 1] + lines[index:]) + "\n"
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=10)) + text[at:]
    return text.encode("utf-8", "surrogatepass")


calendar_files = calendar_texts() | st.binary(max_size=200) | st.text(max_size=200).map(str.encode)


def assert_config_error(error: ConfigError, path: Path) -> None:
    assert error.problems
    for problem in error.problems:
        assert isinstance(problem, str) and problem.startswith(str(path)), problem
        assert "\n" not in problem


@FUZZ
@given(data=calendar_files)
@example(data=calendar_toml().replace('"America/Denver"', '"America"').encode())
@example(data=calendar_toml().replace('"America/Denver"', '"' + "a" * 300 + '"').encode())
@example(data=calendar_toml().replace('start = "13:00"', 'start = "1²:00"').encode())
@example(
    data=calendar_toml().replace('week1_monday = "2027-01-04"', 'week1_monday = "9999-12-27"', 1).encode()
)
@example(data=b"timezone = \xff\n")
def test_load_calendar_returns_a_calendar_or_raises_config_error_with_lines(tmp_path, data):
    path = tmp_path / "homeroom.toml"
    path.write_bytes(data)
    try:
        load_calendar(path)
    except ConfigError as error:
        event("ConfigError")
        assert_config_error(error, path)
    else:
        event("valid")


@FEW
@given(data=calendar_files)
@example(data=calendar_toml().replace('"America/Denver"', '"America"').encode())
def test_config_check_reports_problems_without_a_traceback(runner, env, tmp_path, data):
    path = tmp_path / "fuzzed.toml"
    path.write_bytes(data)
    result = runner.invoke(cli, ["config", "check"], env={**env, "HOMEROOM_CONFIG": str(path)})
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert f"problem: {path}" in result.output
    else:
        assert "ok:" in result.output
