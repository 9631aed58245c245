"""Server-to-Server OAuth: one cached access token per process, shared by every thread.

Zoom's `account_credentials` grant gives an hour-long token and no refresh token, and authlib only
renews refresh-token and `client_credentials` grants by itself, so this module renews it: shortly
before it expires, and on demand after a 401.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from ..clock import Clock, Sleep, utc_now
from .client import Backoff, connection_error
from .errors import ZoomAuthError, ZoomError, ZoomRateLimited, ZoomServerError, error_for_response

log = logging.getLogger(__name__)

GRANT_TYPE = "account_credentials"
# Renew this long before expiry, so a token never expires between check and use.
RENEW_MARGIN = dt.timedelta(seconds=60)
DEFAULT_EXPIRES_IN = 3600
REDACTED = "[redacted]"

_CREDENTIALS = "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"


@dataclass(frozen=True)
class AccessToken:
    """A granted token. The token value stays out of the repr."""

    value: str = field(repr=False)
    expires_at: dt.datetime
    scopes: frozenset[str]


class ZoomAuth:
    """Fetches, caches and renews the account's access token (thread-safe; one fetch at a time)."""

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        token_url: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._account_id = account_id
        self._client_id = client_id
        self._secret = client_secret
        self._token_url = token_url
        self._timeout = timeout
        self._clock = clock or utc_now
        self._backoff = Backoff(max_retries=max_retries, sleep=sleep, rng=rng or random.Random())
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._session = OAuth2Session(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method="client_secret_basic",
        )
        # Runs before authlib parses the answer: authlib would take a 429's JSON for a token.
        self._session.register_compliance_hook("access_token_response", self._check_response)

    def __repr__(self) -> str:
        return (
            f"ZoomAuth(account_id={self._account_id!r}, client_id={self._client_id!r}, "
            f"token_url={self._token_url!r})"
        )

    def access_token(self) -> str:
        """A token valid for at least another minute, fetched if needed.

        Raises ZoomAuthError (credentials refused) or ZoomConnectionError / ZoomAPIError after retries.
        """
        return self.current().value

    def current(self) -> AccessToken:
        """The cached token, renewed first when fewer than 60 s of it remain."""
        with self._lock:
            if self._token is None or self._token.expires_at - self._clock() < RENEW_MARGIN:
                self._token = self._fetch()
            return self._token

    def renew(self, rejected: str | None = None) -> str:
        """Force a new token (after a 401), unless another thread already replaced `rejected`."""
        with self._lock:
            if rejected is not None and self._token is not None and self._token.value != rejected:
                return self._token.value
            self._token = self._fetch()
            return self._token.value

    def granted_scopes(self) -> frozenset[str]:
        """The scopes Zoom granted (the token response's space-separated `scope`)."""
        return self.current().scopes

    def _fetch(self) -> AccessToken:
        retries = 0
        while True:
            try:
                raw = self._session.fetch_token(
                    self._token_url,
                    grant_type=GRANT_TYPE,
                    account_id=self._account_id,
                    timeout=self._timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                error: ZoomError = connection_error(f"the token endpoint {self._token_url}", exc)
            except (ZoomRateLimited, ZoomServerError) as exc:  # raised by _check_response
                error = exc
            except (OAuthError, ValueError) as exc:
                raise ZoomAuthError(
                    f"Zoom's token endpoint {self._token_url} gave no usable token "
                    f"({type(exc).__name__}); check ZOOM_OAUTH_TOKEN_URL"
                ) from None
            else:
                return self._parse(raw)
            self._backoff.pause(error, retries)
            retries += 1

    def _check_response(self, response: requests.Response) -> requests.Response:
        """Turn the token endpoint's failures into our errors before authlib reads the body."""
        status = response.status_code
        log.debug("zoom token request -> %d", status)
        if status == 200:
            return response
        if status == 429 or status >= 500:
            raise error_for_response(response, now=self._clock())
        raise ZoomAuthError(self._refusal(response), status=status)

    def _refusal(self, response: requests.Response) -> str:
        """One line: what Zoom said (`invalid_client: ...`) and which setting to check."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        error = str(body.get("error") or "")
        reason = str(body.get("reason") or body.get("error_description") or body.get("message") or "")
        said = ": ".join(part for part in (error, reason) if part) or response.reason or "no reason given"
        said = " ".join(said.split())
        if self._secret:
            said = said.replace(self._secret, REDACTED)
        return (
            f"Zoom's token endpoint refused the credentials ({response.status_code} {said}); "
            f"check {_what_to_check(response.status_code, error, reason)}"
        )

    def _parse(self, raw: dict[str, Any]) -> AccessToken:
        value = raw.get("access_token")
        if not isinstance(value, str) or not value:
            raise ZoomAuthError(
                f"Zoom's token endpoint {self._token_url} answered without an access_token; "
                "check ZOOM_OAUTH_TOKEN_URL"
            )
        expires_in = raw.get("expires_in")
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            expires_in = DEFAULT_EXPIRES_IN
        scopes = frozenset(str(raw.get("scope") or "").split())
        return AccessToken(value, self._clock() + dt.timedelta(seconds=expires_in), scopes)


def _what_to_check(status: int, error: str, reason: str) -> str:
    """The setting most likely wrong for this refusal."""
    if status == 404:
        return "ZOOM_OAUTH_TOKEN_URL (Zoom's is https://zoom.us/oauth/token)"
    if error == "invalid_client":
        return "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET (App Credentials of the Server-to-Server OAuth app)"
    if "account" in reason.lower():
        return "ZOOM_ACCOUNT_ID (App Credentials of the Server-to-Server OAuth app)"
    if error in ("unsupported_grant_type", "unauthorized_client"):
        return f"that the Marketplace app is an activated Server-to-Server OAuth app, and {_CREDENTIALS}"
    return _CREDENTIALS
