"""The `homeroom` command: the click group (`group.py`) with every area's commands, one module per area."""

from . import admin, attendance, demo, mixitup, registration, roster, sandbox, sessions, users  # noqa: F401  (registers their commands)
from .group import cli

__all__ = ["cli"]
