"""The roster: students, the other emails and names they join Zoom under, and their group changes."""

from __future__ import annotations

import datetime as dt

from ..core.matching import normalise_email, normalise_name
from ..core.models import GroupMove, Student
from ..core.roster import ModuleChanges, Move
from ..core.times import to_utc_text
from .db import Connection, where


class RosterStore(Connection):
    """Students and their group history."""

    def students(self, *, module: int | None = None, active_only: bool = True) -> list[Student]:
        """Students ordered by module, group and name."""
        clause, params = where({"module": module, "active": 1 if active_only else None})
        rows = list(
            self.db.query(f"SELECT * FROM students{clause} ORDER BY module, group_number, name, id", params)
        )
        aliases = self._aliases_by_student()
        return [_student(row, aliases.get(row["id"], ())) for row in rows]

    def student(self, student_id: int) -> Student | None:
        row = next(self.db.query("SELECT * FROM students WHERE id = ?", [student_id]), None)
        if row is None:
            return None
        return _student(row, self._aliases_by_student(student_id).get(student_id, ()))

    def student_by_email(self, email: str) -> Student | None:
        row = next(self.db.query("SELECT id FROM students WHERE email = ?", [normalise_email(email)]), None)
        return self.student(row["id"]) if row else None

    def active_student_with_email(self, email: str) -> Student | None:
        """The active student whose roster email, or one of whose alias emails, is `email`; None when
        nobody (or more than one student) has it."""
        key = normalise_email(email)
        rows = list(
            self.db.query(
                "SELECT id FROM students WHERE email = ? AND active = 1 UNION "
                "SELECT s.id FROM student_aliases a JOIN students s ON s.id = a.student_id "
                "WHERE a.kind = 'email' AND a.alias = ? AND s.active = 1",
                [key, key],
            )
        )
        return self.student(rows[0]["id"]) if len(rows) == 1 else None

    def _aliases_by_student(self, student_id: int | None = None) -> dict[int, tuple[str, ...]]:
        clause, params = where({"student_id": student_id})
        aliases: dict[int, list[str]] = {}
        for row in self.db.query(
            f"SELECT student_id, original FROM student_aliases{clause} ORDER BY rowid", params
        ):
            aliases.setdefault(row["student_id"], []).append(row["original"])
        return {key: tuple(value) for key, value in aliases.items()}

    def apply_roster(self, changes: list[ModuleChanges], *, today: dt.date, now: dt.datetime) -> None:
        """Apply a validated roster import in one transaction: all of it or nothing."""
        stamp, day = to_utc_text(now), today.isoformat()
        with self.write():
            for change in changes:
                for student in change.added:
                    self._add_or_reactivate(student, stamp, day)
                for move in change.moved:
                    self._move(move, stamp, day)
                for student in change.updated:
                    self._update_details(student, stamp)
                for student in change.deactivated:
                    self._deactivate(student, stamp, day)

    def _add_or_reactivate(self, student: Student, stamp: str, day: str) -> None:
        existing = self._row_by_email(student.email)
        details = {
            "name": student.name,
            "module": student.module,
            "program": student.program,
            "group_number": student.group,
            "active": 1,
            "updated_at": stamp,
        }
        students = self.db["students"]
        if existing is None:
            student_id = students.insert({**details, "email": student.email, "created_at": stamp}).last_pk
            from_group = None
        else:
            student_id = existing["id"]
            students.update(student_id, details)
            same_module = existing["module"] == student.module and existing["active"]
            from_group = existing["group_number"] if same_module else None
        self._replace_aliases(student_id, student.aliases)
        self._record_move(student_id, student.module, from_group, student.group, day, stamp)

    def _move(self, move: Move, stamp: str, day: str) -> None:
        row = self._row_by_email(move.email)
        self.db["students"].update(row["id"], {"group_number": move.to_group, "updated_at": stamp})
        self._record_move(row["id"], row["module"], move.from_group, move.to_group, day, stamp)

    def _update_details(self, student: Student, stamp: str) -> None:
        row = self._row_by_email(student.email)
        self.db["students"].update(
            row["id"], {"name": student.name, "program": student.program, "updated_at": stamp}
        )
        self._replace_aliases(row["id"], student.aliases)

    def _deactivate(self, student: Student, stamp: str, day: str) -> None:
        row = self._row_by_email(student.email)
        self.db["students"].update(row["id"], {"active": 0, "updated_at": stamp})
        self._record_move(row["id"], student.module, student.group, None, day, stamp)

    def _row_by_email(self, email: str) -> dict | None:
        return next(self.db.query("SELECT * FROM students WHERE email = ?", [email]), None)

    def _replace_aliases(self, student_id: int, aliases: tuple[str, ...]) -> None:
        self.db["student_aliases"].delete_where("student_id = ?", [student_id])
        self.db["student_aliases"].insert_all(
            (
                {"student_id": student_id, "kind": kind, "alias": key, "original": alias}
                for alias in aliases
                for kind, key in [_alias_key(alias)]
            ),
            ignore=True,  # two spellings of one name are one alias
        )

    def _record_move(
        self, student_id: int, module: int, from_group: int | None, to_group: int | None, day: str, stamp: str
    ) -> None:
        self.db["group_moves"].insert(
            {
                "student_id": student_id,
                "module": module,
                "from_group": from_group,
                "to_group": to_group,
                "moved_on": day,
                "recorded_at": stamp,
            }
        )

    def group_history(self, student_id: int) -> list[GroupMove]:
        """The student's group changes, oldest first."""
        return [
            GroupMove(
                module=row["module"],
                from_group=row["from_group"],
                to_group=row["to_group"],
                moved_on=dt.date.fromisoformat(row["moved_on"]),
            )
            for row in self.db.query(
                "SELECT * FROM group_moves WHERE student_id = ? ORDER BY id", [student_id]
            )
        ]


def _alias_key(alias: str) -> tuple[str, str]:
    """An alias's kind and the key it is looked up by: an email lower-cased, a name normalised."""
    if "@" in alias:
        return "email", normalise_email(alias)
    return "name", normalise_name(alias)


def _student(row: dict, aliases: tuple[str, ...]) -> Student:
    return Student(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        module=row["module"],
        program=row["program"],
        group=row["group_number"],
        aliases=aliases,
        active=bool(row["active"]),
    )
