"""`homeroom init-db`, `config check` (with and without --zoom) and `GET /healthz`."""

from __future__ import annotations

from pathlib import Path

from tests.factories import calendar_doc, calendar_toml
from zoom_homeroom.cli import cli
from zoom_homeroom.sandbox import ZoomSandbox


def write_env(folder: Path, **values: str) -> None:
    (folder / ".env").write_text("".join(f"{key}={value}\n" for key, value in values.items()))


def test_config_check_lists_every_problem_of_env_and_calendar_in_one_run(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    doc = calendar_doc(timezone="Mars/Olympus", extra_key=1)
    doc["sessions"]["start"] = "1 pm"
    doc["modules"][1]["week1_monday"] = "2027-01-05"
    (tmp_path / "broken.toml").write_text(calendar_toml(doc))
    write_env(
        tmp_path,
        HOMEROOM_CONFIG="broken.toml",
        ZOOM_API_URL="not-a-url",
        HOMEROOM_SECRET_KEY="short",
        ZOOM_CLIENT_SECRET="s3cret-value-never-printed",
    )
    result = runner.invoke(cli, ["config", "check"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    text = "\n".join(lines)
    for expected in (
        "ZOOM_API_URL: 'not-a-url' is not an http(s) URL",
        "HOMEROOM_SECRET_KEY is too short",
        "broken.toml: timezone: 'Mars/Olympus' is not a time zone",
        "broken.toml: extra_key: unknown key",
        "broken.toml: sessions.start: '1 pm' is not a time of day",
        "2027-01-05 is a Tuesday, not a Monday",
        "ZOOM_ACCOUNT_ID is not set",
        "ZOOM_CLIENT_ID is not set",
        "ZOOM_WEBHOOK_SECRET_TOKEN is not set",
    ):
        assert expected in text, expected
    assert len(lines) == 9
    assert "s3cret-value-never-printed" not in result.output
    assert "Traceback" not in result.output


def test_config_check_passes_on_a_complete_setup(runner, env, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(cli, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


def test_config_check_zoom_reports_missing_scopes_and_unknown_hosts(runner, env, monkeypatch, clock):
    scopes = ("meeting:read:admin", "meeting:write:admin", "user:read:admin")  # no reports
    with ZoomSandbox(
        clock=clock, users=["mod1@school.example.org", "mod2@school.example.org"], scopes=scopes
    ) as box:
        box.add_user("mod3@school.example.org", type=1)  # Basic: meetings end at 40 minutes
        for key, value in {
            **env,
            "ZOOM_API_URL": box.api_url,
            "ZOOM_OAUTH_TOKEN_URL": box.token_url,
            "ZOOM_ACCOUNT_ID": box.account_id,
            "ZOOM_CLIENT_ID": box.client_id,
            "ZOOM_CLIENT_SECRET": box.client_secret,
        }.items():
            monkeypatch.setenv(key, value)
        result = runner.invoke(cli, ["config", "check", "--zoom"])
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    text = "\n".join(problems)
    assert "report:read:admin" in text
    assert "mod3@school.example.org" in text and "Basic" in text
    assert "mod4@school.example.org: no such user" in text
    assert "careers@school.example.org: no such user" in text
    assert "mod1@school.example.org" not in text


def test_config_check_zoom_with_bad_credentials_is_one_line(runner, env, monkeypatch, clock):
    with ZoomSandbox(clock=clock) as box:
        for key, value in {**env, "ZOOM_OAUTH_TOKEN_URL": box.token_url, "ZOOM_API_URL": box.api_url}.items():
            monkeypatch.setenv(key, value)
        result = runner.invoke(cli, ["config", "check", "--zoom"])
    assert result.exit_code == 1
    assert "invalid_client" in result.output or "ZOOM_CLIENT_SECRET" in result.output
    assert "test-client-secret-value" not in result.output


def test_init_db_applies_migrations_once(runner, runtime):
    first = runner.invoke(cli, ["init-db"], obj=runtime)
    assert first.exit_code == 0, first.output
    assert "schema is up to date" in first.output  # the runtime's storage migrated on open
    assert runtime.storage.schema_version()[:2] == ["m001_roster", "m002_meetings_and_sessions"]


def test_init_db_creates_a_new_database(runner, env, monkeypatch, tmp_path):
    monkeypatch.setenv("HOMEROOM_DATABASE", str(tmp_path / "fresh.db"))
    result = runner.invoke(cli, ["init-db"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh.db").is_file()


def test_healthz_is_open_and_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_the_service_refuses_to_start_without_a_secret_key(env, calendar):
    import pytest

    from zoom_homeroom import create_app
    from zoom_homeroom.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="HOMEROOM_SECRET_KEY is not set"):
        create_app(load_settings({**env, "HOMEROOM_SECRET_KEY": ""}), calendar=calendar)


def test_serve_without_a_secret_key_is_a_one_line_error(runner, env, monkeypatch):
    for key, value in {**env, "HOMEROOM_SECRET_KEY": ""}.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(cli, ["serve", "--port", "8099"])
    assert result.exit_code == 1
    assert "HOMEROOM_SECRET_KEY is not set" in result.output
    assert "Traceback" not in result.output


def _proxied_client(env, calendar, clock, proxies: str):
    from zoom_homeroom import create_app
    from zoom_homeroom.settings import load_settings

    settings = load_settings({**env, "HOMEROOM_TRUSTED_PROXIES": proxies})
    return create_app(settings, calendar=calendar, clock=clock).test_client()


def _failed_sign_ins(client, address: str, count: int) -> int:
    from tests.dashboard_data import form_token

    status = 0
    for attempt in range(count):
        headers = {"X-Forwarded-For": address}
        token = form_token(client, "/sign-in", headers=headers)
        data = {"csrf_token": token, "email": f"nobody{attempt}@x.org", "password": "wrong password here"}
        status = client.post("/sign-in", data=data, headers=headers).status_code
    return status


def test_behind_a_trusted_proxy_throttling_sees_each_client_address(env, calendar, clock):
    behind = _proxied_client(env, calendar, clock, "1")
    assert _failed_sign_ins(behind, "203.0.113.9", 6) == 429
    assert _failed_sign_ins(behind, "198.51.100.7", 1) == 200  # another client is not locked out

    direct = _proxied_client(env, calendar, clock, "0")  # the header is ignored: one address
    assert _failed_sign_ins(direct, "203.0.113.9", 6) == 429
    assert _failed_sign_ins(direct, "198.51.100.7", 1) == 429


def test_behind_a_trusted_proxy_cookies_are_secure_over_https(env, calendar, clock):
    headers = {"X-Forwarded-Proto": "https"}
    behind = _proxied_client(env, calendar, clock, "1").get("/sign-in", headers=headers)
    direct = _proxied_client(env, calendar, clock, "0").get("/sign-in", headers=headers)
    assert "Secure" in behind.headers["Set-Cookie"]
    assert "Secure" not in direct.headers["Set-Cookie"]


def test_trusted_proxies_must_be_a_small_number(env):
    import pytest

    from zoom_homeroom.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="HOMEROOM_TRUSTED_PROXIES: 'two' must be a whole number"):
        load_settings({**env, "HOMEROOM_TRUSTED_PROXIES": "two"})


def test_config_check_says_which_mix_it_up_date_applies_when_calendars_differ(
    runner, env, monkeypatch, tmp_path
):
    doc = calendar_doc()
    doc["modules"][3]["week1_monday"] = "2027-01-11"  # module 4 runs a week behind the others
    (tmp_path / "staggered.toml").write_text(calendar_toml(doc))
    for key, value in {**env, "HOMEROOM_CONFIG": str(tmp_path / "staggered.toml")}.items():
        monkeypatch.setenv(key, value)
    result = runner.invoke(cli, ["config", "check"])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: ")]
    assert notes, result.output
    assert any("2027-01-13" in note for note in notes)  # week 2's Mix It Up follows modules 1-3
    assert any("4" in note for note in notes)
