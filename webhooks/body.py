"""The body of a request, read whole or refused: signed machine requests (Zoom's webhooks, Slack's
interactions) and, through `read_whole`, the dashboard's chunked ones.

Both views need the exact bytes that were signed, and a limit that can never cut a body short:
werkzeug's own limit (`max_content_length`) hands back a chunked body truncated at the limit instead
of refusing it, which would turn an oversized delivery into a bad signature instead of a 413.
"""

from __future__ import annotations

from typing import BinaryIO

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge


def read_body(limit: int) -> bytes:
    """The request body, at most `limit` bytes, with or without a Content-Length; larger: 413."""
    length = request.content_length
    if length is not None and length > limit:
        raise RequestEntityTooLarge()  # before anything is read
    environ = request.environ
    if "wsgi.input_terminated" not in environ:  # a server that does not end the stream itself
        request.max_content_length = limit
        return request.get_data(cache=False)
    # The server ends the stream at the body's end (gunicorn always, werkzeug's for chunked bodies), so
    # it is read directly: this also saves werkzeug's Python-level read loop on every delivery.
    return read_whole(environ["wsgi.input"], length, limit)


def read_whole(stream: BinaryIO, length: int | None, limit: int) -> bytes:
    """A body from a stream the server ends at the body's end: `length` bytes, or (chunked, no length)
    all of it, reading one byte past `limit` at most; RequestEntityTooLarge when it is larger."""
    chunks, size = [], 0
    wanted = length if length is not None else limit + 1
    while size < wanted and (chunk := stream.read(wanted - size)):
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)
