"""The Mix It Up pages: the week's groups with topic, members and join link, as a page, CSV and Markdown."""

from __future__ import annotations

import datetime as dt

from tests import dashboard_data as data


def test_the_nav_links_to_mix_it_up_and_the_index_lists_its_weeks(rep):
    overview = rep.get("/").get_data(as_text=True)
    assert 'href="/mix-it-up/"' in overview
    html = rep.get("/mix-it-up/").get_data(as_text=True)
    assert 'href="/mix-it-up/week/2">Week 2</a>' in html
    assert "Wed 13 Jan 2027" in html
    assert "not formed yet" in html  # week 4


def test_the_week_page_lists_groups_members_and_the_join_link(rep):
    html = rep.get("/mix-it-up/week/2").get_data(as_text=True)
    assert "1 · Technical interviews" in html and "2 · Resume review" in html
    assert 'Ada Lovelace <span class="sub">Mod 1 · ' in html
    assert "Join on Zoom" in html
    assert (
        "Quality: first choice 75%, top 2 100% (of 4 who answered); single-module groups 0, "
        "single-program groups 1; isolated students 0; repeated pairs 0. Solver (0.50 s): optimal for "
        "topic choices and mixing; group sizes: time limit reached; best found"
    ) in html
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;y&#34;)" in html  # names are escaped


def test_csv_and_markdown_for_slack(rep):
    csv_response = rep.get("/mix-it-up/week/2.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Disposition"] == "attachment; filename=mix-it-up-week-2.csv"
    text = csv_response.get_data(as_text=True)
    assert text.startswith("group,topic,name,email,module,program")
    assert "'=HYPERLINK" in text
    markdown = rep.get("/mix-it-up/week/2.md")
    assert markdown.mimetype == "text/plain"
    assert "*1 · Technical interviews*: Ada Lovelace (Mod 1" in markdown.get_data(as_text=True)


def test_an_unformed_or_unknown_week_is_404(rep):
    assert rep.get("/mix-it-up/week/4").status_code == 404
    assert rep.get("/mix-it-up/week/3").status_code == 404


def test_mix_it_up_pages_need_sign_in(client, storage, calendar, clock):
    clock.now = data.NOW
    data.fill(storage, calendar)
    response = client.get("/mix-it-up/week/2")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_the_index_says_where_the_poll_answers_came_from(rep, storage):
    day = dt.date(2027, 1, 13)
    ada, bob, cy = (student.id for student in storage.students()[:3])
    storage.replace_poll_answers(day, 2, [(ada, "Resume review", 1)])  # imported
    storage.save_slack_poll(
        day, 2, channel="C0MIX1234", ts="1.000001", topics=["Open source"], ranks=1, now=data.NOW
    )
    storage.save_slack_pick(day, 2, bob, 1, "Open source", now=data.NOW)
    storage.save_slack_pick(day, 2, cy, 1, "Open source", now=data.NOW)
    html = rep.get("/mix-it-up/").get_data(as_text=True)
    assert '<div class="sub">CSV 1 · Slack 2</div>' in html
    assert "Slack poll open" in html
    storage.close_slack_poll(day, now=data.NOW)
    assert "Slack poll closed Thu 21 Jan" in rep.get("/mix-it-up/").get_data(as_text=True)
