"""Verifying that an inbound request is Slack's, recent, and not a replay. Pure but for `seen_before`.

Slack signs every request to the app: `X-Slack-Signature` is `v0=` + hex HMAC-SHA256 of
`v0:{X-Slack-Request-Timestamp}:{raw body}` keyed with the app's signing secret, and a request more
than five minutes from our clock is refused (docs.slack.dev/authentication/verifying-requests-from-slack).
The HMAC itself is slack-sdk's `SignatureVerifier`, given our `now`.

Within those five minutes a captured request could be sent again. Slack does not resend
interactions (it shows the user an error instead), so a signature seen twice is a replay and is
refused. The memory of signatures is the caller's: `seen_before(key, keep_until)` records `key`
until `keep_until` and says whether it was already recorded, atomically (a storage table shared
by every web worker; an insert that fails on the primary key means "seen").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

from slack_sdk.signature import Clock, SignatureVerifier

from .errors import SlackSignatureError

SIGNATURE_WINDOW = dt.timedelta(minutes=5)  # SignatureVerifier's own, and Slack's documented window
TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"

SeenBefore = Callable[[str, dt.datetime], bool]

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")


class _FixedClock(Clock):
    """The SDK's clock interface, answering the caller's `now`."""

    def __init__(self, now: dt.datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        return self._now


def verify_request(
    body: bytes,
    headers: Mapping[str, str],
    signing_secret: str,
    *,
    now: dt.datetime,
    seen_before: SeenBefore,
) -> None:
    """Return if `body` was signed by Slack within the window and not seen before; else raise.

    Raises SlackSignatureError with `.reason` "missing" (no signature headers), "malformed",
    "stale" (outside the five-minute window), "signature" (wrong HMAC) or "replayed".
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER)
    signature = lowered.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise SlackSignatureError("missing", "the request carries no Slack signature")
    timestamp, signature = timestamp.strip(), signature.strip()
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        raise SlackSignatureError("malformed", "the Slack signature headers are malformed")
    sent_at = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    if abs(now - sent_at) > SIGNATURE_WINDOW:
        raise SlackSignatureError("stale", "the Slack request timestamp is outside the five-minute window")
    if not _signed(body, timestamp, signature, signing_secret, now):
        raise SlackSignatureError("signature", "the Slack signature does not match the body")
    if seen_before(signature, sent_at + SIGNATURE_WINDOW):
        raise SlackSignatureError("replayed", "this Slack request was already received")


def _signed(body: bytes, timestamp: str, signature: str, secret: str, now: dt.datetime) -> bool:
    try:
        text = body.decode("utf-8")  # the SDK decodes too, and would raise on bad bytes
    except UnicodeDecodeError:
        return False
    return SignatureVerifier(secret, clock=_FixedClock(now)).is_valid(text, timestamp, signature)
