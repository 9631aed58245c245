"""A deterministic, made-up sample cohort: the roster as CSV text, and the Mix It Up poll's choices
(cast in Slack by the demo, or as a CSV export).

Shipped with the project so the demo and the tests never need files from outside it. Every name is
invented and every address uses the reserved example domain.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

FIRST_NAMES = (
    "Ada Amir Bea Bruno Cara Chen Dara Diego Elif Emeka Farah Felix Gia Goran Hana Hugo Ines Ivan Jae Jana "
    "Kai Kemal Lena Luis Mara Mateo Nia Noor Omar Oona Pia Priya Quinn Rafael Rhea Rosa Sami Sofia Tariq "
    "Tess Uma Umar Vera Vik Wren Xiu Yara Yusuf Zane Zoe"
).split()
LAST_NAMES = (
    "Abara Baker Brooks Castillo Chen Cruz Dubois Eriksen Garcia Haddad Ito Jones Kowalski Lopez Mensah "
    "Moreau Nakamura Novak Okafor Olsen Patel Quinn Rossi Santos Silva Singh Tanaka Usman Vargas Weber "
    "Xu Yilmaz Zhou"
).split()
TOPICS = (
    "Technical interviews",
    "Resume review",
    "LinkedIn and networking",
    "Salary negotiation",
    "Portfolio projects",
    "Wellbeing and imposter syndrome",
)
TOPIC_WEIGHTS = (30, 22, 18, 12, 12, 6)
DOMAIN = "students.example.org"


@dataclass(frozen=True)
class SampleStudent:
    name: str
    email: str
    module: int
    program: str
    group: int
    aliases: str = ""


def sample_students(
    *, modules: tuple[int, ...] = (1, 2, 3, 4), per_module: int = 30, seed: int = 2027
) -> list[SampleStudent]:
    """About `per_module` students per module, two programs, groups of five or six."""
    rng = random.Random(seed)
    used: set[str] = set()
    nicknames: set[str] = set()
    students: list[SampleStudent] = []
    for module in modules:
        size = per_module + rng.choice((-2, -1, 0, 1, 2))
        groups = max(1, round(size / 5.5))
        for index in range(size):
            name, email = _unique_person(rng, used)
            aliases = ""
            first, last = name.split()
            nickname = f"{first[0]}. {last}"
            if rng.random() < 0.08 and nickname not in nicknames:
                # Some students join Zoom under a nickname, or from a personal address.
                nicknames.add(nickname)
                aliases = f"{nickname};{first.lower()}.{last.lower()}@mail.example.com"
            students.append(
                SampleStudent(
                    name=name,
                    email=email,
                    module=module,
                    program="FE" if rng.random() < 0.55 else "BE",
                    group=index % groups + 1,
                    aliases=aliases,
                )
            )
    return students


def _unique_person(rng: random.Random, used: set[str]) -> tuple[str, str]:
    while True:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first.lower()}.{last.lower()}@{DOMAIN}"
        if email not in used:
            used.add(email)
            return f"{first} {last}", email


def roster_csv(students: list[SampleStudent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "email", "module", "program", "group", "aliases"])
    for student in students:
        writer.writerow(
            [student.name, student.email, student.module, student.program, student.group, student.aliases]
        )
    return out.getvalue()


def poll_choices(
    students: list[SampleStudent], *, seed: int = 2027, answered: float = 0.75
) -> dict[str, list[str]]:
    """Ranked topic choices (first choice first) of about `answered` of the students, by email."""
    rng = random.Random(seed + 1)
    picks: dict[str, list[str]] = {}
    for student in students:
        if rng.random() >= answered:
            continue
        choices: list[str] = []
        for _ in range(rng.choice((1, 2, 2, 3))):
            remaining = [t for t in TOPICS if t not in choices]
            weights = [TOPIC_WEIGHTS[TOPICS.index(t)] for t in remaining]
            choices.append(rng.choices(remaining, weights)[0])
        picks[student.email] = choices
    return picks


def poll_csv(students: list[SampleStudent], *, seed: int = 2027, answered: float = 0.75) -> str:
    """The same choices as a poll export (rank 1 = first choice), for `homeroom mixitup import-poll`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "topic", "rank"])
    for email, choices in poll_choices(students, seed=seed, answered=answered).items():
        for rank, topic in enumerate(choices, start=1):
            writer.writerow([email, topic, rank])
    return out.getvalue()
