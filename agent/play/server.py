"""Serving a Chromium to other machines: Playwright's own browser server (launchServer), so a
bulk run elsewhere drives it with `playwright.chromium.connect`, the protocol Playwright has
for this. Python Playwright has no launchServer; the Node.js and playwright-core that its
package ships do, and a small script (browser_server.js) calls it."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import SellerAgentError, UserError
from agent.i18n import N_, told
from agent.play.browser import CHROMIUM_ARGS, TOKEN_PATTERN, find_browser

SCRIPT = Path(__file__).with_name("browser_server.js")


class ServerError(SellerAgentError):
    """The browser server could not start, or stopped by itself."""


def new_token() -> str:
    """An unguessable path for the server: whoever knows it can drive the browser."""
    return secrets.token_urlsafe(24)


def check_token(token: str) -> str:
    if not TOKEN_PATTERN.match(token):
        raise UserError(
            "--token: 16 to 128 characters from A-Z a-z 0-9 . _ ~ - (it is the server's "
            "secret path; leave it out for a random one)"
        )
    return token


def driver() -> tuple[str, Path]:
    """Playwright's Node.js and its playwright-core package, as the Python package ships them."""
    from playwright._impl._driver import compute_driver_executable

    node, cli = compute_driver_executable()
    return str(node), Path(cli).parent


@dataclass
class BrowserServer:
    process: subprocess.Popen[str]
    endpoint: str

    def stop(self, timeout: float = 15) -> int:
        """Close the browser and the server; the exit code of the server process."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def start_server(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    browser_path: str | None = None,
) -> BrowserServer:
    """Start a browser server with the Chromium this tool finds and its flags; returns once it
    listens. The endpoint it returns carries the token: show it only to whom may use it."""
    node, package = driver()
    settings: dict[str, Any] = {
        "package": str(package),
        "executablePath": find_browser(browser_path, headless=True),
        "args": CHROMIUM_ARGS,
        "host": host,
        "port": port,
        "wsPath": "/" + check_token(token or new_token()),
    }
    process = subprocess.Popen(
        [node, str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "SELLER_AGENT_SERVER_SETTINGS": json.dumps(settings)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        answer = json.loads(line) if line.strip() else {}
    except ValueError:
        answer = {"error": line.strip()}
    if "wsEndpoint" not in answer:
        process.kill()
        process.wait()
        reason = answer.get("error") or told(
            N_("it exited with code {code}"), code=process.returncode
        )
        if "EADDRINUSE" in reason:
            raise UserError(
                told(
                    N_("browser server: port {port} on {host} is already in use"),
                    port=port,
                    host=host,
                )
            )
        if "EADDRNOTAVAIL" in reason or "ENOTFOUND" in reason:
            raise UserError(
                told(
                    N_("browser server: cannot listen on {host}: no such local address"), host=host
                )
            )
        raise ServerError(told(N_("browser server did not start: {reason}"), reason=reason))
    return BrowserServer(process=process, endpoint=answer["wsEndpoint"])


def wait(server: BrowserServer) -> int:
    """Block until the server stops by itself (its browser died) or a signal stops it; a
    signal closes the browser cleanly. The exit code: 0 when stopped, else the server's."""
    stopped = False

    def on_signal(number: int, frame: Any) -> None:
        nonlocal stopped
        stopped = True
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)

    previous = {
        number: signal.signal(number, on_signal)
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        while True:
            try:
                code = server.process.wait()
                break
            except KeyboardInterrupt:
                on_signal(signal.SIGINT, None)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0 if stopped else (code or 1)
