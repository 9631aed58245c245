"""Logging set-up with a filter that blanks secrets, wherever a message got them from.

Two kinds of secrets are blanked. Known values (the settings' secrets) are blanked wherever they
appear, and a secret URL (Slack's incoming webhook) also by its parts: HTTP libraries log the host and
the path apart (`"POST /services/T…/B…/… HTTP/1.1" 200`). Secrets of known shapes are blanked whatever
their value: Slack tokens (`xoxb-…`, `xapp-…`), Slack webhook paths, `Authorization` headers, a URL's
`user:password@`, and fields or query parameters named like secrets (`access_token=…`,
`"client_secret": "…"`, `X-Slack-Signature: …`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4
# A part of a secret URL shorter than this (a bare "/") says nothing and would blank ordinary text.
MIN_URL_PART_CHARS = 8

_SECRET_NAMES = (
    r"access_token|refresh_token|id_token|client_secret|signing_secret|secret_token|webhook_secret|"
    r"api_key|apikey|password|passwd|x-slack-signature|x-zm-signature|x-api-key|cookie|set-cookie"
)
# Each pattern's group "keep" stays; the rest of the match is the secret.
_SECRET_SHAPES = (
    re.compile(r"\b(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{6,}"),
    re.compile(r"(?P<keep>hooks\.slack(?:-gov)?\.com)/(?:services|workflows|triggers)/[^\s'\"<>)]+"),
    re.compile(r"/services/T[A-Z0-9]{4,}/B[A-Z0-9]{4,}/[A-Za-z0-9]+"),
    re.compile(
        r"(?i)(?P<keep>\bauthorization\b['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic|token)\s+)?)[^\s'\",;}]+"
    ),
    re.compile(r"(?P<keep>://)[^/\s:@'\"]+:[^/\s@'\"]+(?=@)"),
    re.compile(rf"(?i)(?P<keep>\b(?:{_SECRET_NAMES})['\"]?\s*[:=]\s*['\"]?)[^\s'\"&,;}}]+"),
)


def secret_parts(secret: str) -> list[str]:
    """The secret itself, and for a URL the parts that carry it: path, query and user info."""
    parts = [secret]
    url = urlsplit(secret)
    if url.scheme in ("http", "https") and url.netloc:
        path = url.path + (f"?{url.query}" if url.query else "")
        parts += [
            part
            for part in (path, url.path, url.query, url.password or "")
            if len(part) >= MIN_URL_PART_CHARS
        ]
    return [part for part in parts if len(part) >= MIN_SECRET_CHARS]


def redact(message: str, secrets: Iterable[str] = ()) -> str:
    """The message with every known secret value and every secret-shaped part blanked."""
    for secret in sorted(set(secrets), key=len, reverse=True):  # a whole URL before its path
        message = message.replace(secret, REDACTED)
    for shape in _SECRET_SHAPES:
        message = shape.sub(_blank, message)
    return message


def _blank(match: re.Match[str]) -> str:
    keep = match.groupdict().get("keep") or ""
    return keep + REDACTED


class RedactSecrets(logging.Filter):
    """Replaces every known secret and every secret-shaped part of a record's final message, and of
    its traceback."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Blank these secrets too (and the parts of a secret URL)."""
        known = set(self.secrets)
        for secret in secrets:
            known.update(secret_parts(secret))
        self.secrets = sorted(known)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def configure_logging(secrets: list[str], level: int = logging.INFO) -> None:
    """Log to stderr once per process; later calls only add secrets to the filter."""
    root = logging.getLogger()
    existing = next((f for h in root.handlers for f in h.filters if isinstance(f, RedactSecrets)), None)
    if existing is not None:
        existing.add(secrets)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    if root.level == logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(level)
