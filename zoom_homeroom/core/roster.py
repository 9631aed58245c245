"""Roster CSV validation and the changes a valid roster makes. Pure: the caller reads the file.

A roster file replaces the roster of each module it contains. Every problem is reported with its
line number, and nothing is applied when there is any.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field

from .errors import HomeroomError
from .matching import normalise_email
from .models import Student
from .text import NotUtf8Error, decode_utf8

REQUIRED_COLUMNS = ("name", "email", "module", "program", "group")
OPTIONAL_COLUMNS = ("aliases",)
MAX_FIELD_CHARS = 200
MAX_ALIASES = 20

# Deliberately simple: one @, no spaces, a dot in the domain. Zoom matches emails exactly, so
# anything stranger is more likely a typo than a real address.
_EMAIL = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"'.]+$")


class CsvProblems(HomeroomError, ValueError):
    """Problems found in a CSV file; `.problems` holds one line each, with file and line number.

    Nothing of the file is applied when there is any problem, which the headline says.
    """

    @property
    def headline(self) -> str:
        return f"{len(self.problems)} problem(s); nothing was imported"


class RosterError(CsvProblems):
    """The roster file cannot be imported."""


def is_email(text: str) -> bool:
    """A plausible address: one @, a dot in the domain, no spaces or control characters, 254 at most."""
    return bool(_EMAIL.match(text)) and len(text) <= 254 and text.isprintable()


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]


def read_csv(
    data: bytes,
    *,
    filename: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    error: type[CsvProblems] = CsvProblems,
) -> list[CsvRow]:
    """Decode and split a CSV file with a header row; keeps only the known columns, trimmed.

    Raises `error` for a file that is not UTF-8 CSV or lacks a required column.
    """
    try:
        text = decode_utf8(data)
    except NotUtf8Error as problem:
        raise error(
            [
                f"{filename} line {problem.line}, column {problem.column}: not UTF-8 text; "
                "save it as 'CSV UTF-8' and import it again"
            ]
        ) from None
    if "\x00" in text:
        raise error([f"{filename}: contains NUL bytes; this is not a CSV text file"])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise error([f"{filename}: empty file; the first line must name the columns"])
        columns = [cell.strip().lower() for cell in header]
        missing = [name for name in required if name not in columns]
        if missing:
            raise error(
                [
                    f"{filename} line 1: missing column(s) {', '.join(missing)} "
                    f"(the header needs {', '.join(required)})"
                ]
            )
        wanted = {name: columns.index(name) for name in (*required, *optional) if name in columns}
        return list(_rows(reader, wanted))
    except csv.Error as problem:
        raise error([f"{filename} line {reader.line_num}: not valid CSV: {problem}"]) from None


def _rows(reader: Iterator[list[str]], wanted: dict[str, int]) -> Iterator[CsvRow]:
    for cells in reader:
        line = reader.line_num  # type: ignore[attr-defined]
        if not any(cell.strip() for cell in cells):
            continue
        values = {name: cells[index].strip() if index < len(cells) else "" for name, index in wanted.items()}
        yield CsvRow(line, values)


def parse_roster(data: bytes, *, filename: str, modules: Collection[int]) -> list[Student]:
    """Validate a roster file; returns its students (ids unset) or raises RosterError with every problem."""
    rows = read_csv(
        data, filename=filename, required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS, error=RosterError
    )
    problems: list[str] = []
    students: list[Student] = []
    first_line_of_email: dict[str, int] = {}
    for row in rows:
        where = f"{filename} line {row.line}"
        student = _student(row.values, where, modules, problems)
        if student is None:
            continue
        earlier = first_line_of_email.get(student.email)
        if earlier is not None:
            problems.append(f"{where}: email {student.email} is a duplicate of line {earlier}")
            continue
        first_line_of_email[student.email] = row.line
        students.append(student)
    problems.extend(_alias_clashes(students, first_line_of_email, filename))
    if not rows and not problems:
        problems.append(f"{filename}: no students (only a header row)")
    if problems:
        raise RosterError(problems)
    return students


def _student(
    values: dict[str, str], where: str, modules: Collection[int], problems: list[str]
) -> Student | None:
    before = len(problems)
    for name in ("name", "email", "program", "aliases"):
        if len(values.get(name, "")) > MAX_FIELD_CHARS * (MAX_ALIASES if name == "aliases" else 1):
            problems.append(f"{where}: {name} is too long")
            values[name] = ""
    name = values["name"]
    if not name:
        problems.append(f"{where}: name is empty")
    email = normalise_email(values["email"])
    if not email:
        problems.append(f"{where}: email is empty")
    elif not is_email(email):
        problems.append(f"{where}: email {values['email']!r} is not a valid address")
    module = _whole_number(values["module"])
    if module is None:
        problems.append(f"{where}: module {values['module']!r} is not a whole number")
    elif module not in modules:
        known = ", ".join(str(m) for m in sorted(modules))
        problems.append(f"{where}: module {module} is not in homeroom.toml (modules: {known})")
    program = values["program"]
    if not program:
        problems.append(f"{where}: program is empty")
    group = _whole_number(values["group"])
    if group is None or group < 1:
        problems.append(f"{where}: group {values['group']!r} is not a positive whole number")
    aliases = _aliases(values.get("aliases", ""), where, problems)
    if len(problems) > before:
        return None
    return Student(email=email, name=name, module=module, program=program, group=group, aliases=aliases)


def _whole_number(text: str) -> int | None:
    text = text.strip()
    if text.startswith("#"):  # "#3" is how staff write group numbers
        text = text[1:]
    # isdigit() alone also accepts "²", which int() refuses; staff type ASCII digits.
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def _aliases(text: str, where: str, problems: list[str]) -> tuple[str, ...]:
    aliases: list[str] = []
    for alias in (part.strip() for part in text.split(";")):
        if not alias:
            continue
        if "@" in alias:
            if not is_email(normalise_email(alias)):
                problems.append(f"{where}: alias {alias!r} looks like an email but is not a valid address")
                continue
            alias = normalise_email(alias)
        if alias not in aliases:
            aliases.append(alias)
    if len(aliases) > MAX_ALIASES:
        problems.append(f"{where}: more than {MAX_ALIASES} aliases")
    return tuple(aliases)


def _alias_clashes(students: list[Student], lines: dict[str, int], filename: str) -> Iterator[str]:
    """An alias email that is another student's email would credit the wrong person."""
    for student in students:
        for alias in student.aliases:
            owner_line = lines.get(alias)
            if owner_line is not None and alias != student.email:
                yield (
                    f"{filename} line {lines[student.email]}: alias {alias} is the email of the "
                    f"student on line {owner_line}"
                )


# -- changes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    email: str
    name: str
    from_group: int
    to_group: int


@dataclass
class ModuleChanges:
    """What importing a file does to one module's roster."""

    module: int
    added: list[Student] = field(default_factory=list)
    moved: list[Move] = field(default_factory=list)
    deactivated: list[Student] = field(default_factory=list)
    updated: list[Student] = field(default_factory=list)  # same group, new name/program/aliases
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.moved or self.deactivated or self.updated)

    def summary(self) -> str:
        return (
            f"module {self.module}: {len(self.added)} added, {len(self.moved)} moved, "
            f"{len(self.deactivated)} deactivated, {len(self.updated)} updated, {self.unchanged} unchanged"
        )


def roster_changes(current: Sequence[Student], incoming: Sequence[Student]) -> list[ModuleChanges]:
    """Compare the stored roster with a file's students, for each module the file contains."""
    by_email = {student.email: student for student in current}
    modules = sorted({student.module for student in incoming})
    changes = {module: ModuleChanges(module) for module in modules}
    incoming_emails = {student.email for student in incoming}
    for student in incoming:
        change = changes[student.module]
        existing = by_email.get(student.email)
        if existing is None or not existing.active or existing.module != student.module:
            change.added.append(student)
        elif existing.group != student.group:
            change.moved.append(Move(student.email, student.name, existing.group, student.group))
        elif (existing.name, existing.program, existing.aliases) != (
            student.name,
            student.program,
            student.aliases,
        ):
            change.updated.append(student)
        else:
            change.unchanged += 1
    for student in current:
        if student.active and student.module in changes and student.email not in incoming_emails:
            changes[student.module].deactivated.append(student)
    return [changes[module] for module in modules]
