"""The student page shows the personal Zoom link when registration is on (and only a web address)."""

from __future__ import annotations

import pytest

from tests import dashboard_data as data
from tests.dashboard_data import sign_in
from tests.factories import utc
from tests.test_registration import registration_calendar
from zoom_homeroom import create_app
from zoom_homeroom.core.registration import Registration

SERIES = "homeroom:1:2027-01-04"
LINK = "https://us02web.zoom.us/w/85746060001?tk=abc.DQIAAA&pwd=xyz"


@pytest.fixture
def registration() -> bool:
    return True


@pytest.fixture
def app(settings, clock, registration):
    app = create_app(settings, calendar=registration_calendar(registration), clock=clock)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def ada(storage, calendar, clock, client) -> int:
    clock.now = data.NOW
    dataset = data.fill(storage, calendar)
    assert sign_in(client).status_code == 302
    return dataset.students["ada"]


def register(storage, student_id: int, join_url: str) -> None:
    meeting = storage.meeting(SERIES)
    student = storage.student(student_id)
    registration = Registration(student_id, student.email, "r-ada", join_url)
    storage.save_registrations(SERIES, meeting.zoom_meeting_id, [registration], now=utc("2027-01-03 12:00"))


def student_page(client, student_id: int) -> str:
    response = client.get(f"/students/{student_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_student_page_shows_the_personal_link(client, storage, ada):
    register(storage, ada, LINK)
    html = student_page(client, ada)
    assert f'<a href="{LINK.replace("&", "&amp;")}" rel="noopener noreferrer">' in html


def test_a_student_not_registered_yet_is_said_so(client, ada):
    assert "none yet (the next sync registers the student)" in student_page(client, ada)


def test_a_link_that_is_not_a_web_address_is_never_a_link(client, storage, ada):
    register(storage, ada, "javascript:alert(1)")
    html = student_page(client, ada)
    assert "javascript:" not in html
    assert "none yet" in html


@pytest.mark.parametrize("registration", [False])
def test_without_registration_the_page_says_nothing_of_links(client, storage, ada):
    register(storage, ada, LINK)
    assert "Personal Zoom link" not in student_page(client, ada)
