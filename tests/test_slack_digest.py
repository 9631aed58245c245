"""The reps' digest of a scripted session day, posted by the runs that make sessions final, and the weekly
prompts, on the Slack sandbox."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from tests.factories import utc
from tests.slack_world import DASHBOARD, SlackWorld, build_world
from zoom_homeroom.cli import cli
from zoom_homeroom.core.matching import ZoomIdentity
from zoom_homeroom.core.models import HOMEROOM, StoredMeeting, homeroom_key
from zoom_homeroom.core.planning import plan_sessions
from zoom_homeroom.core.presence import Edge
from zoom_homeroom.sandbox import Participant
from zoom_homeroom.services import attendance, jobs
from zoom_homeroom.services import slack as slack_service

DAY = dt.date(2027, 1, 6)  # week 1, no Mix It Up


@pytest.fixture
def world(tmp_path, env, clock, sleep, slack_spec):
    for world in build_world(tmp_path, env, clock, sleep, slack_spec):
        clock.now = utc("2027-01-06 22:00")  # the afternoon after the sessions
        yield world


def t(clock: str) -> dt.datetime:
    """13:05 in Denver on the session day, as UTC (winter: UTC-7)."""
    hour, minute = map(int, clock.split(":"))
    return dt.datetime(2027, 1, 6, hour + 7, minute, tzinfo=dt.UTC)


def store_session(world: SlackWorld, module: int, members: list[tuple[str, int]]) -> int:
    """Module `module`'s session on DAY as sync stores it, expecting (short name, group) members."""
    storage = world.runtime.storage
    key = homeroom_key(module, dt.date(2027, 1, 4))
    storage.save_meeting(
        StoredMeeting(
            key, HOMEROOM, module, f"mod{module}@x.org", f"9{module}", f"https://zoom.test/j/{module}", {}
        ),
        now=world.clock(),
    )
    planned = next(
        s for s in plan_sessions(world.calendar, module=module, kinds=(HOMEROOM,)) if s.date == DAY
    )
    storage.upsert_sessions([planned], meeting_key=key, occurrence_ids={})
    storage.replace_session_members(planned.key, [(world.student_id(who), group) for who, group in members])
    return storage.session(planned.key).id


def report(
    world: SlackWorld, session_id: int, who: str | None, rows: list[tuple[str, str, str]], name: str = ""
) -> None:
    """Zoom's report rows of one person: (room, join, leave), room "" for the main meeting."""
    identity = (
        ZoomIdentity(name, "") if who is None else ZoomIdentity(name or who, f"{who}@students.example.org")
    )
    edges = []
    for index, (room, join, leave) in enumerate(rows):
        connection = f"{who or name}-{index}"
        edges += [
            Edge(connection, "report", room, "join", t(join), identity, instance="i1"),
            Edge(connection, "report", room, "leave", t(leave), identity, instance="i1"),
        ]
    world.runtime.storage.add_presence(session_id, edges)


def whole_hour(room: str) -> list[tuple[str, str, str]]:
    """In the meeting 13:00-14:00, in `room` from 13:10 to 13:50 (a report's three rows)."""
    return [("", "13:00", "13:10"), (room, "13:10", "13:50"), ("", "13:50", "14:00")]


@pytest.fixture
def scripted(world) -> SlackWorld:
    """Mod 1: both there, each in their group's room. Mod 2: Cy and Dee in room r-1; Ivy (their group)
    leaves after 15 minutes, 5 of them in r-2; Fay never comes; an "iPhone (3)" stays 40 minutes.
    Mod 3: Eve expected, not final yet (Zoom's report is not in)."""
    mod1 = store_session(world, 1, [("ada", 1), ("bob", 2)])
    report(world, mod1, "ada", whole_hour("r-a"))
    report(world, mod1, "bob", whole_hour("r-b"))
    mod2 = store_session(world, 2, [("cy", 1), ("dee", 1), ("ivy", 1), ("fay", 2)])
    report(world, mod2, "cy", whole_hour("r-1"))
    report(world, mod2, "dee", whole_hour("r-1"))
    report(world, mod2, "ivy", [("", "13:00", "13:10"), ("r-2", "13:10", "13:15")])
    report(world, mod2, None, [("", "13:05", "13:45")], name="iPhone (3)")
    store_session(world, 3, [("eve", 1)])
    for session_id in (mod1, mod2):
        world.runtime.storage.finalize_session(session_id, now=world.clock())
    return world


def digest_sections(world: SlackWorld) -> list[str]:
    (message,) = world.slack.messages(world.reps)
    return [block["text"]["text"] for block in message.blocks if block["type"] == "section"]


def page(module: int) -> str:
    return f"<{DASHBOARD}/sessions/homeroom:{module}:2027-01-06|session page>"


def test_the_digest_of_a_scripted_day_lists_who_needs_a_follow_up_per_module(scripted):
    world = scripted
    assert slack_service.post_digests(world.runtime) == {DAY: "posted"}
    (message,) = world.slack.messages(world.reps)
    assert message.blocks[0]["text"]["text"] == "Homeroom digest · Wednesday January 6"
    assert message.text == "Homeroom digest · Wednesday January 6: 2 of 3 modules need a look."
    assert digest_sections(world) == [
        f"*Mod 1 · week 1* · {page(1)}\nEveryone was there, in the right room.\n\n"
        f"*Mod 2 · week 1* · {page(2)}\n"
        "Absent (1): Fay Okafor (group 2)\n"
        "Partial (1): Ivy Novak (15 min)\n"
        "Wrong room (1): Ivy Novak (group 1)\n"
        "Waiting to be matched (1): iPhone (3) (40 min)\n\n"
        f"*Mod 3 · week 1* · {page(3)}\n_Not final yet: waiting for Zoom's report._"
    ]


def test_the_digest_follows_the_day_and_costs_nothing_when_nothing_changed(scripted):
    world = scripted
    slack_service.post_digests(world.runtime)
    calls = world.slack.count_calls()
    assert slack_service.post_digests(world.runtime) == {DAY: "unchanged"}
    assert world.slack.count_calls() == calls

    # Mod 3's report comes in (Eve never joined), and a rep says the iPhone was Dee's.
    mod3 = world.runtime.storage.session(homeroom_key(3, DAY))
    world.runtime.storage.finalize_session(mod3.id, now=world.clock())
    mod2 = world.runtime.storage.session(homeroom_key(2, DAY))
    (iphone,) = attendance.read(world.runtime, [mod2]).unmatched(session_id=mod2.id)
    attendance.assign_participant(
        world.runtime,
        session=mod2,
        ident=iphone.ident,
        student_email="dee@students.example.org",
        set_by="rep",
    )
    assert slack_service.post_digests(world.runtime) == {DAY: "edited"}
    (section,) = digest_sections(world)
    assert "Waiting to be matched" not in section
    assert section.endswith(f"*Mod 3 · week 1* · {page(3)}\nAbsent (1): Eve Ito (group 1)")
    assert len(world.slack.messages(world.reps)[0].history) == 1


def test_no_digest_without_a_final_session_or_after_two_days(scripted):
    world = scripted
    world.clock.advance(days=2, minutes=1)
    assert slack_service.post_digests(world.runtime) == {}
    assert world.slack.messages(world.reps) == []


# -- the run that makes a session final ---------------------------------------------------------------


@pytest.fixture
def zoom_world(tmp_path, sandbox_env, clock, sleep, slack_spec, sandbox):
    """The school on Slack whose Runtime also talks to the Zoom sandbox (backfills fetch its reports)."""
    for world in build_world(tmp_path, sandbox_env, clock, sleep, slack_spec):
        yield world, sandbox


def held_session(world: SlackWorld, sandbox) -> str:
    """Mod 1's week-1 meeting, synced and held: Ada 13:01-14:00 in the main meeting, Bob never came."""
    jobs.sync_module(1, runtime=world.runtime)
    key = homeroom_key(1, DAY)
    meeting_id = world.runtime.storage.session(key).zoom_meeting_id
    sandbox.start_instance(meeting_id, t("13:00"))
    sandbox.join(meeting_id, Participant("Ada Lovelace", "ada@students.example.org"), t("13:01"))
    sandbox.end_instance(meeting_id, t("14:00"))
    world.clock.now = t("14:45")  # the scheduler's finalize run, 45 minutes after the end
    return key


MOD1_DIGEST = [f"*Mod 1 · week 1* · {page(1)}\nAbsent (1): Bob Moses (group 2)"]


def test_the_scheduler_run_that_makes_a_session_final_posts_the_digest(zoom_world):
    world, sandbox = zoom_world
    key = held_session(world, sandbox)
    assert world.slack.messages(world.reps) == []
    jobs.finalize_session(key, runtime=world.runtime)
    assert world.runtime.storage.session(key).final
    assert digest_sections(world) == MOD1_DIGEST


def test_backfill_from_the_command_line_posts_the_digest(zoom_world):
    world, sandbox = zoom_world
    held_session(world, sandbox)
    result = CliRunner().invoke(cli, ["backfill", "--module", "1", "--week", "1"], obj=world.runtime)
    assert "reps' digest of 2027-01-06: posted in Slack" in result.output, result.output
    assert digest_sections(world) == MOD1_DIGEST


# -- weekly prompts -----------------------------------------------------------------------------------


def test_the_weekly_prompt_is_posted_to_the_modules_channel_with_the_join_link(world):
    folder = world.runtime.settings.config_path.parent / "prompts" / "mod1"
    folder.mkdir(parents=True)
    (folder / "week1.md").write_text("Introduce yourself.\n\nWhat brought you to coding?\n", encoding="utf-8")
    store_session(world, 1, [("ada", 1), ("bob", 2)])
    jobs.post_prompt(1, "2027-01-06", runtime=world.runtime)
    (message,) = world.slack.messages(world.module_channels[1])
    texts = [block.get("text", {}).get("text") for block in message.blocks]
    assert texts[:4] == [
        "Homeroom · Mod 1 · week 1",
        "Homeroom today, Wednesday January 6, at 1:00 pm.",
        "Introduce yourself.\n\nWhat brought you to coding?",
        None,
    ]
    assert message.blocks[3]["elements"][0]["url"] == "https://zoom.test/j/1"
    jobs.post_prompt(1, "2027-01-06", runtime=world.runtime)  # the scheduler caught up: not twice
    assert len(world.slack.messages(world.module_channels[1])) == 1
    jobs.post_prompt(2, "2027-01-06", runtime=world.runtime)  # Mod 2 has no prompt for the week
    assert world.slack.messages(world.module_channels[2]) == []
