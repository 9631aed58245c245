"""Roster import: validation with line numbers, all-or-nothing, summaries, moves with dates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from zoom_homeroom.cli import cli
from zoom_homeroom.core.roster import RosterError, parse_roster, roster_changes
from zoom_homeroom.demo.cohort import roster_csv, sample_students

SHARED_ROSTER = PROJECT_ROOT.parent / "shared" / "data" / "roster.csv"
HEADER = "name,email,module,program,group,aliases\n"


def parse(text: str, modules=(1, 2, 3, 4)):
    return parse_roster(text.encode("utf-8"), filename="roster.csv", modules=modules)


def problems(text: str | bytes) -> list[str]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(RosterError) as caught:
        parse_roster(data, filename="roster.csv", modules=(1, 2, 3, 4))
    return caught.value.problems


def test_parses_rows_with_aliases_and_ignores_other_columns():
    students = parse(
        "Name,Email,module,program,group,aliases,notes\n"
        "Ada Lovelace,Ada@Students.Example.org,1,BE,#2,ada.personal@mail.example.com; A. Lovelace ,x\n"
    )
    (ada,) = students
    assert ada.email == "ada@students.example.org"
    assert ada.group == 2
    assert ada.aliases == ("ada.personal@mail.example.com", "A. Lovelace")


def test_ten_mistakes_are_all_reported_with_line_numbers():
    text = HEADER + (
        "Ok One,ok.one@x.org,1,FE,1,\n"  # line 2: fine
        ",empty.name@x.org,1,FE,1,\n"  # 3 empty name
        "Bad Email,not-an-email,1,FE,1,\n"  # 4 malformed email
        "Dup One,OK.ONE@x.org,1,FE,2,\n"  # 5 duplicate (case-insensitive)
        "Wrong Module,wm@x.org,7,FE,1,\n"  # 6 module not in calendar
        "Text Module,tm@x.org,one,FE,1,\n"  # 7 module not a number
        "Zero Group,zg@x.org,1,FE,0,\n"  # 8 group not positive
        "Half Group,hg@x.org,1,FE,1.5,\n"  # 9 group not whole
        "No Program,np@x.org,1,,1,\n"  # 10 empty program
        "Bad Alias,ba@x.org,1,FE,1,broken@\n"  # 11 malformed alias email
        "Empty Email,,1,FE,1,\n"  # 12 empty email
    )
    found = problems(text)
    assert len(found) == 10, found
    lines = sorted(int(p.split("line ")[1].split(":")[0]) for p in found)
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "roster.csv line 5: email ok.one@x.org is a duplicate of line 2" in found
    assert any("line 6: module 7 is not in homeroom.toml" in p for p in found)


def test_missing_columns_are_named():
    (problem,) = problems("name,email,group\nA,a@x.org,1\n")
    assert problem == "roster.csv line 1: missing column(s) module, program (the header needs " + (
        "name, email, module, program, group)"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("name,email\n".encode("utf-16"), "not UTF-8 text"),
        (b"", "empty file"),
        (HEADER.encode(), "no students"),
        (HEADER.encode() + b'"unterminated,a@x.org,1,FE,1\n', "not valid CSV"),
        (HEADER.encode() + b"A\x00,a@x.org,1,FE,1\n", "NUL bytes"),
    ],
)
def test_files_that_are_not_roster_csv_get_one_clear_line(data: bytes, expected: str):
    (problem,) = problems(data)
    assert expected in problem


def test_alias_that_is_another_students_email_is_refused():
    found = problems(HEADER + "A One,a@x.org,1,FE,1,b@x.org\nB Two,b@x.org,1,FE,1,\n")
    assert found == ["roster.csv line 2: alias b@x.org is the email of the student on line 3"]


def test_utf8_bom_and_blank_lines_are_fine():
    students = parse_roster(
        ("\ufeff" + HEADER + "\nJosé Núñez,jose@x.org,2,FE,3,\n\n").encode(), filename="r.csv", modules=(2,)
    )
    assert students[0].name == "José Núñez"


def test_changes_per_module():
    current = parse(HEADER + "A,a@x.org,1,FE,1,\nB,b@x.org,1,FE,1,\nC,c@x.org,2,BE,1,\n")
    current = [s.__class__(**{**s.__dict__, "id": i}) for i, s in enumerate(current, 1)]
    incoming = parse(HEADER + "A,a@x.org,1,FE,2,\nD,d@x.org,1,FE,1,\n")
    (change,) = roster_changes(current, incoming)
    assert change.module == 1
    assert [s.email for s in change.added] == ["d@x.org"]
    assert [(m.email, m.from_group, m.to_group) for m in change.moved] == [("a@x.org", 1, 2)]
    assert [s.email for s in change.deactivated] == ["b@x.org"]


# -- the command ------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_replaces_module_roster_and_records_moves(runner, runtime, tmp_path, clock):
    first = write(tmp_path, HEADER + "A,a@x.org,1,FE,1,\nB,b@x.org,1,FE,1,\nC,c@x.org,2,BE,1,\n")
    result = runner.invoke(cli, ["roster", "import", str(first)], obj=runtime)
    assert result.exit_code == 0, result.output
    assert "module 1: 2 added, 0 moved, 0 deactivated" in result.output

    clock.advance(days=7)
    second = write(tmp_path, HEADER + "A,A@x.org,1,FE,3,\n", "second.csv")
    result = runner.invoke(cli, ["roster", "import", str(second)], obj=runtime)
    assert result.exit_code == 0, result.output
    assert "module 1: 0 added, 1 moved, 1 deactivated" in result.output

    storage = runtime.storage
    assert [s.email for s in storage.students(module=1)] == ["a@x.org"]
    assert [s.email for s in storage.students(module=2)] == ["c@x.org"]  # module 2 untouched
    b = storage.student_by_email("b@x.org")
    assert b is not None and not b.active
    a = storage.student_by_email("a@x.org")
    history = storage.group_history(a.id)
    assert [(m.from_group, m.to_group, m.moved_on.isoformat()) for m in history] == [
        (None, 1, "2027-01-05"),
        (1, 3, "2027-01-12"),
    ]


def test_dry_run_writes_nothing(runner, runtime, tmp_path):
    path = write(tmp_path, HEADER + "A,a@x.org,1,FE,1,\n")
    result = runner.invoke(cli, ["roster", "import", "--dry-run", str(path)], obj=runtime)
    assert result.exit_code == 0
    assert "module 1: 1 added" in result.output and "dry run" in result.output
    assert runtime.storage.students() == []


def test_a_bad_file_changes_nothing_and_exits_non_zero(runner, runtime, tmp_path):
    good = write(tmp_path, HEADER + "A,a@x.org,1,FE,1,\n")
    assert runner.invoke(cli, ["roster", "import", str(good)], obj=runtime).exit_code == 0
    bad = write(tmp_path, HEADER + "B,b@x.org,1,FE,1,\nC,bad,1,FE,1,\n", "bad.csv")
    result = runner.invoke(cli, ["roster", "import", str(bad)], obj=runtime)
    assert result.exit_code == 1
    assert "bad.csv line 3: email 'bad' is not a valid address" in result.output
    assert "nothing was imported" in result.output
    assert [s.email for s in runtime.storage.students()] == ["a@x.org"]
    assert "Traceback" not in result.output


def test_generated_sample_cohort_imports(runner, runtime, tmp_path):
    students = sample_students()
    path = write(tmp_path, roster_csv(students))
    result = runner.invoke(cli, ["roster", "import", str(path)], obj=runtime)
    assert result.exit_code == 0, result.output
    stored = runtime.storage.students()
    assert len(stored) == len(students)
    assert {s.module for s in stored} == {1, 2, 3, 4}
    sizes = {}
    for s in stored:
        sizes[(s.module, s.group)] = sizes.get((s.module, s.group), 0) + 1
    assert set(sizes.values()) <= {5, 6}
    assert any(s.aliases for s in stored)


def test_shared_sample_roster_imports(runner, runtime):
    if not SHARED_ROSTER.is_file():
        pytest.skip(f"the shared sample roster is not at {SHARED_ROSTER} (only in the dev/CI checkout)")
    result = runner.invoke(cli, ["roster", "import", str(SHARED_ROSTER)], obj=runtime)
    assert result.exit_code == 0, result.output
    assert len(runtime.storage.students()) == 120
