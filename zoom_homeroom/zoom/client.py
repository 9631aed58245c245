"""ZoomClient: the Meetings, Registrants, Reports and Users calls the service makes, with retries.

Every call goes through `requests` with a timeout and a bearer token from the auth object. 429, 5xx
and connection failures are retried with capped exponential backoff and full jitter, honouring
`Retry-After`; a 401 renews the token once. A meeting create is never repeated blindly: after a 5xx
or a lost connection the host's meetings are listed first, so a retry never makes a second meeting.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Collection, Iterator, Sequence
from typing import Any, Protocol
from urllib.parse import quote

import requests

from ..clock import Clock, Sleep, utc_now
from ..core.times import parse_utc_text
from .errors import (
    ZoomAccountDailyLimit,
    ZoomAnswer,
    ZoomAPIError,
    ZoomAuthError,
    ZoomConnectionError,
    ZoomDailyLimitExceeded,
    ZoomError,
    ZoomRateLimited,
    ZoomRegistrantDailyLimit,
    ZoomServerError,
    error_for_response,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 300
REGISTRANTS_PER_CALL = 30  # batch registration and status updates (the spec: at most 30)
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
# A longer Retry-After is not worth blocking a job for: the caller gets ZoomRateLimited instead.
MAX_RETRY_AFTER_SECONDS = 300.0

# Failures after which a request may or may not have taken effect on Zoom's side.
_AMBIGUOUS = (ZoomServerError, ZoomConnectionError)


class TokenSource(Protocol):
    """What the client needs from the auth object (`ZoomAuth`)."""

    def access_token(self) -> str: ...

    def renew(self, rejected: str | None = None) -> str: ...

    def granted_scopes(self) -> frozenset[str]: ...


class Backoff:
    """Capped exponential backoff with full jitter, shared by API calls and token fetches."""

    def __init__(self, *, max_retries: int, sleep: Sleep, rng: random.Random) -> None:
        self.max_retries = max_retries
        self.sleep = sleep
        self.rng = rng

    def pause(self, error: ZoomError, retries: int) -> None:
        """Sleep before retry number `retries + 1`, or raise `error` when it must not be retried."""
        if not _retryable(error) or retries >= self.max_retries:
            raise error
        retry_after = error.retry_after if isinstance(error, ZoomRateLimited) else None
        if retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS:
            raise error
        self.sleep(retry_after if retry_after is not None else self.delay(retries))

    def delay(self, retries: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**retries)]."""
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**retries)
        return self.rng.uniform(0.0, ceiling)


def _retryable(error: ZoomError) -> bool:
    if isinstance(error, ZoomDailyLimitExceeded | ZoomAccountDailyLimit | ZoomRegistrantDailyLimit):
        return False  # nothing changes before the limit resets (midnight UTC for the host's)
    return isinstance(error, ZoomRateLimited | ZoomServerError | ZoomConnectionError)


def connection_error(what: str, error: requests.RequestException) -> ZoomConnectionError:
    """A ZoomConnectionError for a requests failure, without the exception's long text."""
    unanswered = isinstance(error, requests.ReadTimeout)
    kind = "timed out" if isinstance(error, requests.Timeout) else "could not connect"
    return ZoomConnectionError(f"Zoom {kind} on {what} ({type(error).__name__})", unanswered=unanswered)


class ZoomClient:
    """The Zoom API calls the service makes. Methods raise ZoomError subclasses (see errors.py)."""

    def __init__(
        self,
        auth: TokenSource,
        *,
        base_url: str,
        timeout: float = 10.0,
        max_retries: int = 3,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._auth = auth
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._clock = clock or utc_now
        self._backoff = Backoff(max_retries=max_retries, sleep=sleep, rng=rng or random.Random())
        self._http = requests.Session()

    def __repr__(self) -> str:
        return f"ZoomClient(base_url={self._base_url!r})"

    # -- meetings -----------------------------------------------------------------------------

    def create_meeting(self, host: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /users/{host}/meetings; the created meeting.

        After a 5xx or a lost connection the host's meetings are searched for one with the same
        topic and start time: if Zoom made it after all, that meeting is returned instead of a
        second one being created. A create that timed out waiting for the answer is not repeated
        at all: Zoom may still be making it, so the list cannot tell yet. The error says so, and
        the next sync finds the meeting on the host's list.
        """
        path = f"/users/{_segment(host)}/meetings"
        retries = 0
        while True:
            try:
                response = self._request("POST", path, body=body, subject=host, retry_ambiguous=False)
                return _json(response)
            except ZoomConnectionError as error:
                if error.unanswered:
                    raise ZoomConnectionError(
                        f"{error} (the meeting may have been created: the next sync will find it)",
                        unanswered=True,
                    ) from None
                self._backoff.pause(error, retries)
                retries += 1
            except ZoomServerError as error:
                self._backoff.pause(error, retries)
                retries += 1
            existing = self.find_meeting(host, body)
            if existing is not None:
                log.info("zoom create on %s failed but meeting %s exists: using it", path, existing["id"])
                return self.get_meeting(existing["id"])

    def get_meeting(
        self,
        meeting_id: int | str,
        *,
        occurrence_id: str | None = None,
        show_previous_occurrences: bool = False,
    ) -> dict[str, Any]:
        """GET /meetings/{meetingId}."""
        params: dict[str, str] = {}
        if occurrence_id is not None:
            params["occurrence_id"] = occurrence_id
        if show_previous_occurrences:
            params["show_previous_occurrences"] = "true"
        return _json(self._request("GET", f"/meetings/{_segment(meeting_id)}", params=params))

    def update_meeting(
        self, meeting_id: int | str, body: dict[str, Any], *, occurrence_id: str | None = None
    ) -> None:
        """PATCH /meetings/{meetingId} (204).

        A daily-limit 429 raises ZoomDailyLimitExceeded whose `.host` is this meeting id: the
        PATCH URL does not name the host whose limit it counts against.
        """
        params = {"occurrence_id": occurrence_id} if occurrence_id is not None else None
        self._request(
            "PATCH", f"/meetings/{_segment(meeting_id)}", params=params, body=body, subject=str(meeting_id)
        )

    def delete_meeting(self, meeting_id: int | str, *, occurrence_id: str | None = None) -> None:
        """DELETE /meetings/{meetingId} (204), without Zoom's cancellation e-mails to the host."""
        params = {"schedule_for_reminder": "false"}
        if occurrence_id is not None:
            params["occurrence_id"] = occurrence_id
        self._request("DELETE", f"/meetings/{_segment(meeting_id)}", params=params)

    def iter_meetings(self, host: str, *, type: str = "scheduled") -> Iterator[dict[str, Any]]:
        """GET /users/{host}/meetings, every page."""
        return self._paginate(f"/users/{_segment(host)}/meetings", "meetings", {"type": type})

    def find_meeting(
        self, host: str, body: dict[str, Any], *, ignoring: Collection[str] = ()
    ) -> dict[str, Any] | None:
        """The host's listed meeting with this body's topic and start instant (one whose id is in
        `ignoring` does not count), or None: how a meeting created before a failure is found."""
        for meeting in self.iter_meetings(host):
            if str(meeting.get("id")) in ignoring or meeting.get("topic") != body.get("topic"):
                continue
            if _same_start(body, meeting):
                return meeting
        return None

    # -- registrants (Zoom registration: a personal join link per registrant) -------------------

    def add_registrant(self, meeting_id: int | str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /meetings/{meetingId}/registrants: the registration (`registrant_id`, `join_url`).

        Zoom answers a registration of an email already registered with the existing registration
        (a developer-forum report on the webinar twin of this call), so repeating it after a 5xx or a
        lost answer makes no second one; every call counts towards the email's 3 a day all the same.
        """
        return _json(self._request("POST", f"/meetings/{_segment(meeting_id)}/registrants", body=body))

    def add_batch_registrants(
        self, meeting_id: int | str, registrants: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """POST /meetings/{meetingId}/batch_registrants: at most 30, scheduled meetings (type 2) only;
        each answer entry has `email`, `registrant_id` and `join_url`."""
        _check_batch(registrants)
        path = f"/meetings/{_segment(meeting_id)}/batch_registrants"
        answer = _json(self._request("POST", path, body={"registrants": list(registrants)}))
        return list(answer.get("registrants") or [])

    def iter_registrants(
        self, meeting_id: int | str, *, status: str = "approved"
    ) -> Iterator[dict[str, Any]]:
        """GET /meetings/{meetingId}/registrants with this status, every page."""
        return self._paginate(
            f"/meetings/{_segment(meeting_id)}/registrants", "registrants", {"status": status}
        )

    def update_registrant_status(
        self, meeting_id: int | str, action: str, registrants: Sequence[dict[str, str]]
    ) -> None:
        """PUT /meetings/{meetingId}/registrants/status (204): approve, cancel or deny at most 30
        registrants, each `{id, email}`."""
        _check_batch(registrants)
        path = f"/meetings/{_segment(meeting_id)}/registrants/status"
        self._request("PUT", path, body={"action": action, "registrants": list(registrants)})

    # -- past meetings and reports ------------------------------------------------------------

    def list_past_instances(self, meeting_id: int | str) -> list[dict[str, Any]]:
        """GET /past_meetings/{meetingId}/instances: the ended instances (`uuid`, `start_time`)."""
        page = _json(self._request("GET", f"/past_meetings/{_segment(meeting_id)}/instances"))
        return list(page.get("meetings") or [])

    def iter_past_participants(self, meeting_uuid: str) -> Iterator[dict[str, Any]]:
        """GET /past_meetings/{meetingUUID}/participants, every page."""
        return self._paginate(f"/past_meetings/{_segment(meeting_uuid)}/participants", "participants")

    def iter_report_participants(self, meeting_uuid: str) -> Iterator[dict[str, Any]]:
        """GET /report/meetings/{meetingUUID}/participants, every page, with each row's `registrant_id`.

        The spec returns `registrant_id` only when asked (`include_fields=registrant_id`); asking is
        harmless for a meeting without registration (the field is then empty), so it is always asked.
        """
        path = f"/report/meetings/{_segment(meeting_uuid)}/participants"
        return self._paginate(path, "participants", {"include_fields": "registrant_id"})

    # -- users and scopes ---------------------------------------------------------------------

    def get_user(self, user_id: str) -> dict[str, Any]:
        """GET /users/{userId} (an id or an e-mail address)."""
        return _json(self._request("GET", f"/users/{_segment(user_id)}"))

    def granted_scopes(self) -> frozenset[str]:
        """The scopes of the current token (fetching one if needed)."""
        return self._auth.granted_scopes()

    # -- plumbing -----------------------------------------------------------------------------

    def _paginate(
        self, path: str, key: str, params: dict[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the `key` items of every page, following `next_page_token`."""
        query: dict[str, Any] = {**(params or {}), "page_size": PAGE_SIZE}
        while True:
            page = _json(self._request("GET", path, params=query))
            yield from page.get(key) or []
            token = page.get("next_page_token")
            if not token:
                return
            query = {**query, "next_page_token": token}

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        subject: str | None = None,
        retry_ambiguous: bool = True,
    ) -> requests.Response:
        """One API call with retries; the 2xx response, or the typed error.

        `subject` is what a daily-limit error names; `retry_ambiguous=False` raises 5xx and
        connection failures at once, for callers that must check before repeating.
        """
        retries = 0
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            token = self._auth.access_token()
            try:
                response = self._send(method, path, params, body, token)
            except (requests.ConnectionError, requests.Timeout) as exc:
                log.debug("zoom %s %s -> %s (attempt %d)", method, path, type(exc).__name__, attempt)
                error: ZoomError = connection_error(f"{method} {path}", exc)
            else:
                log.debug("zoom %s %s -> %d (attempt %d)", method, path, response.status_code, attempt)
                if response.status_code == 401:
                    if renewed:
                        raise _persistent_401(response, self._clock())
                    self._auth.renew(rejected=token)
                    renewed = True
                    continue
                if response.status_code < 400:
                    return response
                error = error_for_response(response, now=self._clock(), host=subject)
            if not retry_ambiguous and isinstance(error, _AMBIGUOUS):
                raise error
            self._backoff.pause(error, retries)
            retries += 1

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        token: str,
    ) -> requests.Response:
        return self._http.request(
            method,
            self._base_url + path,
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self._timeout,
        )


def _check_batch(registrants: Sequence[object]) -> None:
    if len(registrants) > REGISTRANTS_PER_CALL:
        raise ValueError(f"{len(registrants)} registrants in one call; Zoom takes {REGISTRANTS_PER_CALL}")


def _persistent_401(response: requests.Response, now: dt.datetime) -> ZoomAuthError:
    detail = error_for_response(response, now=now)
    return ZoomAuthError(
        f"{detail} (still refused after renewing the token: check that the Zoom app is "
        "activated and has the scopes `homeroom config check --zoom` lists)",
        status=401,
    )


def _json(response: requests.Response) -> dict[str, Any]:
    """The response's JSON object; an empty body (204) is an empty dict."""
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        answer = ZoomAnswer(
            response.status_code,
            None,
            "the answer is not a JSON object",
            response.url,
            response.request.method or "",
        )
        raise ZoomAPIError(answer)
    return body


def _segment(value: int | str) -> str:
    """A path segment. Zoom wants UUIDs that start with `/` or contain `//` encoded twice."""
    text = str(value)
    once = quote(text, safe="")
    if text.startswith("/") or "//" in text:
        return quote(once, safe="")
    return once


def _same_start(body: dict[str, Any], meeting: dict[str, Any]) -> bool:
    """Whether the request body and a listed meeting start at the same instant.

    Zoom lists `start_time` in UTC with `Z`; a body may carry local time plus `timezone`. A body
    without a zone is read in the listed meeting's zone, as Zoom reads it in the host's.
    """
    ours, theirs = body.get("start_time"), meeting.get("start_time")
    if not ours or not theirs:
        return not ours and not theirs
    zone = meeting.get("timezone") or "UTC"
    try:
        mine = parse_utc_text(str(ours), zone=body.get("timezone") or zone)
        listed = parse_utc_text(str(theirs), zone=zone)
    except ValueError:
        return False
    return mine == listed
