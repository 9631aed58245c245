"""Plain functions that build test objects with sane defaults."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from zoom_homeroom.core.calendar import parse_calendar
from zoom_homeroom.core.models import Calendar, Student

UTC = dt.UTC

CALENDAR_DOC: dict[str, Any] = {
    "timezone": "America/Denver",
    "sessions": {
        "weekday": "wednesday",
        "start": "13:00",
        "duration_minutes": 60,
        "weeks": [1, 2, 3, 4, 5],
    },
    "mix_it_up": {
        "weeks": [2, 4],
        "start": "13:30",
        "duration_minutes": 30,
        "host": "careers@school.example.org",
        "group_size": [4, 6],
        "upper_modules": [3, 4],
    },
    "attendance": {"present_fraction": 0.5, "late_after_minutes": 10},
    "modules": [
        {
            "number": n,
            "host": f"mod{n}@school.example.org",
            "week1_monday": "2027-01-04",
            "skip": [],
        }
        for n in (1, 2, 3, 4)
    ],
}


def calendar_doc(**overrides: Any) -> dict[str, Any]:
    """A deep copy of the test calendar document with top-level keys replaced."""
    doc = copy.deepcopy(CALENDAR_DOC)
    doc.update(overrides)
    return doc


def make_calendar(**overrides: Any) -> Calendar:
    return parse_calendar(calendar_doc(**overrides))


def calendar_toml(doc: dict[str, Any] | None = None) -> str:
    """Render a calendar document as TOML text (enough of TOML for these documents)."""
    doc = doc if doc is not None else CALENDAR_DOC
    lines: list[str] = []

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, str):
            return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(item, list):
            return "[" + ", ".join(value(x) for x in item) + "]"
        return str(item)

    for key, item in doc.items():
        if not isinstance(item, dict | list) or (isinstance(item, list) and key != "modules"):
            lines.append(f"{key} = {value(item)}")
    for key, item in doc.items():
        if isinstance(item, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {value(v)}" for k, v in item.items())
    for module in doc.get("modules", []):
        lines.append("\n[[modules]]")
        lines.extend(f"{k} = {value(v)}" for k, v in module.items())
    return "\n".join(lines) + "\n"


def make_student(**overrides: Any) -> Student:
    values: dict[str, Any] = {
        "email": "ada.lovelace@students.example.org",
        "name": "Ada Lovelace",
        "module": 1,
        "program": "BE",
        "group": 1,
    }
    values.update(overrides)
    return Student(**values)


def utc(text: str) -> dt.datetime:
    """utc('2027-01-06 20:00') -> aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)
