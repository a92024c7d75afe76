"""`seller-agent browser serve` and --browser-endpoint with real browser servers: the server
keeps its token to itself and stops cleanly; an endpoint that cannot be used is one line and
exit 2 before anything is recorded; a Chromium DevTools endpoint works as well."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import heap_collected
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from agent.play import browser as browserlib
from agent.play.browser import EndpointError, connect_error_line, find_browser, parse_endpoint

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SELLER_AGENT = str(Path(sys.executable).with_name("seller-agent"))
ORDER = "112-0000001-0000001"


def environment(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    for name in ("SELLER_AGENT_PORTAL", "SELLER_AGENT_API_TOKEN", "SELLER_AGENT_BROWSER_ENDPOINT"):
        env.pop(name, None)
    return env


@pytest.fixture
def server(tmp_path):
    process = subprocess.Popen(
        [SELLER_AGENT, "browser", "serve", "--port", "0"],
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    endpoint = process.stdout.readline().strip()
    assert endpoint.startswith("ws://127.0.0.1:"), process.stderr.read()
    process.endpoint = endpoint
    process.port = int(endpoint.split(":")[2].split("/")[0])
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def children(pid):
    """Every process below pid (Node.js, Chromium and Chromium's helpers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(kid) for kid in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *children(kid)]
    return found


def gone(pids, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        if not alive:
            return True
        time.sleep(0.1)
    return False


def _zombie(pid):
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


def cancel(tmp_path, *args):
    return subprocess.run(
        [SELLER_AGENT, "cancel", ORDER, "--yes", "--journal", str(tmp_path / "journal.db")]
        + ["--portal", "http://127.0.0.1:9", *args],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def test_the_server_serves_its_token_path_only_and_stops_cleanly(server):
    token = server.endpoint.rsplit("/", 1)[1]
    assert len(token) >= 32
    # Playwright's server would tell its path to anyone asking GET /json; ours tells nothing.
    for path in ("/json", "/", "/json/version"):
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5)
        assert answer.value.code == 404
        assert token not in answer.value.read().decode()

    async def use():
        async with async_playwright() as playwright:
            browser = await playwright.chromium.connect(server.endpoint)
            page = await browser.new_page()
            await page.set_content("<title>served</title>")
            title = await page.title()
            await browser.close()
            return title

    assert asyncio.run(use()) == "served"
    below = children(server.pid)
    assert len(below) >= 2  # Node.js and its Chromium
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert gone(below), "the browser outlived its server"


def test_a_killed_serve_command_takes_its_browser_along(server):
    below = children(server.pid)
    # Only the command itself, as `kill -9` of its pid would: Node.js sees its stdin close.
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    assert gone(below), "Node.js or Chromium outlived a killed `browser serve`"


def test_serve_refuses_a_short_token_and_a_busy_port(tmp_path, server):
    short = subprocess.run(
        [SELLER_AGENT, "browser", "serve", "--port", "0", "--token", "abc"],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert short.returncode == 2 and short.stdout == ""
    assert short.stderr.startswith("Error: --token: 16 to 128 characters")
    busy = subprocess.run(
        [SELLER_AGENT, "browser", "serve", "--port", str(server.port)],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert busy.returncode == 2 and busy.stdout == ""
    assert (
        busy.stderr == f"Error: browser server: port {server.port} on 127.0.0.1 is already in use\n"
    )


def test_a_wrong_token_is_one_line_before_anything_is_recorded(tmp_path, server):
    wrong = server.endpoint.rsplit("/", 1)[0] + "/not-the-right-token-at-all"
    result = cancel(tmp_path, "--browser-endpoint", wrong)
    assert result.returncode == 2, result.stderr
    assert error_lines(result) == [
        f"Error: browser endpoint ws://127.0.0.1:{server.port}/…: the server refused the path "
        "(wrong token, or not a Playwright browser server)"
    ]
    assert "Traceback" not in result.stderr and "not-the-right-token" not in result.stderr
    # Nothing recorded: no run in the journal (if the journal exists at all).
    assert not (tmp_path / "journal.db").exists()


def test_an_unreachable_endpoint_is_one_line(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there now.
    result = cancel(tmp_path, "--browser-endpoint", f"ws://127.0.0.1:{port}/some-token-value-here")
    assert result.returncode == 2
    assert error_lines(result) == [
        f"Error: browser endpoint ws://127.0.0.1:{port}/…: unreachable: connection refused (is "
        "the browser server running?)"
    ]
    assert not (tmp_path / "journal.db").exists()


def test_every_endpoint_is_checked_not_only_the_first(tmp_path, server):
    result = cancel(
        tmp_path,
        "--browser-endpoint",
        server.endpoint,
        "--browser-endpoint",
        "ws://127.0.0.1:9/another-token-value",
    )
    assert result.returncode == 2
    assert error_lines(result) == [
        "Error: browser endpoint ws://127.0.0.1:9/…: unreachable: connection refused (is the "
        "browser server running?)"
    ]


def test_a_malformed_endpoint_or_shard_is_a_usage_error(tmp_path):
    result = cancel(tmp_path, "--browser-endpoint", "ftp://host/x")
    assert result.returncode == 2
    assert "Invalid value for '--browser-endpoint': browser endpoint ftp://host/…" in result.stderr
    result = cancel(tmp_path, "--shard", "4/3")
    assert result.returncode == 2
    assert "Invalid value for '--shard': K must be from 1 to N" in result.stderr
    # The environment variable is read too, space-separated.
    env = environment(tmp_path) | {
        "SELLER_AGENT_BROWSER_ENDPOINT": "ws://127.0.0.1:9/tokentokentoken ftp://x/y"
    }
    result = subprocess.run(
        [SELLER_AGENT, "login"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "ftp://x/…" in result.stderr


def test_a_playwright_version_mismatch_is_named_with_both_versions(server):
    """The server refuses a client of another minor version with HTTP 428; a client that says
    it is Playwright 1.10 meets that refusal for real."""
    endpoint = parse_endpoint(server.endpoint)

    async def connect_as_old_client():
        async with async_playwright() as playwright:
            with pytest.raises(PlaywrightError) as refused:
                await playwright.chromium.connect(
                    endpoint.url, headers={"User-Agent": "Playwright/1.10.0 (x64; debian 12)"}
                )
            return refused.value

    error = asyncio.run(connect_as_old_client())
    from playwright._repo_version import version

    ours = ".".join(version.split(".")[:2])
    assert connect_error_line(endpoint, error) == (
        f"browser endpoint ws://127.0.0.1:{server.port}/…: Playwright version mismatch: the "
        f"browser server has {ours}, this tool 1.10; install the same Playwright version on "
        "both sides"
    )


def test_an_endpoint_that_never_answers_times_out_in_one_line(monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    monkeypatch.setattr(browserlib, "CONNECT_TIMEOUT_MS", 1500)

    async def connect():
        async with async_playwright() as playwright:
            await browserlib.launch(playwright, connect=f"ws://127.0.0.1:{port}/silent-token-x")

    try:
        with pytest.raises(EndpointError) as caught:
            asyncio.run(connect())
    finally:
        listener.close()
    assert str(caught.value).startswith(
        f"browser endpoint ws://127.0.0.1:{port}/…: no answer within"
    )


def test_a_server_that_is_no_devtools_endpoint_is_named(server):
    async def connect():
        async with async_playwright() as playwright:
            await browserlib.launch(playwright, connect=f"http://127.0.0.1:{server.port}")

    with pytest.raises(EndpointError) as caught:
        asyncio.run(connect())
    assert str(caught.value) == (
        f"browser endpoint http://127.0.0.1:{server.port}/: does not answer as a Chromium "
        "DevTools endpoint"
    )


@contextlib.contextmanager
def devtools_chromium(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Chromium that only speaks the DevTools protocol (as browser services expose it):
    its endpoint (http://127.0.0.1:PORT) and its process, ended when the block ends."""
    profile = Path(tempfile.mkdtemp(prefix="cdp-", dir=tmp_path))
    chromium = subprocess.Popen(
        [find_browser(headless=True), "--headless", "--no-sandbox", "--remote-debugging-port=0"]
        + [f"--user-data-dir={profile}", *browserlib.CHROMIUM_ARGS, "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own process group: Debian's chromium-headless-shell is a wrapper script, and
        # the browser it starts must go when the test ends.
        start_new_session=True,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and active.read_text().count("\n") >= 1):
            assert time.monotonic() < deadline and chromium.poll() is None
            time.sleep(0.1)
        yield f"http://127.0.0.1:{active.read_text().split()[0]}", chromium
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(chromium.pid, signal.SIGTERM)
        chromium.wait(timeout=30)


def test_login_through_a_devtools_endpoint(tmp_path, portal):
    with devtools_chromium(tmp_path) as (endpoint, chromium):
        result = subprocess.run(
            [SELLER_AGENT, "login", "--portal", portal.url, "--browser-endpoint", endpoint],
            env=environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert Path(result.stdout.strip()).is_file()
        # The browser served on: the tool disconnected, it did not close someone else's browser.
        assert chromium.poll() is None


def test_a_devtools_endpoint_collects_garbage_and_checks_sessions(
    tmp_path, fresh_portal, data_home
):
    """What a bulk run asks of its browser besides playing flows, over connect_over_cdp: the
    renderer's garbage collection every few rows, and the saved session's check over HTTP,
    which must tell a working session from one the portal has ended."""
    from agent.play import session
    from agent.play.secrets import load_secrets

    async def scenario(endpoint: str) -> dict:
        seen: dict = {}
        async with async_playwright() as playwright:
            browser = await browserlib.connect_endpoint(playwright, parse_endpoint(endpoint))
            context = await browserlib.new_context(browser)
            page = await context.new_page()
            before, after, collected = await heap_collected(context, page)
            seen.update({"heap before": before, "heap after": after, "collected": collected})
            await context.close()

            portal = fresh_portal.url
            secrets = load_secrets()
            state = await session.ensure_session(
                browser, portal=portal, secrets=secrets, run_dir=tmp_path
            )
            seen["works"] = await session.session_works(browser, state, portal=portal)
            fresh_portal.api_post(
                "/mock/api/faults",
                {"expire_session_every": 1, "methods": ["GET"], "paths": ["/home"]},
            )
            try:
                seen["ended"] = await session.session_works(browser, state, portal=portal)
            finally:
                fresh_portal.api_post("/mock/api/faults", {})
            await browser.close()
        return seen

    with devtools_chromium(tmp_path) as (endpoint, chromium):
        seen = asyncio.run(scenario(endpoint))
        assert chromium.poll() is None, "closing the connection must not end the browser"
    assert seen["collected"] is True
    assert seen["heap before"] > 10 * 2**20, seen
    assert seen["heap after"] < seen["heap before"] / 4, seen
    assert seen["works"] is True
    assert seen["ended"] is False
