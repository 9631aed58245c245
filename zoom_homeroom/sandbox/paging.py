"""Zoom-style paging: `page_size` (default 30, at most 300) and an opaque `next_page_token`."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from . import ids
from .errors import validation_failed

DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 300


class Pager:
    """Hands out page tokens, each bound to the listing (`key`) it continues."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, int]] = {}

    def page(
        self, key: str, items: Sequence[Any], args: Mapping[str, str]
    ) -> tuple[list[Any], dict[str, Any]]:
        """One page of `items` and the paging fields of the answer. Raises ApiError for bad arguments."""
        size = page_size(args)
        offset = self._offset(key, args.get("next_page_token", ""))
        chunk = list(items[offset : offset + size])
        token = ""
        if offset + size < len(items):
            with self._lock:
                token = ids.secret_text("page", key, offset + size, len(self._tokens))
                self._tokens[token] = (key, offset + size)
        fields = {
            "page_size": size,
            "page_count": max(1, -(-len(items) // size)),
            "total_records": len(items),
            "next_page_token": token,
        }
        return chunk, fields

    def _offset(self, key: str, token: str) -> int:
        if not token:
            return 0
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[0] != key:
            raise validation_failed(
                "next_page_token", "Invalid next_page_token: not issued for this listing."
            )
        return entry[1]


def page_size(args: Mapping[str, str]) -> int:
    """The requested page size, clamped to Zoom's maximum of 300."""
    text = args.get("page_size", "")
    if not text:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(text)
    except ValueError:
        raise validation_failed("page_size", f"page_size must be an integer, not {text!r}.") from None
    if size < 1:
        raise validation_failed("page_size", "page_size must be at least 1.")
    return min(size, MAX_PAGE_SIZE)
