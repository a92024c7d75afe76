"""The JSON Schema of flow files, for editors to complete and check them."""

from __future__ import annotations

from typing import Any

from agent.flow import targets as locate
from agent.flow.model import IDENTIFIER, NAME_PATTERN, PARAM_TYPES
from agent.flow.steps import EXTRACT_OPTIONS, STEPS, TEXT_OR_NUMBER
from agent.flow.steps import schema_object as obj


def flow_json_schema() -> dict:
    """A JSON Schema (draft 2020-12) of flow files, for editors to complete and check them."""
    text = {"type": "string"}
    target_spec: dict[str, Any] = {
        "type": "object",
        "properties": {
            **{kind: {**text, "description": f"find by {kind}"} for kind in locate.SPEC_KINDS},
            "name": {**text, "description": "accessible name (with role); /regex/flags allowed"},
            "exact": {"type": "boolean"},
            "nth": {"type": "integer", "description": "0-based; -1 is the last"},
            "has_text": text,
            "frame": {**text, "description": "CSS selector of the iframe the target is in"},
        },
        "additionalProperties": False,
        "anyOf": [{"required": [kind]} for kind in locate.SPEC_KINDS],
    }
    target = {
        "description": "a locator spec, a Playwright selector, or a list of fallbacks tried in order",
        "anyOf": [
            {"$ref": "#/$defs/targetSpec"},
            {"type": "string"},
            {
                "type": "array",
                "minItems": 1,
                "items": {"anyOf": [{"$ref": "#/$defs/targetSpec"}, {"type": "string"}]},
            },
        ],
    }
    ref_target = {"$ref": "#/$defs/target"}

    def condition_forms(extra: dict[str, Any]) -> list[dict[str, Any]]:
        """The forms of a condition, each also allowing the keys in `extra`."""
        spec: dict[str, Any] = {"$ref": "#/$defs/targetSpec"}
        if extra:
            spec = {**target_spec, "properties": {**target_spec["properties"], **extra}}
        conditions = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}}
        return [
            obj({"url": text, **extra}, ["url"]),
            obj({"title": text, **extra}, ["title"]),
            obj({"given": {"type": "string", "minLength": 1}, **extra}, ["given"]),
            obj(
                {
                    "target": ref_target,
                    "count": {"type": "integer", "minimum": 0},
                    "value": TEXT_OR_NUMBER,
                    "text": TEXT_OR_NUMBER,
                    **extra,
                },
                ["target"],
            ),
            obj({"any": conditions, **extra}, ["any"]),
            obj({"all": conditions, **extra}, ["all"]),
            obj({"not": {"$ref": "#/$defs/condition"}, **extra}, ["not"]),
            spec,
        ]

    condition = {
        "description": "text / url / title, given (a param or extracted value that is not empty), a target spec (present and visible), target with count/value/text, any / all / not",
        "anyOf": condition_forms({}),
    }
    # What an outcome may extract when it holds: a target spec with the options beside its
    # keys, or {target: T, ...options}. (`unique` belongs to extract steps only.)
    outcome_options = {k: v for k, v in EXTRACT_OPTIONS.items() if k != "unique"}
    outcome_extract = {
        "type": "object",
        "propertyNames": {"pattern": IDENTIFIER.pattern},
        "additionalProperties": {
            "anyOf": [
                {**target_spec, "properties": {**target_spec["properties"], **outcome_options}},
                obj({"target": ref_target, **outcome_options}, ["target"]),
            ]
        },
    }
    outcome = {
        "description": "a condition that may also extract values when it holds",
        "anyOf": condition_forms({"extract": outcome_extract}),
    }
    common = {
        "name": text,
        "timeout": {"type": "integer", "minimum": 1},
        "optional": {"type": "boolean"},
        "when": {"$ref": "#/$defs/condition"},
    }
    step = {
        "description": "one action key plus optional name, timeout, optional, when",
        "oneOf": [obj({kind.name: kind.schema(), **common}, [kind.name]) for kind in STEPS],
    }
    param = obj(
        {
            "type": {"enum": list(PARAM_TYPES)},
            "required": {"type": "boolean"},
            "default": {},
            "pattern": text,
            "choices": {"type": "array", "minItems": 1},
            "secret": {"type": "boolean"},
            "description": text,
        },
        [],
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://seller-agent.example/flow.schema.json",
        "title": "seller-agent flow",
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN.pattern},
            "summary": text,
            "params": {
                "type": "object",
                "additionalProperties": {"anyOf": [param, {"type": "null"}]},
            },
            "session": text,
            "login_page": {"$ref": "#/$defs/condition"},
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
            "outcomes": {"type": "object", "additionalProperties": {"$ref": "#/$defs/outcome"}},
            "success": {"type": "array", "items": text},
            "timeout": {"type": "integer", "minimum": 1},
        },
        "required": ["name", "steps"],
        "additionalProperties": False,
        "$defs": {
            "targetSpec": target_spec,
            "target": target,
            "condition": condition,
            "step": step,
            "param": param,
            "outcome": outcome,
        },
    }
