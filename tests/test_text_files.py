"""Files people give the service: roster emails compared as they look (item 7), non-UTF-8 files named by
line and column (item 13: CSV files, the calendar, `.env`), a calendar with a byte order mark (item 15); text printed to a terminal."""

from __future__ import annotations

import pytest

from tests.factories import calendar_toml
from zoom_homeroom.core.poll import PollError, parse_poll
from zoom_homeroom.core.roster import RosterError, parse_roster
from zoom_homeroom.core.text import NotUtf8Error, decode_utf8, printable
from zoom_homeroom.settings import ConfigError, load_calendar, load_settings

HEADER = "name,email,module,program,group,aliases\n"


def roster_problems(text: str | bytes) -> list[str]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(RosterError) as caught:
        parse_roster(data, filename="roster.csv", modules=(1,))
    return caught.value.problems


# -- emails that look the same are the same ----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("jos\u00e9@x.org", "jose\u0301@x.org", id="composed and decomposed accent"),
        pytest.param("ada@x.org", "ada\u200b@x.org", id="zero-width space"),
        pytest.param("ada@x.org", "\ufeffada@x.org", id="zero-width no-break space"),
        pytest.param("ada@x.org", "a\u200dda@x.org", id="zero-width joiner"),
        pytest.param("ada@x.org", "ada@x\u00ad.org", id="soft hyphen"),
        pytest.param("ada@x.org", "ADA@X.ORG\u2060", id="case and word joiner"),
    ],
)
def test_visually_identical_emails_are_a_duplicate_error_naming_both_lines(first: str, second: str):
    problems = roster_problems(HEADER + f"Ada One,{first},1,FE,1,\nAda Two,{second},1,FE,2,\n")
    assert problems == [f"roster.csv line 3: email {first.lower()} is a duplicate of line 2"]


def test_emails_are_stored_as_they_compare():
    (student,) = parse_roster(
        (HEADER + "Jose,JOSE\u0301\u200b@X.org,1,FE,1,al\u200bias@x.org\n").encode(),
        filename="r.csv",
        modules=(1,),
    )
    assert student.email == "jos\u00e9@x.org"
    assert student.aliases == ("alias@x.org",)


def test_an_email_with_a_control_character_is_not_an_address():
    (problem,) = roster_problems(HEADER + "Ada,ada\x1b[31m@x.org,1,FE,1,\n")
    assert problem == "roster.csv line 2: email 'ada\\x1b[31m@x.org' is not a valid address"


# -- non-UTF-8 files: the line and column ------------------------------------------------------------


def test_a_roster_that_is_not_utf8_names_the_line_and_column():
    data = HEADER.encode() + b"Ada,ada@x.org,1,FE,1,\n" + b"Jos\xe9 N,jose@x.org,1,FE,1,\n"
    (problem,) = roster_problems(data)
    assert problem == (
        "roster.csv line 3, column 4: not UTF-8 text; save it as 'CSV UTF-8' and import it again"
    )


def test_a_poll_that_is_not_utf8_names_the_line_and_column():
    data = "email,topic\nada@x.org,Caf\u00e9s\n".encode() + b"ada@x.org,Na\xefve\n"
    with pytest.raises(PollError) as caught:
        parse_poll(data, filename="poll.csv", students={"ada@x.org": 1})
    assert caught.value.problems[0].startswith("poll.csv line 3, column 13: not UTF-8 text")


def test_a_calendar_that_is_not_utf8_names_the_line_and_column(tmp_path):
    path = tmp_path / "homeroom.toml"
    path.write_bytes(b'timezone = "America/Denver"\n# caf\xe9\n')
    with pytest.raises(ConfigError) as caught:
        load_calendar(path)
    assert caught.value.problems == [f"{path} line 2, column 6: not UTF-8 text"]


def test_a_dotenv_that_is_not_utf8_names_the_line_and_column(tmp_path, monkeypatch, runner):
    """python-dotenv itself raised a UnicodeDecodeError (a traceback, a byte offset)."""
    from zoom_homeroom.cli import cli

    path = tmp_path / ".env"
    path.write_bytes(b"ZOOM_ACCOUNT_ID=acc\nHOMEROOM_SECRET_KEY=caf\xe9\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems == [f"{path} line 2, column 24: not UTF-8 text"]
    result = runner.invoke(cli, ["config", "check"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path} line 2, column 24: not UTF-8 text" in result.output


def test_a_dotenv_with_a_byte_order_mark_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_bytes("\ufeffZOOM_ACCOUNT_ID=café\n".encode())
    monkeypatch.chdir(tmp_path)
    assert load_settings().zoom_account_id == "café"


@pytest.mark.parametrize(
    ("data", "line", "column"),
    [
        (b"\xff", 1, 1),
        (b"ab\ncd\n\xc3", 3, 1),
        ("\ufeffé\n\u00e9t\u00e9 ".encode() + b"\x80", 2, 5),  # columns count characters, after a BOM
        ("x\nab".encode("utf-16"), 1, 1),
    ],
)
def test_decode_utf8_says_where(data: bytes, line: int, column: int):
    with pytest.raises(NotUtf8Error) as caught:
        decode_utf8(data)
    assert (caught.value.line, caught.value.column) == (line, column)


# -- a calendar with a byte order mark ---------------------------------------------------------------


def test_a_calendar_with_a_utf8_byte_order_mark_is_read_like_the_csv_files(tmp_path):
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_text(calendar_toml(), encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + calendar_toml().encode())
    assert load_calendar(marked) == load_calendar(plain)


# -- text printed on a terminal ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("José 🎉", "José 🎉"),
        ("\x1b[2J\x1b[31mAda", "\\x1b[2J\\x1b[31mAda"),
        ("Ada\rEve", "Ada\\rEve"),
        ("Ada\nforged line", "Ada\\nforged line"),
        ("\u202eevil", "\\u202eevil"),
        ("a\u2028b", "a\\u2028b"),
        ("\x9bc", "\\x9bc"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str):
    assert printable(text) == shown
