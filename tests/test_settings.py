"""Settings from the environment and the calendar file: every problem reported at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, TEST_CLIENT_SECRET, TEST_SECRET_KEY, TEST_WEBHOOK_SECRET
from tests.factories import calendar_doc, calendar_toml
from zoom_homeroom.settings import (
    DEFAULT_API_URL,
    DEFAULT_OAUTH_TOKEN_URL,
    ConfigError,
    check_all,
    load_calendar,
    load_settings,
)


def test_defaults_apply_when_only_credentials_are_set(tmp_path: Path):
    settings = load_settings({"ZOOM_ACCOUNT_ID": "acc"})
    assert settings.zoom_api_url == DEFAULT_API_URL
    assert settings.zoom_oauth_token_url == DEFAULT_OAUTH_TOKEN_URL
    assert settings.database == Path("homeroom.db")
    assert settings.config_path == Path("config/homeroom.toml")
    assert settings.missing_zoom_credentials() == ["ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"]


def test_repr_and_errors_never_show_secrets(settings):
    text = repr(settings) + str(settings)
    for secret in (TEST_CLIENT_SECRET, TEST_WEBHOOK_SECRET, TEST_SECRET_KEY):
        assert secret not in text
    assert "test-client" in text  # the client id is not a secret


def test_every_problem_is_reported_at_once(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "ZOOM_API_URL": "ftp://nope",
                "ZOOM_OAUTH_TOKEN_URL": "not a url",
                "HOMEROOM_DATABASE": str(tmp_path / "missing-dir" / "x.db"),
                "HOMEROOM_SECRET_KEY": "short-secret",
                "SLACK_BOT_TOKEN": "xoxp-a-user-token-not-the-bot",
            }
        )
    problems = caught.value.problems
    assert len(problems) == 5
    assert any(p.startswith("ZOOM_API_URL") for p in problems)
    assert any(p.startswith("ZOOM_OAUTH_TOKEN_URL") for p in problems)
    assert any("missing-dir" in p for p in problems)
    assert any("HOMEROOM_SECRET_KEY is too short" in p for p in problems)
    assert any(p.startswith("SLACK_BOT_TOKEN must be the app's Bot User OAuth Token") for p in problems)
    assert "short-secret" not in str(caught.value)
    assert "xoxp-a-user-token" not in str(caught.value)


def test_require_zoom_names_each_missing_variable():
    with pytest.raises(ConfigError) as caught:
        load_settings({"ZOOM_CLIENT_ID": "id"}).require_zoom()
    assert [p.split()[0] for p in caught.value.problems] == [
        "ZOOM_ACCOUNT_ID",
        "ZOOM_CLIENT_SECRET",
    ]


def test_dotenv_is_read_but_never_overrides_the_environment(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("ZOOM_ACCOUNT_ID=from-dotenv\nZOOM_CLIENT_ID=dotenv-client\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOOM_CLIENT_ID", "from-environment")
    settings = load_settings()
    assert settings.zoom_account_id == "from-dotenv"
    assert settings.zoom_client_id == "from-environment"


def test_calendar_file_problems_name_the_file(tmp_path: Path):
    doc = calendar_doc(timezone="Mars/Base", colour="blue")
    doc["sessions"]["start"] = "1pm"
    doc["modules"][0]["week1_monday"] = "2027-01-05"
    path = tmp_path / "homeroom.toml"
    path.write_text(calendar_toml(doc))
    with pytest.raises(ConfigError) as caught:
        load_calendar(path)
    problems = caught.value.problems
    assert all(p.startswith(f"{path}: ") for p in problems)
    text = "\n".join(problems)
    assert "'Mars/Base' is not a time zone" in text
    assert "colour: unknown key" in text
    assert "sessions.start: '1pm' is not a time of day" in text
    assert "2027-01-05 is a Tuesday, not a Monday" in text


def test_toml_syntax_error_is_one_clear_line(tmp_path: Path):
    path = tmp_path / "homeroom.toml"
    path.write_text('timezone = "America/Denver\n')
    with pytest.raises(ConfigError) as caught:
        load_calendar(path)
    assert caught.value.problems[0].startswith(f"{path}: not valid TOML")


def test_missing_calendar_file_says_which_variable(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file .set HOMEROOM_CONFIG"):
        load_calendar(tmp_path / "nope.toml")


def test_check_all_combines_environment_and_calendar(tmp_path: Path):
    broken = tmp_path / "broken.toml"
    broken.write_text(calendar_toml(calendar_doc(timezone="Nowhere/Land")))
    _, calendar, problems = check_all({"HOMEROOM_CONFIG": str(broken), "ZOOM_API_URL": "nonsense"})
    assert calendar is None
    text = "\n".join(problems)
    for expected in (
        "ZOOM_API_URL",
        "'Nowhere/Land' is not a time zone",
        "ZOOM_ACCOUNT_ID is not set",
        "ZOOM_CLIENT_ID is not set",
        "ZOOM_CLIENT_SECRET is not set",
        "ZOOM_WEBHOOK_SECRET_TOKEN is not set",
        "HOMEROOM_SECRET_KEY is not set",
    ):
        assert expected in text


def test_env_example_and_the_readme_list_every_variable_the_settings_read():
    source = (PROJECT_ROOT / "zoom_homeroom" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL"} <= read
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert sorted(name for name in read if not re.search(rf"^{name}=", example, re.MULTILINE)) == []
    assert sorted(name for name in read if f"`{name}`" not in readme) == []
    assert "SLACK_WEBHOOK_URL=" not in example
