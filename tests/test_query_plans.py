"""The reads that every page makes go from the chosen sessions to their records, never through every
attendance record of the years kept (bench/reading.py measures what a scan costs: 45 ms a read against
5 ms over a year's history). SQLite's query plan says which it does, whatever the table sizes."""

from __future__ import annotations

import datetime as dt

import pytest

from zoom_homeroom.storage import Storage


def plans(storage: Storage, read) -> list[str]:
    """Each SELECT that `read(storage)` runs, as the detail lines of its query plan."""
    statements: list[str] = []
    storage.db.conn.set_trace_callback(statements.append)
    try:
        read(storage)
    finally:
        storage.db.conn.set_trace_callback(None)
    selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert selects, "the read ran no SELECT"
    return [
        " / ".join(row[3] for row in storage.db.conn.execute("EXPLAIN QUERY PLAN " + sql)) for sql in selects
    ]


@pytest.mark.parametrize(
    "read",
    [
        lambda storage: storage.attendance_rows(session_id=1),
        lambda storage: storage.attendance_rows(module=1, date=dt.date(2027, 1, 6), kind="homeroom"),
        lambda storage: storage.attendance_rows(student_id=1),
        lambda storage: storage.status_counts(
            kind="homeroom", started_before=dt.datetime(2027, 1, 7, tzinfo=dt.UTC), since=dt.date(2027, 1, 4)
        ),
    ],
    ids=["one session", "module and date", "one student", "status counts"],
)
def test_attendance_reads_never_scan_every_record(storage, read):
    for plan in plans(storage, read):
        steps = plan.split(" / ")
        assert "SCAN a" not in steps, plan
        assert any(step.startswith("SEARCH a USING") for step in steps), plan
