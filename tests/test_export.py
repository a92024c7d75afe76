"""Flow -> Chrome DevTools Recorder JSON, and back: the round trip keeps the flow's meaning."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from agent.cli import cli
from agent.flow import bundled_flows, load_flow_data
from agent.recording.common import ordered_flow
from agent.recording.export_chrome import (
    ExportError,
    export_chrome_recording,
    target_selectors,
)
from agent.recording.import_chrome import translate_chrome_recording

PORTAL = "http://127.0.0.1:8600"
STEP_FIELDS = {
    # Required fields per step type, as @puppeteer/replay's parser checks them.
    "click": {"selectors": list, "offsetX": (int, float), "offsetY": (int, float)},
    "doubleClick": {"selectors": list, "offsetX": (int, float), "offsetY": (int, float)},
    "change": {"selectors": list, "value": str},
    "hover": {"selectors": list},
    "keyDown": {"key": str},
    "keyUp": {"key": str},
    "navigate": {"url": str},
    "setViewport": {
        "width": (int, float),
        "height": (int, float),
        "deviceScaleFactor": (int, float),
        "isMobile": bool,
        "hasTouch": bool,
        "isLandscape": bool,
    },
    "scroll": {},
    "waitForElement": {"selectors": list},
    "waitForExpression": {"expression": str},
    "customStep": {"name": str},
}

SIMPLE = {
    "name": "simple",
    "summary": "A flow every step of which Chrome can replay.",
    "params": {"order_id": {"type": "string", "required": True}},
    "session": "login",
    "steps": [
        {"goto": "/orders-v3/"},
        {"select": {"target": {"testid": "search-type"}, "option": "orderid"}},
        {"fill": {"target": {"label": "Search orders"}, "value": "{{ order_id }}"}},
        {"press": "Enter"},
        {"wait": {"url": "/orders-v3/search"}},
        {"click": [{"role": "button", "name": "Cancel order"}, {"testid": "cancel-order"}]},
        {"press": "Shift+A"},
        {"wait": {"text": "Cancel order"}},
        {"extract": {"target": {"testid": "order-id"}, "as": "shown"}},
        {"click": {"target": {"css": "#x"}, "count": 2, "button": "right"}},
    ],
    "outcomes": {"done": {"testid": "cancel-reason"}},
}


def check_schema(recording: dict) -> None:
    """Fail unless the recording is one Chrome's Recorder (the @puppeteer/replay schema) reads."""
    assert isinstance(recording["title"], str) and recording["title"]
    if "timeout" in recording:
        assert 1 <= recording["timeout"] <= 30000
    for step in recording["steps"]:
        fields = STEP_FIELDS[step["type"]]
        for name, kind in fields.items():
            assert isinstance(step[name], kind), (step, name)
        if "selectors" in step:
            assert step["selectors"], step
            for selector in step["selectors"]:
                assert isinstance(selector, list) and selector
                assert all(isinstance(part, str) and part for part in selector)
        if "timeout" in step:
            assert 1 <= step["timeout"] <= 30000
        if "frame" in step:
            assert all(isinstance(index, int) for index in step["frame"])
        for event in step.get("assertedEvents", []):
            assert event["type"] == "navigation" and isinstance(event["url"], str)
        if step["type"] in ("click", "doubleClick") and "button" in step:
            assert step["button"] in ("primary", "auxiliary", "secondary", "back", "forward")


def round_trip(data: dict) -> dict:
    recording = json.loads(json.dumps(export_chrome_recording(data, portal=PORTAL)))
    check_schema(recording)
    return translate_chrome_recording(recording, portal=PORTAL)


@pytest.mark.parametrize("path", bundled_flows(), ids=lambda path: path.stem)
def test_every_bundled_flow_survives_the_round_trip_unchanged(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert ordered_flow(round_trip(data)) == ordered_flow(data)


@pytest.mark.parametrize(
    ("state", "fields"),
    [
        # Chrome's replay counts elements in the DOM, seen or not: both are "one is there".
        ("visible", {}),
        ("attached", {}),
        ("hidden", {"count": 0, "operator": "=="}),
        ("detached", {"count": 0, "operator": "=="}),
    ],
)
def test_a_wait_for_a_targets_state_is_what_chromes_replay_means(state, fields):
    flow = {
        "name": "waits",
        "steps": [{"goto": "/home"}, {"wait": {"target": {"testid": "x"}, "state": state}}],
    }
    steps = export_chrome_recording(flow, portal=PORTAL)["steps"]
    waits = [step for step in steps if step["type"] == "waitForElement"]
    assert waits == [{"type": "waitForElement", "selectors": [['[data-testid="x"]']], **fields}]
    assert round_trip(flow)["steps"] == flow["steps"]


def test_the_round_trip_of_a_simple_flow_is_exact_and_valid():
    back = round_trip(copy.deepcopy(SIMPLE))
    assert ordered_flow(back) == ordered_flow(SIMPLE)
    load_flow_data(back)


def test_chrome_sees_its_own_steps():
    steps = export_chrome_recording(copy.deepcopy(SIMPLE), portal=PORTAL)["steps"]
    meta = steps[0]
    assert meta["type"] == "customStep" and meta["name"] == "seller-agent/flow"
    assert meta["parameters"]["params"] == SIMPLE["params"]
    assert meta["parameters"]["session"] == "login"
    assert meta["parameters"]["outcomes"] == SIMPLE["outcomes"]
    chrome = steps[1:]
    assert chrome[0] == {"type": "navigate", "url": PORTAL + "/orders-v3/"}
    assert chrome[1] == {
        "type": "change",
        "selectors": [['[data-testid="search-type"]']],
        "value": "orderid",
    }
    assert chrome[2]["selectors"] == [["aria/Search orders"]]
    assert chrome[2]["value"] == "{{ order_id }}"
    # press Enter, then the wait for the next page is Enter's asserted navigation.
    assert chrome[3] == {"type": "keyDown", "key": "Enter"}
    assert chrome[4] == {
        "type": "keyUp",
        "key": "Enter",
        "assertedEvents": [{"type": "navigation", "url": PORTAL + "/orders-v3/search"}],
    }
    assert chrome[5]["type"] == "click"
    assert chrome[5]["selectors"] == [
        ['aria/Cancel order[role="button"]'],
        ['[data-testid="cancel-order"]'],
    ]
    assert [(s["type"], s["key"]) for s in chrome[6:10]] == [
        ("keyDown", "Shift"),
        ("keyDown", "A"),
        ("keyUp", "A"),
        ("keyUp", "Shift"),
    ]
    assert chrome[10] == {"type": "waitForElement", "selectors": [["text/Cancel order"]]}
    assert chrome[11]["type"] == "customStep" and chrome[11]["name"] == "seller-agent/step"
    assert chrome[12]["type"] == "doubleClick" and chrome[12]["button"] == "secondary"


def test_without_our_metadata_the_import_still_means_the_same():
    recording = export_chrome_recording(copy.deepcopy(SIMPLE), portal=PORTAL)
    recording["steps"] = recording["steps"][1:]  # a tool that drops custom steps
    recording["steps"] = [s for s in recording["steps"] if s["type"] != "customStep"]
    back = translate_chrome_recording(recording, portal=PORTAL)
    assert back["session"] == "login"  # portal pages need it
    assert back["params"] == {"order_id": {"type": "string", "required": True}}
    steps = back["steps"]
    assert steps[0] == {"goto": "/orders-v3/"}
    assert steps[2]["fill"]["value"] == "{{ order_id }}"
    assert steps[2]["fill"]["target"][0] == {"label": "Search orders", "exact": True}
    assert steps[3:5] == [{"press": "Enter"}, {"wait": {"url": "/orders-v3/search"}}]
    assert steps[5]["click"][0] == {"role": "button", "name": "Cancel order", "exact": True}
    assert steps[6] == {"press": "Shift+A"}
    assert steps[7] == {"wait": {"target": {"text": "Cancel order"}, "state": "visible"}}
    assert steps[8] == {"click": {"target": {"css": "#x"}, "count": 2, "button": "right"}}


def test_a_step_edited_in_chrome_is_imported_as_edited():
    recording = export_chrome_recording(copy.deepcopy(SIMPLE), portal=PORTAL)
    click = recording["steps"][6]
    assert click["type"] == "click"
    click["selectors"] = [["#cancel-button"]]
    back = translate_chrome_recording(recording, portal=PORTAL)
    assert back["steps"][5] == {"click": {"css": "#cancel-button"}}
    # Every other step is still exactly the original.
    assert back["steps"][:5] == SIMPLE["steps"][:5] and back["steps"][6:] == SIMPLE["steps"][6:]


def test_params_are_filled_in_on_request_but_never_secrets():
    data = copy.deepcopy(SIMPLE)
    data["steps"].append({"fill": {"target": {"css": "#pw"}, "value": "{{ password }}"}})
    recording = export_chrome_recording(
        data, portal=PORTAL, params={"order_id": "112-0000001-0000001", "password": "leak-me"}
    )
    text = json.dumps(recording)
    change = recording["steps"][3]
    assert change["value"] == "112-0000001-0000001"
    assert "leak-me" not in text and recording["steps"][-1]["value"] == "{{ password }}"


def test_targets_chrome_cannot_express_are_left_out_of_the_selectors():
    selectors, frame = target_selectors(
        [
            {"role": "button", "name": "/^(Submit|提交)$/"},
            {"testid": "cancel-submit", "nth": 0},
            {"label": "Memo"},
            {"text": "Memo", "exact": True},
            'css=form >> role=button[name="Go"]',
            "text=Go >> nth=1",
        ]
    )
    assert frame is None
    assert selectors == [["aria/Memo"], ["form", 'aria/Go[role="button"]']]
    selectors, frame = target_selectors([{"css": "#a", "frame": "iframe >> nth=2"}, {"css": "#b"}])
    assert (selectors, frame) == ([["#a"]], [2])


def test_export_command_writes_chrome_json(tmp_path):
    out = tmp_path / "cancel_order.json"
    result = CliRunner().invoke(
        cli, ["export", "cancel_order", "--to", "chrome-recorder", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    recording = json.loads(out.read_text(encoding="utf-8"))
    check_schema(recording)
    assert "Chrome will skip step(s)" in result.stderr
    back = tmp_path / "back.yaml"
    result = CliRunner().invoke(cli, ["import", str(out), "-o", str(back), "-q"])
    assert result.exit_code == 0, result.output
    original = yaml.safe_load((bundled_flows()[0].parent / "cancel_order.yaml").read_text())
    assert ordered_flow(yaml.safe_load(back.read_text(encoding="utf-8"))) == ordered_flow(original)


def test_export_command_refuses_a_bad_flow_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - clik: {testid: x}\n")
    out = tmp_path / "out.json"
    result = CliRunner().invoke(cli, ["export", str(bad), "-o", str(out)])
    assert result.exit_code == 2 and not out.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and ":3:" in lines[0]
    assert "clik" in lines[0]


MY_DOCS = ("docs/import.md", "docs/record.md")
HELP_BLOCK = re.compile(r"<!-- help: (?P<command>[a-z ]+) -->\n```\n(?P<text>.*?)```", re.DOTALL)


def help_text(command: str) -> str:
    return (
        CliRunner()
        .invoke(cli, [*command.split(), "--help"], prog_name="seller-agent", terminal_width=100)
        .output
    )


def with_current_help(text: str) -> str:
    return HELP_BLOCK.sub(
        lambda m: f"<!-- help: {m['command']} -->\n```\n{help_text(m['command'])}```", text
    )


def test_the_docs_end_with_the_current_help_of_record_import_and_export():
    root = Path(__file__).resolve().parent.parent
    commands = []
    for name in MY_DOCS:
        text = (root / name).read_text(encoding="utf-8")
        commands += [command for command, _ in HELP_BLOCK.findall(text)]
        assert text == with_current_help(text), f"{name}: --help changed; refresh its help blocks"
    assert commands == ["import", "export", "record"]


def test_defaults_fill_in_params_for_chrome_but_secret_params_never():
    data = copy.deepcopy(SIMPLE)
    data["params"]["reason"] = {"type": "string", "default": "NoInventory"}
    data["params"]["token"] = {"type": "string", "default": "s3cr3t-token", "secret": True}
    data["steps"] += [
        {"select": {"target": {"testid": "cancel-reason"}, "option": "{{ reason }}"}},
        {"fill": {"target": {"testid": "t"}, "value": "{{ token }}"}},
    ]
    recording = export_chrome_recording(data, portal=PORTAL)
    assert recording["steps"][-2]["value"] == "NoInventory"
    assert recording["steps"][-1]["value"] == "{{ token }}"
    assert "s3cr3t-token" not in json.dumps(recording["steps"][1:])
    assert ordered_flow(translate_chrome_recording(recording, portal=PORTAL)) == ordered_flow(data)


SCOPED = {
    "name": "scoped",
    "summary": "Cancel an order from inside its row.",
    "params": {"order_id": {"type": "string", "required": True}},
    "steps": [
        {"goto": "/orders-v3/"},
        {
            "within": {
                "target": [
                    {"role": "row", "name": "{{ order_id }}"},
                    {"css": 'tr[data-order-id="{{ order_id }}"], li.order'},
                ],
                "steps": [
                    {"extract": {"target": {"testid": "order-status"}, "as": "status"}},
                    {
                        "click": [
                            {"role": "button", "name": "/^Cancel/"},
                            {"testid": "cancel-order"},
                            {"css": "button.cancel"},
                            {"text": "Cancel order"},
                        ]
                    },
                ],
            }
        },
    ],
}


def test_a_scoped_step_is_one_descendant_css_selector_not_a_shadow_path():
    recording = export_chrome_recording(
        copy.deepcopy(SCOPED), portal=PORTAL, params={"order_id": "112-0000001-0000001"}
    )
    check_schema(recording)
    (click,) = [step for step in recording["steps"] if step["type"] == "click"]
    # One part per entry: Chrome reads several parts as a path through shadow roots.
    assert click["selectors"] == [
        [
            'tr[data-order-id="112-0000001-0000001"] [data-testid="cancel-order"], '
            'li.order [data-testid="cancel-order"]'
        ],
        ['tr[data-order-id="112-0000001-0000001"] button.cancel, li.order button.cancel'],
    ]
    back = translate_chrome_recording(
        export_chrome_recording(copy.deepcopy(SCOPED), portal=PORTAL), portal=PORTAL
    )
    assert ordered_flow(back) == ordered_flow(SCOPED)


@pytest.mark.parametrize(
    ("within", "words"),
    [
        (
            {"target": {"role": "row", "name": "x"}, "steps": [{"click": {"testid": "go"}}]},
            "step 2: Chrome cannot scope steps to this target (none of its candidates is plain "
            "CSS); give it a css or testid candidate",
        ),
        (
            {"target": {"css": "tr"}, "steps": [{"click": {"role": "button", "name": "Go"}}]},
            "step 2 (within), its step 1 (click): none of its target's candidates is plain CSS",
        ),
        (
            {"target": {"css": "tr"}, "steps": [{"click": {"css": "a"}, "when": {"url": "/x"}}]},
            "step 2 (within), its step 1 (click): Chrome cannot decide a conditional (when) step",
        ),
        (
            {"target": {"css": "tr"}, "steps": [{"click": {"css": "a", "nth": 1}}]},
            "step 2 (within), its step 1 (click): Chrome has no step that does this",
        ),
    ],
)
def test_a_scoped_action_chrome_cannot_do_in_its_scope_is_refused_by_name(within, words):
    data = {"name": "x", "steps": [{"goto": "/orders-v3/"}, {"within": within}]}
    with pytest.raises(ExportError) as refused:
        export_chrome_recording(data, portal=PORTAL)
    assert str(refused.value).startswith(words)


def test_the_replay_ends_waiting_for_a_success_outcome_which_import_drops():
    data = copy.deepcopy(SIMPLE)
    data["success"] = ["done"]
    recording = export_chrome_recording(data, portal=PORTAL)
    last = recording["steps"][-1]
    assert last["type"] == "waitForExpression"
    assert last["expression"].startswith('(["[data-testid=\\"cancel-reason\\"]"].some(')
    assert ordered_flow(translate_chrome_recording(recording, portal=PORTAL)) == ordered_flow(data)
    # An outcome Chrome cannot wait for (a URL) leaves the replay ending at the last step.
    data["outcomes"]["done"] = {"url": "/done"}
    assert export_chrome_recording(data, portal=PORTAL)["steps"][-1]["type"] != "waitForExpression"
    # A visible text is waited for as Playwright finds it: a /regex/ in an element's text.
    data["outcomes"]["done"] = {"any": [{"text": "/^Order 1 was canceled\\.$/"}, {"url": "/x"}]}
    expression = export_chrome_recording(data, portal=PORTAL)["steps"][-1]["expression"]
    assert 'new RegExp("^Order 1 was canceled\\\\.$", "")' in expression


def test_an_exact_count_is_exported_with_its_operator_and_comes_back_exact():
    flow = {
        "name": "counts",
        "steps": [{"goto": "/home"}, {"expect": {"target": {"testid": "x"}, "count": 3}}],
    }
    steps = export_chrome_recording(flow, portal=PORTAL)["steps"]
    waits = [step for step in steps if step["type"] == "waitForElement"]
    assert waits == [
        {
            "type": "waitForElement",
            "selectors": [['[data-testid="x"]']],
            "count": 3,
            "operator": "==",
        }
    ]


def test_a_portal_typed_without_its_scheme_is_http_and_other_schemes_are_refused(tmp_path):
    # Without a scheme the export's URLs stayed relative (Chrome cannot open them), the
    # import kept the portal's URLs absolute, and the sign-in ledger took it for another
    # portal than the same address with http://.
    exported = CliRunner().invoke(
        cli, ["export", "cancel_order", "--portal", "127.0.0.1:8731", "-q"]
    )
    assert exported.exit_code == 0, exported.output
    navigate = next(s for s in json.loads(exported.stdout)["steps"] if s["type"] == "navigate")
    assert navigate["url"].startswith("http://127.0.0.1:8731/orders-v3/")
    recording = tmp_path / "r.json"
    recording.write_text(
        json.dumps(
            {"title": "t", "steps": [{"type": "navigate", "url": "http://localhost:8731/home"}]}
        )
    )
    imported = CliRunner().invoke(
        cli, ["import", str(recording), "-q"], env={"SELLER_AGENT_PORTAL": "localhost:8731"}
    )
    assert imported.exit_code == 0, imported.output
    assert "- goto: /home" in imported.stdout
    for bad in ("ftp://example.com", "http://", "http://127.0.0.1:port"):
        refused = CliRunner().invoke(cli, ["export", "cancel_order", "--portal", bad])
        assert refused.exit_code == 2
        assert refused.output.strip().splitlines()[-1] == (
            "Error: Invalid value for '--portal': expected an http:// or https:// address such "
            f"as http://127.0.0.1:8600, got {bad!r}"
        )


def test_a_param_the_flow_does_not_have_is_refused_not_left_unfilled():
    result = CliRunner().invoke(
        cli, ["export", "cancel_order", "-p", "order_di=112-0000001-0000001", "-q"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: param order_di: flow 'cancel_order' has no such param (params: order_id, "
        "reason, memo) (did you mean 'order_id'?)"
    ]
    fine = CliRunner().invoke(
        cli, ["export", "cancel_order", "-p", "order_id=112-0000001-0000001", "-q"]
    )
    assert fine.exit_code == 0 and "112-0000001-0000001" in fine.stdout


def test_a_portal_address_with_a_password_is_refused_without_repeating_it():
    result = CliRunner().invoke(
        cli, ["export", "cancel_order", "--portal", "http://admin:hunter2@127.0.0.1:8731/x"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: Invalid value for '--portal': a password in the address would be written into "
        "journals, logs and reports; give the address without it (http://127.0.0.1:8731/x)"
    )
    assert "hunter2" not in result.output


def test_braces_written_as_text_in_a_flow_reach_chrome_as_braces():
    flow = {
        "name": "braces",
        "steps": [
            {"goto": "/orders-v3/"},
            {"fill": {"target": {"css": "#q"}, "value": "{{ '{{' }} 7 }} {{ \"{%\" }}"}},
        ],
    }
    steps = export_chrome_recording(copy.deepcopy(flow), portal=PORTAL)["steps"]
    change = next(step for step in steps if step["type"] == "change")
    assert change["value"] == "{{ 7 }} {%"
    assert round_trip(flow)["steps"] == flow["steps"]
