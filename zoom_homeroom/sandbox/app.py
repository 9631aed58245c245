"""The sandbox's Flask app: Zoom's OAuth and REST endpoints, plus the `/_sandbox/...` control API.

Every `/v2` call needs a live bearer token carrying the endpoint's classic scope. Queued faults
strike before anything else, as a failing gateway would. Control calls are not logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from ..core.times import to_utc_text
from . import ids
from .errors import ApiError, SandboxError, meeting_not_found
from .faults import DAILY_LIMIT, DROP, SLOW, Fault
from .registrants import Registrant, requires_registration
from .serving import close_connection
from .simulation import Instance, Participant
from .state import SandboxState

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox/"
# Zoom's rate-limit answers, from its "Rate limits" page: the per-second one, and the account-wide daily
# limit, sent with `X-RateLimit-Type: Daily-limit` and `Retry-After` as an ISO 8601 time (a rate-limit
# reference with captured headers shows "Retry-After: 2025-01-20T00:00:00Z").
PER_SECOND_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
ACCOUNT_DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)


class _UuidConverter(BaseConverter):
    """A path segment that may contain `/`: a UUID a client failed to double-encode."""

    regex = ".+?"
    part_isolating = False


def build_app(sandbox: SandboxState) -> Flask:
    """The WSGI app serving `sandbox`."""
    app = Flask(__name__)
    # Zoom's UUIDs may start with "//" once decoded: never merge or redirect such paths.
    app.url_map.merge_slashes = False
    app.url_map.converters["uuid_ref"] = _UuidConverter
    _register_hooks(app, sandbox)
    _register_oauth(app, sandbox)
    _register_api(app, sandbox)
    _register_control(app, sandbox)
    return app


# -- hooks, errors -----------------------------------------------------------------------------


def _register_hooks(app: Flask, sandbox: SandboxState) -> None:
    @app.before_request
    def strike_fault_then_authenticate() -> ResponseReturnValue | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        fault = sandbox.faults.take(request.method, request.path)
        if fault is not None and fault.status == SLOW:
            sandbox.sleep(fault.delay)  # then answer normally: the request still takes effect
        elif fault is not None and fault.status == DROP:
            # Logged before the socket closes: the client may look at the log the moment it fails.
            sandbox.record_call(request.method, request.path, 0)
            return _drop_connection()
        elif fault is not None:
            return _fault_response(sandbox, fault)
        if request.path.startswith("/v2/"):
            g.scopes = _authenticate(sandbox)
            if not sandbox.use_account_quota():
                return _account_daily_limit(sandbox, None)
        return None

    @app.after_request
    def log_call(response: Response) -> Response:
        if not request.path.startswith(CONTROL_PREFIX) and not g.get("dropped"):
            body = request.get_json(silent=True) if request.path.startswith("/v2/") else None
            sandbox.record_call(request.method, request.path, response.status_code, body)
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> tuple[Response, int, dict[str, str]]:
        return jsonify(error.body()), error.status, error.headers

    @app.errorhandler(SandboxError)
    def sandbox_error(error: SandboxError) -> tuple[Response, int]:
        return jsonify({"code": 300, "message": str(error)}), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        message = "No API endpoint matches this path." if error.code == 404 else error.description
        return jsonify({"code": error.code, "message": message}), error.code or 500

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("sandbox error on %s %s", request.method, request.path)
        return jsonify({"code": 500, "message": f"Sandbox internal error: {type(error).__name__}"}), 500


def _drop_connection() -> Response:
    """Close the socket without an answer; werkzeug then fails quietly to write the response."""
    g.dropped = True
    close_connection()
    return Response(b"", status=500)


def _fault_response(sandbox: SandboxState, fault: Fault) -> tuple[Response, int, dict[str, str]]:
    if fault.status == DAILY_LIMIT:
        return _account_daily_limit(sandbox, fault.retry_after)
    if fault.status == 429:
        headers = {"X-RateLimit-Type": "QPS"}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        return jsonify({"code": 429, "message": PER_SECOND_MESSAGE}), 429, headers
    status = int(fault.status)
    return jsonify({"code": status, "message": "Internal error. Please try again later."}), status, {}


def _account_daily_limit(
    sandbox: SandboxState, retry_after: int | str | None
) -> tuple[Response, int, dict[str, str]]:
    """The account-wide daily limit: `Retry-After` is the next 00:00 UTC as ISO 8601 unless a fault says."""
    if retry_after is None:
        today = sandbox.clock().astimezone(dt.UTC).date()
        retry_after = to_utc_text(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    headers = {
        "X-RateLimit-Type": "Daily-limit",
        "X-RateLimit-Category": "Heavy",
        "Retry-After": str(retry_after),
    }
    return jsonify({"code": 429, "message": ACCOUNT_DAILY_MESSAGE}), 429, headers


def _authenticate(sandbox: SandboxState) -> frozenset[str]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    with sandbox.lock:
        scopes = sandbox.tokens.scopes(token.strip(), sandbox.clock()) if scheme.lower() == "bearer" else None
    if scopes is None:
        raise ApiError(401, 124, "Invalid access token.")
    return scopes


def _require(scope: str) -> None:
    if scope not in g.scopes:
        raise ApiError(400, 4711, f"Invalid access token, does not contain scopes:[{scope}].")


def _json_body() -> Any:
    raw = request.get_data()
    if not raw.strip():
        return {}
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise ApiError(400, 300, "Request Body should be a valid JSON object.")
    return body


# -- OAuth -------------------------------------------------------------------------------------


def _register_oauth(app: Flask, sandbox: SandboxState) -> None:
    @app.post("/oauth/token")
    def token() -> tuple[Response, int]:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (sandbox.client_id, sandbox.client_secret):
            return jsonify({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}), 401
        # Zoom documents form fields; older clients send them in the query string, which it took too.
        grant = request.values.get("grant_type", "")
        if not grant:
            return jsonify({"reason": "Missing grant type", "error": "invalid_request"}), 400
        if grant != "account_credentials":
            return jsonify({"reason": "unsupported grant type", "error": "unsupported_grant_type"}), 400
        if request.values.get("account_id", "") != sandbox.account_id:
            return jsonify({"reason": "Invalid account_id", "error": "invalid_request"}), 400
        with sandbox.lock:
            issued = sandbox.tokens.issue(sandbox.clock(), sandbox.scopes)
        body = {
            "access_token": issued,
            "token_type": "bearer",
            "expires_in": int(sandbox.tokens.ttl.total_seconds()),
            "scope": " ".join(sandbox.scopes),
            "api_url": request.host_url.rstrip("/"),
        }
        return jsonify(body), 200


# -- the Zoom API ------------------------------------------------------------------------------


def _register_api(app: Flask, sandbox: SandboxState) -> None:
    @app.get("/v2/users/<user_ref>")
    def get_user(user_ref: str) -> Response:
        _require("user:read:admin")
        with sandbox.lock:
            return jsonify(sandbox.users.get(user_ref))

    @app.post("/v2/users/<user_ref>/meetings")
    def create_meeting(user_ref: str) -> tuple[Response, int]:
        _require("meeting:write:admin")
        body = _json_body()
        with sandbox.lock:
            now = sandbox.clock()
            meeting = sandbox.book.create(sandbox.users.get(user_ref), body, now)
            created = meeting.to_json(now)
            if requires_registration(meeting):
                # The create answer's `registration_url` (the spec: "only returned for meetings that
                # have enabled registration"); the page asks for a name and an email.
                created["registration_url"] = (
                    f"{sandbox.book.base_url}/meeting/register/{ids.secret_text('register', meeting.id)}"
                )
            return jsonify(created), 201

    @app.get("/v2/users/<user_ref>/meetings")
    def list_meetings(user_ref: str) -> Response:
        _require("meeting:read:admin")
        with sandbox.lock:
            now = sandbox.clock()
            host = sandbox.users.get(user_ref)
            kind = request.args.get("type", "scheduled")
            meetings = [m.list_item(now) for m in sandbox.book.for_host(host["id"], kind, now)]
            page, fields = sandbox.pager.page(f"meetings:{host['id']}:{kind}", meetings, request.args)
            return jsonify({**fields, "meetings": page})

    @app.get("/v2/meetings/<meeting_ref>")
    def get_meeting(meeting_ref: str) -> Response:
        _require("meeting:read:admin")
        previous = request.args.get("show_previous_occurrences", "").lower() == "true"
        with sandbox.lock:
            meeting = sandbox.book.get(meeting_ref)
            occurrence = request.args.get("occurrence_id") or None
            return jsonify(meeting.to_json(sandbox.clock(), occurrence=occurrence, previous=previous))

    @app.patch("/v2/meetings/<meeting_ref>")
    def update_meeting(meeting_ref: str) -> tuple[str, int]:
        _require("meeting:write:admin")
        body = _json_body()
        with sandbox.lock:
            occurrence = request.args.get("occurrence_id") or None
            sandbox.book.update(meeting_ref, body, sandbox.clock(), occurrence)
        return "", 204

    @app.delete("/v2/meetings/<meeting_ref>")
    def delete_meeting(meeting_ref: str) -> tuple[str, int]:
        _require("meeting:write:admin")
        sandbox.delete_meeting(meeting_ref, request.args.get("occurrence_id") or None)
        return "", 204

    @app.post("/v2/meetings/<meeting_ref>/registrants")
    def add_registrant(meeting_ref: str) -> tuple[Response, int]:
        _require("meeting:write:admin")
        body = _json_body()
        with sandbox.lock:
            meeting, now = sandbox.book.get(meeting_ref), sandbox.clock()
            registrant = sandbox.registrations.add(meeting, body, now)
            return jsonify(registrant.created(sandbox.book.base_url, meeting)), 201

    @app.post("/v2/meetings/<meeting_ref>/batch_registrants")
    def add_batch_registrants(meeting_ref: str) -> tuple[Response, int]:
        _require("meeting:write:admin")
        body = _json_body()
        with sandbox.lock:
            meeting, now = sandbox.book.get(meeting_ref), sandbox.clock()
            added = sandbox.registrations.add_batch(meeting, body, now)
            base = sandbox.book.base_url
            entries = [_batch_entry(registrant, base) for registrant in added]
            return jsonify({"registrants": entries}), 201

    @app.get("/v2/meetings/<meeting_ref>/registrants")
    def list_registrants(meeting_ref: str) -> Response:
        _require("meeting:read:admin")
        status = request.args.get("status", "approved")
        with sandbox.lock:
            meeting = sandbox.book.get(meeting_ref)
            listed = sandbox.registrations.listing(meeting, status, sandbox.clock())
            items = [registrant.listed(sandbox.book.base_url) for registrant in listed]
            page, fields = sandbox.pager.page(f"registrants:{meeting.id}:{status}", items, request.args)
            return jsonify({**fields, "registrants": page})

    @app.put("/v2/meetings/<meeting_ref>/registrants/status")
    def registrant_status(meeting_ref: str) -> tuple[str, int]:
        _require("meeting:write:admin")
        body = _json_body()
        with sandbox.lock:
            sandbox.registrations.update_status(sandbox.book.get(meeting_ref), body, sandbox.clock())
        return "", 204

    @app.get("/v2/past_meetings/<meeting_ref>/instances")
    def past_instances(meeting_ref: str) -> Response:
        _require("meeting:read:admin")
        with sandbox.lock:
            if not meeting_ref.isdigit():
                raise meeting_not_found(meeting_ref)
            number = int(meeting_ref)
            if not sandbox.book.exists(number) and not sandbox.simulation.has_history(number):
                raise meeting_not_found(meeting_ref)
            ended = sandbox.simulation.ended(number)
            return jsonify({"meetings": [_instance_item(instance) for instance in ended]})

    @app.get("/v2/past_meetings/<uuid_ref:meeting_ref>/participants")
    def past_participants(meeting_ref: str) -> Response:
        _require("meeting:read:admin")
        with sandbox.lock:
            instance = _ended_instance(sandbox, meeting_ref, meeting_not_found)
            rows = instance.past_rows()
            page, fields = sandbox.pager.page(f"past:{instance.uuid}", rows, request.args)
            return jsonify({**fields, "participants": page})

    @app.get("/v2/report/meetings/<uuid_ref:meeting_ref>/participants")
    def report_participants(meeting_ref: str) -> Response:
        _require("report:read:admin")
        with sandbox.lock:
            if not sandbox.reports_available:
                raise ApiError(400, 200, f"Only available for Paid or ZMP account: {sandbox.account_id}.")
            instance = _ended_instance(sandbox, meeting_ref, _report_not_found)
            keep_registrant = request.args.get("include_fields") == "registrant_id"
            rows = [_report_row(row, keep_registrant) for row in instance.report_rows(sandbox.clock())]
            page, fields = sandbox.pager.page(f"report:{instance.uuid}", rows, request.args)
            return jsonify({**fields, "participants": page})


def _batch_entry(registrant: Registrant, base_url: str) -> dict[str, str]:
    entry = {"email": registrant.email, "registrant_id": registrant.id}
    if registrant.status == "approved":
        entry["join_url"] = registrant.join_url(base_url)
    return entry


def _instance_item(instance: Instance) -> dict[str, str]:
    return {"uuid": instance.uuid, "start_time": to_utc_text(instance.start_time)}


def _report_row(row: dict[str, Any], keep_registrant: bool) -> dict[str, Any]:
    if not keep_registrant:
        del row["registrant_id"]
    return row


def _report_not_found(ref: object) -> ApiError:
    return ApiError(404, 3001, f"Meeting {ref} not found or has expired.")


def _ended_instance(sandbox: SandboxState, raw_ref: str, not_found: Callable[[object], ApiError]) -> Instance:
    """A numeric id means its latest ended instance; anything else is an instance UUID.

    The path arrives decoded once. As on Zoom, a UUID that starts with `/` or contains `//` must be
    double-encoded: encoded once it cannot be routed. A single `/` inside encodes fine once. A
    double-encoded UUID is decoded again until it no longer changes.
    """
    if raw_ref.startswith("/") or "//" in raw_ref:
        raise not_found(raw_ref)
    ref = raw_ref
    while (decoded := unquote(ref)) != ref:
        ref = decoded
    if ref.isdigit():
        ended = sandbox.simulation.ended(int(ref))
        if not ended:
            raise not_found(ref)
        return ended[-1]
    instance = sandbox.simulation.ended_instance(ref)
    if instance is None:
        raise not_found(ref)
    return instance


# -- control API -------------------------------------------------------------------------------


def _register_control(app: Flask, sandbox: SandboxState) -> None:
    @app.get("/_sandbox/state")
    def state() -> Response:
        return jsonify(sandbox.state())

    @app.post("/_sandbox/users")
    def add_user() -> tuple[Response, int]:
        body = _control_body()
        options = {key: body[key] for key in ("type", "status", "timezone") if key in body}
        return jsonify(sandbox.add_user(str(body.get("email", "")), **options)), 201

    @app.post("/_sandbox/faults")
    def faults() -> tuple[Response, int]:
        body = _control_body()
        action = body.pop("action", "add")
        if action == "add":
            try:
                fault = sandbox.faults.add(**body)
            except (TypeError, ValueError) as error:
                raise SandboxError(f"fault: {error}") from None
            return jsonify(fault.to_json()), 201
        _CONTROL_ACTIONS.get(action, _unknown_action)(sandbox, body)
        return jsonify({"done": action}), 200

    @app.post("/_sandbox/simulate")
    def simulate() -> tuple[Response, int]:
        body = _control_body()
        return jsonify(_simulate(sandbox, body)), 200


def _control_body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise SandboxError("send a JSON object")
    return body


def _unknown_action(sandbox: SandboxState, body: dict[str, Any]) -> None:
    raise SandboxError(f"unknown action; use add, {', '.join(_CONTROL_ACTIONS)}")


_CONTROL_ACTIONS: dict[str, Callable[[SandboxState, dict[str, Any]], None]] = {
    "clear": lambda sandbox, body: sandbox.faults.clear(),
    "invalidate_tokens": lambda sandbox, body: sandbox.invalidate_tokens(),
    "delete_meeting": lambda sandbox, body: sandbox.delete_meeting_behind_your_back(
        body.get("meeting_id", "")
    ),
    "edit_rooms": lambda sandbox, body: sandbox.edit_rooms_by_hand(
        body.get("meeting_id", ""), body.get("rooms")
    ),
}


_SIMULATE_ACTIONS = "start, join, leave, join_breakout, leave_breakout, open_rooms, close_rooms, rename, end or process_reports"


def _simulate(sandbox: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_sandbox/simulate: {action, meeting_id, at, participant?, room?, how?, name?, deliver?,
    duplicate?}; actions as the Python API's methods of the same names (start/end: the instance)."""
    action = body.get("action")
    meeting_id = body.get("meeting_id", "")
    if action == "process_reports":
        sandbox.process_reports(meeting_id)
        return {"done": action}
    at = _control_time(body.get("at"))
    options = {key: body[key] for key in ("deliver", "duplicate") if key in body}
    meeting_actions = {
        "start": lambda: {"uuid": sandbox.start_instance(meeting_id, at, **options)},
        "end": lambda: {"status": sandbox.end_instance(meeting_id, at, **options)},
        "open_rooms": lambda: {"status": sandbox.open_rooms(meeting_id, at, **options)},
        "close_rooms": lambda: {"status": sandbox.close_rooms(meeting_id, at, **options)},
    }
    if action in meeting_actions:
        return meeting_actions[action]()
    if action not in ("join", "leave", "join_breakout", "leave_breakout", "rename"):
        raise SandboxError(f"action must be {_SIMULATE_ACTIONS}")
    person = _control_participant(body.get("participant"))
    if action == "join":
        return {"status": sandbox.join(meeting_id, person, at, **options)}
    if action == "leave":
        return {"status": sandbox.leave(meeting_id, person, at, str(body.get("how", "left")), **options)}
    if action == "rename":
        sandbox.rename(meeting_id, person, str(body.get("name", "")), at)
        return {"done": action}
    method = sandbox.join_breakout if action == "join_breakout" else sandbox.leave_breakout
    return {"status": method(meeting_id, person, str(body.get("room", "")), at, **options)}


def _control_time(value: object) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SandboxError(f"at: {value!r} is not an ISO date-time with a time zone") from None
    if moment.tzinfo is None:
        raise SandboxError(f"at: {value!r} has no time zone")
    return moment.astimezone(dt.UTC)


def _control_participant(value: object) -> Participant:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise SandboxError(
            "participant must be an object with a name (and optionally email, zoom_user_id, in_account, "
            "web_client, join_url)"
        )
    return Participant(
        value["name"],
        str(value.get("email", "")),
        str(value.get("zoom_user_id", "")),
        in_account=value.get("in_account") is True,
        web_client=value.get("web_client") is True,
        join_url=str(value.get("join_url", "")),
    )
