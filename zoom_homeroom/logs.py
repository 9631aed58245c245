"""Logging set-up with a filter that blanks secret values, wherever a message got them from."""

from __future__ import annotations

import logging

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replaces every known secret in a record's final message."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [secret for secret in secrets if len(secret) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = message
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, REDACTED)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(secrets: list[str], level: int = logging.INFO) -> None:
    """Log to stderr once per process; later calls only add secrets to the filter."""
    root = logging.getLogger()
    existing = next((f for h in root.handlers for f in h.filters if isinstance(f, RedactSecrets)), None)
    if existing is not None:
        existing.secrets = sorted(set(existing.secrets) | {s for s in secrets if len(s) >= 4})
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root.addHandler(handler)
    if root.level == logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(level)
