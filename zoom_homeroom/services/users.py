"""Passwords and API tokens: what is stored for them and how a sign-in or a token is checked; the
demo's admin, which must not turn up in a real database."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

from ..core.models import User
from ..errors import HomeroomError
from ..settings import Settings
from ..storage import Storage, StorageError

MIN_PASSWORD_LENGTH = 12
# `homeroom demo` signs in with these; the README prints them, so they are public.
DEMO_USER = "demo@school.example.org"
DEMO_PASSWORD = "homeroom-demo"
# The file that marks a folder as the demo's data (its database, calendar and prompts).
DEMO_MARKER = "homeroom-demo-data.txt"


class PasswordError(HomeroomError, ValueError):
    """A password that may not be used (too short)."""


def hash_password(password: str) -> str:
    """A salted scrypt hash of the password. Raises PasswordError when it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    return generate_password_hash(password)


def new_token() -> str:
    """A fresh random API token (shown once, never stored)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What is stored for a token: its sha256, hex. A random 256-bit token needs no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


@cache
def _dummy_hash() -> str:
    # Checked against when the email is unknown, so a wrong email costs as long as a wrong password.
    return generate_password_hash(secrets.token_hex(16))


def verify_password(user: User | None, password: str) -> bool:
    """Whether the password is the user's; takes as long for an unknown user."""
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


def demo_user_warnings(settings: Settings) -> list[str]:
    """`config check`'s warning when the demo's admin exists in a database that is not the demo's (the
    demo's data folder carries DEMO_MARKER). Reads only."""
    database = settings.database
    if not database.is_file() or (database.parent / DEMO_MARKER).is_file():
        return []
    try:
        storage = Storage.open(database, migrate=False)
    except StorageError:
        return []  # config check reports an unusable database elsewhere
    try:
        user = storage.user_by_email(DEMO_USER) if storage.has_users() else None
    finally:
        storage.close()
    if user is None:
        return []
    known = " with the demo's public password" if verify_password(user, DEMO_PASSWORD) else ""
    return [
        f"{database}: the demo's {user.role} {DEMO_USER} exists{known}, but this is not the demo's "
        f"database: remove it (homeroom user remove {DEMO_USER})"
    ]
