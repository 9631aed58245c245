"""`homeroom plan` and `homeroom sync`: the weekly meetings and their breakout rooms."""

from __future__ import annotations

import json
from typing import Any

import click

from ..core.meetings import diff_meeting, stored_spec_differs
from ..core.models import PlannedSession
from ..core.text import printable
from ..core.times import to_utc_text
from ..runtime import Runtime
from ..services.sync import SyncError, homeroom_plan, sync_homeroom
from .group import cli, pass_runtime

MODULE_OPTION = click.option(
    "--module", "module", type=click.IntRange(1, 999), help="Only this module (default: every module)."
)


@cli.command("plan")
@MODULE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_runtime
def plan(runtime: Runtime, module: int | None, as_json: bool) -> None:
    """Show each module's sessions (local and UTC), rooms and members, and what sync would change.

    Reads only the calendar, the roster and what the last sync stored: it never calls Zoom.
    """
    modules = [module] if module is not None else list(runtime.calendar.module_numbers)
    plans = [_module_plan(runtime, number) for number in modules]
    if as_json:
        click.echo(json.dumps({"modules": plans}, indent=2))
        return
    for item in plans:
        _print_plan(item)


def _module_plan(runtime: Runtime, module: int) -> dict[str, Any]:
    spec, sessions, students = homeroom_plan(runtime, module)
    stored = runtime.storage.meeting(spec.key)
    if stored is None:
        status, changes = "create", ["would create the meeting"]
    elif not stored.spec or stored_spec_differs(spec, stored.spec):
        status = "update"
        changes = [d.summary for d in diff_meeting(spec, stored.spec)] or ["would refresh the stored copy"]
    else:
        status, changes = "up_to_date", []
    names = {student.email: student.name for student in students}
    return {
        "module": module,
        "host": spec.host,
        "meeting": {
            "key": spec.key,
            "zoom_meeting_id": stored.zoom_meeting_id if stored else None,
            "join_url": stored.join_url if stored else None,
            "status": status,
            "changes": changes,
        },
        "sessions": [_session_json(runtime, session) for session in sessions],
        "skipped": [o.date.isoformat() for o in spec.occurrences if o.skipped],
        "rooms": [
            {
                "name": room["name"],
                "participants": [{"email": e, "name": names.get(e, "")} for e in room["participants"]],
            }
            for room in spec.body["settings"]["breakout_room"]["rooms"]
        ],
    }


def _session_json(runtime: Runtime, session: PlannedSession) -> dict[str, Any]:
    tz = runtime.calendar.timezone
    return {
        "key": session.key,
        "week": session.week,
        "date": session.date.isoformat(),
        "start_local": session.start.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
        "end_local": session.end.astimezone(tz).strftime("%H:%M %Z"),
        "start_utc": to_utc_text(session.start),
        "end_utc": to_utc_text(session.end),
    }


def _print_plan(item: dict[str, Any]) -> None:
    meeting = item["meeting"]
    click.echo(f"Mod {item['module']} (host {item['host']}): {meeting['status'].replace('_', ' ')}")
    if meeting["zoom_meeting_id"]:
        click.echo(f"  Zoom meeting {meeting['zoom_meeting_id']}  {meeting['join_url'] or ''}".rstrip())
    for change in meeting["changes"]:
        click.echo(f"  change: {change}")
    for session in item["sessions"]:
        click.echo(
            f"  week {session['week']}  {session['start_local']}-{session['end_local']}"
            f"  (UTC {session['start_utc']} to {session['end_utc']})"
        )
    for day in item["skipped"]:
        click.echo(f"  skipped: {day} (its occurrence is deleted at sync)")
    for room in item["rooms"]:
        people = ", ".join(f"{p['name']} <{p['email']}>" for p in room["participants"])
        click.echo(printable(f"  {room['name']}: {people}"))


@cli.command("sync")
@MODULE_OPTION
@click.option("--dry-run", is_flag=True, help="Show what would change (reads Zoom, writes nothing).")
@pass_runtime
def sync(runtime: Runtime, module: int | None, dry_run: bool) -> None:
    """Create or update each module's recurring meeting and its pre-assigned breakout rooms."""
    modules = [module] if module is not None else list(runtime.calendar.module_numbers)
    failures = 0
    for number in modules:
        try:
            result = sync_homeroom(runtime, number, dry_run=dry_run)
        except SyncError as error:
            failures += 1
            click.echo(f"Mod {number}: failed: {error}", err=True)
            continue
        state = "; ".join(result.actions) if result.actions else "up to date"
        click.echo(f"Mod {number}: {state}")
        if result.join_url and not dry_run:
            click.echo(f"  join: {result.join_url}")
    if failures:
        raise click.ClickException(f"{failures} of {len(modules)} module(s) failed to sync")
