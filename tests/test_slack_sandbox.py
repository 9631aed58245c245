"""The Slack sandbox end to end: SlackClient against it, its Slack-shaped failures, response URLs,
signed clicks delivered to a tiny receiver, and every call checked against Slack's Web API spec."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, request

from tests.conftest import PROJECT_ROOT, FakeClock, FakeSleep
from tests.slack_contract import SlackContract
from zoom_homeroom.sandbox import LocalServer
from zoom_homeroom.sandbox.errors import SandboxError
from zoom_homeroom.sandbox.slack import Delivery, SlackSandbox
from zoom_homeroom.slack import (
    Ignored,
    PollPick,
    SlackAPIError,
    SlackAuthError,
    SlackChannelNotFound,
    SlackClient,
    SlackConnectionError,
    SlackMessageNotFound,
    SlackMissingScope,
    SlackNotInChannel,
    SlackSignatureError,
    SlackUserNotFound,
    parse_interaction,
)
from zoom_homeroom.slack import blocks as kit
from zoom_homeroom.slack.verify import verify_request

SPEC_PATH = PROJECT_ROOT.parent / "shared" / "slack" / "slack_web_openapi_v2.json"
ADA = "Ada.Lovelace@students.example.org"
GRACE = "grace.hopper@students.example.org"
POLL_DAY = dt.date(2027, 1, 13)
TOPICS = ["Technical interviews", "Portfolios & personal sites", "Open source"]
TIMEOUT = 5


@pytest.fixture(scope="session")
def slack_contract() -> SlackContract:
    """Slack's Web API spec from ../shared/slack, or a skip that says why."""
    if not SPEC_PATH.is_file():
        pytest.skip(
            f"contract test: Slack's Web API spec is not at {SPEC_PATH} (only in the dev/CI checkout)"
        )
    return SlackContract.load(SPEC_PATH)


@pytest.fixture(scope="session")
def optional_contract() -> SlackContract | None:
    """The spec when present: end-to-end tests check every call with it, and run without it."""
    return SlackContract.load(SPEC_PATH) if SPEC_PATH.is_file() else None


@pytest.fixture
def slack(clock: FakeClock, optional_contract: SlackContract | None) -> Iterator[SlackSandbox]:
    with SlackSandbox(clock=clock, checker=optional_contract) as sandbox:
        yield sandbox
        assert sandbox.violations == []


@pytest.fixture
def people(slack: SlackSandbox) -> dict[str, str]:
    return {"ada": slack.add_user(ADA, "Ada Lovelace"), "grace": slack.add_user(GRACE, "Grace Hopper")}


@pytest.fixture
def channel(slack: SlackSandbox, people: dict[str, str]) -> str:
    return slack.add_channel("mix-it-up", members=people.values())


@pytest.fixture
def client(slack: SlackSandbox, sleep: FakeSleep, clock: FakeClock) -> SlackClient:
    return SlackClient(slack.bot_token, base_url=slack.api_url, sleep=sleep, clock=clock)


def raw(slack: SlackSandbox, method: str, *, token: str | None = None, **json_body: Any) -> requests.Response:
    """A call made by hand (not by the client), for what the client would never send."""
    headers = {"Authorization": f"Bearer {token or slack.bot_token}"}
    return requests.post(slack.api_url + method, json=json_body, headers=headers, timeout=TIMEOUT)


# -- the client against the sandbox ----------------------------------------------------------------


def test_post_edit_dm_and_ephemeral_land_in_the_workspace(slack, people, channel, client):
    identity = client.auth_test()
    assert (identity.team_id, identity.bot_user_id) == (slack.team_id, slack.bot_user_id)
    assert {"chat:write", "im:write", "users:read", "users:read.email"} <= identity.scopes
    assert client.channel_info(channel).is_member is True

    poll = kit.poll_message(POLL_DAY, 2, TOPICS)
    posted = client.post_message(channel, poll.text, poll.blocks)
    closed = kit.closed_poll_message(POLL_DAY, 2, {"Open source": [2]}, respondents=2)
    client.update_message(channel, posted.ts, closed.text, closed.blocks)
    (message,) = slack.messages(channel)
    assert (message.ts, message.text) == (posted.ts, closed.text)
    assert message.history[0]["text"] == poll.text

    assert client.user_email(people["ada"]) == ADA
    assert client.lookup_user_by_email(ADA.upper()) == people["ada"]  # Slack ignores the case
    dm = client.send_dm(people["grace"], "You are in group 1")
    assert [m.text for m in slack.direct_messages(people["grace"])] == ["You are in group 1"]
    assert client.send_dm(people["grace"], "Again").channel == dm.channel  # the same DM channel
    client.post_ephemeral(channel, people["ada"], "Only you")
    assert [(e.user, e.text) for e in slack.ephemerals()] == [(people["ada"], "Only you")]


def test_the_bot_must_be_in_a_channel_to_post(slack, people, client):
    public = slack.add_channel("general", members=[people["ada"]], bot_member=False)
    private = slack.add_channel("reps", members=[people["ada"]], private=True, bot_member=False)
    with pytest.raises(SlackNotInChannel):
        client.post_message(public, "hi")
    with pytest.raises(SlackChannelNotFound):
        client.post_message(private, "hi")
    with pytest.raises(SlackChannelNotFound):
        client.channel_info(private)
    assert client.channel_info(public).is_member is False
    slack.join(public, slack.bot_user_id)
    client.post_message(public, "hi")
    assert [m.text for m in slack.messages(public)] == ["hi"]


def test_chat_write_public_lets_the_bot_post_without_joining(slack, people, client):
    public = slack.add_channel("general", members=[people["ada"]], bot_member=False)
    slack.set_scopes([*slack.scopes, "chat:write.public"])
    client.post_message(public, "hi")
    assert len(slack.messages(public)) == 1


def test_scopes_are_checked_per_method(slack, people, channel, client):
    slack.set_scopes(["chat:write", "users:read"])
    with pytest.raises(SlackMissingScope) as caught:
        client.send_dm(people["ada"], "hi")
    assert (caught.value.needed, caught.value.provided) == ("im:write", "chat:write,users:read")
    with pytest.raises(SlackMissingScope) as caught:
        client.channel_info(channel)
    assert caught.value.needed == "channels:read"
    with pytest.raises(SlackMissingScope) as caught:
        client.user_email(people["ada"])  # users.info hides the email without users:read.email
    assert caught.value.needed == "users:read.email"


def test_a_revoked_or_wrong_token_is_an_auth_error(slack, client):
    assert raw(slack, "auth.test", token="xoxb-wrong").json() == {"ok": False, "error": "invalid_auth"}
    slack.revoke_token()
    with pytest.raises(SlackAuthError) as caught:
        client.auth_test()
    assert caught.value.error == "token_revoked"


def test_unknown_users_channels_and_messages(slack, people, channel, client):
    with pytest.raises(SlackUserNotFound):
        client.user_email("U99999999")
    with pytest.raises(SlackUserNotFound):
        client.open_dm("U99999999")
    assert client.lookup_user_by_email("nobody@students.example.org") is None
    with pytest.raises(SlackMessageNotFound):
        client.update_message(channel, "1799000000.000001", "x")
    with pytest.raises(SlackChannelNotFound):
        client.post_message("#mix-it-up", "names are not ids")


def test_a_deactivated_member_is_found_flagged_and_cannot_be_messaged(slack, client):
    gone = slack.add_user("gone@students.example.org", "Gone Student", deleted=True)
    assert client.lookup_user_by_email("gone@students.example.org") is None
    with pytest.raises(SlackAPIError) as caught:
        client.open_dm(gone)
    assert caught.value.error == "user_disabled"


def test_a_rate_limit_is_waited_out(slack, channel, client, sleep):
    slack.faults.add(429, method="chat.postMessage", retry_after=4)
    client.post_message(channel, "after the wait")
    assert sleep.calls == [4.0]
    assert [m.text for m in slack.messages(channel)] == ["after the wait"]
    assert [(c.method, c.status) for c in slack.calls] == [
        ("chat.postMessage", 429),
        ("chat.postMessage", 200),
    ]


def test_a_post_whose_answer_is_lost_was_posted_once_and_is_reported_unanswered(slack, channel, client):
    slack.faults.add("lost", method="chat.postMessage")
    with pytest.raises(SlackConnectionError) as caught:
        client.post_message(channel, "did it go?")
    assert caught.value.unanswered is True
    assert [m.text for m in slack.messages(channel)] == ["did it go?"]


def test_a_dropped_post_is_not_retried_and_posts_nothing(slack, channel, client):
    slack.faults.add("drop", method="chat.postMessage")
    with pytest.raises(SlackConnectionError):
        client.post_message(channel, "lost")
    assert slack.messages(channel) == []
    assert slack.count_calls("chat.postMessage") == 1


@pytest.mark.parametrize(
    ("kind", "fields"),
    [("slow", {}), (404, {}), (429, {"times": 0}), (429, {"retry_after": 1.5}), (True, {})],
)
def test_faults_slack_cannot_produce_are_refused(slack, kind, fields):
    with pytest.raises(ValueError):
        slack.faults.add(kind, **fields)


def test_a_fault_strikes_only_its_method_and_only_as_often_as_asked(slack, channel, client):
    slack.faults.add(500, method="chat.update", times=2)
    client.post_message(channel, "unaffected")
    assert slack.faults.pending() == [{"kind": 500, "method": "chat.update", "times": 2, "retry_after": None}]


def test_a_server_error_page_is_a_server_error(slack, client):
    slack.faults.add(503, method="auth.test")
    with pytest.raises(SlackAPIError) as caught:
        client.auth_test()
    assert caught.value.status == 503


def test_blocks_over_slacks_limits_are_refused_with_json_pointers(slack, channel):
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    answer = raw(slack, "chat.postMessage", channel=channel, text="t", blocks=[section]).json()
    assert answer["error"] == "invalid_blocks"
    assert answer["errors"] == ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
    many = [{"type": "divider"}] * 51
    assert raw(slack, "chat.postMessage", channel=channel, text="t", blocks=many).json()["errors"] == [
        "no more than 50 items allowed [json-pointer:/blocks]"
    ]
    long = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2500}}] * 5
    assert (
        raw(slack, "chat.postMessage", channel=channel, text="t", blocks=long).json()["error"]
        == "msg_blocks_too_long"
    )
    assert raw(slack, "chat.postMessage", channel=channel).json()["error"] == "no_text"
    assert slack.messages(channel) == []


def test_read_methods_ignore_a_json_body(clock):
    # users.lookupByEmail reads form or query arguments only: a JSON body's `email` is not seen.
    with SlackSandbox(clock=clock) as slack:
        slack.add_user(ADA)
        assert raw(slack, "users.lookupByEmail", email=ADA).json()["error"] == "invalid_arguments"


# -- response URLs ---------------------------------------------------------------------------------


def test_a_response_url_answers_five_times_within_thirty_minutes(slack, people, channel, client, clock):
    url = _click_response_url(slack, people["ada"], channel)
    for n in range(5):
        client.reply(url, f"reply {n}")
    with pytest.raises(SlackAPIError) as caught:
        client.reply(url, "sixth")
    assert caught.value.error == "expired_url"
    assert [e.text for e in slack.ephemerals(people["ada"])] == [f"reply {n}" for n in range(5)]
    late = _click_response_url(slack, people["ada"], channel)
    clock.advance(minutes=31)
    with pytest.raises(SlackAPIError):
        client.reply(late, "too late")


def test_a_response_url_post_that_does_not_say_ephemeral_replaces_the_original(slack, people, channel):
    url = _click_response_url(slack, people["ada"], channel)
    assert requests.post(url, json={"text": "oops"}, timeout=TIMEOUT).status_code == 200
    (message,) = slack.messages(channel)
    assert message.text == "oops"


def _click_response_url(slack: SlackSandbox, user: str, channel: str) -> str:
    """Post a poll and have `user` pick in it, with nobody listening: returns the click's response_url."""
    posted = SlackClient(slack.bot_token, base_url=slack.api_url).post_message(
        channel, *_parts(kit.poll_message(POLL_DAY, 2, TOPICS))
    )
    delivery = slack.select(
        "http://127.0.0.1:9/unreachable",
        user=user,
        channel=channel,
        ts=posted.ts,
        action_id="mixitup-poll:2027-01-13:w2:r1",
        value=TOPICS[0],
    )
    assert delivery.status is None
    return delivery.payload["response_url"]


def _parts(message: kit.Message) -> tuple[str, tuple[dict[str, Any], ...]]:
    return message.text, message.blocks


# -- clicks delivered to a receiver ----------------------------------------------------------------


class Receiver:
    """A minimal `POST /slack/interactions`: verify, parse, reply privately; what the real route will do."""

    def __init__(self, slack: SlackSandbox, client: SlackClient, clock: FakeClock) -> None:
        self.picks: list[PollPick | Ignored] = []
        self.refusals: list[str] = []
        self._seen: dict[str, dt.datetime] = {}
        secret = slack.signing_secret  # the app's copy, as configured when it was installed
        app = Flask("receiver")

        @app.post("/slack/interactions")
        def interactions() -> tuple[str, int]:
            body = request.get_data()
            try:
                verify_request(body, request.headers, secret, now=clock(), seen_before=self._first)
            except SlackSignatureError as error:
                self.refusals.append(error.reason)
                return "", 401
            pick = parse_interaction(body)
            self.picks.append(pick)
            if isinstance(pick, PollPick):
                client.reply(
                    pick.response_url, *_parts(kit.picks_message(pick.week, {pick.rank: pick.topic or ""}))
                )
            return "", 200

        self._http = LocalServer(app, name="receiver")
        self.url = f"{self._http.url}/slack/interactions"

    def _first(self, key: str, keep_until: dt.datetime) -> bool:
        seen = key in self._seen
        self._seen.setdefault(key, keep_until)
        return seen

    def close(self) -> None:
        self._http.stop()


@pytest.fixture
def receiver(slack: SlackSandbox, client: SlackClient, clock: FakeClock) -> Iterator[Receiver]:
    box = Receiver(slack, client, clock)
    yield box
    box.close()


@pytest.fixture
def poll(channel: str, client: SlackClient) -> str:
    return client.post_message(channel, *_parts(kit.poll_message(POLL_DAY, 2, TOPICS))).ts


@pytest.fixture
def choose(slack: SlackSandbox, people: dict[str, str], channel: str, receiver: Receiver, poll: str):
    """Ada (or `user`) chooses `value` in the poll's menu for `rank` (or the menu `action_id`), delivered
    to the receiver."""

    def choose(
        value: str | None, *, rank: int = 1, user: str | None = None, action_id: str | None = None
    ) -> Delivery:
        return slack.select(
            receiver.url,
            user=user or people["ada"],
            channel=channel,
            ts=poll,
            action_id=action_id or f"mixitup-poll:2027-01-13:w2:r{rank}",
            value=value,
        )

    return choose


def test_a_students_pick_arrives_signed_and_is_confirmed_privately(
    slack, people, channel, receiver, poll, choose
):
    delivery = choose(TOPICS[1], rank=2)
    assert delivery.status == 200
    (pick,) = receiver.picks
    assert isinstance(pick, PollPick)
    assert (pick.user_id, pick.team_id, pick.week, pick.rank, pick.topic) == (
        people["ada"],
        slack.team_id,
        2,
        2,
        "Portfolios & personal sites",
    )
    assert (pick.channel_id, pick.message_ts, pick.poll_date) == (channel, poll, POLL_DAY)
    (reply,) = slack.ephemerals(people["ada"])
    assert (reply.via, reply.channel) == ("response_url", channel)
    assert "2nd: *Portfolios &amp; personal sites*" in reply.blocks[0]["text"]["text"]


def test_the_click_body_is_a_form_with_one_json_payload_in_slacks_shape(channel, poll, choose):
    delivery = choose(TOPICS[0])
    assert delivery.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert delivery.body.startswith(b"payload=%7B")
    payload = delivery.payload
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": poll,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    (action,) = payload["actions"]
    assert action["selected_option"] == {
        "text": {"type": "plain_text", "text": TOPICS[0], "emoji": True},
        "value": TOPICS[0],
    }
    assert action["block_id"] == "poll-w2-r1"
    assert (
        payload["state"]["values"]["poll-w2-r1"]["mixitup-poll:2027-01-13:w2:r1"]["selected_option"]["value"]
        == TOPICS[0]
    )
    assert payload["message"]["ts"] == poll and payload["message"]["blocks"][2]["accessory"]["options"]


def test_a_replayed_click_is_refused(receiver, choose):
    delivery = choose(TOPICS[0])
    again = requests.post(receiver.url, data=delivery.body, headers=delivery.headers, timeout=TIMEOUT)
    assert (delivery.status, again.status_code) == (200, 401)
    assert receiver.refusals == ["replayed"]
    assert len(receiver.picks) == 1


def test_a_click_replayed_after_five_minutes_is_stale(receiver, clock, choose):
    delivery = choose(TOPICS[0])
    clock.advance(minutes=6)
    requests.post(receiver.url, data=delivery.body, headers=delivery.headers, timeout=TIMEOUT)
    assert receiver.refusals == ["stale"]


def test_a_click_signed_with_another_secret_is_refused(slack, receiver, choose):
    slack.signing_secret = "someone-elses-secret"
    delivery = choose(TOPICS[0])
    assert delivery.status == 401 and receiver.refusals == ["signature"]


def test_clearing_a_menu_sends_a_null_option(receiver, choose):
    choose(None, rank=3)
    (pick,) = receiver.picks
    assert isinstance(pick, PollPick) and (pick.rank, pick.topic) == (3, None)


def test_a_link_button_click_is_ignored(slack, people, receiver, client):
    dm = client.send_dm(
        people["ada"],
        *_parts(
            kit.group_dm_message(
                POLL_DAY,
                2,
                kit.Group(1, "Open source", ["Grace Hopper"]),
                when="1:30 pm",
                join_url="https://zoom.test/j/1",
            )
        ),
    )
    delivery = slack.press(
        receiver.url, user=people["ada"], channel=dm.channel, ts=dm.ts, action_id="join-meeting"
    )
    assert delivery.status == 200
    assert isinstance(receiver.picks[0], Ignored)


def test_the_sandbox_delivers_only_what_slack_could(slack, receiver, choose):
    outsider = slack.add_user("outsider@example.org")
    with pytest.raises(SandboxError):
        choose("Not a topic")
    with pytest.raises(SandboxError):
        choose(TOPICS[0], user=outsider)
    with pytest.raises(SandboxError):
        choose(TOPICS[0], action_id="no-such-menu")
    assert receiver.picks == []


# -- contract: every call checked against Slack's Web API spec -------------------------------------


def test_every_call_the_client_makes_and_every_answer_are_valid_against_the_spec(
    slack_contract, clock, sleep
):
    with SlackSandbox(clock=clock, checker=slack_contract) as slack:
        ada = slack.add_user(ADA, "Ada Lovelace")
        channel = slack.add_channel("mix-it-up", members=[ada])
        private = slack.add_channel("reps", private=True, bot_member=False)
        client = SlackClient(slack.bot_token, base_url=slack.api_url, sleep=sleep, clock=clock)
        client.auth_test()
        client.channel_info(channel)
        posted = client.post_message(channel, *_parts(kit.poll_message(POLL_DAY, 2, TOPICS)))
        client.update_message(
            channel, posted.ts, *_parts(kit.closed_poll_message(POLL_DAY, 2, {}, respondents=0))
        )
        client.post_ephemeral(channel, ada, *_parts(kit.notice_message("The poll is closed.")))
        client.user_email(ada)
        client.lookup_user_by_email(ADA)
        client.send_dm(
            ada,
            *_parts(kit.group_dm_message(POLL_DAY, 2, kit.Group(1, "T", []), when="1:30 pm", join_url=None)),
        )
        for failing in (
            lambda: client.channel_info(private),
            lambda: client.post_message(private, "x"),
            lambda: client.update_message(channel, "1799000000.000009", "x"),
            lambda: client.user_email("U99999999"),
            lambda: client.open_dm("U99999999"),
        ):
            with pytest.raises(SlackAPIError):
                failing()
        assert client.lookup_user_by_email("nobody@example.org") is None
        slack.set_scopes(["chat:write"])
        with pytest.raises(SlackMissingScope):
            client.channel_info(channel)
        assert slack.violations == []
        methods = {call.method for call in slack.calls}
        assert methods == {
            "auth.test",
            "conversations.info",
            "chat.postMessage",
            "chat.update",
            "chat.postEphemeral",
            "users.info",
            "users.lookupByEmail",
            "conversations.open",
        }


def test_the_contract_catches_an_undocumented_argument_and_a_bad_answer(slack_contract, clock):
    with SlackSandbox(clock=clock, checker=slack_contract) as slack:
        channel = slack.add_channel("mix-it-up")
        answer = raw(slack, "chat.postMessage", channel=channel, txt="typo").json()
        assert answer["error"] == "invalid_arguments"
        assert slack.violations == [
            "chat.postMessage request: chat.postMessage: undocumented arguments ['txt']"
        ]
    with pytest.raises(AssertionError, match="does not match"):
        slack_contract.check_answer(
            "chat.postMessage", 200, {"ok": True, "channel": "general", "ts": "1", "message": {}}
        )
    with pytest.raises(AssertionError, match="not one Slack documents"):
        slack_contract.check_answer("users.info", 200, {"ok": False, "error": "made_up_error"})


def test_the_spec_file_is_slacks(slack_contract):
    assert slack_contract.spec["info"]["title"] == "Slack Web API"
    assert json.loads(Path(SPEC_PATH).read_text(encoding="utf-8"))["swagger"] == "2.0"
