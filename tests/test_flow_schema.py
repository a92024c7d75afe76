"""The step kinds are defined once (agent/flow/steps.py); the checker and `flows schema` are
both derived from them, so what the checker accepts the schema accepts too."""

import itertools
import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from agent.flow import FlowError, bundled_flows, flow_json_schema, load_flow, load_flow_data
from agent.flow.model import TOP_KEYS
from agent.flow.steps import STEP_KINDS, STEPS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = flow_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def plain(data):
    """Flow data as JSON sees it (the line-aware loader's dicts and lists made plain)."""
    return json.loads(json.dumps(data))


def fixture_flows() -> list[Path]:
    """Files under fixtures/ that are flows: a mapping of flow keys with steps (recordings of
    other tools have keys of their own, such as Chrome's `title`)."""
    found = []
    for path in sorted((ROOT / "fixtures").rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "steps" in data and set(data) <= set(TOP_KEYS):
            found.append(path)
    return found


def docs_example() -> dict:
    text = (ROOT / "docs" / "flows.md").read_text()
    return yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])


FLOW_FILES = bundled_flows() + fixture_flows()


def test_there_are_flows_to_validate():
    assert {p.stem for p in bundled_flows()} >= {"login", "cancel_order", "account_health"}


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_and_fixture_flow_is_valid_by_the_schema(validator, path):
    load_flow(path)  # the checker accepts it
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


def test_the_docs_example_is_valid_by_the_schema(validator):
    example = docs_example()
    load_flow_data(example, "docs/flows.md")
    assert list(validator.iter_errors(example)) == []


BAD_FLOWS = {
    "unknown step": {"name": "x", "steps": [{"clik": {"testid": "a"}}]},
    "two actions": {"name": "x", "steps": [{"click": {"testid": "a"}, "hover": {"testid": "a"}}]},
    "unknown key in a step": {"name": "x", "steps": [{"click": {"testid": "a"}, "colour": 1}]},
    "unknown key in a mapping form": {
        "name": "x",
        "steps": [{"fill": {"target": {"testid": "a"}, "value": "v", "delay": 1}}],
    },
    "missing required key": {"name": "x", "steps": [{"fill": {"target": {"testid": "a"}}}]},
    "bad mouse button": {
        "name": "x",
        "steps": [{"click": {"target": {"testid": "a"}, "button": "top"}}],
    },
    "bad wait state": {
        "name": "x",
        "steps": [{"wait": {"target": {"testid": "a"}, "state": "gone"}}],
    },
    "empty outcome list": {"name": "x", "steps": [{"outcome": []}]},
    "zero viewport": {"name": "x", "steps": [{"set_viewport": {"width": 0, "height": 10}}]},
    "scroll to nowhere": {"name": "x", "steps": [{"scroll": {}}]},
    "outcome extracting with a step-only option": {
        "name": "x",
        "steps": [{"goto": "/"}],
        "outcomes": {"done": {"testid": "a", "extract": {"v": {"testid": "b", "unique": True}}}},
    },
    "unknown target kind": {"name": "x", "steps": [{"click": {"colour": "red"}}]},
    "empty steps": {"name": "x", "steps": []},
    "no name": {"steps": [{"goto": "/"}]},
    "bad name": {"name": "Not A Name", "steps": [{"goto": "/"}]},
    "unknown top-level key": {"name": "x", "steps": [{"goto": "/"}], "stepz": []},
}


@pytest.mark.parametrize("name", BAD_FLOWS)
def test_the_schema_and_the_checker_both_reject_bad_flows(validator, name):
    data = BAD_FLOWS[name]
    assert list(validator.iter_errors(data)) != []
    with pytest.raises(FlowError):
        load_flow_data(data, "F")


# Values for every step kind: what the checker accepts among them, the schema must accept.
TARGET = {"testid": "a"}
VALUES = [
    None,
    1,
    "x",
    "/x/{{ q }}",
    [],
    ["done"],
    {},
    TARGET,
    [TARGET, "css=b"],
    {"target": TARGET},
    {"target": TARGET, "value": "v"},
    {"target": TARGET, "value": 3},
    {"target": TARGET, "button": "right", "count": 2, "modifiers": ["Shift"], "force": True},
    {"target": TARGET, "value": "v", "delay": 5},
    {"target": TARGET, "option": ["a", "b"]},
    {"target": TARGET, "option": 2},
    {"key": "Enter"},
    {"target": TARGET, "key": "Enter"},
    {"x": 0, "y": 600},
    {"target": TARGET, "state": "hidden"},
    {"text": "hi"},
    {"url": "/x"},
    {"any": [{"text": "a"}, {"not": {"url": "/b"}}]},
    {"target": TARGET, "count": 2},
    {"target": TARGET, "as": "v"},
    {"target": TARGET, "as": "v", "all": True, "attribute": "href", "unique": True},
    {"target": TARGET, "as": "v", "present": True},
    {"name": "shot"},
    {"name": "shot", "full_page": True},
    {"name": "login"},
    {"target": TARGET, "steps": [{"click": TARGET}]},
    {"width": 10, "height": 10},
    {"expression": "1+1"},
    {"role": "button", "name": "Go", "nth": -1},
]


def test_what_the_checker_accepts_the_schema_accepts(validator):
    accepted = {kind: 0 for kind in STEP_KINDS}
    for kind, value in itertools.product(STEP_KINDS, VALUES):
        data = {
            "name": "t",
            "params": {"q": {}},
            "steps": [{kind: value, "name": "n", "timeout": 500, "optional": True}],
            "outcomes": {"done": {"text": "ok"}},
        }
        try:
            load_flow_data(data, "F")
        except FlowError:
            continue
        accepted[kind] += 1
        errors = [e.message for e in validator.iter_errors(plain(data))]
        assert errors == [], (kind, value)
    # Every kind had something to accept, so the check above covered all of them.
    assert [kind for kind, count in accepted.items() if not count] == []


CONDITIONS = [
    {"text": "Done"},
    {"url": "/orders"},
    {"url": "/^\\/x$/"},
    {"title": "Orders"},
    {"testid": "a"},
    {"role": "button", "name": "/go/i", "exact": True, "nth": 0, "has_text": "x", "frame": "f"},
    {"target": [TARGET, "css=b"], "count": 0},
    {"target": TARGET, "value": 3},
    {"target": TARGET, "text": "t"},
    {"any": [{"text": "a"}, {"testid": "b"}]},
    {"all": [{"not": {"url": "/x"}}, {"target": TARGET, "count": 1}]},
    {"not": {"title": "x"}},
]
EXTRACTS = [
    {"v": {"testid": "b"}},
    {"v": {"testid": "b", "attribute": "data-x"}, "w": {"css": "li", "all": True}},
    {"v": {"target": [TARGET, "css=b"], "present": True}},
]


def test_conditions_and_outcomes_the_checker_accepts_the_schema_accepts(validator):
    for condition in CONDITIONS:
        for outcome in [condition, *({**condition, "extract": e} for e in EXTRACTS)]:
            data = {
                "name": "t",
                "login_page": condition,
                "steps": [{"expect": condition, "when": condition}, {"wait": condition}],
                "outcomes": {"done": outcome},
            }
            load_flow_data(data, "F")
            errors = [e.message for e in validator.iter_errors(plain(data))]
            assert errors == [], outcome


def test_each_kinds_schema_has_the_keys_the_checker_knows(validator):
    alternatives = flow_json_schema()["$defs"]["step"]["oneOf"]
    assert [next(iter(alt["required"])) for alt in alternatives] == list(STEP_KINDS)
    for kind, alternative in zip(STEPS, alternatives, strict=True):
        fragment = alternative["properties"][kind.name]
        forms = fragment.get("anyOf", [fragment])
        mapping_keys = set().union(
            *(form.get("properties", {}) for form in forms if form.get("type") == "object")
        )
        if not kind.whole_value:
            assert mapping_keys == set(kind.keys), kind.name
        for required in kind.required:
            assert any(required in form.get("required", []) for form in forms), kind.name


def test_the_step_table_in_the_docs_lists_every_kind():
    text = (ROOT / "docs" / "flows.md").read_text()
    table = text.split("| step | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = [
        name
        for row in table.splitlines()[2:]
        for name in re.findall(r"`(\w+):", row.split(" | ", 1)[0])
    ]
    assert sorted(set(documented)) == sorted(STEP_KINDS)
