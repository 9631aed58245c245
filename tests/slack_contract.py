"""Checks of Slack Web API calls against Slack's own spec, `../shared/slack/slack_web_openapi_v2.json`.

The spec is Swagger 2.0 (slackapi/slack-api-specs, 2020). Each method is a path (`/chat.postMessage`)
whose `parameters` are the arguments (form fields or query; the token in a header) and whose `200`
and `default` responses give the success and error bodies. Two of its habits need care:

- it writes "one of these" as `items: [schema, schema]` on a non-array (`"tz": {"items": [{"type":
  "null"}, {"type": "string"}]}`), which JSON Schema would ignore; it is read as `anyOf`, so those
  objects are really checked;
- its error enums date from 2020 and lack codes Slack documents on each method's page today
  (`missing_scope`, `ratelimited`, `invalid_arguments`, `invalid_blocks`, ...): an error code must
  be in the method's enum or in GENERAL_ERRORS, and an error body may carry the extra fields those
  errors have (`needed`, `provided`, `errors`, `response_metadata`).

slack-sdk sends every call as a POST (its base client: "Slack APIs accepts any API method requests
with POST methods"), arguments as a form or a JSON body, so the HTTP verb is not checked; the
arguments, their types, and whether the method takes a JSON body (`consumes`) are.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

# Error codes Slack documents beyond the 2020 spec's enums: the common errors table of every
# method page (docs.slack.dev/reference/methods/*), the rate-limit guide, Block Kit's errors.
GENERAL_ERRORS = frozenset(
    {
        "missing_scope",
        "ratelimited",
        "invalid_arguments",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_blocks_too_long",
        "not_in_channel",
        "token_revoked",
        "user_not_in_channel",
        "user_disabled",
        "users_list_not_supplied",
        "method_not_supported_for_channel_type",
        "cant_update_message",
        "no_text",
        "is_archived",
        "msg_too_long",
        "no_permission",
    }
)
ERROR_FIELDS = {"ok", "error", "needed", "provided", "errors", "response_metadata", "warning"}
# Arguments documented as "a JSON-based array ... presented as a URL-encoded string": a JSON body
# carries the array itself (docs.slack.dev/apis/web-api/#posting_json).
JSON_ARRAY_ARGUMENTS = frozenset({"blocks", "attachments"})


class ContractViolation(AssertionError):
    pass


class SlackContract:
    """Slack's Web API spec, ready to check arguments and answers; raises ContractViolation."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.definitions = _one_of_items(copy.deepcopy(spec["definitions"]))

    @classmethod
    def load(cls, path: Path) -> SlackContract:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def operation(self, method: str) -> Mapping[str, Any]:
        path = self.spec["paths"].get(f"/{method}")
        if not path:
            raise ContractViolation(f"{method} is not a method of Slack's Web API spec")
        (operation,) = path.values()
        return operation

    def check_arguments(self, method: str, args: Mapping[str, Any], *, json_body: bool) -> None:
        """Every argument documented and well typed, every required one present."""
        operation = self.operation(method)
        if json_body and "application/json" not in operation.get("consumes", ()):
            raise ContractViolation(f"{method} takes no JSON body (consumes {operation.get('consumes')})")
        parameters = {p["name"]: p for p in operation.get("parameters", ()) if p["name"] != "token"}
        unknown = sorted(set(args) - set(parameters) - {"token"})
        if unknown:
            raise ContractViolation(f"{method}: undocumented arguments {unknown}")
        for name, parameter in parameters.items():
            if parameter.get("required") and name not in args:
                raise ContractViolation(f"{method}: required argument {name!r} is missing")
        for name, value in args.items():
            if name in parameters:
                _check_type(method, name, value, parameters[name].get("type", "string"), json_body)

    def check_answer(self, method: str, status: int, body: Mapping[str, Any]) -> None:
        """A success body valid against the method's 200 schema; an error body in Slack's shape."""
        responses = self.operation(method)["responses"]
        if body.get("ok") is True:
            if status != 200:
                raise ContractViolation(f"{method}: ok answer with HTTP {status}")
            self._validate(responses["200"]["schema"], body, f"{method} success answer")
            return
        error = body.get("error")
        if body.get("ok") is not False or not isinstance(error, str):
            raise ContractViolation(f"{method}: answer is neither ok nor an error: {body}")
        extra = set(body) - ERROR_FIELDS
        if extra:
            raise ContractViolation(f"{method}: error answer with unexpected fields {sorted(extra)}")
        documented = responses["default"]["schema"]["properties"]["error"].get("enum", [])
        if error not in documented and error not in GENERAL_ERRORS:
            raise ContractViolation(f"{method}: error {error!r} is not one Slack documents for it")

    def _validate(self, schema: Mapping[str, Any], body: Any, label: str) -> None:
        normalized = _one_of_items(copy.deepcopy(dict(schema)))
        validator = Draft4Validator({**normalized, "definitions": self.definitions})
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            details = "; ".join(
                f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:200]}"
                for e in errors[:5]
            )
            raise ContractViolation(f"{label} violates Slack's spec: {details}")


def _check_type(method: str, name: str, value: Any, kind: str, json_body: bool) -> None:
    if json_body:
        ok = {
            "string": isinstance(value, str) or (name in JSON_ARRAY_ARGUMENTS and isinstance(value, list)),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
        }.get(kind, True)
    else:
        text = str(value)
        ok = {
            "string": isinstance(value, str),
            "boolean": text in ("0", "1", "true", "false"),
            "integer": text.lstrip("-").isdigit(),
            "number": text.replace(".", "", 1).lstrip("-").isdigit(),
        }.get(kind, True)
    if not ok:
        raise ContractViolation(f"{method}: argument {name!r}={value!r} is not a {kind}")


def _one_of_items(schema: Any) -> Any:
    """The spec's `items: [a, b]` on a non-array read as `anyOf: [a, b]`, everywhere inside `schema`."""
    if isinstance(schema, dict):
        if isinstance(schema.get("items"), list) and schema.get("type") != "array":
            schema["anyOf"] = schema.pop("items")
        for value in schema.values():
            _one_of_items(value)
    elif isinstance(schema, list):
        for value in schema:
            _one_of_items(value)
    return schema
