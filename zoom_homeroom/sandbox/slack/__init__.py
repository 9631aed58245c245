"""The built-in Slack sandbox: a real local HTTP server answering the Web API calls the service
makes, serving response URLs, and delivering students' clicks as signed `block_actions` posts.

`SlackSandbox` is driven from tests and the demo; see state.py for its API.
"""

from .clicks import Delivery
from .faults import DROP, LOST, Faults
from .server import SlackSandbox
from .state import CallChecker, RecordedCall
from .workspace import DEFAULT_SCOPES, Ephemeral, Message

__all__ = [
    "DEFAULT_SCOPES",
    "DROP",
    "LOST",
    "CallChecker",
    "Delivery",
    "Ephemeral",
    "Faults",
    "Message",
    "RecordedCall",
    "SlackSandbox",
]
