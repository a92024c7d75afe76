"""Pages the real sign-in can stop at, switched on as faults (`signin_interstitials`).

- captcha: the password step asks for the characters in a picture before it checks the
  password ("Enter the characters you see below", #auth-captcha-image, #auth-captcha-guess).
- cvf: after signing in, a code emailed to the seller must be entered at /ap/cvf
  (#cvf-input-code).
- accountfixup: after signing in, /ap/accountfixup asks for a phone number; "Not now"
  (#ap-account-fixup-phone-skip-link) skips it.
- account_picker: after signing in, an account and marketplace must be chosen.

The sign-in checks themselves are untouched: the captcha is a gate in front of the password
POST, and the pages after sign-in are queued when a sign-in request starts a session, then
every page request of that session is held at the first one until it is passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

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

from mock_portal import clock, db, faults, mail
from mock_portal.i18n import translate
from mock_portal.views.auth import current_seller, safe_next

bp = Blueprint("interstitials", __name__)

AFTER_SIGNIN = ("cvf", "accountfixup", "account_picker")
# Seller Central's account switcher lives here; the page's own markup is not publicly known.
PICKER_PATH = "/account-switcher/default/merchantMarketplace"
MARKETPLACES = ("US", "CA", "MX", "BR", "UK")
CVF_DIGITS = 6
# Pages a held session may still open: the interstitials themselves, signing in and out.
OPEN_PATHS = ("/ap/", "/static/", "/mock/", "/mailbox/", PICKER_PATH)


def _enabled() -> list[str]:
    return faults.state(current_app).current().signin_interstitials


def _settings() -> faults.FaultSettings:
    return faults.state(current_app).current()


def _page_for(name: str) -> str:
    return {
        "cvf": url_for("interstitials.cvf"),
        "accountfixup": url_for("interstitials.accountfixup"),
        "account_picker": url_for("interstitials.account_picker"),
    }[name]


def _pending() -> list[str]:
    held = session.get("held")
    if not isinstance(held, dict) or not isinstance(held.get("pending"), list):
        return []
    # A fault switched off meanwhile no longer holds anyone.
    enabled = _enabled()
    return [name for name in held["pending"] if name in enabled]


def _advance(passed: str) -> Response:
    """Drop a passed interstitial; go to the next one, or where the sign-in was going."""
    held = session.get("held") or {}
    pending = [name for name in _pending() if name != passed]
    if pending:
        session["held"] = {"pending": pending, "next": held.get("next", "/home")}
        return redirect(_page_for(pending[0]))
    session.pop("held", None)
    return redirect(safe_next(held.get("next")))


# --- the captcha in front of the password step ----------------------------------------------


def _captcha_version() -> str:
    return hashlib.sha256(_settings().captcha_text.encode()).hexdigest()[:8]


@bp.before_app_request
def captcha_gate() -> ResponseReturnValue | None:
    if request.method != "POST" or request.path != "/ap/signin" or "password" not in request.form:
        return None
    if "captcha" not in _enabled():
        return None
    guess = request.form.get("guess", "").strip().upper()
    expected = _settings().captcha_text
    if guess and hmac.compare_digest(guess.encode(), expected.encode()):
        return None
    error = translate("captcha_wrong") if "guess" in request.form else None
    return render_template(
        "interstitials/captcha.html",
        email=request.form.get("email", "")[:254],
        next_url=safe_next(request.form.get("next")),
        error=error,
        captcha_version=_captcha_version(),
    )


@bp.route("/ap/captcha-image")
def captcha_image() -> ResponseReturnValue:
    """The characters as a picture (SVG): readable by a person, not in the page's text."""
    text = _settings().captcha_text if "captcha" in _enabled() else ""
    letters = "".join(
        f'<text x="{18 + 28 * i}" y="{44 + (8 if i % 2 else -4)}" '
        f'transform="rotate({(-12, 9, -6, 14)[i % 4]} {18 + 28 * i} 40)">{ch}</text>'
        for i, ch in enumerate(text)
    )
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="70" viewBox="0 0 200 70">'
        '<rect width="200" height="70" fill="#f3f3f3"/>'
        '<path d="M0 40 Q50 10 100 40 T200 35" stroke="#999" fill="none"/>'
        f'<g font-family="monospace" font-size="30" fill="#333">{letters}</g></svg>'
    )
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


# --- pages after sign-in ----------------------------------------------------------------------


@bp.before_app_request
def remember_session_before() -> None:
    g.sid_before = session.get("sid")


@bp.after_app_request
def queue_after_signin(response: Response) -> Response:
    if request.method != "POST" or request.path not in ("/ap/signin", "/ap/mfa"):
        return response
    sid = session.get("sid")
    if not sid or sid == g.get("sid_before") or response.status_code not in (301, 302, 303):
        return response
    pending = [name for name in AFTER_SIGNIN if name in _enabled()]
    if not pending:
        return response
    session["held"] = {"pending": pending, "next": safe_next(response.location)}
    if "cvf" in pending:
        _send_code()
    return redirect(_page_for(pending[0]))


@bp.before_app_request
def hold_at_interstitial() -> ResponseReturnValue | None:
    if request.path.startswith(OPEN_PATHS) or "held" not in session or not session.get("sid"):
        return None
    pending = _pending()
    if not pending:
        session.pop("held", None)
        return None
    return redirect(_page_for(pending[0]))


def _code_digest(code: str) -> str:
    # Only a keyed digest goes into the (readable) session cookie, never the code.
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"{session.get('sid')}:{code}".encode(), "sha256").hexdigest()


def _send_code() -> None:
    seller = current_seller()
    if seller is None:
        return
    code = f"{secrets.randbelow(10**CVF_DIGITS):0{CVF_DIGITS}d}"
    session["cvf"] = _code_digest(code)
    conn = db.get_db()
    with db.transaction(conn):
        mail_id = mail.store(
            conn,
            to=seller["email"],
            sender="account-update@amazon.example",
            subject=translate("cvf_mail_subject"),
            body=translate("cvf_mail_body", code=code),
            kind="verification",
            sent_at=clock.iso(clock.now(conn)),
            seller_id=seller["id"],
        )
    mail.deliver(conn, [mail_id])


# The interstitial pages render with hide_nav: the session is not usable until they are
# passed, so they must not look like a signed-in page.
def _held_at(name: str) -> ResponseReturnValue | None:
    """None when this interstitial is the one to pass now; else where to go instead."""
    if current_seller() is None:
        return redirect(url_for("auth.signin"))
    pending = _pending()
    if not pending:
        session.pop("held", None)
        return redirect(url_for("orders.home"))
    if pending[0] != name:
        return redirect(_page_for(pending[0]))
    return None


@bp.route("/ap/cvf", methods=["GET", "POST"])
def cvf() -> ResponseReturnValue:
    elsewhere = _held_at("cvf")
    if elsewhere is not None:
        return elsewhere
    email = current_seller()["email"]
    if request.method == "GET":
        return render_template("interstitials/cvf.html", email=email, error=None, hide_nav=True)
    code = request.form.get("code", "").strip()
    expected = session.get("cvf", "")
    if code and expected and hmac.compare_digest(_code_digest(code), str(expected)):
        session.pop("cvf", None)
        return _advance("cvf")
    return render_template(
        "interstitials/cvf.html", email=email, error=translate("cvf_wrong"), hide_nav=True
    )


@bp.route("/ap/accountfixup", methods=["GET", "POST"])
def accountfixup() -> ResponseReturnValue:
    elsewhere = _held_at("accountfixup")
    if elsewhere is not None:
        return elsewhere
    token = request.args.get("token", "")
    skipping = request.args.get("skip") and hmac.compare_digest(
        str(session.get("csrf", "")).encode(), token.encode()
    )
    if request.method == "POST" or skipping:
        return _advance("accountfixup")
    return render_template("interstitials/accountfixup.html", hide_nav=True)


@bp.route(PICKER_PATH, methods=["GET", "POST"])
def account_picker() -> ResponseReturnValue:
    elsewhere = _held_at("account_picker")
    if elsewhere is not None:
        return elsewhere
    marketplaces = MARKETPLACES[: _settings().picker_accounts]
    if request.method == "POST":
        if request.form.get("marketplace") in marketplaces:
            return _advance("account_picker")
        error: Any = translate("picker_choose")
    else:
        error = None
    return render_template(
        "interstitials/account_picker.html",
        account_name=current_seller()["name"],
        marketplaces=marketplaces,
        error=error,
        hide_nav=True,
    )
