"""JSON and CSV for other tools (`/api/`): sessions and attendance records.

Reached with a dashboard session or `Authorization: Bearer <token>` (see `auth`). Times are UTC ISO 8601.
Bad query values are a 400 naming the parameter; errors are JSON (the app's handler).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue

from ..core.models import SESSION_KINDS, SessionRecord
from ..core.times import to_utc_text
from ..services import attendance
from ..services.exports import csv_text
from .context import get_runtime

bp = Blueprint("api", __name__)

MAX_WEEK = 60


@bp.get("/sessions")
def sessions() -> ResponseReturnValue:
    """Every stored session, oldest first."""
    return jsonify(sessions=[session_json(session) for session in get_runtime().storage.sessions()])


def session_json(session: SessionRecord) -> dict[str, Any]:
    return {
        "key": session.key,
        "module": session.module,
        "week": session.week,
        "date": session.date.isoformat(),
        "start": to_utc_text(session.start),
        "end": to_utc_text(session.end),
        "kind": session.kind,
        "zoom_meeting_id": session.zoom_meeting_id,
        "join_url": session.join_url,
        "state": session.state,
    }


@bp.get("/attendance")
def attendance_json() -> ResponseReturnValue:
    """Attendance records, filtered by `module`, `week`, `kind` and `date` (YYYY-MM-DD)."""
    return jsonify(records=_records())


@bp.get("/attendance.csv")
def attendance_csv() -> ResponseReturnValue:
    """The same records as a CSV download (cells a spreadsheet would evaluate are neutralised)."""
    return Response(
        csv_text(_records(), attendance.RECORD_FIELDS),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=attendance.csv"},
    )


def _records() -> list[dict[str, Any]]:
    return attendance.records(
        get_runtime(),
        module=_int_param("module", 1, None),
        week=_int_param("week", 1, MAX_WEEK),
        kind=_kind_param(),
        date=_date_param(),
    )


def _date_param() -> dt.date | None:
    text = request.args.get("date", "").strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        abort(400, f"date must be YYYY-MM-DD, not {text!r}")


def _int_param(name: str, low: int, high: int | None) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    if not re.fullmatch(r"-?[0-9]{1,9}", text):
        abort(400, f"{name} must be a whole number, not {text!r}")
    value = int(text)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        abort(400, f"{name} must be {bounds}, not {value}")
    return value


def _kind_param() -> str | None:
    kind = request.args.get("kind", "").strip()
    if not kind:
        return None
    if kind not in SESSION_KINDS:
        abort(400, f"kind must be {' or '.join(SESSION_KINDS)}, not {kind!r}")
    return kind
