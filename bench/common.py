"""What the benchmark scripts share: SIGTERM taken as Ctrl-C, and aligned tables of figures."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so the script's finally blocks stop what it started and remove
    its temporary files."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def print_rows(rows: list[list[str]], *, text_columns: tuple[int, ...] = (0,)) -> None:
    """Aligned columns: text left, numbers right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = enumerate(zip(row, widths, strict=True))
        print(
            "  ".join(
                cell.ljust(w) if i in text_columns else cell.rjust(w) for i, (cell, w) in cells
            ).rstrip()
        )
