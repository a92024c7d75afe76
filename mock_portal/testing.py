"""Start a real portal for end-to-end tests: your own test suite can use this too.

    from mock_portal.testing import running_portal

    with running_portal(seed=3, orders=50) as portal:
        portal.url                                  # "http://127.0.0.1:40123"
        portal.api_get("/mock/api/orders?status=Unshipped")["orders"]
        portal.api_post("/mock/api/clock", {"advance": "31d"})

The portal runs in a subprocess (`python -m mock_portal --port 0`) on a free loopback port and
its own database (a temporary file unless `db_path` is given). Startup waits until
/mock/api/health answers and fails at once, with the portal's output, if the process dies.
The process is stopped (SIGTERM, then SIGKILL) when the block ends.

Unlike `portal serve`, a portal started here lets a TOTP code sign in more than once
(TOTP_ALLOW_REUSE=True): a test suite signs in many times within one code's 30 seconds.
Pass TOTP_ALLOW_REUSE=False to test the single use itself.
"""

from __future__ import annotations

import collections
import html
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

READY_PREFIX = "Portal listening on "

# Friendly names for the settings the subprocess command line has flags for.
_FLAGS = {
    "lang": "--lang",
    "auto_cancel": "--auto-cancel",
    "smtp": "--smtp",
    "api_token": "--api-token",
    "markup": "--markup",
    "threads": "--threads",
    "workers": "--workers",
}


class PortalStartError(RuntimeError):
    """The portal process died or did not answer in time; the message carries its output."""


class PortalAPIError(RuntimeError):
    """The control API refused a request (a bad setting, a malformed clock step)."""


class PortalProcess:
    """A portal in a subprocess. Use `start()`/`stop()` or, better, `running_portal()`.

    `config` takes the command-line settings by name (lang, auto_cancel, smtp, api_token,
    markup, threads, workers) and any app setting in upper case (SESSION_IDLE_MINUTES=1, SWEEP_INTERVAL_SECONDS=1,
    DEMO_PASSWORD=...). TOTP_ALLOW_REUSE is True unless given."""

    def __init__(
        self,
        db_path: str | os.PathLike | None = None,
        seed: int = 1,
        orders: int = 200,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 30.0,
        **config: Any,
    ) -> None:
        self._tempdir: str | None = None
        if db_path is None:
            self._tempdir = tempfile.mkdtemp(prefix="seller-agent-portal-")
            db_path = Path(self._tempdir) / "portal.db"
        self.db_path = Path(db_path)
        self.seed = seed
        self.order_count = orders
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.api_token: str | None = config.get("api_token") or config.get("API_TOKEN")
        # See the module docstring: tests sign in faster than codes change.
        config.setdefault("TOTP_ALLOW_REUSE", True)
        self.config = config
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=400)
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "mock_portal",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--db",
            str(self.db_path),
            "--seed",
            str(self.seed),
            "--orders",
            str(self.order_count),
        ]
        app_settings = {}
        for name, value in self.config.items():
            if value is None:
                continue
            if name in _FLAGS:
                args += [_FLAGS[name], str(value)]
            elif name.isupper():
                app_settings[name] = value
            else:
                raise TypeError(
                    f"unknown portal setting {name!r}: use one of {', '.join(_FLAGS)} "
                    "or an app setting in upper case"
                )
        if app_settings:
            args += ["--config-json", json.dumps(app_settings)]
        return args

    @property
    def output(self) -> str:
        """What the portal printed so far (the last few hundred lines)."""
        return "".join(self._output)

    def start(self) -> PortalProcess:
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        # Draining continuously keeps a chatty portal from blocking on a full pipe.
        for line in self.process.stdout:
            self._output.append(line)
            if not self._ready.is_set() and line.startswith(READY_PREFIX):
                self.url = line[len(READY_PREFIX) :].strip()
                self._ready.set()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if self._reader:
                    self._reader.join(timeout=2)
                raise PortalStartError(
                    f"the portal exited with code {self.process.returncode} before answering:\n"
                    f"{self.output}"
                )
            if self._ready.is_set() and self._healthy():
                return
            time.sleep(0.05)
        raise PortalStartError(
            f"the portal did not answer within {self.startup_timeout:.0f} s:\n{self.output}"
        )

    def _healthy(self) -> bool:
        try:
            return self.api_get("/mock/api/health", timeout=2).get("ok") is True
        except (urllib.error.HTTPError, PortalAPIError):
            return True  # it answers; the API is only switched off (API_ENABLED False)
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=2)
        if self._tempdir:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None

    def __enter__(self) -> PortalProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _request(
        self, method: str, path: str, body: Any = None, timeout: float = 30
    ) -> dict[str, Any]:
        # The control API's paths: "/mock/api/faults", or "/faults" and "faults" for short.
        if not path.startswith("/mock/api"):
            path = "/mock/api/" + path.lstrip("/")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.api_token:
            request.add_header("Authorization", f"Bearer {self.api_token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            # The API answers errors and "not found" outcomes with JSON bodies; tests want them.
            payload = error.read()
            try:
                result = json.loads(payload)
            except ValueError:
                raise PortalAPIError(
                    f"{method} {path}: HTTP {error.code} {error.reason} (no such control API "
                    "path? see docs/portal.md)"
                ) from None
            if isinstance(result, dict):
                result.setdefault("http_status", error.code)
            return result

    def api_get(self, path: str, timeout: float = 30) -> dict[str, Any]:
        """GET a /mock/api/ path; the decoded JSON (error answers too, with `http_status`)."""
        return self._request("GET", path, timeout=timeout)

    def api_post(self, path: str, json_body: Any = None, timeout: float = 30) -> dict[str, Any]:
        """POST JSON to a /mock/api/ path; the decoded JSON answer."""
        return self._request("POST", path, {} if json_body is None else json_body, timeout)

    def api_delete(self, path: str, timeout: float = 30) -> dict[str, Any]:
        return self._request("DELETE", path, timeout=timeout)

    def orders(self, status: str | None = None, seller: str | None = None) -> list[dict]:
        """Order records from the API, newest first."""
        query = urllib.parse.urlencode(
            {key: value for key, value in (("status", status), ("seller", seller)) if value}
        )
        return self.api_get("/mock/api/orders" + (f"?{query}" if query else ""))["orders"]

    def order(self, order_id: str) -> dict:
        return self.api_get(f"/mock/api/orders/{order_id}")

    def mail(self, to: str | None = None, order_id: str | None = None) -> list[dict]:
        """Emails the portal sent, newest first: to one address, about one order, or all."""
        query = urllib.parse.urlencode(
            {key: value for key, value in (("to", to), ("order_id", order_id)) if value}
        )
        return self.api_get("/mock/api/mail" + (f"?{query}" if query else ""))["mail"]

    def _checked(self, what: str, answer: dict[str, Any]) -> dict[str, Any]:
        status = answer.get("http_status")
        if status is not None and status >= 400 and status != 404:
            raise PortalAPIError(f"{what}: {answer.get('error') or f'HTTP {status}'}")
        return answer

    def reset(self, seed: int | None = None, orders: int | None = None) -> dict[str, Any]:
        """Wipe and seed again (clock, faults, sessions and trusted devices too): with this
        seed and order count, else the ones the portal was started with."""
        given = {
            key: value for key, value in (("seed", seed), ("orders", orders)) if value is not None
        }
        return self._checked("reset", self.api_post("/mock/api/seed", given))

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace the injected faults (see mock_portal/faults.py); the active set."""
        return self._checked("faults", self.api_post("/mock/api/faults", settings))

    def clear_faults(self) -> dict[str, Any]:
        return self._checked("faults", self.api_delete("/mock/api/faults"))

    def advance_clock(self, by: str) -> dict[str, Any]:
        """Move the portal's clock ("31d", "7bd", "2h"); the answer lists what the
        auto-cancel sweep cancelled."""
        return self._checked("advance_clock", self.api_post("/mock/api/clock", {"advance": by}))

    def buyer_request(
        self, order_id: str, kind: str = "official", reason: str = ""
    ) -> dict[str, Any]:
        """The buyer asks to cancel (kind "official"), only writes a message ("message"), or
        cancels a new Pending order itself ("cancel"): {"outcome", "order"}."""
        body = {"order_id": order_id, "kind": kind, "reason": reason}
        return self._checked("buyer_request", self.api_post("/mock/api/buyer-requests", body))

    def metrics(self, seller: str | None = None) -> dict[str, Any]:
        """The Order Cancellation Rate and its parts."""
        query = f"?{urllib.parse.urlencode({'seller': seller})}" if seller else ""
        return self.api_get("/mock/api/metrics" + query)


def attach_portal(url: str, api_token: str | None = None) -> PortalProcess:
    """The helpers of PortalProcess for a portal that already runs (started elsewhere, for
    example with `seller-agent portal serve`): nothing is started, stop() does nothing."""
    portal = PortalProcess(db_path=os.devnull, api_token=api_token)
    portal.url = url.rstrip("/")
    return portal


@contextmanager
def running_portal(
    db_path: str | os.PathLike | None = None, seed: int = 1, orders: int = 200, **config: Any
) -> Iterator[PortalProcess]:
    """A started portal for the duration of the block (see the module docstring)."""
    portal = PortalProcess(db_path=db_path, seed=seed, orders=orders, **config)
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()


_HIDDEN_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')


def hidden_fields(page: str) -> dict[str, str]:
    """The values of a page's hidden inputs by name (csrf_token, submit_token, ...)."""
    fields = {}
    for tag in _HIDDEN_INPUT.findall(page):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if attributes.get("type", "").lower() == "hidden" and "name" in attributes:
            fields[attributes["name"]] = html.unescape(attributes.get("value", ""))
    return fields


class PortalClient:
    """A seller's browser without the browser: one keep-alive HTTP connection, a cookie jar,
    and the real forms (sign-in with password and TOTP, the Cancel order form). Not
    thread-safe; give each thread its own. Redirects are not followed unless asked."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        """(status, headers with lower-case names, body text)."""
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"Connection": "keep-alive"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=body, headers=headers)
                response = self._conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server may close an idle keep-alive connection between two requests;
                # only then is it safe to send the request again on a new one.
                self.close()
                if attempt == 2:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = cookie_value
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, str], str]:
        return self.request("POST", path, form)

    def follow(self, answer: tuple[int, dict[str, str], str]) -> tuple[int, dict[str, str], str]:
        status, headers, _ = answer
        while status in (301, 302, 303, 307) and "location" in headers:
            location = urllib.parse.urlsplit(headers["location"])
            path = location.path + (f"?{location.query}" if location.query else "")
            status, headers, text = self.get(path)
            answer = (status, headers, text)
        return answer

    def sign_in(self, email: str, password: str, totp_secret: str) -> None:
        """Email and password, then the TOTP code; raises RuntimeError naming the step that
        did not work (never the password or the secret)."""
        from mock_portal import totp

        _, _, page = self.get("/ap/signin")
        csrf = hidden_fields(page).get("csrf_token", "")
        status, headers, _ = self.post(
            "/ap/signin", {"csrf_token": csrf, "email": email, "password": password}
        )
        if status not in (302, 303) or "/ap/mfa" not in headers.get("location", ""):
            if status in (302, 303):
                return  # a trusted device skips the code
            raise RuntimeError(f"sign-in as {email}: the password step answered HTTP {status}")
        _, _, page = self.get("/ap/mfa")
        csrf = hidden_fields(page).get("csrf_token", csrf)
        status, _, _ = self.post("/ap/mfa", {"csrf_token": csrf, "otp": totp.totp(totp_secret)})
        if status not in (302, 303):
            raise RuntimeError(f"sign-in as {email}: the code step answered HTTP {status}")

    def cancel_form(self, order_id: str) -> tuple[int, dict[str, str]]:
        """GET the Cancel order page: (status, its hidden fields)."""
        status, _, page = self.get(f"/orders-v3/order/{order_id}/cancel")
        return status, hidden_fields(page)

    def submit_cancel(
        self, order_id: str, fields: dict[str, str], reason: str, memo: str = ""
    ) -> str:
        """POST the Cancel order form; the outcome as the page reports it: "cancelled",
        "already_cancelled", "not_cancellable", "not_found", "form_error", "signed_out" or
        "http_<status>"."""
        form = {
            "csrf_token": fields.get("csrf_token", ""),
            "submit_token": fields.get("submit_token", ""),
            "scope": "order",
            "reason": reason,
            "memo": memo,
        }
        status, headers, page = self.post(f"/orders-v3/order/{order_id}/cancel", form)
        return outcome_of(status, headers, page, order_id)

    def cancel(self, order_id: str, reason: str, memo: str = "") -> str:
        status, fields = self.cancel_form(order_id)
        if status == 404:
            return "not_found"
        if status in (302, 303):
            return "signed_out"
        return self.submit_cancel(order_id, fields, reason, memo)


def outcome_of(status: int, headers: dict[str, str], page: str, order_id: str) -> str:
    location = headers.get("location", "")
    if status in (302, 303):
        if "/ap/signin" in location:
            return "signed_out"
        if f"/orders-v3/order/{order_id}" in location:
            return "cancelled"
    if status == 404:
        return "not_found"
    for testid, outcome in (
        ("already-cancelled", "already_cancelled"),
        ("not-cancellable", "not_cancellable"),
        ("form-error", "form_error"),
    ):
        if f'data-testid="{testid}"' in page:
            return outcome
    return f"http_{status}"
