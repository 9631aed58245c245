"""A formation's quality in words: the one summary the Mix It Up pages, the CLI and the demo print.

The solver's part says what was proved, rule by rule, and never a figure the groups contradict:
"optimal"; "group sizes within 3.5% of the best possible"; "repeated pairs: time limit reached; best
found" where the solver stopped without a bound that says anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

TIME_LIMITED = "time limit reached; best found"


def quality_summary(quality: Mapping[str, Any]) -> str:
    """The figures and what the solver proved, from a stored or fresh `Quality.as_dict()`.

    Figures missing from an older stored report show as "?"; a report without a status (formed
    before statuses were kept) says nothing about the solver.
    """

    def share(key: str) -> str:
        value = quality.get(key)
        return f"{value:.0%}" if isinstance(value, int | float) else "?"

    def number(key: str) -> str:
        return str(quality.get(key, "?"))

    figures = (
        f"first choice {share('first_choice_share')}, top 2 {share('top2_share')} "
        f"(of {number('answered')} who answered); single-module groups {number('groups_single_module')}, "
        f"single-program groups {number('groups_single_program')}; isolated students "
        f"{number('isolated_students')}; repeated pairs {number('repeated_pairs')}"
    )
    verdict = solver_verdict(quality)
    if verdict is None:
        return figures
    seconds = quality.get("solve_seconds")
    took = (
        f" ({seconds:.2f} s)"
        if isinstance(seconds, int | float) and quality.get("status") != "GREEDY"
        else ""
    )
    return f"{figures}. Solver{took}: {verdict}"


def solver_verdict(quality: Mapping[str, Any]) -> str | None:
    """What the solver proved: "optimal", each unproved rule's distance from the best possible, or
    that the time limit stopped it; None for a report that does not say."""
    status = quality.get("status")
    if status == "GREEDY":
        return "none (the greedy baseline proves nothing)"
    proof = quality.get("proof")
    if isinstance(proof, Sequence) and proof:
        return _proof_words(proof)
    if status == "OPTIMAL":
        return "optimal"
    if status == "FEASIBLE":
        # Formed before proofs were kept per rule: its single gap mixed rules and could read "100%"
        # beside 100% first choices, so it is not repeated.
        return TIME_LIMITED
    return None


def _proof_words(proof: Sequence[Mapping[str, Any]]) -> str:
    proved = [str(item["rule"]) for item in proof if item.get("optimal")]
    if len(proved) == len(proof):
        return "optimal"
    clauses = [f"optimal for {_listed(proved)}"] if proved else []
    for item in proof:
        if item.get("optimal"):
            continue
        gap = item.get("gap")
        if isinstance(gap, int | float) and gap > 0:
            clauses.append(f"{item['rule']} within {_percent(gap)} of the best possible")
        else:
            clauses.append(f"{item['rule']}: {TIME_LIMITED}")
    return "; ".join(clauses)


def _percent(gap: float) -> str:
    """Rounded up, so the words never promise more than was proved: 0.0004 is "0.1%", 0.121 "13%"."""
    if gap < 0.1:
        return f"{math.ceil(gap * 1000) / 10:.1f}%"
    return f"{math.ceil(gap * 100)}%"


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
