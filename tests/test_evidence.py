"""Evidence of a failure (screenshots, traces, run folders) is private and never holds what was
typed into the sign-in: the email, the password, the one-time code, in any encoding."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
import time
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from agent.bulk.journal import Journal
from agent.errors import SessionError
from agent.flow import bind_params, load_flow, totp
from agent.play import browser as browserlib
from agent.play import session
from agent.play.player import run_flow
from agent.play.secrets import Secrets
from agent.report import write_report

EMAIL, PASSWORD, TOTP_SECRET = "seller@example.com", "demo-password", "JBSWY3DPEHPK3PXP"
# The code's own POST answered with a 500: the sign-in fails once the code was submitted.
FAIL_AFTER_CODE = {"error_every": 1, "paths": ["/ap/mfa"], "methods": ["POST"]}


@pytest.fixture
def data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def loop():
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


@pytest.fixture
def chromium(loop, data_home):
    from playwright.async_api import async_playwright

    playwright = loop.run_until_complete(async_playwright().start())
    browser = loop.run_until_complete(browserlib.launch(playwright))
    try:
        yield browser
    finally:
        loop.run_until_complete(browser.close())
        loop.run_until_complete(playwright.stop())


def recent_codes(started: float) -> set[str]:
    """Every code of the 30 s steps from ten before the test began to ten after now."""
    first = int(started // totp.STEP_SECONDS) - 10
    last = int(time.time() // totp.STEP_SECONDS) + 10
    return {totp.hotp(TOTP_SECRET, step) for step in range(first, last + 1)}


def readings(data: bytes) -> list[bytes]:
    """The bytes as stored, URL-decoded (both ways) and with JSON's \\u escapes undone."""
    found = [data, urllib.parse.unquote_to_bytes(data)]
    found.append(urllib.parse.unquote_to_bytes(data.replace(b"+", b" ")))
    found.append(re.sub(rb"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)).encode(), data))
    return found


def leaks(data: bytes, codes: set[str]) -> list[str]:
    found = []
    for reading in readings(data):
        for text in (EMAIL, PASSWORD, TOTP_SECRET):
            if text.encode() in reading:
                found.append(text)
        for code in codes:
            # A code is six digits standing alone: the same digits inside a longer number (a
            # timestamp, an order id) are not the code.
            if re.search(rb"(?<![0-9])" + code.encode() + rb"(?![0-9])", reading):
                found.append(code)
    return found


def assert_private(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def assert_no_sign_in_values(paths: list[str], started: float, *texts: str) -> None:
    codes = recent_codes(started)
    traces = [path for path in paths if path.endswith("-trace.zip")]
    assert traces, paths
    for trace in traces:
        with zipfile.ZipFile(trace) as archive:
            names = archive.namelist()
            assert any("trace" in name for name in names)
            for name in names:
                assert not leaks(archive.read(name), codes), (trace, name)
    for text in [*paths, *texts]:
        assert not leaks(text.encode(), codes), text


@pytest.mark.browser
@pytest.mark.parametrize("where", ["sign-in", "signing-in-again"])
def test_a_sign_in_that_fails_after_the_code_leaves_no_typed_value_in_its_evidence(
    loop, chromium, fresh_portal, tmp_path, where
):
    secrets = Secrets(email=EMAIL, password=PASSWORD, totp_secret=TOTP_SECRET)
    run_dir = tmp_path / "runs" / "row"
    started = time.time()
    fresh_portal.api_post("/mock/api/faults", FAIL_AFTER_CODE)

    async def go() -> tuple[list[str], str]:
        context = await browserlib.new_context(chromium)
        try:
            if where == "sign-in":
                with pytest.raises(SessionError) as failure:
                    await session.sign_in(
                        context, portal=fresh_portal.url, secrets=secrets, run_dir=run_dir
                    )
                return sorted(str(p) for p in run_dir.iterdir()), str(failure.value)
            # A traced flow that meets the sign-in page signs in again inside its own trace.
            flow = load_flow("cancel_order")
            result = await run_flow(
                await context.new_page(),
                flow,
                bind_params(flow, {"order_id": "999-0000000-0000000"}),
                portal=fresh_portal.url,
                secrets=secrets,
                run_dir=run_dir,
                trace=True,
            )
            assert result.outcome == "failed" and "signing in again failed" in result.error
            return result.evidence, result.error
        finally:
            await context.close()

    try:
        evidence, message = loop.run_until_complete(go())
        posted = fresh_portal.api_get("/mock/api/faults")["counters"]
    finally:
        fresh_portal.api_post("/mock/api/faults", {})
    assert posted["errors"] >= 1
    assert "HTTP 500" in message
    assert_no_sign_in_values(evidence, started, message)
    assert_private(tmp_path / "runs")


@pytest.fixture
def lax_umask():
    """A umask that would leave everything readable and writable by all."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_private_folders_and_files_whatever_the_umask(lax_umask, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    browserlib.write_private_bytes(shared / "runs" / "r1" / "row" / "shot.png", b"png")
    assert_private(shared / "runs")
    # A folder that was there already (the user's own) keeps its mode.
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    browserlib.write_private_bytes(shared / "runs" / "r1" / "row" / "shot.png", b"again")
    assert (shared / "runs" / "r1" / "row" / "shot.png").read_bytes() == b"again"
    assert sorted(p.name for p in (shared / "runs" / "r1" / "row").iterdir()) == ["shot.png"]


def test_a_written_report_is_private(lax_umask, tmp_path):
    report = {"run_id": "r1", "rows": []}
    write_report(report, "json", str(tmp_path / "reports" / "r1.json"))
    assert_private(tmp_path / "reports")


# -- bulk runs -------------------------------------------------------------------------------

SELLER_AGENT = str(Path(sys.executable).with_name("seller-agent"))


def seller_agent(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SELLER_AGENT, *args],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SELLER_AGENT_")},
            "XDG_DATA_HOME": str(home / "data"),
        },
    )


def journal_rows(path: Path) -> dict:
    with Journal(str(path)) as journal:
        return {row.key: row for row in journal.rows(journal.resolve_run_id("last"))}


@pytest.mark.browser
@pytest.mark.slow
def test_a_target_missing_from_a_loaded_page_fails_its_row_once_without_retries(
    portal, unshipped_orders, tmp_path
):
    flow = tmp_path / "probe.yaml"
    flow.write_text(
        "name: probe\n"
        "params:\n  order_id: {type: string, required: true}\n"
        "session: login\n"
        "steps:\n"
        "  - goto: /orders-v3/order/{{ order_id }}\n"
        "  - click: {testid: no-such-button}\n"
        "    timeout: 1000\n"
    )
    (order_id,) = unshipped_orders(1)
    rows = tmp_path / "rows.csv"
    rows.write_text(f"order_id\n{order_id}\n")
    journal = tmp_path / "journal.db"
    result = seller_agent(
        "run", str(flow), "--rows", str(rows), "--journal", str(journal),
        "--portal", portal.url, "--workers", "1", "-q",
        home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    row = journal_rows(journal)[order_id]
    assert (row.state, row.error_kind, row.attempts) == ("failed", "selector", 1), row.error
    assert "no-such-button" in row.error
    assert portal.order(order_id)["status"] == "Unshipped"


@pytest.mark.browser
@pytest.mark.slow
def test_a_bulk_run_keeps_a_private_trace_for_each_failed_order_only(fresh_portal, tmp_path):
    good, bad = [
        order["order_id"]
        for order in fresh_portal.orders(status="Unshipped", seller=EMAIL)
        if order["buyer_request_kind"] is None
    ][:2]
    (tmp_path / "ids.txt").write_text(f"{good}\n{bad}\n")
    journal, runs = tmp_path / "journal.db", tmp_path / "runs"
    # The bad order's Cancel order page errs: its row fails after the guard, once.
    fresh_portal.api_post(
        "/mock/api/faults", {"error_every": 1, "paths": [f"/orders-v3/order/{bad}/cancel"]}
    )
    result = seller_agent(
        "cancel", "--from", str(tmp_path / "ids.txt"), "--reason", "NoInventory",
        "--trace", "on-failure", "--attempts", "1", "--workers", "1", "--yes",
        "--max-cancel-rate", "100", "--journal", str(journal), "--run-dir", str(runs),
        "--portal", fresh_portal.url, "-q",
        home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    rows = journal_rows(journal)
    assert (rows[good].outcome, rows[good].evidence) == ("cancelled", [])
    assert (rows[bad].state, rows[bad].error_kind) == ("failed", "http_5xx")
    # The screenshot is best effort (a page in the middle of loading may not give one in
    # time); the trace asked for is kept.
    (trace,) = [path for path in rows[bad].evidence if path.endswith("-trace.zip")]
    assert all(path.endswith(".png") for path in rows[bad].evidence if path != trace)
    assert Path(trace).parent.name == bad and Path(trace).is_relative_to(runs)
    with zipfile.ZipFile(trace) as archive:
        assert "trace.trace" in archive.namelist()
    # Nothing was kept for the order that was cancelled.
    # Beside the rows' folders the run keeps its own log (run.log), private too.
    logs = [p for p in runs.rglob("run.log")]
    assert len(logs) == 1 and stat.S_IMODE(logs[0].stat().st_mode) == 0o600
    kept = sorted(
        p.relative_to(runs) for p in runs.rglob("*") if p.is_file() and p.name != "run.log"
    )
    assert {p.parent.name for p in kept} == {bad}, kept
    assert sorted(str(runs / p) for p in kept) == sorted(rows[bad].evidence)
    for path in kept:
        assert stat.S_IMODE((runs / path).stat().st_mode) == 0o600
        assert stat.S_IMODE((runs / path).parent.stat().st_mode) == 0o700


def test_the_folders_of_runs_and_the_journal_are_private_whatever_the_umask(lax_umask, tmp_path):
    from agent.bulk.engine import default_run_dir
    from agent.bulk.journal import Journal
    from agent.bulk.runlog import LOG_NAME, RunLog

    data = tmp_path / "data" / "seller-agent"
    with Journal(data / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel-order", params={}, portal="http://127.0.0.1:1", rows=[("1", {})]
        )
        folder = default_run_dir(journal, run_id)
    log = RunLog(folder / LOG_NAME).open()
    log.write("started")
    log.close()
    assert folder == data / "runs" / run_id and (folder / LOG_NAME).is_file()
    for path in (tmp_path / "data", data, data / "runs", folder):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert_private(data / "runs")
