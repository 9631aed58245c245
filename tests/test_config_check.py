"""`homeroom config check` (issue 12, items 12 and 14): a weak HOMEROOM_SECRET_KEY, the demo's admin in
a real database, a module whose skip dates remove every session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import calendar_doc, calendar_toml, utc
from zoom_homeroom.cli import cli
from zoom_homeroom.services.users import DEMO_MARKER, DEMO_PASSWORD, DEMO_USER, hash_password
from zoom_homeroom.settings import secret_key_problems
from zoom_homeroom.storage import Storage

GOOD_KEYS = [
    "3f9a1c0be47d52a86f0e19cb7d3a4e25",  # secrets.token_hex(16): 32 bytes
    "b1e0c3f5a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2",  # token_hex(32)
    "kX2_9vQm-T4rZp8LwN0sYb6JcUe1HfAd3GiOtRy5VnM",  # token_urlsafe(32)
]


def check(runner, monkeypatch, env: dict[str, str], **overrides: str):
    for key, value in {**env, **overrides}.items():
        monkeypatch.setenv(key, value)
    return runner.invoke(cli, ["config", "check"])


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_a_random_key_of_32_bytes_or_more_passes(key: str):
    assert secret_key_problems(key) == []


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("0123456789abcdefghij", "is 20 bytes: use at least 32 random bytes"),
        ("é" * 8 + "abcdefgh", "is 24 bytes"),  # bytes, not characters
        ("a" * 40, "low entropy"),
        ("abcd" * 10, "low entropy"),  # a pattern
        ("passwordpassword1passwordpassword2", "low entropy"),  # few distinct characters
        ("1212121212121212121212121212121234", "low entropy"),
    ],
)
def test_a_short_or_guessable_key_is_a_problem(key: str, problem: str):
    (found,) = secret_key_problems(key)
    assert found.startswith("HOMEROOM_SECRET_KEY") and problem in found
    assert key not in found


def test_config_check_rejects_a_weak_key_without_printing_it(runner, monkeypatch, env):
    result = check(runner, monkeypatch, env, HOMEROOM_SECRET_KEY="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert result.exit_code == 1
    assert "problem: HOMEROOM_SECRET_KEY has low entropy" in result.output
    assert "aaaaaaaa" not in result.output


def test_config_check_accepts_the_test_key(runner, monkeypatch, env):
    result = check(runner, monkeypatch, env)
    assert result.exit_code == 0, result.output


def add_demo_user(database: Path) -> None:
    storage = Storage.open(database)
    try:
        storage.save_user(DEMO_USER, "admin", hash_password(DEMO_PASSWORD), now=utc("2027-01-05 12:00"))
    finally:
        storage.close()


def test_config_check_warns_about_the_demo_user_in_a_real_database(runner, monkeypatch, env):
    add_demo_user(Path(env["HOMEROOM_DATABASE"]))
    result = check(runner, monkeypatch, env)
    assert result.exit_code == 0, result.output  # a warning, not a problem
    assert (
        f"warning: {env['HOMEROOM_DATABASE']}: the demo's admin {DEMO_USER} exists with the demo's public "
        f"password, but this is not the demo's database: remove it (homeroom user remove {DEMO_USER})"
    ) in result.output


def test_config_check_says_nothing_of_the_demo_user_in_the_demos_own_data(runner, monkeypatch, env, tmp_path):
    demo = tmp_path / "demo-data"
    demo.mkdir()
    (demo / DEMO_MARKER).write_text("what the demo writes", encoding="utf-8")
    (demo / "homeroom.toml").write_text(calendar_toml(), encoding="utf-8")
    add_demo_user(demo / "homeroom.db")
    result = check(
        runner,
        monkeypatch,
        env,
        HOMEROOM_DATABASE=str(demo / "homeroom.db"),
        HOMEROOM_CONFIG=str(demo / "homeroom.toml"),
    )
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_config_check_reports_a_module_whose_skip_removes_every_session(runner, monkeypatch, env, tmp_path):
    doc = calendar_doc()
    days = ["2027-01-06", "2027-01-13", "2027-01-20", "2027-01-27", "2027-02-03"]  # weeks 1-5 of module 2
    doc["modules"][1]["skip"] = days
    path = tmp_path / "skipping.toml"
    path.write_text(calendar_toml(doc), encoding="utf-8")
    result = check(runner, monkeypatch, env, HOMEROOM_CONFIG=str(path))
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    assert problems == [
        f"problem: {path}: module 2: skip removes every session (skipped: {', '.join(days)}); "
        "remove some skip dates, or the module"
    ]
