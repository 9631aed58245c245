"""Who may use the dashboard and the API: users, their signed-in sessions and API tokens (the hashes of
both only), and failed sign-ins."""

from __future__ import annotations

import datetime as dt

from ..core.matching import normalise_email
from ..core.models import ApiToken, User
from ..core.times import parse_utc_text, to_utc_text
from .db import Connection, optional_time


class UserStore(Connection):
    """Users, API tokens and sign-in throttling."""

    def save_user(self, email: str, role: str, password_hash: str, *, now: dt.datetime) -> bool:
        """Create the user, or update their role and password (which ends their sessions); True when
        created."""
        email = normalise_email(email)
        users = self.db["users"]
        with self.write():
            existing = next(self.db.query("SELECT id FROM users WHERE email = ?", [email]), None)
            if existing:
                users.update(existing["id"], {"role": role, "password_hash": password_hash})
                self.db.execute("DELETE FROM user_sessions WHERE user_id = ?", [existing["id"]])
                return False
            users.insert(
                {"email": email, "role": role, "password_hash": password_hash, "created_at": to_utc_text(now)}
            )
            return True

    def remove_user(self, email: str) -> bool:
        """Remove a user; their sessions go with them."""
        with self.write():
            return (
                self.db.execute("DELETE FROM users WHERE email = ?", [normalise_email(email)]).rowcount == 1
            )

    def has_users(self) -> bool:
        """Whether the database has its users table yet (a database never migrated has not)."""
        return self.db["users"].exists()

    def user_by_email(self, email: str) -> User | None:
        row = next(self.db.query("SELECT * FROM users WHERE email = ?", [normalise_email(email)]), None)
        return _user(row) if row else None

    def user(self, user_id: int) -> User | None:
        row = next(self.db.query("SELECT * FROM users WHERE id = ?", [user_id]), None)
        return _user(row) if row else None

    def users(self) -> list[User]:
        return [_user(row) for row in self.db.query("SELECT * FROM users ORDER BY email")]

    def start_session(self, user_id: int, id_hash: str, *, now: dt.datetime, expires_at: dt.datetime) -> None:
        """Record a sign-in under the hash of its session id (and forget sessions that have expired)."""
        with self.write():
            self.db.execute("DELETE FROM user_sessions WHERE expires_at <= ?", [to_utc_text(now)])
            self.db.execute(
                "INSERT INTO user_sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                [id_hash, user_id, to_utc_text(now), to_utc_text(expires_at)],
            )

    def session_user(self, id_hash: str, *, now: dt.datetime) -> User | None:
        """The user of a session that has not ended or expired, else None."""
        row = next(
            self.db.query(
                "SELECT u.* FROM user_sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.id_hash = ? AND s.expires_at > ?",
                [id_hash, to_utc_text(now)],
            ),
            None,
        )
        return _user(row) if row else None

    def end_session(self, id_hash: str) -> None:
        """End one session (signing out): its cookie, and every copy of it, stops working."""
        with self.write():
            self.db.execute("DELETE FROM user_sessions WHERE id_hash = ?", [id_hash])

    def add_token(self, name: str, token_hash: str, *, now: dt.datetime) -> bool:
        """Store a new token's hash under a unique name; False when the name is taken."""
        with self.write():
            cursor = self.db.execute(
                "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [name, token_hash, to_utc_text(now)],
            )
            return cursor.rowcount == 1

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        row = next(self.db.query("SELECT * FROM api_tokens WHERE token_hash = ?", [token_hash]), None)
        return _token(row) if row else None

    def touch_token(self, token_id: int, *, now: dt.datetime) -> None:
        # Plain SQL: sqlite-utils' update() raises for a token revoked since the request read it.
        with self.write():
            self.db.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [to_utc_text(now), token_id]
            )

    def remove_token(self, name: str) -> bool:
        with self.write():
            return self.db.execute("DELETE FROM api_tokens WHERE name = ?", [name]).rowcount == 1

    def tokens(self) -> list[ApiToken]:
        return [_token(row) for row in self.db.query("SELECT * FROM api_tokens ORDER BY name")]

    def record_sign_in_failure(self, key: str, *, now: dt.datetime) -> None:
        with self.write():
            self.db["sign_in_failures"].insert({"key": key, "at": to_utc_text(now)})

    def sign_in_failures(self, key: str, *, since: dt.datetime) -> int:
        return self.db["sign_in_failures"].count_where("key = ? AND at >= ?", [key, to_utc_text(since)])

    def clear_sign_in_failures(self, key: str, *, before: dt.datetime | None = None) -> None:
        """Forget a key's failures (after a good sign-in), or everyone's older than `before`."""
        failures = self.db["sign_in_failures"]
        with self.write():
            if before is not None:
                failures.delete_where("at < ?", [to_utc_text(before)])
            else:
                failures.delete_where("key = ?", [key])


def _user(row: dict) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        role=row["role"],
        password_hash=row["password_hash"],
        created_at=parse_utc_text(row["created_at"]),
    )


def _token(row: dict) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        created_at=parse_utc_text(row["created_at"]),
        last_used_at=optional_time(row["last_used_at"]),
    )
