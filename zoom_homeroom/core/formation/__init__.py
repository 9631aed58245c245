"""Mix It Up groups: every active student in a topic group mixed across modules and programs.

`form_groups` solves with OR-Tools CP-SAT in stages. Students with the same answers, module and program
are interchangeable for every rule but the last, and so are students of one module and program who did
not answer (or sit outside their answers); stages A and B count such students instead of placing each
one, which keeps the models small at 1,000 students.

A. Topics. How many students of each answer class, and of each (module, program) in the neutral pool,
   go to each topic, and how many groups each topic gets. Lexicographic, one solve per step, each
   keeping what the steps before it reached (so no weight can overflow): first choices, second
   choices, ...; then, to choose the groups per topic, lower bounds of single-module/program groups,
   of isolated students, the expected repeats (week 4), a lower bound of lone upper-module students,
   and last the distance of group sizes from the middle of the allowed range. Stage A is exact for
   the topic rule: every plan it accepts can be split into valid groups.
B. Composition. With the rank counts and groups per topic fixed: students of each (module, program)
   in each group. Fewest single-module and single-program groups, then fewest isolated lower-module
   students, then fewest groups whose one upper-module student is alone (weights make each dominate).
C. Seats, only when some students already met: who goes to which topic (fewest expected repeats),
   then, per topic, who sits in which group: fewest repeated pairs, never worse than stage B on the
   rules above. Small topics may change their composition for that; large ones keep it.

So each priority is optimised in order, but given the stages before it: `optimal` in the quality
means every stage proved its own optimum, not that the whole is a proved lexicographic optimum. One
simplification: the lone upper-module rule (the last, "only if it costs nothing") is settled in
stage B, before repeated pairs.

Determinism: every solve runs one worker with a fixed seed and stops on a deterministic time budget
(a count of work, not seconds) derived from `time_limit_seconds`; nothing depends on hash order. The
wall-clock limit, at three times `time_limit_seconds`, is a safety net only: a run it cuts short may
differ from the next one.

Pure: no I/O, no clock (solve times come from the solver's own report), no global random state.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from ..models import FormedGroup, Student
from .composition import compose
from .greedy import greedy, greedy_baseline, plan_of
from .problem import OPEN_TOPIC, Formation, FormationError, Proof, Quality, formation_of, prepare
from .report import quality_summary
from .seating import seat
from .solver import Runner
from .topics import plan_topics

__all__ = [
    "OPEN_TOPIC",
    "Formation",
    "FormationError",
    "FormedGroup",
    "Proof",
    "Quality",
    "form_groups",
    "greedy_baseline",
    "quality_summary",
]


def form_groups(
    students: Sequence[Student],
    preferences: Mapping[int, Sequence[str]],
    *,
    group_size: tuple[int, int],
    upper_modules: Collection[int],
    previous_pairs: Collection[frozenset[int]] = (),
    seed: int = 0,
    time_limit_seconds: float = 10.0,
) -> Formation:
    """Form Mix It Up groups with CP-SAT: every hard rule met, the soft rules in priority order.

    `preferences` maps a student id to topics, best first (absent: did not answer); answers of
    students not in `students` are ignored. The same input and seed give the same groups.
    `time_limit_seconds` bounds the solver (building the models comes on top: well under a second
    at 1,000 students); the best groups found are returned, and `quality.proof` says what was
    proved of each rule. Raises FormationError when no grouping exists, saying what would fix it.
    """
    if not time_limit_seconds > 0:
        raise FormationError(f"the time limit must be a positive number of seconds, not {time_limit_seconds}")
    problem = prepare(students, preferences, group_size, upper_modules, previous_pairs)
    runner = Runner(time_limit_seconds, seed)
    # The greedy's plan is a valid warm start, so the solver never returns fewer first choices.
    warm_start = plan_of(problem, greedy(problem, random.Random(seed)))
    plan = plan_topics(problem, runner, warm_start)
    composition = compose(problem, plan, runner)
    seats = seat(problem, composition, runner, random.Random(seed))
    members: dict[int, list[int]] = defaultdict(list)
    for s, j in seats.items():
        members[j].append(s)
    return formation_of(
        problem,
        ((composition.topics[j], members[j]) for j in range(len(composition.topics))),
        solve_seconds=runner.wall,
        proof=runner.proof,
        status=runner.status,
    )
