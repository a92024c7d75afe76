"""Selenium IDE projects (.side) -> flows: one per test, refusals by name, and a replay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli import cli
from agent.flow import bind_params, load_flow, load_flow_data
from agent.play import browser as browserlib
from agent.play.player import run_flow
from agent.play.secrets import Secrets
from agent.recording.common import RecordingError, dump_flow
from agent.recording.import_selenium import import_side_project, translate_side_project

SIDE = Path(__file__).resolve().parent.parent / "fixtures" / "recordings" / "selenium-portal.side"
DEMO = Secrets(email="seller@example.com", password="demo-password", totp_secret="JBSWY3DPEHPK3PXP")


def project(*commands: tuple[str, str, str], url: str = "http://127.0.0.1:8600") -> dict:
    return {
        "version": "2.0",
        "name": "p",
        "url": url,
        "tests": [
            {
                "id": "t",
                "name": "only test",
                "commands": [
                    {"id": str(i), "command": c, "target": t, "targets": [], "value": v}
                    for i, (c, t, v) in enumerate(commands)
                ],
            }
        ],
    }


def test_one_flow_per_test_with_the_sign_in_replaced_by_the_session():
    flows = import_side_project(SIDE)
    assert [flow["name"] for flow in flows] == ["cancel-an-order", "open-account-health"]
    cancel, health = flows
    text = dump_flow(cancel)
    assert cancel["session"] == "login" and health["session"] == "login"
    assert "demo-password" not in text and "signin" not in text and "mfa" not in text
    assert cancel["steps"][0] == {"goto": "/orders-v3/"}
    # ${order_id} is a param; `store` is a param with that default; storeText an extract.
    assert cancel["params"] == {
        "order_id": {"type": "string", "required": True},
        "reason": {"type": "string", "default": "BuyerCanceled"},
    }
    assert {"extract": {"target": {"testid": "order-status"}, "as": "status_before"}} in cancel[
        "steps"
    ]
    assert {"press": {"target": {"css": "#myo-search-input"}, "key": "Enter"}} in cancel["steps"]
    assert {
        "wait": {"target": {"css": 'tr[data-order-id="{{ order_id }}"]'}, "state": "visible"},
        "timeout": 20000,
    } in cancel["steps"]
    assert cancel["steps"][-2:] == [
        {
            "expect": {
                "target": {"testid": "cancel-confirmation"},
                "text": "Order {{ order_id }} was canceled.",
            }
        },
        {"expect": {"not": {"testid": "form-error"}}},
    ]
    # The target and its alternatives are fallbacks in the IDE's order.
    assert {
        "fill": {
            "target": [
                {"css": "#myo-search-input"},
                {"testid": "search-input"},
                {"xpath": "//input[@name='q']"},
            ],
            "value": "{{ order_id }}",
        }
    } in cancel["steps"]
    assert health["steps"][0] == {"set_viewport": {"width": 1280, "height": 900}}
    assert {
        "click": [
            {"role": "link", "name": "Account Health", "exact": True},
            {"role": "button", "name": "Account Health", "exact": True},
            {"testid": "nav-account-health"},
        ]
    } in health["steps"]
    assert {"expect": {"title": "Account Health"}} in health["steps"]


def test_tests_can_be_picked_by_name():
    data = json.loads(SIDE.read_text())
    flows = translate_side_project(data, tests=["Open account health"])
    assert [flow["name"] for flow in flows] == ["open-account-health"]
    with pytest.raises(RecordingError, match="no test named 'nope' \\(tests: Cancel an order"):
        translate_side_project(data, tests=["nope"])


def test_send_keys_mixes_typing_and_keys_and_typed_passwords_are_secret():
    (flow,) = translate_side_project(
        project(
            ("open", "/home", ""),
            ("sendKeys", "name=q", "mug${KEY_TAB}"),
            ("type", "css=input[type=password]", "hunter2-secret"),
        )
    )
    assert flow["steps"][1:] == [
        {"type": {"target": {"css": '[name="q"]'}, "value": "mug"}},
        {"press": {"target": {"css": '[name="q"]'}, "key": "Tab"}},
        {"fill": {"target": {"css": "input[type=password]"}, "value": "{{ password }}"}},
    ]
    assert "hunter2-secret" not in dump_flow(flow)


def test_a_typed_order_id_and_given_values_become_params():
    (flow,) = translate_side_project(
        project(
            ("open", "/orders-v3/order/112-0000001-0000048", ""),
            ("type", "id=search-input", "112-0000001-0000048"),
            ("select", "id=cancel-reason", "label=Pricing Error"),
        ),
        params={"reason": "Pricing Error"},
    )
    assert flow["steps"][0] == {"goto": "/orders-v3/order/{{ order_id }}"}
    assert flow["steps"][2]["select"]["option"] == "{{ reason }}"
    assert set(flow["params"]) == {"order_id", "reason"}


def test_echo_and_debugger_are_nothing_to_replay():
    data = project(
        ("open", "/home", ""),
        ("echo", "cancelling the order now", ""),
        ("debugger", "", ""),
        ("click", "id=go", ""),
    )
    (flow,) = translate_side_project(data, source="p.side")
    assert flow["steps"] == [{"goto": "/home"}, {"click": {"css": "#go"}}]


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (("answerOnNextPrompt", "yes", ""), "the command 'answerOnNextPrompt' is not supported"),
        (("select", "id=x", "index=2"), "only label=... and value=... are supported"),
        (("click", "dom=document.forms[0]", ""), "locator strategy 'dom' is not supported"),
        (("click", "", ""), "the command has no target"),
        (("sendKeys", "id=q", "${KEY_F13}"), "key ${KEY_F13} is not supported"),
        (("setWindowSize", "big", ""), "window size 'big' is not WIDTHxHEIGHT"),
    ],
)
def test_other_commands_are_refused_by_name(command, words):
    data = project(("open", "/home", ""), command)
    with pytest.raises(RecordingError) as caught:
        translate_side_project(data, source="p.side")
    text = str(caught.value)
    assert text.startswith(f"p.side: test 'only test', command 2 ({command[0]}): ")
    assert words in text and "\n" not in text
    notes: list[str] = []
    (flow,) = translate_side_project(data, skip_unsupported=True, warn=notes.append)
    assert flow["steps"] == [{"goto": "/home"}] and len(notes) == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"version": "2.0"}, "a Selenium IDE project is an object with a 'tests' list"),
        ({"version": "2.0", "tests": []}, "the project has no tests"),
        ({"version": "2.0", "tests": ["x"]}, "test 1 must be an object"),
        ({"version": "2.0", "tests": [{"name": "a"}]}, "test 'a' has no 'commands' list"),
        (
            {"version": "2.0", "tests": [{"name": "a", "commands": [{}]}]},
            "command 1: the command has no 'command' name",
        ),
        (
            {
                "version": "2.0",
                "tests": [
                    {"name": "a", "commands": [{"command": "store", "target": "x", "value": "a b"}]}
                ],
            },
            "variable name 'a b'",
        ),
        (
            {
                "version": "2.0",
                "tests": [{"name": "a", "commands": [{"command": "open", "target": "/ap/signin"}]}],
            },
            "nothing to replay",
        ),
    ],
)
def test_malformed_projects_give_one_clear_line(data, words):
    with pytest.raises(RecordingError) as caught:
        translate_side_project(data, source="p.side")
    text = str(caught.value)
    assert text.startswith("p.side: ") and words in text and "\n" not in text


def test_import_command_writes_one_file_per_test_into_a_folder(tmp_path):
    folder = tmp_path / "imported"
    result = CliRunner().invoke(cli, ["import", str(SIDE), "-o", str(folder)])
    assert result.exit_code == 0, result.output
    written = sorted(path.name for path in folder.iterdir())
    assert written == ["cancel-an-order.yaml", "open-account-health.yaml"]
    assert result.stdout.split() == [str(folder / name) for name in written]
    for name in written:
        assert load_flow(folder / name).session == "login"
    check = CliRunner().invoke(cli, ["flows", "check", *(str(folder / n) for n in written)])
    assert check.exit_code == 0, check.output


def test_import_command_needs_a_folder_or_a_test_for_several_tests(tmp_path):
    out = tmp_path / "one.yaml"
    result = CliRunner().invoke(cli, ["import", str(SIDE), "-o", str(out)])
    assert result.exit_code == 2 and not out.exists()
    assert "has 2 tests: pass -o a folder, or pick one with --test" in result.stderr
    result = CliRunner().invoke(
        cli, ["import", str(SIDE), "-o", str(out), "--test", "Open account health"]
    )
    assert result.exit_code == 0, result.output
    assert load_flow(out).name == "open-account-health"


# -- replay on the portal ------------------------------------------------------------------


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def chromium(loop):
    from playwright.async_api import async_playwright

    playwright = loop.run_until_complete(async_playwright().start())
    browser = loop.run_until_complete(browserlib.launch(playwright))
    yield browser
    loop.run_until_complete(browser.close())
    loop.run_until_complete(playwright.stop())


@pytest.mark.browser
def test_the_imported_cancel_test_replays_on_the_portal(
    loop, chromium, portal, unshipped_orders, tmp_path
):
    cancel, health = import_side_project(SIDE)
    (order_id,) = unshipped_orders(1)

    async def go(flow_data: dict, params: dict):
        flow = load_flow_data(flow_data, source="<imported>")
        context = await browserlib.new_context(chromium)
        try:
            page = await context.new_page()
            return await run_flow(
                page,
                flow,
                bind_params(flow, params),
                portal=portal.url,
                secrets=DEMO,
                run_dir=tmp_path,
            )
        finally:
            await context.close()

    result = loop.run_until_complete(go(cancel, {"order_id": order_id}))
    assert result.ok, result.error
    assert result.values["status_before"]
    order = portal.order(order_id)
    assert order["status"] == "Canceled" and order["cancel_reason"] == "BuyerCanceled"
    result = loop.run_until_complete(go(health, {}))
    assert result.ok, result.error


@pytest.mark.browser
def test_a_link_text_that_names_a_button_replays_on_the_portal(
    loop, chromium, portal, unshipped_orders, tmp_path
):
    # The row's Action > Cancel order is styled as a link and is a button to assistive
    # technology (role=button), as on Seller Central: the IDE's linkText finds it by its text.
    (flow,) = translate_side_project(
        project(
            ("open", "/orders-v3/search?qt=orderid&q=${order_id}", ""),
            ("click", "linkText=Cancel order", ""),
            ("select", "id=cancel-reason", "value=NoInventory"),
            ("click", 'css=[data-testid="cancel-submit"]', ""),
            (
                "assertText",
                'css=[data-testid="cancel-confirmation"]',
                "Order ${order_id} was canceled.",
            ),
        )
    )
    assert flow["steps"][1] == {
        "click": [
            {"role": "link", "name": "Cancel order", "exact": True},
            {"role": "button", "name": "Cancel order", "exact": True},
        ]
    }
    (order_id,) = unshipped_orders(1)
    loaded = load_flow_data(flow, source="<imported>")

    async def go():
        context = await browserlib.new_context(chromium)
        try:
            return await run_flow(
                await context.new_page(),
                loaded,
                bind_params(loaded, {"order_id": order_id}),
                portal=portal.url,
                secrets=DEMO,
                run_dir=tmp_path,
            )
        finally:
            await context.close()

    result = loop.run_until_complete(go())
    assert result.ok, result.error
    order = portal.order(order_id)
    assert (order["status"], order["cancel_events"]) == ("Canceled", 1)
    assert order["cancel_reason"] == "NoInventory"
