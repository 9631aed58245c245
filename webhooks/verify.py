"""Pure checks of Zoom's webhook signatures and the url_validation answer.

Zoom signs `v0:{x-zm-request-timestamp}:{raw body}` with the app's secret token (HMAC-SHA256) and sends
`v0=<hex>` in `x-zm-signature`. Zoom retries a failed delivery after 5, 20 and 60 minutes with a new
timestamp, so the replay window must be wider than that; exact replays of a stored delivery are no-ops
anyway, which is what makes a wide window safe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
# Clocks drift: a delivery stamped a little in the future is fine, an hour is not.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


class VerificationError(Exception):
    """The delivery is not provably from Zoom (answer 401). The message is safe to log."""


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + sign(secret, b"v0:" + timestamp.encode("ascii") + b":" + body)


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str,
    now: dt.datetime,
    window: dt.timedelta,
) -> int:
    """Check the signature (in constant time) and the timestamp; returns the timestamp in seconds.

    Raises VerificationError naming what is wrong, never the expected signature.
    """
    signature = headers.get(SIGNATURE_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise VerificationError(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise VerificationError(f"{TIMESTAMP_HEADER} is not a number of seconds")
    if not hmac.compare_digest(
        signature.encode("utf-8", "replace"), expected_signature(secret, timestamp, body).encode("ascii")
    ):
        raise VerificationError("signature does not match (wrong secret token or altered body)")
    # Compared as seconds: a datetime of a 12-digit timestamp would be past year 9999 and raise.
    sent, current = int(timestamp), now.timestamp()
    if sent < current - window.total_seconds():
        raise VerificationError(f"timestamp {timestamp} is older than the replay window ({window})")
    if sent > current + MAX_CLOCK_SKEW.total_seconds():
        raise VerificationError(f"timestamp {timestamp} is in the future")
    return sent


def url_validation_answer(plain_token: str, secret: str) -> dict[str, str]:
    """Zoom's endpoint check: echo the token with its HMAC-SHA256 under the secret token."""
    return {"plainToken": plain_token, "encryptedToken": sign(secret, plain_token.encode("utf-8"))}
