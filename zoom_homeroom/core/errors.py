"""The base of every error a person can fix. It lives in `core` so that core's own errors can derive
from it without core importing anything outside core; `zoom_homeroom.errors` re-exports it.
"""

from __future__ import annotations

from collections.abc import Sequence


class HomeroomError(Exception):
    """Something a person can fix, said in `problems` (one line each, naming file, line or field).

    The CLI prints the lines and exits 1; the web answers `http_status` with them.
    """

    http_status = 400

    def __init__(self, problems: str | Sequence[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))

    @property
    def headline(self) -> str | None:
        """What several problems add up to ("configuration problems"); None: the problems say it all."""
        return None if len(self.problems) == 1 else f"{len(self.problems)} problems"

    def lines(self) -> list[str]:
        """The error as a person reads it: one line, or a headline over the indented problems."""
        if self.headline is None:
            return list(self.problems)
        return [f"{self.headline}:", *(f"  {problem}" for problem in self.problems)]


class NotFoundError(HomeroomError):
    """What was asked for does not exist (a Mix It Up week, its groups): the web answers 404."""

    http_status = 404
