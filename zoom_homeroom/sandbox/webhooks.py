"""Signed webhook deliveries, as Zoom makes them.

Each POST carries `x-zm-request-timestamp` (seconds, the sender's clock) and `x-zm-signature`:
`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` keyed with the app's secret token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import requests

from ..clock import Clock, utc_now

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 3.0  # Zoom waits three seconds for an answer


class WebhookSender:
    """POSTs Zoom-shaped event bodies to one endpoint, signed with `secret`."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        clock: Clock | None = None,
        session: requests.Session | None = None,
    ):
        self.url = url
        self._secret = secret.encode("utf-8")
        self._clock = clock or utc_now
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"WebhookSender({self.url!r})"

    def signed_headers(self, raw: bytes) -> dict[str, str]:
        """The headers Zoom sends with `raw`, signed at the sender's current time."""
        timestamp = str(int(self._clock().timestamp()))
        digest = hmac.new(self._secret, f"v0:{timestamp}:".encode() + raw, hashlib.sha256).hexdigest()
        return {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Zoom Marketplace/1.0a",
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": f"v0={digest}",
            "x-zm-request-id": str(uuid.uuid4()).replace("-", "_"),
        }

    def post(self, body: Mapping[str, Any]) -> requests.Response:
        """Deliver one body; raises requests.RequestException when the endpoint cannot be reached."""
        raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return self._session.post(
            self.url, data=raw, headers=self.signed_headers(raw), timeout=DELIVERY_TIMEOUT_SECONDS
        )

    def send(self, body: Mapping[str, Any], *, copies: int = 1) -> int | None:
        """Deliver `body` (`copies` times, byte for byte) and return the last HTTP status.

        None when the endpoint could not be reached; Zoom would retry later, the sandbox does not.
        """
        raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = self.signed_headers(raw)
        status = None
        for _ in range(copies):
            try:
                response = self._session.post(
                    self.url, data=raw, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS
                )
            except requests.RequestException as error:
                log.warning(
                    "webhook %s to %s not delivered: %s", body.get("event"), self.url, type(error).__name__
                )
                return None
            status = response.status_code
        return status

    def send_url_validation(self, plain_token: str) -> requests.Response:
        """Send Zoom's `endpoint.url_validation` challenge; the answer should hold `encryptedToken`."""
        body = {
            "payload": {"plainToken": plain_token},
            "event_ts": int(self._clock().timestamp() * 1000),
            "event": "endpoint.url_validation",
        }
        return self.post(body)
