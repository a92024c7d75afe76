"""Injected faults: 500s, 429 bursts, latency, stalls, session expiry, and their filters."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest

from mock_portal import totp
from mock_portal.testing import PortalAPIError, hidden_fields, running_portal


def set_faults(client, **settings):
    answer = client.post("/mock/api/faults", json=settings)
    assert answer.status_code == 200, answer.json
    return answer.json


def statuses(client, path="/ap/signin", count=4):
    return [client.get(path).status_code for _ in range(count)]


def sign_in(client):
    csrf = hidden_fields(client.get("/ap/signin").text)["csrf_token"]
    client.post(
        "/ap/signin",
        data={"csrf_token": csrf, "email": "seller@example.com", "password": "demo-password"},
    )
    answer = client.post("/ap/mfa", data={"csrf_token": csrf, "otp": totp.totp("JBSWY3DPEHPK3PXP")})
    assert answer.status_code in (302, 303)


def test_error_every_nth_request_but_never_the_api(client):
    set_faults(client, error_every=2)
    assert statuses(client) == [200, 500, 200, 500]
    assert [client.get("/mock/api/health").status_code for _ in range(3)] == [200] * 3
    described = client.get("/mock/api/faults").json
    assert described["counters"]["errors"] == 2 and described["counters"]["requests"] == 4
    client.delete("/mock/api/faults")
    assert statuses(client) == [200] * 4


def test_error_rate_one_fails_everything_and_zero_nothing(client):
    set_faults(client, error_rate=1)
    assert statuses(client, count=3) == [500] * 3
    set_faults(client, error_rate=0)
    assert statuses(client, count=3) == [200] * 3


def test_seeded_error_rate_is_repeatable(client):
    set_faults(client, error_rate=0.5, seed=7)
    first = statuses(client, count=12)
    set_faults(client, error_rate=0.5, seed=7)
    assert statuses(client, count=12) == first
    assert set(first) == {200, 500}


def test_burst_of_429_with_retry_after(client):
    set_faults(client, burst_429=3, retry_after=7)
    answers = [client.get("/ap/signin") for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert all(a.headers["Retry-After"] == "7" for a in answers[:3])


def test_latency_delays_each_request(client):
    set_faults(client, latency_ms=250)
    started = time.monotonic()
    assert client.get("/ap/signin").status_code == 200
    assert time.monotonic() - started >= 0.25


def test_paths_and_methods_narrow_the_faults(client):
    set_faults(client, error_every=1, paths=["/orders-v3/"], methods=["POST"])
    assert statuses(client, count=2) == [200, 200]
    assert client.get("/orders-v3/").status_code in (302, 303)  # GET: only sent to sign-in
    assert client.post("/orders-v3/order/x/cancel", data={}).status_code == 500


def test_session_expiry_sends_the_seller_to_sign_in(client):
    sign_in(client)
    assert client.get("/home").status_code == 200
    set_faults(client, expire_session_every=2)
    assert client.get("/home").status_code == 200
    expired = client.get("/home")
    assert expired.status_code in (302, 303) and "/ap/signin" in expired.headers["Location"]
    client.delete("/mock/api/faults")
    # The session is gone for good, not just for that one request.
    assert client.get("/home").status_code in (302, 303)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"error_rate": 2}, "error_rate must be between 0 and 1"),
        ({"bogus": 1}, "unknown fault setting 'bogus'"),
        ({"latency_ms": "slow"}, "latency_ms must be a number"),
        ({"error_every": 1.5}, "error_every must be a whole number"),
        ({"burst_429": -1}, "burst_429 must not be negative"),
        ({"paths": "/x"}, "paths must be a list of strings"),
        ({"stall_seconds": 9999}, "stall_seconds must be between 0 and 600"),
    ],
)
def test_bad_settings_are_refused_by_name(client, settings, message):
    set_faults(client, error_every=3)
    answer = client.post("/mock/api/faults", json=settings)
    assert answer.status_code == 400 and message in answer.json["error"]
    # The faults in force are unchanged.
    assert client.get("/mock/api/faults").json["faults"]["error_every"] == 3


def test_stall_holds_the_request_while_the_portal_keeps_answering():
    with running_portal(orders=5) as portal:
        portal.api_post(
            "/mock/api/faults", {"stall_every": 1, "stall_seconds": 2, "paths": ["/ap/signin"]}
        )
        started = time.monotonic()
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            urllib.request.urlopen(portal.url + "/ap/signin", timeout=0.5)
        assert time.monotonic() - started < 1.8
        # Other requests are served meanwhile, by other threads.
        assert portal.api_get("/mock/api/health", timeout=2) == {"ok": True}
        assert portal.api_get("/mock/api/faults")["counters"]["stalls"] == 1
        portal.api_delete("/mock/api/faults")
        with urllib.request.urlopen(portal.url + "/ap/signin", timeout=5) as answer:
            assert answer.status == 200


def test_control_api_paths_may_be_short_and_a_wrong_one_is_one_line(portal):
    assert portal.api_get("/faults") == portal.api_get("/mock/api/faults")
    assert portal.api_get("health") == {"ok": True}
    # An error answer of the API is JSON, with its status.
    assert portal.api_get("/mock/api/orders/999-0000000-0000000")["http_status"] == 404
    with pytest.raises(PortalAPIError) as error:
        portal.api_get("/no-such-thing")
    assert str(error.value).startswith("GET /mock/api/no-such-thing: HTTP 404 NOT FOUND")
