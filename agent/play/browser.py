"""Find, launch and connect a Chromium; build contexts. The only module that launches browsers."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from agent.errors import UserError
from agent.i18n import N_, Told, _, told
from agent.play.home import data_dir

# Without these, Chromium keeps calling home (updates, sync, field trials); on a closed network
# that is a stream of refused connections at every start.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Playwright's own --disable-features list (playwright-core's chromiumSwitches.ts): Chromium
# honours only the last --disable-features it is given, so ours has to repeat it.
# tests/test_browser_flags.py checks that it still covers the installed Playwright's list.
PLAYWRIGHT_DISABLED_FEATURES = [
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
]
# RenderDocument gives every cross-document navigation a fresh frame host (and its renderer
# setup); a cancellation is three navigations, and without it the browser side spends 15-20%
# less CPU per order (bench/bulk.py: 236-257 ms against 283-312 ms, the renderer and GPU
# processes most).
CHROMIUM_ARGS.append(
    "--disable-features=" + ",".join([*PLAYWRIGHT_DISABLED_FEATURES, "RenderDocument"])
)

_DISABLE_FEATURES = "--disable-features="


def with_chromium_args(given: list[str]) -> list[str]:
    """Someone's own Chromium arguments with ours added: every --disable-features list (theirs
    and ours) merged into one, since Chromium honours only the last one it is given."""
    features: list[str] = []
    merged: list[str] = []
    for arg in [*given, *(arg for arg in CHROMIUM_ARGS if arg not in given)]:
        if arg.startswith(_DISABLE_FEATURES):
            for feature in arg[len(_DISABLE_FEATURES) :].split(","):
                if feature and feature not in features:
                    features.append(feature)
        else:
            merged.append(arg)
    if features:
        merged.append(_DISABLE_FEATURES + ",".join(features))
    return merged


SYSTEM_CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]


class BrowserNotFound(UserError):
    """No usable Chromium: neither Playwright's own nor a system one."""

    MESSAGE = N_(
        "no Chromium found. Install one with `seller-agent install` (Playwright's own "
        "browser), or with your distribution's package (Debian: `apt-get install chromium`), "
        "or pass --browser-path."
    )

    def __str__(self) -> str:
        return self.MESSAGE

    @property
    def shown(self) -> str:
        return _(self.MESSAGE)


class NoDisplay(BrowserNotFound):
    """A window was asked for (--headed) where there is no display to show it on."""

    MESSAGE = N_(
        "--headed opens a browser window, and this session has no display to show it on (no "
        "DISPLAY or WAYLAND_DISPLAY): run it on a desktop or through remote desktop, or under "
        "xvfb-run, or leave --headed out"
    )


def playwright_browsers_dir() -> Path:
    env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if env and env != "0":
        return Path(env)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ms-playwright"


def playwright_chromium(headless: bool = False) -> str | None:
    """The newest Chromium that `playwright install chromium` left on disk, if any; for
    headless work its headless shell when that was installed too."""
    base = playwright_browsers_dir()
    patterns = [
        "chromium-*/chrome-linux*/chrome",
        "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
        "chromium-*/chrome-win*/chrome.exe",
    ]
    if headless:
        shells = glob.glob(str(base / "chromium_headless_shell-*/chrome-*/*headless_shell*"))
        shells = [path for path in shells if os.access(path, os.X_OK) and not path.endswith(".dll")]
        if shells:
            return sorted(shells)[-1]
    found: list[str] = []
    for pattern in patterns:
        found.extend(glob.glob(str(base / pattern)))
    found = [path for path in found if os.access(path, os.X_OK)]
    return sorted(found)[-1] if found else None


def system_chromium(headless: bool = False) -> str | None:
    # Debian's chromium-headless-shell is the old headless mode as its own program: no
    # browser UI processes, about half the CPU and time per page of full Chromium headless.
    names = (
        ["chromium-headless-shell", *SYSTEM_CHROMIUM_NAMES] if headless else SYSTEM_CHROMIUM_NAMES
    )
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    for path in ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium"):
        if os.access(path, os.X_OK):
            return path
    return None


def find_browser(explicit: str | None = None, *, headless: bool = False) -> str:
    """Path of the Chromium to launch: --browser-path, else Playwright's own, else the system's
    (for headless work, a headless shell where one is installed)."""
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise FileNotFoundError(
                told(N_("--browser-path {path}: not an executable file"), path=explicit)
            )
        return explicit
    env = os.environ.get("SELLER_AGENT_BROWSER")
    if env:
        return find_browser(env)
    path = playwright_chromium(headless) or system_chromium(headless)
    if not path:
        raise BrowserNotFound()
    return path


# Timeouts are set once here so every context behaves alike; steps pass their own when they differ.
DEFAULT_TIMEOUT_MS = 15000
NAVIGATION_TIMEOUT_MS = 30000
VIEWPORT = {"width": 1280, "height": 900}


async def launch(
    playwright: Any,
    *,
    browser_path: str | None = None,
    headed: bool = False,
    slowmo: int = 0,
    connect: str | None = None,
) -> Any:
    """A Chromium to work in: launched (headless unless headed) or, with connect, one on a
    browser endpoint (see parse_endpoint). The only place a browser is started."""
    if connect:
        return await connect_endpoint(playwright, parse_endpoint(connect), slowmo=slowmo)
    if headed and sys.platform.startswith("linux"):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise NoDisplay()
    return await playwright.chromium.launch(
        executable_path=find_browser(browser_path, headless=not headed),
        headless=not headed,
        slow_mo=slowmo or None,
        args=CHROMIUM_ARGS,
        # Ctrl-C reaches Playwright's driver too (same process group); by default it closes
        # the browser at once, which would kill the rows a bulk run is finishing. The engine
        # handles the signals itself and closes the browser when it is done.
        handle_sigint=False,
        handle_sigterm=False,
    )


USER_AGENT_SUFFIX_ENV = "SELLER_AGENT_USER_AGENT_SUFFIX"
# The user agent each browser reports of itself, asked once per browser.
_own_user_agents: weakref.WeakKeyDictionary[Any, asyncio.Future[str]] = weakref.WeakKeyDictionary()


def default_user_agent_suffix() -> str:
    """The product token that says requests come from seller-agent, an automated agent."""
    try:
        version = importlib.metadata.version("seller-agent")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"seller-agent/{version} (automated)"


def user_agent_suffix() -> str:
    """What is appended to the browser's own User-Agent: SELLER_AGENT_USER_AGENT_SUFFIX when
    set (empty turns it off), else the default product token."""
    configured = os.environ.get(USER_AGENT_SUFFIX_ENV)
    if configured is None:
        return default_user_agent_suffix()
    return " ".join(configured.split())


async def own_user_agent(browser: Any) -> str:
    """The User-Agent the browser sends by itself (headless Chromium says HeadlessChrome, and
    that is kept), read once per browser from a blank page."""
    known = _own_user_agents.get(browser)
    if known is None:
        known = asyncio.ensure_future(_ask_user_agent(browser))
        _own_user_agents[browser] = known
    try:
        return await asyncio.shield(known)
    except Exception:
        # A failed look is not cached: the next context asks again.
        _own_user_agents.pop(browser, None)
        raise


async def _ask_user_agent(browser: Any) -> str:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        return str(await page.evaluate("navigator.userAgent"))
    finally:
        await context.close()


# Browser endpoints: a Chromium on another machine (or in another process) that this tool
# drives instead of launching its own.

CONNECT_TIMEOUT_MS = 20000
_WORKERS_PARAM = "workers"
# The tokens `browser serve` makes and accepts: an unguessable last path segment.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{16,128}$")


class EndpointError(UserError):
    """A browser endpoint that cannot be used: malformed, unreachable, refusing the token,
    or speaking another Playwright version. One line, naming the endpoint without its token."""


@dataclass(frozen=True)
class Endpoint:
    """One browser endpoint as given: where to connect, over which protocol, and how many
    workers it takes (None: an even share)."""

    url: str  # the URL to connect to (the ?workers= part removed)
    protocol: str  # "playwright" (a Playwright browser server) or "cdp" (DevTools protocol)
    workers: int | None = None

    @property
    def label(self) -> str:
        return redact_endpoint(self.url)


def redact_endpoint(url: str) -> str:
    """The endpoint as it may be shown or stored: scheme, host and port, never the path (a
    browser server's path is its token) nor credentials or a query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    hidden = parts.path not in ("", "/") or parts.query or parts.username or parts.password
    return f"{parts.scheme}://{netloc}/" + ("…" if hidden else "")


def parse_endpoint(text: str) -> Endpoint:
    """`ws://host:port/TOKEN` (a Playwright browser server, as `seller-agent browser serve`
    prints), `http://host:port` or `ws://host:port/devtools/browser/ID` (a Chromium's DevTools
    endpoint); either may end in `?workers=N`. EndpointError when it is none of these."""
    raw = text.strip()
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    shown = redact_endpoint(raw) if parts and parts.scheme else told(N_("the value given"))
    if parts is None or parts.scheme not in ("ws", "wss", "http", "https") or not parts.hostname:
        raise EndpointError(
            told(
                N_(
                    "browser endpoint {endpoint}: expected ws://HOST:PORT/TOKEN (a Playwright "
                    "browser server) or http://HOST:PORT (a DevTools endpoint)"
                ),
                endpoint=shown,
            )
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    workers: int | None = None
    rest = []
    for name, value in query:
        if name != _WORKERS_PARAM:
            rest.append((name, value))
            continue
        if not value.isdigit() or not 1 <= int(value) <= 64:
            raise EndpointError(
                told(
                    N_(
                        "browser endpoint {endpoint}: workers={value}: expected a whole number "
                        "from 1 to 64"
                    ),
                    endpoint=shown,
                    value=value,
                )
            )
        workers = int(value)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    if parts.scheme in ("http", "https") or parts.path.startswith("/devtools/browser/"):
        protocol = "cdp"
    else:
        protocol = "playwright"
        if parts.path in ("", "/"):
            raise EndpointError(
                told(
                    N_(
                        "browser endpoint {endpoint}: a Playwright browser server's address ends "
                        "in its token (ws://HOST:PORT/TOKEN, as `seller-agent browser serve` "
                        "prints it)"
                    ),
                    endpoint=shown,
                )
            )
    return Endpoint(url=url, protocol=protocol, workers=workers)


def connect_error_line(endpoint: Endpoint, error: BaseException) -> Told:
    """Playwright's connection failure as one line that names the endpoint without its token.

    Playwright raises TimeoutError when the endpoint accepts but never answers, and Error for
    the rest, whose message carries the server's answer: 428 with a version box when the two
    Playwright versions differ, 400 for a path the server does not serve (a wrong token), 403
    when its host check refuses us, and the socket error when nothing listens."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    label = endpoint.label
    if isinstance(error, PlaywrightTimeout):
        return told(
            N_(
                "browser endpoint {endpoint}: no answer within {seconds} s (is it a browser "
                "endpoint, and reachable from here?)"
            ),
            endpoint=label,
            seconds=CONNECT_TIMEOUT_MS // 1000,
        )
    message = str(error)
    if "version mismatch" in message or " 428 " in message:
        versions = dict(re.findall(r"(server|client) version: v([0-9.]+)", message))
        return told(
            N_(
                "browser endpoint {endpoint}: Playwright version mismatch: the browser server "
                "has {server}, this tool {client}; install the same Playwright version on both "
                "sides"
            ),
            endpoint=label,
            server=versions.get("server", "?"),
            client=versions.get("client", "?"),
        )
    if endpoint.protocol == "cdp" and ("JSON" in message or "Unexpected status" in message):
        return told(
            N_("browser endpoint {endpoint}: does not answer as a Chromium DevTools endpoint"),
            endpoint=label,
        )
    if " 400 Bad Request" in message or " 404 " in message:
        return told(
            N_(
                "browser endpoint {endpoint}: the server refused the path (wrong token, or not "
                "a Playwright browser server)"
            ),
            endpoint=label,
        )
    if " 403 " in message or " 401 " in message:
        return told(
            N_("browser endpoint {endpoint}: the server refused the connection ({status})"),
            endpoint=label,
            status=_status(message),
        )
    for code, meaning in (
        ("ECONNREFUSED", N_("connection refused (is the browser server running?)")),
        ("ENOTFOUND", N_("unknown host")),
        ("EAI_AGAIN", N_("unknown host")),
        ("EHOSTUNREACH", N_("host unreachable")),
        ("ENETUNREACH", N_("network unreachable")),
        ("ETIMEDOUT", N_("connection timed out")),
        ("ECONNRESET", N_("connection reset")),
    ):
        if code in message:
            return told(
                N_("browser endpoint {endpoint}: unreachable: {why}"),
                endpoint=label,
                why=told(meaning),
            )
    from agent.errors import one_line

    detail = one_line(message).replace(endpoint.url, label)
    return told(
        N_("browser endpoint {endpoint}: cannot connect: {detail}"),
        endpoint=label,
        detail=_hide_paths(detail, endpoint),
    )


def _status(message: str) -> str:
    found = re.search(r" (\d{3} [A-Za-z ]+)", message)
    return found.group(1).strip() if found else "refused"


def _hide_paths(text: str, endpoint: Endpoint) -> str:
    path = urlsplit(endpoint.url).path
    return text.replace(path, "/…") if path not in ("", "/") else text


async def connect_endpoint(playwright: Any, endpoint: Endpoint, *, slowmo: int = 0) -> Any:
    """A Chromium on a browser endpoint; EndpointError (one line) when it cannot be had."""
    from playwright.async_api import Error as PlaywrightError

    try:
        if endpoint.protocol == "cdp":
            return await playwright.chromium.connect_over_cdp(
                endpoint.url, timeout=CONNECT_TIMEOUT_MS, slow_mo=slowmo or None
            )
        return await playwright.chromium.connect(
            endpoint.url, timeout=CONNECT_TIMEOUT_MS, slow_mo=slowmo or None
        )
    except PlaywrightError as error:
        raise EndpointError(connect_error_line(endpoint, error)) from None


async def new_context(
    browser: Any,
    *,
    storage_state: Path | None = None,
    block_media: bool = False,
    locale: str | None = None,
) -> Any:
    """A fresh browser context (cookies of storage_state, when given), timeouts set, whose
    requests carry the browser's own User-Agent followed by seller-agent's product token."""
    options: dict[str, Any] = {"viewport": VIEWPORT}
    suffix = user_agent_suffix()
    if suffix:
        options["user_agent"] = f"{await own_user_agent(browser)} {suffix}"
    if storage_state is not None:
        options["storage_state"] = str(storage_state)
    if locale:
        options["locale"] = locale
    context = await browser.new_context(**options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    if block_media:
        # Images and fonts carry nothing a flow reads; skipping them saves bandwidth in bulk runs.
        await context.route(
            "**/*",
            lambda route: (
                route.abort()
                if route.request.resource_type in ("image", "media", "font")
                else route.continue_()
            ),
        )
    return context


COLLECT_TIMEOUT_SECONDS = 5


async def devtools_call(
    page: Any, method: str, params: dict[str, Any] | None = None, *, timeout: float
) -> dict[str, Any] | None:
    """The answer to one Chromium DevTools protocol command for the page; None when it could
    not be asked (a closed page, a browser without the protocol), failed, or got no answer
    within `timeout` seconds (a renderer held by a script that never yields).

    Playwright's call cannot be cancelled while the renderer keeps it waiting, so on timeout
    it is not awaited: it is left to end by itself, at the latest when the page closes."""
    task = asyncio.ensure_future(_devtools_call(page, method, params))
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if task in done:
        return task.result()
    task.add_done_callback(_ended_late)
    return None


def _ended_late(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not report it


async def _devtools_call(
    page: Any, method: str, params: dict[str, Any] | None
) -> dict[str, Any] | None:
    try:
        session = await page.context.new_cdp_session(page)
    except Exception:
        return None
    try:
        return await session.send(method, params or {})
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            await session.detach()


async def collect_garbage(page: Any) -> bool:
    """A full garbage collection in the page's renderer, asked through Chromium's DevTools
    protocol. False when it could not be asked (a closed page, a browser without the protocol)
    or the renderer did not answer within COLLECT_TIMEOUT_SECONDS.

    A renderer that navigates without pause never gets the idle time in which Chromium
    collects, so the garbage of every page it has left stays in its JavaScript heap: over 150
    cancellations one context's renderer grew to 640 MB (PSS), its heap to 281 MB. Asked every
    10 rows, the renderer stays at 90 MB (heap 1 MB), and a collection takes about 24 ms of one
    row in ten, with no measurable CPU (bench/renderer_memory.py)."""
    answer = await devtools_call(
        page, "HeapProfiler.collectGarbage", timeout=COLLECT_TIMEOUT_SECONDS
    )
    return answer is not None


def storage_state_path(portal: str, email: str) -> Path:
    """Where the signed-in state of one account on one portal is kept.

    The account is named by a hash, so the email never shows in a path that gets printed.
    """
    parts = urlsplit(portal)
    host = (parts.hostname or "portal") + (f"_{parts.port}" if parts.port else "")
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]
    return data_dir() / "sessions" / host / f"{account}.json"


def private_dir(path: Path) -> Path:
    """The folder, created with any missing parents readable by the owner only (0700); a
    folder that already exists keeps its mode (it may be the user's working folder)."""
    path = Path(path)
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by another worker: theirs, and made the same way
        # mkdir's mode passes through the umask; a lax umask must not widen it.
        os.chmod(folder, 0o700)
    return path


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write a file readable by the owner only (mode 0600 from the start, never readable by
    others), replacing any earlier file atomically so concurrent readers never see half a
    file. Missing folders are made private too."""
    path = Path(path)
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_private(path: Path, data: dict) -> None:
    """Write JSON with write_private_bytes (mode 0600, atomic)."""
    write_private_bytes(path, json.dumps(data).encode("utf-8"))


async def save_storage_state(context: Any, *, portal: str, email: str) -> Path:
    """Save the context's cookies for this portal and account (mode 0600); return the path."""
    path = storage_state_path(portal, email)
    write_private(path, await context.storage_state())
    return path


if __name__ == "__main__":
    # `python -m agent.play.browser` prints the browser it would use; set-up scripts rely on the exit code.
    try:
        print(find_browser())
    except (BrowserNotFound, FileNotFoundError) as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
