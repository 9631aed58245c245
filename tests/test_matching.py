"""Matching Zoom participants to roster students: exact rules in order, and candidates for a rep."""

from __future__ import annotations

import pytest

from tests.factories import make_student
from zoom_homeroom.core.matching import (
    Match,
    MatchingError,
    RosterIndex,
    ZoomIdentity,
    candidates,
    identity_key,
    match,
    normalise_email,
    normalise_name,
)

ADA = make_student(
    id=1, email="ada.lovelace@students.example.org", name="Ada Lovelace", aliases=("Countess",)
)
ALEX_A = make_student(id=2, email="alex.kim@students.example.org", name="Alex Kim")
ALEX_B = make_student(id=3, email="alexkim2@students.example.org", name="Alex  KIM")
GRACE = make_student(
    id=4, email="grace.hopper@students.example.org", name="Grace Hopper", aliases=("GRACE@home.example.net",)
)
LINUS = make_student(id=5, email="linus@students.example.org", name="Linus Torvalds", module=2)
ROSTER = (ADA, ALEX_A, ALEX_B, GRACE, LINUS)
SESSION = {1, 2, 3, 4}  # Linus is in another module's session

CONFIRMED = {
    ("zoom_user_id", "zu-grace"): 4,
    ("name", "Captain Ada!"): 1,
    ("email", "Ada@Personal.example.net"): 1,
    ("zoom_user_id", "zu-staff"): None,
    ("name", "Homeroom Rep"): None,
}


@pytest.fixture
def index() -> RosterIndex:
    return RosterIndex.build(ROSTER, confirmed=CONFIRMED)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada   Lovelace ", "ada lovelace"),
        ("ADA LOVELACE", "ada lovelace"),
        ("Ada\tLovelace\n", "ada lovelace"),
        ("Ada Lovelace 🎉", "ada lovelace"),
        ("🎉Ada🎉Lovelace🎉", "ada lovelace"),
        ("👩🏽‍💻 Ada Lovelace", "ada lovelace"),
        ("«Ada Lovelace»", "ada lovelace"),
        ("...Ada Lovelace!!", "ada lovelace"),
        ("Ａｄａ Ｌｏｖｅｌａｃｅ", "ada lovelace"),  # fullwidth letters, NFKC
        ("Ada\u200bLovelace", "adalovelace"),  # zero-width space is a format character
        ("O'Brien", "o'brien"),
        ("Anne-Marie Dupont", "anne-marie dupont"),
        ("José Núñez", "josé núñez"),  # accents are kept
        ("Jose\u0301", "josé"),  # a combining accent composes to the same letter
        ("Straße", "strasse"),
        ("🎉", ""),
        ("", ""),
    ],
)
def test_normalise_name(raw: str, expected: str):
    assert normalise_name(raw) == expected
    assert normalise_name(expected) == expected


def test_accented_and_plain_names_stay_different():
    assert normalise_name("José") != normalise_name("Jose")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Ada@Example.ORG ", "ada@example.org"), ("ada@example.org", "ada@example.org"), ("", "")],
)
def test_normalise_email(raw: str, expected: str):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        # 1. email, roster or alias, case-insensitive; an alias display name
        (ZoomIdentity("Whoever", "ADA.Lovelace@students.example.org"), Match(1, "email")),
        (ZoomIdentity("Whoever", "grace@HOME.example.net"), Match(4, "email")),
        (ZoomIdentity("countess 👑"), Match(1, "alias")),
        (ZoomIdentity("Alex Kim", "grace.hopper@students.example.org"), Match(4, "email")),
        # email wins over a confirmed "not a student"
        (ZoomIdentity("Ada", "ada.lovelace@students.example.org", "zu-staff"), Match(1, "email")),
        # 2. confirmed: Zoom user id first, then email, then display name
        (ZoomIdentity("iPad", "", "zu-grace"), Match(4, "confirmed")),
        (ZoomIdentity("Captain Ada", "", "zu-grace"), Match(4, "confirmed")),
        (ZoomIdentity("iPad", "ada@personal.example.net"), Match(1, "confirmed")),
        (ZoomIdentity("  captain ada  "), Match(1, "confirmed")),
        (ZoomIdentity("Anyone", "", "zu-staff"), Match(None, "ignored")),
        (ZoomIdentity("homeroom rep"), Match(None, "ignored")),
        # confirmed beats a unique session name
        (ZoomIdentity("Ada Lovelace", "", "zu-grace"), Match(4, "confirmed")),
        # 3. exact normalised name, unique among the session's students
        (ZoomIdentity("ada  LOVELACE"), Match(1, "name")),
        (ZoomIdentity("Grace Hopper", "grace@gmail.example.com"), Match(4, "name")),
        (ZoomIdentity("Alex Kim"), Match(None, "unmatched")),  # two in the session
        (ZoomIdentity("Linus Torvalds"), Match(None, "unmatched")),  # not in this session
        # 4. never a fuzzy guess
        (ZoomIdentity("Ada Lovelac"), Match(None, "unmatched")),
        (ZoomIdentity("Ada"), Match(None, "unmatched")),
        (ZoomIdentity(""), Match(None, "unmatched")),
    ],
)
def test_match_rules_in_order(index: RosterIndex, identity: ZoomIdentity, expected: Match):
    assert match(identity, index, SESSION) == expected


def test_matches_a_roster_email_of_another_session(index: RosterIndex):
    identity = ZoomIdentity("L", "linus@students.example.org")
    assert match(identity, index, SESSION) == Match(5, "email")


def test_name_unique_in_session_matches_despite_namesake_elsewhere():
    namesake = make_student(id=9, email="ada2@students.example.org", name="Ada Lovelace", module=3)
    index = RosterIndex.build((ADA, namesake), confirmed={})
    assert match(ZoomIdentity("Ada Lovelace"), index, {1}) == Match(1, "name")
    assert match(ZoomIdentity("Ada Lovelace"), index, {1, 9}) == Match(None, "unmatched")


@pytest.mark.parametrize(
    ("aliases_a", "aliases_b", "identity"),
    [
        (("shared@example.org",), ("SHARED@example.org",), ZoomIdentity("x", "shared@example.org")),
        (("The Twin",), ("the twin",), ZoomIdentity("The Twin")),
        (("Alex Kim",), (), ZoomIdentity("Alex Kim")),  # an alias that is another student's name
    ],
)
def test_alias_that_cannot_tell_students_apart_is_not_used(aliases_a, aliases_b, identity):
    first = make_student(id=1, email="a@students.example.org", name="First One", aliases=aliases_a)
    second = make_student(id=2, email="b@students.example.org", name="Alex Kim", aliases=aliases_b)
    index = RosterIndex.build((first, second), confirmed={})
    assert match(identity, index, {1}).rule == "unmatched"


def test_alias_email_never_overrides_a_roster_email():
    owner = make_student(id=1, email="ada@students.example.org", name="Ada")
    other = make_student(
        id=2, email="b@students.example.org", name="Bo", aliases=("ADA@students.example.org",)
    )
    index = RosterIndex.build((owner, other), confirmed={})
    assert match(ZoomIdentity("x", "ada@students.example.org"), index, {1, 2}) == Match(1, "email")


def test_build_rejects_a_student_without_id():
    with pytest.raises(MatchingError, match="has no id"):
        RosterIndex.build((make_student(),), confirmed={})


def test_build_rejects_an_unknown_confirmed_kind():
    with pytest.raises(MatchingError, match="'phone' is unknown"):
        RosterIndex.build((ADA,), confirmed={("phone", "555"): 1})


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (ZoomIdentity("Ada", "Ada@X.org", "zu-1"), "user:zu-1"),
        (ZoomIdentity("Ada", " Ada@X.org "), "email:ada@x.org"),
        (ZoomIdentity(" ADA  Lovelace 🎉"), "name:ada lovelace"),
    ],
)
def test_identity_key(identity: ZoomIdentity, expected: str):
    assert identity_key(identity) == expected


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (ZoomIdentity("Alex Kim"), [2, 3]),  # ambiguous: both, smaller id first on a tie
        (ZoomIdentity("alex"), [2, 3]),  # first name only
        (ZoomIdentity("Lovelace"), [1]),  # last name only
        (ZoomIdentity("Ada Lovelase"), [1]),  # a typo
        (ZoomIdentity("iPhone", "alovelace@gmail.example.com"), [1]),  # email local part vs name
        (ZoomIdentity("iPhone", "alex.kim@gmail.example.com"), [2, 3]),  # exact local part first
        (ZoomIdentity("The Countess"), [1]),  # alias display name
        (ZoomIdentity("Grace Kim"), [4, 2, 3]),  # first-name match outranks last-name matches
        (ZoomIdentity("Zed Quux"), []),
        (ZoomIdentity("iPhone"), []),
        (ZoomIdentity(""), []),
    ],
)
def test_candidates_best_first(identity: ZoomIdentity, expected: list[int]):
    assert candidates(identity, ROSTER) == expected


def test_candidates_respects_the_limit():
    assert candidates(ZoomIdentity("Grace Kim"), ROSTER, limit=1) == [4]


def test_candidates_order_does_not_depend_on_roster_order():
    assert candidates(ZoomIdentity("Alex Kim"), ROSTER[::-1]) == candidates(ZoomIdentity("Alex Kim"), ROSTER)
