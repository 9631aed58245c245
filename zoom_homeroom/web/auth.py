"""Who may see what: dashboard users (Flask-Login), API tokens, CSRF, throttled sign-in, security headers.

Access is denied by default: `init_app` installs a guard in front of every view of the dashboard app.
Only `/healthz`, the sign-in page and static files are open (Zoom's webhooks never reach this app: they
are served by the intake app, see `web/app.py`); pages redirect to sign-in, `/api/` answers 401
JSON. A dashboard session is a signed cookie (HttpOnly, SameSite=Lax, Secure whenever the request came
over HTTPS) carrying a random session id that the database must still know: signing out, removing the
user or changing their password ends it, for every copy of the cookie. An API client sends
`Authorization: Bearer <token>`. Of session ids and tokens, only the sha256 is stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from ..core.matching import normalise_email
from ..core.models import User
from ..services.users import hash_token, verify_password
from ..storage import Storage
from .context import get_runtime

log = logging.getLogger(__name__)

MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
# A token used again within this long is not re-stamped: no database write on every API call.
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=5)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()


# -- who is signed in ----------------------------------------------------------------------------------


class DashboardUser(UserMixin):
    """A signed-in admin or rep, and the id of their session (what the cookie carries)."""

    def __init__(self, user: User, session_id: str):
        self.user_id = user.id
        self.email = user.email
        self.role = user.role
        self.session_id = session_id

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return self.session_id


@dataclass(frozen=True)
class TokenClient(UserMixin):
    """An API client authenticated by a Bearer token (only ever for /api/)."""

    token_id: int
    name: str
    role: str = "api"
    is_admin: bool = False

    @property
    def email(self) -> str:
        return f"token:{self.name}"

    def get_id(self) -> str:
        return f"token:{self.token_id}"


@login_manager.user_loader
def _load_user(session_id: str) -> DashboardUser | None:
    runtime = get_runtime()
    user = runtime.storage.session_user(hash_token(session_id), now=runtime.now())
    return DashboardUser(user, session_id) if user is not None else None


def _start_session(user: User) -> DashboardUser:
    """A new server-side session for a user who just signed in; it ends with the cookie's lifetime."""
    runtime = get_runtime()
    session_id = secrets.token_urlsafe(32)
    now = runtime.now()
    expires_at = now + current_app.permanent_session_lifetime
    runtime.storage.start_session(user.id, hash_token(session_id), now=now, expires_at=expires_at)
    return DashboardUser(user, session_id)


@login_manager.request_loader
def _load_token_client(_request: Request) -> TokenClient | None:
    token = _bearer_token()
    if token is None or not _is_api_path():
        return None
    runtime = get_runtime()
    storage = runtime.storage
    record = storage.token_by_hash(hash_token(token))
    if record is None:
        return None
    now = runtime.now()
    if record.last_used_at is None or now - record.last_used_at >= TOKEN_TOUCH_INTERVAL:
        storage.touch_token(record.id, now=now)
    return TokenClient(record.id, record.name)


def _bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _is_api_path() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


# -- the app's access rules ----------------------------------------------------------------------------


class SchemeAwareSessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure when the request came over HTTPS (gunicorn takes the scheme
    from X-Forwarded-Proto of trusted proxies), so plain-HTTP development still works."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask) -> None:
    """Install sign-in, CSRF protection, the access guard and the security headers."""
    app.session_interface = SchemeAwareSessionInterface()
    # Checked by `_check_csrf` instead, which also lets Bearer-token API requests through.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # A form stays valid as long as the session: reps leave pages open for hours.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    login_manager.init_app(app)
    app.before_request(_require_sign_in)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)


def _is_open() -> bool:
    if request.path == "/healthz":
        return True
    return request.endpoint in ("static", "auth.sign_in")


def _require_sign_in() -> BaseResponse | None:
    if _is_open() or current_user.is_authenticated:
        return None
    if _is_api_path():
        response = jsonify(
            error="Unauthorized",
            message="sign in, or send an API token as 'Authorization: Bearer <token>'",
        )
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="homeroom"'
        return response
    wanted = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else None
    target = safe_next(wanted)
    return redirect(url_for("auth.sign_in", next=target if target != "/" else None))


def _check_csrf() -> None:
    if not current_app.config["WTF_CSRF_ENABLED"]:
        return
    # Browsers never add an Authorization header to a cross-site request, so a Bearer call cannot be forged.
    if _is_api_path() and _bearer_token() is not None:
        return
    csrf.protect(apply_exemptions=True)


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        # Pages and exports hold students' data: keep them out of shared caches and the back button.
        response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in; "/" for anything that could lead to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 32 or char == "\\" for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


# -- sign-in throttling --------------------------------------------------------------------------------


def _failure_keys(email: str) -> list[str]:
    return [f"email:{email}", f"address:{request.remote_addr or 'unknown'}"]


def _throttled(storage: Storage, keys: list[str], now: dt.datetime) -> bool:
    since = now - FAILURE_WINDOW
    return any(storage.sign_in_failures(key, since=since) >= MAX_FAILURES for key in keys)


def _record_failure(storage: Storage, keys: list[str], now: dt.datetime) -> None:
    # Old failures never matter again: forget them so the table stays small.
    storage.clear_sign_in_failures("", before=now - FAILURE_WINDOW)
    for key in keys:
        storage.record_sign_in_failure(key, now=now)


# -- views -------------------------------------------------------------------------------------------


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """The sign-in form; after 5 failures in 15 minutes for an email or an address, 429 for a while."""
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(target)
    if request.method == "GET":
        return render_template("auth/sign_in.html", next=target, email="")
    email = normalise_email(request.form.get("email", ""))
    password = request.form.get("password", "")
    runtime = get_runtime()
    storage, now = runtime.storage, runtime.now()
    keys = _failure_keys(email)
    user = storage.user_by_email(email) if email else None
    # What was typed is logged only when it is an account's email: people type passwords there too.
    who = user.email if user else "an unknown email"
    if _throttled(storage, keys, now):
        log.warning("sign-in refused (throttled) for %s from %s", who, request.remote_addr)
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        error = f"Too many failed sign-ins. Wait {minutes} minutes, then try again."
        return render_template("auth/sign_in.html", next=target, email=email, error=error), 429
    if not verify_password(user, password):
        _record_failure(storage, keys, now)
        log.info("sign-in failed for %s from %s", who, request.remote_addr)
        error = "That email and password do not match an account."
        return render_template("auth/sign_in.html", next=target, email=email, error=error), 200
    storage.clear_sign_in_failures(keys[0])
    session.clear()  # a fresh session: nothing from before sign-in carries over
    session.permanent = True
    login_user(_start_session(user))
    log.info("signed in: %s", user.email)
    return redirect(target)


@bp.post("/sign-out")
def sign_out() -> BaseResponse:
    """Sign out (a POST, with the form's CSRF token): the session ends server-side, so a copy of its
    cookie is refused too."""
    if isinstance(current_user, DashboardUser):
        get_runtime().storage.end_session(hash_token(current_user.session_id))
    logout_user()
    session.clear()
    flash("You are signed out.", "ok")
    return redirect(url_for("auth.sign_in"))


def error_page(error: HTTPException) -> tuple[str, int]:
    """An HTTP error as a page of the site (the blueprints' handler; the API answers JSON)."""
    page = render_template("error.html", error=error, csrf_failed=isinstance(error, CSRFError))
    return page, error.code or 500


bp.register_error_handler(HTTPException, error_page)
