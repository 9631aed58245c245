"""The app factory: settings, logging, the blueprints, error handlers; start-up work done once.

Two Flask apps answer on one WSGI callable: Zoom's deliveries (`/webhooks/`) go straight to the intake
app, which has the webhooks blueprint and nothing else, before any of the dashboard's per-request work
(session cookie, Flask-Login, CSRF, the sign-in guard, security headers) runs; every other path goes to
the dashboard app, where access is denied by default.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, jsonify, request
from gunicorn.errors import AppImportError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, default_exceptions
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

import webhooks
from webhooks.body import read_whole

from ..clock import Clock, utc_now
from ..core.models import Calendar
from ..errors import HomeroomError
from ..logs import configure_logging
from ..runtime import Runtime
from ..services.intake import process_pending
from ..settings import ConfigError, Settings, load_calendar, load_settings
from . import api, auth, dashboard, mixitup, slack
from .context import get_runtime

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024
# SQLite's integers are 64-bit: a larger id in a path would fail in the query, not be found.
MAX_PATH_INTEGER = 2**63 - 1


class PathInteger(IntegerConverter):
    """`<int:...>` in every route: a number SQLite can hold, anything larger is a 404."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_PATH_INTEGER)
        super().__init__(map, *args, **kwargs)


WEBHOOKS_PREFIX = "/webhooks"
SLACK_PREFIX = "/slack"
# Served by the lean machine-facing app: signed by Zoom or Slack, never a browser's.
MACHINE_PREFIXES = (WEBHOOKS_PREFIX, SLACK_PREFIX)


class StartError(ConfigError, AppImportError, RuntimeError):
    """The configuration problems that stop the web app from starting. Also gunicorn's AppImportError
    and a RuntimeError, the two errors gunicorn reports as their message alone (a worker loading the
    app, the master preloading it): `gunicorn 'zoom_homeroom:create_app()'` prints one line, not a
    traceback, like `homeroom serve`."""


def create_app(
    settings: Settings | None = None,
    *,
    calendar: Calendar | None = None,
    clock: Clock = utc_now,
) -> Flask:
    """The app factory. Tests pass `Settings`; production reads the environment and `.env`.

    Raises ConfigError (a `StartError`) when HOMEROOM_SECRET_KEY is missing or the calendar is invalid.
    """
    try:
        settings = settings or load_settings()
        if not settings.secret_key:
            raise ConfigError("HOMEROOM_SECRET_KEY is not set: the web service refuses to start without it")
        calendar = calendar or load_calendar(settings.config_path)
    except ConfigError as error:
        raise StartError(error.problems) from None
    configure_logging(settings.secrets())

    app = Flask(__name__)
    app.url_map.converters["int"] = PathInteger
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_NAME="homeroom_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure is decided per request (auth.SchemeAwareSessionInterface): set when it came over HTTPS.
        PERMANENT_SESSION_LIFETIME=12 * 60 * 60,  # a signed-in rep stays signed in for a working day
    )
    runtime = Runtime(settings, clock=clock, calendar_override=calendar)
    runtime.install(app)
    _start_up(runtime)

    _register_blueprints(app)
    _register_error_handlers(app)
    dashboard = app.wsgi_app
    if settings.trusted_proxies:
        # Behind a reverse proxy, the client's address (sign-in throttling) and scheme (Secure
        # cookies) come from the X-Forwarded-* headers the trusted proxies set.
        n = settings.trusted_proxies
        dashboard = ProxyFix(dashboard, x_for=n, x_proto=n, x_host=n, x_port=n)
    app.wsgi_app = _Dispatch(_intake_app(runtime).wsgi_app, dashboard)  # type: ignore[method-assign]

    @app.get("/healthz")
    def healthz():
        """Liveness and database check for load balancers."""
        ok = get_runtime().storage.ping()
        return jsonify(status="ok" if ok else "error"), 200 if ok else 503

    return app


def _start_up(runtime: Runtime) -> None:
    """Migrate (under the write lock, so concurrent starters do it once) and finish any webhook
    deliveries that were stored but not processed when the service last stopped."""
    try:
        process_pending(runtime.storage, runtime.calendar, now=runtime.now(), retry_errors=True)
    finally:
        # Closed, not kept for the first request: gunicorn forks its workers after this (preload),
        # and neither a SQLite connection nor the writer queue's lock may cross a fork.
        runtime.close()


def _intake_app(runtime: Runtime) -> Flask:
    """The app serving `/webhooks/` and `/slack/`: the Zoom webhooks and Slack interactions blueprints,
    JSON errors, the same Runtime; no session, no sign-in, no CSRF, no templates. Zoom and Slack sign
    their requests (checked by the views)."""
    intake = Flask(webhooks.__name__)
    intake.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    runtime.install(intake)
    intake.register_blueprint(webhooks.bp, url_prefix=WEBHOOKS_PREFIX)
    intake.register_blueprint(slack.bp, url_prefix=SLACK_PREFIX)

    @intake.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return jsonify(error=error.name, message=error.description), error.code

    @intake.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error="Internal Server Error"), 500

    return intake


class _Dispatch:
    """The one WSGI callable: `/webhooks/...` and `/slack/...` to the intake app, everything else to the
    dashboard.
    The environ is passed on untouched (the access log shows the path as requested)."""

    def __init__(self, intake: WSGIApplication, dashboard: WSGIApplication):
        self.intake = intake
        self.dashboard = dashboard

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if any(path == prefix or path.startswith(prefix + "/") for prefix in MACHINE_PREFIXES):
            return self.intake(environ, start_response)
        if _is_chunked(environ):
            # Werkzeug's MAX_CONTENT_LENGTH hands a chunked body back cut at the limit (a form field
            # silently shortened): read it whole here, or refuse it, and pass it on with its length.
            try:
                body = read_whole(environ["wsgi.input"], None, MAX_REQUEST_BYTES)
            except RequestEntityTooLarge as error:
                return error(environ, start_response)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return self.dashboard(environ, start_response)


def _is_chunked(environ: WSGIEnvironment) -> bool:
    """A body without a Content-Length, which the server ends itself (gunicorn, werkzeug's server)."""
    return (
        "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        and not environ.get("CONTENT_LENGTH")
        and bool(environ.get("wsgi.input_terminated"))
    )


def _register_blueprints(app: Flask) -> None:
    auth.init_app(app)  # sign-in, CSRF, the access guard, session cookies, security headers
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(mixitup.bp, url_prefix="/mix-it-up")
    app.register_blueprint(api.bp, url_prefix="/api")


def _register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.path == "/healthz"

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            return jsonify(error=error.name, message=error.description), error.code
        return error

    @app.errorhandler(HomeroomError)
    def user_error(error: HomeroomError):
        # As the HTTP error of its status, so the blueprint's page (or the API's JSON) shows it.
        return app.handle_http_exception(default_exceptions[error.http_status](" ".join(error.lines())))

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify(error="Internal Server Error"), 500
        return "Internal Server Error", 500
