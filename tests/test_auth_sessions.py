"""Dashboard sessions are kept server-side (issue 12, item 3): signing out, `user remove` and a password
change end them, and a copy of the cookie taken before stops working."""

from __future__ import annotations

import hashlib

import pytest

from tests import dashboard_data as data
from tests.dashboard_data import form_token, sign_in
from zoom_homeroom.cli import cli

COOKIE = "homeroom_session"


@pytest.fixture
def signed_in(app, dataset):
    """A browser signed in as the rep, and a second client holding a copy of its session cookie."""
    browser = app.test_client()
    assert sign_in(browser).status_code == 302
    thief = app.test_client()
    thief.set_cookie(COOKIE, browser.get_cookie(COOKIE).value)
    assert thief.get("/").status_code == 200  # the copy works while the session lasts
    return browser, thief


def signed_out(client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_a_copied_cookie_stops_working_after_sign_out(signed_in):
    browser, thief = signed_in
    assert browser.post("/sign-out", data={"csrf_token": form_token(browser, "/")}).status_code == 302
    assert signed_out(browser)
    assert signed_out(thief)
    assert thief.get("/api/attendance").status_code == 401


def test_signing_out_ends_only_that_session(app, signed_in):
    browser, _ = signed_in
    phone = app.test_client()
    assert sign_in(phone).status_code == 302
    assert browser.post("/sign-out", data={"csrf_token": form_token(browser, "/")}).status_code == 302
    assert phone.get("/").status_code == 200


def test_user_remove_ends_every_session_of_the_user(signed_in, runner, runtime):
    browser, thief = signed_in
    assert runner.invoke(cli, ["user", "remove", data.REP], obj=runtime).exit_code == 0
    assert signed_out(browser) and signed_out(thief)


def test_a_password_change_ends_every_session_of_the_user(signed_in, runner, runtime):
    browser, thief = signed_in
    result = runner.invoke(
        cli,
        ["user", "add", data.REP, "--role", "rep", "--password-stdin"],
        input="a new long password\n",
        obj=runtime,
    )
    assert result.exit_code == 0, result.output
    assert signed_out(browser) and signed_out(thief)


def test_a_session_ends_after_its_12_hours_even_with_a_cookie_kept_alive(signed_in, clock):
    browser, _ = signed_in
    clock.advance(hours=11, minutes=59)
    assert browser.get("/").status_code == 200
    clock.advance(minutes=2)
    assert signed_out(browser)


def test_only_the_hash_of_a_session_id_is_stored(app, signed_in, storage):
    browser, _ = signed_in
    with app.test_request_context():
        cookie = app.session_interface.get_signing_serializer(app).loads(browser.get_cookie(COOKIE).value)
    session_id = cookie["_user_id"]
    rows = storage.db.execute("SELECT id_hash, user_id, created_at, expires_at FROM user_sessions").fetchall()
    assert [row[0] for row in rows] == [hashlib.sha256(session_id.encode()).hexdigest()]
    rep = storage.user_by_email(data.REP)
    assert rows[0][1:] == (rep.id, "2027-01-21T18:00:00Z", "2027-01-22T06:00:00Z")
    assert session_id not in str(rows)


def test_a_cookie_naming_no_session_is_refused(app, dataset, clock):
    client = app.test_client()
    with app.test_request_context():
        forged = app.session_interface.get_signing_serializer(app).dumps(
            {"_user_id": "1", "_fresh": True, "_permanent": True}
        )
    client.set_cookie(COOKIE, forged)
    assert signed_out(client)
