"""Flows for tests: the tool's own player, and its own sign-in, next to pytest-playwright.

The player is asynchronous; pytest-playwright's `page` is the sync API, whose event loop
stays marked as running in the main thread for the whole session, so no second loop can run
there. The flows therefore run in a thread of their own, with their own event loop, async
Playwright and browser (launched with the same options as pytest-playwright's), started the
first time a test needs them.

Signing in happens once per portal and is kept as a storage state (cookies: the session and
the trusted-device cookie that spares later sign-ins the code), shared by `seller_page` and
`run_flow`, and by the xdist workers of one run when they share a portal (`--portal-url`).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import shutil
import threading
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from agent.play import browser as browserlib
from agent.play.player import RunResult, redact_zip
from agent.play.player import run_flow as play_flow
from agent.play.secrets import Secrets
from agent.testing import credentials as codes
from agent.testing.credentials import SellerCredentials
from mock_portal.i18n import STRINGS

try:
    import fcntl
except ImportError:  # Windows: no cross-process lock; each worker signs in for itself
    fcntl = None  # type: ignore[assignment]

SIGN_IN_FLOW = "login"
# A code refused because another process used it first is worth one more try with the next.
WRONG_CODE = tuple(STRINGS["signin_wrong_code"].values())


class SignInFailed(RuntimeError):
    """The login flow did not sign in; the message says why (secrets masked)."""


class FlowRunner:
    """A thread running an asyncio loop with async Playwright and one browser."""

    def __init__(self, browser_name: str, launch_options: dict[str, Any]) -> None:
        self.browser_name = browser_name
        self.launch_options = dict(launch_options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright: Any = None
        self._browser: Any = None

    def call(self, work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Run work() on the runner's loop and wait for its result."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="seller-agent flows", daemon=True
            )
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(work(), self._loop).result()

    async def browser(self) -> Any:
        if self._browser is None:
            from playwright.async_api import async_playwright

            self._playwright = await async_playwright().start()
            browser_type = getattr(self._playwright, self.browser_name)
            self._browser = await browser_type.launch(**self.launch_options)
        return self._browser

    async def _shutdown(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
        self._browser = self._playwright = None

    def close(self) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            self.call(self._shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._loop.close()
        self._loop = self._thread = None

    # -- signing in --------------------------------------------------------------------
    def sign_in(
        self, portal: str, account: SellerCredentials, run_dir: Path, previous: Path | None
    ) -> dict[str, Any]:
        """Run the bundled login flow; the signed-in storage state. A context carrying the
        previous state's trusted-device cookie skips the code."""
        from agent.flow import load_flow

        flow = load_flow(SIGN_IN_FLOW)

        async def attempt() -> tuple[RunResult, dict[str, Any]]:
            browser = await self.browser()
            state = str(previous) if previous is not None and previous.is_file() else None
            context = await browserlib.new_context(browser, storage_state=state)
            try:
                page = await context.new_page()
                result = await play_flow(
                    page, flow, {}, portal=portal, secrets=_secrets(account), run_dir=run_dir
                )
                return result, await context.storage_state()
            finally:
                await context.close()

        for last_try in (False, True):
            try:
                result, state = self.call(attempt)
            finally:
                codes.note_used(account.totp_secret)
            if result.ok:
                return state
            message = str(result.values.get("message") or result.error or result.outcome)
            if last_try or not any(text in message for text in WRONG_CODE):
                raise SignInFailed(f"signing in to {portal} as {account.email} failed: {message}")
            # Most likely the code was used on this portal already (by a test signing in by
            # hand, another worker, a command): the next step brings a new one.
            codes.wait_for_unused_step(account.totp_secret)
        raise AssertionError("unreachable")

    # -- playing flows -----------------------------------------------------------------
    def play(
        self,
        flow: Any,
        params: dict[str, Any],
        *,
        portal: str,
        account: SellerCredentials,
        storage_state: Path,
        run_dir: Path,
        trace_to: Path | None,
    ) -> RunResult:
        """Play one flow in a fresh signed-in context. With trace_to, the whole run is
        traced into that file (secrets masked); without, the player keeps a trace of a run
        that fails, beside its screenshot."""
        secrets = _secrets(account)

        async def work() -> RunResult:
            browser = await self.browser()
            context = await browserlib.new_context(browser, storage_state=storage_state)
            try:
                if trace_to is not None:
                    await context.tracing.start(screenshots=True, snapshots=True, sources=True)
                page = await context.new_page()
                result = await play_flow(
                    page,
                    flow,
                    params,
                    portal=portal,
                    secrets=secrets,
                    run_dir=run_dir,
                    trace=trace_to is None,
                )
                if trace_to is not None:
                    browserlib.private_dir(trace_to.parent)
                    await context.tracing.stop(path=str(trace_to))
                    redact_zip(trace_to, secrets)
                return result
            finally:
                await context.close()

        return self.call(work)


def _secrets(account: SellerCredentials) -> Secrets:
    return Secrets(
        email=account.email,
        password=account.password,
        totp_secret=account.totp_secret,
        source="the portal's demo account",
    )


class SignedInStates:
    """One signed-in storage state per portal, made once and checked before each use."""

    def __init__(self, runner: FlowRunner, account: SellerCredentials, folder: Path) -> None:
        self.runner = runner
        self.account = account
        self.folder = folder

    def path_for(self, portal: str) -> Path:
        parts = urllib.parse.urlsplit(portal)
        return self.folder / f"{parts.hostname}_{parts.port or 80}.json"

    def state_for(self, portal: str) -> Path:
        """A storage-state file signed in to `portal`: the kept one while it still opens a
        signed-in page, else a new one."""
        path = self.path_for(portal)
        with _locked(path.with_suffix(".lock")):
            if path.is_file() and still_signed_in(portal, path):
                return path
            state = self.runner.sign_in(
                portal, self.account, run_dir=self.folder / "sign-in", previous=path
            )
            browserlib.write_private(path, state)
        return path


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(lock_path, "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def still_signed_in(portal: str, state_path: Path) -> bool:
    """Whether the state's cookies still open /home (no redirect to the sign-in page). A
    portal that answers something else (a fault, a restart) is given the benefit of the
    doubt: a flow that lands on the sign-in page signs in again by itself."""
    try:
        cookies = json.loads(state_path.read_text(encoding="utf-8"))["cookies"]
        header = "; ".join(f"{cookie['name']}={cookie['value']}" for cookie in cookies)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    parts = urllib.parse.urlsplit(portal)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("GET", "/home", headers={"Cookie": header})
        response = connection.getresponse()
        response.read()
    except OSError:
        return True
    finally:
        connection.close()
    if response.status in (301, 302, 303, 307):
        return "/ap/signin" not in (response.getheader("Location") or "")
    return True


class KeptTraces:
    """Traces of one test's flow runs: recorded into a scratch folder, moved into the test's
    output folder when --tracing says to keep them."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.files: list[tuple[Path, str]] = []

    def new(self, flow_name: str) -> Path:
        taken = {name for _, name in self.files}
        name, number = f"trace-{flow_name}.zip", 1
        while name in taken:
            number += 1
            name = f"trace-{flow_name}-{number}.zip"
        path = self.scratch / f"{time.monotonic_ns()}-{name}"
        self.files.append((path, name))
        return path

    def finish(self, keep: bool, output: Path) -> list[Path]:
        kept = []
        for path, name in self.files:
            if not path.is_file():
                continue
            if keep:
                browserlib.private_dir(output)
                shutil.move(str(path), output / name)
                kept.append(output / name)
            else:
                path.unlink()
        self.files.clear()
        return kept
