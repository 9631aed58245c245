"""The sandbox's account: its users and the access tokens it has issued."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.times import to_utc_text
from . import ids
from .errors import SandboxError, user_not_found

USER_TYPES = (1, 2, 4, 99)  # basic, licensed, unassigned without Meetings basic, none
USER_STATUSES = ("active", "inactive", "pending")


def make_user(
    email: str,
    *,
    account_id: str,
    created_at: dt.datetime,
    type: int = 2,
    status: str = "active",
    timezone: str,
) -> dict[str, Any]:
    """A user object shaped like Zoom's Get a user answer. Raises SandboxError for bad values."""
    if not isinstance(email, str) or "@" not in email or email.strip() != email:
        raise SandboxError(f"user email {email!r} is not an email address")
    if type not in USER_TYPES:
        raise SandboxError(f"user type {type!r}: use one of {USER_TYPES}")
    if status not in USER_STATUSES:
        raise SandboxError(f"user status {status!r}: use one of {USER_STATUSES}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SandboxError(f"user timezone {timezone!r} is not a time zone") from None
    local = email.split("@", 1)[0]
    first, _, last = local.replace("_", ".").partition(".")
    user_id = ids.user_id(email)
    pmi = 9_000_000_000 + int.from_bytes(user_id.encode("ascii")[:4], "big") % 999_999_999
    return {
        "id": user_id,
        "first_name": first.capitalize(),
        "last_name": last.capitalize(),
        "display_name": f"{first.capitalize()} {last.capitalize()}".strip(),
        "email": email.lower(),
        "type": type,
        "role_name": "Member",
        "pmi": pmi,
        "use_pmi": False,
        "timezone": timezone,
        "verified": 1,
        "dept": "",
        "created_at": to_utc_text(created_at),
        "last_login_time": to_utc_text(created_at),
        "language": "en-US",
        "status": status,
        "role_id": "2",
        "account_id": account_id,
        "account_number": 10_000_001,
        "cluster": "us06",
        "user_created_at": to_utc_text(created_at),
    }


class Users:
    """Users by id, found by id or (case-insensitive) email as Zoom's `userId` allows."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}

    def add(self, user: dict[str, Any]) -> dict[str, Any]:
        if self.find(user["email"]) is not None:
            raise SandboxError(f"user {user['email']} already exists")
        self._by_id[user["id"]] = user
        return user

    def find(self, ref: str) -> dict[str, Any] | None:
        if ref in self._by_id:
            return self._by_id[ref]
        lowered = ref.lower()
        return next((user for user in self._by_id.values() if user["email"] == lowered), None)

    def get(self, ref: str) -> dict[str, Any]:
        """The user, or Zoom's 404 (code 1001)."""
        user = self.find(ref)
        if user is None:
            raise user_not_found(ref)
        return user

    def all(self) -> list[dict[str, Any]]:
        return list(self._by_id.values())


class Tokens:
    """Issued access tokens with their expiry (sandbox clock) and the scopes granted at issue."""

    def __init__(self, ttl_seconds: int):
        self.ttl = dt.timedelta(seconds=ttl_seconds)
        self._issued: dict[str, tuple[dt.datetime, frozenset[str]]] = {}

    def issue(self, now: dt.datetime, scopes: tuple[str, ...]) -> str:
        token = secrets.token_urlsafe(32)
        self._issued[token] = (now + self.ttl, frozenset(scopes))
        return token

    def scopes(self, token: str, now: dt.datetime) -> frozenset[str] | None:
        """The token's scopes while it is live; None for an unknown or expired token."""
        entry = self._issued.get(token)
        if entry is None or now >= entry[0]:
            return None
        return entry[1]

    def invalidate_all(self) -> None:
        self._issued.clear()
