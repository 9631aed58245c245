"""CSV and table renderings shared by the CLI and the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core.text import printable

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection): the ASCII signs,
# tab and carriage return (OWASP's list), and the full-width and small forms of the signs, which some
# spreadsheets fold to ASCII before they look.
_FORMULA_STARTS = (
    "=", "+", "-", "@", "\t", "\r",
    "\uff1d", "\uff0b", "\uff0d", "\uff20",  # ＝ ＋ － ＠ (full width)
    "\ufe66", "\ufe62", "\ufe63", "\ufe6b",  # ﹦ ﹢ ﹣ ﹫ (small)
)  # fmt: skip


def safe_cell(value: Any) -> str:
    """The value as CSV text, with a leading quote on anything a spreadsheet would evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, int | float):
        return text  # numbers (even negative ones) are data, not formulas
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(rows: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([safe_cell(row.get(name)) for name in fields])
    return out.getvalue()


def table_text(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> str:
    """A plain aligned text table for terminals: whitespace in a cell collapsed, control characters
    (escape sequences, carriage returns) shown escaped."""
    cells = [[_plain(row.get(name)) for name in fields] for row in rows]
    widths = [max([len(name)] + [len(line[i]) for line in cells]) for i, name in enumerate(fields)]
    lines = ["  ".join(name.ljust(widths[i]) for i, name in enumerate(fields)).rstrip()]
    lines += ["  ".join(value.ljust(widths[i]) for i, value in enumerate(line)).rstrip() for line in cells]
    return "\n".join(lines)


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return printable(" ".join(str(value).split()))
