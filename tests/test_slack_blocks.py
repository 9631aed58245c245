"""The Block Kit messages: content, escaping, and Slack's limits whatever the data."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from zoom_homeroom.sandbox.slack.blockkit import parse_blocks
from zoom_homeroom.slack import blocks as kit
from zoom_homeroom.slack.blocks import DigestModule, Group, Message, MessageError

POLL_DAY = dt.date(2027, 1, 13)
TOPICS = ["Technical interviews", "Portfolios & personal sites", "Open source", "Negotiating offers"]


def texts(value: Any) -> list[str]:
    """Every `text` string inside blocks."""
    if isinstance(value, dict):
        found = [value["text"]] if isinstance(value.get("text"), str) else []
        return found + [
            t
            for key, item in value.items()
            if key != "text" or not isinstance(item, str)
            for t in texts(item)
        ]
    if isinstance(value, list | tuple):
        return [t for item in value for t in texts(item)]
    return []


def assert_within_slack_limits(message: Message) -> None:
    """Block Kit's documented limits, written out here rather than taken from the code under test."""
    blocks = message.blocks
    assert 1 <= len(blocks) <= 50
    assert 0 < len(message.text) <= 4000
    assert sum(len(t) for t in texts(blocks)) <= 12_000
    for block in blocks:
        assert len(block.get("block_id", "")) <= 255
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        element = block.get("accessory")
        for item in [element] if element else block.get("elements", []) if block["type"] == "actions" else []:
            assert len(item["action_id"]) <= 255
            if item["type"] == "static_select":
                assert 1 <= len(item["options"]) <= 100
                for option in item["options"]:
                    assert len(option["text"]["text"]) <= 75 and 1 <= len(option["value"]) <= 150
            if item["type"] == "button":
                assert len(item["text"]["text"]) <= 75 and len(item.get("url", "")) <= 3000
    parse_blocks(list(blocks))  # and the sandbox's own, harsher, Block Kit checks accept them


def mrkdwn(message: Message) -> str:
    return "\n".join(t for t in texts(message.blocks)) + "\n" + message.text


# -- the poll --------------------------------------------------------------------------------------


def test_the_poll_has_one_menu_per_rank_carrying_the_week_and_rank():
    message = kit.poll_message(POLL_DAY, 2, TOPICS, closes="Tuesday at 5 pm")
    menus = [block["accessory"] for block in message.blocks if "accessory" in block]
    assert [menu["action_id"] for menu in menus] == [
        "mixitup-poll:2027-01-13:w2:r1",
        "mixitup-poll:2027-01-13:w2:r2",
        "mixitup-poll:2027-01-13:w2:r3",
    ]
    for menu in menus:
        assert menu["type"] == "static_select"
        assert [option["value"] for option in menu["options"]] == TOPICS
        assert [option["text"]["text"] for option in menu["options"]] == TOPICS
    assert message.blocks[0]["text"]["text"] == "Mix It Up · week 2 · Wednesday January 13"
    assert "The poll closes Tuesday at 5 pm." in message.blocks[1]["text"]["text"]
    assert_within_slack_limits(message)


def test_a_poll_of_two_topics_asks_for_two_choices():
    message = kit.poll_message(POLL_DAY, 4, TOPICS[:2])
    assert sum(1 for block in message.blocks if "accessory" in block) == 2
    assert "1st, 2nd choice" in message.text


def test_a_long_topic_is_shown_cut_but_kept_whole_as_the_value():
    topic = "How to talk about a career change from teaching to software in an interview, and more"
    message = kit.poll_message(POLL_DAY, 2, [topic, "Other"])
    option = message.blocks[2]["accessory"]["options"][0]
    assert option["value"] == topic
    assert option["text"]["text"] == topic[:74] + "…"
    assert_within_slack_limits(message)


@pytest.mark.parametrize(
    ("topics", "problem"),
    [
        ([], "no topics"),
        (["Interviews", "interviews"], "listed twice"),
        (["Interviews", "  "], "empty"),
        ([f"Topic {n}" for n in range(101)], "at most 100"),
        (["x" * 151], "longer than 150"),
        ([f"{n:03d} " + "y" * 140 for n in range(50)], "use fewer or shorter topics"),
    ],
)
def test_a_poll_slack_could_not_show_is_refused(topics, problem):
    with pytest.raises(MessageError) as caught:
        kit.poll_message(POLL_DAY, 2, topics)
    assert problem in str(caught.value)


def test_a_poll_of_a_hundred_short_topics_fits():
    assert_within_slack_limits(kit.poll_message(POLL_DAY, 2, [f"T{n}" for n in range(100)]))


def test_the_closed_poll_lists_topics_by_first_choices_with_counts():
    counts = {
        "Open source": [1, 4, 0],
        "Portfolios & personal sites": [5, 1, 2],
        "Technical interviews": [1, 0, 6],
    }
    message = kit.closed_poll_message(POLL_DAY, 2, counts, respondents=9)
    body = message.blocks[2]["text"]["text"]
    assert body.splitlines() == [
        "• *Portfolios &amp; personal sites*: 5 first, 1 second, 2 third",
        "• *Technical interviews*: 1 first, 6 third",
        "• *Open source*: 1 first, 4 second",
    ]
    assert "9 students answered" in message.blocks[1]["text"]["text"]
    assert not any("accessory" in block for block in message.blocks)
    assert_within_slack_limits(message)


def test_picks_are_confirmed_in_rank_order():
    message = kit.picks_message(2, {2: "Open source", 1: "Portfolios & personal sites"})
    assert message.blocks[0]["text"]["text"].splitlines()[1:] == [
        "1st: *Portfolios &amp; personal sites*",
        "2nd: *Open source*",
    ]


# -- escaping --------------------------------------------------------------------------------------

HOSTILE = "<!channel> Bobby & <@U0ADMIN01> <https://evil.example|click>"


def _unescaped_controls(message: Message) -> list[str]:
    """Every `<...>` control sequence in the message text that our own builders did not make."""
    return [
        m
        for m in re.findall(r"<[^>]*>", mrkdwn(message))
        if not m.startswith(("<https://zoom.test", "<https://homeroom.test"))
    ]


def test_names_and_topics_cannot_ping_or_link_in_the_groups_message():
    groups = [Group(1, HOSTILE, [HOSTILE, "Ada Lovelace"])]
    message = kit.groups_message(
        POLL_DAY, 2, groups, join_url="https://zoom.test/j/1?pwd=a&b=c", unknown=[HOSTILE]
    )
    assert _unescaped_controls(message) == []
    assert "&lt;!channel&gt; Bobby &amp; &lt;@U0ADMIN01&gt;" in mrkdwn(message)
    assert "<https://zoom.test/j/1?pwd=a&amp;b=c|the Mix It Up meeting>" in message.blocks[1]["text"]["text"]
    assert_within_slack_limits(message)


def test_a_direct_message_escapes_and_carries_the_join_link():
    message = kit.group_dm_message(
        POLL_DAY,
        2,
        Group(3, HOSTILE, [HOSTILE, "Grace Hopper"]),
        when="1:30 pm",
        join_url="https://zoom.test/j/9",
    )
    assert _unescaped_controls(message) == []
    assert "You are in *group 3* for Mix It Up on Wednesday January 13 at 1:30 pm." in mrkdwn(message)
    (button,) = message.blocks[1]["elements"]
    assert (button["type"], button["url"], button["action_id"]) == (
        "button",
        "https://zoom.test/j/9",
        "join-meeting",
    )
    assert "Join: https://zoom.test/j/9" in message.text
    assert_within_slack_limits(message)


def test_a_prompt_is_escaped_paragraph_by_paragraph():
    prompt = "Go around the room:\n- your name\n\nPick someone <!here> to share."
    message = kit.prompt_message(
        1, 2, dt.date(2027, 1, 13), prompt, when="1:00 pm", join_url="https://zoom.test/j/5"
    )
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert sections[1] == "Go around the room:\n- your name\n\nPick someone &lt;!here&gt; to share."
    assert message.blocks[-1]["elements"][0]["url"] == "https://zoom.test/j/5"
    assert_within_slack_limits(message)


# -- limits with large data ------------------------------------------------------------------------


def test_two_hundred_groups_fit_one_message_and_say_how_many_are_left_out():
    groups = [Group(n, f"Topic {n}", [f"Student {n}-{m}" for m in range(5)]) for n in range(1, 201)]
    message = kit.groups_message(POLL_DAY, 2, groups, join_url=None)
    shown = mrkdwn(message).count("*Group ")
    assert 0 < shown < 200
    assert message.blocks[-1]["elements"][0]["text"] == f"…and {200 - shown} more groups"
    assert_within_slack_limits(message)


def test_a_huge_group_lists_some_members_and_counts_the_rest():
    members = [f"Student number {n}" for n in range(400)]
    message = kit.groups_message(POLL_DAY, 2, [Group(1, "Big", members)], join_url=None)
    line = message.blocks[2]["text"]["text"].splitlines()[1]
    listed = line.split(" and ")[0].split(", ")
    assert line.endswith(f" and {400 - len(listed)} more")
    assert listed == members[: len(listed)]
    assert_within_slack_limits(message)


def test_a_very_long_prompt_is_cut_not_refused():
    prompt = "\n\n".join("word " * 700 for _ in range(10))
    message = kit.prompt_message(2, 1, dt.date(2027, 1, 6), prompt, when="1:00 pm", join_url=None)
    assert (
        message.blocks[-1]["type"] == "context"
        and "more paragraphs" in message.blocks[-1]["elements"][0]["text"]
    )
    assert_within_slack_limits(message)


def test_listing_cuts_with_and_n_more():
    assert kit.listing(["Ada", "Grace", "Edsger", "Barbara"], 30) == "Ada, Grace, Edsger, Barbara"
    assert kit.listing(["Ada", "Grace", "Edsger", "Barbara"], 25) == "Ada, Grace and 2 more"
    assert kit.listing(["A" * 40], 20) == "1 people (too many to list)"


def test_clip_mrkdwn_never_cuts_an_entity_or_a_link():
    assert kit.clip_mrkdwn("ab &amp; cd", 6) == "ab …"
    assert kit.clip_mrkdwn("see <https://x.test/long|here> now", 12) == "see …"


# -- the reps' digest ------------------------------------------------------------------------------


def test_the_digest_lists_each_modules_follow_ups_with_its_session_link():
    modules = [
        DigestModule(
            "Mod 1",
            "https://homeroom.test/sessions/homeroom:1:2027-01-06",
            absent=["Ada Lovelace", "Grace Hopper"],
            partial=["Alan Turing (35 of 60 min)"],
            wrong_room=["Edsger Dijkstra: room 2, assigned 3"],
            unmatched=["iPhone (2)"],
        ),
        DigestModule("Mod 2", "https://homeroom.test/sessions/homeroom:2:2027-01-06"),
    ]
    message = kit.digest_message("Homeroom attendance · Wednesday January 6", modules)
    assert message.blocks[0]["text"]["text"] == "Homeroom attendance · Wednesday January 6"
    assert message.blocks[1]["text"]["text"].split("\n\n") == [
        "*Mod 1* · <https://homeroom.test/sessions/homeroom:1:2027-01-06|session page>\n"
        "Absent (2): Ada Lovelace, Grace Hopper\n"
        "Partial (1): Alan Turing (35 of 60 min)\n"
        "Wrong room (1): Edsger Dijkstra: room 2, assigned 3\n"
        "Waiting to be matched (1): iPhone (2)",
        "*Mod 2* · <https://homeroom.test/sessions/homeroom:2:2027-01-06|session page>\n"
        "Everyone was there, in the right room.",
    ]
    assert message.text == "Homeroom attendance · Wednesday January 6: 1 of 2 modules need a look."
    assert_within_slack_limits(message)


def test_a_digest_with_hundreds_of_absentees_stays_within_limits():
    names = [f"Student {n} with a rather long name" for n in range(500)]
    modules = [
        DigestModule(f"Mod {m}", f"https://homeroom.test/s/{m}", absent=names, unmatched=names)
        for m in range(8)
    ]
    message = kit.digest_message("Homeroom", modules)
    assert "more" in mrkdwn(message)
    assert_within_slack_limits(message)


def test_messages_are_plain_json():
    message = kit.poll_message(POLL_DAY, 2, TOPICS)
    assert json.loads(json.dumps(message.blocks)) == list(message.blocks)
