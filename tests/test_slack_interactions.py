"""Inbound Slack requests: signature checks (signed here by hand) and interaction payload parsing."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.factories import utc
from zoom_homeroom.slack import Ignored, PollPick, SlackPayloadError, SlackSignatureError, parse_interaction
from zoom_homeroom.slack.verify import verify_request

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = utc("2027-01-12 17:00")


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def form(payload: Any) -> bytes:
    """A body as Slack sends it: `payload=` and the URL-encoded JSON."""
    return ("payload=" + quote(json.dumps(payload))).encode("ascii")


def signed(body: bytes, *, at: dt.datetime = NOW, secret: str = SECRET) -> dict[str, str]:
    """Slack's signature, computed here: v0= + HMAC-SHA256 of `v0:{ts}:{body}`."""
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


class Seen:
    """The replay memory a storage table will hold: key -> kept until."""

    def __init__(self) -> None:
        self.keys: dict[str, dt.datetime] = {}

    def __call__(self, key: str, keep_until: dt.datetime) -> bool:
        if key in self.keys:
            return True
        self.keys[key] = keep_until
        return False


# -- signatures ------------------------------------------------------------------------------------


def test_slacks_documented_example_verifies():
    # The worked example in Slack's "Verifying requests from Slack" guide.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    at = dt.datetime.fromtimestamp(1531420618 + 30, dt.UTC)
    verify_request(body, headers, SECRET, now=at, seen_before=Seen())


def test_a_fresh_signed_request_passes_and_is_remembered_for_the_window():
    body = form(fixture("block_actions_poll_pick"))
    seen = Seen()
    verify_request(body, signed(body), SECRET, now=NOW + dt.timedelta(seconds=2), seen_before=seen)
    ((key, keep_until),) = seen.keys.items()
    assert key == signed(body)["X-Slack-Signature"]
    assert keep_until == NOW + dt.timedelta(minutes=5)


def test_header_names_are_read_in_any_case():
    body = form({"type": "block_actions"})
    headers = {name.lower(): value for name, value in signed(body).items()}
    verify_request(body, headers, SECRET, now=NOW, seen_before=Seen())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda body, headers: (body, {}), "missing"),
        (
            lambda body, headers: (body, {"X-Slack-Request-Timestamp": headers["X-Slack-Request-Timestamp"]}),
            "missing",
        ),
        (lambda body, headers: (body, {**headers, "X-Slack-Signature": "v1=abc"}), "malformed"),
        (lambda body, headers: (body, {**headers, "X-Slack-Request-Timestamp": "12e9"}), "malformed"),
        (lambda body, headers: (body, {**headers, "X-Slack-Request-Timestamp": "9" * 40}), "malformed"),
        (lambda body, headers: (body + b"x", headers), "signature"),
        (lambda body, headers: (body, signed(body, secret="another-secret")), "signature"),
        (lambda body, headers: (b"\xff" + body, signed(b"\xff" + body)), "signature"),
    ],
    ids=[
        "no-headers",
        "no-signature",
        "bad-scheme",
        "bad-timestamp",
        "huge-timestamp",
        "tampered",
        "wrong-secret",
        "not-utf8",
    ],
)
def test_bad_signatures_are_refused_with_their_reason(change, reason):
    body = form(fixture("block_actions_poll_pick"))
    body, headers = change(body, signed(body))
    seen = Seen()
    with pytest.raises(SlackSignatureError) as caught:
        verify_request(body, headers, SECRET, now=NOW, seen_before=seen)
    assert caught.value.reason == reason
    assert seen.keys == {}  # nothing unverified is remembered


@pytest.mark.parametrize("offset", [dt.timedelta(minutes=5, seconds=1), -dt.timedelta(minutes=5, seconds=1)])
def test_a_request_outside_five_minutes_is_stale(offset):
    body = form(fixture("block_actions_poll_pick"))
    with pytest.raises(SlackSignatureError) as caught:
        verify_request(body, signed(body, at=NOW), SECRET, now=NOW + offset, seen_before=Seen())
    assert caught.value.reason == "stale"


def test_a_request_just_inside_five_minutes_passes():
    body = form(fixture("block_actions_poll_pick"))
    verify_request(body, signed(body), SECRET, now=NOW + dt.timedelta(minutes=5), seen_before=Seen())


def test_the_same_request_twice_is_a_replay():
    body = form(fixture("block_actions_poll_pick"))
    seen = Seen()
    verify_request(body, signed(body), SECRET, now=NOW, seen_before=seen)
    with pytest.raises(SlackSignatureError) as caught:
        verify_request(body, signed(body), SECRET, now=NOW + dt.timedelta(seconds=40), seen_before=seen)
    assert caught.value.reason == "replayed"


def test_error_messages_carry_no_secret_or_body():
    body = form(fixture("block_actions_poll_pick"))
    with pytest.raises(SlackSignatureError) as caught:
        verify_request(body, signed(body, secret="x"), SECRET, now=NOW, seen_before=Seen())
    assert SECRET not in str(caught.value) and "U04ADA12345" not in str(caught.value)


# -- parsing ---------------------------------------------------------------------------------------


def test_a_poll_pick_is_read_from_a_real_shaped_payload():
    pick = parse_interaction(form(fixture("block_actions_poll_pick")))
    assert pick == PollPick(
        user_id="U04ADA12345",
        team_id="T04SCHOOL01",
        poll_date=dt.date(2027, 1, 13),
        week=2,
        rank=1,
        topic="Portfolios & personal sites",
        channel_id="C04MIXITUP1",
        message_ts="1799337600.001200",
        response_url="https://hooks.slack.com/actions/T04SCHOOL01/4711337600123/Zr3mPq8sTx2VbN6yKc1LdF0w",
    )


def test_a_form_encoded_with_plus_for_spaces_reads_the_same():
    payload = fixture("block_actions_poll_pick")
    body = urlencode({"payload": json.dumps(payload)}).encode("ascii")  # quote_plus: spaces as "+"
    assert isinstance(parse_interaction(body), PollPick)
    assert parse_interaction(body).topic == "Portfolios & personal sites"


def test_a_cleared_menu_is_a_pick_without_topic():
    payload = fixture("block_actions_poll_pick")
    payload["actions"][0]["selected_option"] = None
    pick = parse_interaction(form(payload))
    assert isinstance(pick, PollPick) and (pick.rank, pick.topic) == (1, None)


def test_an_org_wide_install_sends_no_team():
    payload = fixture("block_actions_poll_pick")
    payload["team"] = None
    assert parse_interaction(form(payload)).team_id is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [("block_actions_join_button", "'join-meeting'"), ("view_submission", "'view_submission'")],
)
def test_other_interactions_are_ignored(name, reason):
    result = parse_interaction(form(fixture(name)))
    assert isinstance(result, Ignored) and reason in result.reason


def _set(path: str, value: Any):
    """A change to the pick fixture: `value` at a dotted path ("actions.0.action_id")."""

    def change(payload: dict[str, Any]) -> dict[str, Any]:
        target: Any = payload
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return payload

    return change


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set("actions", []), "actions"),
        (_set("actions", "x"), "actions"),
        (lambda p: {**p, "actions": p["actions"] * 2}, "actions"),
        (_set("actions.0.action_id", "mixitup-poll:2027-13-40:w2:r1"), "date"),
        (_set("actions.0.action_id", "mixitup-poll:2027-01-13:w2:r0"), "rank"),
        (_set("actions.0.action_id", "mixitup-poll:2027-01-13:w2"), "poll menu"),
        (_set("actions.0.type", "button"), "static_select"),
        (_set("actions.0.selected_option", "Portfolios"), "selected_option"),
        (_set("actions.0.selected_option", {"value": "x" * 151}), "longer than 150"),
        (_set("actions.0.selected_option", {"value": "   "}), "empty"),
        (_set("user", {"id": "<!channel>"}), "user.id"),
        (_set("user", None), "user"),
        (_set("team", "T04SCHOOL01"), "team"),
        (_set("container.type", "view"), "container"),
        (_set("container.channel_id", "#mix-it-up"), "container.channel_id"),
        (_set("container.message_ts", "yesterday"), "container.message_ts"),
        (_set("channel.id", "C04OTHER001"), "channel.id differs"),
        (_set("message.ts", "1799337600.009999"), "message.ts differs"),
        (_set("response_url", "javascript:alert(1)"), "response_url"),
        (_set("response_url", "https://" + "x" * 2000), "response_url"),
    ],
)
def test_malformed_payloads_are_refused_with_the_field_named(change, reason):
    payload = change(copy.deepcopy(fixture("block_actions_poll_pick")))
    with pytest.raises(SlackPayloadError) as caught:
        parse_interaction(form(payload))
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "no single payload"),
        (b"payload", "not a form"),
        (b"\xff\xfe", "not a form"),
        (b"other=1", "no single payload"),
        (b"payload=1&payload=2", "no single payload"),
        (b"payload=%7Bnot%20json", "not JSON"),
        (b"payload=%5B1%2C2%5D", "not a JSON object"),
        (b"payload=" + b"%5B" * 100_000, "not JSON"),
        (b"a=1&" * 20 + b"payload=%7B%7D", "not a form"),
    ],
    ids=[
        "empty",
        "no-equals",
        "binary",
        "no-payload",
        "two-payloads",
        "bad-json",
        "array",
        "deep",
        "many-fields",
    ],
)
def test_unreadable_bodies_are_refused(body, reason):
    with pytest.raises(SlackPayloadError) as caught:
        parse_interaction(body)
    assert reason in str(caught.value)


def test_an_oversized_body_is_refused_before_it_is_read():
    with pytest.raises(SlackPayloadError) as caught:
        parse_interaction(b"payload=" + b"a" * (1024 * 1024))
    assert "larger than" in str(caught.value)
