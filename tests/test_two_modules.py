"""A calendar of modules 1 and 2 (no upper modules) loads and runs its homerooms; only forming Mix It Up
groups refuses, saying why, and `config check` warns without failing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import calendar_doc, calendar_toml
from zoom_homeroom.cli import cli
from zoom_homeroom.core.calendar import calendar_warnings, parse_calendar
from zoom_homeroom.demo.cohort import roster_csv, sample_students
from zoom_homeroom.settings import load_calendar

TWO_MODULES = calendar_doc(modules=calendar_doc()["modules"][:2])  # upper_modules stays [3, 4]
NONE_OF_THE_UPPER = "mix_it_up.upper_modules: modules 3, 4 are not in [[modules]]"


@pytest.fixture
def calendar():
    return parse_calendar(TWO_MODULES)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "homeroom.toml"
    path.write_text(calendar_toml(TWO_MODULES), encoding="utf-8")
    return path


STUDENTS = sample_students(modules=(1, 2), per_module=12)


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(roster_csv(STUDENTS), encoding="utf-8")
    return path


def test_a_two_module_calendar_loads_with_one_warning(config_file):
    calendar = load_calendar(config_file)

    assert calendar.module_numbers == (1, 2)
    assert calendar.mix_it_up.upper_modules == (3, 4)
    [warning] = calendar_warnings(calendar)
    assert warning.startswith(NONE_OF_THE_UPPER)
    assert "Mix It Up groups cannot be formed" in warning


def test_a_calendar_missing_one_upper_module_names_it_and_the_one_left():
    doc = calendar_doc(modules=calendar_doc()["modules"][:3])

    assert calendar_warnings(parse_calendar(doc)) == [
        "mix_it_up.upper_modules: module 4 is not in [[modules]]: "
        "only students of module 3 can lead a Mix It Up group"
    ]


def test_the_full_calendar_has_no_warning():
    assert calendar_warnings(parse_calendar(calendar_doc())) == []


def test_imports_a_roster_plans_and_syncs(runner, sandbox_runtime, sandbox, roster):
    imported = runner.invoke(cli, ["roster", "import", str(roster)], obj=sandbox_runtime)
    assert imported.exit_code == 0, imported.output
    for module in (1, 2):
        added = sum(student.module == module for student in STUDENTS)
        assert f"module {module}: {added} added" in imported.output

    planned = runner.invoke(cli, ["plan"], obj=sandbox_runtime)
    assert planned.exit_code == 0, planned.output
    assert "Mod 1 (host mod1@school.example.org): create" in planned.output
    assert "Mod 2 (host mod2@school.example.org): create" in planned.output

    synced = runner.invoke(cli, ["sync"], obj=sandbox_runtime)
    assert synced.exit_code == 0, synced.output
    assert synced.output.count("created meeting") == 2
    hosts = {meeting["host_email"] for meeting in sandbox.state()["meetings"]}
    assert hosts == {"mod1@school.example.org", "mod2@school.example.org"}


def test_forming_mix_it_up_groups_says_the_calendar_has_no_upper_module(runner, runtime, roster):
    assert runner.invoke(cli, ["roster", "import", str(roster)], obj=runtime).exit_code == 0

    result = runner.invoke(cli, ["mixitup", "form", "--week", "2"], obj=runtime)

    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: week 2: every Mix It Up group needs an upper-module student, and none of the upper modules "
        "(mix_it_up.upper_modules: 3, 4) is in the calendar's [[modules]] (1, 2): add an upper module "
        "to the calendar, or list one of its modules in mix_it_up.upper_modules"
    )
    assert "Traceback" not in result.output


def test_config_check_warns_and_passes(runner, env, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    result = runner.invoke(cli, ["config", "check"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("warning: ")] == [
        f"warning: {NONE_OF_THE_UPPER}: Mix It Up groups cannot be formed (each needs an upper-module "
        "student); the homeroom sessions are not affected"
    ]
    assert not [line for line in lines if line.startswith("problem: ")]
    assert lines[-1].endswith("(2 modules) and the environment are valid (1 warning above)")


def test_config_check_with_a_problem_and_a_warning_fails_on_the_problem_alone(runner, env, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ZOOM_WEBHOOK_SECRET_TOKEN")

    result = runner.invoke(cli, ["config", "check"])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["warning", "problem"]
    assert lines[1].startswith("problem: ZOOM_WEBHOOK_SECRET_TOKEN is not set")
    assert not any(line.startswith("ok: ") for line in lines)
