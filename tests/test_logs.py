"""Secrets never reach a log line: known values, the parts of a secret URL, and secret-shaped text
(issue 12, item 5)."""

from __future__ import annotations

import io
import logging

import pytest

from zoom_homeroom.logs import REDACTED, RedactSecrets

WEBHOOK = "https://hooks.slack.com/services/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"
WEBHOOK_PATH = "/services/T0A1B2C3D/B0E4F5G6H/q1w2e3r4t5y6u7i8o9p0a1s2"
BOT_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
CLIENT_SECRET = "zoom-client-secret-value-42"


@pytest.fixture
def logged():
    """A logger whose lines go through the redaction filter into a buffer; returns (logger, buffer)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactSecrets([WEBHOOK, CLIENT_SECRET]))
    logger = logging.getLogger("test_logs.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("args", "secret"),
    [
        pytest.param(("posting to %s", WEBHOOK), WEBHOOK, id="the whole webhook URL"),
        # urllib3 logs the host and the path apart: '%s://%s:%s "%s %s %s" %s %s'
        pytest.param(
            (
                '%s://%s:%s "%s %s %s" %s %s',
                "https",
                "hooks.slack.com",
                443,
                "POST",
                WEBHOOK_PATH,
                "HTTP/1.1",
                200,
                2,
            ),
            WEBHOOK_PATH,
            id="the webhook's path logged by urllib3",
        ),
        pytest.param(
            ("Sending a request - url: %s", "https://hooks.slack.com/services/TZZZZ9/BYYYY8/zzzzyyyyxxxx"),
            "/services/TZZZZ9/BYYYY8/zzzzyyyyxxxx",
            id="any Slack webhook, not only the configured one",
        ),
        pytest.param(("token %s used", BOT_TOKEN), BOT_TOKEN, id="a bot token"),
        pytest.param(("app token xapp-1-A0B1C2-333-abcdef",), "xapp-1-A0B1C2-333-abcdef", id="an app token"),
        pytest.param(
            ("headers: %s", {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "Accept": "json"}),
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
            id="an Authorization header in a dict",
        ),
        pytest.param(
            ("Authorization: Basic dXNlcjpwYXNzd29yZA==",), "dXNlcjpwYXNzd29yZA==", id="a Basic header"
        ),
        pytest.param(
            ('body: {"access_token": "eyJzdWIiOiIxMjMifQ", "expires_in": 3599}',),
            "eyJzdWIiOiIxMjMifQ",
            id="an OAuth token in JSON",
        ),
        pytest.param(
            ("POST https://zoom.us/oauth/token?grant_type=account_credentials&client_secret=s3cr3tvalue",),
            "s3cr3tvalue",
            id="a secret query parameter",
        ),
        pytest.param(
            ("connecting to https://admin:hunter2hunter2@db.example.org/x",),
            "hunter2hunter2",
            id="URL user info",
        ),
        pytest.param(
            ("X-Slack-Signature: v0=a2114d57b48eac39b9ad189",), "v0=a2114d57b48eac39b9ad189", id="signature"
        ),
        pytest.param(("secret is %r", CLIENT_SECRET), CLIENT_SECRET, id="a known value"),
    ],
)
def test_secrets_are_blanked(logged, args: tuple, secret: str):
    logger, buffer = logged
    logger.debug(*args)
    line = buffer.getvalue()
    assert secret not in line and REDACTED in line, line


def test_what_surrounds_a_secret_is_kept(logged):
    logger, buffer = logged
    logger.info(
        '%s://%s:%s "%s %s %s" %s', "https", "hooks.slack.com", 443, "POST", WEBHOOK_PATH, "HTTP/1.1", 200
    )
    assert buffer.getvalue() == f'https://hooks.slack.com:443 "POST {REDACTED} HTTP/1.1" 200\n'


def test_ordinary_lines_are_untouched(logged):
    logger, buffer = logged
    lines = [
        "Zoom answered 404 (code 3001) for meeting 85746065432",
        "GET /api/attendance?module=1&week=3 answered 200",
        "signed in: rep@school.example.org",
        "token 'reports' revoked",
    ]
    for line in lines:
        logger.info(line)
    assert buffer.getvalue().splitlines() == lines


def test_a_traceback_is_redacted_too(logged):
    logger, buffer = logged
    try:
        raise RuntimeError(f"could not post to {WEBHOOK}")
    except RuntimeError:
        logger.exception("Slack failed")
    assert WEBHOOK_PATH not in buffer.getvalue() and "RuntimeError" in buffer.getvalue()


def test_secrets_added_later_are_blanked_by_their_parts(logged):
    logger, buffer = logged
    handler = logger.handlers[0]
    (redaction,) = handler.filters
    redaction.add(["https://example.org/hooks/very-long-secret-path-123"])
    logger.info("GET /hooks/very-long-secret-path-123")
    assert "very-long-secret-path-123" not in buffer.getvalue()
