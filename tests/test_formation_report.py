"""A formation's quality in words: what the solver proved, rule by rule, and never a gap the groups
contradict. Real CP-SAT solves of each kind (a proved optimum, a proved gap, a run stopped by its
time limit) and stored reports, old and new."""

from __future__ import annotations

import random

import pytest
from ortools.sat.python import cp_model

from tests.test_groups import cohort, form
from zoom_homeroom.core.formation import greedy_baseline, quality_summary
from zoom_homeroom.core.formation.problem import GROUP_SIZES, MIXING, TOPIC_CHOICES
from zoom_homeroom.core.formation.solver import DTIME_PER_SECOND, Runner

FIGURES = {
    "students": 118,
    "groups": 24,
    "answered": 92,
    "first_choice_share": 1.0,
    "top2_share": 1.0,
    "groups_single_module": 0,
    "groups_single_program": 0,
    "isolated_students": 0,
    "repeated_pairs": 0,
    "solve_seconds": 0.714,
}
FIGURE_WORDS = (
    "first choice 100%, top 2 100% (of 92 who answered); single-module groups 0, single-program groups 0; "
    "isolated students 0; repeated pairs 0"
)
# Plenty of wall-clock time: these solves stop on their deterministic budget only, the same on any machine.
SECONDS = 10.0


def share_of(work: float) -> float:
    """The share of a SECONDS runner's budget that is `work` deterministic-time units."""
    return work / (SECONDS * DTIME_PER_SECOND)


def solved_at_once() -> cp_model.CpModel:
    """At most 3 of x, y, z: the optimum (3) is proved by the first bound."""
    model = cp_model.CpModel()
    x = [model.new_bool_var(name) for name in "xyz"]
    model.add(sum(x) <= 3)
    model.maximize(sum(x))
    return model


def max_cut(*, maximise: bool, vertices: int = 20) -> cp_model.CpModel:
    """A random graph's vertices in two parts: most edges across (maximise), or fewest inside (minimise).

    Too hard to prove in a few milliseconds of solver work; the bound stays at the number of edges
    (maximising) or at 0 (minimising).
    """
    rng = random.Random(3)
    model = cp_model.CpModel()
    side = [model.new_bool_var(f"side{i}") for i in range(vertices)]
    edges = [(i, j) for i in range(vertices) for j in range(i + 1, vertices) if rng.random() < 0.3]
    terms = []
    for i, j in edges:
        term = model.new_bool_var(f"edge{i}_{j}")
        if maximise:  # across: the two sides differ
            model.add(term <= side[i] + side[j])
            model.add(term <= 2 - side[i] - side[j])
        else:  # inside: the two sides agree
            model.add(term >= 1 - side[i] - side[j])
            model.add(term >= side[i] + side[j] - 1)
        terms.append(term)
    if maximise:
        model.maximize(sum(terms))
    else:
        model.minimize(sum(terms))
    return model


def words(runner: Runner) -> str:
    report = {**FIGURES, "status": runner.status, "proof": [proof.as_dict() for proof in runner.proof]}
    summary = quality_summary(report)
    assert summary.startswith(f"{FIGURE_WORDS}. Solver (0.71 s): "), summary
    return summary.removeprefix(f"{FIGURE_WORDS}. Solver (0.71 s): ")


def test_a_proved_optimum_reads_optimal():
    runner = Runner(SECONDS, seed=1)
    solver = runner.solve(solved_at_once(), share_of(1.0), "topics", TOPIC_CHOICES)

    assert (solver.objective_value, solver.best_objective_bound) == (3, 3)
    assert words(runner) == "optimal"


def test_a_proved_gap_reads_within_that_much_of_the_best_possible():
    runner = Runner(SECONDS, seed=1)
    runner.solve(solved_at_once(), share_of(1.0), "topics", TOPIC_CHOICES)
    solver = runner.solve(max_cut(maximise=True), share_of(0.003), "seats", MIXING)

    value, bound = solver.objective_value, solver.best_objective_bound
    assert 0 < value < bound  # stopped with a solution and a bound above it
    # The best possible is at most `bound`, so the solution is within (bound - value) / bound of it,
    # rounded up to a whole percent: (48 - 38) / 48 = 20.8%.
    assert (value, bound) == (38, 48)
    assert words(runner) == "optimal for topic choices; mixing within 21% of the best possible"


def test_a_run_stopped_by_its_time_limit_reads_best_found():
    runner = Runner(SECONDS, seed=1)
    runner.solve(solved_at_once(), share_of(1.0), "topics", TOPIC_CHOICES)
    runner.solve(max_cut(maximise=True), share_of(0.003), "seats", MIXING)
    solver = runner.solve(max_cut(maximise=False), share_of(0.003), "seats", GROUP_SIZES)

    # Minimising from a bound of 0, the solver proved nothing about how far 10 is from the best.
    assert (solver.objective_value, solver.best_objective_bound) == (10, 0)
    assert words(runner) == (
        "optimal for topic choices; mixing within 21% of the best possible; "
        "group sizes: time limit reached; best found"
    )


def test_a_solve_that_found_nothing_reads_best_found():
    runner = Runner(SECONDS, seed=1)
    # 80 vertices: the smallest budget (0.001 units) ends before the first solution.
    assert runner.solve(max_cut(maximise=True, vertices=80), share_of(0.001), "seats", MIXING) is None

    assert words(runner) == "mixing: time limit reached; best found"


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (0.0004, "within 0.1% of the best possible"),
        (0.0351, "within 3.6% of the best possible"),
        (0.1201, "within 13% of the best possible"),
    ],
)
def test_a_gap_is_rounded_up_never_down(gap, expected):
    report = {
        **FIGURES,
        "status": "FEASIBLE",
        "proof": [{"rule": "repeated pairs", "optimal": False, "gap": gap}],
    }
    assert quality_summary(report) == f"{FIGURE_WORDS}. Solver (0.71 s): repeated pairs {expected}"


def test_an_old_report_never_repeats_its_mixed_gap():
    # Stored before proofs were kept per rule: "feasible, gap 100.0%" beside 100% first choices.
    old = {**FIGURES, "optimal": False, "gap": 1.0, "status": "FEASIBLE"}

    summary = quality_summary(old)

    assert summary == f"{FIGURE_WORDS}. Solver (0.71 s): time limit reached; best found"
    assert "gap" not in summary and "100.0%" not in summary


def test_an_old_optimal_report_reads_optimal():
    old = {**FIGURES, "optimal": True, "gap": 0.0, "status": "OPTIMAL"}
    assert quality_summary(old) == f"{FIGURE_WORDS}. Solver (0.71 s): optimal"


def test_a_report_without_figures_shows_question_marks_and_no_solver():
    assert quality_summary({}) == (
        "first choice ?, top 2 ? (of ? who answered); single-module groups ?, single-program groups ?; "
        "isolated students ?; repeated pairs ?"
    )


def test_a_real_formation_says_what_it_proved():
    students, answers = cohort()
    quality = form(students, answers).quality

    assert quality.optimal  # this instance solves to a proved optimum well inside its budget
    assert quality_summary(quality.as_dict()).endswith(f"Solver ({quality.solve_seconds:.2f} s): optimal")


def test_the_greedy_baseline_says_it_proves_nothing():
    students, answers = cohort(per_module=8)
    greedy = greedy_baseline(students, answers, group_size=(4, 6), upper_modules=(3, 4))

    assert quality_summary(greedy.quality.as_dict()).endswith(
        ". Solver: none (the greedy baseline proves nothing)"
    )
