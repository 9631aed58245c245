"""Zoom registration end to end on the sandbox: sync registers each student once and keeps Zoom's
registrants equal to the roster with as few calls as the rest of sync; `homeroom links` and the
personal links; Mix It Up in batches; Zoom's limits and refusals; with registration off, no registrant
call at all."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.factories import calendar_doc, calendar_toml, utc
from zoom_homeroom.cli import cli
from zoom_homeroom.core.calendar import parse_calendar
from zoom_homeroom.core.models import FormedGroup, mix_it_up_key
from zoom_homeroom.core.roster import parse_roster, roster_changes
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.sandbox import ZoomSandbox
from zoom_homeroom.services import mixitup
from zoom_homeroom.services.registration import personal_join_url, student_links
from zoom_homeroom.services.sync import SyncError, sync_homeroom
from zoom_homeroom.settings import load_settings, sandbox_environment
from zoom_homeroom.zoom.check import check_zoom

HOST = "mod1@school.example.org"
MEETING_KEY = "homeroom:1:2027-01-04"
ROSTER = """name,email,module,program,group
Ada Lovelace,ada@x.org,1,BE,1
Alan Turing,alan@x.org,1,FE,1
Grace Hopper,grace@x.org,1,BE,2
Ken Thompson,ken@x.org,2,FE,1
"""
WITHOUT_ALAN = ROSTER.replace("Alan Turing,alan@x.org,1,FE,1\n", "")
WITH_BARBARA = WITHOUT_ALAN + "Barbara Liskov,barbara@x.org,1,BE,2\n"
# What each module-1 student's registration must be, written out by hand.
BODIES = [
    {"email": "ada@x.org", "first_name": "Ada", "last_name": "Lovelace"},
    {"email": "alan@x.org", "first_name": "Alan", "last_name": "Turing"},
    {"email": "grace@x.org", "first_name": "Grace", "last_name": "Hopper"},
]
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def registration_calendar(on: bool = True):
    doc = calendar_doc()
    doc["sessions"]["registration"] = on
    return parse_calendar(doc)


@pytest.fixture
def calendar():
    """The test calendar with `[sessions] registration = true` (the conftest sandbox and runtimes use it)."""
    return registration_calendar()


def import_roster(runtime: Runtime, text: str) -> None:
    students = parse_roster(text.encode(), filename="roster.csv", modules=runtime.calendar.module_numbers)
    changes = roster_changes(runtime.storage.students(active_only=False), students)
    runtime.storage.apply_roster(changes, today=runtime.now().date(), now=runtime.now())


def registrant_calls(sandbox: ZoomSandbox, method: str | None = None) -> list[tuple[str, str, int]]:
    return [
        call for call in sandbox.calls if "registrants" in call[1] and (method is None or call[0] == method)
    ]


def sent_to_registrants(sandbox: ZoomSandbox) -> list[tuple[str, str, object]]:
    return [item for item in sandbox.sent if "registrants" in item[1]]


def writes(sandbox: ZoomSandbox) -> int:
    return sum(sandbox.count_calls(method, "/v2/") for method in WRITES)


def zoom_links(sandbox: ZoomSandbox, meeting_id: str) -> dict[str, str]:
    """email: personal link, of the meeting's approved registrants, as Zoom has them."""
    return {r["email"]: r["join_url"] for r in sandbox.registrants(meeting_id) if r["status"] == "approved"}


def runtime_on(box: ZoomSandbox, env: dict[str, str], calendar, clock, sleep) -> Runtime:
    return Runtime(
        load_settings({**env, **sandbox_environment(box)}),
        clock=clock,
        sleep=sleep,
        calendar_override=calendar,
    )


@pytest.fixture
def synced(sandbox_runtime, sandbox):
    import_roster(sandbox_runtime, ROSTER)
    return sync_homeroom(sandbox_runtime, 1)


# -- a first sync, a second ---------------------------------------------------------------------------


def test_a_first_sync_registers_each_student_once_with_spec_valid_bodies(
    synced, sandbox, sandbox_runtime, openapi_spec
):
    meeting = sandbox.meeting(synced.zoom_meeting_id)
    assert (meeting["settings"]["approval_type"], meeting["settings"]["registration_type"]) == (0, 1)
    assert synced.actions == [
        f"created meeting {synced.zoom_meeting_id}",
        "registered 3 student(s): personal join links stored",
    ]
    sent = sent_to_registrants(sandbox)
    assert [(method, path) for method, path, _ in sent] == [
        ("POST", f"/v2/meetings/{synced.zoom_meeting_id}/registrants")
    ] * 3
    assert sorted((body for _, _, body in sent), key=lambda body: body["email"]) == BODIES
    assert openapi_spec.validate_sent(sent) == 3
    # Registrant calls have their own rate-limit labels: the host's daily budget counts the create only.
    assert sandbox_runtime.storage.zoom_writes_today(HOST, dt.date(2027, 1, 5)) == 1
    assert [
        (r["email"], r["first_name"], r["status"]) for r in sandbox.registrants(synced.zoom_meeting_id)
    ] == [
        ("ada@x.org", "Ada", "approved"),
        ("alan@x.org", "Alan", "approved"),
        ("grace@x.org", "Grace", "approved"),
    ]


def test_the_personal_links_stored_are_the_ones_zoom_issued(synced, sandbox, sandbox_runtime):
    issued = zoom_links(sandbox, synced.zoom_meeting_id)
    links = {link.email: link.join_url for link in student_links(sandbox_runtime, 1)}
    assert links == issued
    assert all(f"/w/{synced.zoom_meeting_id}?tk=" in url for url in issued.values())
    ada = sandbox_runtime.storage.student_by_email("ada@x.org")
    assert personal_join_url(sandbox_runtime.storage, MEETING_KEY, ada.id) == issued["ada@x.org"]
    ken = sandbox_runtime.storage.student_by_email("ken@x.org")  # module 2: not synced yet
    assert personal_join_url(sandbox_runtime.storage, MEETING_KEY, ken.id) is None


def test_a_second_sync_writes_nothing_and_does_not_even_list_the_registrants(
    synced, sandbox, sandbox_runtime
):
    before_writes, before_registrant_calls = writes(sandbox), len(registrant_calls(sandbox))

    assert sync_homeroom(sandbox_runtime, 1).actions == []

    assert writes(sandbox) == before_writes
    assert len(registrant_calls(sandbox)) == before_registrant_calls


# -- roster changes -----------------------------------------------------------------------------------


def test_a_roster_change_registers_the_newcomer_and_cancels_the_leaver(
    synced, sandbox, sandbox_runtime, openapi_spec
):
    alan_id = next(r["id"] for r in sandbox.registrants(synced.zoom_meeting_id) if r["email"] == "alan@x.org")
    import_roster(sandbox_runtime, WITH_BARBARA)
    before = len(sandbox.sent)

    result = sync_homeroom(sandbox_runtime, 1)

    assert result.actions[1:] == [
        "cancelled the registration of alan@x.org",
        "registered 1 student(s): personal join links stored",
    ]
    new = [item for item in sandbox.sent[before:] if "registrants" in item[1]]
    assert new == [
        (
            "PUT",
            f"/v2/meetings/{synced.zoom_meeting_id}/registrants/status",
            {"action": "cancel", "registrants": [{"id": alan_id, "email": "alan@x.org"}]},
        ),
        (
            "POST",
            f"/v2/meetings/{synced.zoom_meeting_id}/registrants",
            {"email": "barbara@x.org", "first_name": "Barbara", "last_name": "Liskov"},
        ),
    ]
    assert openapi_spec.validate_sent(new) == 2
    statuses = {r["email"]: r["status"] for r in sandbox.registrants(synced.zoom_meeting_id)}
    assert statuses == {
        "ada@x.org": "approved",
        "alan@x.org": "cancelled",
        "grace@x.org": "approved",
        "barbara@x.org": "approved",
    }
    assert {link.email for link in student_links(sandbox_runtime, 1)} == {
        "ada@x.org",
        "grace@x.org",
        "barbara@x.org",
    }
    assert sync_homeroom(sandbox_runtime, 1).actions == []


def test_a_student_who_comes_back_is_registered_again(synced, sandbox, sandbox_runtime):
    import_roster(sandbox_runtime, WITHOUT_ALAN)
    sync_homeroom(sandbox_runtime, 1)
    old_link = zoom_links(sandbox, synced.zoom_meeting_id).get("alan@x.org")
    import_roster(sandbox_runtime, ROSTER)

    result = sync_homeroom(sandbox_runtime, 1)

    assert "registered 1 student(s): personal join links stored" in result.actions
    links = {link.email: link.join_url for link in student_links(sandbox_runtime, 1)}
    assert (
        old_link is None and links["alan@x.org"] == zoom_links(sandbox, synced.zoom_meeting_id)["alan@x.org"]
    )
    alan = [r for r in sandbox.registrants(synced.zoom_meeting_id) if r["email"] == "alan@x.org"]
    assert [r["status"] for r in alan] == ["cancelled", "approved"]  # a new registration, a new link


def test_a_student_renamed_in_the_roster_keeps_her_registration_and_link(synced, sandbox, sandbox_runtime):
    # Zoom has no call that renames a meeting registrant; registering again would change her link.
    before_link = zoom_links(sandbox, synced.zoom_meeting_id)["ada@x.org"]
    before_calls = len(registrant_calls(sandbox))
    import_roster(sandbox_runtime, ROSTER.replace("Ada Lovelace", "Ada King"))

    sync_homeroom(sandbox_runtime, 1)

    assert len(registrant_calls(sandbox)) == before_calls
    ada = sandbox_runtime.storage.student_by_email("ada@x.org")
    assert ada.name == "Ada King"
    assert personal_join_url(sandbox_runtime.storage, MEETING_KEY, ada.id) == before_link


def test_a_meeting_recreated_in_zoom_gets_its_registrations_again(synced, sandbox, sandbox_runtime):
    old_ids = {r["id"] for r in sandbox.registrants(synced.zoom_meeting_id)}
    sandbox.delete_meeting_behind_your_back(synced.zoom_meeting_id)

    result = sync_homeroom(sandbox_runtime, 1)

    assert result.zoom_meeting_id != synced.zoom_meeting_id
    assert result.actions[-1] == "registered 3 student(s): personal join links stored"
    assert {link.email: link.join_url for link in student_links(sandbox_runtime, 1)} == zoom_links(
        sandbox, result.zoom_meeting_id
    )
    # The old registrant ids still name their students (edges of sessions held before carry them).
    assert old_ids <= {registrant_id for registrant_id, _ in sandbox_runtime.storage.registrant_ids()}
    assert sync_homeroom(sandbox_runtime, 1).actions == []


def test_a_dry_run_says_what_it_would_register_and_calls_no_registrant_endpoint(sandbox_runtime, sandbox):
    import_roster(sandbox_runtime, ROSTER)
    result = sync_homeroom(sandbox_runtime, 1, dry_run=True)
    assert result.actions == [
        f"would create the meeting for {HOST}",
        "would register 3 student(s) once the meeting exists",
    ]
    sync_homeroom(sandbox_runtime, 1)
    import_roster(sandbox_runtime, WITH_BARBARA)
    calls = len(registrant_calls(sandbox))

    again = sync_homeroom(sandbox_runtime, 1, dry_run=True)

    assert again.actions[1:] == ["would cancel the registration of alan@x.org", "would register 1 student(s)"]
    assert len(registrant_calls(sandbox)) == calls


# -- stale state: Zoom's list is read before writing ----------------------------------------------------


def test_registration_switched_on_later_enables_it_then_registers_everyone(
    env, sandbox, clock, sleep, openapi_spec
):
    off = runtime_on(sandbox, env, registration_calendar(False), clock, sleep)
    import_roster(off, ROSTER)
    created = sync_homeroom(off, 1)
    assert registrant_calls(sandbox) == []
    off.close()
    on = runtime_on(sandbox, env, registration_calendar(True), clock, sleep)

    result = sync_homeroom(on, 1)

    assert result.actions == [
        "updated: registration on, approved automatically, once for the series (Zoom has off)",
        "registered 3 student(s): personal join links stored",
    ]
    patch = [body for method, _, body in sandbox.sent if method == "PATCH"]
    assert patch == [{"settings": {"approval_type": 0, "registration_type": 1}}]
    assert len(registrant_calls(sandbox, "GET")) == 1  # Zoom's list, read once before the first write
    assert sorted(zoom_links(sandbox, created.zoom_meeting_id)) == ["ada@x.org", "alan@x.org", "grace@x.org"]
    on.close()


def test_after_a_failed_sync_zooms_list_is_read_and_what_zoom_has_is_kept(synced, sandbox, sandbox_runtime):
    import_roster(sandbox_runtime, WITH_BARBARA + "Edsger Dijkstra,edsger@x.org,1,FE,2\n")
    # Zoom fails every registration for good: the sync stops; the stored state may be stale now.
    sandbox.faults.add(
        500, times=4, method="POST", path_prefix=f"/v2/meetings/{synced.zoom_meeting_id}/registrants"
    )
    with pytest.raises(SyncError, match="registrations are not"):
        sync_homeroom(sandbox_runtime, 1)
    # Meanwhile Barbara registers herself on the meeting's registration page, with her roster email.
    barbara_link = sandbox.register_by_hand(synced.zoom_meeting_id, "barbara@x.org", "Barbara", "Liskov")
    sandbox.register_by_hand(synced.zoom_meeting_id, "speaker@elsewhere.org", "Guest", "Speaker")
    posts = len(registrant_calls(sandbox, "POST"))

    result = sync_homeroom(sandbox_runtime, 1)

    assert result.actions == [
        "kept 1 registration(s) Zoom already had",
        "registered 1 student(s): personal join links stored",
    ]
    assert len(registrant_calls(sandbox, "POST")) == posts + 1  # Edsger only: Barbara is kept
    links = {link.email: link.join_url for link in student_links(sandbox_runtime, 1)}
    assert links["barbara@x.org"] == barbara_link
    assert zoom_links(sandbox, synced.zoom_meeting_id)["speaker@elsewhere.org"]  # a guest: left alone
    assert sync_homeroom(sandbox_runtime, 1).actions == []


def test_a_registration_cancelled_in_zooms_portal_is_found_when_the_state_is_stale(
    synced, sandbox, sandbox_runtime
):
    grace = next(r for r in sandbox.registrants(synced.zoom_meeting_id) if r["email"] == "grace@x.org")
    with sandbox.lock:  # an admin cancels Grace in Zoom's portal, and the stored state is unsure
        meeting = sandbox.book.get(synced.zoom_meeting_id)
        sandbox.registrations.update_status(
            meeting, {"action": "cancel", "registrants": [{"id": grace["id"]}]}, sandbox.clock()
        )
    sandbox_runtime.storage.forget_registrations_check(MEETING_KEY)

    result = sync_homeroom(sandbox_runtime, 1)

    assert result.actions == [
        "registrations Zoom no longer has: grace@x.org",
        "registered 1 student(s): personal join links stored",
    ]
    assert zoom_links(sandbox, synced.zoom_meeting_id)["grace@x.org"] != grace["join_url"]


# -- Zoom's limits and refusals --------------------------------------------------------------------------


def leave_and_return(runtime: Runtime) -> list[str]:
    import_roster(runtime, WITHOUT_ALAN)
    sync_homeroom(runtime, 1)
    import_roster(runtime, ROSTER)
    return sync_homeroom(runtime, 1).actions


def test_an_email_is_not_registered_a_fourth_time_in_a_day(synced, sandbox, sandbox_runtime, clock):
    leave_and_return(sandbox_runtime)  # Alan's 2nd registration today
    leave_and_return(sandbox_runtime)  # his 3rd
    posts = len(registrant_calls(sandbox, "POST"))

    actions = leave_and_return(sandbox_runtime)

    assert actions[1:] == [  # after the rooms' update
        "alan@x.org: not registered again today: Zoom takes 3 registrations of one email a day for a meeting "
        "(a sync after 00:00 UTC does it)"
    ]
    assert len(registrant_calls(sandbox, "POST")) == posts  # not even tried
    assert "alan@x.org" not in {link.email for link in student_links(sandbox_runtime, 1) if link.join_url}
    clock.now = utc("2027-01-06 00:05")  # the next UTC day
    assert sync_homeroom(sandbox_runtime, 1).actions == [
        "registered 1 student(s): personal join links stored"
    ]


def test_zoom_refusing_an_email_for_today_spares_the_other_students(synced, sandbox, sandbox_runtime):
    for _ in range(2):  # Alan also registered on the page twice: Zoom has counted three today
        sandbox.register_by_hand(synced.zoom_meeting_id, "alan@x.org", "Alan", "Turing")
    import_roster(sandbox_runtime, WITHOUT_ALAN)
    sync_homeroom(sandbox_runtime, 1)
    import_roster(sandbox_runtime, ROSTER.replace("\nKen", "\nBarbara Liskov,barbara@x.org,1,BE,2\nKen"))

    actions = sync_homeroom(sandbox_runtime, 1).actions

    assert actions[0].startswith("updated: rooms: ")
    assert actions[1] == "registered 1 student(s): personal join links stored"  # Barbara
    assert actions[2].startswith("alan@x.org: not registered: Zoom API 429 (code 429) on POST /meetings/")
    assert actions[2].endswith("(it resets at 2027-01-06 00:00 UTC)")
    assert sandbox_runtime.storage.registrations_checked(MEETING_KEY) == synced.zoom_meeting_id


def test_a_host_who_may_not_have_registration_fails_the_sync_with_what_to_fix(sandbox, sandbox_runtime):
    with sandbox.lock:  # an admin made the module's host a Basic user: Zoom drops registration
        sandbox.users.get(HOST)["type"] = 1
    import_roster(sandbox_runtime, ROSTER)

    with pytest.raises(SyncError) as failure:
        sync_homeroom(sandbox_runtime, 1)

    message = str(failure.value)
    assert message.startswith("Mod 1: Zoom has not enabled registration on meeting ")
    assert f"its host {HOST} must be a Licensed user" in message
    assert sandbox_runtime.storage.sessions(module=1)  # the meeting itself is synced and stored


def test_a_full_meeting_stops_the_sync_with_zooms_reason(env, calendar, clock, sleep):
    hosts = sorted({module.host for module in calendar.modules})
    with ZoomSandbox(clock=clock, users=hosts, registrant_capacity=2) as small:
        runtime = runtime_on(small, env, calendar, clock, sleep)
        import_roster(runtime, ROSTER)
        with pytest.raises(SyncError, match="Zoom refuses more registrants for this meeting: .*code 3043"):
            sync_homeroom(runtime, 1)
        runtime.close()


def test_a_newcomer_after_the_series_is_over_stops_the_sync_with_zooms_reason(synced, sandbox_runtime, clock):
    clock.now = utc("2027-02-04 12:00")  # the day after the last session
    import_roster(sandbox_runtime, WITH_BARBARA)
    with pytest.raises(SyncError, match="Meeting is over, you can not register now"):
        sync_homeroom(sandbox_runtime, 1)


# -- Mix It Up: batches of 30 ----------------------------------------------------------------------------


def mix_roster(count: int) -> str:
    lines = ["name,email,module,program,group"]
    lines += [f"Student {n:02d},s{n:02d}@x.org,{1 + n % 4},BE,{1 + n % 3}" for n in range(count)]
    return "\n".join(lines) + "\n"


def form_week_2(runtime: Runtime, members: list[int]) -> None:
    day = mixitup.week_date(runtime.calendar, 2)
    groups = [
        FormedGroup(number, f"Topic {number}", tuple(sorted(members[start : start + 5])))
        for number, start in enumerate(range(0, len(members), 5), start=1)
    ]
    runtime.storage.save_formation(day, 2, seed=1, quality={}, groups=groups, now=runtime.now())


def test_mix_it_up_registers_the_weeks_students_in_batches_of_at_most_30(
    sandbox_runtime, sandbox, openapi_spec
):
    import_roster(sandbox_runtime, mix_roster(65))
    students = sandbox_runtime.storage.students()
    form_week_2(sandbox_runtime, [student.id for student in students])

    result = mixitup.sync_week(sandbox_runtime, 2)

    batches = [body for method, path, body in sandbox.sent if path.endswith("/batch_registrants")]
    assert [len(body["registrants"]) for body in batches] == [30, 30, 5]
    assert (
        openapi_spec.validate_sent([item for item in sandbox.sent if item[1].endswith("/batch_registrants")])
        == 3
    )
    assert (
        registrant_calls(sandbox, "POST")
        == [("POST", f"/v2/meetings/{result.zoom_meeting_id}/batch_registrants", 201)] * 3
    )
    assert "registered 65 student(s) in batches: personal join links stored" in result.actions
    key = mix_it_up_key(dt.date(2027, 1, 13))
    issued = zoom_links(sandbox, result.zoom_meeting_id)
    assert {s.email: personal_join_url(sandbox_runtime.storage, key, s.id) for s in students} == issued
    assert mixitup.sync_week(sandbox_runtime, 2).actions == []


def test_re_formed_mix_it_up_groups_cancel_whoever_was_left_out(sandbox_runtime, sandbox):
    import_roster(sandbox_runtime, mix_roster(10))
    ids = [student.id for student in sandbox_runtime.storage.students()]
    form_week_2(sandbox_runtime, ids)
    meeting = mixitup.sync_week(sandbox_runtime, 2).zoom_meeting_id
    form_week_2(sandbox_runtime, ids[:5])

    actions = mixitup.sync_week(sandbox_runtime, 2).actions

    left_out = {s.email for s in sandbox_runtime.storage.students() if s.id in ids[5:]}
    (cancelled,) = [line for line in actions if line.startswith("cancelled the registration of ")]
    assert set(cancelled.removeprefix("cancelled the registration of ").split(", ")) == left_out
    assert len(zoom_links(sandbox, meeting)) == 5


# -- homeroom links ----------------------------------------------------------------------------------------


def test_homeroom_links_lists_the_links_zoom_issued(synced, sandbox, sandbox_runtime, runner):
    issued = zoom_links(sandbox, synced.zoom_meeting_id)

    as_json = runner.invoke(cli, ["links", "--module", "1", "--format", "json"], obj=sandbox_runtime)
    as_csv = runner.invoke(cli, ["links", "--module", "1", "--format", "csv"], obj=sandbox_runtime)
    as_table = runner.invoke(cli, ["links"], obj=sandbox_runtime)

    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == {
        "links": [
            {
                "name": "Ada Lovelace",
                "email": "ada@x.org",
                "module": 1,
                "group": 1,
                "join_url": issued["ada@x.org"],
            },
            {
                "name": "Alan Turing",
                "email": "alan@x.org",
                "module": 1,
                "group": 1,
                "join_url": issued["alan@x.org"],
            },
            {
                "name": "Grace Hopper",
                "email": "grace@x.org",
                "module": 1,
                "group": 2,
                "join_url": issued["grace@x.org"],
            },
        ]
    }
    assert as_csv.output.splitlines() == [
        "name,email,module,group,join_url",
        f"Ada Lovelace,ada@x.org,1,1,{issued['ada@x.org']}",
        f"Alan Turing,alan@x.org,1,1,{issued['alan@x.org']}",
        f"Grace Hopper,grace@x.org,1,2,{issued['grace@x.org']}",
    ]
    table = as_table.output.splitlines()
    assert table[0].split() == ["name", "email", "module", "group", "join_url"]
    assert any("Ken Thompson" in line and line.rstrip().endswith("-") for line in table)  # not registered yet


def test_the_links_csv_is_safe_to_open_in_a_spreadsheet(sandbox_runtime, sandbox, runner):
    import_roster(sandbox_runtime, ROSTER.replace("Grace Hopper", '=HYPERLINK("http://evil")'))
    sync_homeroom(sandbox_runtime, 1)
    output = runner.invoke(cli, ["links", "--module", "1", "--format", "csv"], obj=sandbox_runtime).output
    assert '"\'=HYPERLINK(""http://evil"")",grace@x.org' in output


def test_links_without_registration_say_it_is_off(settings, clock, runner):
    runtime = Runtime(settings, clock=clock, calendar_override=registration_calendar(False))
    result = runner.invoke(cli, ["links"], obj=runtime)
    runtime.close()
    assert result.exit_code == 1
    assert "registration is off ([sessions] registration = false)" in result.output
    assert "Traceback" not in result.output


def test_links_of_a_module_the_calendar_lacks_is_a_named_error(sandbox_runtime, runner):
    result = runner.invoke(cli, ["links", "--module", "9"], obj=sandbox_runtime)
    assert result.exit_code == 1
    assert "module 9 is not in the calendar (modules: 1, 2, 3, 4)" in result.output


# -- registration off ---------------------------------------------------------------------------------------


def test_with_registration_off_no_registrant_call_is_ever_made(env, sandbox, clock, sleep):
    runtime = runtime_on(sandbox, env, registration_calendar(False), clock, sleep)
    import_roster(runtime, mix_roster(12))
    for module in runtime.calendar.module_numbers:
        sync_homeroom(runtime, module)
    form_week_2(runtime, [student.id for student in runtime.storage.students()])
    mixitup.sync_week(runtime, 2)
    import_roster(runtime, mix_roster(8))
    sync_homeroom(runtime, 1, dry_run=True)
    sync_homeroom(runtime, 1)
    meeting_id = runtime.storage.meeting(MEETING_KEY).zoom_meeting_id

    assert registrant_calls(sandbox) == []
    assert sent_to_registrants(sandbox) == []
    assert sandbox.meeting(meeting_id)["settings"]["approval_type"] == 2
    assert runtime.storage.registrant_ids() == []
    runtime.close()


# -- configuration ------------------------------------------------------------------------------------------


def test_config_check_notes_that_registration_is_on(runner, env, monkeypatch, tmp_path):
    doc = calendar_doc()
    doc["sessions"]["registration"] = True
    (tmp_path / "registration.toml").write_text(calendar_toml(doc))
    for key, value in {**env, "HOMEROOM_CONFIG": str(tmp_path / "registration.toml")}.items():
        monkeypatch.setenv(key, value)

    result = runner.invoke(cli, ["config", "check"])

    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: [sessions] registration = true: sync registers every student for their meetings; each joins "
        "with a personal link (`homeroom links`), and the meeting's own link asks for registration. The Zoom "
        "app needs the registrant scopes: `homeroom config check --zoom` checks them"
    ]


GRANULAR_WITHOUT_REGISTRANTS = (
    "meeting:read:meeting:admin meeting:read:list_meetings:admin meeting:write:meeting:admin "
    "meeting:update:meeting:admin meeting:delete:meeting:admin meeting:read:list_past_instances:admin "
    "meeting:read:list_past_participants:admin report:read:list_meeting_participants:admin user:read:user:admin"
)


@pytest.mark.parametrize("on", [True, False])
def test_config_check_zoom_asks_for_the_registrant_scopes_only_with_registration_on(env, clock, on):
    with ZoomSandbox(clock=clock, scopes=GRANULAR_WITHOUT_REGISTRANTS.split()) as box:
        runtime = Runtime(load_settings({**env, **sandbox_environment(box)}), clock=clock)
        problems = check_zoom(runtime.settings, registration_calendar(on), client=runtime.zoom)
        runtime.close()
    scope_problems = [problem for problem in problems if problem.startswith("Zoom app cannot")]
    if not on:
        assert scope_problems == []
        return
    assert scope_problems == [
        "Zoom app cannot register students (registration is on): add the scope meeting:write:registrant:admin, "
        "meeting:read:list_registrants:admin, meeting:update:registrant_status:admin, "
        "meeting:write:batch_registrants:admin (or the classic meeting:write:admin, meeting:read:admin) to the "
        "Server-to-Server OAuth app in the Zoom App Marketplace (Manage > your app > Scopes)"
    ]
