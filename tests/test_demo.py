"""`seller-agent demo`, the README's main job, end to end in a subprocess."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_demo_cancels_the_sample_list_and_writes_the_report(tmp_path):
    # The user's data home and config exist, and the demo touches neither: its session and
    # one-time-code ledger stay in its own folder, and it ignores the user's real account.
    data, config = tmp_path / "data", tmp_path / "config"
    data.mkdir()
    secrets = config / "seller-agent" / "secrets.yaml"
    secrets.parent.mkdir(parents=True)
    secrets.write_text("email: me@real.example\npassword: real-password\n")
    secrets.chmod(0o600)
    env = dict(os.environ, XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(config))
    env["SELLER_AGENT_PASSWORD"] = "not-the-demo-password"  # the demo must ignore a real account
    out = tmp_path / "demo"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("seller-agent")),
            "demo",
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The summary table names outcomes in words.
    words = {
        "Cancelled": "cancelled",
        "Already cancelled": "already_cancelled",
        "Cannot be cancelled": "not_cancellable",
        "Order not found": "not_found",
    }
    outcomes = {
        words[found.group(1)]: int(found.group(2))
        for found in map(re.compile(r"^(.+?) {2,}(\d+)$").match, result.stdout.splitlines())
        if found and found.group(1) in words
    }
    # The sample list: nine cancellable orders, a shipped and a pending one, one cancelled
    # earlier, and one unknown id.
    assert outcomes == {
        "cancelled": 9,
        "already_cancelled": 1,
        "not_cancellable": 2,
        "not_found": 1,
    }
    assert "112-0000001-0000003" in result.stderr  # Buyer Canceled on a message-only request
    report = out / "report.html"
    assert f"HTML report: {report}" in result.stdout
    html = report.read_text()
    assert "112-0000001-0000005" in html and "demo-password" not in html
    assert (out / "journal.db").exists() and (out / "portal.db").exists()
    assert list(data.iterdir()) == []
    assert [path for path in config.rglob("*") if path.is_file()] == [secrets]
    assert list((out / "sessions").glob("127.0.0.1_*/*.json"))
