"""The dashboard pages: what reps see, the forms that correct attendance, escaping, errors, the charts."""

from __future__ import annotations

import re

import pytest

from tests import dashboard_data as data
from tests.dashboard_data import form_token
from tests.factories import utc
from zoom_homeroom.web.charts import Bar, describe, stacked_bars
from zoom_homeroom.web.dashboard import NOT_A_STUDENT, attendance_rate

ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def row_of(html: str, text: str) -> str:
    """The table row (or unmatched card) containing `text`."""
    for chunk in re.split(r"<tr>|<article", html):
        if text in chunk:
            return chunk.split("</tr>")[0].split("</article>")[0]
    raise AssertionError(f"no row with {text!r}")


def post_form(client, path: str, form_page: str, **fields: str):
    return client.post(path, data={"csrf_token": form_token(client, form_page), **fields})


# -- overview ------------------------------------------------------------------------------------------


def test_overview_shows_each_modules_latest_and_next_session_in_local_time(rep, dataset):
    html = page(rep, "/")
    module_1 = html.split("Module 1</a></h2>")[1].split("</section>")[0]
    assert f'href="/sessions/{dataset.week3}">Week 3</a>' in module_1
    assert f'href="/sessions/{dataset.week4}">Week 4</a>' in module_1
    assert "Wed 27 Jan" in module_1 and "13:00 MST" in module_1  # 20:00 UTC in Denver
    assert 'href="https://zoom.example/j/' in module_1 and "Join on Zoom" in module_1


def test_overview_shows_rates_counts_and_a_chart_with_a_text_alternative(rep):
    html = page(rep, "/")
    module_1 = html.split("Module 1</a></h2>")[1].split("</section>")[0]
    # Weeks 1-3: 12 present, 1 late, 2 partial, 3 absent -> 13 of 18 attended.
    assert "72%" in module_1
    counts = dict(re.findall(r"</span>(\w+) <strong>(\d+)</strong>", module_1))
    assert counts == {"present": "12", "late": "1", "partial": "2", "absent": "3", "excused": "0"}
    assert 'role="img"' in module_1
    assert "<desc" in module_1 and "Week 1: 4 present, 1 late, 1 partial." in module_1
    assert "Week 4: no records yet." in module_1


def test_overview_lists_unmatched_participants_waiting_with_links(rep, dataset):
    html = page(rep, "/")
    assert "2 unmatched participants waiting" in html
    assert f'href="/sessions/{dataset.week3}#unmatched"' in html
    assert f'href="/sessions/{dataset.week2}#unmatched"' in html


def test_overview_offers_the_join_link_of_a_session_on_now(rep, dataset, clock):
    clock.now = utc("2027-01-20 20:30")  # halfway through week 3
    module_1 = page(rep, "/").split("Module 1</a></h2>")[1].split("</section>")[0]
    latest = module_1.split("<dt>Latest</dt>")[1].split("</dd>")[0]
    assert ">Week 3</a>" in latest and "Join on Zoom" in latest


def test_overview_of_modules_without_sessions_says_so(rep):
    module_3 = page(rep, "/").split("Module 3</a></h2>")[1].split("</section>")[0]
    assert "No sessions yet" in module_3


# -- a session -----------------------------------------------------------------------------------------


def test_session_page_shows_groups_statuses_minutes_first_join_and_room_check(rep, dataset):
    html = page(rep, "/sessions/homeroom:1:2027-01-06")
    assert "Group 1" in html and "Group 2" in html
    grace = row_of(html, "Grace Hopper")
    assert "status-late" in grace and ">48<" in grace and "13:12" in grace and "room-ok" in grace
    assert "room-wrong" in row_of(html, "Katherine Johnson")  # most of her time in group 1's room
    assert "Final" in html and 'href="https://zoom.example/j/' in html


def test_pending_session_says_attendance_is_provisional(rep, dataset):
    html = page(rep, f"/sessions/{dataset.week3}")
    assert "Pending" in html and "provisional" in html
    alan = row_of(html, "Alan Turing")
    assert "status-absent" in alan and "room-none" in alan


def test_session_not_held_yet_lists_expected_students_without_a_status(rep, dataset):
    html = page(rep, f"/sessions/{dataset.week4}")
    assert "This session has not started yet." in html
    assert "upcoming" in row_of(html, "Ada Lovelace")
    assert "status-absent" not in html


def test_mix_it_up_session_shows_its_groups_topics(rep, dataset):
    html = page(rep, f"/sessions/{dataset.mix_it_up}")
    assert "Technical interviews" in html and "Resume review" in html
    assert "status-absent" in row_of(html, "Grace Hopper")


def test_unmatched_participant_is_shown_with_likely_candidates(rep, dataset):
    html = page(rep, f"/sessions/{dataset.week3}")
    card = row_of(html, "Katherine J.")
    likely = card.split('<optgroup label="Likely">')[1].split("</optgroup>")[0]
    assert dataset.email("katherine") in likely
    assert f'value="{NOT_A_STUDENT}"' in card


def test_assigning_an_unmatched_participant_credits_the_student(rep, dataset):
    session_page = f"/sessions/{dataset.week3}"
    response = post_form(
        rep,
        f"{session_page}/assign",
        session_page,
        ident=dataset.nickname_ident,
        student=dataset.email("katherine"),
    )
    assert response.status_code == 302 and response.headers["Location"] == f"{session_page}#unmatched"
    html = page(rep, session_page)
    assert f"Katherine J. is now {dataset.email('katherine')} in every session." in html
    katherine = row_of(html, "Katherine Johnson</a>")
    assert "status-present" in katherine and ">57<" in katherine
    assert "Katherine J.</strong>" not in html
    records = rep.get("/api/attendance?module=1&week=3").get_json()["records"]
    assert {r["email"]: r["status"] for r in records}[dataset.email("katherine")] == "present"


def test_marking_a_participant_not_a_student_clears_them(rep, dataset):
    session_page = f"/sessions/{dataset.week2}"
    post_form(rep, f"{session_page}/assign", session_page, ident=dataset.guest_ident, student=NOT_A_STUDENT)
    html = page(rep, session_page)
    assert "is now not a student in every session" in html
    assert "Careers Team (guest)</strong>" not in html
    assert "1 unmatched participant waiting" in page(rep, "/")


def test_excusing_a_student_changes_every_page_and_the_api_and_clearing_restores_it(rep, dataset):
    session_page = f"/sessions/{dataset.week3}"
    alan = dataset.email("alan")
    response = post_form(
        rep, f"{session_page}/override", session_page, email=alan, action="excused", note="Doctor's visit"
    )
    assert response.headers["Location"] == f"{session_page}#attendance"
    row = row_of(page(rep, session_page), "Alan Turing</a>")
    assert (
        "status-excused" in row
        and data.REP in row
        and "Doctor&#39;s visit" in row
        and "computed: absent" in row
    )
    grid_row = row_of(page(rep, "/modules/1"), "Alan Turing")
    assert re.search(r'class="cell cell-excused" title="Week 3: excused">E<', grid_row)
    assert "excused" in row_of(page(rep, f"/students/{dataset.students['alan']}"), "Week 3")
    records = rep.get("/api/attendance?module=1&week=3").get_json()["records"]
    assert {r["email"]: r["status"] for r in records}[alan] == "excused"

    post_form(rep, f"{session_page}/override", session_page, email=alan, action="clear")
    assert "status-absent" in row_of(page(rep, session_page), "Alan Turing</a>")


def test_excusing_without_a_note_is_a_flashed_error(rep, dataset, storage):
    session_page = f"/sessions/{dataset.week3}"
    response = post_form(
        rep, f"{session_page}/override", session_page, email=dataset.email("alan"), action="excused"
    )
    assert response.status_code == 302
    assert "say why in a note" in page(rep, session_page)
    assert storage.overrides(storage.session(dataset.week3).id) == {}


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("override", {"email": "alan@students.example.org", "action": "destroy", "note": "x"}),
        ("override", {"action": "excused", "note": "x"}),
        ("assign", {"student": NOT_A_STUDENT}),
        ("assign", {"ident": "name:someone"}),
    ],
)
def test_malformed_forms_get_a_400_page(rep, dataset, action, fields):
    session_page = f"/sessions/{dataset.week3}"
    response = post_form(rep, f"{session_page}/{action}", session_page, **fields)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "Bad Request" in body and "Back to the overview" in body


@pytest.mark.parametrize(
    ("action", "fields", "message"),
    [
        ("assign", {"ident": "name:nobody", "student": NOT_A_STUDENT}, "no unmatched participant"),
        ("assign", {"ident": "NICKNAME", "student": "ghost@students.example.org"}, "no student with email"),
        ("override", {"email": "ghost@students.example.org", "action": "excused", "note": "x"}, "no student"),
    ],
)
def test_impossible_requests_are_flashed_errors(rep, dataset, action, fields, message):
    session_page = f"/sessions/{dataset.week3}"
    fields = {
        name: dataset.nickname_ident if value == "NICKNAME" else value for name, value in fields.items()
    }
    response = post_form(rep, f"{session_page}/{action}", session_page, **fields)
    assert response.status_code == 302
    html = page(rep, session_page)
    assert 'class="flash flash-error"' in html and message in html


@pytest.mark.parametrize(
    "path", ["/sessions/homeroom:9:2027-01-06", "/students/999", "/students/abc", "/modules/9", "/nowhere"]
)
def test_unknown_ids_are_404(rep, path):
    response = rep.get(path)
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)


def test_posting_to_an_unknown_session_is_404(rep, dataset):
    session_page = f"/sessions/{dataset.week3}"
    response = post_form(rep, "/sessions/nope/override", session_page, email="a@b.org", action="clear")
    assert response.status_code == 404


# -- a student, a module -------------------------------------------------------------------------------


def test_student_page_shows_every_session_and_groups_over_time(rep, dataset):
    html = page(rep, f"/students/{dataset.students['ken']}")
    assert "Module 2 · Week 1" in html and "Mix It Up · Week 2" in html
    assert "status-late" in row_of(html, "Module 2 · Week 3")
    assert "joined group 2" in html and "group 2 → 1" in html


def test_module_grid_shows_each_status_as_a_letter_and_a_colour(rep, dataset):
    html = page(rep, "/modules/1")
    grace = row_of(html, "Grace Hopper")
    assert re.search(r'class="cell cell-late" title="Week 1: late">L<', grace)
    assert re.search(r'class="cell cell-present" title="Week 2: present">P<', grace)
    assert 'title="Week 4: no records yet"' in grace
    mix_it_up = html.split(">Mix It Up</h2>")[1]
    assert 'title="Week 2: not expected"' in row_of(mix_it_up, "Katherine Johnson")
    assert 'class="cell cell-absent" title="Week 2: absent">A<' in row_of(mix_it_up, "Grace Hopper")


# -- escaping ------------------------------------------------------------------------------------------


def pages_with_the_script_student(dataset: data.Dataset) -> list[str]:
    return [
        "/sessions/homeroom:1:2027-01-06",
        f"/sessions/{dataset.week3}",
        f"/sessions/{dataset.week4}",
        f"/students/{dataset.students['script']}",
        "/modules/1",
    ]


def test_a_roster_name_with_markup_shows_as_text_on_every_page(rep, dataset):
    for path in pages_with_the_script_student(dataset):
        html = page(rep, path)
        assert ESCAPED_SCRIPT in html, path
        assert "<script" not in html, path


def test_no_page_has_inline_script_or_style(rep, dataset):
    for path in ["/", "/users", "/sign-in", *pages_with_the_script_student(dataset)]:
        html = rep.get(path).get_data(as_text=True)
        assert "<script" not in html and "<style" not in html and " style=" not in html, path


def test_a_zoom_name_with_markup_is_escaped(rep, dataset, storage):
    from zoom_homeroom.core.attendance import Edge
    from zoom_homeroom.core.matching import ZoomIdentity

    session = storage.session(dataset.week3)
    hostile = ZoomIdentity('<img src=x onerror="alert(1)">')
    storage.add_presence(session.id, [Edge("x1", "webhook", "", "join", session.start, hostile)])
    html = page(rep, f"/sessions/{dataset.week3}")
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<img" not in html


# -- layout --------------------------------------------------------------------------------------------


def test_pages_are_made_for_small_screens(rep):
    html = page(rep, "/modules/1")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'class="table-wrap' in html
    css = rep.get("/static/style.css")
    assert "overflow-x: auto" in css.get_data(as_text=True) and "@media (max-width: 640px)" in css.get_data(
        as_text=True
    )
    css.close()


# -- pieces ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "rate"),
    [
        ({"present": 3, "late": 1, "absent": 4}, 50),
        ({"present": 1, "excused": 5}, 100),  # excused records do not count
        ({"partial": 2, "present": 1}, 33),
        ({"excused": 2}, None),
        ({}, None),
    ],
)
def test_attendance_rate(counts, rate):
    assert attendance_rate(counts) == rate


def test_stacked_bars_stack_by_status_in_proportion_and_escape_text():
    bars = [Bar("W1", "Week 1", {"present": 3, "absent": 1}), Bar("W2", "Week <2>", {})]
    svg = str(stacked_bars(bars, title='Module "1" <b>', chart_id="c1"))
    heights = {
        status: float(h)
        for status, h in re.findall(r'bar-(\w+)" x="[\d.]+" y="[\d.]+" width="\d+" height="([\d.]+)"', svg)
    }
    assert heights["present"] == pytest.approx(3 * heights["absent"])
    assert svg.index("bar-present") < svg.index("bar-absent")  # present drawn first, at the bottom
    assert "&lt;b&gt;" in svg and "<b>" not in svg and "Week &lt;2&gt;" in svg
    assert 'aria-labelledby="c1-title c1-desc"' in svg


def test_describe_is_the_charts_text_alternative():
    bars = [Bar("W1", "Week 1", {"late": 2, "present": 5}), Bar("W2", "Week 2", {})]
    assert describe(bars) == "Week 1: 5 present, 2 late. Week 2: no records yet."


def test_overview_and_module_grid_show_only_the_current_cycle(rep, storage, calendar, dataset):
    import datetime as dt

    from zoom_homeroom.core.attendance import Edge, ZoomIdentity
    from zoom_homeroom.core.models import PlannedSession

    before = page(rep, "/").split("Module 1</a></h2>")[1].split("</section>")[0]
    old = PlannedSession(
        "homeroom", 1, 1, dt.date(2026, 11, 25), utc("2026-11-25 20:00"), utc("2026-11-25 21:00")
    )
    storage.upsert_sessions([old], meeting_key=None, occurrence_ids={})
    session = storage.session(old.key)
    ada = storage.student_by_email("ada@students.example.org")
    identity = ZoomIdentity(ada.name, ada.email)
    storage.add_presence(
        session.id,
        [
            Edge("c1", "webhook", "", "join", utc("2026-11-25 20:00"), identity),
            Edge("c1", "webhook", "", "leave", utc("2026-11-25 21:00"), identity),
        ],
    )
    after = page(rep, "/").split("Module 1</a></h2>")[1].split("</section>")[0]
    assert after == before  # last cycle's cohort does not count in this cycle's figures
    grid = page(rep, "/modules/1")
    assert old.key not in grid
    assert old.key in page(rep, f"/students/{ada.id}")  # the student's own history keeps it
