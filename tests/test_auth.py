"""Access to the dashboard and API: sign-in, CSRF, throttling, cookies, tokens, headers, the user CLI."""

from __future__ import annotations

import hashlib

import pytest

from tests import dashboard_data as data
from tests.dashboard_data import form_token, sign_in
from zoom_homeroom import create_app
from zoom_homeroom.cli import cli
from zoom_homeroom.services.users import verify_password
from zoom_homeroom.web.auth import safe_next

PAGES = ["/", "/sessions/homeroom:1:2027-01-20", "/students/1", "/modules/1", "/users", "/no/such/page"]
API_ROUTES = [
    "/api/sessions",
    "/api/attendance",
    "/api/attendance.csv",
    "/api/attendance?module=abc",
    "/api/nope",
]


def bearer(token: str = data.TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- what is open, what is not --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_sign_in_without_credentials(client, dataset, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_redirect_to_sign_in_remembers_the_page(client, dataset):
    response = client.get("/modules/1?x=1")
    assert response.headers["Location"] == "/sign-in?next=/modules/1?x%3D1"


@pytest.mark.parametrize("path", API_ROUTES)
def test_api_routes_answer_401_json_without_credentials(client, dataset, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.is_json and response.get_json()["error"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_form_post_without_a_session_goes_to_sign_in_and_changes_nothing(client, dataset, storage):
    response = client.post(
        f"/sessions/{dataset.week3}/override",
        data={"email": dataset.email("alan"), "action": "excused", "note": "x"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    assert storage.overrides(storage.session(dataset.week3).id) == {}


def test_healthz_and_the_webhook_are_open_without_sign_in_or_csrf(client):
    assert client.get("/healthz").status_code == 200
    # Reaches the webhook view (which checks Zoom's signature itself) instead of a redirect or a CSRF 400.
    response = client.post("/webhooks/zoom", data=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 401 and response.is_json


# -- signing in and out ---------------------------------------------------------------------------------


def test_rep_signs_in_and_sees_the_overview(client, dataset):
    response = sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert data.REP in page.get_data(as_text=True)


def test_sign_in_returns_to_the_page_asked_for(client, dataset):
    response = sign_in(client, next_path="/modules/2")
    assert response.headers["Location"] == "/modules/2"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "\\\\evil",
        "/\t/evil",
    ],
)
def test_sign_in_never_sends_anyone_to_another_site(client, dataset, target):
    response = sign_in(client, next_path=target)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/modules/1", "/modules/1"),
        ("/sessions/homeroom:1:2027-01-20?x=1", "/sessions/homeroom:1:2027-01-20?x=1"),
        (None, "/"),
        ("", "/"),
        ("modules/1", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
    ],
)
def test_safe_next(target, expected):
    assert safe_next(target) == expected


@pytest.mark.parametrize("email", [data.REP, "nobody@school.example.org"])
def test_a_wrong_password_or_unknown_email_gets_one_clear_message(client, dataset, email):
    response = sign_in(client, email=email, password="not the password at all")
    assert response.status_code == 200
    assert "That email and password do not match an account." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_in_logs_never_hold_a_password_or_unknown_typed_text(client, dataset, caplog):
    caplog.set_level("INFO")
    sign_in(client, email="my-password-typed-here", password="another secret value")
    sign_in(client, password="a wrong password")
    sign_in(client)
    assert "my-password-typed-here" not in caplog.text
    assert "another secret value" not in caplog.text and data.PASSWORD not in caplog.text
    assert f"sign-in failed for {data.REP}" in caplog.text and f"signed in: {data.REP}" in caplog.text


def test_sign_out_is_a_post_and_ends_the_session(client, dataset):
    sign_in(client)
    assert client.get("/sign-out").status_code == 405
    response = client.post("/sign-out", data={"csrf_token": form_token(client, "/")})
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    assert client.get("/").status_code == 302


def test_a_password_change_signs_the_user_out_everywhere(client, dataset, storage, clock):
    sign_in(client)
    assert client.get("/").status_code == 200
    storage.save_user(data.REP, "rep", "pbkdf2:sha256:1000$new$0000", now=clock())
    assert client.get("/").status_code == 302


def test_a_removed_user_is_signed_out(client, dataset, storage):
    sign_in(client)
    storage.remove_user(data.REP)
    assert client.get("/").status_code == 302


# -- CSRF --------------------------------------------------------------------------------------------


def test_csrf_is_enforced_even_in_testing(app):
    assert app.config["TESTING"] and app.config["WTF_CSRF_ENABLED"]


def test_a_form_posted_without_its_csrf_token_is_refused(client, dataset, storage):
    sign_in(client)
    response = client.post(
        f"/sessions/{dataset.week3}/override",
        data={"email": dataset.email("alan"), "action": "excused", "note": "Doctor"},
    )
    assert response.status_code == 400
    assert "This form has expired or did not come from this site" in response.get_data(as_text=True)
    assert storage.overrides(storage.session(dataset.week3).id) == {}


def test_sign_in_without_a_csrf_token_is_refused(client, dataset):
    response = client.post("/sign-in", data={"email": data.REP, "password": data.PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_csrf_can_be_switched_off_explicitly(settings, calendar, clock, dataset):
    app = create_app(settings, calendar=calendar, clock=clock)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    response = client.post("/sign-in", data={"email": data.REP, "password": data.PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"


# -- throttling ----------------------------------------------------------------------------------------


def fail(client, email: str = data.REP, address: str = "10.0.0.1"):
    return sign_in(client, email=email, password="wrong password!", environ_base={"REMOTE_ADDR": address})


def test_after_five_failures_even_the_right_password_is_refused_for_15_minutes(client, dataset, clock):
    for _ in range(5):
        assert fail(client).status_code == 200
    response = sign_in(client, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert response.status_code == 429
    assert "Too many failed sign-ins. Wait 15 minutes" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    clock.advance(minutes=15, seconds=1)
    assert sign_in(client, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302


def test_four_failures_are_not_throttled(client, dataset):
    for _ in range(4):
        fail(client)
    assert sign_in(client, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302


def test_failures_for_an_email_count_from_any_address(client, dataset):
    for number in range(5):
        fail(client, address=f"10.0.0.{number}")
    assert sign_in(client, environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 429


def test_failures_from_an_address_count_for_any_email(client, dataset):
    for number in range(5):
        fail(client, email=f"guess{number}@school.example.org", address="10.6.6.6")
    assert sign_in(client, environ_base={"REMOTE_ADDR": "10.6.6.6"}).status_code == 429
    assert sign_in(client, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 302


def test_a_good_sign_in_forgets_the_emails_failures(client, dataset):
    for _ in range(4):
        fail(client, address="10.0.0.1")
    assert sign_in(client, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302
    client.post("/sign-out", data={"csrf_token": form_token(client, "/")})
    for _ in range(4):
        fail(client, address="10.0.0.2")
    assert sign_in(client, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 302


def test_throttling_holds_across_workers(settings, calendar, clock, dataset):
    # Two apps on one database stand for two gunicorn workers.
    first = create_app(settings, calendar=calendar, clock=clock).test_client()
    second = create_app(settings, calendar=calendar, clock=clock).test_client()
    for _ in range(5):
        fail(first)
    assert sign_in(second, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 429


# -- cookies and headers ---------------------------------------------------------------------------------


def session_cookie(response) -> str:
    (cookie,) = [
        value for value in response.headers.getlist("Set-Cookie") if value.startswith("homeroom_session=")
    ]
    return cookie


def test_session_cookie_over_http_is_httponly_lax_and_not_secure(client, dataset):
    cookie = session_cookie(sign_in(client))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_over_https_is_secure(client, dataset):
    https = {"base_url": "https://localhost", "headers": {"Referer": "https://localhost/sign-in"}}
    response = sign_in(client, **https)
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("path", ["/sign-in", "/healthz", "/api/sessions", "/static/style.css", "/modules/1"])
def test_security_headers_on_every_response(client, path):
    with client.get(path) as response:  # a static file is streamed: close it
        headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


def test_pages_are_not_cached(client, dataset):
    sign_in(client)
    assert client.get("/").headers["Cache-Control"] == "no-store"


# -- API tokens -------------------------------------------------------------------------------------------


def test_a_bearer_token_opens_the_api(client, dataset, storage):
    response = client.get("/api/sessions", headers=bearer())
    assert response.status_code == 200
    assert "homeroom_session=" not in response.headers.get("Set-Cookie", "")
    (token,) = storage.tokens()
    assert token.last_used_at == data.NOW


def test_a_bearer_token_does_not_open_pages(client, dataset):
    assert client.get("/", headers=bearer()).status_code == 302


@pytest.mark.parametrize("header", ["Bearer wrong-token", "Bearer ", "Basic cmVwOnB3", data.TOKEN])
def test_a_wrong_or_malformed_token_is_401(client, dataset, header):
    assert client.get("/api/sessions", headers={"Authorization": header}).status_code == 401


# -- users page ---------------------------------------------------------------------------------------------


def test_only_admins_see_the_users_page(client, dataset):
    sign_in(client)
    assert "/users" not in client.get("/").get_data(as_text=True)
    response = client.get("/users")
    assert response.status_code == 403
    assert "Only admins can see users" in response.get_data(as_text=True)


def test_the_users_page_lists_users_and_token_names_but_no_secrets(client, dataset, storage):
    sign_in(client, email=data.ADMIN)
    page = client.get("/users").get_data(as_text=True)
    assert data.REP in page and data.ADMIN in page and data.TOKEN_NAME in page
    assert data.TOKEN not in page
    assert storage.user_by_email(data.REP).password_hash not in page
    assert hashlib.sha256(data.TOKEN.encode()).hexdigest() not in page


# -- the user and token commands --------------------------------------------------------------------------------


def test_user_add_prompts_twice_and_stores_a_salted_scrypt_hash(runner, runtime):
    password = "a long enough password"
    result = runner.invoke(
        cli,
        ["user", "add", "New.Rep@School.Example.org", "--role", "rep"],
        input=f"{password}\n{password}\n",
        obj=runtime,
    )
    assert result.exit_code == 0, result.output
    assert "added rep new.rep@school.example.org" in result.output
    user = runtime.storage.user_by_email("new.rep@school.example.org")
    assert user.role == "rep" and user.password_hash.startswith("scrypt:")
    assert password not in user.password_hash
    assert verify_password(user, password) and not verify_password(user, password + "!")


def test_user_add_reads_the_password_from_stdin(runner, runtime):
    result = runner.invoke(
        cli,
        ["user", "add", "boss@school.example.org", "--role", "admin", "--password-stdin"],
        input="twelve chars!\n",
        obj=runtime,
    )
    assert result.exit_code == 0, result.output
    assert verify_password(runtime.storage.user_by_email("boss@school.example.org"), "twelve chars!")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["user", "add", "rep@school.example.org", "--role", "rep", "--password-stdin"],
            "short\n",
            "at least 12 characters",
        ),
        (
            ["user", "add", "not-an-email", "--role", "rep", "--password-stdin"],
            "long enough password\n",
            "is not an email address",
        ),
        (
            ["user", "add", "rep@school.example.org", "--role", "boss", "--password-stdin"],
            "long enough password\n",
            "Invalid value for '--role'",
        ),
        (["user", "remove", "nobody@school.example.org"], "", "no user 'nobody@school.example.org'"),
        (["token", "revoke", "nothing"], "", "no token named 'nothing'"),
        (["token", "create", "bad name!"], "", "a token name is 1 to 64 letters"),
    ],
)
def test_user_and_token_mistakes_are_one_line_errors(runner, runtime, args, stdin, message):
    result = runner.invoke(cli, args, input=stdin, obj=runtime)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert runtime.storage.users() == []


def test_user_list_and_remove(runner, runtime):
    runner.invoke(
        cli,
        ["user", "add", "a@school.example.org", "--role", "rep", "--password-stdin"],
        input="x" * 12,
        obj=runtime,
    )
    listing = runner.invoke(cli, ["user", "list"], obj=runtime)
    assert "a@school.example.org" in listing.output and "rep" in listing.output
    assert runner.invoke(cli, ["user", "remove", "A@school.example.org"], obj=runtime).exit_code == 0
    assert runtime.storage.users() == []


def test_token_create_prints_the_token_alone_on_the_last_line_and_stores_only_its_hash(runner, runtime, app):
    result = runner.invoke(cli, ["token", "create", "sheets"], obj=runtime)
    assert result.exit_code == 0, result.output
    token = result.output.splitlines()[-1]
    assert token == token.strip() and len(token) >= 40 and " " not in token
    assert token not in "\n".join(result.output.splitlines()[:-1])
    stored = list(runtime.storage.db.query("SELECT * FROM api_tokens"))
    assert stored[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for row in stored for value in row.values())
    assert app.test_client().get("/api/sessions", headers=bearer(token)).status_code == 200


def test_token_names_are_unique_list_hides_tokens_and_revoke_closes_the_api(runner, runtime, app):
    token = runner.invoke(cli, ["token", "create", "sheets"], obj=runtime).output.splitlines()[-1]
    duplicate = runner.invoke(cli, ["token", "create", "sheets"], obj=runtime)
    assert duplicate.exit_code != 0 and "a token named 'sheets' exists" in duplicate.output
    listing = runner.invoke(cli, ["token", "list"], obj=runtime).output
    assert "sheets" in listing and "never" in listing and token not in listing
    assert runner.invoke(cli, ["token", "revoke", "sheets"], obj=runtime).exit_code == 0
    assert app.test_client().get("/api/sessions", headers=bearer(token)).status_code == 401
