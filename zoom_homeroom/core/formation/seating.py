"""Stage C, seats, when some students already met: who goes to which topic (fewest expected repeats),
then who sits in which of its groups (fewest repeated pairs), never worse than stage B on the rules
above.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from ortools.sat.python import cp_model

from .composition import Composition, Weights, add_group
from .problem import EXPECTED_REPEAT_SCALE, REPEATED_PAIRS, Kind, Problem, flags_of, pairs_among
from .solver import Runner

# Share of the remaining solver budget (see solver.Runner).
TOPIC_ASSIGNMENT_SHARE = 0.3
# A topic with at most this many (student, group) pairs is reseated freely in stage C; a larger one
# keeps stage B's seats per (module, program), which still leaves many ways to seat its students.
FREE_SEATING_LIMIT = 2500


def seat(problem: Problem, composition: Composition, runner: Runner, rng: random.Random) -> dict[int, int]:
    """Stage C: student id -> group index, fewest pairs who already met (a seeded order breaks ties)."""
    order = _spread_order(problem, rng)
    topic_of = _assign_topics(problem, composition, runner, order)
    members: dict[str, list[int]] = defaultdict(list)
    for s in sorted(topic_of, key=order.__getitem__):
        members[topic_of[s]].append(s)
    work = {
        t: len(ids) * len(composition.groups_of(t)) for t, ids in members.items() if pairs_among(problem, ids)
    }
    seats: dict[int, int] = {}
    for t, ids in members.items():
        share = work[t] / sum(work.values()) if t in work else 0.0
        seats.update(_seat_topic(problem, composition, t, ids, runner, share))
        work.pop(t, None)
    return seats


def _spread_order(problem: Problem, rng: random.Random) -> dict[int, int]:
    """A seeded order of the students in which those who already met come one after the other.

    Dealing students in turn then sends them to different topics and groups, so even a warm start
    or a fallback avoids most repeats (a plain seeded order would rebuild last time's groups).
    """
    shuffled = {s: i for i, s in enumerate(rng.sample(sorted(problem.students), len(problem.students)))}
    cluster = dict(shuffled)
    for first, second in pairs_among(problem, problem.students):  # sorted: no hash order
        cluster[first] = cluster[second] = min(
            cluster[first], cluster[second], shuffled[first], shuffled[second]
        )
    ranked = sorted(problem.students, key=lambda s: (cluster[s], shuffled[s]))
    return {s: i for i, s in enumerate(ranked)}


def _in_turn(students: Iterable[int], counts: Mapping[str, int]) -> dict[int, str]:
    """Deal students to topics one at a time in turn, each topic taking `counts[topic]` of them."""
    left = {t: n for t, n in counts.items() if n}
    dealt: dict[int, str] = {}
    waiting = iter(students)
    while left:
        for t in list(left):
            dealt[next(waiting)] = t
            left[t] -= 1
            if not left[t]:
                del left[t]
    return dealt


def _topic_options(problem: Problem, composition: Composition) -> dict[int, list[tuple[str, bool]]]:
    """Where each student may go: (topic, True) at a topic they listed, (topic, False) in the pool."""
    options: dict[int, list[tuple[str, bool]]] = {}
    open_topics = list(dict.fromkeys(composition.topics))
    for ci, c in enumerate(problem.classes):
        listed = [(t, True) for t in c.prefs if composition.listed.get((ci, t), 0)]
        outside = len(c.members) - sum(composition.listed.get((ci, t), 0) for t in c.prefs)
        pooled = [(t, False) for t in open_topics if outside and composition.pooled.get((c.kind, t), 0)]
        for s in c.members:
            options[s] = listed + pooled
    for kind, ids in problem.neutral.items():
        for s in ids:
            options[s] = [(t, False) for t in open_topics if composition.pooled.get((kind, t), 0)]
    return options


def _realise_topics(
    problem: Problem, composition: Composition, order: Mapping[int, int]
) -> dict[int, tuple[str, bool]]:
    """An option (topic, listed) per student matching the composition's counts, in the seeded order."""
    option_of: dict[int, tuple[str, bool]] = {}
    pool: dict[Kind, list[int]] = {
        k: sorted(problem.neutral.get(k, ()), key=order.__getitem__) for k in problem.kinds
    }
    for ci, c in enumerate(problem.classes):
        members = sorted(c.members, key=order.__getitem__)
        listed = {t: composition.listed.get((ci, t), 0) for t in c.prefs}
        dealt = _in_turn(members, listed)
        option_of.update((s, (t, True)) for s, t in dealt.items())
        pool[c.kind].extend(s for s in members if s not in dealt)  # outside their answers
    for kind, ids in pool.items():
        pooled = {t: composition.pooled.get((kind, t), 0) for t in problem.topics}
        option_of.update(
            (s, (t, False)) for s, t in _in_turn(sorted(ids, key=order.__getitem__), pooled).items()
        )
    return option_of


def _assign_topics(
    problem: Problem, composition: Composition, runner: Runner, order: Mapping[int, int]
) -> dict[int, str]:
    """Stage C, first half: a topic per student, fewest expected repeats (pairs sharing a topic)."""
    default = _realise_topics(problem, composition, order)
    options = _topic_options(problem, composition)
    pairs = [
        (a, b)
        for a, b in pairs_among(problem, problem.students)
        if len(options[a]) > 1 or len(options[b]) > 1
    ]
    if not pairs:
        return {s: t for s, (t, _) in default.items()}
    model = cp_model.CpModel()
    y = {(s, option): model.new_bool_var(f"y{s}_{option}") for s, opts in options.items() for option in opts}
    for s, opts in options.items():
        model.add_exactly_one(y[s, option] for option in opts)
    _match_counts(model, problem, composition, y)
    in_topic: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
    for (s, option), var in y.items():
        in_topic[s, option[0]].append(var)
        model.add_hint(var, default[s] == option)
    costs = []
    for a, b in pairs:
        for t in sorted({t for t, _ in options[a]} & {t for t, _ in options[b]}):
            both = model.new_bool_var(f"both{a}_{b}_{t}")
            model.add(sum(in_topic[a, t]) + sum(in_topic[b, t]) <= 1 + both)
            model.add_hint(both, default[a][0] == default[b][0] == t)
            costs.append(EXPECTED_REPEAT_SCALE // len(composition.groups_of(t)) * both)
    model.minimize(sum(costs))
    solver = runner.solve(model, TOPIC_ASSIGNMENT_SHARE, "topic assignment", REPEATED_PAIRS)
    if solver is None:
        return {s: t for s, (t, _) in default.items()}
    return {s: t for (s, (t, _)), var in y.items() if solver.value(var)}


def _match_counts(
    model: cp_model.CpModel,
    problem: Problem,
    composition: Composition,
    y: Mapping[tuple[int, tuple[str, bool]], cp_model.IntVar],
) -> None:
    """Students per (class, listed topic) and per (kind, pooled topic) equal the composition's counts."""
    class_of = {s: ci for ci, c in enumerate(problem.classes) for s in c.members}
    listed: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
    pooled: dict[tuple[Kind, str], list[cp_model.IntVar]] = defaultdict(list)
    for (s, (t, is_listed)), var in y.items():
        if is_listed:
            listed[class_of[s], t].append(var)
        else:
            pooled[problem.kind_of(s), t].append(var)
    for key, variables in listed.items():
        model.add(sum(variables) == composition.listed[key])
    for key, variables in pooled.items():
        model.add(sum(variables) == composition.pooled[key])


def _seat_topic(
    problem: Problem,
    composition: Composition,
    topic: str,
    students: Sequence[int],
    runner: Runner,
    share: float,
) -> dict[int, int]:
    """Stage C, second half: the topic's students in its groups, fewest repeated pairs.

    First within stage B's seats per kind; then, in a small topic, freely from that solution, as long
    as no rule above repeated pairs gets worse.
    """
    groups = composition.groups_of(topic)
    seated = _fill_topic(problem, composition, groups, students, {})
    pairs = pairs_among(problem, students)
    if not pairs:
        return seated
    free = len(students) * len(groups) <= FREE_SEATING_LIMIT
    # Only students with a partner who could meet them again need a variable in the seats model.
    involved = sorted({s for pair in pairs for s in pair}, key=students.index)
    model, b = _seating_model(problem, composition, groups, involved, pairs, seated, free=False)
    solver = runner.solve(model, share / 2 if free else share, "seats", REPEATED_PAIRS)
    if solver is not None:
        placed = {s: j for (s, j), var in b.items() if solver.value(var)}
        seated = _fill_topic(problem, composition, groups, students, placed)
    if free:
        model, b = _seating_model(problem, composition, groups, students, pairs, seated, free=True)
        # The first solve took about half of this topic's share; this one takes the other half.
        solver = runner.solve(model, share / (2 - share), "free seats", REPEATED_PAIRS)
        if solver is not None:
            seated = {s: j for (s, j), var in b.items() if solver.value(var)}
    return seated


def _seating_model(
    problem: Problem,
    composition: Composition,
    groups: Sequence[int],
    students: Sequence[int],
    pairs: Sequence[tuple[int, int]],
    hint: Mapping[int, int],
    *,
    free: bool,
) -> tuple[cp_model.CpModel, dict[tuple[int, int], cp_model.IntVar]]:
    """Seat `students` (the others keep free seats of their kind), fewest repeated pairs.

    `free` lets each group's kinds change within the group rules and stage B's penalties; otherwise
    each group keeps its seats per kind. `hint` is a valid seating to start from.
    """
    model = cp_model.CpModel()
    b = {}
    for s in students:
        kind = problem.kind_of(s)
        mine = [j for j in groups if free or composition.seats[j].get(kind, 0)]
        b.update({(s, j): model.new_bool_var(f"b{s}_{j}") for j in mine})
        model.add_exactly_one(b[s, j] for j in mine)
    if free:
        _keep_penalty(model, problem, composition, groups, b, hint)
    else:
        _cap_seats(model, problem, composition, b)
    repeats = []
    for first, second in pairs:
        repeat = model.new_bool_var(f"repeat{first}_{second}")
        for j in groups:
            if (first, j) in b and (second, j) in b:
                model.add(b[first, j] + b[second, j] <= 1 + repeat)
        model.add_hint(repeat, hint[first] == hint[second])
        repeats.append(repeat)
    for (s, j), var in b.items():
        model.add_hint(var, hint[s] == j)
    model.minimize(sum(repeats))
    return model, b


def _keep_penalty(
    model: cp_model.CpModel,
    problem: Problem,
    composition: Composition,
    groups: Sequence[int],
    b: Mapping[tuple[int, int], cp_model.IntVar],
    hint: Mapping[int, int],
) -> None:
    """Reseat freely, but keep the hard rules and never do worse than stage B on the rules above."""
    weights = Weights(len(composition.topics))
    penalties = []
    for j in groups:
        seats: dict[Kind, list[cp_model.IntVar]] = defaultdict(list)
        for (s, jj), var in b.items():
            if jj == j:
                seats[problem.kind_of(s)].append(var)
        hinted = Counter(problem.kind_of(s) for s, jj in hint.items() if jj == j)
        flags = add_group(model, problem, {k: sum(v) for k, v in seats.items()}, hinted)
        penalties.append(weights.penalty(flags))
    budget = sum(weights.penalty(flags_of(problem, composition.seats[j])) for j in groups)
    model.add(sum(penalties) <= budget)


def _cap_seats(
    model: cp_model.CpModel,
    problem: Problem,
    composition: Composition,
    b: Mapping[tuple[int, int], cp_model.IntVar],
) -> None:
    """Seated students never exceed a group's seats of their kind."""
    by_seat: dict[tuple[int, Kind], list[cp_model.IntVar]] = defaultdict(list)
    for (s, j), var in b.items():
        by_seat[j, problem.kind_of(s)].append(var)
    for (j, kind), variables in by_seat.items():
        model.add(sum(variables) <= composition.seats[j][kind])


def _fill_topic(
    problem: Problem,
    composition: Composition,
    groups: Sequence[int],
    students: Sequence[int],
    placed: Mapping[int, int],
) -> dict[int, int]:
    """Complete `placed` (student -> group): the others take the free seats of their kind, in order."""
    assignment = dict(placed)
    seats = {j: Counter(composition.seats[j]) for j in groups}
    for s, j in placed.items():
        seats[j][problem.kind_of(s)] -= 1
    waiting: dict[Kind, list[int]] = defaultdict(list)
    for s in students:
        if s not in placed:
            waiting[problem.kind_of(s)].append(s)
    turn = 0
    for kind, ids in waiting.items():
        for s in ids:
            # Round the table, so consecutive students (who may have met) go to different groups.
            while seats[groups[turn % len(groups)]][kind] <= 0:
                turn += 1
            j = groups[turn % len(groups)]
            assignment[s] = j
            seats[j][kind] -= 1
            turn += 1
    return assignment
