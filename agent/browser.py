"""Find, launch and connect a Chromium; build contexts. The only module that launches browsers."""

from __future__ import annotations

import glob
import os
import shutil
import sys
from pathlib import Path

# Without these, Chromium keeps calling home (updates, sync, field trials); on a closed network
# that is a stream of refused connections at every start.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

SYSTEM_CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]


class BrowserNotFound(Exception):
    """No usable Chromium: neither Playwright's own nor a system one."""

    def __str__(self) -> str:
        return (
            "no Chromium found. Install one with `seller-agent install` (Playwright's own "
            "browser), or with your distribution's package (Debian: `apt-get install chromium`), "
            "or pass --browser-path."
        )


def playwright_browsers_dir() -> Path:
    env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if env and env != "0":
        return Path(env)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ms-playwright"


def playwright_chromium() -> str | None:
    """The newest Chromium that `playwright install chromium` left on disk, if any."""
    base = playwright_browsers_dir()
    patterns = [
        "chromium-*/chrome-linux*/chrome",
        "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
        "chromium-*/chrome-win*/chrome.exe",
    ]
    found: list[str] = []
    for pattern in patterns:
        found.extend(glob.glob(str(base / pattern)))
    found = [path for path in found if os.access(path, os.X_OK)]
    return sorted(found)[-1] if found else None


def system_chromium() -> str | None:
    for name in SYSTEM_CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    for path in ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium"):
        if os.access(path, os.X_OK):
            return path
    return None


def find_browser(explicit: str | None = None) -> str:
    """Path of the Chromium to launch: --browser-path, else Playwright's own, else the system's."""
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise FileNotFoundError(f"--browser-path {explicit}: not an executable file")
        return explicit
    env = os.environ.get("SELLER_AGENT_BROWSER")
    if env:
        return find_browser(env)
    path = playwright_chromium() or system_chromium()
    if not path:
        raise BrowserNotFound()
    return path


if __name__ == "__main__":
    # `python -m agent.browser` prints the browser it would use; set-up scripts rely on the exit code.
    try:
        print(find_browser())
    except (BrowserNotFound, FileNotFoundError) as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
