"""Exported recordings replay in Chrome's own engine: @puppeteer/replay (what Chrome's Recorder
panel runs) drives the system Chromium through the bundled flows, exported with
`seller-agent export`, against a live portal; the portal's books say what happened.

The Node side lives in tests/replay/ (package.json, package-lock.json, replay.mjs); its
node_modules is installed with `npm ci` the first time."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agent.flow import bundled_flows, has_template, template_names, totp
from agent.play.browser import find_browser
from agent.recording.export_chrome import export_chrome_recording

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPLAY = Path(__file__).resolve().parent / "replay"
DEMO = {"email": "seller@example.com", "password": "demo-password"}
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"


@pytest.fixture(scope="module")
def replay_script() -> Path:
    if not (REPLAY / "node_modules" / "@puppeteer" / "replay").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install tests/replay (Node 18 or newer)"
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=REPLAY,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert installed.returncode == 0, installed.stderr[-2000:]
    return REPLAY / "replay.mjs"


def bundled(name: str) -> dict:
    (path,) = [path for path in bundled_flows() if path.stem == name]
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def with_sign_in_values(recording: dict) -> dict:
    """What a person does in Chrome's Recorder before replaying an exported sign-in: type the
    account's values over the placeholders the export leaves for secrets (the one-time code
    computed now, for the 30-second step the replay runs in)."""
    for step in recording["steps"]:
        value = step.get("value")
        if step["type"] != "change" or not isinstance(value, str) or not has_template(value):
            continue
        names = template_names(value)
        if "totp_secret" in names:
            step["value"] = totp.totp(DEMO_TOTP_SECRET)
        else:
            (name,) = names
            step["value"] = DEMO[name]
    return recording


def recorded_sign_in(url: str) -> dict:
    """A sign-in as Chrome's Recorder records it on the portal's real sign-in ids, with the
    one-time code of the 30-second step the replay runs in."""

    def change(selector: str, value: str) -> dict:
        return {"type": "change", "selectors": [[selector]], "value": value}

    def click(selector: str) -> dict:
        return {"type": "click", "selectors": [[selector]], "offsetX": 5, "offsetY": 5}

    return {
        "title": "Sign in",
        "steps": [
            {"type": "navigate", "url": f"{url}/ap/signin"},
            change("#ap_email", DEMO["email"]),
            click("#continue"),
            change("#ap_password", DEMO["password"]),
            click("#signInSubmit"),
            change("#auth-mfa-otpcode", totp.totp(DEMO_TOTP_SECRET)),
            click("#auth-signin-button"),
            # An expression, not waitForElement: that fails while the page navigates.
            {
                "type": "waitForExpression",
                "expression": "!!document.querySelector('[data-testid=nav-orders]')",
            },
        ],
    }


def replay(script: Path, tmp_path: Path, *recordings: dict) -> subprocess.CompletedProcess:
    files = []
    for number, recording in enumerate(recordings, start=1):
        path = tmp_path / f"{number}-{recording['title'][:20].replace(' ', '_')}.json"
        path.write_text(json.dumps(recording), encoding="utf-8")
        files.append(str(path))
    return subprocess.run(
        ["node", str(script), "--browser", find_browser(headless=False), *files],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_exported_bundled_flows_replay_in_chromes_engine_and_cancel_the_order(
    replay_script, fresh_portal, tmp_path
):
    order_id = next(
        order["order_id"]
        for order in fresh_portal.orders(status="Unshipped", seller=DEMO["email"])
        if order["buyer_request_kind"] is None
    )
    url = fresh_portal.url
    cancel = export_chrome_recording(
        bundled("cancel_order"), portal=url, params={"order_id": order_id, "reason": "NoInventory"}
    )
    # The bundled login flow decides at run time (a trusted device skips the code; the
    # interstitials), which Chrome cannot: its export names those steps as ones Chrome skips,
    # so it does not sign in there. A person records the sign-in in Chrome instead.
    sign_in = recorded_sign_in(url)
    health = export_chrome_recording(bundled("account_health"), portal=url)
    requests = export_chrome_recording(bundled("collect_cancel_requests"), portal=url)
    result = replay(replay_script, tmp_path, sign_in, health, requests, cancel)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("replayed") == 4
    order = fresh_portal.order(order_id)
    assert (order["status"], order["cancel_events"]) == ("Canceled", 1)
    assert (order["cancel_reason"], order["cancelled_by"]) == ("NoInventory", "seller")


def test_chromes_replay_reads_a_count_without_an_operator_as_at_least(
    replay_script, portal, tmp_path
):
    """What the import's "no operator is >=" rests on, asked of Chrome's own engine: on a
    Manage Orders page with more than two rows, `count: 2` alone holds and `"=="` 2 does not."""
    rows = [["[data-testid=order-row]"]]
    page = {"type": "navigate", "url": f"{portal.url}/orders-v3"}

    def waiting(**fields) -> dict:
        return {
            "title": "Count rows",
            "timeout": 3000,
            "steps": [page, {"type": "waitForElement", "selectors": rows, **fields}],
        }

    sign_in = recorded_sign_in(portal.url)
    at_least = replay(replay_script, tmp_path, sign_in, waiting(count=2))
    assert at_least.returncode == 0, at_least.stderr[-2000:]
    exactly = replay(replay_script, tmp_path, sign_in, waiting(count=2, operator="=="))
    assert exactly.returncode == 1
    assert "step 2" in exactly.stderr
