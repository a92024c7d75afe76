"""The recorder, driven headless like a person through the same page it opened."""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from agent.cli import cli
from agent.flow import bind_params, load_flow, load_flow_data
from agent.flow.totp import totp
from agent.play import browser as browserlib
from agent.play.player import run_flow
from agent.play.secrets import Secrets
from agent.recording.common import dump_flow
from agent.recording.recorder import recording

pytestmark = pytest.mark.browser

DEMO = Secrets(email="seller@example.com", password="demo-password", totp_secret="JBSWY3DPEHPK3PXP")
SELLER_AGENT = Path(sys.executable).with_name("seller-agent")


async def sign_in_by_hand(page) -> None:
    await page.get_by_test_id("signin-email").fill(DEMO.email)
    await page.get_by_test_id("signin-continue").click()
    await page.get_by_test_id("signin-password").fill(DEMO.password)
    await page.get_by_test_id("signin-submit").click()
    await page.get_by_test_id("mfa-code").fill(totp(DEMO.totp_secret))
    await page.get_by_test_id("mfa-submit").click()
    await page.get_by_test_id("nav-account").wait_for()


async def replay(
    chromium, flow_data: dict, params: dict, portal_url: str, run_dir: Path, context=None
):
    flow = load_flow_data(flow_data, source="<recorded>")
    own = context is None
    context = context or await browserlib.new_context(chromium)
    try:
        page = await context.new_page()
        return await run_flow(
            page, flow, bind_params(flow, params), portal=portal_url, secrets=DEMO, run_dir=run_dir
        )
    finally:
        if own:
            await context.close()


def first_candidate(target):
    return target[0] if isinstance(target, list) else target


def test_a_recorded_cancel_replays_on_other_orders_with_role_and_label_targets(
    loop, chromium, portal, unshipped_orders, tmp_path
):
    recorded_order, *other_orders = unshipped_orders(3)
    notes: list[str] = []

    async def record():
        async with recording(
            chromium,
            url=portal.url + "/ap/signin",
            portal=portal.url,
            params={"order_id": recorded_order, "reason": "BuyerCanceled"},
            warn=notes.append,
        ) as rec:
            page = rec.page
            await sign_in_by_hand(page)
            await page.get_by_test_id("nav-orders").click()
            await page.get_by_test_id("nav-manage-orders").click()
            await page.get_by_test_id("search-input").click()
            await page.get_by_test_id("search-input").press_sequentially(recorded_order)
            await page.get_by_test_id("search-submit").click()
            await page.get_by_test_id("cancel-order").click()
            await page.get_by_test_id("cancel-reason").select_option("BuyerCanceled")
            await page.get_by_test_id("cancel-submit").click()
            await page.get_by_test_id("cancel-confirmation").wait_for()
            rec.stop()
        return rec.flow()

    flow = loop.run_until_complete(record())
    text = dump_flow(flow)
    assert flow["session"] == "login"
    assert flow["params"] == {
        "order_id": {"type": "string", "required": True, "pattern": r"^\d{3}-\d{7}-\d{7}$"},
        "reason": {"type": "string", "required": True},
    }
    for secret in (DEMO.email, DEMO.password, recorded_order, portal.url):
        assert secret not in text
    steps = flow["steps"]
    # The sign-in left no trace; the replay starts where it led.
    assert steps[0] == {"goto": "/home"}
    assert [next(iter(step)) for step in steps] == [
        "goto",
        "click",
        "click",
        "fill",
        "click",
        "click",
        "select",
        "click",
    ]
    assert steps[3]["fill"]["value"] == "{{ order_id }}"  # typing coalesced into one fill
    assert steps[6]["select"]["option"] == "{{ reason }}"
    primaries = [
        first_candidate(
            step[kind]["target"]
            if isinstance(step[kind], dict) and "target" in step[kind]
            else step[kind]
        )
        for step in steps[1:]
        for kind in step
    ]
    assert all("role" in spec or "label" in spec for spec in primaries), primaries
    assert primaries[0] == {"role": "button", "name": "Orders"}
    assert (primaries[1]["role"], primaries[1]["name"]) == ("link", "Manage Orders")
    assert primaries[3] == {"role": "button", "name": "Search"}
    assert primaries[4] == {"role": "button", "name": "Cancel order"}
    assert primaries[5] == {"role": "combobox", "name": "Reason for cancellation"}
    assert portal.order(recorded_order)["status"] == "Canceled"  # the person's own cancel

    path = tmp_path / "recorded_cancel.yaml"
    path.write_text(text, encoding="utf-8")
    check = CliRunner().invoke(cli, ["flows", "check", str(path)])
    assert check.exit_code == 0, check.output
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))

    async def replay_both():
        context = await browserlib.new_context(chromium)
        try:
            return [
                await replay(
                    chromium,
                    loaded,
                    {"order_id": order_id, "reason": "NoInventory"},
                    portal.url,
                    tmp_path,
                    context=context,
                )
                for order_id in other_orders
            ]
        finally:
            await context.close()

    for order_id, result in zip(other_orders, loop.run_until_complete(replay_both()), strict=True):
        assert result.ok, result.error
        order = portal.order(order_id)
        assert order["status"] == "Canceled" and order["cancel_reason"] == "NoInventory"


def test_chinese_pages_typed_addresses_and_the_stop_button(
    loop, chromium, portal, portal_cases, unshipped_orders, tmp_path
):
    (order_id,) = unshipped_orders(1)
    notes: list[str] = []

    async def record():
        async with recording(
            chromium,
            url=portal.url + "/orders-v3/?lang=zh-CN",
            portal=portal.url,
            warn=notes.append,
        ) as rec:
            page = rec.page
            await sign_in_by_hand(page)
            await page.get_by_test_id("search-input").fill(order_id)
            await page.get_by_test_id("search-input").press("Enter")
            await page.get_by_test_id("order-link").click()
            await page.get_by_test_id("order-id").wait_for()
            await page.goto(portal.url + "/performance/account/health")  # typed in the address bar
            await page.get_by_role("button", name="Stop recording").click()
            await asyncio.wait_for(rec.wait_stopped(), 10)
            assert rec.stopped
        return rec.flow()

    flow = loop.run_until_complete(record())
    steps = flow["steps"]
    assert steps[0] == {"goto": "/orders-v3/?lang=zh-CN"}
    assert steps[1]["fill"]["target"][0] == {"role": "searchbox", "name": "搜索订单"}
    assert steps[1]["fill"]["value"] == "{{ order_id }}"
    assert steps[2]["press"]["key"] == "Enter"
    assert first_candidate(steps[3]["click"]) == {"role": "link", "name": "{{ order_id }}"}
    assert steps[4] == {"goto": "/performance/account/health"}
    assert len(steps) == 5  # nothing for the stop button
    assert any("looks like an order id" in note for note in notes)

    other = next(iter(portal_cases.values()))
    result = loop.run_until_complete(
        replay(chromium, flow, {"order_id": other}, portal.url, tmp_path)
    )
    assert result.ok, result.error


@pytest.fixture(scope="module")
def local_site(tmp_path_factory):
    """A small site on a loopback port: a form with every kind of field, and an iframe."""
    root = tmp_path_factory.mktemp("site")
    (root / "form.html").write_text(
        """<!doctype html><title>Form</title><h1>Account settings</h1>
<form action="done.html" method="get">
  <label for="nick">Nickname</label> <input id="nick" name="nick">
  <label>New password <input type="password" name="pw"></label>
  <label><input type="checkbox" name="news"> Send me news</label>
  <label><input type="radio" name="plan" value="basic" checked> Basic</label>
  <label><input type="radio" name="plan" value="pro"> Pro</label>
  <textarea name="bio" placeholder="About you"></textarea>
  <div class="row"><span class="cell">one</span><span class="cell">two</span></div>
  <button type="submit">Save</button>
</form>
<iframe id="help" src="frame.html" title="Help"></iframe>""",
        encoding="utf-8",
    )
    (root / "frame.html").write_text(
        "<!doctype html><button type=button onclick=\"this.textContent='Thanks'\">Helpful</button>",
        encoding="utf-8",
    )
    (root / "done.html").write_text(
        '<!doctype html><p data-testid="saved">Saved</p>', encoding="utf-8"
    )

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output clean
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fields_frames_and_keys_on_any_site(loop, chromium, local_site):
    async def record():
        async with recording(
            chromium,
            url=local_site + "/form.html",
            portal="http://127.0.0.1:1",
            params={"nick": "Wanda"},
        ) as rec:
            page = rec.page
            await page.get_by_label("Nickname").press_sequentially("Wan")
            await page.get_by_label("Nickname").press_sequentially("da")
            await page.get_by_label("New password").fill("hunter2-secret")
            await page.get_by_label("Send me news").check()
            await page.get_by_label("Pro").check()
            await page.get_by_placeholder("About you").fill("hi {{ x }}")
            await page.locator(".cell").nth(1).dblclick()
            await page.frame_locator("#help").get_by_role("button").click()
            await page.get_by_label("Nickname").press("Enter")
            await page.get_by_test_id("saved").wait_for()
            await page.close()  # closing the page stops the recording too
            assert rec.stopped
        return rec.flow()

    flow = loop.run_until_complete(record())
    assert "session" not in flow  # another site than the portal: nothing to sign in to
    assert flow["params"] == {"nick": {"type": "string", "required": True}}
    assert flow["steps"] == [
        {"goto": local_site + "/form.html"},
        {
            "fill": {
                "target": [{"role": "textbox", "name": "Nickname"}, {"label": "Nickname"}],
                "value": "{{ nick }}",
            }
        },
        {
            "fill": {
                "target": [{"label": "New password"}, {"css": 'input[name="pw"]'}],
                "value": "{{ password }}",
            }
        },
        {"check": [{"role": "checkbox", "name": "Send me news"}, {"label": "Send me news"}]},
        {"check": [{"role": "radio", "name": "Pro"}, {"label": "Pro"}]},
        {
            "fill": {
                "target": [{"role": "textbox", "name": "About you"}, {"placeholder": "About you"}],
                "value": "hi {{ '{{' }} x }}",
            }
        },
        {"click": {"target": {"text": "two"}, "count": 2}},
        {
            "click": [
                {"role": "button", "name": "Helpful", "frame": "iframe#help"},
                {"text": "Helpful", "frame": "iframe#help"},
            ]
        },
        {
            "press": {
                "target": [{"role": "textbox", "name": "Nickname"}, {"label": "Nickname"}],
                "key": "Enter",
            }
        },
    ]
    assert "hunter2-secret" not in dump_flow(flow)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_record_command_headless_stops_on_a_signal_and_writes_the_file(portal, tmp_path, signum):
    out = tmp_path / "flow.yaml"
    env = {**os.environ, "SELLER_AGENT_PORTAL": portal.url}
    process = subprocess.Popen(
        [str(SELLER_AGENT), "record", "/home", "-o", str(out), "--headless", "--name", "home"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stderr.readline()
        assert line.startswith(f"recording {portal.url}/home - stop with SIGINT or SIGTERM"), line
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert f"wrote flow 'home' (1 step) to {out}" in stderr
    flow = load_flow(out)
    assert flow.session == "login" and flow.name == "home"
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["steps"] == [{"goto": "/home"}]


def test_record_command_rejects_a_bad_url_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["record", "orders", "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: URL orders: expected an http(s) URL or a path such as /orders-v3/"
    )
    assert not (tmp_path / "x.yaml").exists()


def test_record_command_reports_an_unreachable_portal_in_one_line(tmp_path):
    out = tmp_path / "x.yaml"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket closes
    result = subprocess.run(
        [str(SELLER_AGENT), "record", "/home", "-o", str(out), "--headless", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SELLER_AGENT_PORTAL": f"http://127.0.0.1:{port}"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: browser: ")
    assert "ERR_CONNECTION_REFUSED" in lines[0] and not out.exists()
