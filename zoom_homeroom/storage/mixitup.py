"""Mix It Up: a week's poll answers and its formed groups, keyed by the Mix It Up date."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from ..core.models import FormedGroup, StoredFormation
from ..core.times import parse_utc_text, to_utc_text
from .db import Connection


class MixItUpStore(Connection):
    """Poll answers and formations."""

    def mixitup_members(self, miu_date: dt.date) -> list[tuple[int, int]]:
        """(student id, group number) of the formed Mix It Up groups of that date."""
        return [
            (row["student_id"], row["number"])
            for row in self.db.query(
                "SELECT student_id, number FROM mixitup_members WHERE miu_date = ? ORDER BY number, student_id",
                [miu_date.isoformat()],
            )
        ]

    def replace_poll_answers(
        self, miu_date: dt.date, week: int, answers: Iterable[tuple[int, str, int]]
    ) -> int:
        """Replace that Mix It Up's imported answers with (student id, topic, rank) rows; returns the count.

        The earlier import's answers go, and so do the Slack picks of the students in this one (the file
        is the later word for them); other students' Slack picks stay.
        """
        day = miu_date.isoformat()
        rows = [
            {
                "miu_date": day,
                "week": week,
                "student_id": student_id,
                "topic": topic,
                "rank": rank,
                "source": "csv",
            }
            for student_id, topic, rank in answers
        ]
        with self.write():
            self.db["poll_answers"].delete_where("miu_date = ? AND source = 'csv'", [day])
            for student_id in sorted({row["student_id"] for row in rows}):
                self.db["poll_answers"].delete_where("miu_date = ? AND student_id = ?", [day, student_id])
            self.db["poll_answers"].insert_all(rows)
        return len(rows)

    def save_slack_pick(
        self, miu_date: dt.date, week: int, student_id: int, rank: int, topic: str | None, *, now: dt.datetime
    ) -> None:
        """A student's choice `rank` is now `topic` (None: cleared), replacing that rank whatever its source.

        A topic is chosen once: picked at another rank before, it moves here.
        """
        day = miu_date.isoformat()
        with self.write():
            self.db.execute(
                "DELETE FROM poll_answers WHERE miu_date = ? AND student_id = ? AND (rank = ? OR topic = ?)",
                [day, student_id, rank, topic],
            )
            if topic is not None:
                self.db["poll_answers"].insert(
                    {
                        "miu_date": day,
                        "week": week,
                        "student_id": student_id,
                        "topic": topic,
                        "rank": rank,
                        "source": "slack",
                        "answered_at": to_utc_text(now),
                    }
                )

    def student_picks(self, miu_date: dt.date, student_id: int) -> dict[int, str]:
        """One student's answers for that Mix It Up: rank -> topic."""
        return {
            row["rank"]: row["topic"]
            for row in self.db.query(
                "SELECT rank, topic FROM poll_answers WHERE miu_date = ? AND student_id = ? ORDER BY rank",
                [miu_date.isoformat(), student_id],
            )
        }

    def poll_tally(self, miu_date: dt.date, *, source: str) -> dict[str, dict[int, int]]:
        """Topic -> rank -> how many students chose it so, counting the answers from `source`."""
        tally: dict[str, dict[int, int]] = {}
        for row in self.db.query(
            "SELECT topic, rank, count(*) AS n FROM poll_answers WHERE miu_date = ? AND source = ? "
            "GROUP BY topic, rank",
            [miu_date.isoformat(), source],
        ):
            tally.setdefault(row["topic"], {})[row["rank"]] = row["n"]
        return tally

    def poll_respondents(self, miu_date: dt.date) -> dict[str, int]:
        """Students with answers for that Mix It Up, by where their answers came from (csv, slack)."""
        return {
            row["source"]: row["n"]
            for row in self.db.query(
                "SELECT source, count(DISTINCT student_id) AS n FROM poll_answers WHERE miu_date = ? "
                "GROUP BY source ORDER BY source",
                [miu_date.isoformat()],
            )
        }

    def poll_answers(self, miu_date: dt.date) -> dict[int, list[str]]:
        """Student id -> topics, first choice first."""
        answers: dict[int, list[str]] = {}
        for row in self.db.query(
            "SELECT student_id, topic FROM poll_answers WHERE miu_date = ? ORDER BY student_id, rank",
            [miu_date.isoformat()],
        ):
            answers.setdefault(row["student_id"], []).append(row["topic"])
        return answers

    def save_formation(
        self,
        miu_date: dt.date,
        week: int,
        *,
        seed: int,
        quality: dict,
        groups: Iterable[FormedGroup],
        now: dt.datetime,
    ) -> None:
        """Replace that Mix It Up's groups with a new formation."""
        day = miu_date.isoformat()
        with self.write():
            # Its groups and members go with it (ON DELETE CASCADE).
            self.db["mixitup_formations"].delete_where("miu_date = ?", [day])
            self.db["mixitup_formations"].insert(
                {
                    "miu_date": day,
                    "week": week,
                    "seed": seed,
                    "quality": json.dumps(quality, sort_keys=True),
                    "formed_at": to_utc_text(now),
                }
            )
            for group in groups:
                self.db["mixitup_groups"].insert(
                    {"miu_date": day, "number": group.number, "topic": group.topic}
                )
                self.db["mixitup_members"].insert_all(
                    {"miu_date": day, "number": group.number, "student_id": student_id}
                    for student_id in group.members
                )

    def formation(self, miu_date: dt.date) -> StoredFormation | None:
        day = miu_date.isoformat()
        row = next(self.db.query("SELECT * FROM mixitup_formations WHERE miu_date = ?", [day]), None)
        if row is None:
            return None
        members: dict[int, list[int]] = {}
        for member in self.db.query(
            "SELECT number, student_id FROM mixitup_members WHERE miu_date = ? ORDER BY number, student_id",
            [day],
        ):
            members.setdefault(member["number"], []).append(member["student_id"])
        groups = tuple(
            FormedGroup(group["number"], group["topic"], tuple(members.get(group["number"], ())))
            for group in self.db.query(
                "SELECT * FROM mixitup_groups WHERE miu_date = ? ORDER BY number", [day]
            )
        )
        return StoredFormation(
            miu_date=miu_date,
            week=row["week"],
            seed=row["seed"],
            quality=json.loads(row["quality"]),
            formed_at=parse_utc_text(row["formed_at"]),
            groups=groups,
        )
