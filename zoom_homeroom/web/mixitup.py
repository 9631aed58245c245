"""The Mix It Up pages: each week's poll (where its answers came from: Slack or an imported CSV) and its
groups with topic, members and join link, as a page, CSV and Markdown."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from ..core.formation import quality_summary
from ..core.models import mix_it_up_key
from ..services import mixitup
from .auth import error_page
from .context import get_runtime

bp = Blueprint("mix_it_up", __name__)
bp.register_error_handler(HTTPException, error_page)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Every Mix It Up week of the calendar, whether its groups are formed, and their quality."""
    runtime = get_runtime()
    storage, calendar = runtime.storage, runtime.calendar
    weeks = []
    for week in calendar.mix_it_up.weeks:
        day = mixitup.week_date(calendar, week)
        formation = storage.formation(day)
        meeting = storage.meeting(mix_it_up_key(day))
        weeks.append(
            {
                "week": week,
                "date": day,
                "formation": formation,
                "quality": quality_summary(formation.quality) if formation else None,
                "answers": len(storage.poll_answers(day)),
                "sources": storage.poll_respondents(day),
                "slack_poll": storage.slack_poll(day),
                "join_url": meeting.join_url if meeting else None,
            }
        )
    return render_template("mix_it_up/index.html", weeks=weeks, mix=calendar.mix_it_up)


@bp.get("/week/<int:week>")
def week_page(week: int) -> ResponseReturnValue:
    """The week's groups, ready to share."""
    shared = _shared(week)
    groups = [(group, shared.members_of(group)) for group in shared.formation.groups]
    quality = quality_summary(shared.formation.quality)
    return render_template("mix_it_up/week.html", shared=shared, groups=groups, quality=quality)


@bp.get("/week/<int:week>.csv")
def week_csv(week: int) -> Response:
    shared = _shared(week)
    return Response(
        mixitup.share_csv(shared),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=mix-it-up-week-{week}.csv"},
    )


@bp.get("/week/<int:week>.md")
def week_markdown(week: int) -> Response:
    """Markdown for Slack, shown as text so it can be copied."""
    return Response(mixitup.share_markdown(_shared(week)), mimetype="text/plain")


def _shared(week: int) -> mixitup.SharedGroups:
    """The week's groups; an unknown or unformed week is a NotFoundError, which the app answers 404."""
    return mixitup.shared_groups(get_runtime(), week)
