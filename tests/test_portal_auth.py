"""Sign-in, two-step verification, sessions, lock-out, CSRF and safe redirects (HTTP level)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from mock_portal import create_app, db, faults, totp
from mock_portal import orders as orders_domain
from mock_portal.views import auth as auth_views
from mock_portal.views.auth import DEVICE_COOKIE, MFA_STEP_SECONDS, safe_next

EMAIL = "seller@example.com"
PASSWORD = "demo-password"
SECRET = "JBSWY3DPEHPK3PXP"
SECOND_EMAIL = "seller2@example.com"
SECOND_PASSWORD = "demo-password-2"
SECOND_SECRET = "GEZDGNBVGY3TQOJQ"

UNKNOWN_EMAIL = "We cannot find an account with that email address"
WRONG_PASSWORD = "Your password is incorrect"
WRONG_CODE = "The One Time Password (OTP) you entered is not valid. Please try again."
LOCKED = "Your account is temporarily locked after too many failed attempts. Try again later."


def new_app(tmp_path, **config):
    # These tests sign in many times within a code's 30 seconds; single use has its own tests.
    settings = {
        "DATABASE": str(tmp_path / "portal.db"),
        "ORDERS": 30,
        "TESTING": True,
        "TOTP_ALLOW_REUSE": True,
    }
    settings.update(config)
    return create_app(settings)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return new_app(tmp_path_factory.mktemp("auth"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def fresh_app(tmp_path):
    """An app of its own, for tests that lock accounts or move the clock."""
    return new_app(tmp_path, MAX_FAILED_ATTEMPTS=3, LOCKOUT_MINUTES=15)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def error_of(html: str) -> str | None:
    found = re.search(r'data-testid="signin-error">([^<]*)<', html)
    return found.group(1) if found else None


def password_step(client, email=EMAIL, password=PASSWORD, remember=False, next_url=None):
    page = client.get("/ap/signin" + (f"?next={next_url}" if next_url else ""))
    form = {"csrf_token": csrf_of(page.text), "email": email, "password": password}
    if remember:
        form["remember"] = "1"
    if next_url:
        form["next"] = next_url
    return client.post("/ap/signin", data=form)


def code_step(client, secret=SECRET, code=None, remember_device=False):
    page = client.get("/ap/mfa")
    form = {"csrf_token": csrf_of(page.text), "otp": code or totp.totp(secret)}
    if remember_device:
        form["remember_device"] = "1"
    return client.post("/ap/mfa", data=form)


def sign_in(client, email=EMAIL, password=PASSWORD, secret=SECRET, **options):
    response = password_step(client, email, password, next_url=options.get("next_url"))
    assert response.status_code == 302 and response.location == "/ap/mfa"
    return code_step(client, secret)


def session_rows(app, email=EMAIL):
    conn = db.connect(app.config["DATABASE"])
    try:
        return conn.execute(
            "SELECT s.* FROM auth_sessions s JOIN sellers ON sellers.id = s.seller_id "
            "WHERE sellers.email = ?",
            (email,),
        ).fetchall()
    finally:
        conn.close()


def advance_clock(app, delta: timedelta) -> None:
    conn = db.connect(app.config["DATABASE"])
    try:
        orders_domain.advance_clock(conn, delta)
    finally:
        conn.close()


def test_signed_out_visitor_is_sent_to_signin_with_next(client):
    response = client.get("/orders-v3/?tab=all&page=2")
    assert response.status_code == 302
    assert response.location == "/ap/signin?next=/orders-v3/?tab%3Dall%26page%3D2"


def test_email_step_then_password_step_on_the_same_url(client):
    page = client.get("/ap/signin")
    assert 'data-testid="signin-email"' in page.text
    assert 'data-testid="signin-password"' not in page.text
    step = client.post("/ap/signin", data={"csrf_token": csrf_of(page.text), "email": EMAIL})
    assert step.status_code == 200
    assert 'data-testid="signin-password"' in step.text
    assert 'data-testid="signin-remember"' in step.text
    assert f'name="email" value="{EMAIL}"' in step.text


def test_unknown_email_has_its_own_message(client):
    page = client.get("/ap/signin")
    response = client.post(
        "/ap/signin", data={"csrf_token": csrf_of(page.text), "email": "nobody@example.com"}
    )
    assert error_of(response.text) == UNKNOWN_EMAIL
    assert 'data-testid="signin-password"' not in response.text


def test_wrong_password_has_its_own_message(client):
    response = password_step(client, password="not-the-password")
    assert response.status_code == 200
    assert error_of(response.text) == WRONG_PASSWORD


def test_wrong_code_has_its_own_message_and_no_session(app, client):
    before = len(session_rows(app))
    assert password_step(client).location == "/ap/mfa"
    wrong = "000000" if totp.totp(SECRET) != "000000" else "111111"
    response = code_step(client, code=wrong)
    assert error_of(response.text) == WRONG_CODE
    assert len(session_rows(app)) == before
    assert client.get("/home").status_code == 302


def test_mfa_page_without_a_password_step_goes_back_to_signin(client):
    response = client.get("/ap/mfa")
    assert response.status_code == 302 and response.location == "/ap/signin"


def test_password_step_expires_when_the_code_comes_too_late(client, monkeypatch):
    assert password_step(client).location == "/ap/mfa"
    later = time.time() + MFA_STEP_SECONDS + 1
    monkeypatch.setattr(auth_views, "time", SimpleNamespace(time=lambda: later))
    response = client.get("/ap/mfa")
    assert response.status_code == 302 and response.location == "/ap/signin"


def test_full_signin_returns_to_next_and_shows_the_seller(app, client):
    response = sign_in(client, next_url="/performance/account/health")
    assert response.status_code == 302
    assert response.location == "/performance/account/health"
    page = client.get("/home")
    assert page.status_code == 200
    assert f'data-testid="nav-account">{EMAIL}<' in page.text


def test_code_from_the_previous_step_is_accepted(client):
    assert password_step(client).location == "/ap/mfa"
    previous = totp.totp(SECRET, time.time() - 30)
    response = code_step(client, code=previous)
    assert response.status_code == 302 and response.location == "/home"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/home\r\nSet-Cookie: x=1",
    ],
)
def test_next_never_leaves_the_site(client, target):
    assert safe_next(target) == "/home"
    response = sign_in(client, next_url=target)
    assert response.location == "/home"


def test_safe_next_keeps_local_paths():
    assert safe_next("/orders-v3/search?q=1&qt=orderid") == "/orders-v3/search?q=1&qt=orderid"


def test_keep_me_signed_in_marks_the_session_kept(app, client):
    assert password_step(client, remember=True).location == "/ap/mfa"
    response = code_step(client)
    assert response.status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.expires is not None
    kept = [row for row in session_rows(app) if row["keep"] == 1]
    assert kept


def test_trusted_device_skips_the_code_next_time(app, client):
    assert password_step(client).location == "/ap/mfa"
    response = code_step(client, remember_device=True)
    assert response.status_code == 302
    device = client.get_cookie(DEVICE_COOKIE)
    assert device is not None and device.http_only
    conn = db.connect(app.config["DATABASE"])
    try:
        stored = conn.execute(
            "SELECT seller_id FROM trusted_devices WHERE token = ?", (device.value,)
        ).fetchone()
    finally:
        conn.close()
    assert stored is not None
    client.get("/ap/signout?token=" + csrf_of(client.get("/orders-v3/").text))
    again = password_step(client, next_url="/messaging/inbox")
    assert again.status_code == 302 and again.location == "/messaging/inbox"
    assert client.get("/messaging/inbox").status_code == 200


def test_trusted_device_of_one_seller_does_not_skip_another_sellers_code(client):
    assert password_step(client).location == "/ap/mfa"
    code_step(client, remember_device=True)
    client.get("/ap/signout?token=" + csrf_of(client.get("/orders-v3/").text))
    response = password_step(client, email=SECOND_EMAIL, password=SECOND_PASSWORD)
    assert response.location == "/ap/mfa"


def test_lockout_after_max_failures_then_unlock_after_the_lockout_time(fresh_app):
    client = fresh_app.test_client()
    assert error_of(password_step(client, password="x1").text) == WRONG_PASSWORD
    assert error_of(password_step(client, password="x2").text) == WRONG_PASSWORD
    assert error_of(password_step(client, password="x3").text) == LOCKED
    # Locked: even the right password is refused, and no code page is reached.
    response = password_step(client)
    assert response.status_code == 200 and error_of(response.text) == LOCKED
    advance_clock(fresh_app, timedelta(minutes=16))
    assert sign_in(client).location == "/home"


def test_wrong_codes_count_toward_the_lockout(fresh_app):
    client = fresh_app.test_client()
    wrong = "000000" if totp.totp(SECRET) != "000000" else "111111"
    assert password_step(client).location == "/ap/mfa"
    assert error_of(code_step(client, code=wrong).text) == WRONG_CODE
    assert error_of(code_step(client, code=wrong).text) == WRONG_CODE
    assert error_of(code_step(client, code=wrong).text) == LOCKED
    # The right code no longer helps while the account is locked.
    assert error_of(code_step(client).text) == LOCKED
    assert client.get("/home").status_code == 302


def test_idle_session_expires_and_signin_brings_the_seller_back(fresh_app):
    client = fresh_app.test_client()
    assert sign_in(client).status_code == 302
    assert client.get("/messaging/inbox").status_code == 200
    advance_clock(fresh_app, timedelta(minutes=31))
    response = client.get("/messaging/inbox")
    assert response.status_code == 302
    assert response.location == "/ap/signin?next=/messaging/inbox"
    assert session_rows(fresh_app) == []
    back = sign_in(client, next_url="/messaging/inbox")
    assert back.location == "/messaging/inbox"
    assert client.get(back.location).status_code == 200


def test_kept_session_outlives_the_idle_timeout(fresh_app):
    client = fresh_app.test_client()
    assert password_step(client, remember=True).location == "/ap/mfa"
    code_step(client)
    advance_clock(fresh_app, timedelta(hours=5))
    assert client.get("/home").status_code == 200
    advance_clock(fresh_app, timedelta(days=15))
    assert client.get("/home").status_code == 302


def test_last_seen_is_written_at_most_once_a_minute(fresh_app):
    client = fresh_app.test_client()
    sign_in(client)
    first = session_rows(fresh_app)[0]["last_seen"]
    client.get("/home")
    assert session_rows(fresh_app)[0]["last_seen"] == first
    advance_clock(fresh_app, timedelta(minutes=2))
    client.get("/home")
    assert session_rows(fresh_app)[0]["last_seen"] > first


def test_injected_session_expiry_ends_the_session(fresh_app):
    client = fresh_app.test_client()
    sign_in(client)
    faults.state(fresh_app).set(faults.FaultSettings(expire_session_every=1))
    try:
        response = client.get("/orders-v3/")
    finally:
        faults.state(fresh_app).set(faults.FaultSettings())
    assert response.status_code == 302
    assert response.location.startswith("/ap/signin?next=/orders-v3/")
    assert session_rows(fresh_app) == []
    assert client.get("/home").status_code == 302


def test_post_without_csrf_token_is_refused_and_changes_nothing(app, client):
    before = len(session_rows(app))
    response = client.post("/ap/signin", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert 'data-testid="csrf-error"' in response.text
    assert len(session_rows(app)) == before


def test_stale_csrf_token_after_signout_is_refused(client):
    sign_in(client)
    token = csrf_of(client.get("/orders-v3/").text)
    client.get("/ap/signout?token=" + token)
    response = client.post("/ap/signin", data={"csrf_token": token, "email": EMAIL})
    assert response.status_code == 400


def test_signout_link_ends_the_session(app, client):
    sign_in(client)
    before = len(session_rows(app))
    token = csrf_of(client.get("/orders-v3/").text)
    response = client.get("/ap/signout?token=" + token)
    assert response.status_code == 302
    assert len(session_rows(app)) == before - 1
    assert client.get("/home").status_code == 302


def test_signout_without_token_asks_first(app, client):
    sign_in(client)
    before = len(session_rows(app))
    page = client.get("/ap/signout")
    assert page.status_code == 200 and 'data-testid="signout-submit"' in page.text
    assert len(session_rows(app)) == before
    client.post("/ap/signout", data={"csrf_token": csrf_of(page.text)})
    assert len(session_rows(app)) == before - 1


def test_password_never_appears_in_pages(client):
    response = password_step(client, password="s3cret-typed-wrong")
    assert "s3cret-typed-wrong" not in response.text
