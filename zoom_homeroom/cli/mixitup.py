"""`homeroom mixitup ...`: the Mix It Up poll (in Slack or imported), groups, meeting and announcement."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..core.formation import quality_summary
from ..core.text import printable
from ..runtime import Runtime
from ..services import mixitup as service
from ..services.exports import table_text
from .group import cli, pass_runtime
from .options import format_option

WEEK = click.option(
    "--week", required=True, type=click.IntRange(1, 60), help="The module week (e.g. 2 or 4)."
)


@cli.group("mixitup")
def mixitup() -> None:
    """Mix It Up: groups mixed across modules, each around a topic from the Slack poll."""


@mixitup.command("import-poll")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@WEEK
@pass_runtime
def import_poll(runtime: Runtime, file: Path, week: int) -> None:
    """Import the poll export FILE (columns email,topic[,rank]) for a week, replacing its answers."""
    answers = service.import_poll(runtime, file.read_bytes(), filename=file.name, week=week)
    kept = runtime.storage.poll_respondents(service.week_date(runtime.calendar, week)).get("slack", 0)
    students = len({answer.student_id for answer in answers})
    topics: dict[str, int] = {}
    for answer in answers:
        if answer.rank == 1:
            topics[answer.topic] = topics.get(answer.topic, 0) + 1
    click.echo(f"week {week}: {len(answers)} answers from {students} students")
    for topic, count in sorted(topics.items(), key=lambda item: (-item[1], item[0])):
        click.echo(f"  {count:3d} first choices: {printable(topic)}")
    if kept:
        click.echo(
            f"kept the Slack poll's answers of {kept} student{'' if kept == 1 else 's'} not in the file"
        )


@mixitup.group("poll")
def poll() -> None:
    """The Mix It Up poll in Slack (students pick a 1st, 2nd and 3rd choice of topic)."""


@poll.command("open")
@WEEK
@click.option(
    "--topics",
    help='The topics, separated by ";" (default: [mix_it_up] topics in the calendar).',
)
@pass_runtime
def poll_open(runtime: Runtime, week: int, topics: str | None) -> None:
    """Post the week's poll to the [slack] channel; picks arrive at POST /slack/interactions."""
    # Imported here: slack-sdk loads only for the commands that talk to Slack.
    from ..services import slack as slack_service

    chosen = topics.split(";") if topics is not None else None
    posted = slack_service.open_poll(runtime, week, chosen)
    verb = "reopened" if posted.reopened else "posted"
    click.echo(f"week {week}: poll {verb} in Slack channel {posted.channel} with {len(posted.topics)} topics")
    if posted.closes:
        local = posted.closes.astimezone(runtime.calendar.timezone)
        click.echo(
            f"  the scheduler closes it {local:%A %Y-%m-%d %H:%M} (or: homeroom mixitup poll close --week {week})"
        )


@poll.command("close")
@WEEK
@pass_runtime
def poll_close(runtime: Runtime, week: int) -> None:
    """Close the week's poll: later picks are refused; the message shows the picks per topic."""
    # Imported here: slack-sdk loads only for the commands that talk to Slack.
    from ..services import slack as slack_service

    closed = slack_service.close_poll(runtime, week)
    state = "was already closed; its message is up to date" if closed.already_closed else "closed"
    click.echo(f"week {week}: poll {state}; {closed.respondents} students answered in Slack")
    ordered = sorted(closed.counts.items(), key=lambda item: (-item[1][0], item[0]))
    ranks = len(ordered[0][1]) if ordered else 0
    click.echo("  picks per topic (" + " / ".join(("1st", "2nd", "3rd")[:ranks]) + "):")
    for topic, counts in ordered:
        click.echo(f"  {' / '.join(str(count) for count in counts)}  {printable(topic)}")


@mixitup.command("form")
@WEEK
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    help="Random seed (default: from the date; same seed, same groups).",
)
@click.option(
    "--time-limit",
    default=service.DEFAULT_TIME_LIMIT_SECONDS,
    show_default=True,
    type=click.FloatRange(0.1, 600),
    help="Seconds the solver may use.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {week, groups, quality}.")
@pass_runtime
def form(runtime: Runtime, week: int, seed: int | None, time_limit: float, as_json: bool) -> None:
    """Form the week's groups from every active student (replaces any earlier groups of that week)."""
    formation, used_seed = service.form(runtime, week, seed=seed, time_limit_seconds=time_limit)
    emails = {student.id: student.email for student in runtime.storage.students(active_only=False)}
    groups = [
        {"number": g.number, "topic": g.topic, "members": [emails[s] for s in g.members]}
        for g in formation.groups
    ]
    quality = {**formation.quality.as_dict(), "seed": used_seed}
    if as_json:
        click.echo(json.dumps({"week": week, "groups": groups, "quality": quality}, indent=2))
        return
    for group in groups:
        click.echo(printable(f"{group['number']:3d} · {group['topic']}: {', '.join(group['members'])}"))
    q = formation.quality
    click.echo(
        f"quality: {q.students} students in {q.groups} groups (seed {used_seed}); {quality_summary(quality)}"
    )


@mixitup.command("sync")
@WEEK
@click.option("--dry-run", is_flag=True, help="Show what would change without writing.")
@pass_runtime
def sync(runtime: Runtime, week: int, dry_run: bool) -> None:
    """Create or update the week's Mix It Up meeting, one breakout room per group."""
    result = service.sync_week(runtime, week, dry_run=dry_run)
    click.echo(f"Mix It Up week {week}: {'; '.join(result.actions) or 'up to date'}")
    if result.join_url and not dry_run:
        click.echo(f"  join: {result.join_url}")


@mixitup.command("show")
@WEEK
@format_option("table", "csv", "markdown")
@pass_runtime
def show(runtime: Runtime, week: int, fmt: str) -> None:
    """Print the week's groups (Markdown is ready to paste into Slack)."""
    shared = service.shared_groups(runtime, week)
    if fmt == "csv":
        click.echo(service.share_csv(shared), nl=False)
    elif fmt == "markdown":
        click.echo(service.share_markdown(shared), nl=False)
    else:
        click.echo(table_text(shared.rows(), service.SHARE_FIELDS))


@mixitup.command("announce")
@WEEK
@pass_runtime
def announce(runtime: Runtime, week: int) -> None:
    """Post the week's groups to the [slack] channel and DM each student their group and join link.

    Run again after a change: it edits the channel message and messages only the students whose group
    changed.
    """
    # Imported here: slack-sdk loads only for the commands that talk to Slack.
    from ..services import slack as slack_service

    done = slack_service.announce(runtime, week)
    click.echo(f"week {week}: groups {done.channel_message} in Slack channel {done.channel}")
    click.echo(f"  direct messages: {len(done.messaged)} sent, {done.already_told} already told")
    if done.unconfirmed:
        click.echo(
            f"  Slack did not confirm {len(done.unconfirmed)} (they may not have arrived; not sent again): "
            + printable(", ".join(done.unconfirmed))
        )
    if done.not_on_slack:
        click.echo(
            f"  not on Slack, tell them by hand ({len(done.not_on_slack)}): "
            + printable(", ".join(done.not_on_slack))
        )
