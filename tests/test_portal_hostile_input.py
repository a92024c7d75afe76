"""Hundreds of generated malformed and hostile requests: none may give a 500, change an order
or mail, or echo a fragment of HTML unescaped. Run in both languages."""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import quote

import pytest

from mock_portal import create_app, db, faults, seed, totp
from mock_portal.testing import PortalClient, PortalProcess, hidden_fields, running_portal

EMAIL = "seller@example.com"
GENERATED_CASES = 300

HTML_PAYLOADS = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(2)>",
    "</textarea><b>bold</b>",
    "<a href='javascript:alert(3)'>link</a>",
]
OTHER_PAYLOADS = [
    "",
    " ",
    "' OR '1'='1",
    "'; DROP TABLE orders; --",
    '" OR ""="',
    "%' OR 1=1 --",
    "1; DELETE FROM mail",
    "{{ 7*7 }}",
    "{% raw %}",
    "${7*7}",
    "../../../../etc/passwd",
    "\x00",
    "a\x00b",
    "\r\nSet-Cookie: evil=1",
    "-1",
    "0",
    "1e309",
    "9" * 400,
    "NaN",
    "null",
    "[]",
    "{}",
    "ÄÖÜ 取消订单 🙂",
    "\u202e\u200b",
    "x" * 5000,
]
PAYLOADS = HTML_PAYLOADS + OTHER_PAYLOADS
INVALID_UTF8 = [b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\xbc", b"%ff%fe", b"\xed\xa0\x80"]


def order_id(number: int, prefix: str = "112") -> str:
    return seed.order_id(1, number, prefix)


# Targets where no form post may change anything: orders that cannot be cancelled, another
# seller's, ones that do not exist, and (with invalid fields only) a cancellable one.
NOT_CANCELLABLE = [
    order_id(seed.CASES["pending"]),
    order_id(seed.CASES["shipped"]),
    order_id(seed.CASES["cancelled_counted"]),
    order_id(1, "114"),
    "999-9999999-9999999",
]
CANCELLABLE = order_id(seed.CASES["multi_item"])


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "portal.db"
    # Two clients sign in with the same code, one per language.
    return create_app(
        {"DATABASE": str(path), "ORDERS": 30, "TESTING": True, "TOTP_ALLOW_REUSE": True}
    )


@pytest.fixture(scope="module")
def conn(app):
    connection = db.connect(app.config["DATABASE"])
    yield connection
    connection.close()


def csrf_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


@pytest.fixture(scope="module", params=["en", "zh-CN"])
def client(app, request):
    signed_in = app.test_client()
    signed_in.get(f"/ap/signin?lang={request.param}")
    token = csrf_of(signed_in.get("/ap/signin").text)
    signed_in.post(
        "/ap/signin", data={"csrf_token": token, "email": EMAIL, "password": "demo-password"}
    )
    signed_in.post("/ap/mfa", data={"csrf_token": token, "otp": totp.totp("JBSWY3DPEHPK3PXP")})
    page = signed_in.get("/home")
    assert page.status_code == 200 and f'lang="{request.param}"' in page.text
    signed_in.csrf = csrf_of(signed_in.get("/orders-v3/").text)
    return signed_in


def snapshot(conn) -> list[tuple]:
    tables = {
        "orders": "SELECT * FROM orders ORDER BY id",
        "items": "SELECT * FROM order_items ORDER BY id",
        "history": "SELECT COUNT(*) FROM order_history",
        "mail": "SELECT COUNT(*) FROM mail",
        "tokens": "SELECT COUNT(*) FROM submit_tokens",
    }
    return [tuple(row) for sql in tables.values() for row in conn.execute(sql).fetchall()]


def check(response, sent: list[str]) -> None:
    assert response.status_code < 500, response.status_code
    body = response.get_data(as_text=True)
    for value in sent:
        for payload in HTML_PAYLOADS:
            if payload in value:
                assert payload not in body, f"unescaped {payload!r}"


def hostile_get_urls(rng: random.Random) -> list[str]:
    urls = []
    for _ in range(GENERATED_CASES // 2):
        value = quote(rng.choice(PAYLOADS), safe="")
        other = quote(rng.choice(PAYLOADS), safe="")
        urls.append(
            rng.choice(
                [
                    f"/orders-v3/?tab={value}&page={other}",
                    f"/orders-v3/search?q={value}&qt={other}",
                    f"/orders-v3/search?q={value}&qt=sku&page={other}",
                    f"/orders-v3/search?q={value}&qt=buyer-email",
                    f"/orders-v3/search?q={value}&qt=asin&lang={other}",
                    f"/orders-v3/order/{value}",
                    f"/orders-v3/order/{value}/cancel",
                    f"/orders-v3/order/{value}/packing-slip",
                    f"/mailbox/{value}",
                    f"/mailbox/{value}/{other}",
                    f"/mail/{value}",
                    f"/ap/signin?next={value}",
                    f"/ap/signout?token={value}",
                    f"/performance/account/health?lang={value}",
                    f"/messaging/inbox?{value}={other}",
                ]
            )
        )
    return urls


def hostile_forms(rng: random.Random, csrf: str) -> list[tuple[str, dict[str, str]]]:
    posts = []
    reasons = ["NoInventory", "BuyerCanceled", "", "Other", *PAYLOADS]
    for _ in range(GENERATED_CASES // 2):
        target = rng.choice(NOT_CANCELLABLE)
        form: dict[str, str] = {"csrf_token": csrf}
        kind = rng.randrange(5)
        if kind == 0:  # any reason, on an order that must stay as it is
            form |= {"reason": rng.choice(reasons), "memo": rng.choice(PAYLOADS)}
            url = f"/orders-v3/order/{quote(target, safe='')}/cancel"
        elif kind == 1:  # a cancellable order, but never a valid reason
            form |= {"reason": rng.choice(PAYLOADS), "scope": rng.choice(PAYLOADS)}
            form[f"qty_{rng.choice(PAYLOADS)}"] = rng.choice(PAYLOADS)
            form["submit_token"] = rng.choice(PAYLOADS)
            url = f"/orders-v3/order/{CANCELLABLE}/cancel"
        elif kind == 2:  # a valid reason with impossible items
            form |= {"reason": "NoInventory", "scope": "items"}
            for item in range(1, 40):
                form[f"qty_{item}"] = rng.choice(["-1", "1.5", "x", "999", *PAYLOADS[:8]])
            url = f"/orders-v3/order/{CANCELLABLE}/cancel"
        elif kind == 3:  # sign-in with nonsense (never a real account's wrong password)
            form |= {"email": rng.choice(PAYLOADS), "next": rng.choice(PAYLOADS)}
            if rng.random() < 0.5:
                form["password"] = rng.choice(PAYLOADS)
            url = "/ap/signin"
        else:  # shipping an order that cannot be shipped, or missing fields altogether
            form |= {"next": rng.choice(PAYLOADS)}
            url = f"/orders-v3/order/{quote(rng.choice(NOT_CANCELLABLE[:4]), safe='')}/confirm-shipment"
            if rng.random() < 0.3:
                form = {"csrf_token": rng.choice([csrf, *PAYLOADS])}
        posts.append((url, form))
    return posts


def test_generated_query_strings_never_fail_or_echo_html(client, conn):
    before = snapshot(conn)
    for url in hostile_get_urls(random.Random(7)):
        check(client.get(url), [url, *HTML_PAYLOADS])
    assert snapshot(conn) == before


def test_generated_form_posts_never_fail_change_state_or_echo_html(client, conn):
    before = snapshot(conn)
    for url, form in hostile_forms(random.Random(11), client.csrf):
        response = client.post(url, data=form)
        check(response, list(form.values()) + list(form))
    assert snapshot(conn) == before


def test_wrongly_typed_bodies_and_methods(client, conn):
    before = snapshot(conn)
    url = f"/orders-v3/order/{CANCELLABLE}/cancel"
    check(client.post(url, json={"reason": "NoInventory", "csrf_token": client.csrf}), [])
    check(client.post(url, data=b"\x00\x01\x02", content_type="application/octet-stream"), [])
    check(client.post(url, data="reason=NoInventory", content_type="text/plain"), [])
    multipart = {"csrf_token": client.csrf, "reason": (io.BytesIO(b"x"), "r.txt")}
    check(client.post(url, data=multipart, content_type="multipart/form-data"), [])
    for method in ("put", "delete", "patch"):
        assert getattr(client, method)(url).status_code == 405
    check(client.post("/orders-v3/", data={"csrf_token": client.csrf}), [])
    assert snapshot(conn) == before


@pytest.mark.parametrize("raw", INVALID_UTF8)
def test_invalid_utf8_in_form_bodies_and_query_strings(client, conn, raw):
    before = snapshot(conn)
    url = f"/orders-v3/order/{CANCELLABLE}/cancel"
    body = b"csrf_token=" + client.csrf.encode() + b"&reason=" + raw + b"&memo=" + raw
    check(client.post(url, data=body, content_type="application/x-www-form-urlencoded"), [])
    check(
        client.post(
            "/ap/signin",
            data=b"csrf_token=" + client.csrf.encode() + b"&email=" + raw,
            content_type="application/x-www-form-urlencoded",
        ),
        [],
    )
    for path in ("/orders-v3/search", "/orders-v3/", "/ap/signin", "/mailbox/x"):
        # WSGI carries the raw query string and path as latin-1 text: any byte gets through.
        query = (b"q=" + raw + b"&qt=" + raw + b"&tab=" + raw).decode("latin-1")
        check(client.get(path, environ_overrides={"QUERY_STRING": query}), [])
    path = (b"/orders-v3/order/" + raw + b"/cancel").decode("latin-1")
    check(client.get("/", environ_overrides={"PATH_INFO": path}), [])
    check(client.get("/orders-v3/", headers={"Cookie": "lang=" + raw.decode("latin-1")}), [])
    assert snapshot(conn) == before


def test_huge_form_is_refused_without_a_crash(client, conn):
    before = snapshot(conn)
    url = f"/orders-v3/order/{CANCELLABLE}/cancel"
    response = client.post(
        url, data={"csrf_token": client.csrf, "reason": "NoInventory", "memo": "m" * 3_000_000}
    )
    assert response.status_code in (400, 413)
    assert snapshot(conn) == before


def test_html_in_a_search_is_shown_escaped(client):
    payload = HTML_PAYLOADS[0]
    response = client.get("/orders-v3/search", query_string={"q": payload, "qt": "sku"})
    assert response.status_code == 200
    assert payload not in response.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in response.text


# --- sign-in ----------------------------------------------------------------------------------

WRONG_CODE = "The One Time Password (OTP) you entered is not valid. Please try again."
LOCKED = "Your account is temporarily locked after too many failed attempts. Try again later."
# str.isdigit() is true for all of these; none is a code.
NON_ASCII_CODES = [
    "１２３４５６",  # full-width
    "١٢٣٤٥٦",  # Arabic-Indic
    "۱۲۳۴۵۶",  # extended Arabic-Indic (Persian)
    "¹²³⁴⁵⁶",  # superscripts
    "१२३४५६",  # Devanagari
    "12345٦",  # one foreign digit among ASCII ones
]


def own_app(tmp_path, **config):
    """An app on a database of its own, for tests that lock accounts or use up codes."""
    settings = {"DATABASE": str(tmp_path / "portal.db"), "ORDERS": 20, "TESTING": True}
    return create_app(settings | config)


def signin_error(text: str) -> str | None:
    found = re.search(r'data-testid="signin-error">([^<]*)<', text)
    return found.group(1) if found else None


def to_code_step(client, password: str = "demo-password") -> str:
    """Email and password; the CSRF token of the code page that follows."""
    token = csrf_of(client.get("/ap/signin").text)
    answer = client.post(
        "/ap/signin", data={"csrf_token": token, "email": EMAIL, "password": password}
    )
    assert answer.status_code == 302 and answer.location == "/ap/mfa", answer.status_code
    return csrf_of(client.get("/ap/mfa").text)


def failures(conn_or_path) -> int:
    conn = db.connect(conn_or_path)
    try:
        row = conn.execute("SELECT failed_attempts FROM sellers WHERE email = ?", (EMAIL,))
        return row.fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("code", NON_ASCII_CODES)
def test_non_ascii_digits_are_a_wrong_code_and_count(tmp_path, code):
    app = own_app(tmp_path, MAX_FAILED_ATTEMPTS=3)
    client = app.test_client()
    token = to_code_step(client)
    for attempt in range(1, 4):
        answer = client.post("/ap/mfa", data={"csrf_token": token, "otp": code})
        assert answer.status_code == 200
        assert signin_error(answer.text) == (WRONG_CODE if attempt < 3 else LOCKED)
    # Locked now: the right code does not get in either.
    right = client.post("/ap/mfa", data={"csrf_token": token, "otp": totp.totp("JBSWY3DPEHPK3PXP")})
    assert signin_error(right.text) == LOCKED
    assert client.get("/home").status_code == 302


def test_a_right_password_gives_back_its_place_and_wrong_answers_stay_counted(tmp_path):
    app = own_app(tmp_path, MAX_FAILED_ATTEMPTS=3)
    client = app.test_client()
    token = csrf_of(client.get("/ap/signin").text)
    for _ in range(2):
        form = {"csrf_token": token, "email": EMAIL, "password": "wrong"}
        assert (
            signin_error(client.post("/ap/signin", data=form).text) == "Your password is incorrect"
        )
    assert failures(app.config["DATABASE"]) == 2
    token = to_code_step(client)  # the right password: not a failure
    assert failures(app.config["DATABASE"]) == 2
    answer = client.post("/ap/mfa", data={"csrf_token": token, "otp": "00000x"})
    assert signin_error(answer.text) == LOCKED  # the third failure


def test_an_attempt_on_an_account_that_went_away_is_refused(tmp_path):
    # A reset between the email step and the password check removes the seller's row.
    from mock_portal.views import auth

    app = own_app(tmp_path)
    with app.test_request_context("/ap/signin", method="POST"):
        assert auth._reserve_attempt(db.get_db(), 987_654) == auth.LOCKED


def test_portal_totp_accepts_only_ascii_digits():
    secret = "JBSWY3DPEHPK3PXP"
    code = totp.totp(secret, 1_700_000_000)
    assert totp.verify(secret, code, at=1_700_000_000)
    foreign = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert not totp.verify(secret, foreign, at=1_700_000_000)


# --- the lockout under parallel attempts ------------------------------------------------------

PARALLEL = 40
LIMIT = 5
WRONG_PASSWORD = "Your password is incorrect"


def at_once(clients: list[PortalClient], work: Callable[[PortalClient], str]) -> Counter:
    """`work(client)` for every client in its own thread, all released together."""
    barrier = threading.Barrier(len(clients))
    answers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(client: PortalClient) -> None:
        try:
            barrier.wait(timeout=60)
            answer = work(client)
        except BaseException as error:  # reported below
            with lock:
                errors.append(error)
            return
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    return Counter(answers)


def answer_of(status: int, page: str) -> str:
    assert status < 500, status
    return signin_error(page) or f"http_{status}"


@pytest.fixture(scope="module")
def lockout_portal():
    with running_portal(orders=4, MAX_FAILED_ATTEMPTS=LIMIT, LOCKOUT_MINUTES=15) as portal:
        yield portal


@pytest.fixture
def parallel_clients(lockout_portal):
    clients = [PortalClient(lockout_portal.url) for _ in range(PARALLEL)]
    yield clients
    for client in clients:
        client.close()


def test_forty_parallel_wrong_passwords_get_exactly_the_limit_checked(
    lockout_portal, parallel_clients
):
    for client in parallel_clients:
        client.csrf = hidden_fields(client.get("/ap/signin")[2])["csrf_token"]

    def wrong_password(client: PortalClient) -> str:
        form = {"csrf_token": client.csrf, "email": EMAIL, "password": "not-the-password"}
        status, _, page = client.post("/ap/signin", form)
        return answer_of(status, page)

    answers = at_once(parallel_clients, wrong_password)
    # Each checked attempt but the last says "wrong password"; the last one and every
    # attempt refused without a check say "locked".
    assert answers == Counter({WRONG_PASSWORD: LIMIT - 1, LOCKED: PARALLEL - LIMIT + 1})
    # Locked: the right password is refused too.
    client = parallel_clients[0]
    form = {"csrf_token": client.csrf, "email": EMAIL, "password": "demo-password"}
    status, _, page = client.post("/ap/signin", form)
    assert (status, signin_error(page)) == (200, LOCKED)


def test_forty_parallel_wrong_codes_get_exactly_the_limit_checked(lockout_portal, parallel_clients):
    second = seed.SECOND_SELLER
    for client in parallel_clients:
        client.csrf = hidden_fields(client.get("/ap/signin")[2])["csrf_token"]
        form = {"csrf_token": client.csrf, "email": second["email"], "password": second["password"]}
        status, headers, _ = client.post("/ap/signin", form)
        assert status == 302 and headers["location"] == "/ap/mfa"
    right = totp.totp(second["totp_secret"])
    wrong = "000000" if right != "000000" else "111111"

    def wrong_code(client: PortalClient) -> str:
        status, _, page = client.post("/ap/mfa", {"csrf_token": client.csrf, "otp": wrong})
        return answer_of(status, page)

    answers = at_once(parallel_clients, wrong_code)
    assert answers == Counter({WRONG_CODE: LIMIT - 1, LOCKED: PARALLEL - LIMIT + 1})
    client = parallel_clients[0]
    status, _, page = client.post("/ap/mfa", {"csrf_token": client.csrf, "otp": right})
    assert (status, signin_error(page)) == (200, LOCKED)


# --- one-time codes are used once -------------------------------------------------------------

SECRET = "JBSWY3DPEHPK3PXP"


def send_code(client, code: str):
    token = to_code_step(client)
    return client.post("/ap/mfa", data={"csrf_token": token, "otp": code})


def test_a_code_signs_in_once_and_its_second_use_is_a_counted_wrong_code(tmp_path):
    app = own_app(tmp_path)
    code = totp.totp(SECRET)
    first = send_code(app.test_client(), code)
    assert first.status_code == 302 and first.location == "/home"
    for session_number in (2, 3):
        other = app.test_client()
        again = send_code(other, code)
        assert again.status_code == 200 and signin_error(again.text) == WRONG_CODE
        assert other.get("/home").status_code == 302
        assert failures(app.config["DATABASE"]) == session_number - 1


def test_an_earlier_steps_code_is_refused_once_a_later_one_was_used(tmp_path):
    app = own_app(tmp_path)
    now = time.time()
    # The next step's code is inside the one step of skew; once it has signed in, the
    # current step's code (also inside the skew) is used up with it.
    following = send_code(app.test_client(), totp.totp(SECRET, now + 30))
    assert following.status_code == 302
    current = send_code(app.test_client(), totp.totp(SECRET, now))
    assert signin_error(current.text) == WRONG_CODE


def test_reuse_is_allowed_only_by_the_setting(tmp_path):
    app = own_app(tmp_path, TOTP_ALLOW_REUSE=True)
    code = totp.totp(SECRET)
    for _ in range(3):
        assert send_code(app.test_client(), code).status_code == 302
    assert create_app({"DATABASE": str(tmp_path / "other.db")}).config["TOTP_ALLOW_REUSE"] is False


def test_test_portals_allow_reuse_unless_told_not_to():
    assert '"TOTP_ALLOW_REUSE": true' in PortalProcess().command()[-1]
    assert '"TOTP_ALLOW_REUSE": false' in PortalProcess(TOTP_ALLOW_REUSE=False).command()[-1]


def test_one_code_in_eight_parallel_sessions_signs_in_once():
    # A limit above the seven refusals, which count as wrong codes.
    with running_portal(orders=4, TOTP_ALLOW_REUSE=False, MAX_FAILED_ATTEMPTS=10) as portal:
        clients = [PortalClient(portal.url) for _ in range(8)]
        try:
            for client in clients:
                client.csrf = hidden_fields(client.get("/ap/signin")[2])["csrf_token"]
                form = {"csrf_token": client.csrf, "email": EMAIL, "password": "demo-password"}
                assert client.post("/ap/signin", form)[0] == 302
            code = totp.totp(SECRET)

            def use_code(client: PortalClient) -> str:
                status, _, page = client.post("/ap/mfa", {"csrf_token": client.csrf, "otp": code})
                return "signed_in" if status == 302 else answer_of(status, page)

            answers = at_once(clients, use_code)
        finally:
            for client in clients:
                client.close()
    assert answers == Counter({"signed_in": 1, WRONG_CODE: 7})


# --- the test doors: /mock/api/ and the mail catcher ------------------------------------------

EVIL = "http://evil.example"
BUYER_MAIL_ORDER = order_id(seed.CASES["flagged"])


def whole_state(app) -> tuple:
    """Orders, items, history, mail, tokens, the clock, the auto-cancel preset and faults."""
    conn = db.connect(app.config["DATABASE"])
    try:
        meta = tuple(tuple(row) for row in conn.execute("SELECT * FROM meta ORDER BY key"))
        return (tuple(snapshot(conn)), meta, str(faults.state(app).describe()))
    finally:
        conn.close()


def a_mailbox(app) -> tuple[str, int]:
    """An address with mail, and one email's id."""
    conn = db.connect(app.config["DATABASE"])
    try:
        row = conn.execute("SELECT to_addr, id FROM mail ORDER BY id LIMIT 1").fetchone()
        return row[0], row[1]
    finally:
        conn.close()


@pytest.mark.parametrize(
    "how",
    [
        {"environ_base": {"REMOTE_ADDR": "192.0.2.10"}},
        {"headers": {"Host": "evil.example"}},
        {"headers": {"Host": "evil.example:8600"}},
        {"headers": {"Host": "127.0.0.1.evil.example"}},
        {"headers": {"Origin": EVIL}},
        {"headers": {"Origin": "null"}},
        {"headers": {"Origin": "http://localhost:1"}},
    ],
    ids=[
        "far-client",
        "rebound-host",
        "rebound-host-port",
        "lookalike-host",
        "origin",
        "null",
        "port",
    ],
)
def test_mailboxes_answer_only_like_the_api(tmp_path, how):
    app = own_app(tmp_path)
    address, mail_id = a_mailbox(app)
    client = app.test_client()
    for path in (f"/mailbox/{address}", f"/mailbox/{address}/{mail_id}"):
        assert client.get(path).status_code == 200
        refused = client.get(path, **how)
        assert refused.status_code == 403
        assert address not in refused.text and "data-testid" not in refused.text
    # The API refuses the same requests: one rule for both.
    assert client.get(f"/mock/api/mail?to={address}", **how).status_code == 403


def test_with_a_token_mailboxes_need_it_from_anywhere(tmp_path):
    app = own_app(tmp_path, API_TOKEN="t0ken-123")
    address, mail_id = a_mailbox(app)
    client = app.test_client()
    far = {"REMOTE_ADDR": "192.0.2.10"}
    for path in (f"/mailbox/{address}", f"/mailbox/{address}/{mail_id}"):
        refused = client.get(path)
        assert refused.status_code == 401 and address not in refused.text
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        opened = client.get(path, headers={"Authorization": "Bearer t0ken-123"}, environ_base=far)
        assert opened.status_code == 200 and address in opened.text


def test_the_listen_name_and_allowed_hosts_are_the_portals_own(tmp_path):
    app = own_app(tmp_path, ALLOWED_HOSTS=["seller-box.lan"])
    client = app.test_client()
    for host in (
        "seller-box.lan:8600",
        "SELLER-BOX.LAN",
        "127.0.0.1:8600",
        "[::1]:8600",
        "localhost",
    ):
        assert client.get("/mock/api/health", headers={"Host": host}).status_code == 200, host
    assert client.get("/mock/api/health", headers={"Host": "other.lan"}).status_code == 403


CONTROL_CALLS = [
    ("post", f"/mock/api/orders/{CANCELLABLE}/ship"),
    ("post", f"/mock/api/orders/{CANCELLABLE}/cancel"),
    ("post", "/mock/api/reset"),
    ("post", "/mock/api/seed"),
    ("post", "/mock/api/faults"),
    ("delete", "/mock/api/faults"),
    ("post", "/mock/api/clock"),
    ("post", "/mock/api/buyer-requests"),
]
CONTROL_BODIES = {
    "/cancel": {"reason": "NoInventory"},
    "/seed": {"seed": 2, "orders": 3},
    "/faults": {"error_every": 1},
    "/clock": {"advance": "31d"},
    "/buyer-requests": {"order_id": CANCELLABLE, "kind": "official"},
}


def body_for(path: str) -> dict:
    return next((body for end, body in CONTROL_BODIES.items() if path.endswith(end)), {})


@pytest.fixture
def api_app(tmp_path):
    app = own_app(tmp_path)
    # A fault to clear, so that DELETE /mock/api/faults would change something.
    faults.state(app).set(faults.FaultSettings(latency_ms=1, paths=["/nowhere"]))
    return app


@pytest.mark.parametrize(("method", "path"), CONTROL_CALLS)
@pytest.mark.parametrize(
    "shape",
    [
        "empty-body-foreign-origin",
        "json-foreign-origin",
        "null-origin",
        "text-plain",
        "form",
        "rebound-host",
    ],
)
def test_cross_site_shaped_control_calls_are_refused_and_change_nothing(
    api_app, method, path, shape
):
    client = api_app.test_client()
    before = whole_state(api_app)
    send = getattr(client, method)
    body = body_for(path)
    if shape == "empty-body-foreign-origin":
        answer = send(path, headers={"Origin": EVIL})
    elif shape == "json-foreign-origin":
        answer = send(path, json=body, headers={"Origin": EVIL})
    elif shape == "null-origin":
        answer = send(path, json=body, headers={"Origin": "null"})
    elif shape == "text-plain":  # what a page sends without a preflight
        answer = send(path, data=json.dumps(body or {"x": 1}), content_type="text/plain")
    elif shape == "form":
        answer = send(path, data=body or {"x": "1"})
    else:
        answer = send(path, json=body, headers={"Host": "evil.example"})
    assert answer.status_code in (403, 415), answer.status_code
    assert answer.is_json and answer.json["error"]
    assert whole_state(api_app) == before


@pytest.mark.parametrize(("method", "path"), CONTROL_CALLS)
def test_same_origin_json_control_calls_still_work(api_app, method, path):
    client = api_app.test_client()
    before = whole_state(api_app)
    body = body_for(path)
    kwargs = {"json": body} if method == "post" else {}
    answer = getattr(client, method)(path, headers={"Origin": "http://localhost"}, **kwargs)
    assert answer.status_code == 200, (answer.status_code, answer.json)
    # The refusals above are the checks, not a broken call: the same call does change state.
    assert whole_state(api_app) != before


def test_bodyless_posts_without_an_origin_still_work(api_app):
    # Scripts (urllib, curl -X POST) send no Origin and often no body.
    client = api_app.test_client()
    assert client.post(f"/mock/api/orders/{CANCELLABLE}/ship").json == {"outcome": "shipped"}
    assert client.post("/mock/api/reset").status_code == 200


# --- form posts must come from the portal's own pages -----------------------------------------


@pytest.mark.parametrize("origin", [EVIL, "null", "http://localhost:8601", "https://localhost"])
def test_form_posts_with_a_foreign_origin_are_refused_despite_a_valid_token(tmp_path, origin):
    app = own_app(tmp_path)
    client = app.test_client()
    before = whole_state(app)
    token = csrf_of(client.get("/ap/signin").text)
    form = {"csrf_token": token, "email": EMAIL, "password": "demo-password"}
    refused = client.post("/ap/signin", data=form, headers={"Origin": origin})
    assert refused.status_code == 400 and 'data-testid="csrf-error"' in refused.text
    # From the portal's own page the same form goes through.
    passed = client.post("/ap/signin", data=form, headers={"Origin": "http://localhost"})
    assert passed.status_code == 302 and passed.location == "/ap/mfa"
    code = {"csrf_token": token, "otp": totp.totp(SECRET)}
    assert client.post("/ap/mfa", data=code, headers={"Origin": origin}).status_code == 400
    assert client.get("/home").status_code == 302
    signed_in = client.post("/ap/mfa", data=code)
    assert signed_in.status_code == 302
    csrf = csrf_of(client.get(f"/orders-v3/order/{CANCELLABLE}/cancel").text)
    for path, fields in (
        (f"/orders-v3/order/{CANCELLABLE}/cancel", {"reason": "NoInventory", "scope": "order"}),
        (f"/orders-v3/order/{CANCELLABLE}/confirm-shipment", {}),
        ("/ap/signout", {}),
    ):
        answer = client.post(path, data={"csrf_token": csrf, **fields}, headers={"Origin": origin})
        assert answer.status_code == 400, path
    assert whole_state(app) == before
    assert client.get("/home").status_code == 200  # still signed in: the sign-out was refused


# --- every API input is checked: a 400 with a message, never a 500 ---------------------------

CANCEL_URL = f"/mock/api/orders/{CANCELLABLE}/cancel"
# (path, raw JSON body): numbers, dates and types no caller should send.
BAD_API_BODIES = [
    ("/mock/api/clock", '{"advance": "999999999999d"}'),
    ("/mock/api/clock", '{"advance": "99999999d"}'),
    ("/mock/api/clock", '{"advance": "36526d"}'),
    ("/mock/api/clock", '{"advance": "99999999bd"}'),
    ("/mock/api/clock", '{"advance": "999999999d999999999d"}'),
    ("/mock/api/clock", '{"advance": "' + "9" * 5000 + 'd"}'),
    ("/mock/api/clock", '{"advance": "３１d"}'),
    ("/mock/api/clock", '{"advance": 31}'),
    ("/mock/api/clock", '{"advance": ["31d"]}'),
    ("/mock/api/clock", '{"auto_cancel": ["seed-30d"]}'),
    ("/mock/api/clock", '{"auto_cancel": {"seed-30d": 1}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": Infinity}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": -Infinity}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": NaN}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": 1e400}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": 100000000000000000000}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": -1}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": 1.5}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": true}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"1": "1"}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"x": 1}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"１": 1}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": {"99999999999999999999999": 1}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "items": [1]}'),
    (CANCEL_URL, '{"reason": "NoInventory", "seller": ["seller@example.com"]}'),
    (CANCEL_URL, '{"reason": "NoInventory", "seller": 5}'),
    (CANCEL_URL, '{"reason": "NoInventory", "submit_token": {"a": 1}}'),
    (CANCEL_URL, '{"reason": "NoInventory", "submit_token": "' + "t" * 65 + '"}'),
    (CANCEL_URL, '{"reason": ["NoInventory"]}'),
    (CANCEL_URL, '{"reason": "NoInventory", "memo": "' + "m" * 1001 + '"}'),
    (CANCEL_URL, '{"reason": "NoInventory", "memo": 7}'),
    ("/mock/api/faults", '{"latency_ms": Infinity}'),
    ("/mock/api/faults", '{"latency_ms": NaN}'),
    ("/mock/api/faults", '{"latency_ms": 1e400}'),
    ("/mock/api/faults", '{"latency_ms": 100000000000000000000}'),
    ("/mock/api/faults", '{"burst_429": 100000000000000000000}'),
    ("/mock/api/faults", '{"error_every": 1e300}'),
    ("/mock/api/faults", '{"error_rate": NaN}'),
    ("/mock/api/faults", '{"stall_seconds": Infinity}'),
    ("/mock/api/faults", '{"retry_after": -1}'),
    ("/mock/api/faults", '{"seed": 100000000000000000000000}'),
    ("/mock/api/faults", '{"paths": [' + ", ".join(['"/x"'] * 1000) + "]}"),
    ("/mock/api/faults", '{"paths": ["' + "p" * 5000 + '"]}'),
    ("/mock/api/seed", '{"seed": 100000000000000000000000}'),
    ("/mock/api/seed", '{"seed": 1.5}'),
    ("/mock/api/seed", '{"seed": "1"}'),
    ("/mock/api/seed", '{"orders": 100000000000000000000}'),
    ("/mock/api/seed", '{"orders": true}'),
    ("/mock/api/seed", '{"orders": -1}'),
    ("/mock/api/buyer-requests", '{"order_id": "' + "1" * 100 + '"}'),
    ("/mock/api/buyer-requests", '{"order_id": 5}'),
    ("/mock/api/buyer-requests", f'{{"order_id": "{CANCELLABLE}", "kind": ["official"]}}'),
    ("/mock/api/buyer-requests", f'{{"order_id": "{CANCELLABLE}", "reason": 5}}'),
    ("/mock/api/buyer-requests", f'{{"order_id": "{CANCELLABLE}", "reason": "{"r" * 1001}"}}'),
    ("/mock/api/clock", "Infinity"),
    ("/mock/api/clock", "NaN"),
    ("/mock/api/clock", '{"advance": "1d"'),
    ("/mock/api/clock", "[" * 50_000),
    ("/mock/api/clock", b"\xff\xfe{"),
]
BAD_API_QUERIES = [
    "/mock/api/orders?limit=99999999999999999999",
    "/mock/api/orders?limit=-1",
    "/mock/api/orders?limit=abc",
    "/mock/api/orders?limit=1.5",
    "/mock/api/orders?limit=1e3",
    "/mock/api/orders?limit=%EF%BC%91%EF%BC%90",  # full-width 10
    "/mock/api/orders?limit=100001",
    "/mock/api/orders?limit=%205",
    "/mock/api/orders?buyer_request_kind=loud",
]


def check_refused(answer) -> None:
    assert answer.status_code in (400, 413), answer.status_code
    assert answer.is_json and isinstance(answer.json["error"], str) and answer.json["error"]


@pytest.mark.parametrize(("path", "body"), BAD_API_BODIES, ids=range(len(BAD_API_BODIES)))
def test_bad_api_bodies_get_a_400_with_a_message_and_change_nothing(api_app, path, body):
    before = whole_state(api_app)
    answer = api_app.test_client().post(path, data=body, content_type="application/json")
    check_refused(answer)
    assert whole_state(api_app) == before


@pytest.mark.parametrize("url", BAD_API_QUERIES)
def test_bad_api_query_numbers_get_a_400_with_a_message(api_app, url):
    check_refused(api_app.test_client().get(url))


def test_good_api_numbers_still_work(api_app):
    client = api_app.test_client()
    assert len(client.get("/mock/api/orders?limit=3").json["orders"]) == 3
    assert client.get("/mock/api/orders?limit=0").json["orders"] == []
    assert client.post("/mock/api/faults", json={"latency_ms": 1.0, "seed": 3}).status_code == 200
    items = client.get(f"/mock/api/orders/{CANCELLABLE}").json["items"]
    body = {"reason": "NoInventory", "items": {str(items[0]["id"]): 1}}
    assert client.post(CANCEL_URL, json=body).json["outcome"] == "items_cancelled"
    # The longest step the clock takes (it auto-cancels whatever is left, so it comes last).
    assert client.post("/mock/api/clock", json={"advance": "36525d"}).status_code == 200


# --- body caps --------------------------------------------------------------------------------


def test_forms_with_thousands_of_fields_or_a_megabyte_are_refused(client, conn):
    before = snapshot(conn)
    url = f"/orders-v3/order/{CANCELLABLE}/cancel"
    many = {"csrf_token": client.csrf, "reason": "NoInventory", "scope": "order"}
    many |= {f"field_{number}": "1" for number in range(5000)}
    assert client.post(url, data=many).status_code == 413
    big = {"csrf_token": client.csrf, "reason": "NoInventory", "memo": "m" * 1_000_000}
    assert client.post(url, data=big).status_code == 413
    upload = {
        "csrf_token": client.csrf,
        "reason": "NoInventory",
        "f": (io.BytesIO(b"x" * 10**6), "f"),
    }
    assert client.post(url, data=upload, content_type="multipart/form-data").status_code == 413
    parts = {"csrf_token": client.csrf, **{f"p{number}": "1" for number in range(500)}}
    assert client.post(url, data=parts, content_type="multipart/form-data").status_code == 413
    assert snapshot(conn) == before


def test_a_real_cancel_form_of_the_largest_size_still_goes_through(tmp_path):
    app = own_app(tmp_path, TOTP_ALLOW_REUSE=True)
    client = app.test_client()
    token = to_code_step(client)
    assert (
        client.post("/ap/mfa", data={"csrf_token": token, "otp": totp.totp(SECRET)}).status_code
        == 302
    )
    page = client.get(f"/orders-v3/order/{CANCELLABLE}/cancel?lang=zh-CN").text
    form = hidden_fields(page) | {"reason": "NoInventory", "scope": "order", "memo": "取消" * 500}
    form |= {name: "1" for name in re.findall(r'name="(qty_[0-9]+)"', page)}
    answer = client.post(f"/orders-v3/order/{CANCELLABLE}/cancel", data=form)
    assert answer.status_code == 303, answer.status_code


def test_a_huge_api_body_gets_a_413_with_a_message(api_app):
    before = whole_state(api_app)
    body = {"advance": "1d", "padding": "x" * 200_000}
    answer = api_app.test_client().post("/mock/api/clock", json=body)
    assert answer.status_code == 413 and "too large" in answer.json["error"]
    assert whole_state(api_app) == before


def test_a_real_server_refuses_a_megabyte_form_cleanly(lockout_portal):
    client = PortalClient(lockout_portal.url)
    try:
        token = hidden_fields(client.get("/ap/signin")[2])["csrf_token"]
        status, _, _ = client.post("/ap/signin", {"csrf_token": token, "email": "x" * 1_000_000})
        assert status == 413
        # The server is still there for the next request.
        assert client.get("/ap/signin")[0] == 200
    finally:
        client.close()


def test_no_api_answer_carries_a_secret_or_a_password_hash(api_app):
    client = api_app.test_client()
    answers = [
        client.get("/mock/api/orders").text,
        client.get(f"/mock/api/orders/{CANCELLABLE}").text,
        client.get("/mock/api/mail").text,
        client.get("/mock/api/metrics").text,
        client.get("/mock/api/clock").text,
    ]
    for text in answers:
        for secret in (SECRET, seed.SECOND_SELLER["totp_secret"], "scrypt:", "pbkdf2:"):
            assert secret not in text


ODD_JSON_VALUES = [
    None,
    True,
    False,
    -1,
    0,
    1.5,
    10**30,
    -(10**30),
    1e308,
    "",
    "x",
    "９",
    "1e3",
    "31d",
    "x" * 2000,
    [],
    [1, "a"],
    {},
    {"1": 1},
    {"1": {"1": []}},
]
API_FIELDS = {
    "/mock/api/clock": ["advance", "auto_cancel", "sweep"],
    CANCEL_URL: ["reason", "memo", "items", "seller", "submit_token"],
    f"/mock/api/orders/{CANCELLABLE}/ship": ["anything"],
    "/mock/api/faults": [
        "error_rate",
        "error_every",
        "latency_ms",
        "stall_every",
        "stall_rate",
        "stall_seconds",
        "expire_session_every",
        "burst_429",
        "retry_after",
        "paths",
        "methods",
        "seed",
    ],
    "/mock/api/buyer-requests": ["order_id", "kind", "reason"],
    "/mock/api/seed": ["seed", "orders"],
}


def test_generated_api_bodies_never_give_a_500(api_app):
    client = api_app.test_client()
    rng = random.Random(23)
    for _ in range(GENERATED_CASES):
        path = rng.choice(list(API_FIELDS))
        fields = rng.sample(API_FIELDS[path], rng.randint(1, min(3, len(API_FIELDS[path]))))
        body = {name: rng.choice(ODD_JSON_VALUES) for name in fields}
        # Keep the portal small and the clock near: these calls may succeed.
        if body.get("orders") not in (None, True, False) and isinstance(body.get("orders"), int):
            body["orders"] = min(abs(body["orders"]), 20)
        if isinstance(body.get("latency_ms"), int | float):
            body["latency_ms"] = 0
        answer = client.post(path, json=body)
        assert answer.status_code < 500, (path, body, answer.status_code)
        assert answer.is_json
        client.delete("/mock/api/faults")
    for value in ODD_JSON_VALUES:
        query = quote(json.dumps(value), safe="")
        for name in ("limit", "status", "seller", "buyer_request_kind", "to", "kind", "order_id"):
            answer = client.get(f"/mock/api/orders?{name}={query}")
            assert answer.status_code < 500, (name, value)
            assert client.get(f"/mock/api/mail?{name}={query}").status_code < 500
            assert client.get(f"/mock/api/metrics?seller={query}").status_code < 500
