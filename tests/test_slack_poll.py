"""The Mix It Up poll in Slack, end to end: posted by the service to the Slack sandbox, picks sent as
signed clicks to the service's real `POST /slack/interactions`, confirmed privately, closed with counts.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from tests.slack_world import POLL_DAY, TOPICS, WEEK, SlackWorld, build_world
from zoom_homeroom.cli import cli
from zoom_homeroom.sandbox.slack.clicks import form_body, send, signed_headers
from zoom_homeroom.services import slack as slack_service
from zoom_homeroom.slack.interactions import poll_action_id


@pytest.fixture
def world(tmp_path, env, clock, sleep, slack_spec):
    yield from build_world(tmp_path, env, clock, sleep, slack_spec)


def open_poll(world: SlackWorld) -> str:
    """Post week 2's poll; returns its ts."""
    return slack_service.open_poll(world.runtime, WEEK).ts


def applied(world: SlackWorld) -> None:
    """Wait for nothing: apply whatever the web app stored (it does so itself once it answered; either
    way, when this returns every stored pick is applied and answered)."""
    slack_service.process_picks(world.app_runtime)


def replies(world: SlackWorld, who: str) -> list[str]:
    """The private replies `who` saw, as the text of their first block."""
    return [e.blocks[0]["text"]["text"] for e in world.slack.ephemerals(world.users[who])]


def picks_count(world: SlackWorld) -> int:
    return world.runtime.storage.db.execute("SELECT count(*) FROM slack_picks").fetchone()[0]


# -- posting the poll ---------------------------------------------------------------------------------


def test_the_poll_is_posted_with_the_weeks_topics_in_three_menus(world):
    posted = slack_service.open_poll(world.runtime, WEEK)
    (message,) = world.slack.messages(world.channel)
    assert (posted.channel, posted.ts, posted.topics) == (world.channel, message.ts, TOPICS)
    menus = [block["accessory"] for block in message.blocks if "accessory" in block]
    assert [menu["action_id"] for menu in menus] == [poll_action_id(POLL_DAY, WEEK, r) for r in (1, 2, 3)]
    assert [[option["value"] for option in menu["options"]] for menu in menus] == [list(TOPICS)] * 3
    # The scheduler closes it an hour before forming, which is 24 hours before 13:30 on Wednesday 13th:
    # Tuesday 12th at 12:30 pm in Denver.
    assert posted.closes == dt.datetime(2027, 1, 12, 19, 30, tzinfo=dt.UTC)
    assert "The poll closes Tuesday January 12 at 12:30 pm." in message.blocks[1]["text"]["text"]


def test_topics_from_the_command_line_replace_the_calendars(world, runner):
    result = runner.invoke(
        cli,
        ["mixitup", "poll", "open", "--week", "2", "--topics", "Open source ; Pair  programming"],
        obj=world.runtime,
    )
    assert result.exit_code == 0, result.output
    assert f"week 2: poll posted in Slack channel {world.channel} with 2 topics" in result.output
    (message,) = world.slack.messages(world.channel)
    menu = message.blocks[2]["accessory"]
    assert [option["value"] for option in menu["options"]] == ["Open source", "Pair programming"]


def test_a_poll_that_cannot_be_posted_says_why(world, runner):
    bad = runner.invoke(
        cli, ["mixitup", "poll", "open", "--week", "2", "--topics", "A;a;"], obj=world.runtime
    )
    assert bad.exit_code == 1
    assert "--topics: topic 'a' is listed twice" in bad.output and "--topics: topic 3 is empty" in bad.output
    assert world.slack.messages(world.channel) == []
    assert runner.invoke(cli, ["mixitup", "poll", "open", "--week", "2"], obj=world.runtime).exit_code == 0
    again = runner.invoke(cli, ["mixitup", "poll", "open", "--week", "2"], obj=world.runtime)
    assert again.exit_code == 1 and "already open in Slack" in again.output
    assert len(world.slack.messages(world.channel)) == 1
    not_a_week = runner.invoke(cli, ["mixitup", "poll", "open", "--week", "3"], obj=world.runtime)
    assert not_a_week.exit_code == 1 and "week 3 is not a Mix It Up week" in not_a_week.output


# -- picks --------------------------------------------------------------------------------------------


def test_a_pick_is_saved_and_confirmed_and_a_later_pick_replaces_it(world):
    ts = open_poll(world)
    ada = world.student_id("ada")
    assert world.pick("ada", 1, "Open source", ts=ts).status == 200
    applied(world)
    assert world.runtime.storage.student_picks(POLL_DAY, ada) == {1: "Open source"}
    assert world.pick("ada", 2, "Resume review", ts=ts).status == 200
    assert world.pick("ada", 1, "Technical interviews", ts=ts).status == 200
    applied(world)
    assert world.runtime.storage.student_picks(POLL_DAY, ada) == {
        1: "Technical interviews",
        2: "Resume review",
    }
    assert world.runtime.storage.poll_answers(POLL_DAY) == {ada: ["Technical interviews", "Resume review"]}
    assert replies(world, "ada") == [
        "Got it. Your picks for Mix It Up week 2:\n1st: *Open source*",
        "Got it. Your picks for Mix It Up week 2:\n1st: *Open source*\n2nd: *Resume review*",
        "Got it. Your picks for Mix It Up week 2:\n1st: *Technical interviews*\n2nd: *Resume review*",
    ]
    assert world.slack.messages(world.channel)[0].history == []  # the open poll is never edited


def test_a_topic_picked_at_another_rank_moves_and_a_cleared_menu_clears_its_rank(world):
    ts = open_poll(world)
    cy = world.student_id("cy")
    world.pick("cy", 1, "Open source", ts=ts)
    world.pick("cy", 2, "Resume review", ts=ts)
    world.pick("cy", 3, "Open source", ts=ts)
    applied(world)
    assert world.runtime.storage.student_picks(POLL_DAY, cy) == {2: "Resume review", 3: "Open source"}
    assert replies(world, "cy")[-1] == (
        "Open source was your 1st choice; it is now your 3rd.\n"
        "Got it. Your picks for Mix It Up week 2:\n2nd: *Resume review*\n3rd: *Open source*"
    )
    world.pick("cy", 2, None, ts=ts)
    applied(world)
    assert world.runtime.storage.student_picks(POLL_DAY, cy) == {3: "Open source"}


def test_a_student_on_slack_under_an_alias_email_is_found(world):
    ts = open_poll(world)
    world.pick("hal", 1, "Salary negotiation", ts=ts)  # Slack knows Hal as hal.weber@mail.example.com
    applied(world)
    assert world.runtime.storage.student_picks(POLL_DAY, world.student_id("hal")) == {1: "Salary negotiation"}


def test_someone_not_on_the_roster_is_told_privately_and_nothing_is_saved(world):
    ts = open_poll(world)
    assert world.pick("coach", 1, "Open source", ts=ts).status == 200
    applied(world)
    assert world.runtime.storage.poll_answers(POLL_DAY) == {}
    (reply,) = replies(world, "coach")
    assert "the roster has no student with your Slack email (coach@school.example.org)" in reply
    assert world.runtime.storage.slack_pick_outcomes(POLL_DAY) == {"not_student": 1}
    assert [e.via for e in world.slack.ephemerals()] == ["response_url"]  # private: nobody else saw it


def test_a_pick_after_the_poll_closed_is_refused_privately(world):
    ts = open_poll(world)
    early = world.pick("bob", 1, "Open source", ts=ts)
    applied(world)
    world.clock.advance(minutes=2)
    slack_service.close_poll(world.runtime, WEEK)
    # Bob's Slack still shows the open poll and sends a pick (signed now: a new request, not a replay).
    world.clock.advance(minutes=1)
    late = send(
        world.interactions_url, early.payload, world.slack.signing_secret, world.clock(), requests.Session()
    )
    assert late.status == 200
    applied(world)
    assert world.runtime.storage.student_picks(POLL_DAY, world.student_id("bob")) == {1: "Open source"}
    assert replies(world, "bob")[-1].startswith(
        "The Mix It Up poll for week 2 closed Tuesday January 5 at 5:02 am, so this pick was not saved."
    )


def test_a_pick_that_arrived_before_the_close_counts_however_late_it_is_applied(world):
    ts = open_poll(world)
    world.slack.faults.add(500, method="users.info", times=100)  # Slack cannot say who Dee is, for now
    world.pick("dee", 1, "Resume review", ts=ts)
    applied(world)
    assert world.runtime.storage.pending_slack_picks() != []  # kept for the next run
    world.slack.faults.clear()
    world.clock.advance(minutes=10)
    closed = slack_service.close_poll(world.runtime, WEEK)  # applies what arrived before the close
    assert world.runtime.storage.student_picks(POLL_DAY, world.student_id("dee")) == {1: "Resume review"}
    assert closed.respondents == 1


def test_a_rate_limited_lookup_of_who_picked_is_waited_out(world, sleep):
    ts = open_poll(world)
    world.slack.faults.add(429, method="users.info", retry_after=2)
    world.pick("eve", 1, "Open source", ts=ts)
    applied(world)
    assert world.runtime.storage.student_picks(POLL_DAY, world.student_id("eve")) == {1: "Open source"}
    assert sleep.calls == [2.0]
    assert len(replies(world, "eve")) == 1


def test_who_picked_is_asked_of_slack_once_per_student(world):
    ts = open_poll(world)
    for rank, topic in enumerate(TOPICS[:3], start=1):
        world.pick("fay", rank, topic, ts=ts)
        applied(world)
    assert world.slack.count_calls("users.info") == 1


def test_the_answer_goes_before_the_pick_is_applied_which_happens_by_itself_right_after(world):
    ts = open_poll(world)
    # Gus's click as Slack signs it, caught on its way (sent where nothing listens), then handed to the app.
    click = world.slack.select(
        "http://127.0.0.1:1/nobody",
        user=world.users["gus"],
        channel=world.channel,
        ts=ts,
        action_id=poll_action_id(POLL_DAY, WEEK, 1),
        value="Open source",
    )
    assert click.status is None
    calls = world.slack.count_calls()
    response = world.live.app.test_client().post(
        "/slack/interactions", data=click.body, headers=click.headers
    )
    assert (response.status_code, response.data) == (200, b"")
    # Answered: the pick is on disk, and nothing was asked of Slack yet (Slack waits only three seconds).
    assert [pick.user_id for pick in world.runtime.storage.pending_slack_picks()] == [world.users["gus"]]
    assert world.slack.count_calls() == calls
    response.close()  # the answer has gone: the app applies the pick and replies, without anyone asking
    assert world.runtime.storage.pending_slack_picks() == []
    assert world.runtime.storage.student_picks(POLL_DAY, world.student_id("gus")) == {1: "Open source"}
    assert len(replies(world, "gus")) == 1


# -- what the route refuses ---------------------------------------------------------------------------


@pytest.fixture
def delivered(world) -> tuple[SlackWorld, bytes, dict[str, str]]:
    """One pick delivered and applied: its body and headers, for the tests to tamper with."""
    ts = open_poll(world)
    delivery = world.pick("ada", 1, "Open source", ts=ts)
    assert delivery.status == 200
    applied(world)
    return world, delivery.body, delivery.headers


def post(world: SlackWorld, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(world.interactions_url, data=body, headers=headers, timeout=5)


def test_a_replayed_pick_is_refused(delivered):
    world, body, headers = delivered
    before = picks_count(world)
    response = post(world, body, headers)
    assert response.status_code == 401 and response.json() == {"error": "the request is not signed by Slack"}
    assert picks_count(world) == before


def test_a_pick_signed_with_another_secret_is_refused(delivered):
    world, body, _ = delivered
    before = picks_count(world)
    forged = signed_headers(body, "not-the-signing-secret", world.clock())
    assert post(world, body, forged).status_code == 401
    assert picks_count(world) == before


def test_a_pick_with_a_changed_body_is_refused(delivered):
    world, body, headers = delivered
    tampered = body.replace(b"Open+source", b"Resume+review")
    assert tampered != body
    assert post(world, tampered, headers).status_code == 401


def test_an_unsigned_pick_is_refused(delivered):
    world, body, _ = delivered
    before = picks_count(world)
    assert post(world, body, {"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    assert picks_count(world) == before


def test_a_pick_older_than_five_minutes_is_refused(delivered):
    world, body, _ = delivered
    before = picks_count(world)
    stale = signed_headers(
        body, world.slack.signing_secret, world.clock() - dt.timedelta(minutes=5, seconds=1)
    )
    assert post(world, body, stale).status_code == 401
    fresh = signed_headers(
        body, world.slack.signing_secret, world.clock() - dt.timedelta(minutes=4, seconds=59)
    )
    assert post(world, body, fresh).status_code == 200  # within the window: a new request
    assert picks_count(world) == before + 1


def test_a_signed_but_malformed_body_is_a_400_and_other_interactions_are_acknowledged(world):
    secret, now = world.slack.signing_secret, world.clock()
    garbage = b"payload=%7Bnot+json"
    assert post(world, garbage, signed_headers(garbage, secret, now)).status_code == 400
    submission = form_body({"type": "view_submission", "view": {}})
    answer = post(world, submission, signed_headers(submission, secret, now))
    assert (answer.status_code, answer.text) == (200, "")
    assert picks_count(world) == 0


def test_without_a_signing_secret_every_click_is_refused(tmp_path, env, clock):
    from zoom_homeroom import create_app
    from zoom_homeroom.settings import load_settings

    app = create_app(load_settings({**env, "SLACK_BOT_TOKEN": "xoxb-x"}), clock=clock)
    answer = app.test_client().post("/slack/interactions", data=b"payload=%7B%7D")
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "the Slack signing secret is not configured"}


# -- closing ------------------------------------------------------------------------------------------


def test_closing_shows_the_counts_per_topic_and_stops_the_picks(world, runner):
    ts = open_poll(world)
    world.pick("ada", 1, "Open source", ts=ts)
    world.pick("ada", 2, "Resume review", ts=ts)
    world.pick("bob", 1, "Open source", ts=ts)
    world.pick("cy", 1, "Resume review", ts=ts)
    world.pick("cy", 2, "Open source", ts=ts)
    world.pick("cy", 3, "Salary negotiation", ts=ts)
    world.pick("coach", 1, "Technical interviews", ts=ts)  # not a student: not counted
    result = runner.invoke(cli, ["mixitup", "poll", "close", "--week", "2"], obj=world.runtime)
    assert result.exit_code == 0, result.output
    assert "week 2: poll closed; 3 students answered in Slack" in result.output
    assert "  picks per topic (1st / 2nd / 3rd):\n  2 / 1 / 0  Open source\n" in result.output
    (message,) = world.slack.messages(world.channel)
    assert message.ts == ts and len(message.history) == 1  # edited once, at close
    texts = [block["text"]["text"] for block in message.blocks if block["type"] == "section"]
    assert texts[0] == "*This poll is closed.* 3 students answered."
    assert texts[1] == (
        "• *Open source*: 2 first, 1 second\n"
        "• *Resume review*: 1 first, 1 second\n"
        "• *Salary negotiation*: 1 third\n"
        "• *Technical interviews*: no picks"
    )
    assert not any("accessory" in block for block in message.blocks)  # no menus left to pick from
    again = runner.invoke(cli, ["mixitup", "poll", "close", "--week", "2"], obj=world.runtime)
    assert again.exit_code == 0 and "already closed" in again.output
    assert len(world.slack.message(world.channel, ts).history) == 1  # nothing new to show: no edit


@pytest.fixture
def odd_topic_world(tmp_path, env, clock, sleep, slack_spec, monkeypatch):
    """The world, its calendar holding a topic with an escape sequence and a bidi override."""
    from tests import slack_world

    monkeypatch.setattr(slack_world, "TOPICS", (*slack_world.TOPICS, ODD_TOPIC))
    yield from build_world(tmp_path, env, clock, sleep, slack_spec)


ODD_TOPIC = "Open\x1b[2Jsource \u202egnimmargorp"


def test_closing_prints_the_topics_with_control_characters_escaped(odd_topic_world, runner):
    ts = open_poll(odd_topic_world)
    odd_topic_world.pick("ada", 1, ODD_TOPIC, ts=ts)
    result = runner.invoke(cli, ["mixitup", "poll", "close", "--week", "2"], obj=odd_topic_world.runtime)
    assert result.exit_code == 0, result.output
    assert "  1 / 0 / 0  Open\\x1b[2Jsource \\u202egnimmargorp\n" in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output


def test_a_closed_poll_can_be_reopened_and_its_picks_stay(world):
    ts = open_poll(world)
    world.pick("ada", 1, "Open source", ts=ts)
    slack_service.close_poll(world.runtime, WEEK)
    reopened = slack_service.open_poll(world.runtime, WEEK)
    assert reopened.reopened and reopened.ts != ts
    world.pick("bob", 1, "Resume review", ts=reopened.ts)
    applied(world)
    answers = world.runtime.storage.poll_answers(POLL_DAY)
    assert answers == {world.student_id("ada"): ["Open source"], world.student_id("bob"): ["Resume review"]}


def test_closing_before_a_poll_is_posted_says_how_to_post_one(world, runner):
    result = runner.invoke(cli, ["mixitup", "poll", "close", "--week", "2"], obj=world.runtime)
    assert result.exit_code == 1
    assert (
        "week 2 has no Slack poll to close (post one with homeroom mixitup poll open --week 2)"
        in result.output
    )


def test_the_csv_import_and_the_slack_poll_feed_the_same_answers(world, tmp_path, runner):
    ts = open_poll(world)
    world.pick("ada", 1, "Open source", ts=ts)
    world.pick("bob", 1, "Resume review", ts=ts)
    applied(world)
    csv = tmp_path / "poll.csv"
    csv.write_text(
        "email,topic,rank\nbob@students.example.org,Salary negotiation,1\ncy@students.example.org,Open source,1\n"
    )
    imported = runner.invoke(cli, ["mixitup", "import-poll", str(csv), "--week", "2"], obj=world.runtime)
    assert imported.exit_code == 0, imported.output
    assert "week 2: 2 answers from 2 students" in imported.output
    assert "kept the Slack poll's answers of 1 student not in the file" in imported.output
    answers = world.runtime.storage.poll_answers(POLL_DAY)
    # The file is the later word for Bob and Cy; Ada's Slack pick stays.
    assert answers == {
        world.student_id("ada"): ["Open source"],
        world.student_id("bob"): ["Salary negotiation"],
        world.student_id("cy"): ["Open source"],
    }
    assert world.runtime.storage.poll_respondents(POLL_DAY) == {"csv": 2, "slack": 1}
    world.pick("cy", 2, "Resume review", ts=ts)  # a later Slack pick replaces one rank of the import's
    applied(world)
    assert world.runtime.storage.student_picks(POLL_DAY, world.student_id("cy")) == {
        1: "Open source",
        2: "Resume review",
    }
