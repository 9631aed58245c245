"""Validation of the program calendar document."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import PROJECT_ROOT
from tests.factories import calendar_doc, make_calendar
from zoom_homeroom.core.calendar import CalendarError, parse_calendar
from zoom_homeroom.settings import load_calendar


def test_shipped_calendar_is_valid():
    calendar = load_calendar(PROJECT_ROOT / "config" / "homeroom.toml")
    assert calendar.timezone.key == "America/Denver"
    assert calendar.sessions.weekday == 2  # Wednesday
    assert calendar.sessions.start == dt.time(13, 0)
    assert calendar.mix_it_up.group_size == (4, 6)
    assert calendar.module_numbers == (1, 2, 3, 4)
    assert calendar.webhooks.replay_window_minutes == 120


def test_parses_the_documented_example():
    calendar = make_calendar()
    module = calendar.module(1)
    assert module.week1_monday == dt.date(2027, 1, 4)
    assert module.host == "mod1@school.example.org"
    assert calendar.attendance.present_fraction == 0.5
    assert calendar.scheduler.sync_before_minutes == (1440, 60)


def problems_of(doc) -> list[str]:
    with pytest.raises(CalendarError) as caught:
        parse_calendar(doc)
    return caught.value.problems


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["sessions"].update(weekday="caturday"), "sessions.weekday: 'caturday'"),
        (lambda d: d["sessions"].update(start="25:00"), "sessions.start: '25:00' is not a time"),
        (lambda d: d["sessions"].update(duration_minutes=0), "duration_minutes: 0 is out of range"),
        (lambda d: d["sessions"].update(weeks=[1, 1]), "sessions.weeks: lists a number twice"),
        (lambda d: d["sessions"].pop("weeks"), "sessions.weeks: missing"),
        (lambda d: d["mix_it_up"].update(group_size=[6, 4]), "min 6 is larger than max 4"),
        (lambda d: d["mix_it_up"].update(weeks=[7]), "week 7 is not in sessions.weeks"),
        (lambda d: d["mix_it_up"].update(start="12:00"), "mix_it_up.start: 12:00 must fall inside"),
        (lambda d: d["attendance"].update(present_fraction=1.5), "present_fraction: 1.5"),
        (lambda d: d["modules"][1].update(number=1), "module 1 is listed more than once"),
        (
            lambda d: d["modules"][0].update(skip=["2027-01-07"]),
            "2027-01-07 is not one of the module's",
        ),
        (lambda d: d["modules"][0].update(extra=True), "modules[0].extra: unknown key"),
        (
            lambda d: d.update(webhooks={"replay_window_minutes": 1}),
            "replay_window_minutes: 1 is out",
        ),
        (lambda d: d.update(scheduler={"when": 3}), "scheduler.when: unknown key"),
        (lambda d: d.pop("attendance"), "[attendance]: missing table"),
    ],
)
def test_reports_each_kind_of_problem(change, expected):
    doc = calendar_doc()
    change(doc)
    assert any(expected in problem for problem in problems_of(doc)), problems_of(doc)


def test_reports_all_problems_in_one_pass():
    doc = calendar_doc(timezone="Mars/Base", extra=1)
    doc["sessions"]["start"] = "noon"
    doc["modules"][2]["week1_monday"] = "2027-01-06"
    doc["modules"][3]["host"] = ""
    problems = problems_of(doc)
    assert len(problems) == 5, problems


def test_skip_dates_on_session_days_are_accepted():
    doc = calendar_doc()
    doc["modules"][0]["skip"] = ["2027-01-20"]
    assert make_calendar(modules=doc["modules"]).module(1).skip == (dt.date(2027, 1, 20),)


def test_optional_tables_take_their_values():
    calendar = make_calendar(
        webhooks={"replay_window_minutes": 30},
        scheduler={"sync_before_minutes": [60, 1440], "finalize_after_minutes": 30},
    )
    assert calendar.webhooks.replay_window_minutes == 30
    assert calendar.scheduler.sync_before_minutes == (1440, 60)
    assert calendar.scheduler.finalize_after_minutes == 30


def test_native_toml_dates_are_accepted():
    # The example file in the issue parses as TOML with native dates too.
    import tomllib

    doc = tomllib.loads(
        'timezone = "America/Denver"\n[sessions]\nweekday = "wednesday"\nstart = "13:00"\n'
        'duration_minutes = 60\nweeks = [1,2,3,4,5]\n[mix_it_up]\nweeks=[2,4]\nstart="13:30"\n'
        'duration_minutes=30\nhost="c@x.org"\ngroup_size=[4,6]\nupper_modules=[1]\n'
        "[attendance]\npresent_fraction=0.5\nlate_after_minutes=10\n"
        '[[modules]]\nnumber=1\nhost="m@x.org"\nweek1_monday=2027-01-04\nskip=[2027-01-20]\n'
    )
    calendar = parse_calendar(doc)
    assert calendar.module(1).skip == (dt.date(2027, 1, 20),)
