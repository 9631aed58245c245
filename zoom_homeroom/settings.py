"""The only code that reads the environment: `Settings` from variables (and `.env`), the calendar file.

Every problem is collected and reported at once, one line each. Secret values never appear in a
repr, a log line or an error: problems name the variable, never its value.
"""

from __future__ import annotations

import io
import math
import os
import secrets
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from .core.calendar import CalendarError, parse_calendar
from .core.models import Calendar
from .core.planning import unplannable_modules
from .core.text import NotUtf8Error, decode_utf8
from .errors import HomeroomError

DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_OAUTH_TOKEN_URL = "https://zoom.us/oauth/token"
DEFAULT_DATABASE = "homeroom.db"
DEFAULT_CONFIG = "config/homeroom.toml"
MIN_SECRET_KEY_LENGTH = 16  # the web service refuses to start with less
# What `config check` asks of a production key: 32 bytes, and no sign of being typed or patterned.
GOOD_SECRET_KEY_BYTES = 32
MIN_SECRET_KEY_BITS = 96  # estimated from the key's own characters (token_hex(16) gives about 120)
MIN_SECRET_KEY_DISTINCT = 10
KEY_ADVICE = "python -c 'import secrets; print(secrets.token_hex(32))'"

ZOOM_CREDENTIALS = ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET")
# A bot token (docs.slack.dev/authentication/tokens: "Bot tokens ... xoxb-"); a user token (xoxp-) or
# the signing secret pasted by mistake would act as someone else, or not at all.
SLACK_BOT_TOKEN_PREFIX = "xoxb-"


class ConfigError(HomeroomError):
    """Configuration problems; `.problems` holds one line per problem."""

    headline = "configuration problems"


@dataclass(frozen=True)
class Settings:
    """Process-wide settings. Fields holding secrets are left out of the repr."""

    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: str | None = field(default=None, repr=False)
    zoom_webhook_secret_token: str | None = field(default=None, repr=False)
    zoom_api_url: str = DEFAULT_API_URL
    zoom_oauth_token_url: str = DEFAULT_OAUTH_TOKEN_URL
    database: Path = Path(DEFAULT_DATABASE)
    config_path: Path = Path(DEFAULT_CONFIG)
    secret_key: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    trusted_proxies: int = 0

    def missing_zoom_credentials(self) -> list[str]:
        """Names of the Zoom API credential variables that are unset."""
        values = (self.zoom_account_id, self.zoom_client_id, self.zoom_client_secret)
        return [name for name, value in zip(ZOOM_CREDENTIALS, values, strict=True) if not value]

    def require_zoom(self) -> None:
        """Raise ConfigError naming every unset Zoom credential."""
        missing = self.missing_zoom_credentials()
        if missing:
            raise ConfigError(
                [f"{name} is not set (needed to call the Zoom API; see .env.example)" for name in missing]
            )

    def require_slack(self) -> None:
        """Raise ConfigError unless the Slack bot token is set."""
        if not self.slack_bot_token:
            raise ConfigError(
                ["SLACK_BOT_TOKEN is not set (needed to post to Slack; see the README's Slack section)"]
            )

    def secrets(self) -> list[str]:
        """The secret values in use, for redaction filters."""
        values = (
            self.zoom_client_secret,
            self.zoom_webhook_secret_token,
            self.secret_key,
            self.slack_bot_token,
            self.slack_signing_secret,
        )
        return [value for value in values if value]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `environ`, or from os.environ after loading `.env` (never overriding).

    Raises ConfigError listing every problem.
    """
    if environ is None:
        _load_dotenv()
        environ = os.environ
    problems: list[str] = []

    def get(name: str) -> str | None:
        value = environ.get(name, "").strip()
        return value or None

    api_url = _url(get("ZOOM_API_URL") or DEFAULT_API_URL, "ZOOM_API_URL", problems)
    token_url = _url(get("ZOOM_OAUTH_TOKEN_URL") or DEFAULT_OAUTH_TOKEN_URL, "ZOOM_OAUTH_TOKEN_URL", problems)
    database = Path(get("HOMEROOM_DATABASE") or DEFAULT_DATABASE)
    if not database.parent.is_dir():
        problems.append(f"HOMEROOM_DATABASE: the directory {str(database.parent)!r} does not exist")
    secret_key = get("HOMEROOM_SECRET_KEY")
    if secret_key is not None and len(secret_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"HOMEROOM_SECRET_KEY is too short: use at least {MIN_SECRET_KEY_LENGTH} random "
            "characters (python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    proxies = get("HOMEROOM_TRUSTED_PROXIES") or "0"
    if not proxies.isascii() or not proxies.isdigit() or int(proxies) > 5:
        problems.append(f"HOMEROOM_TRUSTED_PROXIES: {proxies!r} must be a whole number from 0 to 5")
        proxies = "0"
    slack_token = get("SLACK_BOT_TOKEN")
    if slack_token is not None and not slack_token.startswith(SLACK_BOT_TOKEN_PREFIX):
        problems.append(
            "SLACK_BOT_TOKEN must be the app's Bot User OAuth Token, which starts with xoxb- "
            "(OAuth & Permissions in the app's settings)"
        )
    slack_api_url = _url(get("SLACK_API_URL") or DEFAULT_SLACK_API_URL, "SLACK_API_URL", problems)
    if problems:
        raise ConfigError(problems)
    return Settings(
        zoom_account_id=get("ZOOM_ACCOUNT_ID"),
        zoom_client_id=get("ZOOM_CLIENT_ID"),
        zoom_client_secret=get("ZOOM_CLIENT_SECRET"),
        zoom_webhook_secret_token=get("ZOOM_WEBHOOK_SECRET_TOKEN"),
        zoom_api_url=api_url.rstrip("/"),
        zoom_oauth_token_url=token_url,
        database=database,
        config_path=Path(get("HOMEROOM_CONFIG") or DEFAULT_CONFIG),
        secret_key=secret_key,
        slack_bot_token=slack_token,
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_api_url=slack_api_url.rstrip("/") + "/",
        trusted_proxies=int(proxies),
    )


class SlackSandboxEndpoints(Protocol):
    """What the built-in Slack sandbox (`zoom_homeroom.sandbox.slack.SlackSandbox`) tells the service."""

    bot_token: str
    signing_secret: str

    @property
    def api_url(self) -> str: ...


class SandboxEndpoints(Protocol):
    """What a built-in Zoom sandbox (`zoom_homeroom.sandbox.ZoomSandbox`) tells the service."""

    account_id: str
    client_id: str
    client_secret: str
    webhook_secret: str

    @property
    def api_url(self) -> str: ...

    @property
    def token_url(self) -> str: ...


def sandbox_environment(sandbox: SandboxEndpoints) -> dict[str, str]:
    """The variables that point the service at a built-in Zoom sandbox (its credentials are not secrets)."""
    return {
        "ZOOM_API_URL": sandbox.api_url,
        "ZOOM_OAUTH_TOKEN_URL": sandbox.token_url,
        "ZOOM_ACCOUNT_ID": sandbox.account_id,
        "ZOOM_CLIENT_ID": sandbox.client_id,
        "ZOOM_CLIENT_SECRET": sandbox.client_secret,
        "ZOOM_WEBHOOK_SECRET_TOKEN": sandbox.webhook_secret,
    }


def slack_sandbox_environment(sandbox: SlackSandboxEndpoints) -> dict[str, str]:
    """The variables that point the service at the built-in Slack sandbox (its token is not a secret)."""
    return {
        "SLACK_BOT_TOKEN": sandbox.bot_token,
        "SLACK_SIGNING_SECRET": sandbox.signing_secret,
        "SLACK_API_URL": sandbox.api_url,
    }


def sandbox_settings(
    sandbox: SandboxEndpoints,
    *,
    database: Path,
    config: Path,
    slack: SlackSandboxEndpoints | None = None,
) -> Settings:
    """Settings for running the service against a built-in Zoom sandbox (and, given one, the Slack
    sandbox), with a fresh secret key."""
    return load_settings(
        {
            **sandbox_environment(sandbox),
            **(slack_sandbox_environment(slack) if slack is not None else {}),
            "HOMEROOM_DATABASE": str(database),
            "HOMEROOM_CONFIG": str(config),
            "HOMEROOM_SECRET_KEY": secrets.token_hex(32),
        }
    )


def load_calendar(path: Path) -> Calendar:
    """Read and validate the calendar file; ConfigError names the file and every problem in it.

    A leading UTF-8 byte order mark (Notepad writes one) is dropped, as in the CSV files."""
    try:
        text = decode_utf8(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file (set HOMEROOM_CONFIG)"]) from None
    except NotUtf8Error as error:
        raise ConfigError([f"{path} {error}"]) from None
    except OSError as error:
        raise ConfigError([f"{path}: cannot be read: {error.strerror or error}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from None
    try:
        return parse_calendar(data)
    except CalendarError as error:
        raise ConfigError([f"{path}: {problem}" for problem in error.problems]) from None


def check_all(
    environ: Mapping[str, str] | None = None,
) -> tuple[Settings | None, Calendar | None, list[str]]:
    """Settings, calendar and every problem of both, for `homeroom config check`."""
    if environ is None:
        _load_dotenv()
        environ = os.environ
    problems: list[str] = []
    settings = calendar = None
    try:
        settings = load_settings(environ)
    except ConfigError as error:
        problems.extend(error.problems)
    try:
        calendar = load_calendar(_config_path(environ))
    except ConfigError as error:
        problems.extend(error.problems)
    problems.extend(_unset_problems(environ))
    problems.extend(secret_key_problems(environ.get("HOMEROOM_SECRET_KEY", "").strip()))
    if calendar is not None:
        problems.extend(f"{_config_path(environ)}: {problem}" for problem in unplannable_modules(calendar))
    return settings, calendar, problems


def secret_key_problems(key: str) -> list[str]:
    """What `config check` finds wrong with a HOMEROOM_SECRET_KEY the service would accept: shorter
    than 32 bytes, or of low entropy (few distinct characters, a repeated pattern, too few estimated
    bits). Nothing for a missing or too short key: `load_settings` reports those. Never the key."""
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return []
    size = len(key.encode("utf-8"))
    if size < GOOD_SECRET_KEY_BYTES:
        return [
            f"HOMEROOM_SECRET_KEY is {size} bytes: use at least {GOOD_SECRET_KEY_BYTES} random bytes ({KEY_ADVICE})"
        ]
    if _repeats(key) or len(set(key)) < MIN_SECRET_KEY_DISTINCT or _estimated_bits(key) < MIN_SECRET_KEY_BITS:
        return [
            f"HOMEROOM_SECRET_KEY has low entropy (repeated or patterned characters): generate one ({KEY_ADVICE})"
        ]
    return []


def _estimated_bits(key: str) -> float:
    """The key's length times the Shannon entropy of its characters: a random key scores near its
    real strength, a typed phrase or a pattern well below it."""
    counts = Counter(key)
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    return per_char * len(key)


def _repeats(key: str) -> bool:
    """Whether the key is a shorter string repeated ("abcabcabc…")."""
    return any(
        key == (key[:size] * (len(key) // size + 1))[: len(key)] for size in range(1, len(key) // 2 + 1)
    )


def _unset_problems(environ: Mapping[str, str]) -> list[str]:
    def unset(name: str) -> bool:
        return not environ.get(name, "").strip()

    problems = [
        f"{name} is not set: Zoom calls (sync, backfill) cannot run"
        for name in ZOOM_CREDENTIALS
        if unset(name)
    ]
    if unset("ZOOM_WEBHOOK_SECRET_TOKEN"):
        problems.append("ZOOM_WEBHOOK_SECRET_TOKEN is not set: POST /webhooks/zoom rejects every delivery")
    if unset("HOMEROOM_SECRET_KEY"):
        problems.append("HOMEROOM_SECRET_KEY is not set: the web service refuses to start")
    # Slack is optional, but half of it is a mistake.
    if not unset("SLACK_BOT_TOKEN") and unset("SLACK_SIGNING_SECRET"):
        problems.append(
            "SLACK_SIGNING_SECRET is not set: POST /slack/interactions refuses every click, so the poll "
            "takes no picks (Basic Information > App Credentials > Signing Secret)"
        )
    if unset("SLACK_BOT_TOKEN") and not unset("SLACK_SIGNING_SECRET"):
        problems.append(
            "SLACK_BOT_TOKEN is not set: the service cannot post to Slack (SLACK_SIGNING_SECRET is)"
        )
    return problems


def _config_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOMEROOM_CONFIG", "").strip() or DEFAULT_CONFIG)


def _url(value: str, name: str, problems: list[str]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"{name}: {value!r} is not an http(s) URL")
    return value


def _load_dotenv() -> None:
    """Add `.env`'s variables (never overriding the environment's). ConfigError when it cannot be read
    or is not UTF-8 (naming the line and column): python-dotenv itself would raise a UnicodeDecodeError
    with a byte offset."""
    # Imported here: python-dotenv is only needed when reading the real environment.
    from dotenv import load_dotenv

    path = Path.cwd() / ".env"
    try:
        text = decode_utf8(path.read_bytes())
    except FileNotFoundError:
        return
    except NotUtf8Error as error:
        raise ConfigError([f"{path} {error}"]) from None
    except OSError as error:
        raise ConfigError([f"{path}: cannot be read: {error.strerror or error}"]) from None
    load_dotenv(stream=io.StringIO(text), override=False)
