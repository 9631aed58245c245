"""Deterministic identifiers shaped like Zoom's: meeting numbers, UUIDs, user ids, per-join ids.

Everything derives from a hash of its inputs, so two runs of a test see the same values. Instance
UUIDs alternate between plain ones and ones that start with `//`: Zoom requires such UUIDs to be
URL-encoded twice, and a sandbox that never produced them would hide a client's encoding bug.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

FIRST_MEETING_ID = 81_000_000_000  # 11 digits, like Zoom's meeting numbers
MEETING_ID_STEP = 7_654_321
# Zoom's per-join `user_id`: every instance counts from 16778240 in steps of 1024 (a public report capture
# shows 16778240, 16779264, 16780288, ... one per row; webhook captures show the same first value).
FIRST_JOIN_ID = 16_778_240
JOIN_ID_STEP = 1_024


def _digest(*parts: object) -> bytes:
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).digest()


def meeting_id(serial: int) -> int:
    """The `serial`-th meeting number of a sandbox (0-based)."""
    return FIRST_MEETING_ID + serial * MEETING_ID_STEP


def join_id(serial: int) -> str:
    """The `serial`-th per-join participant id (`user_id`) of an instance (0-based), a decimal string."""
    return str(FIRST_JOIN_ID + serial * JOIN_ID_STEP)


def user_id(email: str) -> str:
    """A 22-character URL-safe id such as `30R7kT7bTIKSNUFEuH_Qlg`, stable per email."""
    return base64.urlsafe_b64encode(_digest("user", email.lower())[:16]).decode("ascii").rstrip("=")


def instance_uuid(meeting: int, serial: int) -> str:
    """The UUID of a meeting's `serial`-th instance: base64 of 16 bytes, like `aDYlohsHRtCd4ii1uC2+hA==`.

    Even serials start with `//` (the first instance of every meeting does), so clients must
    double-encode them in paths.
    """
    raw = bytearray(_digest("instance", meeting, serial)[:16])
    if serial % 2 == 0:
        raw[0], raw[1] = 0xFF, raw[1] | 0xF0  # first 12 bits set: base64 "//"
    return base64.b64encode(bytes(raw)).decode("ascii")


def breakout_room_uuid(instance: str, room_name: str, opening: int) -> str:
    """`breakout_room_uuid` of webhooks: new for every instance and every opening of the rooms."""
    return base64.b64encode(_digest("room", instance, room_name, opening)[:16]).decode("ascii")


def bo_mtg_id(instance: str, room_name: str, opening: int) -> str:
    """`bo_mtg_id` of report rows: the same room under another id than its `breakout_room_uuid`."""
    return base64.b64encode(_digest("bo_mtg", instance, room_name, opening)[:16]).decode("ascii")


def participant_uuid(instance: str, person: str, connection: int) -> str:
    """Zoom's `participant_uuid`: one per connection (kept across room moves, new after a reconnect)."""
    return str(uuid.UUID(bytes=_digest("participant", instance, person, connection)[:16])).upper()


def registrant_id(meeting: int, email: str, serial: int) -> str:
    """A registrant id such as `9tboDiHUQAeOnbmudzWa5g` (the spec's example): new for every registration."""
    return (
        base64.urlsafe_b64encode(_digest("registrant", meeting, email.lower(), serial)[:16])
        .decode("ascii")
        .rstrip("=")
    )


def registrant_token(meeting: int, registrant: str) -> str:
    """The `tk` of a registrant's personal join link: a captured one is 43 URL-safe base64 characters,
    a dot, and a longer base64 part starting `DQ` (`.../w/88392313240?tk=E5YZ...O4.DQIAAAAU...&pwd=...`)."""
    head = base64.urlsafe_b64encode(_digest("tk", meeting, registrant)).decode("ascii").rstrip("=")
    tail = base64.b64encode(b"\r\x02\x00\x00\x00" + _digest("tk-tail", registrant)[:24]).decode("ascii")
    return f"{head}.{tail.rstrip('=').replace('+', '-').replace('/', '_')}"


def secret_text(*parts: object) -> str:
    """A deterministic token-like string (passwords, `zak`, page tokens)."""
    return base64.urlsafe_b64encode(_digest("text", *parts)[:18]).decode("ascii")
