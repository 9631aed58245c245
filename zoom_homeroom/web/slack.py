"""POST /slack/interactions: Slack's requests for the app (students' clicks), verified, stored, answered.

Slack signs every request and waits three seconds for a 200. The view checks the signature (and that
the request is new) before reading anything, stores a poll pick durably, answers 200, and applies the
pick once the answer has gone (`services.slack.process_picks`, which may have to ask Slack who the
student is): the student is then told privately, through the click's `response_url`. Anything else
Slack sends (the join button in a DM also posts a click) is acknowledged and ignored.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from webhooks.body import read_body

from ..runtime import Runtime
from ..services import slack as slack_service
from ..slack import Ignored, SlackPayloadError, SlackSignatureError, parse_interaction, verify_request
from ..slack.interactions import MAX_BODY_BYTES
from .context import get_runtime

log = logging.getLogger(__name__)

bp = Blueprint("slack", __name__)


@bp.post("/interactions")
def interactions() -> Response | tuple[Response, int]:
    """Receive one interaction from Slack."""
    raw = read_body(MAX_BODY_BYTES)  # larger: 413, never a chunked body cut short
    runtime = get_runtime()
    secret = runtime.settings.slack_signing_secret
    if not secret:
        log.error("Slack interaction refused: SLACK_SIGNING_SECRET is not set")
        return _error(503, "the Slack signing secret is not configured")
    now, storage = runtime.now(), runtime.storage
    try:
        verify_request(
            raw,
            request.headers,
            secret,
            now=now,
            seen_before=lambda signature, keep_until: not storage.first_sight(signature, keep_until, now=now),
        )
    except SlackSignatureError as error:
        log.warning("Slack interaction refused (%s): %s", error.reason, error)
        return _error(401, "the request is not signed by Slack")
    try:
        interaction = parse_interaction(raw)
    except SlackPayloadError as error:
        log.warning("Slack interaction refused: %s", error)
        return _error(400, "the interaction cannot be read")
    if isinstance(interaction, Ignored):
        log.debug("Slack interaction ignored: %s", interaction.reason)
        return Response(status=200)
    slack_service.receive_pick(runtime, interaction)
    response = Response(status=200)
    response.call_on_close(lambda: _apply_picks(runtime))
    return response


def _apply_picks(runtime: Runtime) -> None:
    """After the answer has gone: apply the stored picks and answer the students. Nobody is left to
    tell about a failure but the log; the pick stays stored and the next run applies it."""
    try:
        slack_service.process_picks(runtime)
    except Exception:  # any failure: after the response, the log is the only place left to say it
        log.exception("Slack picks were stored but not applied; the next run applies them")
    finally:
        runtime.release_storage()


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status
