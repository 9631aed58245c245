"""The Slack sandbox's WSGI app: `/api/<method>` (the Web API) and `/hooks/...` (response URLs).

Web API calls are answered as Slack answers them: HTTP 200 with `{"ok": false, "error": ...}` for
every API error, 429 for rate limits, and on every answer `x-oauth-scopes` (the token's scopes)
and `x-accepted-oauth-scopes` (the method's). Arguments come from the query string and from a
form or, for the methods that take one, a JSON body (the token then only in `Authorization`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request

from ..serving import close_connection
from .blockkit import parse_blocks
from .faults import DROP, LOST
from .methods import METHODS, Call
from .state import SlackState
from .workspace import Ephemeral, SlackApiFailure

log = logging.getLogger(__name__)

HOOKS_PREFIX = "/hooks/"
MAX_BODY_BYTES = 1024 * 1024
_ERROR_PAGE = b"<html><body><h1>Server Error</h1><p>Slack is having trouble.</p></body></html>"


def build_app(sandbox: SlackState) -> Flask:
    """The WSGI app serving `sandbox`."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.route("/api/<method>", methods=["GET", "POST"])
    def web_api(method: str) -> Response:
        return _web_api(sandbox, method)

    @app.post("/hooks/<path:path>")
    def response_url(path: str) -> Response:
        return _response_url(sandbox, path)

    @app.after_request
    def lose_answer(response: Response) -> Response:
        if g.get("lose_answer"):
            close_connection()
        return response

    return app


def _web_api(sandbox: SlackState, method: str) -> Response:
    spec = METHODS.get(method)
    if spec is None:
        return _json({"ok": False, "error": "unknown_method"}, 404)
    fault = sandbox.faults.take(method)
    if fault is not None and fault.kind == DROP:
        sandbox.record(method, {}, 0, None)
        return _dropped()
    if fault is not None and fault.kind != LOST:
        sandbox.record(method, {}, int(fault.kind), None)
        return _fault(int(fault.kind), fault.retry_after)
    json_body = request.mimetype == "application/json"
    try:
        args = _arguments(json_body, spec.json_body)
        scopes = sandbox.authenticate(_token(args, json_body))
    except SlackApiFailure as failure:
        sandbox.record(method, {}, failure.status, failure.body())
        return _json(failure.body(), failure.status)
    args.pop("token", None)
    headers = {
        "x-oauth-scopes": ",".join(sorted(scopes)),
        "x-accepted-oauth-scopes": ",".join(spec.accepted_scopes),
    }
    violation = sandbox.check_arguments(method, args, json_body)
    with sandbox.lock:
        try:
            if violation is not None:
                raise SlackApiFailure(
                    "invalid_arguments", extra={"response_metadata": {"messages": [f"[ERROR] {violation}"]}}
                )
            body, status = spec.handler(sandbox.workspace, Call(args, scopes, sandbox.clock())), 200
        except SlackApiFailure as failure:
            body, status = failure.body(), failure.status
            headers.update(failure.headers)
    sandbox.check_answer(method, status, body)
    sandbox.record(method, args, status, body)
    if fault is not None:  # LOST: done, but the answer never arrives
        g.lose_answer = True
    return _json(body, status, headers)


def _response_url(sandbox: SlackState, path: str) -> Response:
    fault = sandbox.faults.take("response_url")
    if fault is not None and fault.kind == DROP:
        return _dropped()
    if fault is not None and fault.kind != LOST:
        return _fault(int(fault.kind), fault.retry_after)
    body = request.get_json(silent=True)
    with sandbox.lock:
        try:
            if not isinstance(body, Mapping):
                raise SlackApiFailure("invalid_payload", status=400)
            hook = sandbox.workspace.use_hook(path, sandbox.clock())
            _answer_interaction(sandbox, hook.user, hook.channel, hook.message_ts, body)
        except SlackApiFailure as failure:
            sandbox.record("response_url", dict(body or {}), failure.status, failure.body())
            return _json(failure.body(), failure.status)
    sandbox.record("response_url", dict(body), 200, {"ok": True})
    if fault is not None:
        g.lose_answer = True
    return _json({"ok": True}, 200)


def _answer_interaction(
    sandbox: SlackState, user: str, channel: str, ts: str, body: Mapping[str, Any]
) -> None:
    """Apply a response_url post: an ephemeral reply, a new message, or a change to the original.

    Without `response_type` and `replace_original` the sandbox replaces the original message, the
    reading of Slack's docs that does the most damage: a reply must say what it is.
    """
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    blocks = parse_blocks(body.get("blocks"))
    if not text and not blocks and not body.get("delete_original"):
        raise SlackApiFailure("no_text", status=400)
    workspace = sandbox.workspace
    original = workspace.messages.get((channel, ts))
    if body.get("delete_original") is True:
        workspace.messages.pop((channel, ts), None)
    elif body.get("response_type") == "ephemeral" and body.get("replace_original") is not True:
        workspace.ephemerals.append(Ephemeral("response_url", channel, user, text, tuple(blocks)))
    elif body.get("replace_original") is False:
        workspace.post(workspace.channel(channel), text, blocks, sandbox.clock())
    elif original is not None:
        original.replace(text, workspace.named(blocks))


def _arguments(json_body: bool, accepts_json: bool) -> dict[str, Any]:
    """Query and body arguments; a JSON body only for methods that read one."""
    args: dict[str, Any] = {key: value for key, value in request.args.items()}
    if json_body:
        data = request.get_json(silent=True)
        if not isinstance(data, Mapping):
            raise SlackApiFailure("invalid_json")
        if accepts_json:
            args.update(data)
    else:
        args.update(request.form.items())
    return args


def _token(args: Mapping[str, Any], json_body: bool) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    form_token = args.get("token")
    # A JSON body's token is ignored: Slack reads it only from the Authorization header.
    return form_token if isinstance(form_token, str) and not json_body else None


def _json(body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _fault(status: int, retry_after: int | None) -> Response:
    if status == 429:
        response = _json({"ok": False, "error": "ratelimited"}, 429)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response
    return Response(_ERROR_PAGE, status=status, mimetype="text/html")


def _dropped() -> Response:
    close_connection()
    return Response(b"", status=500)
