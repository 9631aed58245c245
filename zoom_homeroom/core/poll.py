"""Mix It Up topic poll CSV validation. Pure: the caller reads the file and knows the roster.

Columns `email,topic` and an optional `rank` (1 = first choice). Without `rank`, a student's rows
rank in file order. Every problem is reported with its line number; nothing applies on error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .matching import normalise_email
from .roster import CsvProblems, read_csv

MAX_TOPIC_CHARS = 80
MAX_RANK = 10
# A Slack poll menu holds at most 100 options (Block Kit's static_select).
MAX_TOPICS = 100


class PollError(CsvProblems):
    """The poll file cannot be imported."""


@dataclass(frozen=True)
class PollAnswer:
    student_id: int
    topic: str
    rank: int


def parse_poll(data: bytes, *, filename: str, students: Mapping[str, int]) -> list[PollAnswer]:
    """Validate a poll export against the active roster (`students`: lower-case email -> id)."""
    rows = read_csv(data, filename=filename, required=("email", "topic"), optional=("rank",), error=PollError)
    problems: list[str] = []
    answers: list[PollAnswer] = []
    seen_rank: dict[tuple[int, int], int] = {}
    seen_topic: dict[tuple[int, str], int] = {}
    next_rank: dict[int, int] = {}
    for row in rows:
        where = f"{filename} line {row.line}"
        email = normalise_email(row.values["email"])
        topic = " ".join(row.values["topic"].split())
        before = len(problems)
        student_id = students.get(email)
        if not email:
            problems.append(f"{where}: email is empty")
        elif student_id is None:
            problems.append(f"{where}: {email} is not an active student on the roster")
        if not topic:
            problems.append(f"{where}: topic is empty")
        elif len(topic) > MAX_TOPIC_CHARS:
            problems.append(f"{where}: topic is longer than {MAX_TOPIC_CHARS} characters")
        rank = _rank(row.values.get("rank"), where, problems)
        if len(problems) > before or student_id is None:
            continue
        if rank is None:
            rank = next_rank.get(student_id, 1)
        next_rank[student_id] = max(next_rank.get(student_id, 1), rank + 1)
        earlier = seen_rank.setdefault((student_id, rank), row.line)
        if earlier != row.line:
            problems.append(f"{where}: {email} already has a rank {rank} choice on line {earlier}")
            continue
        earlier = seen_topic.setdefault((student_id, topic.casefold()), row.line)
        if earlier != row.line:
            problems.append(f"{where}: {email} already chose {topic!r} on line {earlier}")
            continue
        answers.append(PollAnswer(student_id, topic, rank))
    if not rows and not problems:
        problems.append(f"{filename}: no answers (only a header row)")
    if problems:
        raise PollError(problems)
    return answers


def check_topics(raw: list[str] | tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """A poll's topics (the calendar's or `--topics`) tidied, whitespace collapsed, and a line for each
    problem: empty, longer than the CSV's topics may be, listed twice (ignoring case), too many for
    one Slack menu."""
    topics = tuple(" ".join(topic.split()) for topic in raw)
    problems: list[str] = []
    seen: set[str] = set()
    for number, topic in enumerate(topics, start=1):
        if not topic:
            problems.append(f"topic {number} is empty")
        elif len(topic) > MAX_TOPIC_CHARS:
            problems.append(f"topic {topic[:40]!r}... is longer than {MAX_TOPIC_CHARS} characters")
        elif topic.casefold() in seen:
            problems.append(f"topic {topic!r} is listed twice")
        seen.add(topic.casefold())
    if len(topics) > MAX_TOPICS:
        problems.append(f"{len(topics)} topics: a Slack menu holds at most {MAX_TOPICS}")
    return topics, problems


def _rank(text: str | None, where: str, problems: list[str]) -> int | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    # isdigit() alone also accepts "²", which int() refuses.
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_RANK:
        problems.append(f"{where}: rank {text!r} is not a whole number from 1 to {MAX_RANK}")
        return None
    return int(text)
