"""The step kinds of the flow language, each defined once: the keys of its mapping form (with
their JSON Schema), the key a bare value stands for, the keys it needs, how its arguments are
checked, and its fragment of the flow schema. The checker (check.py) and `flows schema`
(schema.py) are both derived from STEPS, so a kind cannot be known to one and not the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.flow.model import (
    IDENTIFIER,
    MOUSE_BUTTONS,
    SECRET_NAMES,
    WAIT_STATES,
    FlowError,
)
from agent.flow.model import suggest as _suggest
from agent.flow.templates import JINJA_NAMES, has_template
from agent.i18n import _

# -- pieces of JSON Schema the fragments share ------------------------------------------------
TEXT: dict[str, Any] = {"type": "string"}
# What StepInput.text accepts: YAML reads `press: 1` or `goto: 404` as a number.
TEXT_OR_NUMBER: dict[str, Any] = {"type": ["string", "number"]}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
REF_TARGET: dict[str, Any] = {"$ref": "#/$defs/target"}
REF_CONDITION: dict[str, Any] = {"$ref": "#/$defs/condition"}
REF_STEP: dict[str, Any] = {"$ref": "#/$defs/step"}
EXTRACT_OPTIONS: dict[str, Any] = {
    "attribute": TEXT,
    "all": BOOLEAN,
    "present": BOOLEAN,
    "unique": BOOLEAN,
}
CLICK_MODIFIERS = ("Alt", "Control", "ControlOrMeta", "Meta", "Shift")


def schema_object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def whole_number(minimum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum}


# -- what a kind's check is given ---------------------------------------------------------------
class Checker(Protocol):
    """The parts of the flow checker a step kind's check uses (check.py's _Checker)."""

    known: set[str]
    lists: set[str]
    outcome_names: list[str]

    def fail(self, field: str, message: str, data: Any = None, key: Any = None) -> FlowError: ...

    def check_templates(self, value: Any, field: str, data: Any, key: Any) -> None: ...

    def target(self, raw: Any, field: str, data: Any, key: Any) -> list[dict[str, Any]]: ...

    def condition(self, raw: Any, field: str, data: Any, key: Any) -> dict: ...

    def steps(self, raw: Any, field: str, data: Any, key: Any) -> list[Any]: ...

    def extract_options(self, options: Any, field: str, data: Any) -> dict[str, Any]: ...

    def sub_flow(self, args: dict[str, Any], where: str, data: Any) -> dict[str, Any]: ...


@dataclass
class StepInput:
    """One step's arguments on their way through its kind's check."""

    checker: Checker
    kind: str
    where: str  # the field path of the step's value, e.g. "steps[2].click"
    value: Any  # the value as written
    data: Any  # the mapping that holds the arguments (where their lines are)
    args: dict[str, Any] = field(default_factory=dict)  # the mapping form's arguments
    target: list[dict[str, Any]] | None = None  # the checked `target`, when there is one

    def field(self, name: str) -> str:
        return (
            f"{self.where}.{name}"
            if isinstance(self.data, dict) and name in self.data
            else self.where
        )

    def fail(self, name: str, message: str) -> FlowError:
        return self.checker.fail(self.field(name), message, self.data, name)

    def text(self, name: str) -> str:
        value = self.args[name]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(name, _("expected a text"))
        value = str(value)
        self.checker.check_templates(value, self.field(name), self.data, name)
        return value

    def number(self, name: str, minimum: int = 0) -> int:
        value = self.args[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(
                name, _("expected a whole number of at least {minimum}").format(minimum=minimum)
            )
        return value

    def flag(self, name: str) -> bool:
        if not isinstance(self.args[name], bool):
            raise self.fail(name, _("expected true or false"))
        return self.args[name]


@dataclass(frozen=True)
class StepKind:
    """One kind of step. `properties` are the keys of its mapping form, in the order errors
    list them, each with its JSON Schema; `bare` is the key a bare value stands for
    (`click: {testid: x}` is `click: {target: {testid: x}}`)."""

    name: str
    check: Callable[[StepInput], dict[str, Any]]
    properties: dict[str, Any] = field(default_factory=dict)
    bare: str | None = None
    required: tuple[str, ...] = ()
    # The value is not a mapping of the keys above but checked whole (a condition, names).
    whole_value: bool = False
    # The schema of the value, where the mapping form and the bare form do not say it all.
    fragment: Callable[[], dict[str, Any]] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.properties)

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the value under this kind's key."""
        if self.fragment is not None:
            return self.fragment()
        mapping = schema_object(self.properties, list(self.required))
        if self.bare is None:
            return mapping
        return {"anyOf": [self.properties[self.bare], mapping]}


# -- the checks, one per kind -------------------------------------------------------------------
def _no_more(step: StepInput) -> dict[str, Any]:
    return {}


def _goto(step: StepInput) -> dict[str, Any]:
    return {"url": step.text("url")}


def _click(step: StepInput) -> dict[str, Any]:
    args, result = step.args, {}
    if "button" in args:
        if args["button"] not in MOUSE_BUTTONS:
            raise step.fail(
                "button", _("expected one of {choices}").format(choices=", ".join(MOUSE_BUTTONS))
            )
        result["button"] = args["button"]
    if "count" in args:
        result["count"] = step.number("count", 1)
    if "modifiers" in args:
        mods = args["modifiers"]
        if not isinstance(mods, list) or any(m not in CLICK_MODIFIERS for m in mods):
            raise step.fail(
                "modifiers",
                _("expected a list of {choices}").format(choices=", ".join(CLICK_MODIFIERS)),
            )
        result["modifiers"] = mods
    if "force" in args:
        result["force"] = step.flag("force")
    return result


def _fill(step: StepInput) -> dict[str, Any]:
    result: dict[str, Any] = {"value": step.text("value")}
    if "delay" in step.args:
        result["delay"] = step.number("delay")
    return result


def _select(step: StepInput) -> dict[str, Any]:
    option = step.args["option"]
    options = option if isinstance(option, list) else [option]
    for index, item in enumerate(options):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise step.fail("option", _("expected a text or a list of texts"))
        step.checker.check_templates(
            str(item),
            f"{step.field('option')}[{index}]"
            if isinstance(option, list)
            else step.field("option"),
            step.data,
            "option",
        )
    return {"option": [str(item) for item in options] if isinstance(option, list) else str(option)}


def _press(step: StepInput) -> dict[str, Any]:
    return {"key": step.text("key")}


def _scroll(step: StepInput) -> dict[str, Any]:
    if step.target is not None:
        return {}
    if "x" not in step.args and "y" not in step.args:
        raise step.checker.fail(
            step.where, _("expected a target, or x and/or y offsets"), step.data
        )
    result = {}
    for axis in ("x", "y"):
        value = step.args.get(axis, 0)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise step.fail(axis, _("expected a number of pixels"))
        result[axis] = value
    return result


_SCROLL_OFFSETS = {"x": {"type": "number"}, "y": {"type": "number"}}


def _scroll_schema() -> dict[str, Any]:
    # A target (offsets beside it are ignored), or at least one offset.
    return {
        "anyOf": [
            REF_TARGET,
            schema_object({"target": REF_TARGET, **_SCROLL_OFFSETS}, ["target"]),
            {**schema_object(_SCROLL_OFFSETS, []), "minProperties": 1},
        ]
    }


def _wait(step: StepInput) -> dict[str, Any]:
    value, where, checker = step.value, step.where, step.checker
    if isinstance(value, dict) and "target" in value and "state" in value:
        extra = set(value) - {"target", "state"}
        if extra:
            bad = sorted(extra)[0]
            raise checker.fail(
                f"{where}.{bad}",
                _("unknown key '{key}' in a wait step").format(key=bad),
                value,
                bad,
            )
        if value["state"] not in WAIT_STATES:
            raise checker.fail(
                f"{where}.state",
                _("expected one of {choices}").format(choices=", ".join(WAIT_STATES)),
                value,
                "state",
            )
        return {
            "target": checker.target(value["target"], f"{where}.target", value, "target"),
            "state": value["state"],
        }
    if isinstance(value, dict) and set(value) == {"target"}:
        return {
            "target": checker.target(value["target"], f"{where}.target", value, "target"),
            "state": "visible",
        }
    return {"condition": checker.condition(value, where, step.data, "wait")}


def _wait_schema() -> dict[str, Any]:
    return {
        "anyOf": [
            schema_object({"target": REF_TARGET, "state": {"enum": list(WAIT_STATES)}}, ["target"]),
            REF_CONDITION,
        ]
    }


def _expect(step: StepInput) -> dict[str, Any]:
    return {"condition": step.checker.condition(step.value, step.where, step.data, "expect")}


def _extract(step: StepInput) -> dict[str, Any]:
    name = step.args["as"]
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise step.fail("as", _("a value name is letters, digits and _"))
    if name in SECRET_NAMES:
        raise step.fail("as", _("'{name}' is a secret's name").format(name=name))
    if name in JINJA_NAMES:
        raise step.fail("as", _("'{name}' is one of Jinja's own names").format(name=name))
    result = step.checker.extract_options(step.args, step.where, step.data)
    result["as"] = name
    # Later templates may name it (and take its items, when it is a list).
    step.checker.known.add(name)
    if result["all"]:
        step.checker.lists.add(name)
    else:
        step.checker.lists.discard(name)
    return result


def _screenshot(step: StepInput) -> dict[str, Any]:
    name = step.text("name")
    if not has_template(name) and not re.match(r"^[\w.-]+$", name):
        raise step.fail("name", _("a screenshot name is letters, digits, '.', '-' and '_'"))
    result: dict[str, Any] = {"name": name}
    if "full_page" in step.args:
        result["full_page"] = step.flag("full_page")
    return result


def _flow(step: StepInput) -> dict[str, Any]:
    return step.checker.sub_flow(step.args, step.where, step.data)


def _within(step: StepInput) -> dict[str, Any]:
    return {
        "steps": step.checker.steps(step.args["steps"], f"{step.where}.steps", step.data, "steps")
    }


def _outcome(step: StepInput) -> dict[str, Any]:
    value, checker = step.value, step.checker
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) for n in names):
        raise checker.fail(step.where, _("expected a list of outcome names"), step.data, "outcome")
    for index, name in enumerate(names):
        if name not in checker.outcome_names:
            raise checker.fail(
                step.where,
                _("unknown outcome '{outcome}'{hint}").format(
                    outcome=name, hint=_suggest(name, checker.outcome_names)
                ),
                value if isinstance(value, list) else step.data,
                index if isinstance(value, list) else "outcome",
            )
    return {"names": list(names)}


def _outcome_schema() -> dict[str, Any]:
    return {"anyOf": [TEXT, {"type": "array", "minItems": 1, "items": TEXT}]}


def _set_viewport(step: StepInput) -> dict[str, Any]:
    return {"width": step.number("width", 1), "height": step.number("height", 1)}


def _evaluate(step: StepInput) -> dict[str, Any]:
    return {"expression": step.text("expression")}


_TARGET_ONLY = {"target": REF_TARGET}

STEPS: tuple[StepKind, ...] = (
    StepKind("goto", _goto, {"url": TEXT_OR_NUMBER}, bare="url", required=("url",)),
    StepKind(
        "click",
        _click,
        {
            "target": REF_TARGET,
            "button": {"enum": list(MOUSE_BUTTONS)},
            "count": whole_number(1),
            "modifiers": {"type": "array", "items": TEXT},
            "force": BOOLEAN,
        },
        bare="target",
        required=("target",),
    ),
    StepKind(
        "fill",
        _fill,
        {"target": REF_TARGET, "value": TEXT_OR_NUMBER},
        required=("target", "value"),
    ),
    StepKind(
        "type",
        _fill,
        {"target": REF_TARGET, "value": TEXT_OR_NUMBER, "delay": whole_number(0)},
        required=("target", "value"),
    ),
    StepKind(
        "select",
        _select,
        {
            "target": REF_TARGET,
            "option": {"anyOf": [TEXT_OR_NUMBER, {"type": "array", "items": TEXT}]},
        },
        required=("target", "option"),
    ),
    StepKind("check", _no_more, _TARGET_ONLY, bare="target", required=("target",)),
    StepKind("uncheck", _no_more, _TARGET_ONLY, bare="target", required=("target",)),
    StepKind(
        "press",
        _press,
        {"target": REF_TARGET, "key": TEXT_OR_NUMBER},
        bare="key",
        required=("key",),
    ),
    StepKind("hover", _no_more, _TARGET_ONLY, bare="target", required=("target",)),
    StepKind(
        "scroll",
        _scroll,
        {"target": REF_TARGET, **_SCROLL_OFFSETS},
        bare="target",
        fragment=_scroll_schema,
    ),
    StepKind("wait", _wait, whole_value=True, fragment=_wait_schema),
    StepKind("expect", _expect, whole_value=True, fragment=lambda: dict(REF_CONDITION)),
    StepKind(
        "extract",
        _extract,
        {
            "target": REF_TARGET,
            "as": {"type": "string", "pattern": IDENTIFIER.pattern},
            **EXTRACT_OPTIONS,
        },
        required=("target", "as"),
    ),
    StepKind(
        "screenshot",
        _screenshot,
        {"name": TEXT_OR_NUMBER, "full_page": BOOLEAN},
        bare="name",
        required=("name",),
    ),
    StepKind(
        "flow",
        _flow,
        {"name": TEXT, "params": {"type": "object"}},
        bare="name",
        required=("name",),
    ),
    StepKind(
        "within",
        _within,
        {"target": REF_TARGET, "steps": {"type": "array", "minItems": 1, "items": REF_STEP}},
        required=("target", "steps"),
    ),
    StepKind("outcome", _outcome, whole_value=True, fragment=_outcome_schema),
    StepKind(
        "set_viewport",
        _set_viewport,
        {"width": whole_number(1), "height": whole_number(1)},
        required=("width", "height"),
    ),
    StepKind(
        "evaluate",
        _evaluate,
        {"expression": TEXT_OR_NUMBER},
        bare="expression",
        required=("expression",),
    ),
)
STEP_KINDS: tuple[str, ...] = tuple(kind.name for kind in STEPS)
BY_NAME: dict[str, StepKind] = {kind.name: kind for kind in STEPS}
