"""Chrome DevTools Recorder JSON -> flows: translation, refusals, errors, and replays on the portal."""

from __future__ import annotations

import asyncio
import copy
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli import cli
from agent.flow import bind_params, load_flow, load_flow_data
from agent.play import browser as browserlib
from agent.play.player import run_flow
from agent.play.secrets import Secrets
from agent.recording.common import RecordingError, dump_flow
from agent.recording.import_chrome import (
    STEP_TYPES,
    import_chrome_recording,
    translate_chrome_recording,
    unwrap_wait_expression,
)

RECORDINGS = Path(__file__).resolve().parent.parent / "fixtures" / "recordings"
RECORDED_PORTAL = "http://127.0.0.1:8600"  # where the fixture recordings were made
DEMO = Secrets(email="seller@example.com", password="demo-password", totp_secret="JBSWY3DPEHPK3PXP")


def translate(data: dict, **options) -> dict:
    return translate_chrome_recording(data, portal=RECORDED_PORTAL, **options)


def recording(*steps: dict) -> dict:
    return {
        "title": "test",
        "steps": [{"type": "navigate", "url": RECORDED_PORTAL + "/home"}, *steps],
    }


def click(*selectors, **fields) -> dict:
    return {
        "type": "click",
        "selectors": [list(s) for s in selectors],
        "offsetX": 1,
        "offsetY": 1,
        **fields,
    }


# -- translation ---------------------------------------------------------------------------


def test_every_selector_kind_becomes_a_target_in_the_same_order():
    flow = import_chrome_recording(RECORDINGS / "chrome-selectors.json", portal=RECORDED_PORTAL)
    steps = flow["steps"]
    assert steps[0] == {"goto": "https://shop.example/checkout"}  # another origin stays absolute
    assert steps[1]["click"] == [
        {"role": "button", "name": "Pay now", "exact": True},
        {"label": "Pay now", "exact": True},
        {"text": "Pay now", "exact": True},
        {"css": "#pay"},
        {"xpath": '//*[@id="pay"]'},
        {"text": "Pay now"},
        {"testid": "pay"},
        {"placeholder": "Card number"},
    ]
    # A shadow-DOM array is one chained Playwright selector; pierce/ is plain CSS in Playwright.
    assert steps[2]["click"] == [
        "css=payment-widget >> css=button.confirm",
        {"css": "button.confirm"},
    ]
    assert steps[3]["fill"]["target"][0] == {
        "label": "Card number",
        "exact": True,
        "frame": "iframe >> nth=0",
    }
    assert steps[4]["click"] == {
        "target": "iframe >> nth=1 >> internal:control=enter-frame >> css=shadow-host >> "
        'role=button[name="OK"]',
        "button": "right",
    }
    assert "session" not in flow  # nothing on the portal


def test_the_portal_sign_in_becomes_the_login_session_and_urls_become_relative():
    notes: list[str] = []
    flow = import_chrome_recording(
        RECORDINGS / "chrome-cancel-order.json", portal=RECORDED_PORTAL, warn=notes.append
    )
    text = dump_flow(flow)
    assert flow["session"] == "login"
    assert "demo-password" not in text and "seller@example.com" not in text
    assert "signin" not in text and "mfa" not in text and "127.0.0.1" not in text
    assert flow["steps"][1] == {"goto": "/orders-v3/"}
    # The typed order id looked like one: it is a param, everywhere it appeared.
    assert flow["params"] == {
        "order_id": {"type": "string", "required": True, "pattern": r"^\d{3}-\d{7}-\d{7}$"}
    }
    assert "112-0000001-0000048" not in text
    assert {"wait": {"url": "/orders-v3/order/{{ order_id }}/cancel"}} in flow["steps"]
    assert any("looks like an order id" in note for note in notes)
    # The <select> (role combobox) is a select step, the text field a fill.
    kinds = [next(iter(step)) for step in flow["steps"]]
    assert kinds.count("select") == 1 and kinds.count("fill") == 1
    select = next(step["select"] for step in flow["steps"] if "select" in step)
    assert select["option"] == "BuyerCanceled"
    assert select["target"][0] == {
        "role": "combobox",
        "name": "Reason for cancellation",
        "exact": True,
    }


def test_step_types_of_the_portal_tour_each_translate():
    data = json.loads((RECORDINGS / "chrome-portal-tour.json").read_text())
    flow = translate(data)
    steps = flow["steps"]
    assert flow["timeout"] == 20000
    assert flow["params"] == {"order_id": {"type": "string", "required": True}}
    assert steps[0] == {"set_viewport": {"width": 1200, "height": 800}}
    assert {
        "hover": [{"role": "button", "name": "Orders", "exact": True}, {"testid": "nav-orders"}]
    } in steps
    assert {"wait": {"target": {"testid": "order-row", "nth": 1}, "state": "attached"}} in steps
    assert {"scroll": {"x": 0, "y": 400}} in steps
    assert {"scroll": {"testid": "search-input"}} in steps
    assert {"press": "Enter"} in steps and {"press": "Shift+Tab"} in steps
    assert {"wait": {"target": {"testid": "no-results"}, "state": "hidden"}} in steps
    assert {"click": {"target": {"testid": "search-summary"}, "count": 2}} in steps
    assert any("evaluate" in step and "querySelectorAll" in step["evaluate"] for step in steps)
    # The last step, close, ends the run anyway: nothing is written for it.
    assert steps[-1] == {"wait": {"target": {"testid": "order-id"}, "state": "visible"}}


def test_every_step_type_of_the_schema_is_covered_by_the_fixtures_or_refused():
    used = set()
    for name in ("chrome-portal-tour.json", "chrome-cancel-order.json", "chrome-selectors.json"):
        used |= {step["type"] for step in json.loads((RECORDINGS / name).read_text())["steps"]}
    refused = {"emulateNetworkConditions", "customStep", "waitForURL"}
    assert set(STEP_TYPES) - used <= refused
    for kind in refused - {"waitForURL"}:
        step = {"type": kind, "download": 1, "upload": 1, "latency": 1, "name": "x"}
        with pytest.raises(RecordingError, match=rf"step 2 \({kind}\)"):
            translate(recording(step))
    assert translate(recording({"type": "waitForURL", "url": RECORDED_PORTAL + "/home"}))["steps"][
        1
    ] == {"wait": {"url": "/home"}}


def test_placeholders_in_values_become_params_and_given_values_too():
    flow = translate(
        recording(
            {"type": "change", "value": "{{ sku }}", "selectors": [["#search-input"]]},
            {"type": "change", "value": "PricingError", "selectors": [["select#reason"]]},
        ),
        params={"reason": "PricingError"},
    )
    assert flow["params"] == {
        "sku": {"type": "string", "required": True},
        "reason": {"type": "string", "required": True},
    }
    assert flow["steps"][2] == {
        "select": {"target": {"css": "select#reason"}, "option": "{{ reason }}"}
    }


def test_asserted_events_become_waits_after_their_step():
    flow = translate(
        recording(
            click(
                ['aria/Mail[role="link"]'],
                assertedEvents=[
                    {"type": "navigation", "url": RECORDED_PORTAL + "/mail", "title": "Mail"}
                ],
            )
        )
    )
    assert flow["steps"][1:] == [
        {"click": {"role": "link", "name": "Mail", "exact": True}},
        {"wait": {"url": "/mail"}},
        {"expect": {"title": "Mail"}},
    ]


def test_wait_for_expression_polls_for_the_steps_timeout_else_the_recordings():
    data = recording(
        {"type": "waitForExpression", "expression": "window.ready"},
        {"type": "waitForExpression", "expression": "window.done", "timeout": 700},
    )
    data["timeout"] = 2000
    flow = translate(data)
    assert flow["timeout"] == 2000
    limits = [unwrap_wait_expression(step["evaluate"]) for step in flow["steps"][1:]]
    assert limits == [("window.ready", 2000), ("window.done", 700)]
    # No timeout anywhere: the flow's default.
    del data["timeout"]
    first = translate(data)["steps"][1]["evaluate"]
    assert unwrap_wait_expression(first) == ("window.ready", 15000)


@pytest.mark.parametrize(
    ("fields", "step"),
    [
        # puppeteer/replay: `visible: false` waits until its count comparison (default: at
        # least 1) no longer holds - until no element is there.
        ({}, {"wait": {"target": {"testid": "x"}, "state": "detached"}}),
        (
            {"operator": ">=", "count": 1},
            {"wait": {"target": {"testid": "x"}, "state": "detached"}},
        ),
        (
            {"operator": ">=", "count": 3},
            {"expect": {"not": {"target": {"testid": "x", "nth": 2}, "count": 1}}},
        ),
        (
            {"operator": "<=", "count": 1},
            {"wait": {"target": {"testid": "x", "nth": 1}, "state": "attached"}},
        ),
        (
            {"operator": "==", "count": 2},
            {"expect": {"not": {"target": {"testid": "x"}, "count": 2}}},
        ),
        (
            {"properties": {"value": "a"}},
            {"expect": {"not": {"target": {"testid": "x"}, "value": "a"}}},
        ),
    ],
)
def test_visible_false_waits_for_the_opposite_of_the_count(fields, step):
    wait = {"type": "waitForElement", "selectors": [['[data-testid="x"]']], "visible": False}
    flow = translate(recording({**wait, **fields}))
    assert flow["steps"][1] == step


def test_a_password_typed_outside_the_sign_in_is_the_password_secret():
    notes: list[str] = []
    flow = translate(
        recording({"type": "change", "value": "hunter2-secret", "selectors": [["aria/Password"]]}),
        warn=notes.append,
    )
    assert flow["steps"][1]["fill"]["value"] == "{{ password }}"
    assert "hunter2-secret" not in dump_flow(flow) and "hunter2-secret" not in " ".join(notes)


@pytest.mark.parametrize(
    "selectors",
    [
        [["aria/password"], ["input[type='password']"]],  # a label in lower case, quotes
        [["#ap_password"], ['xpath///*[@id="ap_password"]']],  # Seller Central's own id
        [["aria/Enter your password"]],
        [["aria/Passwort"], ["#pass"]],
        [["aria/密碼"]],
        [["#login-pwd"]],
    ],
)
def test_a_password_field_is_known_by_any_of_its_usual_names(selectors):
    notes: list[str] = []
    flow = translate(
        recording({"type": "change", "value": "hunter2-secret", "selectors": selectors}),
        warn=notes.append,
    )
    assert flow["steps"][1]["fill"]["value"] == "{{ password }}"
    assert "hunter2-secret" not in dump_flow(flow) and "hunter2-secret" not in " ".join(notes)


def test_a_field_that_only_mentions_passing_keeps_its_value():
    flow = translate(
        recording({"type": "change", "value": "Passenger 2", "selectors": [["#passenger"]]})
    )
    assert flow["steps"][1]["fill"]["value"] == "Passenger 2"


def test_unsupported_steps_are_refused_by_name_or_skipped_on_request():
    cases = [
        (
            {"type": "emulateNetworkConditions", "download": 1, "upload": 1, "latency": 5},
            "network throttling",
        ),
        ({"type": "close"}, "closing the page"),
        (
            {"type": "customStep", "name": "lighthouse", "parameters": {}},
            "custom step 'lighthouse'",
        ),
        ({**click(["#a"]), "target": "https://popup.example/"}, "another tab"),
        ({**click(["#a"]), "frame": [0, 2]}, "nested 2 deep"),
        (click(["#a"], button="forward"), "mouse button 'forward'"),
        (
            {"type": "waitForElement", "selectors": [["aria/A"]], "attributes": {"x": "1"}},
            "attributes needs a CSS or XPath selector",
        ),
        (
            {"type": "waitForElement", "selectors": [["#a"]], "properties": {"checked": True}},
            "properties other than 'value'",
        ),
    ]
    for step, words in cases:
        data = recording(step, click(["#b"]))
        with pytest.raises(RecordingError) as caught:
            translate(data)
        message = str(caught.value)
        assert message.startswith(f"<recording>: step 2 ({step['type']}): "), message
        assert words in message and "\n" not in message
        notes: list[str] = []
        flow = translate(data, skip_unsupported=True, warn=notes.append)
        assert flow["steps"][-1] == {"click": {"css": "#b"}}
        assert len(notes) == 1 and notes[0].startswith("skipped <recording>: step 2")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a Chrome Recorder recording is a JSON object"),
        ({"title": "x"}, "the recording has no 'steps'"),
        ({"title": "x", "steps": {}}, "'steps' must be a list"),
        ({"title": "x", "steps": []}, "the recording has no steps"),
        ({"title": 3, "steps": [{}]}, "'title' must be a text"),
        ({"steps": ["click"]}, "step 1: a step must be an object"),
        ({"steps": [{"selectors": []}]}, "step 1: the step has no 'type'"),
        ({"steps": [{"type": "clik"}]}, "step 1: unknown step type 'clik'"),
        ({"steps": [{"type": "click", "offsetX": 1}]}, "step 1 (click): missing 'selectors'"),
        ({"steps": [{"type": "click", "selectors": []}]}, "'selectors' must be a non-empty list"),
        ({"steps": [{"type": "click", "selectors": [[1]]}]}, "neither a string nor a list"),
        ({"steps": [{"type": "navigate"}]}, "step 1 (navigate): missing 'url'"),
        ({"steps": [{"type": "change", "selectors": ["#a"]}]}, "missing 'value'"),
        ({"steps": [{"type": "keyDown"}]}, "step 1 (keyDown): missing 'key'"),
        (
            {"steps": [{"type": "setViewport", "width": "wide", "height": 3}]},
            "'width' must be a number",
        ),
        (
            {"steps": [{"type": "click", "selectors": ["#a"], "frame": "top"}]},
            "'frame' must be a list",
        ),
        (
            {"steps": [{"type": "waitForElement", "selectors": ["#a"], "operator": "!="}]},
            "operator '!='",
        ),
        (
            {"steps": [{"type": "click", "selectors": ["#a"], "assertedEvents": [{"type": "x"}]}]},
            "only navigation",
        ),
    ],
)
def test_malformed_recordings_give_one_clear_line(data, message):
    with pytest.raises(RecordingError) as caught:
        translate_chrome_recording(data, source="rec.json")
    text = str(caught.value)
    assert text.startswith("rec.json: ") and message in text and "\n" not in text


def test_a_round_trip_through_json_text_is_what_chrome_exports(tmp_path):
    # Chrome writes selectors as arrays of one string; plain strings mean the same.
    flow_a = translate(recording(click(["#a"], ["text/Go"])))
    flow_b = translate(recording({**click(), "selectors": ["#a", "text/Go"]}))
    assert flow_a == flow_b


# -- the command ---------------------------------------------------------------------------


def test_import_command_writes_a_flow_that_flows_check_accepts(tmp_path):
    out = tmp_path / "cancel.yaml"
    result = CliRunner().invoke(
        cli,
        ["import", str(RECORDINGS / "chrome-cancel-order.json"), "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "looks like an order id" in result.stderr
    flow = load_flow(out)
    assert flow.session == "login" and list(flow.params) == ["order_id"]
    check = CliRunner().invoke(cli, ["flows", "check", str(out)])
    assert check.exit_code == 0, check.output


def test_import_command_fails_in_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x",\n "steps": [\n  {"type": "click",}]}')
    out = tmp_path / "out.yaml"
    result = CliRunner().invoke(cli, ["import", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {bad}:3: not valid JSON (Expecting property name enclosed in double quotes, "
        "column 20)"
    ]
    assert not out.exists()
    data = {
        "title": "x",
        "steps": [{"type": "emulateNetworkConditions", "download": 1, "upload": 1, "latency": 1}],
    }
    bad.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["import", str(bad), "-o", str(out)])
    assert result.exit_code == 2 and "step 1 (emulateNetworkConditions)" in result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_a_recording_that_is_a_folder_or_unreadable_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["import", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"Error: {tmp_path}: is a directory, not a file"]
    locked = tmp_path / "locked.json"
    locked.write_text(json.dumps(recording()))
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads it anyway
        return
    result = CliRunner().invoke(cli, ["import", str(locked)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"Error: {locked}: Permission denied"]


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        (
            "password=112-0000001-0000001",
            "-p password: password is a secret's name (email, password, totp_secret), never a "
            "param; choose another name",
        ),
        (
            "order-id=112-0000001-0000001",
            "-p order-id: a param's name is letters, digits and _, not starting with a digit "
            "(such as order_id)",
        ),
    ],
)
def test_a_param_name_that_cannot_be_one_is_refused_before_anything(tmp_path, pair, says):
    source = tmp_path / "r.json"
    source.write_text(
        json.dumps(
            recording({"type": "change", "value": "112-0000001-0000001", "selectors": [["#q"]]})
        )
    )
    out = tmp_path / "out.yaml"
    result = CliRunner().invoke(cli, ["import", str(source), "-p", pair, "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"Error: {says}"]
    assert not out.exists()


def test_a_param_value_found_nowhere_is_said(tmp_path):
    source = tmp_path / "r.json"
    source.write_text(
        json.dumps(recording({"type": "change", "value": "mug", "selectors": [["#q"]]}))
    )
    result = CliRunner().invoke(cli, ["import", str(source), "-p", "q=mugs", "-p", "x=mug"])
    assert result.exit_code == 0, result.output
    assert "value: '{{ x }}'" in result.stdout
    assert result.stderr.splitlines() == [
        f"note: {source}: -p q: 'mugs' appears nowhere in the recording; no param q"
    ]


def test_a_recording_saved_with_a_byte_order_mark_imports(tmp_path):
    data = recording(click(['[data-testid="tab-shipped"]']))
    marked = tmp_path / "bom.json"
    marked.write_bytes(b"\xef\xbb\xbf" + json.dumps(data).encode("utf-8"))
    out = tmp_path / "out.yaml"
    result = CliRunner().invoke(cli, ["import", str(marked), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load_flow(out).steps[1].args["target"] == [{"kind": "testid", "value": "tab-shipped"}]
    # The same from stdin.
    piped = CliRunner().invoke(cli, ["import", "-"], input="\ufeff" + json.dumps(data))
    assert piped.exit_code == 0, piped.output


@pytest.mark.parametrize(
    ("text", "options", "says"),
    [
        ('{"title": "x"}', [], "not a Chrome DevTools Recorder recording"),
        ('{"title": "x"}', ["--format", "chrome-recorder"], "the recording has no 'steps'"),
        ("[]", ["--format", "selenium-ide"], "a Selenium IDE project is an object"),
        (
            json.dumps(recording()),
            ["--test", "Cancel"],
            "--test is for Selenium IDE projects",
        ),
    ],
)
def test_every_import_error_line_names_the_file(tmp_path, text, options, says):
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(bad), *options])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: {bad}: ") and says in line, line


# -- replays on the portal -------------------------------------------------------------------


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


def replay(loop, chromium, flow_data: dict, params: dict, portal_url: str, run_dir: Path):
    flow = load_flow_data(copy.deepcopy(flow_data), source="<imported>")

    async def go():
        context = await browserlib.new_context(chromium)
        try:
            page = await context.new_page()
            return await run_flow(
                page,
                flow,
                bind_params(flow, params),
                portal=portal_url,
                secrets=DEMO,
                run_dir=run_dir,
            )
        finally:
            await context.close()

    return loop.run_until_complete(go())


@pytest.mark.browser
def test_the_imported_cancel_recording_replays_on_another_order(
    loop, chromium, portal, unshipped_orders, tmp_path
):
    flow = import_chrome_recording(RECORDINGS / "chrome-cancel-order.json", portal=RECORDED_PORTAL)
    (order_id,) = unshipped_orders(1)
    result = replay(loop, chromium, flow, {"order_id": order_id}, portal.url, tmp_path)
    assert result.ok, result.error
    assert result.outcome == "completed"
    order = portal.order(order_id)
    assert order["status"] == "Canceled" and order["cancel_reason"] == "BuyerCanceled"
    assert order["cancel_events"] == 1


@pytest.mark.browser
def test_the_portal_tour_replays_with_every_step_type(
    loop, chromium, portal, portal_cases, tmp_path
):
    flow = import_chrome_recording(RECORDINGS / "chrome-portal-tour.json", portal=RECORDED_PORTAL)
    order_id = next(iter(portal_cases.values()))
    result = replay(loop, chromium, flow, {"order_id": order_id}, portal.url, tmp_path)
    assert result.ok, result.error
    assert result.outcome == "completed"
    # The role+name candidates Chrome's aria selectors became are the ones that matched.
    assert any(match["candidate"] == 0 and "role=" in match["spec"] for match in result.matches)


def test_waiting_on_attributes_narrows_the_css_and_xpath_candidates():
    step = {
        "type": "waitForElement",
        "selectors": [
            ["aria/Order row"],
            ['[data-testid="order-row"]'],
            ["tr.order"],
            ["xpath///tr"],
        ],
        "attributes": {"data-order-id": "112-0000001-0000001", "data-x": 'a"b'},
        "count": 1,
        "operator": ">=",
    }
    flow = translate(recording(step))
    assert flow["steps"][1] == {
        "wait": {
            "target": [
                {
                    "css": '[data-testid="order-row"][data-order-id="112-0000001-0000001"]'
                    '[data-x="a\\"b"]',
                    "nth": 0,
                },
                {"css": 'tr.order[data-order-id="112-0000001-0000001"][data-x="a\\"b"]', "nth": 0},
                {"xpath": "(//tr)[@data-order-id='112-0000001-0000001'][@data-x='a\"b']", "nth": 0},
            ],
            "state": "attached",
        }
    }
    # An XPath candidate takes them as a predicate unless a value has a single quote in it.
    flow = translate(recording({**step, "attributes": {"data-x": "it's"}}))
    assert [sorted(spec) for spec in flow["steps"][1]["wait"]["target"]] == [["css", "nth"]] * 2


@pytest.mark.browser
def test_a_wait_on_an_orders_row_by_its_attribute_replays(
    loop, chromium, portal, portal_cases, tmp_path
):
    order_id = portal_cases["shipped"]
    data = {
        "title": "find an order",
        "steps": [
            {"type": "navigate", "url": f"{RECORDED_PORTAL}/orders-v3/search?q={order_id}"},
            {
                "type": "waitForElement",
                "selectors": [['[data-testid="order-row"]'], ["aria/Order"]],
                "attributes": {"data-order-id": order_id},
            },
        ],
    }
    found = replay(loop, chromium, translate(data), {}, portal.url, tmp_path)
    assert found.ok, found.error
    data["steps"][0]["url"] = f"{RECORDED_PORTAL}/orders-v3/search?q={portal_cases['pending']}"
    flow = translate(data)
    flow["timeout"] = 1500
    missing = replay(loop, chromium, flow, {}, portal.url, tmp_path)
    assert not missing.ok and "data-order-id" in missing.error


@pytest.mark.browser
def test_typed_text_that_looks_like_a_template_is_typed_as_it_was(loop, chromium, portal, tmp_path):
    typed = "}}{{ 7*7 }} {% if x %} {# note #} 50%"
    data = {
        "title": "braces",
        "steps": [
            {"type": "navigate", "url": f"{RECORDED_PORTAL}/orders-v3/"},
            {"type": "change", "value": typed, "selectors": [["#myo-search-input"]]},
            {
                "type": "waitForElement",
                "selectors": [["#myo-search-input"]],
                "properties": {"value": typed},
            },
        ],
    }
    flow = translate(data)  # it was "the translation is not a valid flow: ... template"
    assert "params" not in flow
    result = replay(loop, chromium, flow, {}, portal.url, tmp_path)
    assert result.ok, result.error
    # A {{ name }} written into a recording is still a param.
    data["steps"][1]["value"] = "{{ q }} and {{ 7 }}"
    del data["steps"][2]
    flow = translate(data)
    assert flow["steps"][1]["fill"]["value"] == "{{ q }} and {{ '{{' }} 7 }}"
    assert list(flow["params"]) == ["q"]


def test_a_recording_that_starts_by_signing_in_starts_where_the_sign_in_leads():
    flow = translate(
        {
            "title": "t",
            "steps": [
                {"type": "navigate", "url": RECORDED_PORTAL + "/ap/signin"},
                {"type": "change", "value": "seller@example.com", "selectors": [["aria/Email"]]},
                click(['aria/Continue[role="button"]']),
                click(['aria/Orders[role="button"]']),
            ],
        }
    )
    assert flow["session"] == "login"
    assert flow["steps"] == [
        {"goto": "/home"},
        {"click": {"role": "button", "name": "Orders", "exact": True}},
    ]


@pytest.mark.parametrize(
    ("fields", "step"),
    [
        # Chrome's replay reads a missing operator as ">=": a count alone is "at least".
        ({"count": 3}, {"wait": {"target": {"testid": "x", "nth": 2}, "state": "attached"}}),
        ({"count": 3, "operator": "=="}, {"expect": {"target": {"testid": "x"}, "count": 3}}),
        ({"count": 1}, {"wait": {"target": {"testid": "x"}, "state": "visible"}}),
        ({"count": 0}, {"wait": {"target": {"testid": "x"}, "state": "hidden"}}),
        ({"count": 0, "operator": ">="}, {"wait": {"target": {"testid": "x"}, "state": "hidden"}}),
    ],
)
def test_a_count_without_an_operator_means_at_least_as_in_chromes_replay(fields, step):
    wait = {"type": "waitForElement", "selectors": [['[data-testid="x"]']], **fields}
    assert translate(recording(wait))["steps"][1] == step
