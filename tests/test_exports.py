"""CSV cells a spreadsheet would run as a formula are neutralised (issue 12, item 6)."""

from __future__ import annotations

import csv
import io

import pytest

from zoom_homeroom.services.exports import csv_text, safe_cell


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+1",
        "-1+2",
        "@SUM(A1)",
        "\t=1+1",
        "\r=1+1",
        '\uff1dHYPERLINK("http://x")',  # ＝
        "\uff0b1",  # ＋
        "\uff0d1",  # －
        "\uff20SUM(A1)",  # ＠
        "\ufe66cmd",  # ﹦ small equals
    ],
)
def test_a_cell_a_spreadsheet_would_evaluate_gets_a_leading_quote(text: str):
    assert safe_cell(text) == "'" + text
    (header, row) = list(csv.reader(io.StringIO(csv_text([{"name": text}], ["name"]), newline="")))
    assert header == ["name"] and row == ["'" + text]


@pytest.mark.parametrize(
    ("value", "cell"),
    [("Ada Lovelace", "Ada Lovelace"), ("a=b", "a=b"), (-3, "-3"), (2.5, "2.5"), (True, "true"), (None, "")],
)
def test_data_stays_as_it_is(value, cell: str):
    assert safe_cell(value) == cell
