"""Matching Zoom participants to roster students: exact rules only, never a fuzzy guess.

`match` applies, in order: the registrant id of a student's personal join link (Zoom registration: it
is that student whatever the name or email); the email (roster or alias email) or an alias display
name; a mapping a rep confirmed earlier (Zoom user id, then email, then display name); a display name
that exactly one of the session's students has. Anything else is unmatched, and `Suggestions` proposes
students for a rep to pick.

Names are compared after `normalise_name`, which keeps accents: "José" and "Jose" are different names,
because stripping accents would make distinct students collide and a rep can confirm a mapping instead.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from .models import Student

MatchRule = Literal["registrant", "email", "alias", "confirmed", "name", "ignored", "unmatched"]
ConfirmedKind = Literal["zoom_user_id", "name", "email"]
CONFIRMED_KINDS: tuple[ConfirmedKind, ...] = ("zoom_user_id", "name", "email")

# Variation selectors and the keycap mark are combining marks (category Mn/Me) that only decorate emoji.
_EMOJI_MARKS = {chr(code) for code in range(0xFE00, 0xFE10)} | {"\u20e3"}
_LETTERS = re.compile(r"[^\W\d_]+")
# Below this similarity a student is not worth showing to a rep.
MIN_CANDIDATE_SCORE = 0.6
# Zoom's own limit on a display name (its OpenAPI spec: `invite_links` attendee `name`, "User display
# name", maxLength 64). Longer text did not come from a Zoom client: cut before storing or comparing.
MAX_DISPLAY_NAME = 64
# An address longer than this is no address (RFC 5321's path limit): it is dropped, not cut, so a cut
# could never turn it into someone else's.
MAX_EMAIL = 254
# Zoom's ids are short (user ids of ~20 characters, uuids of 24); longer text is cut, never compared whole.
MAX_ZOOM_ID = 128


class MatchingError(ValueError):
    """Impossible input for matching, such as a student without an id."""


@dataclass(frozen=True)
class ZoomIdentity:
    """Who Zoom says a participant is. `zoom_user_id` is "" for guests who are not signed in;
    `registrant_id` is "" unless they joined through a registrant's personal link."""

    name: str
    email: str = ""
    zoom_user_id: str = ""
    registrant_id: str = ""


@dataclass(frozen=True)
class Match:
    """The outcome of `match`: the student (None when ignored or unmatched) and the rule that decided."""

    student_id: int | None
    rule: MatchRule


@functools.lru_cache(maxsize=16_384)
def normalise_name(name: str) -> str:
    """A display name for exact comparison: NFKC, casefolded, emoji dropped, whitespace collapsed.

    Punctuation around the name is dropped ("«Ada»" -> "ada"), punctuation inside is kept ("o'brien"),
    and accents are kept ("josé" stays "josé"). Idempotent. Remembered for the last names asked: a
    session's computation asks for each participant's several times, and every read recomputes.
    """
    if name.isascii():  # most names: NFKC leaves ASCII alone and casefold is lower, so one table does it
        kept = name.lower().translate(_ASCII_NAME_CHARS)
    else:
        text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
        kept = "".join(_name_char(char) for char in text)
    return _strip_punctuation(" ".join(kept.split()))


def _name_char(char: str) -> str:
    """Whitespace and symbols (emoji included) become a space; invisible format characters vanish."""
    if char.isspace():
        return " "
    category = unicodedata.category(char)
    if char in _EMOJI_MARKS or category.startswith("C"):
        return ""
    if category.startswith("S"):
        return " "
    return char


_ASCII_NAME_CHARS = {code: _name_char(chr(code)) for code in range(128)}


def _strip_punctuation(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge_junk(char: str) -> bool:
    return char == " " or unicodedata.category(char).startswith("P")


def cap_display_name(name: str) -> str:
    """A display name as Zoom allows it: trimmed, at most MAX_DISPLAY_NAME characters."""
    return name.strip()[:MAX_DISPLAY_NAME]


def cap_zoom_id(text: str) -> str:
    """A Zoom id (user id, uuid, room id) as received, trimmed and cut to MAX_ZOOM_ID characters."""
    return text.strip()[:MAX_ZOOM_ID]


def zoom_identity(name: str, email: str, zoom_user_id: str, registrant_id: str = "") -> ZoomIdentity:
    """The identity a Zoom event or report row shows, as the service keeps it: the name capped, the
    email normalised (or "" when too long to be one), the ids capped. Every source builds it here."""
    address = normalise_email(email)
    return ZoomIdentity(
        name=cap_display_name(name),
        email=address if len(address) <= MAX_EMAIL else "",
        zoom_user_id=cap_zoom_id(zoom_user_id),
        registrant_id=cap_zoom_id(registrant_id),
    )


def normalise_email(email: str) -> str:
    """An email for comparison, as storage keeps it: Unicode NFC, invisible format characters (zero-width
    spaces and joiners, bidi marks, soft hyphens) removed, trimmed and lower-cased. Two addresses that
    look the same compare equal."""
    text = unicodedata.normalize("NFC", email)
    if not text.isascii():
        text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return text.strip().lower()


def identity_key(identity: ZoomIdentity) -> str:
    """The stable text a rep's decision about this identity is stored under.

    `user:<zoom user id>` for signed-in users, else `email:<email>`, else `name:<normalised name>`; they
    correspond to the confirmed-mapping kinds `zoom_user_id`, `email` and `name`.
    """
    if identity.zoom_user_id:
        return f"user:{identity.zoom_user_id}"
    email = normalise_email(identity.email)
    if email:
        return f"email:{email}"
    return f"name:{normalise_name(identity.name)}"


@dataclass(frozen=True)
class RosterIndex:
    """Lookup tables over the roster and the confirmed mappings, built once per computation."""

    students: Mapping[int, Student]
    emails: Mapping[str, int]
    alias_names: Mapping[str, int]
    names: Mapping[str, tuple[int, ...]]
    confirmed: Mapping[tuple[str, str], int | None]
    registrants: Mapping[str, int]

    @classmethod
    def build(
        cls,
        students: Sequence[Student],
        *,
        confirmed: Mapping[tuple[str, str], int | None],
        registrants: Collection[tuple[str, int]] = (),
    ) -> RosterIndex:
        """Index students by email, alias and name, a rep's confirmed mappings by their key, and the
        registrant ids Zoom issued for students' personal links (`(registrant id, student id)` pairs).

        An alias that two students share, or an alias name that is another student's name, is left out:
        it could not tell them apart; so is a registrant id given for two students. Raises MatchingError
        for a student without an id or a confirmed mapping of an unknown kind.
        """
        by_id: dict[int, Student] = {}
        for student in students:
            if student.id is None:
                raise MatchingError(f"student {student.email!r} has no id: save the roster first")
            by_id[student.id] = student
        names: dict[str, list[int]] = {}
        for student_id, student in sorted(by_id.items()):
            names.setdefault(normalise_name(student.name), []).append(student_id)
        return cls(
            students=by_id,
            emails=_email_index(by_id),
            alias_names=_alias_name_index(by_id, names),
            names={name: tuple(ids) for name, ids in names.items()},
            confirmed=_confirmed_index(confirmed),
            registrants=_registrant_index(registrants, by_id),
        )

    def students_named(self, name: str) -> tuple[int, ...]:
        """Ids of the students whose roster name equals this display name once normalised."""
        return self.names.get(normalise_name(name), ())


def _email_index(students: Mapping[int, Student]) -> dict[str, int]:
    """Roster emails, then alias emails that no roster email and no other student claims."""
    emails = {normalise_email(student.email): student_id for student_id, student in students.items()}
    alias_emails = [
        (normalise_email(alias), student_id)
        for student_id, student in students.items()
        for alias in set(student.aliases)
        if "@" in alias
    ]
    counts = Counter(email for email, _ in set(alias_emails))
    for email, student_id in alias_emails:
        if email not in emails and counts[email] == 1:
            emails[email] = student_id
    emails.pop("", None)
    return emails


def _alias_name_index(students: Mapping[int, Student], names: Mapping[str, list[int]]) -> dict[str, int]:
    """Alias display names that exactly one student has and that are no other student's name."""
    owners: dict[str, set[int]] = {}
    for student_id, student in students.items():
        for alias in student.aliases:
            if "@" not in alias and normalise_name(alias):
                owners.setdefault(normalise_name(alias), set()).add(student_id)
    index: dict[str, int] = {}
    for alias, ids in owners.items():
        named = set(names.get(alias, ()))
        if len(ids) == 1 and named <= ids:
            index[alias] = next(iter(ids))
    return index


def _registrant_index(
    registrants: Collection[tuple[str, int]], students: Mapping[int, Student]
) -> dict[str, int]:
    """Registrant ids of known students; an id tied to two students (never seen from Zoom) is left out."""
    owners: dict[str, set[int]] = {}
    for registrant_id, student_id in registrants:
        if registrant_id and student_id in students:
            owners.setdefault(registrant_id, set()).add(student_id)
    return {registrant_id: next(iter(ids)) for registrant_id, ids in owners.items() if len(ids) == 1}


def _confirmed_index(confirmed: Mapping[tuple[str, str], int | None]) -> dict[tuple[str, str], int | None]:
    index: dict[tuple[str, str], int | None] = {}
    for (kind, key), student_id in confirmed.items():
        if kind not in CONFIRMED_KINDS:
            raise MatchingError(
                f"confirmed mapping kind {kind!r} is unknown (expected one of: {', '.join(CONFIRMED_KINDS)})"
            )
        index[(kind, _confirmed_text(kind, key))] = student_id
    return index


def _confirmed_text(kind: str, key: str) -> str:
    if kind == "name":
        return normalise_name(key)
    if kind == "email":
        return normalise_email(key)
    return key


def match(identity: ZoomIdentity, index: RosterIndex, session_student_ids: Collection[int]) -> Match:
    """Match a Zoom identity to a student by the first rule that applies, or report it unmatched.

    Rules: the registrant id of a student's personal link ("registrant"); email (roster or alias
    email, rule "email") or alias display name ("alias"); a confirmed mapping by Zoom user id, email,
    then display name ("confirmed", or "ignored" for "not a student"); a display name exactly one of
    `session_student_ids` has ("name"); otherwise "unmatched".
    """
    if identity.registrant_id in index.registrants:
        return Match(index.registrants[identity.registrant_id], "registrant")
    email = normalise_email(identity.email)
    name = normalise_name(identity.name)
    if email in index.emails:
        return Match(index.emails[email], "email")
    if name in index.alias_names:
        return Match(index.alias_names[name], "alias")
    for key in _confirmed_keys(identity.zoom_user_id, email, name):
        if key in index.confirmed:
            student_id = index.confirmed[key]
            return Match(student_id, "confirmed") if student_id is not None else Match(None, "ignored")
    in_session = [student_id for student_id in index.names.get(name, ()) if student_id in session_student_ids]
    if name and len(in_session) == 1:
        return Match(in_session[0], "name")
    return Match(None, "unmatched")


def _confirmed_keys(zoom_user_id: str, email: str, name: str) -> list[tuple[str, str]]:
    keys = [("zoom_user_id", zoom_user_id), ("email", email), ("name", name)]
    return [(kind, key) for kind, key in keys if key]


class Suggestions:
    """The students most like an identity no rule matched, for a rep to choose from: the roster's names
    prepared once, each identity scored against all of them in rapidfuzz's compiled loops.

    A student's score is the best of: the similarity of the normalised name to the student's name and
    alias names, first/last name token overlap, and the email's local part against the name and the
    student's own local part. Only scores of at least MIN_CANDIDATE_SCORE count; ties go to the smaller id.
    A similarity is rapidfuzz's `fuzz.ratio`: twice the longest common subsequence over both lengths
    (what difflib's ratio approximates). Built per read, never under the write lock: a page scores only
    the participants it shows.
    """

    def __init__(self, students: Iterable[Student]):
        roster = sorted((student for student in students if student.id is not None), key=_student_id)
        self._owners: list[int] = []  # the student of each name
        self._names: list[str] = []  # normalised names and alias names
        for student in roster:
            own = [student.name, *(alias for alias in student.aliases if "@" not in alias)]
            for name in dict.fromkeys(filter(None, map(normalise_name, own))):
                self._owners.append(_student_id(student))
                self._names.append(name)
        self._words = [_words(name) for name in self._names]
        self._joined = ["".join(words) for words in self._words]
        self._by_word: dict[str, list[int]] = {}
        for position, words in enumerate(self._words):
            for word in set(words):
                if len(word) > 1:
                    self._by_word.setdefault(word, []).append(position)
        locals_ = [(_student_id(student), _local_part(student.email)) for student in roster]
        self._local_owners = [student_id for student_id, local in locals_ if local]
        self._locals = [local for _, local in locals_ if local]

    def best(self, identity: ZoomIdentity, *, limit: int = 3, exclude: Collection[int] = ()) -> list[int]:
        """Ids of the students most like this identity, best first, leaving out `exclude`."""
        scores: dict[int, float] = {}
        name = normalise_name(identity.name)
        local = _local_part(identity.email)
        if name:
            self._ratios(name, self._names, self._owners, scores)
            self._tokens(_words(name), scores)
        if local:
            self._ratios("".join(_words(local)), self._joined, self._owners, scores)
            self._tokens(_words(local), scores)
            self._ratios(local, self._locals, self._local_owners, scores)
        ranked = sorted((-score, sid) for sid, score in scores.items() if sid not in exclude)
        return [sid for _, sid in ranked[:limit]]

    @staticmethod
    def _ratios(query: str, choices: list[str], owners: list[int], scores: dict[int, float]) -> None:
        if not query:
            return
        cutoff = MIN_CANDIDATE_SCORE * 100
        for _, score, position in process.extract(
            query, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
        ):
            sid = owners[position]
            scores[sid] = max(scores.get(sid, 0.0), score / 100)

    def _tokens(self, words: list[str], scores: dict[int, float]) -> None:
        if not words:
            return
        positions = {p for word in set(words) if len(word) > 1 for p in self._by_word.get(word, ())}
        for position in positions:
            sid = self._owners[position]
            scores[sid] = max(scores.get(sid, 0.0), _token_score(words, self._words[position]))


def _student_id(student: Student) -> int:
    return student.id if student.id is not None else -1


def candidates(identity: ZoomIdentity, students: Sequence[Student], *, limit: int = 3) -> list[int]:
    """Ids of the students most like this identity, best first (see `Suggestions`)."""
    return Suggestions(students).best(identity, limit=limit)


def _local_part(email: str) -> str:
    return normalise_email(email).partition("@")[0]


def _words(text: str) -> list[str]:
    """Letter runs: "ada.lovelace99" -> ["ada", "lovelace"]."""
    return _LETTERS.findall(text)


def _token_score(left: list[str], right: list[str]) -> float:
    """Score shared words: first and last name, then first name alone, then last alone, then any word.

    The first name alone ranks above the last name alone: people shorten their last name more often.
    """
    shared = {word for word in set(left) & set(right) if len(word) > 1}
    if not shared:
        return 0.0
    first, last = left[0] == right[0], left[-1] == right[-1]
    if first and last:
        return 0.95
    if first:
        return 0.8
    if last:
        return 0.7
    return 0.65
