"""What the Slack app posted and received: polls and their pending picks, channel messages, the groups'
direct messages, and the signatures of requests already seen (replays)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.times import parse_utc_text, to_utc_text
from .db import Connection, optional_time


@dataclass(frozen=True)
class SlackPoll:
    """A week's Mix It Up poll as posted to Slack."""

    miu_date: dt.date
    week: int
    channel: str
    ts: str
    topics: tuple[str, ...]
    ranks: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    closed_hash: str | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class PendingPick:
    """A student's click on a poll menu, stored when it arrived, not yet applied."""

    id: int
    received_at: dt.datetime
    user_id: str
    team_id: str | None
    miu_date: dt.date
    week: int
    rank: int
    topic: str | None  # None: the student cleared the menu
    channel: str
    message_ts: str
    response_url: str | None


@dataclass(frozen=True)
class PostedRecord:
    """A channel message the service keeps up to date: where it is and what it shows."""

    kind: str
    key: str
    channel: str
    ts: str
    content_hash: str


@dataclass(frozen=True)
class SentDm:
    """The direct message a student got with their Mix It Up group (`ts` None: Slack did not answer)."""

    student_id: int
    slack_user_id: str
    channel: str
    ts: str | None
    group_number: int
    content_hash: str


class SlackStore(Connection):
    """The Slack app's bookkeeping."""

    # -- replays -----------------------------------------------------------------------------------

    def first_sight(self, signature: str, keep_until: dt.datetime, *, now: dt.datetime) -> bool:
        """Record a request signature until `keep_until`; False when it was already recorded (a replay).

        Signatures whose time is up are forgotten here too, so the table holds five minutes' worth.
        """
        with self.write():
            self.db.execute("DELETE FROM slack_replays WHERE keep_until < ?", [to_utc_text(now)])
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO slack_replays (signature, keep_until) VALUES (?, ?)",
                [signature, to_utc_text(keep_until)],
            )
            return cursor.rowcount == 1

    # -- polls -------------------------------------------------------------------------------------

    def slack_poll(self, miu_date: dt.date) -> SlackPoll | None:
        row = next(
            self.db.query("SELECT * FROM slack_polls WHERE miu_date = ?", [miu_date.isoformat()]), None
        )
        if row is None:
            return None
        return SlackPoll(
            miu_date=miu_date,
            week=row["week"],
            channel=row["channel"],
            ts=row["ts"],
            topics=tuple(json.loads(row["topics"])),
            ranks=row["ranks"],
            opened_at=parse_utc_text(row["opened_at"]),
            closed_at=optional_time(row["closed_at"]),
            closed_hash=row["closed_hash"],
        )

    def save_slack_poll(
        self,
        miu_date: dt.date,
        week: int,
        *,
        channel: str,
        ts: str,
        topics: Sequence[str],
        ranks: int,
        now: dt.datetime,
    ) -> None:
        """Record a newly posted poll message (it replaces a closed poll of that week: reopened)."""
        with self.write():
            self.db["slack_polls"].upsert(
                {
                    "miu_date": miu_date.isoformat(),
                    "week": week,
                    "channel": channel,
                    "ts": ts,
                    "topics": json.dumps(list(topics)),
                    "ranks": ranks,
                    "opened_at": to_utc_text(now),
                    "closed_at": None,
                    "closed_hash": None,
                },
                pk="miu_date",
            )

    def close_slack_poll(self, miu_date: dt.date, *, now: dt.datetime) -> dt.datetime:
        """Close the poll (unless it is closed already); returns when it closed."""
        day = miu_date.isoformat()
        with self.write():
            self.db.execute(
                "UPDATE slack_polls SET closed_at = ? WHERE miu_date = ? AND closed_at IS NULL",
                [to_utc_text(now), day],
            )
            row = self.db.execute("SELECT closed_at FROM slack_polls WHERE miu_date = ?", [day]).fetchone()
        return parse_utc_text(row[0])

    def note_closed_message(self, miu_date: dt.date, content_hash: str) -> None:
        """The closed poll's message now shows this content in Slack."""
        with self.write():
            self.db.execute(
                "UPDATE slack_polls SET closed_hash = ? WHERE miu_date = ?",
                [content_hash, miu_date.isoformat()],
            )

    # -- picks -------------------------------------------------------------------------------------

    def add_slack_pick(
        self,
        *,
        received_at: dt.datetime,
        user_id: str,
        team_id: str | None,
        miu_date: dt.date,
        week: int,
        rank: int,
        topic: str | None,
        channel: str,
        message_ts: str,
        response_url: str,
    ) -> int:
        """Store a click as received (durably: Slack is answered 200 after this); returns its id."""
        with self.write(durable=True):
            return (
                self.db["slack_picks"]
                .insert(
                    {
                        "received_at": to_utc_text(received_at),
                        "user_id": user_id,
                        "team_id": team_id,
                        "miu_date": miu_date.isoformat(),
                        "week": week,
                        "rank": rank,
                        "topic": topic,
                        "channel": channel,
                        "message_ts": message_ts,
                        "response_url": response_url,
                    }
                )
                .last_pk
            )

    def pending_slack_picks(self) -> list[PendingPick]:
        """Picks not applied yet, in the order they arrived."""
        return [
            PendingPick(
                id=row["id"],
                received_at=parse_utc_text(row["received_at"]),
                user_id=row["user_id"],
                team_id=row["team_id"],
                miu_date=dt.date.fromisoformat(row["miu_date"]),
                week=row["week"],
                rank=row["rank"],
                topic=row["topic"],
                channel=row["channel"],
                message_ts=row["message_ts"],
                response_url=row["response_url"],
            )
            for row in self.db.query("SELECT * FROM slack_picks WHERE processed_at IS NULL ORDER BY id")
        ]

    def slack_pick_pending(self, pick_id: int) -> bool:
        row = self.db.execute("SELECT processed_at FROM slack_picks WHERE id = ?", [pick_id]).fetchone()
        return row is not None and row[0] is None

    def mark_slack_pick(self, pick_id: int, outcome: str, *, now: dt.datetime) -> None:
        """The pick is done with; its response_url (a capability to post in the channel) is forgotten."""
        with self.write():
            self.db.execute(
                "UPDATE slack_picks SET processed_at = ?, outcome = ?, response_url = NULL WHERE id = ?",
                [to_utc_text(now), outcome, pick_id],
            )

    def slack_pick_outcomes(self, miu_date: dt.date) -> dict[str, int]:
        """How the week's picks ended (saved, not_student, closed, ...), for the admin and the tests."""
        return {
            row["outcome"] or "pending": row["n"]
            for row in self.db.query(
                "SELECT outcome, count(*) AS n FROM slack_picks WHERE miu_date = ? GROUP BY outcome",
                [miu_date.isoformat()],
            )
        }

    # -- channel messages --------------------------------------------------------------------------

    def posted(self, kind: str, key: str) -> PostedRecord | None:
        row = next(
            self.db.query("SELECT * FROM slack_messages WHERE kind = ? AND key = ?", [kind, key]), None
        )
        if row is None:
            return None
        return PostedRecord(row["kind"], row["key"], row["channel"], row["ts"], row["content_hash"])

    def save_posted(
        self, kind: str, key: str, *, channel: str, ts: str, content_hash: str, now: dt.datetime
    ) -> None:
        """Record that the message of (kind, key) is at channel/ts and shows `content_hash`."""
        stamp = to_utc_text(now)
        with self.write():
            self.db.execute(
                "INSERT INTO slack_messages (kind, key, channel, ts, content_hash, posted_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET channel = excluded.channel, "
                "ts = excluded.ts, content_hash = excluded.content_hash, updated_at = excluded.updated_at",
                [kind, key, channel, ts, content_hash, stamp, stamp],
            )

    # -- direct messages ---------------------------------------------------------------------------

    def sent_dms(self, miu_date: dt.date) -> dict[int, SentDm]:
        """The week's group DMs by student id."""
        return {
            row["student_id"]: SentDm(
                row["student_id"],
                row["slack_user_id"],
                row["channel"],
                row["ts"],
                row["group_number"],
                row["content_hash"],
            )
            for row in self.db.query("SELECT * FROM slack_dms WHERE miu_date = ?", [miu_date.isoformat()])
        }

    def save_dm(self, miu_date: dt.date, dm: SentDm, *, now: dt.datetime) -> None:
        """Record a DM the moment it is sent, so a run cut short never sends it twice."""
        with self.write():
            self.db["slack_dms"].upsert(
                {
                    "miu_date": miu_date.isoformat(),
                    "student_id": dm.student_id,
                    "slack_user_id": dm.slack_user_id,
                    "channel": dm.channel,
                    "ts": dm.ts,
                    "group_number": dm.group_number,
                    "content_hash": dm.content_hash,
                    "sent_at": to_utc_text(now),
                },
                pk=("miu_date", "student_id"),
            )
