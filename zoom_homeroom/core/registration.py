"""Zoom registration (`[sessions] registration`): who should hold a personal join link for a meeting,
and what Zoom must be told so that its registrants equal them.

Everyone registered for a meeting gets a personal `join_url`; whoever joins through it carries the
registration's `registrant_id` in Zoom's webhooks and reports, so attendance knows exactly who they
are (`core.matching`). Zoom's limits, with where they are written:

- 4,999 registrants a meeting (the spec's "Add a meeting registrant": "a maximum limit of 4,999
  registrants per meeting"; past it Zoom answers 400, code 3043 "Meeting has reached maximum attendee
  capacity");
- one email may be registered for one meeting at most 3 times a UTC day: the 4th is a 429 ("You have
  exceeded the daily rate limit of (3) for Add a ... registrant API requests for the registrant (...)",
  quoted in Zoom's developer forum; a forum reply confirms it counts per meeting and email);
- at most 30 registrants per batch registration and per status update (the spec's
  `addBatchRegistrants` and `meetingRegistrantStatus`); batch registration is for scheduled meetings
  (type 2) only.

Pure: callers pass what is stored and, when the stored state may be stale, what Zoom lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import HomeroomError
from .matching import normalise_email
from .models import Student

REGISTRANT_CAPACITY = 4_999
DAILY_REGISTRATIONS_PER_EMAIL = 3
BATCH_SIZE = 30  # registrants per batch registration, and per status update
NAME_CHARS = 64  # the spec's maxLength of first_name and last_name

Item = TypeVar("Item")


class RegistrationError(HomeroomError):
    """Registrations that Zoom would refuse; `.problems` has one line each."""


@dataclass(frozen=True)
class Registrant:
    """A student who should be registered, with the name Zoom shows for them (first and last)."""

    student_id: int
    email: str
    first_name: str
    last_name: str

    def body(self) -> dict[str, Any]:
        """The `meetingRegistrantCreate` body (also one entry of `addBatchRegistrants`)."""
        body: dict[str, Any] = {"email": self.email, "first_name": self.first_name}
        if self.last_name:
            body["last_name"] = self.last_name
        return body


@dataclass(frozen=True)
class Registration:
    """A registration Zoom made: a student's registrant id and personal link for one Zoom meeting."""

    student_id: int
    email: str
    registrant_id: str
    join_url: str


@dataclass(frozen=True)
class ListedRegistrant:
    """One approved registrant as Zoom lists them (`GET /meetings/{id}/registrants`)."""

    registrant_id: str
    email: str
    join_url: str


@dataclass(frozen=True)
class RegistrationPlan:
    """What to change so that Zoom's registrants equal the students wanted, in the order to do it:
    forget (stored, but Zoom no longer lists them), adopt (Zoom has them: store them, no call),
    cancel (no longer wanted), register (wanted, without a registration)."""

    forget: tuple[Registration, ...] = ()
    adopt: tuple[Registration, ...] = ()
    cancel: tuple[Registration, ...] = ()
    register: tuple[Registrant, ...] = ()

    @property
    def writes(self) -> bool:
        """Whether Zoom must be called to carry the plan out (forget and adopt only touch storage)."""
        return bool(self.cancel or self.register)


def registrant_for(student: Student) -> Registrant:
    """The registrant body of a stored student: the roster email, the name split in two."""
    if student.id is None:
        raise ValueError(f"student {student.email!r} has no id: save the roster first")
    first, last = split_name(student.name)
    return Registrant(student.id, normalise_email(student.email), first, last)


def split_name(name: str) -> tuple[str, str]:
    """`"Ada King Lovelace"` -> `("Ada", "King Lovelace")`; each part cut to Zoom's 64 characters.

    Zoom requires a first name and shows "first last" as the display name of a guest who joins through
    the personal link; a one-word name has no last name.
    """
    first, _, last = " ".join(name.split()).partition(" ")
    return first[:NAME_CHARS], last[:NAME_CHARS].rstrip()


def plan_registrations(
    wanted: Sequence[Registrant],
    stored: Sequence[Registration],
    *,
    listed: Sequence[ListedRegistrant] | None = None,
    roster: Mapping[str, int] | None = None,
) -> RegistrationPlan:
    """The changes that make a meeting's registrants equal `wanted`.

    `stored` are the approved registrations recorded for this Zoom meeting. When they may be stale,
    `listed` is Zoom's list of approved registrants and `roster` maps roster emails to student ids:
    a stored registration Zoom no longer lists is forgotten, and a listed registrant with a student's
    email is adopted (Zoom refuses a 4th registration of an email in a day, so what Zoom has is kept,
    not registered again). Registrants with other emails (guests an admin added) are left alone.
    """
    current = {registration.student_id: registration for registration in stored}
    forget: list[Registration] = []
    adopt: list[Registration] = []
    if listed is not None:
        listed_ids = {registrant.registrant_id for registrant in listed}
        forget = [r for r in stored if r.registrant_id not in listed_ids]
        current = {r.student_id: r for r in stored if r.registrant_id in listed_ids}
        for registrant in listed:
            student_id = (roster or {}).get(normalise_email(registrant.email))
            if student_id is None or student_id in current:
                continue
            current[student_id] = Registration(
                student_id, normalise_email(registrant.email), registrant.registrant_id, registrant.join_url
            )
            adopt.append(current[student_id])
    wanted_ids = {registrant.student_id for registrant in wanted}
    return RegistrationPlan(
        forget=tuple(forget),
        adopt=tuple(adopt),
        cancel=tuple(r for student_id, r in sorted(current.items()) if student_id not in wanted_ids),
        register=tuple(r for r in wanted if r.student_id not in current),
    )


def check_capacity(label: str, wanted: Sequence[Registrant]) -> None:
    """Raise RegistrationError when a meeting would have more registrants than Zoom allows."""
    if len(wanted) > REGISTRANT_CAPACITY:
        raise RegistrationError(
            [
                f"{label}: {len(wanted):,} students would register; Zoom allows "
                f"{REGISTRANT_CAPACITY:,} registrants a meeting"
            ]
        )


def batches(items: Sequence[Item], size: int = BATCH_SIZE) -> Iterator[list[Item]]:
    """`items` in lists of at most `size`, in order."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
