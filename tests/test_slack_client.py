"""SlackClient against a scripted Slack: requests sent, answers read, errors mapped, retries, cache."""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Iterator

import pytest

from tests.conftest import FakeClock, FakeSleep
from tests.slack_http import Answer, ScriptedSlack
from zoom_homeroom.slack import (
    SlackAPIError,
    SlackAuthError,
    SlackChannelNotFound,
    SlackClient,
    SlackConnectionError,
    SlackMessageNotFound,
    SlackMissingScope,
    SlackNotInChannel,
    SlackPayloadError,
    SlackRateLimited,
    SlackServerError,
    SlackUserNotFound,
)

TOKEN = "xoxb-1111-2222-unit-test-secret"
SCOPES = "chat:write,im:write,users:read,users:read.email"
POSTED = {
    "ok": True,
    "channel": "C0123456789",
    "ts": "1799000000.000100",
    "message": {"type": "message", "text": "hi", "ts": "1799000000.000100"},
}


@pytest.fixture
def slack() -> Iterator[ScriptedSlack]:
    server = ScriptedSlack()
    yield server
    server.close()


@pytest.fixture
def client(slack: ScriptedSlack, sleep: FakeSleep, clock: FakeClock) -> SlackClient:
    return SlackClient(TOKEN, base_url=slack.api_url, sleep=sleep, clock=clock, rng=random.Random(7))


def test_auth_test_reads_the_identity_and_the_granted_scopes(slack, client):
    slack.add(
        "auth.test",
        body={
            "ok": True,
            "url": "https://school.slack.com/",
            "team": "School",
            "user": "homeroom",
            "team_id": "T0123456789",
            "user_id": "U0BOT000001",
            "bot_id": "B0123456789",
        },
        headers={"x-oauth-scopes": "chat:write, users:read,im:write"},
    )
    identity = client.auth_test()
    assert (identity.team_id, identity.team, identity.bot_user_id, identity.bot_id) == (
        "T0123456789",
        "School",
        "U0BOT000001",
        "B0123456789",
    )
    assert identity.scopes == {"chat:write", "users:read", "im:write"}
    (request,) = slack.seen("auth.test")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    slack.assert_done()


def test_post_message_sends_channel_text_and_blocks_as_json(slack, client):
    slack.add("chat.postMessage", body=POSTED)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    posted = client.post_message("C0123456789", "hi", blocks)
    assert (posted.channel, posted.ts) == ("C0123456789", "1799000000.000100")
    (request,) = slack.seen("chat.postMessage")
    assert request.content_type == "application/json"
    assert request.json() == {"channel": "C0123456789", "text": "hi", "blocks": blocks}


def test_a_message_without_blocks_sends_no_blocks_argument(slack, client):
    slack.add("chat.postMessage", body=POSTED)
    client.post_message("C0123456789", "plain")
    assert slack.seen("chat.postMessage")[0].json() == {"channel": "C0123456789", "text": "plain"}


def test_a_429_is_waited_out_with_the_injected_sleep_then_the_call_succeeds(slack, client, sleep):
    slack.add(
        "chat.postMessage",
        status=429,
        body={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "7"},
    )
    slack.add("chat.postMessage", body=POSTED)
    assert client.post_message("C0123456789", "hi").ts == "1799000000.000100"
    assert sleep.calls == [7.0]
    assert len(slack.seen("chat.postMessage")) == 2
    slack.assert_done()


def test_rate_limits_beyond_the_retries_raise_rate_limited_with_the_wait(slack, client, sleep):
    for _ in range(4):
        slack.add(
            "users.info", status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "3"}
        )
    with pytest.raises(SlackRateLimited) as caught:
        client.user_email("U0123456789")
    assert caught.value.retry_after == 3.0
    assert sleep.calls == [3.0, 3.0, 3.0]
    slack.assert_done()


def test_a_429_without_retry_after_waits_one_second(slack, client, sleep):
    slack.add("auth.test", status=429, body={"ok": False, "error": "ratelimited"})
    slack.add(
        "auth.test", body={"ok": True, "url": "u", "team": "t", "user": "b", "team_id": "T1", "user_id": "U1"}
    )
    client.auth_test()
    assert sleep.calls == [1.0]


def test_a_long_retry_after_is_not_slept_through(slack, client, sleep):
    slack.add(
        "chat.update", status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "120"}
    )
    with pytest.raises(SlackRateLimited) as caught:
        client.update_message("C0123456789", "1799000000.000100", "x")
    assert (caught.value.retry_after, sleep.calls) == (120.0, [])
    assert "retry after 120 s" in str(caught.value)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("not_in_channel", SlackNotInChannel),
        ("channel_not_found", SlackChannelNotFound),
        ("is_archived", SlackAPIError),
        ("invalid_auth", SlackAuthError),
        ("token_revoked", SlackAuthError),
        ("account_inactive", SlackAuthError),
        ("fatal_error", SlackServerError),
    ],
)
def test_slack_errors_become_typed_errors(slack, client, error, kind):
    slack.add("chat.postMessage", body={"ok": False, "error": error})
    with pytest.raises(kind) as caught:
        client.post_message("C0123456789", "hi")
    assert type(caught.value) is kind
    assert (caught.value.error, caught.value.method) == (error, "chat.postMessage")
    assert str(caught.value).startswith(f"Slack chat.postMessage failed: {error}")


def test_missing_scope_names_what_is_needed_and_what_the_app_has(slack, client):
    slack.add(
        "conversations.info",
        body={
            "ok": False,
            "error": "missing_scope",
            "needed": "channels:read",
            "provided": "chat:write,im:write",
        },
    )
    with pytest.raises(SlackMissingScope) as caught:
        client.channel_info("C0123456789")
    assert (caught.value.needed, caught.value.provided) == ("channels:read", "chat:write,im:write")
    assert "add the bot scope channels:read" in str(caught.value)


def test_message_not_found_on_update(slack, client):
    slack.add("chat.update", body={"ok": False, "error": "message_not_found"})
    with pytest.raises(SlackMessageNotFound):
        client.update_message("C0123456789", "1799000000.000100", "x")


def test_a_server_error_page_is_a_server_error_without_the_page(slack, client):
    slack.add("auth.test", status=503, body=b"<html><h1>Service Unavailable</h1></html>")
    with pytest.raises(SlackServerError) as caught:
        client.auth_test()
    assert caught.value.status == 503
    assert caught.value.error == "unexpected_response"
    assert "<html" not in str(caught.value)


def test_lookup_by_email_returns_none_for_someone_slack_does_not_know(slack, client):
    slack.add("users.lookupByEmail", body={"ok": False, "error": "users_not_found"})
    slack.add("users.lookupByEmail", body={"ok": True, "user": {"id": "U0GRACE0001", "deleted": False}})
    assert client.lookup_user_by_email("nobody@students.example.org") is None
    assert client.lookup_user_by_email("grace@students.example.org") == "U0GRACE0001"
    assert slack.seen("users.lookupByEmail")[1].body == b"email=grace%40students.example.org"


def test_lookup_by_email_treats_a_deactivated_member_as_unknown(slack, client):
    slack.add("users.lookupByEmail", body={"ok": True, "user": {"id": "U0GONE00001", "deleted": True}})
    assert client.lookup_user_by_email("gone@students.example.org") is None


def test_user_email_is_cached_until_its_ttl_passes(slack, client, clock):
    user = {"ok": True, "user": {"id": "U0ADA000001", "profile": {"email": "Ada@Students.example.org"}}}
    slack.add("users.info", body=user, headers={"x-oauth-scopes": SCOPES})
    slack.add("users.info", body=user, headers={"x-oauth-scopes": SCOPES})
    assert client.user_email("U0ADA000001") == "Ada@Students.example.org"
    clock.advance(minutes=14)
    assert client.user_email("U0ADA000001") == "Ada@Students.example.org"
    assert len(slack.seen("users.info")) == 1
    clock.advance(minutes=2)
    client.user_email("U0ADA000001")
    assert len(slack.seen("users.info")) == 2
    assert slack.seen("users.info")[0].body == b"user=U0ADA000001"


def test_user_email_without_the_email_scope_is_a_missing_scope_error_not_a_stranger(slack, client):
    slack.add(
        "users.info",
        body={"ok": True, "user": {"id": "U0ADA000001", "profile": {"real_name": "Ada"}}},
        headers={"x-oauth-scopes": "chat:write,users:read"},
    )
    with pytest.raises(SlackMissingScope) as caught:
        client.user_email("U0ADA000001")
    assert caught.value.needed == "users:read.email"


def test_user_email_of_a_profile_without_email_is_none(slack, client):
    slack.add(
        "users.info",
        body={"ok": True, "user": {"id": "U0BOT000002", "profile": {"real_name": "A bot"}}},
        headers={"x-oauth-scopes": SCOPES},
    )
    assert client.user_email("U0BOT000002") is None


def test_unknown_user_raises_user_not_found(slack, client):
    slack.add("users.info", body={"ok": False, "error": "user_not_found"})
    with pytest.raises(SlackUserNotFound):
        client.user_email("U0NOBODY001")


def test_send_dm_opens_the_conversation_then_posts_in_it(slack, client):
    slack.add("conversations.open", body={"ok": True, "channel": {"id": "D0123456789"}})
    slack.add("chat.postMessage", body={**POSTED, "channel": "D0123456789"})
    assert client.send_dm("U0ADA000001", "your group").channel == "D0123456789"
    assert slack.seen("conversations.open")[0].body == b"users=U0ADA000001"
    assert slack.seen("chat.postMessage")[0].json()["channel"] == "D0123456789"


def test_a_post_whose_answer_is_lost_is_not_repeated(slack, client, sleep):
    slack.add("chat.postMessage", Answer(close=True))
    with pytest.raises(SlackConnectionError) as caught:
        client.post_message("C0123456789", "hi")
    assert caught.value.unanswered is True
    assert len(slack.seen("chat.postMessage")) == 1
    assert sleep.calls == []


def test_a_read_whose_answer_is_lost_is_retried(slack, client, sleep):
    slack.add("conversations.info", Answer(close=True))
    slack.add(
        "conversations.info",
        body={"ok": True, "channel": {"id": "C0123456789", "name": "mix-it-up", "is_member": True}},
    )
    info = client.channel_info("C0123456789")
    assert (info.name, info.is_member, info.is_private) == ("mix-it-up", True, False)
    assert len(sleep.calls) == 1 and 0 <= sleep.calls[0] <= 0.5


def test_a_refused_connection_is_retried_even_for_a_post_then_reported(sleep, clock):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SlackClient(TOKEN, base_url=f"http://127.0.0.1:{port}/api/", sleep=sleep, clock=clock)
    with pytest.raises(SlackConnectionError) as caught:
        client.post_message("C0123456789", "hi")
    assert caught.value.unanswered is False
    assert len(sleep.calls) == 3
    assert "could not connect" in str(caught.value)


def test_the_token_never_appears_in_errors_reprs_or_logs(slack, client, caplog):
    caplog.set_level(logging.DEBUG)
    slack.add("auth.test", body={"ok": False, "error": "invalid_auth"})
    slack.add("chat.postMessage", Answer(close=True))
    with pytest.raises(SlackAuthError) as auth_error:
        client.auth_test()
    with pytest.raises(SlackConnectionError) as lost:
        client.post_message("C0123456789", "hi")
    for text in (str(auth_error.value), repr(auth_error.value), str(lost.value), repr(client), caplog.text):
        assert TOKEN not in text
    assert "1111-2222" not in caplog.text


def test_reply_posts_an_ephemeral_answer_to_the_response_url(slack, sleep, clock):
    client = SlackClient(
        TOKEN, base_url=slack.api_url, hooks_url=slack.url + "/hooks/", sleep=sleep, clock=clock
    )
    slack.add("/hooks/actions/T1/1/abc", body={"ok": True})
    client.reply(slack.url + "/hooks/actions/T1/1/abc", "Saved", [{"type": "divider"}])
    (request,) = slack.seen("/hooks/actions/T1/1/abc")
    assert request.json() == {
        "text": "Saved",
        "response_type": "ephemeral",
        "replace_original": False,
        "blocks": [{"type": "divider"}],
    }
    assert "Authorization" not in request.headers  # a response_url needs no token: none is sent


def test_reply_reports_an_expired_response_url(slack, sleep, clock):
    client = SlackClient(TOKEN, base_url=slack.api_url, sleep=sleep, clock=clock)
    slack.add("/hooks/actions/T1/2/def", status=404, body={"ok": False, "error": "expired_url"})
    with pytest.raises(SlackAPIError) as caught:
        client.reply(slack.url + "/hooks/actions/T1/2/def", "Saved")
    assert (caught.value.method, caught.value.error, caught.value.status) == (
        "response_url",
        "expired_url",
        404,
    )


def test_reply_refuses_a_response_url_outside_slack(slack, client):
    with pytest.raises(SlackPayloadError):
        client.reply("https://attacker.example.com/hooks/x", "Saved")
    assert slack.requests == []


def test_the_real_clients_reply_only_to_slack_hooks():
    assert SlackClient(TOKEN).hooks_url == "https://hooks.slack.com/"
    assert SlackClient(TOKEN, base_url="http://127.0.0.1:9/api/").hooks_url == "http://127.0.0.1:9/"
