"""Sign-in (email, password, TOTP), server-side sessions, CSRF and `login_required`.

The browser holds only Flask's signed cookie with the session id (`sid`) and the CSRF token;
the session itself lives in `auth_sessions`, so signing out, idling out or an injected
"session expiry" fault ends it on the server.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash

from mock_portal import db, totp
from mock_portal.i18n import translate

bp = Blueprint("auth", __name__)

DEVICE_COOKIE = "ap_device"
DEVICE_COOKIE_DAYS = 365
# Writing last_seen on every request would turn every page view into a write transaction;
# once a minute is far finer than any idle timeout.
LAST_SEEN_EVERY = timedelta(minutes=1)
MAX_EMAIL_LENGTH = 254
MFA_STEP_SECONDS = 600
MAX_PASSWORD_LENGTH = 1024

View = TypeVar("View", bound=Callable[..., Any])


def _now(conn: sqlite3.Connection) -> datetime:
    from mock_portal import clock

    return clock.now(conn)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# --- CSRF -------------------------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get("csrf_token", "")
    return bool(expected) and hmac.compare_digest(str(expected).encode(), given.encode())


@bp.before_app_request
def check_csrf() -> Response | tuple[str, int] | None:
    # The JSON API is for scripts and carries its own token; every form post must prove it
    # came from a page this session rendered.
    if request.method != "POST" or request.path.startswith("/mock/api/"):
        return None
    if not _csrf_ok():
        return render_template("auth/csrf.html"), 400
    return None


# The sign-in forms carry Seller Central's field names; the checks below read the portal's
# own. Older clients and tests post the portal's names, so both are accepted.
REAL_FIELD_NAMES = {
    "/ap/signin": {"rememberMe": "remember"},
    "/ap/mfa": {"otpCode": "otp", "rememberDevice": "remember_device"},
}


@bp.before_app_request
def accept_real_field_names() -> None:
    aliases = REAL_FIELD_NAMES.get(request.path)
    if request.method != "POST" or not aliases:
        return
    form = request.form
    if not any(real in form for real in aliases):
        return
    renamed = MultiDict(form)
    for real, own in aliases.items():
        if real in form and own not in form:
            renamed.setlist(own, form.getlist(real))
    request.form = ImmutableMultiDict(renamed)


@bp.app_errorhandler(400)
def bad_request(error: HTTPException) -> Any:
    # The JSON API answers its own errors; only pages get the page.
    if request.path.startswith("/mock/api/"):
        return error
    return render_template("auth/bad_request.html"), 400


@bp.app_context_processor
def auth_context() -> dict[str, Any]:
    # Public pages (sign-in, mailboxes, refusals) show the nav too when someone is signed in.
    return {"current_seller": current_seller()}


@bp.record_once
def _register_globals(state: Any) -> None:
    # A global rather than a context variable, so imported macros (which get no context) can
    # put the token in their forms too.
    state.app.jinja_env.globals["csrf_token"] = csrf_token
    # Defence in depth next to the CSRF token: browsers then do not send the session cookie
    # with cross-site form posts at all.
    if state.app.config.get("SESSION_COOKIE_SAMESITE") is None:
        state.app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


# --- sessions ---------------------------------------------------------------------------------


def safe_next(target: str | None, default: str = "/home") -> str:
    """`target` when it is a path on this site, else `default` (no open redirects)."""
    if not target or len(target) > 2000:
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def _idle_limit(keep: bool) -> timedelta:
    config = current_app.config
    if keep:
        return timedelta(days=config["KEEP_SIGNED_IN_DAYS"])
    return timedelta(minutes=config["SESSION_IDLE_MINUTES"])


def end_session() -> None:
    """Delete the server-side session and forget it in the cookie."""
    sid = session.pop("sid", None)
    if sid:
        conn = db.get_db()
        conn.execute("DELETE FROM auth_sessions WHERE sid = ?", (sid,))
    session.pop("csrf", None)


def current_seller() -> sqlite3.Row | None:
    """The signed-in seller of this request, or None (ending a session that has idled out)."""
    if "seller" in g:
        return g.seller
    g.seller = None
    sid = session.get("sid")
    if not sid or not isinstance(sid, str):
        return None
    if g.get("fault_expire_session"):
        end_session()
        return None
    conn = db.get_db()
    row = conn.execute(
        "SELECT s.sid, s.last_seen, s.keep, sellers.id, sellers.email, sellers.name "
        "FROM auth_sessions s JOIN sellers ON sellers.id = s.seller_id WHERE s.sid = ?",
        (sid,),
    ).fetchone()
    if row is None:
        session.pop("sid", None)
        return None
    now = _now(conn)
    last_seen = _parse(row["last_seen"]) or now
    if now - last_seen > _idle_limit(bool(row["keep"])):
        end_session()
        return None
    if now - last_seen >= LAST_SEEN_EVERY:
        conn.execute("UPDATE auth_sessions SET last_seen = ? WHERE sid = ?", (_iso(now), sid))
    g.seller = row
    return row


def login_required(view: View) -> View:
    """Send a visitor without a live session to sign-in, and back to this page afterwards."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_seller() is None:
            # A POST cannot be replayed after sign-in; its page (the same path) can be shown.
            back = request.full_path if request.method == "GET" else request.path
            back = back[:-1] if back.endswith("?") else back
            return redirect(url_for("auth.signin", next=safe_next(back)))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _start_session(conn: sqlite3.Connection, seller_id: int, keep: bool) -> None:
    previous = session.get("sid")
    if isinstance(previous, str):
        conn.execute("DELETE FROM auth_sessions WHERE sid = ?", (previous,))
    now = _iso(_now(conn))
    sid = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO auth_sessions(sid, seller_id, created_at, last_seen, keep) "
        "VALUES (?, ?, ?, ?, ?)",
        (sid, seller_id, now, now, 1 if keep else 0),
    )
    # A fresh cookie session at sign-in: nothing from before (a planted sid or CSRF token)
    # survives into the signed-in session.
    session.clear()
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = keep


# --- lock-out ---------------------------------------------------------------------------------


def _find_seller(conn: sqlite3.Connection, email: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT id, email, name, password_hash, totp_secret, failed_attempts, locked_until "
        "FROM sellers WHERE email = ?",
        (email,),
    ).fetchone()


def _seller_by_id(conn: sqlite3.Connection, seller_id: int) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT id, email, name, password_hash, totp_secret, failed_attempts, locked_until "
        "FROM sellers WHERE id = ?",
        (seller_id,),
    ).fetchone()


# What _reserve_attempt answers: refused unchecked, the attempt whose failure locks the
# account, or any other attempt.
LOCKED, LAST, OPEN = "locked", "last", "open"


def _reserve_attempt(conn: sqlite3.Connection, seller_id: int) -> str:
    """Count an attempt as failed before its password or code is checked, reading the lock
    and writing the count in one write transaction. A lock read before a slow check and a
    failure written after it let 40 parallel attempts get 15 checks instead of 5; this way
    parallel attempts take the places one by one and the ones after the last are refused.
    A right answer gives its place back (`_release_attempt`, `_clear_failures`)."""
    config = current_app.config
    limit = max(int(config["MAX_FAILED_ATTEMPTS"]), 1)
    with db.transaction(conn):
        row = conn.execute(
            "SELECT failed_attempts, locked_until FROM sellers WHERE id = ?", (seller_id,)
        ).fetchone()
        if row is None:  # the account went away (a reset) since it was looked up
            return LOCKED
        now = _now(conn)
        until = _parse(row["locked_until"])
        failures = row["failed_attempts"] or 0
        if until is not None:
            if now < until:
                return LOCKED
            failures = 0  # the lock has run out: counting starts again
        if failures >= limit:
            return LOCKED
        failures += 1
        # The lock starts with the last place taken, not when its check fails: attempts
        # arriving while it is checked must not be checked too.
        locked_until = (
            _iso(now + timedelta(minutes=config["LOCKOUT_MINUTES"])) if failures >= limit else None
        )
        conn.execute(
            "UPDATE sellers SET failed_attempts = ?, locked_until = ? WHERE id = ?",
            (failures, locked_until, seller_id),
        )
    return LAST if failures >= limit else OPEN


def _release_attempt(conn: sqlite3.Connection, seller_id: int, reserved: str) -> None:
    """A right password gives back its place: the code step still lies ahead, and only wrong
    answers count. One statement, so it cannot interleave with a reservation."""
    conn.execute(
        "UPDATE sellers SET failed_attempts = MAX(failed_attempts - 1, 0), "
        "locked_until = CASE WHEN ? THEN NULL ELSE locked_until END WHERE id = ?",
        (reserved == LAST, seller_id),
    )


def _use_code(conn: sqlite3.Connection, seller: sqlite3.Row, code: str) -> bool:
    """True when `code` is the seller's current code (one step of skew) and no code of its
    time step or a later one has signed in yet; that step is then used up. The compare and
    the write are one statement, so two sessions racing with one code cannot both win."""
    step = totp.matching_step(seller["totp_secret"], code)
    if step is None:
        return False
    if current_app.config.get("TOTP_ALLOW_REUSE"):
        return True
    used = conn.execute(
        "UPDATE sellers SET totp_last_step = ? "
        "WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
        (step, seller["id"], step),
    )
    return used.rowcount == 1


def _clear_failures(conn: sqlite3.Connection, seller_id: int) -> None:
    conn.execute(
        "UPDATE sellers SET failed_attempts = 0, locked_until = NULL WHERE id = ?", (seller_id,)
    )


def _trusted_device(conn: sqlite3.Connection, seller_id: int) -> bool:
    token = request.cookies.get(DEVICE_COOKIE)
    if not token or len(token) > 100:
        return False
    row = conn.execute(
        "SELECT 1 FROM trusted_devices WHERE token = ? AND seller_id = ?", (token, seller_id)
    ).fetchone()
    return row is not None


# --- pages ------------------------------------------------------------------------------------


def _signin_page(
    step: str, *, email: str = "", error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    return (
        render_template("auth/signin.html", step=step, email=email, error=error, next_url=next_url),
        status,
    )


@bp.route("/ap/signin", methods=["GET", "POST"])
def signin() -> ResponseReturnValue:
    if request.method == "GET":
        if current_seller() is not None:
            return redirect(safe_next(request.args.get("next")))
        return _signin_page("email")
    email = request.form.get("email", "").strip()
    if not email:
        return _signin_page("email", error=translate("signin_enter_email"), status=400)
    conn = db.get_db()
    seller = _find_seller(conn, email) if len(email) <= MAX_EMAIL_LENGTH else None
    if seller is None:
        return _signin_page("email", email=email, error=translate("signin_unknown_email"))
    if "password" not in request.form:
        return _signin_page("password", email=seller["email"])
    reserved = _reserve_attempt(conn, seller["id"])
    if reserved == LOCKED:
        return _signin_page("password", email=seller["email"], error=translate("signin_locked"))
    password = request.form.get("password", "")
    if len(password) > MAX_PASSWORD_LENGTH or not check_password_hash(
        seller["password_hash"], password
    ):
        message = "signin_locked" if reserved == LAST else "signin_wrong_password"
        return _signin_page("password", email=seller["email"], error=translate(message))
    remember = request.form.get("remember") in ("1", "on", "true", "yes")
    next_url = safe_next(request.form.get("next"))
    if _trusted_device(conn, seller["id"]):
        _clear_failures(conn, seller["id"])
        _start_session(conn, seller["id"], remember)
        return redirect(next_url)
    _release_attempt(conn, seller["id"], reserved)
    session["mfa"] = {
        "seller_id": seller["id"],
        "remember": remember,
        "next": next_url,
        "at": int(time.time()),
    }
    return redirect(url_for("auth.mfa"))


@bp.route("/ap/mfa", methods=["GET", "POST"])
def mfa() -> ResponseReturnValue:
    pending = session.get("mfa")
    if (
        not isinstance(pending, dict)
        or not isinstance(pending.get("seller_id"), int)
        or not isinstance(pending.get("at"), int)
        # A password step is good for a few minutes only, like the code it leads to.
        or time.time() - pending["at"] > MFA_STEP_SECONDS
    ):
        session.pop("mfa", None)
        return redirect(url_for("auth.signin"))
    conn = db.get_db()
    seller = _seller_by_id(conn, pending["seller_id"])
    if seller is None:
        session.pop("mfa", None)
        return redirect(url_for("auth.signin"))
    if request.method == "GET":
        return render_template("auth/mfa.html", error=None)
    reserved = _reserve_attempt(conn, seller["id"])
    if reserved == LOCKED:
        return render_template("auth/mfa.html", error=translate("signin_locked"))
    code = request.form.get("otp", "")
    if len(code) > 20 or not _use_code(conn, seller, code):
        message = "signin_locked" if reserved == LAST else "signin_wrong_code"
        return render_template("auth/mfa.html", error=translate(message))
    _clear_failures(conn, seller["id"])
    _start_session(conn, seller["id"], bool(pending.get("remember")))
    response = redirect(safe_next(pending.get("next")))
    if request.form.get("remember_device") in ("1", "on", "true", "yes"):
        token = secrets.token_urlsafe(32)
        conn.execute(
            "INSERT INTO trusted_devices(token, seller_id, created_at) VALUES (?, ?, ?)",
            (token, seller["id"], _iso(_now(conn))),
        )
        response.set_cookie(
            DEVICE_COOKIE,
            token,
            max_age=DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
        )
    return response


@bp.route("/ap/signout", methods=["GET", "POST"])
def signout() -> ResponseReturnValue:
    # The nav link carries the CSRF token, so a third-party page cannot sign a seller out;
    # without it the page asks for confirmation with a form.
    token = request.args.get("token", "")
    expected = session.get("csrf", "")
    if request.method == "POST" or (
        expected and hmac.compare_digest(str(expected).encode(), token.encode())
    ):
        end_session()
        session.pop("mfa", None)
        return redirect(url_for("auth.signin", signed_out=1))
    return render_template("auth/signout.html")
