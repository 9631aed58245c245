"""Setting Slack up: its variables and calendar keys, `config check --slack` against the Slack sandbox,
the scheduler's Slack jobs, and the whole loop's Web API calls checked against Slack's spec."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import SLACK_SPEC_PATH, TEST_SECRET_KEY
from tests.factories import calendar_doc, calendar_toml, make_calendar, utc
from tests.slack_world import (
    POLL_DAY,
    TOPICS,
    WEEK,
    SlackWorld,
    build_world,
    save_groups,
    store_mix_it_up_meeting,
)
from zoom_homeroom.cli import cli
from zoom_homeroom.core.calendar import CalendarError
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.scheduler import planned_jobs
from zoom_homeroom.services import jobs
from zoom_homeroom.services import slack as slack_service
from zoom_homeroom.settings import ConfigError, check_all, load_settings
from zoom_homeroom.slack.check import check_slack


@pytest.fixture
def world(tmp_path, env, clock, sleep, slack_spec):
    yield from build_world(tmp_path, env, clock, sleep, slack_spec)


# -- settings and the calendar -----------------------------------------------------------------------


def test_slack_is_optional_and_its_secrets_never_show(env):
    plain = load_settings(env)
    assert (plain.slack_bot_token, plain.slack_api_url) == (None, "https://slack.com/api/")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is not set"):
        _ = Runtime(plain).slack
    token, secret = "xoxb-1234-5678-abcdef", "0123456789abcdef0123456789abcdef"
    settings = load_settings({**env, "SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": secret})
    assert token not in repr(settings) and secret not in repr(settings)
    assert {token, secret} <= set(settings.secrets())  # the log filter blanks them
    assert token not in repr(Runtime(settings).slack)


def test_half_a_slack_setup_is_a_problem_of_config_check(env):
    _, _, problems = check_all({**env, "SLACK_BOT_TOKEN": "xoxb-1"})
    assert any(
        p.startswith("SLACK_SIGNING_SECRET is not set: POST /slack/interactions refuses") for p in problems
    )
    _, _, problems = check_all({**env, "SLACK_SIGNING_SECRET": "s"})
    assert any(p.startswith("SLACK_BOT_TOKEN is not set") for p in problems)
    _, _, problems = check_all(env)
    assert not any("SLACK" in p for p in problems)


def test_the_calendars_slack_keys_are_checked():
    doc = calendar_doc()
    doc["slack"] = {"channel": "#mix-it-up", "reps_channel": "C0REPS123", "prompt_time": "9am", "nope": 1}
    doc["mix_it_up"]["topics"] = ["Open source", "open  SOURCE", ""]
    doc["modules"][0]["slack_channel"] = "general"
    with pytest.raises(CalendarError) as caught:
        make_calendar(**doc)
    assert caught.value.problems == [
        "mix_it_up.topics: topic 'open SOURCE' is listed twice",
        "mix_it_up.topics: topic 3 is empty",
        "slack.nope: unknown key (expected one of: channel, dashboard_url, poll_close_before_forming_minutes, "
        "prompt_time, reps_channel)",
        "slack.channel: '#mix-it-up' is a channel name: use the channel's ID (in Slack: the channel's name, "
        "then the bottom of its details, C0…)",
        "slack.dashboard_url: missing: the reps' digest links to session pages under it",
        "slack.prompt_time: '9am' is not a time of day like \"13:00\"",
        "module 1.slack_channel: 'general' is not a Slack channel ID (C0…)",
    ]


def test_a_prompt_time_must_come_before_the_sessions():
    with pytest.raises(CalendarError) as caught:
        make_calendar(slack={"prompt_time": "13:00"})
    assert caught.value.problems == ["slack.prompt_time: 13:00 must be before the sessions start (13:00)"]


# -- config check --slack ----------------------------------------------------------------------------


def test_check_slack_names_every_scope_and_channel_problem(world):
    settings = world.runtime.settings
    assert check_slack(settings, world.calendar) == []
    world.slack.set_scopes(["chat:write", "users:read", "channels:read", "groups:read"])
    world.slack.leave(world.module_channels[2], world.slack.bot_user_id)
    world.slack.archive(world.module_channels[3])
    problems = check_slack(settings, world.calendar)
    config = settings.config_path
    assert problems == [
        "Slack app lacks the bot scope im:write (to open a direct message with each student "
        "(conversations.open)): add it under OAuth & Permissions > Bot Token Scopes, then reinstall the app",
        "Slack app lacks the bot scope users:read.email (to find that person, and each student, by email): "
        "add it under OAuth & Permissions > Bot Token Scopes, then reinstall the app",
        f"Slack channel #mod-2 (module 2 slack_channel in {config}): the app is not in it: /invite @<app> in #mod-2",
        f"Slack channel #mod-3 (module 3 slack_channel in {config}) is archived: unarchive it or pick another channel",
    ]
    # Without channels:read and groups:read, conversations.info cannot look: each channel says so.
    world.slack.set_scopes(["chat:write", "im:write", "users:read", "users:read.email"])
    unchecked = check_slack(settings, world.calendar)
    assert len(unchecked) == 6  # the two [slack] channels and four module channels
    assert unchecked[1] == (
        f"Slack channel {world.reps} ([slack] reps_channel in {config}): cannot be checked, the app lacks "
        "groups:read: add it under OAuth & Permissions > Bot Token Scopes, then reinstall the app"
    )
    assert all(
        "cannot be checked, the app lacks channels:read" in line for i, line in enumerate(unchecked) if i != 1
    )
    world.slack.revoke_token()
    (revoked,) = check_slack(settings, world.calendar)
    assert revoked.startswith("SLACK_BOT_TOKEN: Slack auth.test failed: token_revoked")


def test_config_check_slack_from_the_command_line(world, runner, monkeypatch, tmp_path):
    doc = calendar_doc()
    doc["slack"] = {
        "channel": world.channel,
        "reps_channel": "C0NOSUCH99",
        "dashboard_url": "https://h.example",
    }
    config = tmp_path / "slack.toml"
    config.write_text(calendar_toml(doc), encoding="utf-8")
    settings = world.runtime.settings
    environment = {
        "HOMEROOM_DATABASE": str(settings.database),
        "HOMEROOM_CONFIG": str(config),
        "HOMEROOM_SECRET_KEY": TEST_SECRET_KEY,
        "ZOOM_ACCOUNT_ID": "a",
        "ZOOM_CLIENT_ID": "b",
        "ZOOM_CLIENT_SECRET": "c",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "d",
        "SLACK_BOT_TOKEN": world.slack.bot_token,
        "SLACK_SIGNING_SECRET": world.slack.signing_secret,
        "SLACK_API_URL": world.slack.api_url,
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(cli, ["config", "check", "--slack"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"problem: Slack channel C0NOSUCH99 ([slack] reps_channel in {config}): not found; check the ID, "
        "and invite the app if the channel is private (/invite @<app> in the channel)"
    ]
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    skipped = runner.invoke(cli, ["config", "check", "--slack"])
    assert "problem: --slack: skipped, SLACK_BOT_TOKEN is not set" in skipped.output


# -- the scheduler -----------------------------------------------------------------------------------


def test_the_scheduler_posts_prompts_in_the_morning_and_closes_the_poll_before_forming(world):
    jobs_by_id = {job.id: job for job in planned_jobs(world.calendar, utc("2027-01-01 12:00"))}
    prompt = jobs_by_id["prompt:homeroom:1:2027-01-06"]
    assert (prompt.func, prompt.args, prompt.run_at) == (
        "zoom_homeroom.services.jobs:post_prompt",
        (1, "2027-01-06"),
        utc("2027-01-06 16:00"),  # 9:00 in Denver
    )
    close = jobs_by_id["close_poll:mix_it_up:2027-01-13"]
    # Mix It Up starts 20:30 UTC; groups are formed 24 hours before, the poll closes an hour before that.
    assert (close.func, close.args, close.run_at) == (
        "zoom_homeroom.services.jobs:close_poll",
        (2,),
        utc("2027-01-12 19:30"),
    )
    plain = {job.id.split(":")[0] for job in planned_jobs(make_calendar(), utc("2027-01-01 12:00"))}
    assert plain == {"sync", "finalize"}  # without [slack], no Slack jobs


def test_the_scheduled_close_closes_an_open_poll(world):
    jobs.close_poll(WEEK, runtime=world.runtime)  # nothing posted: nothing to do
    ts = slack_service.open_poll(world.runtime, WEEK).ts
    world.pick("ada", 1, "Open source", ts=ts)
    jobs.close_poll(WEEK, runtime=world.runtime)
    poll = world.runtime.storage.slack_poll(POLL_DAY)
    assert poll is not None and not poll.is_open
    assert world.runtime.storage.poll_answers(POLL_DAY) == {world.student_id("ada"): ["Open source"]}
    assert len(world.slack.message(world.channel, ts).history) == 1  # the results are shown


def test_the_sync_that_forms_the_groups_closes_the_poll_first(
    tmp_path, sandbox_env, clock, sleep, slack_spec
):
    for world in build_world(tmp_path, sandbox_env, clock, sleep, slack_spec):
        ts = slack_service.open_poll(world.runtime, WEEK).ts
        world.pick("ada", 1, "Open source", ts=ts)
        slack_service.process_picks(world.app_runtime)
        jobs.sync_mix_it_up(WEEK, runtime=world.runtime)  # the scheduler's, 24 hours before
        poll = world.runtime.storage.slack_poll(POLL_DAY)
        assert poll is not None and not poll.is_open
        formation = world.runtime.storage.formation(POLL_DAY)
        assert formation is not None and sum(len(group.members) for group in formation.groups) == 9
        (adas,) = [group for group in formation.groups if world.student_id("ada") in group.members]
        assert adas.topic == "Open source"  # the one answer there is, from Slack
        assert world.runtime.storage.session(f"mix_it_up:{POLL_DAY.isoformat()}").join_url


# -- every call of the loop against Slack's spec -----------------------------------------------------


def test_every_web_api_call_of_the_slack_loop_is_valid_against_slacks_spec(tmp_path, env, clock, sleep):
    if not SLACK_SPEC_PATH.is_file():
        pytest.skip(
            f"contract test: Slack's Web API spec is not at {SLACK_SPEC_PATH} (only in the dev/CI checkout)"
        )
    from tests.slack_contract import SlackContract

    for world in build_world(tmp_path, env, clock, sleep, SlackContract.load(SLACK_SPEC_PATH)):
        run_the_loop(world)
        used = {call.method for call in world.slack.calls}
        assert used >= {
            "auth.test",
            "conversations.info",
            "chat.postMessage",
            "chat.update",
            "users.info",
            "users.lookupByEmail",
            "conversations.open",
            "response_url",
        }
        assert world.slack.violations == []


def run_the_loop(world: SlackWorld) -> None:
    """Check, poll, picks, close, groups announced twice, a prompt and a digest."""
    assert check_slack(world.runtime.settings, world.calendar) == []
    ts = slack_service.open_poll(world.runtime, WEEK).ts
    for who, topic in zip(("ada", "bob", "coach", "hal"), TOPICS, strict=True):
        world.pick(who, 1, topic, ts=ts)
    slack_service.process_picks(world.app_runtime)
    slack_service.close_poll(world.runtime, WEEK)
    store_mix_it_up_meeting(world)
    save_groups(
        world,
        [(1, TOPICS[0], ["ada", "bob", "eve", "gus"]), (2, TOPICS[1], ["cy", "dee", "fay", "hal", "ivy"])],
    )
    slack_service.announce(world.runtime, WEEK)
    save_groups(
        world,
        [(1, TOPICS[0], ["ada", "cy", "eve", "gus"]), (2, TOPICS[1], ["bob", "dee", "fay", "hal", "ivy"])],
    )
    slack_service.announce(world.runtime, WEEK)
    folder = world.runtime.settings.config_path.parent / "prompts" / "mod1"
    folder.mkdir(parents=True)
    (folder / "week2.md").write_text("Share one thing you got stuck on.\n", encoding="utf-8")
    slack_service.post_prompt(world.runtime, 1, dt.date(2027, 1, 13))
    session = world.runtime.storage.session(f"mix_it_up:{POLL_DAY.isoformat()}")
    world.runtime.storage.finalize_session(session.id, now=world.clock())
    slack_service.post_digests(world.runtime)
    assert len(world.slack.messages(world.reps)) == 1
    assert len(world.slack.messages(world.module_channels[1])) == 1
