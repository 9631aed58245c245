"""Meeting registration as Zoom keeps it: registrants, their statuses and personal join links, its limits.

What Zoom does, and where we learned it (where the evidence is silent the sandbox does the harsher thing):

- Registration is on when the meeting's `settings.approval_type` is 0 (automatic approval: registrants
  are approved at once) or 1 (manual: they wait as `pending`, and Zoom's answer has no `join_url`, as
  the spec says). With 2, every registrant call answers 400 "Registration has not been enabled for this
  meeting: {id}." (the spec's `addBatchRegistrants` error list gives it code 404; another project quotes
  the same text from the single-registrant call).
- Every registration has its own `registrant_id` and a personal link shaped like a captured one:
  `https://us02web.zoom.us/w/{meeting id}?tk={token}&pwd={passcode}`, where the meeting's own link is
  `/j/{meeting id}?pwd=...`.
- Registering an email that is already registered answers with that registration, same id and link (a
  developer-forum report on the webinar twin of the call); an email registered after a cancel gets a new
  registration (unknown: the harsher case, since the old link stops working).
- One email may be registered for one meeting 3 times a UTC day; the 4th call (a repeat, or one entry
  of a batch) is a 429 naming the registrant (texts quoted from Zoom in its developer forum, where a Zoom
  engineer confirms it counts per meeting and email). At most 4,999 approved registrants a meeting
  (the spec); the next is a 400, code 3043 (the spec's list, and a forum report hitting it at 5,000).
- Batch registration (`POST /meetings/{id}/batch_registrants`, at most 30) takes scheduled meetings
  (type 2) only: other types get code 303, and a meeting that is over code 3038 (the spec's list).
- Status updates (approve, cancel, deny; at most 30 `{id, email}` a call) answer 204 even for ids the
  meeting does not have (unknown: the harsher case, a caller learns nothing from the answer). A
  cancelled registrant appears under no status of the list (another project's notes: neither `pending`
  nor `denied` returns them), and their link no longer lets them in.
- The list (`GET /meetings/{id}/registrants`) shows one status, `approved` by default, paged.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..core.times import to_utc_text
from . import ids
from .errors import ApiError, validation_failed
from .meetings import SCHEDULED, Meeting

REGISTRATION_ON = (0, 1)  # approval_type: automatic, manual
AUTOMATIC = 0
DAILY_PER_EMAIL = 3
CAPACITY = 4_999
PER_CALL = 30
NAME_CHARS, EMAIL_CHARS = 64, 128
STATUSES = ("approved", "pending", "denied")
ACTIONS = {"approve": "approved", "cancel": "cancelled", "deny": "denied"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Registrant:
    """One registration for one meeting."""

    id: str
    meeting_id: int
    email: str  # lower-cased
    first_name: str
    last_name: str
    status: str  # approved | pending | denied | cancelled
    create_time: dt.datetime
    token: str

    def join_url(self, base_url: str) -> str:
        return f"{base_url}/w/{self.meeting_id}?tk={self.token}&pwd={ids.secret_text('pwd', self.meeting_id)}"

    def created(self, base_url: str, meeting: Meeting) -> dict[str, Any]:
        """The `meetingRegistrantCreate` answer: no `join_url` unless approved."""
        answer: dict[str, Any] = {
            "id": meeting.id,
            "registrant_id": self.id,
            "topic": meeting.topic,
        }
        if meeting.start is not None:
            answer["start_time"] = to_utc_text(meeting.start)
        if self.status == "approved":
            answer["join_url"] = self.join_url(base_url)
        return answer

    def listed(self, base_url: str) -> dict[str, Any]:
        """One entry of the registrants list."""
        item = {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "status": self.status,
            "create_time": to_utc_text(self.create_time),
        }
        if self.status == "approved":
            item["join_url"] = self.join_url(base_url)
        return item


def requires_registration(meeting: Meeting) -> bool:
    """Whether people must register (and join through a personal link) to attend the meeting."""
    return meeting.settings.get("approval_type") in REGISTRATION_ON


class Registrations:
    """Every meeting's registrants, by meeting id, with the per-email daily count."""

    def __init__(self, *, capacity: int = CAPACITY):
        self.capacity = capacity
        self._by_meeting: dict[int, list[Registrant]] = {}
        self._calls: dict[tuple[int, str, dt.date], int] = {}

    def add(self, meeting: Meeting, body: object, now: dt.datetime) -> Registrant:
        """`POST /meetings/{id}/registrants`. Raises ApiError (400, 429)."""
        self._require_registration(meeting, now)
        entry = _registrant_body(body, "")
        self._spend(meeting.id, [entry["email"]], now)
        return self._register(meeting, entry, now, auto_approve=_auto_approve(body))

    def add_batch(self, meeting: Meeting, body: object, now: dt.datetime) -> list[Registrant]:
        """`POST /meetings/{id}/batch_registrants`. Raises ApiError (400, 429)."""
        if meeting.type != SCHEDULED:
            raise ApiError(
                400,
                303,
                "This API can only be used for scheduled meeting(meeting type: 2). "
                "Batch registration is not supported for other meeting types.",
            )
        self._require_registration(meeting, now)
        if not isinstance(body, dict) or not isinstance(body.get("registrants", []), list):
            raise validation_failed("registrants", "registrants must be a list.")
        entries = [
            _registrant_body(item, f"registrants[{i}].") for i, item in enumerate(body.get("registrants", []))
        ]
        if len(entries) > PER_CALL:
            raise validation_failed("registrants", f"at most {PER_CALL} registrants a call.")
        self._spend(meeting.id, [entry["email"] for entry in entries], now)
        return [self._register(meeting, entry, now, auto_approve=_auto_approve(body)) for entry in entries]

    def update_status(self, meeting: Meeting, body: object, now: dt.datetime) -> None:
        """`PUT /meetings/{id}/registrants/status`: ids the meeting does not have are ignored."""
        self._require_registration(meeting, now, registering=False)
        if not isinstance(body, dict) or body.get("action") not in ACTIONS:
            raise validation_failed("action", f"action must be one of {', '.join(ACTIONS)}.")
        entries = body.get("registrants", [])
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise validation_failed("registrants", "registrants must be a list of {id, email}.")
        if len(entries) > PER_CALL:
            raise validation_failed("registrants", f"at most {PER_CALL} registrants a call.")
        target = ACTIONS[body["action"]]
        for entry in entries:
            registrant = self._find(meeting.id, entry)
            if registrant is not None and _may(registrant.status, target):
                registrant.status = target

    def listing(self, meeting: Meeting, status: str, now: dt.datetime) -> list[Registrant]:
        """`GET /meetings/{id}/registrants` for one status (cancelled ones are never listed)."""
        self._require_registration(meeting, now, registering=False)
        if status not in STATUSES:
            raise validation_failed("status", f"status must be one of {', '.join(STATUSES)}.")
        return [r for r in self._by_meeting.get(meeting.id, []) if r.status == status]

    def by_link(self, meeting_id: int, join_url: str) -> Registrant | None:
        """The registrant whose personal link this is (any status), or None."""
        token = (parse_qs(urlsplit(join_url).query).get("tk") or [""])[0]
        if not token or f"/w/{meeting_id}" not in urlsplit(join_url).path:
            return None
        return next((r for r in self._by_meeting.get(meeting_id, []) if r.token == token), None)

    def all(self, meeting_id: int) -> list[Registrant]:
        return list(self._by_meeting.get(meeting_id, []))

    def drop(self, meeting_id: int) -> None:
        """The meeting is deleted: its registrations go with it."""
        self._by_meeting.pop(meeting_id, None)

    # -- helpers ----------------------------------------------------------------------------------

    def _register(
        self, meeting: Meeting, entry: dict[str, str], now: dt.datetime, *, auto_approve: bool
    ) -> Registrant:
        registrants = self._by_meeting.setdefault(meeting.id, [])
        existing = next(
            (r for r in registrants if r.email == entry["email"] and r.status != "cancelled"), None
        )
        if existing is not None:
            return existing
        if sum(1 for r in registrants if r.status == "approved") >= self.capacity:
            raise ApiError(400, 3043, "Meeting has reached maximum attendee capacity.")
        approved = meeting.settings.get("approval_type") == AUTOMATIC or auto_approve
        registrant_id = ids.registrant_id(meeting.id, entry["email"], len(registrants))
        registrant = Registrant(
            id=registrant_id,
            meeting_id=meeting.id,
            email=entry["email"],
            first_name=entry["first_name"],
            last_name=entry["last_name"],
            status="approved" if approved else "pending",
            create_time=now.replace(microsecond=0),
            token=ids.registrant_token(meeting.id, registrant_id),
        )
        registrants.append(registrant)
        return registrant

    def _require_registration(self, meeting: Meeting, now: dt.datetime, *, registering: bool = True) -> None:
        if not requires_registration(meeting):
            raise ApiError(400, 404, f"Registration has not been enabled for this meeting: {meeting.id}.")
        if registering and not meeting.upcoming(now):
            raise ApiError(
                400,
                3038,
                "Meeting is over, you can not register now. If you have any questions, please contact "
                "the Meeting host.",
            )

    def _spend(self, meeting_id: int, emails: list[str], now: dt.datetime) -> None:
        """Count one registration per email; a 4th of one email today refuses the whole call."""
        day = now.astimezone(dt.UTC).date()
        for email in emails:
            if self._calls.get((meeting_id, email, day), 0) >= DAILY_PER_EMAIL:
                raise ApiError(
                    429,
                    429,
                    f"You have exceeded the daily rate limit of ({DAILY_PER_EMAIL}) for Add a meeting registrant "
                    f"API requests for the registrant ({email}). You can resume these API requests at GMT 00:00:00.",
                )
        for email in emails:
            self._calls[(meeting_id, email, day)] = self._calls.get((meeting_id, email, day), 0) + 1

    def _find(self, meeting_id: int, entry: dict[str, Any]) -> Registrant | None:
        registrants = self._by_meeting.get(meeting_id, [])
        if entry.get("id"):
            return next((r for r in registrants if r.id == entry["id"]), None)
        email = str(entry.get("email") or "").lower()
        return next((r for r in registrants if r.email == email and r.status != "cancelled"), None)


def _may(status: str, target: str) -> bool:
    """Zoom's transitions: approve a pending or denied registrant, cancel an approved one, deny a
    pending or approved one."""
    allowed = {
        "approved": ("pending", "denied"),
        "cancelled": ("approved",),
        "denied": ("pending", "approved"),
    }
    return status in allowed[target]


def _auto_approve(body: object) -> bool:
    return isinstance(body, dict) and body.get("auto_approve") is True


def _registrant_body(value: object, where: str) -> dict[str, str]:
    """`email`, `first_name` (required) and `last_name` of a registrant body, checked as Zoom does."""
    if not isinstance(value, dict):
        raise validation_failed(where.rstrip(".") or "body", "a registrant must be an object.")
    email = value.get("email")
    if not isinstance(email, str) or len(email) > EMAIL_CHARS or not _EMAIL.match(email.strip()):
        raise validation_failed(f"{where}email", "email must be an email address.")
    names = {}
    for key, required in (("first_name", True), ("last_name", False)):
        name = value.get(key, "")
        if not isinstance(name, str) or len(name) > NAME_CHARS or (required and not name.strip()):
            raise validation_failed(
                f"{where}{key}", f"{key} must be text of at most {NAME_CHARS} characters."
            )
        names[key] = name
    return {"email": email.strip().lower(), **names}
