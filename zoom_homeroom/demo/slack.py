"""The demo's Slack: the built-in Slack sandbox as the school's workspace, and the Slack loop of the week.

The cohort is in the workspace (all but a few students, who are not on Slack, and a coach who is not a
student), with a Mix It Up channel, the reps' private channel and one channel per module. The day
before week 2 the poll is posted, the students vote with signed clicks to the service's real
`POST /slack/interactions`, and the poll closes; once the groups are formed they are announced in the
channel and by DM; on Wednesday morning each module's prompt goes to its channel, and once the
sessions are final the reps' digest to theirs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..clock import Clock
from ..runtime import Runtime
from ..sandbox.slack import SlackSandbox
from ..services import jobs, mixitup
from ..services import slack as slack_service
from ..slack.interactions import poll_action_id
from .cohort import SampleStudent, poll_choices

Echo = Callable[[str], None]
Advance = Callable[[dt.datetime], None]
WEEK = 2
# Every this-many-th student has no Slack account: the announcement lists them for staff.
NOT_ON_SLACK_EVERY = 40
COACH = "coach@school.example.org"
VOTING = dt.timedelta(minutes=20)  # the poll stays open this long
VOTERS_AT_ONCE = 4


@dataclass(frozen=True)
class SlackChannels:
    """What the demo's calendar says about Slack: the channel IDs and the dashboard's address."""

    channel: str
    reps_channel: str
    modules: dict[int, str]
    dashboard_url: str


class DemoSlack:
    """The workspace, and the steps of the week the demo shows."""

    def __init__(self, students: Sequence[SampleStudent], clock: Clock, *, seed: int) -> None:
        self.students = list(students)
        self.seed = seed
        self.sandbox = SlackSandbox(clock=clock, team_name="Demo School", domain="demo-school").start()
        self.users = {
            student.email: self.sandbox.add_user(student.email, student.name)
            for index, student in enumerate(self.students)
            if index % NOT_ON_SLACK_EVERY != NOT_ON_SLACK_EVERY - 1
        }
        self.coach = self.sandbox.add_user(COACH, "Casey Coach")
        self.channel = self.sandbox.add_channel("mix-it-up", members=[*self.users.values(), self.coach])
        self.reps = self.sandbox.add_channel("homeroom-reps", members=[self.coach], private=True)
        self.module_channels = {
            module: self.sandbox.add_channel(f"mod-{module}", members=self._members(module))
            for module in sorted({student.module for student in self.students})
        }
        self.interactions_url = ""

    def _members(self, module: int) -> list[str]:
        return [self.users[s.email] for s in self.students if s.module == module and s.email in self.users]

    def connect(self, service_url: str) -> SlackChannels:
        """Send the students' clicks to the service at `service_url`; what its calendar must say."""
        self.interactions_url = f"{service_url}/slack/interactions"
        return SlackChannels(self.channel, self.reps, dict(self.module_channels), service_url)

    def stop(self) -> None:
        self.sandbox.stop()

    # -- the day before week 2 ----------------------------------------------------------------------

    def run_poll(self, runtime: Runtime, advance: Advance, echo: Echo) -> None:
        """Post the poll, let the cohort vote through it (moving the clock with `advance`), close it."""
        posted = slack_service.open_poll(runtime, WEEK)
        echo(
            f"  Slack: Mix It Up poll posted to #mix-it-up: {len(posted.topics)} topics, a 1st, 2nd and 3rd choice"
        )
        clicks = self._vote(runtime, posted.ts, advance)
        closed = slack_service.close_poll(runtime, WEEK)
        day = mixitup.week_date(runtime.calendar, WEEK)
        refused = runtime.storage.slack_pick_outcomes(day).get("not_student", 0)
        echo(
            f"  Slack: {closed.respondents} students voted with {clicks} signed clicks to {self.interactions_url}, "
            f"each answered privately ({len(self.sandbox.ephemerals())} replies); one changed their first choice"
        )
        echo(f"  Slack: the coach, not on the roster, picked too: told privately, {refused} pick not saved")
        firsts = sorted(closed.counts.items(), key=lambda item: (-item[1][0], item[0]))
        echo("  Slack: poll closed; first choices: " + ", ".join(f"{t} {c[0]}" for t, c in firsts if c[0]))

    def _vote(self, runtime: Runtime, ts: str, advance: Advance) -> int:
        """Each voter's clicks in order, several voters at once (as in a real channel); returns how many."""
        topics = runtime.calendar.mix_it_up.topics
        ballots = [
            (self.users[email], [(rank, topic) for rank, topic in enumerate(choices, start=1)])
            for email, choices in poll_choices(self.students, seed=self.seed).items()
            if email in self.users
        ]
        if ballots:  # the first voter changes their mind about their first choice
            user, picks = ballots[0]
            changed = next(topic for topic in topics if topic not in {t for _, t in picks})
            ballots[0] = (user, [*picks, (1, changed)])
        ballots.append((self.coach, [(1, topics[0])]))
        with ThreadPoolExecutor(max_workers=VOTERS_AT_ONCE) as pool:
            list(pool.map(lambda ballot: self._cast(runtime, ts, *ballot), ballots))
        slack_service.process_picks(runtime)  # the service applies each as it comes: this waits for the last
        advance(runtime.now() + VOTING)
        return sum(len(picks) for _, picks in ballots)

    def _cast(self, runtime: Runtime, ts: str, user: str, picks: list[tuple[int, str]]) -> None:
        for rank, topic in picks:
            self._pick(runtime, user, rank, topic, ts)

    def _pick(self, runtime: Runtime, user: str, rank: int, topic: str, ts: str) -> None:
        day = mixitup.week_date(runtime.calendar, WEEK)
        delivery = self.sandbox.select(
            self.interactions_url,
            user=user,
            channel=self.channel,
            ts=ts,
            action_id=poll_action_id(day, WEEK, rank),
            value=topic,
        )
        if delivery.status != 200:
            raise RuntimeError(f"the service answered a click with {delivery.status}: {delivery.text[:200]}")

    def announce(self, runtime: Runtime, echo: Echo) -> None:
        """Announce the formed groups in the channel and by DM, and again (nobody is told twice)."""
        done = slack_service.announce(runtime, WEEK)
        echo(
            f"  Slack: groups {done.channel_message} in #mix-it-up; {len(done.messaged)} students told their group, "
            "topic, groupmates and join link by DM"
        )
        echo(f"  Slack: not on Slack, for staff to tell by hand: {', '.join(done.not_on_slack) or 'nobody'}")
        again = slack_service.announce(runtime, WEEK)
        echo(f"  Slack: announced again: message {again.channel_message}, {len(again.messaged)} more DMs")

    # -- Wednesday ----------------------------------------------------------------------------------

    def post_prompts(self, runtime: Runtime, day: dt.date, echo: Echo) -> None:
        """What the scheduler does on the morning of the sessions: each module's prompt in its channel."""
        for module in runtime.calendar.module_numbers:
            jobs.post_prompt(module, day.isoformat(), runtime=runtime)
        channels = ", ".join(f"#mod-{module}" for module in self.module_channels)
        echo(f"  Slack: the week's prompt and join link posted to {channels}")

    def report_digests(self, echo: Echo) -> None:
        """What the reps found in their channel once the sessions were final."""
        for message in self.sandbox.messages(self.reps):
            echo(f"  Slack #homeroom-reps: {message.text}")
