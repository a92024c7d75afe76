"""The JSON Schema of flow files, for editors to complete and check them."""

from __future__ import annotations

from typing import Any

from agent.flow import targets as locate
from agent.flow.model import (
    IDENTIFIER,
    MOUSE_BUTTONS,
    NAME_PATTERN,
    PARAM_TYPES,
    WAIT_STATES,
)


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
    condition = {
        "description": "text / url / title, a target spec (present and visible), target with count/value/text, any / all / not",
        "anyOf": [
            {
                "type": "object",
                "properties": {"url": text},
                "required": ["url"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"title": text},
                "required": ["title"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "target": ref_target,
                    "count": {"type": "integer", "minimum": 0},
                    "value": text,
                    "text": text,
                },
                "required": ["target"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "any": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}}
                },
                "required": ["any"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "all": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}}
                },
                "required": ["all"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"not": {"$ref": "#/$defs/condition"}},
                "required": ["not"],
                "additionalProperties": False,
            },
            {"$ref": "#/$defs/targetSpec"},
        ],
    }
    extract_opts = {
        "attribute": text,
        "all": {"type": "boolean"},
        "present": {"type": "boolean"},
        "unique": {"type": "boolean"},
    }

    def obj(props: dict, required: list[str]) -> dict:
        return {
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": False,
        }

    step_values: dict[str, Any] = {
        "goto": {"anyOf": [text, obj({"url": text}, ["url"])]},
        "click": {
            "anyOf": [
                ref_target,
                obj(
                    {
                        "target": ref_target,
                        "button": {"enum": list(MOUSE_BUTTONS)},
                        "count": {"type": "integer", "minimum": 1},
                        "modifiers": {"type": "array", "items": text},
                        "force": {"type": "boolean"},
                    },
                    ["target"],
                ),
            ]
        },
        "fill": obj(
            {"target": ref_target, "value": {"type": ["string", "number"]}}, ["target", "value"]
        ),
        "type": obj(
            {
                "target": ref_target,
                "value": {"type": ["string", "number"]},
                "delay": {"type": "integer", "minimum": 0},
            },
            ["target", "value"],
        ),
        "select": obj(
            {
                "target": ref_target,
                "option": {
                    "anyOf": [{"type": ["string", "number"]}, {"type": "array", "items": text}]
                },
            },
            ["target", "option"],
        ),
        "check": {"anyOf": [ref_target, obj({"target": ref_target}, ["target"])]},
        "uncheck": {"anyOf": [ref_target, obj({"target": ref_target}, ["target"])]},
        "press": {"anyOf": [text, obj({"target": ref_target, "key": text}, ["key"])]},
        "hover": {"anyOf": [ref_target, obj({"target": ref_target}, ["target"])]},
        "scroll": {
            "anyOf": [
                ref_target,
                obj({"target": ref_target}, ["target"]),
                obj({"x": {"type": "number"}, "y": {"type": "number"}}, []),
            ]
        },
        "wait": {
            "anyOf": [
                obj({"target": ref_target, "state": {"enum": list(WAIT_STATES)}}, ["target"]),
                {"$ref": "#/$defs/condition"},
            ]
        },
        "expect": {"$ref": "#/$defs/condition"},
        "extract": obj(
            {
                "target": ref_target,
                "as": {"type": "string", "pattern": IDENTIFIER.pattern},
                **extract_opts,
            },
            ["target", "as"],
        ),
        "screenshot": {
            "anyOf": [text, obj({"name": text, "full_page": {"type": "boolean"}}, ["name"])]
        },
        "flow": {"anyOf": [text, obj({"name": text, "params": {"type": "object"}}, ["name"])]},
        "within": obj(
            {
                "target": ref_target,
                "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
            },
            ["target", "steps"],
        ),
        "outcome": {"anyOf": [text, {"type": "array", "minItems": 1, "items": text}]},
        "set_viewport": obj(
            {
                "width": {"type": "integer", "minimum": 1},
                "height": {"type": "integer", "minimum": 1},
            },
            ["width", "height"],
        ),
        "evaluate": {"anyOf": [text, obj({"expression": text}, ["expression"])]},
    }
    common = {
        "name": text,
        "timeout": {"type": "integer", "minimum": 1},
        "optional": {"type": "boolean"},
        "when": {"$ref": "#/$defs/condition"},
    }
    step = {
        "description": "one action key plus optional name, timeout, optional, when",
        "oneOf": [obj({kind: schema, **common}, [kind]) for kind, schema in step_values.items()],
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
    outcome = {
        "allOf": [{"$ref": "#/$defs/condition"}],
        "properties": {
            "extract": {
                "type": "object",
                "additionalProperties": {
                    "anyOf": [
                        {"$ref": "#/$defs/targetSpec"},
                        obj({"target": ref_target, **extract_opts}, ["target"]),
                    ]
                },
            }
        },
    }
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
