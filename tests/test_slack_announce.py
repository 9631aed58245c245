"""Announcing the Mix It Up groups in Slack: the channel message and each student's direct message, on
the Slack sandbox; announcing again edits the message and DMs only those whose group changed."""

from __future__ import annotations

import pytest

from tests.slack_world import (
    JOIN_URL,
    POLL_DAY,
    SlackWorld,
    build_world,
    save_groups,
    store_mix_it_up_meeting,
)
from zoom_homeroom.cli import cli
from zoom_homeroom.core.models import mix_it_up_key
from zoom_homeroom.core.registration import Registration
from zoom_homeroom.sandbox.slack import LOST
from zoom_homeroom.services import slack as slack_service

GROUPS = [
    (1, "Open source", ["ada", "cy", "eve", "gus", "ivy"]),
    (2, "Resume review", ["bob", "dee", "fay", "hal"]),
]
NAMES = {
    "ada": "Ada Lovelace",
    "bob": "Bob Moses",
    "cy": "Cy Young",
    "dee": "Dee Dee",
    "eve": "Eve Ito",
    "fay": "Fay Okafor",
    "gus": "Gus Rossi",
    "hal": "Hal Weber",
    "ivy": "Ivy Novak",
}
ON_SLACK = ["ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal"]  # Ivy is not


@pytest.fixture
def world(tmp_path, env, clock, sleep, slack_spec):
    for world in build_world(tmp_path, env, clock, sleep, slack_spec):
        store_mix_it_up_meeting(world)
        save_groups(world, GROUPS)
        yield world


def test_names_the_cli_prints_have_control_characters_escaped(world, runner):
    """A roster name may hold an escape sequence (the roster keeps names as written)."""
    with world.runtime.storage.write():
        world.runtime.storage.db.execute(
            "UPDATE students SET name = ? WHERE name = 'Ivy Novak'", ["Ivy\x1b[2J Novak"]
        )
    result = runner.invoke(cli, ["mixitup", "announce", "--week", "2"], obj=world.runtime)
    assert result.exit_code == 0, result.output
    assert "not on Slack, tell them by hand (1): Ivy\\x1b[2J Novak" in result.output
    assert "\x1b" not in result.output


def dms(world: SlackWorld, who: str) -> list[str]:
    """The text of each DM `who` got from the bot, oldest first."""
    return [message.blocks[0]["text"]["text"] for message in world.slack.direct_messages(world.users[who])]


def test_the_groups_go_to_the_channel_and_each_student_gets_a_dm(world, runner):
    result = runner.invoke(cli, ["mixitup", "announce", "--week", "2"], obj=world.runtime)
    assert result.exit_code == 0, result.output
    assert f"week 2: groups posted in Slack channel {world.channel}" in result.output
    assert "direct messages: 8 sent, 0 already told" in result.output
    assert "not on Slack, tell them by hand (1): Ivy Novak" in result.output

    (message,) = world.slack.messages(world.channel)
    sections = [block["text"]["text"] for block in message.blocks if block["type"] == "section"]
    assert f"<{JOIN_URL}|the Mix It Up meeting>" in sections[0]
    assert sections[1] == (
        "*Group 1 · Open source*\nAda Lovelace, Cy Young, Eve Ito, Gus Rossi, Ivy Novak\n\n"
        "*Group 2 · Resume review*\nBob Moses, Dee Dee, Fay Okafor, Hal Weber"
    )
    assert sections[-1] == "*Not found on Slack* (please tell them): Ivy Novak"

    assert dms(world, "ada") == [
        "You are in *group 1* for Mix It Up on Wednesday January 13 at 1:30 pm.\n"
        "Topic: *Open source*\nWith: Cy Young, Eve Ito, Gus Rossi, Ivy Novak"
    ]
    (hal,) = world.slack.direct_messages(world.users["hal"])  # found by his alias email
    button = hal.blocks[1]["elements"][0]
    assert (button["type"], button["url"]) == ("button", JOIN_URL)
    assert "Topic: *Resume review*\nWith: Bob Moses, Dee Dee, Fay Okafor" in hal.blocks[0]["text"]["text"]
    assert world.slack.direct_messages(world.users["coach"]) == []


def test_announcing_again_sends_no_duplicate_and_a_changed_group_only_to_who_changed(world):
    slack_service.announce(world.runtime, 2)
    again = slack_service.announce(world.runtime, 2)
    assert (again.channel_message, again.messaged, again.already_told) == ("unchanged", (), 8)
    assert {who: len(dms(world, who)) for who in ON_SLACK} == dict.fromkeys(ON_SLACK, 1)
    assert len(world.slack.messages(world.channel)[0].history) == 0

    # Gus and Hal swap groups (re-formed by hand): two new DMs, and the channel message is edited.
    save_groups(
        world,
        [
            (1, "Open source", ["ada", "cy", "eve", "hal", "ivy"]),
            (2, "Resume review", ["bob", "dee", "fay", "gus"]),
        ],
    )
    changed = slack_service.announce(world.runtime, 2)
    assert changed.channel_message == "edited"
    assert sorted(changed.messaged) == ["Gus Rossi", "Hal Weber"]
    assert {who: len(dms(world, who)) for who in ON_SLACK} == {
        **dict.fromkeys(ON_SLACK, 1),
        "gus": 2,
        "hal": 2,
    }
    assert dms(world, "gus")[1].startswith("*Your Mix It Up group has changed.* You are in *group 2*")
    (message,) = world.slack.messages(world.channel)
    assert len(message.history) == 1
    # The DM channel opened the first time is used again: no second conversations.open for Gus.
    assert world.slack.count_calls("conversations.open") == 8


def test_a_new_join_link_is_sent_to_everyone(world):
    slack_service.announce(world.runtime, 2)
    store_mix_it_up_meeting(world, join_url="https://zoom.test/j/888")  # the meeting was created again
    again = slack_service.announce(world.runtime, 2)
    assert len(again.messaged) == 8 and again.channel_message == "edited"
    assert "https://zoom.test/j/888" in world.slack.direct_messages(world.users["ada"])[1].text


def test_a_rate_limit_is_waited_out_and_an_outage_leaves_nothing_sent_twice(world, sleep):
    world.slack.faults.add(429, method="users.lookupByEmail", retry_after=3)
    world.slack.faults.add(429, method="chat.postMessage", retry_after=1)
    first = slack_service.announce(world.runtime, 2)
    assert len(first.messaged) == 8 and sleep.calls == [3.0, 1.0]

    # A longer outage in a run after a regrouping: it stops, and the next run finishes the job.
    save_groups(
        world,
        [
            (1, "Open source", ["bob", "dee", "eve", "gus", "ivy"]),
            (2, "Resume review", ["ada", "cy", "fay", "hal"]),
        ],
    )
    world.slack.faults.add(429, method="chat.postMessage", retry_after=120)  # too long to wait for
    calls = world.slack.count_calls("chat.postMessage")
    with pytest.raises(slack_service.SlackServiceError) as stopped:
        slack_service.announce(world.runtime, 2)
    assert "0 of 4 sent" in str(stopped.value) and "nobody twice" in str(stopped.value)
    assert (
        world.slack.count_calls("chat.postMessage") == calls + 1
    )  # the refused DM (the edit is chat.update)
    finished = slack_service.announce(world.runtime, 2)
    assert sorted(finished.messaged) == ["Ada Lovelace", "Bob Moses", "Cy Young", "Dee Dee"]
    assert {who: len(dms(world, who)) for who in ON_SLACK} == {
        **dict.fromkeys(ON_SLACK, 1),
        **dict.fromkeys(["ada", "bob", "cy", "dee"], 2),
    }


def test_a_dm_whose_answer_is_lost_is_not_sent_again(world):
    world.slack.faults.add(LOST, method="chat.postMessage", times=1)  # the channel message: posted, no answer
    with pytest.raises(slack_service.SlackServiceError) as lost:
        slack_service.announce(world.runtime, 2)
    assert "may have carried it out" in str(lost.value)
    assert len(world.slack.messages(world.channel)) == 1
    # (the admin looked: the groups are in the channel). The next run posts them again (a second channel
    # message is harmless) and DMs everyone once; then a DM's answer is lost.
    done = slack_service.announce(world.runtime, 2)
    assert len(done.messaged) == 8
    save_groups(
        world,
        [
            (1, "Open source", ["ada", "cy", "eve", "fay", "ivy"]),
            (2, "Resume review", ["bob", "dee", "gus", "hal"]),
        ],
    )
    world.slack.faults.add(LOST, method="chat.postMessage", times=2)  # the edit is chat.update: the DMs lose
    changed = slack_service.announce(world.runtime, 2)
    assert sorted(changed.unconfirmed) == ["Fay Okafor", "Gus Rossi"] and changed.messaged == ()
    assert len(dms(world, "fay")) == 2  # it did arrive
    again = slack_service.announce(world.runtime, 2)
    assert again.messaged == () and len(dms(world, "fay")) == 2  # and is not sent again


def test_a_deactivated_member_is_listed_for_staff(world):
    world.slack.deactivate(world.users["dee"])  # Dee left Slack
    done = slack_service.announce(world.runtime, 2)
    assert sorted(done.not_on_slack) == ["Dee Dee", "Ivy Novak"]
    assert (
        "(please tell them): Dee Dee, Ivy Novak"
        in world.slack.messages(world.channel)[0].blocks[-1]["text"]["text"]
    )


def test_announcing_needs_formed_groups_a_synced_meeting_and_a_channel(world, runner):
    world.runtime.storage.db.execute("UPDATE sessions SET meeting_key = NULL")
    world.runtime.storage.db.execute("DELETE FROM meetings")
    result = runner.invoke(cli, ["mixitup", "announce", "--week", "2"], obj=world.runtime)
    assert result.exit_code == 1
    assert "meeting is not synced yet" in result.output and "homeroom mixitup sync --week 2" in result.output
    assert world.slack.count_calls() == 0
    week4 = runner.invoke(cli, ["mixitup", "announce", "--week", "4"], obj=world.runtime)
    assert week4.exit_code == 1 and "homeroom mixitup form --week 4" in week4.output


def test_the_join_button_in_a_dm_is_acknowledged(world):
    slack_service.announce(world.runtime, 2)
    (dm,) = world.slack.direct_messages(world.users["ada"])
    delivery = world.slack.press(
        world.interactions_url,
        user=world.users["ada"],
        channel=dm.channel,
        ts=dm.ts,
        action_id="join-meeting",
    )
    assert (delivery.status, delivery.text) == (200, "")
    assert world.runtime.storage.pending_slack_picks() == []
    assert world.runtime.storage.poll_answers(POLL_DAY) == {}


def test_with_registration_each_student_gets_their_personal_link(tmp_path, env, clock, sleep, slack_spec):
    for world in build_world(tmp_path, env, clock, sleep, slack_spec, registration=True):
        store_mix_it_up_meeting(world)
        save_groups(world, GROUPS)
        personal = "https://zoom.example/w/777?tk=ada-personal-token"
        world.runtime.storage.save_registrations(
            mix_it_up_key(POLL_DAY),
            "777",
            [Registration(world.student_id("ada"), "ada@students.example.org", "reg-ada", personal)],
            now=world.clock(),
        )

        slack_service.announce(world.runtime, 2)

        buttons = {
            who: message.blocks[1]["elements"][0]["url"]
            for who in ("ada", "bob")
            for message in world.slack.direct_messages(world.users[who])
        }
        # Ada registered: her own link. Bob holds none (yet): the meeting's. The channel: the meeting's.
        assert buttons == {"ada": personal, "bob": JOIN_URL}
        (channel_message,) = world.slack.messages(world.channel)
        assert personal not in str(channel_message.blocks)
