"""Numbers beyond 64 bits in paths, query strings and options are a 404, a 400 or a usage error, never a
500 or a traceback (issue 12, item 10): SQLite's integers are 64-bit."""

from __future__ import annotations

import pytest

from zoom_homeroom.cli import cli

HUGE = "99999999999999999999"  # more than 2**64
LARGEST = str(2**63 - 1)


@pytest.mark.parametrize(
    "path",
    [
        f"/students/{HUGE}",
        f"/students/{LARGEST}",
        f"/students/{2**63}",
        f"/modules/{HUGE}",
        f"/mix-it-up/week/{HUGE}",
        f"/mix-it-up/week/{HUGE}.csv",
        f"/mix-it-up/week/{HUGE}.md",
    ],
)
def test_a_huge_number_in_a_path_is_not_found(rep, path: str):
    assert rep.get(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [f"module={HUGE}", f"week={HUGE}", f"module=-{HUGE}", f"module={LARGEST}", f"date={HUGE}"],
)
def test_a_huge_number_in_a_query_string_is_a_400_naming_the_parameter(rep, query: str):
    response = rep.get(f"/api/attendance?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.get_json()["message"]


@pytest.mark.parametrize(
    "args",
    [
        ["attendance", "--module", HUGE],
        ["attendance", "unmatched", "--module", HUGE],
        ["backfill", "--module", HUGE],
        ["plan", "--module", HUGE],
        ["mixitup", "form", "--week", "2", "--seed", HUGE],
    ],
)
def test_a_huge_number_in_an_option_is_a_usage_error(runner, runtime, args: list[str]):
    result = runner.invoke(cli, args, obj=runtime)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "is not in the range" in result.output
