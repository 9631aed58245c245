"""`homeroom config check --zoom`: can the configured app do what the service needs?

It gets a token, compares the granted scopes with the calls the service makes (the registrant calls
too when the calendar switches registration on), and looks up every host in the calendar. Each problem is one line that says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import make_client
from .errors import ZoomAPIError, ZoomAuthError, ZoomError, ZoomNotFound

if TYPE_CHECKING:
    from ..core.models import Calendar
    from ..settings import Settings
    from .client import ZoomClient

BASIC_USER = 1  # the Users API's `type`: 1 Basic, 2 Licensed


@dataclass(frozen=True)
class ScopeNeed:
    """One call the service makes and the scopes that allow it (as Zoom's spec lists them)."""

    operation: str  # "GET /meetings/{meetingId}", as keyed in the OpenAPI spec
    classic: str
    granular: str

    def granted(self, scopes: frozenset[str]) -> bool:
        return self.classic in scopes or self.granular in scopes


@dataclass(frozen=True)
class Capability:
    """A group of calls, reported as one line when any of them is not allowed."""

    label: str
    needs: tuple[ScopeNeed, ...]


CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        "read meetings",
        (
            ScopeNeed("GET /meetings/{meetingId}", "meeting:read:admin", "meeting:read:meeting:admin"),
            ScopeNeed(
                "GET /users/{userId}/meetings", "meeting:read:admin", "meeting:read:list_meetings:admin"
            ),
        ),
    ),
    Capability(
        "write meetings (create/update/delete)",
        (
            ScopeNeed("POST /users/{userId}/meetings", "meeting:write:admin", "meeting:write:meeting:admin"),
            ScopeNeed("PATCH /meetings/{meetingId}", "meeting:write:admin", "meeting:update:meeting:admin"),
            ScopeNeed("DELETE /meetings/{meetingId}", "meeting:write:admin", "meeting:delete:meeting:admin"),
        ),
    ),
    Capability(
        "read past meetings (instances and participants)",
        (
            ScopeNeed(
                "GET /past_meetings/{meetingId}/instances",
                "meeting:read:admin",
                "meeting:read:list_past_instances:admin",
            ),
            ScopeNeed(
                "GET /past_meetings/{meetingId}/participants",
                "meeting:read:admin",
                "meeting:read:list_past_participants:admin",
            ),
        ),
    ),
    Capability(
        "read reports (meeting participants)",
        (
            ScopeNeed(
                "GET /report/meetings/{meetingId}/participants",
                "report:read:admin",
                "report:read:list_meeting_participants:admin",
            ),
        ),
    ),
    # The Users API is not in the Meetings spec; these are the Users API's documented scopes.
    Capability("read users", (ScopeNeed("GET /users/{userId}", "user:read:admin", "user:read:user:admin"),)),
)
USERS_CAPABILITY = "read users"
# Checked only with `[sessions] registration = true`: the registrant calls of `services.registration`.
REGISTRATION_CAPABILITY = Capability(
    "register students (registration is on)",
    (
        ScopeNeed(
            "POST /meetings/{meetingId}/registrants", "meeting:write:admin", "meeting:write:registrant:admin"
        ),
        ScopeNeed(
            "GET /meetings/{meetingId}/registrants",
            "meeting:read:admin",
            "meeting:read:list_registrants:admin",
        ),
        ScopeNeed(
            "PUT /meetings/{meetingId}/registrants/status",
            "meeting:write:admin",
            "meeting:update:registrant_status:admin",
        ),
        ScopeNeed(
            "POST /meetings/{meetingId}/batch_registrants",
            "meeting:write:admin",
            "meeting:write:batch_registrants:admin",
        ),
    ),
)


def check_zoom(
    settings: Settings, calendar: Calendar | None, *, client: ZoomClient | None = None
) -> list[str]:
    """Problems with the Zoom account set up for the service, one line each; empty when all is well."""
    if client is None:
        client = make_client(settings)
    try:
        scopes = client.granted_scopes()
    except ZoomAuthError as error:
        return [f"Zoom credentials: {error}"]
    except ZoomError as error:
        return [f"Zoom: could not get an access token: {error}"]
    registration = calendar is not None and calendar.sessions.registration
    missing = missing_capabilities(scopes, registration=registration)
    problems = [_scope_problem(capability, scopes) for capability in missing]
    if calendar is None:
        return problems
    if any(capability.label == USERS_CAPABILITY for capability in missing):
        problems.append("hosts in the calendar not checked: the Zoom app cannot read users (see above)")
        return problems
    return problems + _host_problems(client, calendar, str(settings.config_path))


def missing_capabilities(scopes: frozenset[str], *, registration: bool = False) -> list[Capability]:
    """The capabilities with at least one call that none of `scopes` allows (the registrant calls
    only when registration is on)."""
    wanted = (*CAPABILITIES, REGISTRATION_CAPABILITY) if registration else CAPABILITIES
    return [c for c in wanted if not all(need.granted(scopes) for need in c.needs)]


def _scope_problem(capability: Capability, scopes: frozenset[str]) -> str:
    missing = [need for need in capability.needs if not need.granted(scopes)]
    granular = ", ".join(dict.fromkeys(need.granular for need in missing))
    classic = ", ".join(dict.fromkeys(need.classic for need in missing))
    return (
        f"Zoom app cannot {capability.label}: add the scope {granular} (or the classic {classic}) "
        "to the Server-to-Server OAuth app in the Zoom App Marketplace (Manage > your app > Scopes)"
    )


def _hosts(calendar: Calendar, config: str) -> list[tuple[str, str, str]]:
    """(label, e-mail, where to fix it) for every host in the calendar."""
    hosts = [
        (f"module {module.number} host {module.host}", module.host, f"[[modules]] host in {config}")
        for module in calendar.modules
    ]
    mix = calendar.mix_it_up.host
    hosts.append((f"Mix It Up host {mix}", mix, f"[mix_it_up] host in {config}"))
    return hosts


def _host_problems(client: ZoomClient, calendar: Calendar, config: str) -> list[str]:
    problems: list[str] = []
    users: dict[str, dict[str, Any]] = {}
    for label, email, fix in _hosts(calendar, config):
        try:
            user = users[email] if email in users else client.get_user(email)
        except ZoomNotFound:
            problems.append(f"{label}: no such user in this Zoom account; fix {fix}")
            continue
        except ZoomAPIError as error:
            problems.append(f"{label}: could not be checked: {error}")
            continue
        except ZoomError as error:
            problems.append(f"hosts in the calendar not checked: {error}")
            return problems
        users[email] = user
        problems.extend(f"{label}: {problem}" for problem in _user_problems(user))
    return problems


def _user_problems(user: dict[str, Any]) -> list[str]:
    """What stops this Zoom user from hosting the sessions."""
    problems = []
    status = user.get("status")
    if status is not None and status != "active":
        problems.append(
            f"the Zoom user is {status}, not active: activate the user (or accept the invitation) "
            "in the Zoom admin portal, User Management > Users"
        )
    if user.get("type") == BASIC_USER:
        problems.append(
            "the Zoom user is Basic (free): meetings with 3 or more people end after 40 minutes; "
            "give the host a Licensed user type in User Management > Users"
        )
    return problems
