import json
import textwrap
from pathlib import Path

import pytest

from agent.flow import (
    FlowError,
    bind_params,
    bundled_flows,
    flow_json_schema,
    flows_dir,
    load_flow,
    load_flow_data,
    render,
)
from agent.flow.steps import STEP_KINDS
from agent.flow.totp import totp


def write(tmp_path: Path, text: str, name: str = "f.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, name: str = "f.yaml") -> str:
    path = write(tmp_path, text, name)
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    return str(caught.value).replace(str(path), "F")


def test_bundled_flows_load_and_name_lookup_accepts_dash_or_underscore():
    names = sorted(p.stem for p in bundled_flows())
    assert {"login", "cancel_order", "collect_cancel_requests"} <= set(names)
    assert flows_dir().name == "flows"
    by_dash = load_flow("cancel-order")
    by_underscore = load_flow("cancel_order")
    assert by_dash.name == by_underscore.name == "cancel_order"
    assert by_dash.session_flow is not None and by_dash.session_flow.name == "login"
    assert by_dash.success == ["cancelled", "already_cancelled"]
    assert list(by_dash.outcomes) == [
        "cancelled",
        "already_cancelled",
        "not_cancellable",
        "not_found",
    ]
    assert list(by_dash.params) == ["order_id", "reason", "memo"]


def test_steps_keep_their_source_line():
    flow = load_flow("cancel_order")
    text = (flows_dir() / "cancel_order.yaml").read_text().splitlines()
    for step in flow.steps:
        assert step.kind in text[step.line - 1], (step.kind, step.line)


def test_cancel_order_guards_come_before_the_destructive_submit():
    flow = load_flow("cancel_order")
    kinds = [s.kind for s in flow.steps]
    submit = max(i for i, s in enumerate(flow.steps) if s.name == "submit the cancellation")
    guards = [i for i, k in enumerate(kinds) if k == "outcome"]
    assert guards and max(guards) < submit
    covered = {n for i in guards for n in flow.steps[i].args["names"]}
    assert covered == {"not_found", "already_cancelled", "not_cancellable"}


def test_unknown_step_kind_names_file_line_and_suggests(tmp_path):
    message = error_of(
        tmp_path,
        """\
        name: t
        steps:
          - goto: /home
          - clik: {testid: a}
        """,
    )
    assert message == "F:4: steps[1]: unknown step 'clik' (did you mean 'click'?)"


def test_unknown_key_in_step_and_in_target(tmp_path):
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - fill: {target: {testid: a}, value: x, colour: red}
            """,
        )
        == "F:3: steps[0].fill.colour: unknown key 'colour' in a fill step"
    )
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - click:
                  - {testid: a}
                  - {rol: button}
            """,
        )
        == "F:5: steps[0].click[1]: a target needs one of: role, label, text, placeholder, testid, alt, title, css, xpath"
    )


def test_unknown_common_key_on_a_step(tmp_path):
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - click: {testid: a}
                timeout: 100
                optionl: true
            """,
        )
        == "F:5: steps[0].optionl: unknown key 'optionl' in a step (did you mean 'optional'?)"
    )


def test_template_naming_an_undeclared_param(tmp_path):
    message = error_of(
        tmp_path,
        """\
        name: t
        params:
          order_id: {type: string, required: true}
        steps:
          - goto: /orders/{{ order }}
        """,
    )
    assert message == (
        "F:5: steps[0].goto: template names 'order', which is not a param, a secret or a "
        "value extracted earlier (did you mean 'order_id'?)"
    )


def test_extracted_values_are_usable_only_after_the_extract(tmp_path):
    message = error_of(
        tmp_path,
        """\
        name: t
        steps:
          - goto: '{{ link }}'
          - extract: {target: {css: a}, as: link, attribute: href}
        """,
    )
    assert message.startswith("F:3: steps[0].goto: template names 'link'")
    ok = write(
        tmp_path,
        """\
        name: t
        steps:
          - extract: {target: {css: a}, as: link, attribute: href}
          - goto: '{{ link }}'
          - fill: {target: {label: Code}, value: '{{ totp_secret | totp }} {{ email }}'}
        """,
        "ok.yaml",
    )
    assert load_flow(ok).steps[1].args["url"] == "{{ link }}"


def test_bad_template_syntax(tmp_path):
    message = error_of(
        tmp_path,
        """\
        name: t
        steps:
          - goto: '/x/{{ order_id'
        """,
    )
    assert message.startswith("F:3: steps[0].goto: bad template:")


def test_bad_patterns_in_params_targets_and_conditions(tmp_path):
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            params:
              id: {pattern: '[a-'}
            steps:
              - goto: /
            """,
        )
        == "F:3: params.id.pattern: not a valid regular expression (unterminated character set at position 0)"
    )
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - click: {role: button, name: '/(x/'}
            """,
        )
        == "F:3: steps[0].click.name: 'name' is not a valid regular expression (missing ), unterminated subpattern at position 0)"
    )
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - expect: {url: '/[/'}
            """,
        )
        == "F:3: steps[0].expect.url: not a valid regular expression (unterminated character set at position 0)"
    )


def test_missing_required_step_key_and_wrong_types(tmp_path):
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - fill: {target: {label: x}}
            """,
        )
        == "F:3: steps[0].fill: missing 'value'"
    )
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - click: {testid: a}
                timeout: soon
            """,
        )
        == "F:4: steps[0].timeout: expected milliseconds (a whole number above 0)"
    )
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            params:
              n: {type: int}
            steps:
              - goto: /
            """,
        )
        == "F:3: params.n.type: expected one of string, integer, number, boolean"
    )


def test_outcome_names_are_checked(tmp_path):
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - outcome: [done]
            outcomes:
              don: {url: /x}
            """,
        )
        == "F:3: steps[0].outcome: unknown outcome 'done' (did you mean 'don'?)"
    )
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - goto: /
            outcomes:
              done: {url: /x}
            success: [finished]
            """,
        )
        == "F:6: success: unknown outcome 'finished'"
    )


def test_a_given_condition_names_a_param_a_secret_or_an_earlier_extract(tmp_path):
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            params:
              memo: {type: string, default: ''}
            steps:
              - fill: {target: {testid: m}, value: '{{ memo }}'}
                when: {given: meme}
            """,
        )
        == "F:6: steps[0].when.given: 'given' names a param, a secret or a value extracted "
        "earlier (did you mean 'memo'?)"
    )
    path = tmp_path / "ok.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: t
            params:
              memo: {type: string, default: ''}
            steps:
              - extract: {target: {testid: n}, as: note}
                optional: true
              - fill: {target: {testid: m}, value: '{{ memo }}'}
                when: {any: [{given: memo}, {given: note}, {given: password}]}
            """
        )
    )
    step = load_flow(path).steps[1]
    assert step.when == {
        "kind": "any",
        "items": [
            {"kind": "given", "value": "memo"},
            {"kind": "given", "value": "note"},
            {"kind": "given", "value": "password"},
        ],
    }


def test_conditions_and_top_level_keys(tmp_path):
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            steps:
              - expect: {txt: Hello}
            """,
        )
        == "F:3: steps[0].expect.txt: unknown condition 'txt' (did you mean 'text'?)"
    )
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            step:
              - goto: /
            """,
        )
        == "F:2: unknown key 'step' (did you mean 'steps'?)"
    )
    assert error_of(tmp_path, "steps: []\n") == "F:1: missing 'name'"


def test_duplicate_keys_and_invalid_yaml(tmp_path):
    assert (
        error_of(
            tmp_path,
            """\
            name: t
            name: u
            steps: [{goto: /}]
            """,
        )
        == "F:2: duplicate key 'name'"
    )
    message = error_of(tmp_path, "name: t\nsteps: [goto: /\n")
    assert message.startswith("F:") and "not valid YAML" in message


def test_json_flows_and_json_errors(tmp_path):
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"name": "j", "steps": [{"goto": "/home"}]}))
    assert load_flow(path).steps[0].args == {"url": "/home"}
    path.write_text('{"name": "j",\n "steps": [}')
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert str(caught.value).startswith(f"{path}:2: not valid JSON:")


def test_unknown_flow_reference(tmp_path):
    with pytest.raises(FlowError) as caught:
        load_flow("no_such_flow")
    assert str(caught.value).startswith(
        "no_such_flow: no flow file or bundled flow named 'no_such_flow'"
    )
    assert "cancel_order" in str(caught.value)
    message = error_of(
        tmp_path,
        """\
        name: t
        session: nowhere
        steps: [{goto: /}]
        """,
    )
    assert message.startswith("F:2: session: no flow file or bundled flow named 'nowhere'")


def test_sub_flows_check_params_and_cycles(tmp_path):
    write(
        tmp_path,
        """\
        name: child
        params:
          q: {required: true}
        steps:
          - goto: /search?q={{ q }}
          - extract: {target: {testid: n}, as: count}
        """,
        "child.yaml",
    )
    parent = write(
        tmp_path,
        """\
        name: parent
        params:
          term: {default: shoes}
        steps:
          - flow: {name: child, params: {q: '{{ term }}'}}
          - goto: /x/{{ count }}
        """,
        "parent.yaml",
    )
    flow = load_flow(parent)
    assert flow.steps[0].args["flow"].name == "child"
    assert (
        error_of(
            tmp_path,
            """\
            name: p2
            steps:
              - flow: {name: child, params: {query: x}}
            """,
            "p2.yaml",
        )
        == "F:3: steps[0].flow.params.query: flow 'child' has no param 'query'"
    )
    loop = write(tmp_path, "name: loop\nsteps:\n  - flow: loop\n", "loop.yaml")
    with pytest.raises(FlowError) as caught:
        load_flow(loop)
    assert "includes itself" in str(caught.value)


def test_load_flow_data_uses_the_given_source():
    flow = load_flow_data({"name": "rec", "steps": [{"click": "#go"}]}, source="recording.json")
    assert flow.steps[0].args["target"] == [{"kind": "selector", "value": "#go"}]
    with pytest.raises(FlowError) as caught:
        load_flow_data({"name": "rec", "steps": [{"clic": "#go"}]}, source="recording.json")
    assert (
        str(caught.value) == "recording.json: steps[0]: unknown step 'clic' (did you mean 'click'?)"
    )


def test_bind_params_types_defaults_and_errors():
    flow = load_flow_data(
        {
            "name": "p",
            "params": {
                "order_id": {"required": True, "pattern": r"^\d{3}-\d{7}-\d{7}$"},
                "count": {"type": "integer", "default": 1},
                "ratio": {"type": "number"},
                "dry": {"type": "boolean", "default": False},
                "reason": {"choices": ["NoInventory", "BuyerCanceled"], "default": "BuyerCanceled"},
                "pin": {"secret": True},
            },
            "steps": [{"goto": "/"}],
        }
    )
    bound = bind_params(
        flow, {"order_id": "112-0000001-0000001", "count": "3", "dry": "yes", "ratio": "0.5"}
    )
    assert bound == {
        "order_id": "112-0000001-0000001",
        "count": 3,
        "ratio": 0.5,
        "dry": True,
        "reason": "BuyerCanceled",
        "pin": "",
    }
    cases = [
        ({}, "param order_id: required, not given"),
        ({"order_id": "1"}, r"param order_id: '1' does not match ^\d{3}-\d{7}-\d{7}$"),
        (
            {"order_id": "112-0000001-0000001", "count": "many"},
            "param count: expected an integer, got 'many'",
        ),
        (
            {"order_id": "112-0000001-0000001", "reason": "Whim"},
            "param reason: 'Whim' is not one of NoInventory, BuyerCanceled",
        ),
        (
            {"order_id": "112-0000001-0000001", "pin": 12, "dry": "perhaps"},
            "param dry: expected a boolean, got 'perhaps'",
        ),
        (
            {"orderid": "x"},
            "param orderid: flow 'p' has no such param (params: order_id, count, ratio, dry, reason, pin) (did you mean 'order_id'?)",
        ),
    ]
    for given, expected in cases:
        with pytest.raises(FlowError) as caught:
            bind_params(flow, given)
        assert str(caught.value) == expected


def test_secret_params_never_echo_their_value(monkeypatch):
    flow = load_flow_data(
        {
            "name": "s",
            "params": {"pin": {"secret": True, "pattern": "^[0-9]{4}$"}},
            "steps": [{"goto": "/"}],
        }
    )
    with pytest.raises(FlowError) as caught:
        bind_params(flow, {"pin": "hunter2"})
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    monkeypatch.setenv("SELLER_AGENT_PIN", "1234")
    assert bind_params(flow, {}) == {"pin": "1234"}


def test_render_is_sandboxed_and_strict():
    assert render("/o/{{ id }}", {"id": "1"}) == "/o/1"
    assert render({"a": ["{{ x }}", 2]}, {"x": "y"}) == {"a": ["y", 2]}
    assert render("{{ s | totp }}", {"s": "JBSWY3DPEHPK3PXP"}) in {
        totp("JBSWY3DPEHPK3PXP"),
        totp("JBSWY3DPEHPK3PXP", __import__("time").time() + 1),
    }
    from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError

    with pytest.raises(UndefinedError):
        render("{{ missing }}", {})
    with pytest.raises(SecurityError):
        render("{{ x.__class__.__mro__ }}", {"x": ""})
    # Anything but a text or a number is an error, never its Python repr.
    for value in (["a"], True, None, {"a": 1}):
        with pytest.raises(TemplateRuntimeError, match="not a text or a number"):
            render("/o/{{ x }}", {"x": value})


def test_json_schema_covers_every_step_kind_and_target_kind():
    schema = flow_json_schema()
    assert schema["required"] == ["name", "steps"]
    step_kinds = {next(iter(alt["required"])) for alt in schema["$defs"]["step"]["oneOf"]}
    assert step_kinds == set(STEP_KINDS)
    spec = schema["$defs"]["targetSpec"]["properties"]
    assert {
        "role",
        "label",
        "text",
        "placeholder",
        "testid",
        "css",
        "xpath",
        "nth",
        "frame",
    } <= set(spec)
    json.dumps(schema)


def test_the_example_in_the_flow_docs_is_a_valid_flow():
    text = (Path(__file__).resolve().parent.parent / "docs" / "flows.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    flow = load_flow_data(__import__("yaml").safe_load(example), source="docs/flows.md")
    assert flow.name == "cancel-order" and flow.session_flow.name == "login"
