"""The built-in Zoom sandbox: a real local HTTP server plus a webhook sender.

`ZoomSandbox` serves Zoom's OAuth token endpoint and the Meetings API calls this project makes,
with Zoom's status codes and error bodies; it also simulates meetings as Zoom runs them (room moves,
breakout rooms, reconnects, restarts) that feed both the report APIs and signed webhooks, and injects
faults on demand.
"""

from .errors import SandboxError
from .faults import Fault, Faults
from .server import ZoomSandbox
from .serving import LocalServer
from .simulation import Participant
from .state import DEFAULT_SCOPES, SandboxState
from .webhooks import WebhookSender

__all__ = [
    "DEFAULT_SCOPES",
    "Fault",
    "Faults",
    "LocalServer",
    "Participant",
    "SandboxError",
    "SandboxState",
    "WebhookSender",
    "ZoomSandbox",
]
