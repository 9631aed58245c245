"""Errors of the sandbox: what it answers over HTTP, and what it raises at a test's Python call."""

from __future__ import annotations

from typing import Any


class SandboxError(ValueError):
    """A misuse of the sandbox's Python API (unknown meeting, no live instance, not started...)."""


class ApiError(Exception):
    """An error answer in Zoom's shape: HTTP status plus `{"code": n, "message": "..."}`."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def validation_failed(field: str, message: str) -> ApiError:
    """Zoom's 400 for an invalid request field: code 300, "Validation Failed.", and the field."""
    return ApiError(400, 300, "Validation Failed.", errors=[{"field": field, "message": message}])


def meeting_not_found(ref: object) -> ApiError:
    return ApiError(404, 3001, f"Meeting does not exist: {ref}.")


def user_not_found(ref: str) -> ApiError:
    return ApiError(404, 1001, f"User does not exist: {ref}.")
