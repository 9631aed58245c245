"""Shared fixtures: settings, calendar, storage, app, client, CLI runner, mocked Zoom API."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from flask import Flask

from tests import dashboard_data as data
from tests.factories import calendar_toml, make_calendar, utc
from zoom_homeroom import create_app
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.sandbox import LocalServer, ZoomSandbox
from zoom_homeroom.settings import load_settings, sandbox_environment
from zoom_homeroom.storage import Storage

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = PROJECT_ROOT.parent / "shared" / "zoom" / "openapi.json"
SLACK_SPEC_PATH = PROJECT_ROOT.parent / "shared" / "slack" / "slack_web_openapi_v2.json"

TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"
TEST_WEBHOOK_SECRET = "test-webhook-secret-token"
TEST_CLIENT_SECRET = "test-client-secret-value"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Strip ZOOM_*, HOMEROOM_* and SLACK_* so a developer's .env or shell cannot leak in."""
    for name in list(os.environ):
        if name.startswith(("ZOOM_", "HOMEROOM_", "SLACK_")):
            monkeypatch.delenv(name)
    # load_settings() also reads ./.env: run from an empty directory.
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


class FakeClock:
    """An injectable clock: `clock()` returns the pinned time; `advance()` moves it."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


class FakeSleep:
    """Records requested sleeps instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def clock() -> FakeClock:
    # Tuesday before week 1's session of the test calendar.
    return FakeClock(utc("2027-01-05 12:00"))


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def calendar():
    return make_calendar()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "homeroom.toml"
    path.write_text(calendar_toml(), encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path: Path, config_file: Path) -> dict[str, str]:
    """A complete environment pointing at a temporary database and calendar."""
    return {
        "ZOOM_ACCOUNT_ID": "test-account",
        "ZOOM_CLIENT_ID": "test-client",
        "ZOOM_CLIENT_SECRET": TEST_CLIENT_SECRET,
        "ZOOM_WEBHOOK_SECRET_TOKEN": TEST_WEBHOOK_SECRET,
        "ZOOM_API_URL": "https://api.zoom.test/v2",
        "ZOOM_OAUTH_TOKEN_URL": "https://zoom.test/oauth/token",
        "HOMEROOM_DATABASE": str(tmp_path / "homeroom.db"),
        "HOMEROOM_CONFIG": str(config_file),
        "HOMEROOM_SECRET_KEY": TEST_SECRET_KEY,
    }


@pytest.fixture
def settings(env: dict[str, str]):
    return load_settings(env)


@pytest.fixture
def storage(settings) -> Storage:
    storage = Storage.open(settings.database)
    yield storage
    storage.close()


@pytest.fixture
def runtime(settings, calendar, clock, sleep) -> Runtime:
    runtime = Runtime(settings, clock=clock, sleep=sleep, calendar_override=calendar)
    yield runtime
    runtime.close()


@pytest.fixture
def app(settings, calendar, clock):
    app = create_app(settings, calendar=calendar, clock=clock)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def dataset(storage, calendar, clock) -> data.Dataset:
    """The dashboards' sample school (tests/dashboard_data.py), with the clock at its `NOW`."""
    clock.now = data.NOW
    return data.fill(storage, calendar)


@pytest.fixture
def rep(client, dataset):
    """A client signed in as a rep, over the sample school."""
    assert data.sign_in(client).status_code == 302
    return client


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def zoom_api():
    """Mocked Zoom HTTP API: unregistered URLs raise ConnectionError; every mock must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture(scope="session")
def openapi_spec():
    """Zoom's Meetings OpenAPI spec from ../shared/zoom, or a skip that says why."""
    if not SPEC_PATH.is_file():
        pytest.skip(f"contract test: Zoom's OpenAPI spec is not at {SPEC_PATH} (only in the dev/CI checkout)")
    from tests.contract import OpenAPIContract

    return OpenAPIContract.load(SPEC_PATH)


@pytest.fixture(scope="session")
def slack_spec():
    """Slack's Web API spec from ../shared/slack when present (end-to-end tests check every call with
    it and run without it; the contract test itself skips without it)."""
    from tests.slack_contract import SlackContract

    return SlackContract.load(SLACK_SPEC_PATH) if SLACK_SPEC_PATH.is_file() else None


@pytest.fixture
def sandbox(clock, calendar):
    """The built-in Zoom sandbox on a free port, on the test clock, with a user per calendar host."""
    hosts = sorted({module.host for module in calendar.modules} | {calendar.mix_it_up.host})
    box = ZoomSandbox(clock=clock, users=hosts, webhook_secret=TEST_WEBHOOK_SECRET, sleep=FakeSleep())
    with box.start():
        yield box


@pytest.fixture
def sandbox_env(env: dict[str, str], sandbox) -> dict[str, str]:
    return {**env, **sandbox_environment(sandbox)}


@pytest.fixture
def sandbox_runtime(sandbox_env, calendar, clock, sleep) -> Runtime:
    """A Runtime whose Zoom client talks to the sandbox over real HTTP."""
    runtime = Runtime(load_settings(sandbox_env), clock=clock, sleep=sleep, calendar_override=calendar)
    yield runtime
    runtime.close()


class LiveServer(LocalServer):
    """The service's app on a free localhost port, in a thread; `.app` is the app it serves."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app, name="live-app")
        self.app = app


@pytest.fixture
def live_app(app):
    """The service's app served over real HTTP (for the sandbox's webhooks and browser tests)."""
    server = LiveServer(app)
    yield server
    server.stop()
