"""The service's Slack messages as Block Kit, with their text fallbacks. Pure: data in, dicts out.

Built with slack-sdk's Block Kit models, whose `to_dict()` refuses anything over Slack's limits
(so a bug here fails loudly before Slack sees it). The builders themselves keep every message
within those limits, whatever the data: long texts are cut with "…", long lists end "and N more",
and a message never passes Slack's 50 blocks (docs.slack.dev/reference/block-kit/blocks: "You can
include up to 50 blocks in each message"). Names, topics and prompts are escaped for mrkdwn
(`&`, `<`, `>`: docs.slack.dev/messaging/formatting-message-text#escaping), so a student called
"<!channel>" pings nobody.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from .interactions import MAX_RANK, MAX_TOPIC_CHARS, poll_action_id

MAX_BLOCKS = 50
SECTION_CHARS = SectionBlock.text_max_length  # 3000
HEADER_CHARS = HeaderBlock.text_max_length  # 150
OPTION_CHARS = Option.label_max_length  # 75
MAX_OPTIONS = StaticSelectElement.options_max_length  # 100
BUTTON_URL_CHARS = 3000
# chat.postMessage refuses blocks whose text adds up to about 12,000 characters with
# `msg_blocks_too_long`, a limit Slack does not document (github.com/slackapi/bolt-js/issues/2867,
# refused at 11,341 counted): the builders keep well under it.
TEXT_BUDGET = 10_000
FALLBACK_CHARS = 4000  # Slack advises keeping `text` under 4,000 characters
ELLIPSIS = "…"
MAX_NAME_CHARS = 100
JOIN_ACTION_ID = "join-meeting"

_ORDINALS = ("1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th")
_RANK_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


class MessageError(ValueError):
    """The message cannot be built as asked (a poll Slack could not show); the text says why."""


@dataclass(frozen=True)
class Message:
    """A Slack message: `text` (notifications, fallback) and its Block Kit `blocks`."""

    text: str
    blocks: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Group:
    """One Mix It Up group as announced: its number, topic and members' display names."""

    number: int
    topic: str
    members: Sequence[str]


@dataclass(frozen=True)
class DigestModule:
    """One module's session in the reps' digest; each entry is a ready display line (a name and detail)."""

    title: str
    session_url: str
    absent: Sequence[str] = ()
    partial: Sequence[str] = ()
    wrong_room: Sequence[str] = ()
    unmatched: Sequence[str] = ()
    final: bool = True  # False: Zoom's report is not in yet, the lists may still change


# -- text helpers ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text safe inside mrkdwn: Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link; `|` in the URL would end it early, so it is percent-encoded."""
    return f"<{escape(url.replace('|', '%7C'))}|{escape(label)}>"


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def clip_mrkdwn(text: str, limit: int) -> str:
    """Like clip, for escaped mrkdwn: never cuts through an entity (`&amp;`) or a `<link|label>`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    opened, entity = cut.rfind("<"), cut.rfind("&")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    if entity > cut.rfind(";") and entity >= len(cut) - 5:
        cut = cut[:entity]
    return cut + ELLIPSIS


def listing(names: Sequence[str], limit: int) -> str:
    """Names, escaped and comma-separated, within `limit` characters: "A, B and 3 more" when cut."""
    escaped = [escape(clip(name, MAX_NAME_CHARS)) for name in names]
    full = ", ".join(escaped)
    if len(full) <= limit:
        return full
    shown: list[str] = []
    for name in escaped[:-1]:
        rest = len(escaped) - len(shown) - 1
        if len(", ".join([*shown, name])) + len(f" and {rest} more") > limit:
            break
        shown.append(name)
    hidden = len(escaped) - len(shown)
    return f"{', '.join(shown)} and {hidden} more" if shown else f"{hidden} people (too many to list)"


def day_text(day: dt.date) -> str:
    """`Wednesday January 13`."""
    return f"{day:%A %B} {day.day}"


# -- the Mix It Up poll ----------------------------------------------------------------------------


def poll_message(
    poll_date: dt.date, week: int, topics: Sequence[str], *, ranks: int = 3, closes: str | None = None
) -> Message:
    """The poll: one menu of the week's topics per rank (1st, 2nd, 3rd choice).

    `closes` is when it closes, as the reader should see it ("Tuesday 5 pm"). Raises MessageError for
    topics Slack's menus cannot hold (none, duplicates, over 100, a topic over 150 characters).
    """
    _check_topics(topics)
    ranks = max(1, min(ranks, len(topics), MAX_RANK))
    choices = ", ".join(_ORDINALS[:ranks])
    intro = (
        f"Pick the topics you would most like to talk about ({choices} choice). Only you see your "
        "picks; choose again to change one. Mix It Up groups are formed from them."
    )
    if closes:
        intro += f" The poll closes {escape(closes)}."
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Mix It Up · week {week} · {day_text(poll_date)}", HEADER_CHARS)),
        SectionBlock(text=MarkdownTextObject(text=intro)),
    ]
    options = [Option(value=topic, text=clip(topic, OPTION_CHARS)) for topic in topics]
    for rank in range(1, ranks + 1):
        menu = StaticSelectElement(
            action_id=poll_action_id(poll_date, week, rank), placeholder="Choose a topic", options=options
        )
        blocks.append(
            SectionBlock(
                block_id=f"poll-w{week}-r{rank}",
                text=MarkdownTextObject(text=f"*{_ORDINALS[rank - 1]} choice*"),
                accessory=menu,
            )
        )
    size = sum(text_size(block.to_dict()) for block in blocks)
    if size > TEXT_BUDGET:
        raise MessageError(
            f"the poll's topics take {size} characters in {ranks} menus; one Slack message holds about "
            f"{TEXT_BUDGET}: use fewer or shorter topics"
        )
    text = f"Mix It Up poll for week {week} ({day_text(poll_date)}): pick your {choices} choice of topic."
    return _message(text, blocks)


def closed_poll_message(
    poll_date: dt.date, week: int, counts: Mapping[str, Sequence[int]], *, respondents: int
) -> Message:
    """The poll message once closed: how many answered, and each topic's picks by rank.

    `counts[topic][r]` is how many chose `topic` as choice `r + 1`; topics are listed by first
    choices, then by all picks.
    """
    ordered = sorted(counts.items(), key=lambda item: (-_at(item[1], 0), -sum(item[1]), item[0].casefold()))
    lines = [f"• *{escape(clip(topic, MAX_TOPIC_CHARS))}*: {_tally(picks)}" for topic, picks in ordered]
    students = "student" if respondents == 1 else "students"
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Mix It Up · week {week} · {day_text(poll_date)} (closed)", HEADER_CHARS)),
        SectionBlock(
            text=MarkdownTextObject(text=f"*This poll is closed.* {respondents} {students} answered.")
        ),
    ]
    blocks += _packed(lines or ["No picks were made."], around=blocks, noun="topics")
    return _message(
        f"The Mix It Up poll for week {week} is closed: {respondents} {students} answered.", blocks
    )


def picks_message(week: int, picks: Mapping[int, str], *, note: str | None = None) -> Message:
    """The private confirmation after a pick: the student's choices so far, by rank, after `note`
    (escaped here) when there is something more to say."""
    prefix = f"{escape(clip(note, 500))}\n" if note else ""
    if not picks:
        text = f"You have no picks for Mix It Up week {week} now."
        return _message(text, [SectionBlock(text=MarkdownTextObject(text=prefix + text))])
    lines = [
        f"{_ORDINALS[rank - 1]}: *{escape(clip(topic, MAX_TOPIC_CHARS))}*"
        for rank, topic in sorted(picks.items())
    ]
    body = prefix + f"Got it. Your picks for Mix It Up week {week}:\n" + "\n".join(lines)
    return _message(
        f"Your picks for Mix It Up week {week} are saved.", [SectionBlock(text=MarkdownTextObject(text=body))]
    )


def notice_message(text: str) -> Message:
    """A one-paragraph private explanation (not on the roster, the poll closed, ...); `text` is escaped."""
    safe = clip_mrkdwn(escape(text), SECTION_CHARS)
    return _message(safe, [SectionBlock(text=MarkdownTextObject(text=safe))])


# -- groups ----------------------------------------------------------------------------------------


def groups_message(
    poll_date: dt.date,
    week: int,
    groups: Sequence[Group],
    *,
    join_url: str | None,
    unknown: Sequence[str] = (),
) -> Message:
    """The groups for the channel; `unknown` (students Slack does not know) is listed at the end."""
    intro = "Your group and its breakout room are below; you are moved into your room when you join."
    if join_url:
        intro = f"Join {link(join_url, 'the Mix It Up meeting')}. " + intro
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Mix It Up groups · week {week} · {day_text(poll_date)}", HEADER_CHARS)),
        SectionBlock(text=MarkdownTextObject(text=intro)),
    ]
    lines = [_group_lines(group) for group in groups]
    tail: list[Block] = []
    if unknown:
        names = listing(unknown, SECTION_CHARS - 100)
        tail.append(
            SectionBlock(text=MarkdownTextObject(text=f"*Not found on Slack* (please tell them): {names}"))
        )
    blocks += _packed(lines, around=blocks + tail, noun="groups", separator="\n\n")
    text = f"Mix It Up groups for week {week} ({day_text(poll_date)}): {len(groups)} groups."
    return _message(text, blocks + tail)


def _group_lines(group: Group) -> str:
    heading = f"*Group {group.number} · {escape(clip(group.topic, MAX_TOPIC_CHARS))}*"
    return f"{heading}\n{listing(group.members, SECTION_CHARS - len(heading) - 1)}"


def group_dm_message(
    poll_date: dt.date,
    week: int,
    group: Group,
    *,
    when: str,
    join_url: str | None,
    changed: bool = False,
) -> Message:
    """A student's direct message: their group, topic, the others in it, and the join link.

    `when` is the session's local time as the student reads it ("1:30 pm"); `group.members` are the
    other members (not the student). `changed`: they were told another group before.
    """
    topic = escape(clip(group.topic, MAX_TOPIC_CHARS))
    body = (
        ("*Your Mix It Up group has changed.* " if changed else "")
        + f"You are in *group {group.number}* for Mix It Up on {day_text(poll_date)} at {escape(when)}.\n"
        f"Topic: *{topic}*\n"
        f"With: {listing(group.members, SECTION_CHARS - 400) or 'just you so far'}"
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=body))]
    text = f"Mix It Up week {week}: you are in group {group.number} ({topic})."
    if join_url:
        blocks.append(_join(join_url, "Join the meeting"))
        text += f" Join: {escape(join_url)}"
    return _message(text, blocks)


# -- weekly prompts and the reps' digest -----------------------------------------------------------


def prompt_message(
    module: int, week: int, day: dt.date, prompt: str, *, when: str, join_url: str | None
) -> Message:
    """The module's weekly prompt for its channel, with the session's time and join link."""
    intro = f"Homeroom today, {day_text(day)}, at {escape(when)}."
    blocks: list[Block] = [
        HeaderBlock(text=f"Homeroom · Mod {module} · week {week}"),
        SectionBlock(text=MarkdownTextObject(text=intro)),
    ]
    paragraphs = [escape(part.strip()) for part in prompt.split("\n\n") if part.strip()]
    tail: list[Block] = [_join(join_url, "Join Homeroom")] if join_url else []
    blocks += _packed(paragraphs, around=blocks + tail, noun="paragraphs", separator="\n\n")
    text = f"Homeroom today at {escape(when)}: this week's prompt for Mod {module}."
    if join_url:
        text += f" Join: {escape(join_url)}"
    return _message(text, blocks + tail)


def digest_message(title: str, modules: Sequence[DigestModule]) -> Message:
    """The reps' digest of a finished session: per module, who needs a follow-up."""
    blocks: list[Block] = [HeaderBlock(text=clip(title, HEADER_CHARS))]
    lines = [_digest_lines(module) for module in modules]
    blocks += _packed(lines, around=blocks, noun="modules", separator="\n\n")
    needing = sum(1 for m in modules if m.absent or m.partial or m.wrong_room or m.unmatched or not m.final)
    return _message(f"{escape(clip(title, 200))}: {needing} of {len(modules)} modules need a look.", blocks)


def _digest_lines(module: DigestModule) -> str:
    heading = f"*{escape(clip(module.title, 200))}* · {link(module.session_url, 'session page')}"
    rows = [
        (label, names)
        for label, names in (
            ("Absent", module.absent),
            ("Partial", module.partial),
            ("Wrong room", module.wrong_room),
            ("Waiting to be matched", module.unmatched),
        )
        if names
    ]
    if not module.final:
        heading += "\n_Not final yet: waiting for Zoom's report._"
    if not rows:
        return heading if not module.final else f"{heading}\nEveryone was there, in the right room."
    share = max(100, (SECTION_CHARS - len(heading)) // len(rows) - 40)
    return heading + "".join(f"\n{label} ({len(names)}): {listing(names, share)}" for label, names in rows)


# -- assembly --------------------------------------------------------------------------------------


def _packed(
    chunks: Sequence[str], *, around: Sequence[Block], noun: str, separator: str = "\n"
) -> list[Block]:
    """`chunks` in as few sections as fit, within what the blocks `around` them leave of the budgets.

    Sections hold 3000 characters; a message holds 50 blocks and TEXT_BUDGET characters of text in
    all. What does not fit is summed up in a last context line, "…and N more <noun>".
    """
    blocks_left = MAX_BLOCKS - len(around) - 1  # one kept for the "and N more" line
    chars_left = TEXT_BUDGET - sum(text_size(block.to_dict()) for block in around) - 100
    texts: list[str] = []
    shown = 0
    for chunk in (clip_mrkdwn(chunk, SECTION_CHARS) for chunk in chunks):
        if len(chunk) + len(separator) > chars_left:
            break
        if texts and len(texts[-1]) + len(separator) + len(chunk) <= SECTION_CHARS:
            texts[-1] += separator + chunk
        elif len(texts) < blocks_left:
            texts.append(chunk)
        else:
            break
        chars_left -= len(chunk) + len(separator)
        shown += 1
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text)) for text in texts]
    if shown < len(chunks):
        more = f"…and {len(chunks) - shown} more {noun}"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return blocks


def text_size(value: Any) -> int:
    """Characters of text in a block: every `text` string inside it, as Slack totals them."""
    if isinstance(value, Mapping):
        return sum(
            len(item) if key == "text" and isinstance(item, str) else text_size(item)
            for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return sum(text_size(item) for item in value)
    return 0


def _join(url: str, label: str) -> Block:
    """A link button (Slack still posts a block_actions click for it: the parser ignores it)."""
    if len(url) > BUTTON_URL_CHARS:
        return SectionBlock(text=MarkdownTextObject(text=link(url, label)))
    return ActionsBlock(elements=[ButtonElement(text=label, url=url, action_id=JOIN_ACTION_ID)])


def _message(text: str, blocks: Sequence[Block]) -> Message:
    return Message(clip(text, FALLBACK_CHARS), tuple(block.to_dict() for block in blocks))


def _check_topics(topics: Sequence[str]) -> None:
    if not topics:
        raise MessageError("the poll has no topics")
    if len(topics) > MAX_OPTIONS:
        raise MessageError(f"a Slack poll menu holds at most {MAX_OPTIONS} topics; there are {len(topics)}")
    seen: set[str] = set()
    for topic in topics:
        if not topic.strip():
            raise MessageError("a poll topic is empty")
        if len(topic) > MAX_TOPIC_CHARS:
            raise MessageError(f"poll topic {clip(topic, 40)!r} is longer than {MAX_TOPIC_CHARS} characters")
        if topic.casefold() in seen:
            raise MessageError(f"poll topic {topic!r} is listed twice")
        seen.add(topic.casefold())


def _at(values: Sequence[int], index: int) -> int:
    return values[index] if index < len(values) else 0


def _tally(picks: Sequence[int]) -> str:
    parts = [f"{count} {_RANK_WORDS[rank]}" for rank, count in enumerate(picks[:MAX_RANK]) if count]
    return ", ".join(parts) if parts else "no picks"
