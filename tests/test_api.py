"""The JSON and CSV API: sessions, attendance records, filters, bad input, formula neutralising."""

from __future__ import annotations

import csv
import io

import pytest

from tests import dashboard_data as data
from tests.dashboard_data import sign_in
from zoom_homeroom.services.attendance import RECORD_FIELDS

AUTH = {"Authorization": f"Bearer {data.TOKEN}"}
SESSION_FIELDS = {
    "key",
    "module",
    "week",
    "date",
    "start",
    "end",
    "kind",
    "zoom_meeting_id",
    "join_url",
    "state",
}


def get_json(client, path: str) -> dict:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_sessions_lists_every_session_with_utc_times_kind_link_and_state(client, dataset):
    sessions = {s["key"]: s for s in get_json(client, "/api/sessions")["sessions"]}
    assert all(set(session) == SESSION_FIELDS for session in sessions.values())
    assert sessions["homeroom:1:2027-01-06"] == {
        "key": "homeroom:1:2027-01-06",
        "module": 1,
        "week": 1,
        "date": "2027-01-06",
        "start": "2027-01-06T20:00:00Z",
        "end": "2027-01-06T21:00:00Z",
        "kind": "homeroom",
        "zoom_meeting_id": sessions["homeroom:1:2027-01-06"]["zoom_meeting_id"],
        "join_url": sessions["homeroom:1:2027-01-06"]["join_url"],
        "state": "final",
    }
    assert sessions["homeroom:1:2027-01-06"]["join_url"].startswith("https://zoom.example/j/")
    assert sessions[dataset.week3]["state"] == "pending"
    mix = sessions[dataset.mix_it_up]
    assert mix["kind"] == "mix_it_up" and mix["module"] is None and mix["start"] == "2027-01-13T20:30:00Z"


def test_attendance_records_have_exactly_the_record_fields(client, dataset):
    records = get_json(client, "/api/attendance")["records"]
    assert records and all(set(record) == set(RECORD_FIELDS) for record in records)
    grace = next(r for r in records if r["email"] == dataset.email("grace") and r["date"] == "2027-01-06")
    assert grace == {
        "email": dataset.email("grace"),
        "name": "Grace Hopper",
        "module": 1,
        "group": 1,
        "week": 1,
        "date": "2027-01-06",
        "kind": "homeroom",
        "status": "late",
        "minutes": 48,
        "first_join": "2027-01-06T20:12:00Z",
        "last_leave": "2027-01-06T21:00:00Z",
        "in_assigned_room": True,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("module=1&week=1", {(1, 1, "homeroom")}),
        ("module=2", {(2, 1, "homeroom"), (2, 2, "homeroom"), (2, 3, "homeroom")}),
        ("kind=mix_it_up", {(None, 2, "mix_it_up")}),
        ("week=2&kind=homeroom", {(1, 2, "homeroom"), (2, 2, "homeroom")}),
        ("module=1&date=2027-01-13&kind=homeroom", {(1, 2, "homeroom")}),  # one session
        ("date=2027-01-13", {(1, 2, "homeroom"), (2, 2, "homeroom"), (None, 2, "mix_it_up")}),
        ("module=&week=", None),  # empty values are no filter
    ],
)
def test_attendance_filters(client, dataset, query, expected):
    records = get_json(client, f"/api/attendance?{query}")["records"]
    found = {(r["module"], r["week"], r["kind"]) for r in records}
    if expected is None:
        assert found == {
            (r["module"], r["week"], r["kind"]) for r in get_json(client, "/api/attendance")["records"]
        }
    else:
        assert found == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("module=abc", "module"),
        ("module=1.5", "module"),
        ("module=0", "module"),
        ("week=x", "week"),
        ("week=61", "week"),
        ("kind=other", "kind"),
        ("date=13/01/2027", "date"),
        ("date=2027-1-13", "date"),
        ("date=2027-02-30", "date"),
    ],
)
@pytest.mark.parametrize("path", ["/api/attendance", "/api/attendance.csv"])
def test_bad_query_values_are_400_json_naming_the_parameter(client, dataset, path, query, parameter):
    response = client.get(f"{path}?{query}", headers=AUTH)
    assert response.status_code == 400
    assert response.is_json
    assert response.get_json()["message"].startswith(f"{parameter} must be")


def test_csv_download_has_the_record_fields_and_neutralises_formulas(client, dataset):
    response = client.get("/api/attendance.csv?module=1&week=1", headers=AUTH)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=attendance.csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == RECORD_FIELDS
    assert len(rows) == 1 + 6
    names = {row[1] for row in rows[1:]}
    assert '\'=HYPERLINK("http://x","y")' in names
    assert "<script>alert(1)</script>" in names  # CSV is data, not HTML: kept as written
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)


def test_api_works_with_a_signed_in_rep(client, dataset):
    sign_in(client)
    assert client.get("/api/sessions").status_code == 200
    assert client.get("/api/attendance.csv").status_code == 200


def test_overrides_and_assignments_show_in_the_api(client, dataset, runtime):
    from zoom_homeroom.services import attendance

    session = runtime.storage.session(dataset.week3)
    attendance.refresh(
        runtime.storage, runtime.calendar, [session]
    )  # as the session page does before a rep assigns
    attendance.set_override(
        runtime,
        session=session,
        student_email=dataset.email("alan"),
        status="excused",
        note="Doctor",
        set_by=data.REP,
    )
    attendance.assign_participant(
        runtime,
        session=session,
        ident=dataset.nickname_ident,
        student_email=dataset.email("katherine"),
        set_by=data.REP,
    )
    records = get_json(client, "/api/attendance?module=1&week=3")["records"]
    statuses = {r["email"]: r["status"] for r in records}
    assert statuses[dataset.email("alan")] == "excused"
    assert statuses[dataset.email("katherine")] == "present"


def test_unknown_api_path_is_json_404(client, dataset):
    response = client.get("/api/nothing", headers=AUTH)
    assert response.status_code == 404 and response.is_json
