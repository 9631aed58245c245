"""Validation of request and response bodies against Zoom's official Meetings OpenAPI spec.

The spec's schemas are inline (no $ref), OpenAPI 3.0 flavoured JSON Schema; openapi-schema-validator's
OAS30Validator understands `nullable`, `format` and friends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openapi_schema_validator import OAS30Validator


class ContractViolation(AssertionError):
    pass


@dataclass
class _Route:
    template: str
    pattern: re.Pattern[str]


@dataclass
class OpenAPIContract:
    spec: dict[str, Any]
    routes: list[_Route]

    @classmethod
    def load(cls, path: Path) -> OpenAPIContract:
        spec = json.loads(path.read_text(encoding="utf-8"))
        routes = []
        for template in spec["paths"]:
            regex = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
            routes.append(_Route(template, re.compile(f"^{regex}$")))
        # Literal segments win over parameters (/users/me/meetings before /users/{id}/...).
        routes.sort(key=lambda route: route.template.count("{"))
        return cls(spec, routes)

    def operation(self, method: str, url_or_path: str) -> tuple[str, dict[str, Any]]:
        """The spec's (path template, operation) for a request; raises when the spec has none."""
        path = urlsplit(url_or_path).path
        path = re.sub(r"^/v2(?=/)", "", path)
        for route in self.routes:
            if route.pattern.match(path):
                operation = self.spec["paths"][route.template].get(method.lower())
                if operation is not None:
                    return route.template, operation
        raise ContractViolation(f"{method.upper()} {path} is not an operation of Zoom's Meetings API")

    def validate_request(self, method: str, url_or_path: str, body: Any) -> None:
        template, operation = self.operation(method, url_or_path)
        content = (operation.get("requestBody") or {}).get("content", {})
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None:
            if body not in (None, b"", ""):
                raise ContractViolation(f"{method.upper()} {template} takes no JSON body")
            return
        self._validate(schema, body, f"request body of {method.upper()} {template}")

    def validate_response(self, method: str, url_or_path: str, status: int, body: Any) -> None:
        template, operation = self.operation(method, url_or_path)
        responses = operation.get("responses", {})
        response = responses.get(str(status))
        if response is None:
            raise ContractViolation(
                f"{method.upper()} {template} does not document status {status} "
                f"(documented: {', '.join(sorted(responses))})"
            )
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
        if schema is None:
            return
        self._validate(schema, body, f"{status} response of {method.upper()} {template}")

    def validate_sent(self, sent: Iterable[tuple[str, str, Any]]) -> int:
        """Validate every (method, path, JSON body) a client sent (the sandbox's `sent` log); the count."""
        count = 0
        for method, path, body in sent:
            self.validate_request(method, path, body)
            count += 1
        return count

    def parameters(self, method: str, url_or_path: str) -> dict[str, dict[str, Any]]:
        """The operation's parameters by name (for checking query strings)."""
        _, operation = self.operation(method, url_or_path)
        return {param["name"]: param for param in operation.get("parameters", [])}

    @staticmethod
    def _validate(schema: dict[str, Any], body: Any, label: str) -> None:
        validator = OAS30Validator(schema)
        errors = sorted(validator.iter_errors(body), key=lambda error: list(error.path))
        if errors:
            details = "; ".join(
                f"{'/'.join(str(p) for p in error.path) or '(root)'}: {error.message}" for error in errors[:5]
            )
            raise ContractViolation(f"{label} violates Zoom's spec: {details}")
