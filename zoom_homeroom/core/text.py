"""Text from and to people: files decoded as UTF-8 with the place of a bad byte, and text made safe to
print on a terminal. Pure."""

from __future__ import annotations

import codecs
import unicodedata

# Characters that move the cursor, reorder or hide text on a terminal, besides categories Cc and Cf.
_SEPARATORS = {"\u2028", "\u2029"}


class NotUtf8Error(ValueError):
    """A file is not UTF-8 text; `line` and `column` (from 1, in characters) say where."""

    def __init__(self, line: int, column: int):
        super().__init__(f"line {line}, column {column}: not UTF-8 text")
        self.line = line
        self.column = column


def decode_utf8(data: bytes) -> str:
    """The text of a UTF-8 file, a leading byte order mark dropped (as spreadsheets and Notepad write
    it). Raises NotUtf8Error at the first byte that is not UTF-8."""
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = body.rfind(b"\n", 0, error.start) + 1
        column = len(body[line_start : error.start].decode("utf-8", errors="replace")) + 1
        raise NotUtf8Error(body.count(b"\n", 0, error.start) + 1, column) from None


def printable(text: str) -> str:
    """Text safe to print on a terminal: control and format characters (escape sequences, carriage
    returns, newlines, bidi overrides, zero-width characters) shown as `\\x1b`, `\\r`, `\\u202e`."""
    if text.isprintable():
        return text
    return "".join(_printable_char(char) for char in text)


def _printable_char(char: str) -> str:
    if char == " " or not (unicodedata.category(char) in ("Cc", "Cf") or char in _SEPARATORS):
        return char
    return char.encode("unicode_escape").decode("ascii")
