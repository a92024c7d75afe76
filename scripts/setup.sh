#!/usr/bin/env bash
# Set up a working copy: a virtual environment in .venv with the project and its dependencies,
# and a Chromium (Playwright's own where it can be downloaded, else the system's package).
# Safe to run again; it only does what is missing. Usage: scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "setup: need root for: $*" >&2; return 1; fi
}

apt_updated=""
apt_install() {
    command -v apt-get >/dev/null || { echo "setup: no apt-get; install $* yourself" >&2; return 1; }
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "setup: seller-agent needs Python 3.11 or newer ($python is too old or missing)" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    if ! "$python" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        apt_install python3-venv
        "$python" -m venv .venv
    fi
fi

stamp=".venv/.installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing seller-agent$extras into .venv" >&2
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".$extras"
    touch "$stamp"
fi

if ! .venv/bin/python -m agent.play.browser >/dev/null 2>&1; then
    echo "setup: installing Chromium with Playwright's installer" >&2
    if ! timeout 600 .venv/bin/python -m playwright install chromium >/dev/null 2>&1 \
        || ! .venv/bin/python -m agent.play.browser >/dev/null 2>&1; then
        echo "setup: Playwright's download is not available here; installing the system Chromium" >&2
        apt_install chromium
    fi
fi
# Headless runs prefer a headless shell: Playwright's own when its download worked, else
# Debian's package (best effort: full Chromium runs headless too, only slower).
if [ -z "$(.venv/bin/python -c 'from agent.play.browser import playwright_chromium as p; print(p() or "")')" ] \
    && ! command -v chromium-headless-shell >/dev/null && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's chromium-headless-shell for headless runs" >&2
    apt_install chromium-headless-shell \
        || echo "setup: chromium-headless-shell is not available; headless runs use Chromium" >&2
fi
# The portal speaks Chinese too; without a CJK font, screenshots of its Chinese pages (failure
# evidence, reports) show empty boxes. Best effort: the text itself is right either way.
if command -v fc-list >/dev/null && ! fc-list :lang=zh 2>/dev/null | grep -q . \
    && command -v apt-get >/dev/null; then
    echo "setup: installing a Chinese font (fonts-wqy-zenhei) for screenshots" >&2
    apt_install fonts-wqy-zenhei || echo "setup: no Chinese font installed" >&2
fi
echo "setup: browser $(.venv/bin/python -m agent.play.browser)" >&2
