"""Flow files: load YAML or JSON, validate everything before a browser starts, render templates.

Pure logic: no Playwright here. Every error is a FlowError whose str() is one line,
"path:line: field: message", so a user can jump straight to the fault.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict

from agent import locate, totp

DEFAULT_TIMEOUT_MS = 15000
SECRET_NAMES = ("email", "password", "totp_secret")
TEMPLATE_FUNCTIONS = ("totp",)
NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PARAM_TYPES = ("string", "integer", "number", "boolean")
PARAM_KEYS = ("type", "required", "default", "pattern", "choices", "secret", "description")
TOP_KEYS = (
    "name",
    "summary",
    "params",
    "session",
    "login_page",
    "steps",
    "outcomes",
    "success",
    "timeout",
)
COMMON_STEP_KEYS = ("name", "timeout", "optional", "when")
# For each step kind: the keys its mapping form accepts, and the key a bare value stands for.
STEP_FORMS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "goto": (("url",), "url"),
    "click": (("target", "button", "count", "modifiers", "force"), "target"),
    "fill": (("target", "value"), None),
    "type": (("target", "value", "delay"), None),
    "select": (("target", "option"), None),
    "check": (("target",), "target"),
    "uncheck": (("target",), "target"),
    "press": (("target", "key"), "key"),
    "hover": (("target",), "target"),
    "scroll": (("target", "x", "y"), "target"),
    "wait": ((), None),
    "expect": ((), None),
    "extract": (("target", "as", "attribute", "all", "present", "unique"), None),
    "screenshot": (("name", "full_page"), "name"),
    "flow": (("name", "params"), "name"),
    "within": (("target", "steps"), None),
    "outcome": ((), None),
    "set_viewport": (("width", "height"), None),
    "evaluate": (("expression",), "expression"),
}
STEP_KINDS = tuple(STEP_FORMS)
REQUIRED_STEP_KEYS = {
    "goto": ("url",),
    "click": ("target",),
    "fill": ("target", "value"),
    "type": ("target", "value"),
    "select": ("target", "option"),
    "check": ("target",),
    "uncheck": ("target",),
    "press": ("key",),
    "hover": ("target",),
    "extract": ("target", "as"),
    "screenshot": ("name",),
    "flow": ("name",),
    "within": ("target", "steps"),
    "set_viewport": ("width", "height"),
    "evaluate": ("expression",),
}
WAIT_STATES = ("visible", "hidden", "attached", "detached")
MOUSE_BUTTONS = ("left", "right", "middle")
CONDITION_KEYS = ("text", "url", "title", "target", "count", "value", "any", "all", "not")


class FlowError(Exception):
    """A flow file or its params are wrong. str() is "source:line: message" (line when known)."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line

    def __str__(self) -> str:
        if self.source and self.line:
            return f"{self.source}:{self.line}: {self.message}"
        if self.source:
            return f"{self.source}: {self.message}"
        return self.message


class Param(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = "string"
    required: bool = False
    default: Any = None
    pattern: str | None = None
    choices: list[Any] | None = None
    secret: bool = False
    description: str | None = None


class Step(BaseModel):
    """One step: its kind, its normalised arguments, and where it was written."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: str
    args: dict[str, Any]
    name: str | None = None
    timeout: int | None = None
    optional: bool = False
    when: dict[str, Any] | None = None
    line: int | None = None
    path: str = ""

    def label(self) -> str:
        """How errors and reports name the step: its name, else kind and line."""
        where = f"line {self.line}" if self.line else self.path
        return f"{self.name or self.kind} ({where})"


class Flow(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    summary: str = ""
    params: dict[str, Param] = {}
    session: str | None = None
    session_flow: Flow | None = None
    login_page: dict[str, Any] | None = None
    steps: list[Step]
    outcomes: dict[str, dict[str, Any]] = {}
    success: list[str] = []
    timeout: int = DEFAULT_TIMEOUT_MS
    source: Path | None = None

    def sign_in_page(self) -> dict[str, Any]:
        """The condition that recognises the sign-in page (see docs/flows.md, `login_page`)."""
        if self.login_page:
            return self.login_page
        if self.session_flow is not None:
            return self.session_flow.sign_in_page()
        return {"kind": "url", "value": "/ap/signin"}


# ---------------------------------------------------------------------------------------------
# Reading files with line numbers


class _LineDict(dict):
    line: int | None = None
    key_lines: dict[Any, int]


class _LineList(list):
    line: int | None = None
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise FlowError(f"duplicate key '{key}'", None, key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _line_of(data: Any, key: Any = None) -> int | None:
    if key is not None:
        if isinstance(data, _LineDict) and key in data.key_lines:
            return data.key_lines[key]
        if isinstance(data, _LineList) and isinstance(key, int) and key < len(data.item_lines):
            return data.item_lines[key]
    return getattr(data, "line", None)


def parse_text(text: str, source: str) -> Any:
    """The data of a YAML or JSON document (JSON is YAML, but its errors are reported as JSON's)."""
    if source.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise FlowError(f"not valid JSON: {error.msg}", source, error.lineno) from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except FlowError as error:
        raise FlowError(error.message, source, error.line) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise FlowError(
            f"not valid YAML: {problem}", source, mark.line + 1 if mark else None
        ) from None


# ---------------------------------------------------------------------------------------------
# Templates


@lru_cache(maxsize=1)
def template_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.globals["totp"] = totp.totp
    return env


def has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


@lru_cache(maxsize=2048)
def _compiled(text: str) -> Any:
    return template_env().from_string(text)


def template_names(text: str) -> set[str]:
    """The variable names a template uses; raises TemplateSyntaxError for a bad template."""
    return meta.find_undeclared_variables(template_env().parse(text))


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """value with every template string rendered (recursing into lists and dicts)."""
    if isinstance(value, str):
        return _compiled(value).render(context) if has_template(value) else value
    if isinstance(value, list):
        return [render(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# Validation


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Checker:
    """Walks a flow's raw data, builds the models, and stops at the first fault with its line."""

    def __init__(self, source: str, base_dir: Path | None, stack: tuple[str, ...]):
        self.source = source
        self.base_dir = base_dir
        self.stack = stack
        self.known: set[str] = set()
        self.outcome_names: list[str] = []

    def fail(self, field: str, message: str, data: Any = None, key: Any = None) -> FlowError:
        line = _line_of(data, key) if data is not None else None
        return FlowError(f"{field}: {message}" if field else message, self.source, line)

    # -- templates -----------------------------------------------------------------------
    def check_templates(self, value: Any, field: str, data: Any, key: Any) -> None:
        if isinstance(value, str):
            if not has_template(value):
                return
            try:
                names = template_names(value)
            except TemplateSyntaxError as error:
                raise self.fail(field, f"bad template: {error.message}", data, key) from None
            unknown = sorted(names - self.known - set(TEMPLATE_FUNCTIONS))
            if unknown:
                raise self.fail(
                    field,
                    f"template names '{unknown[0]}', which is not a param, a secret or "
                    f"a value extracted earlier{_suggest(unknown[0], sorted(self.known))}",
                    data,
                    key,
                )
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.check_templates(item, f"{field}[{index}]", value, index)
        elif isinstance(value, dict):
            for item_key, item in value.items():
                self.check_templates(item, f"{field}.{item_key}", value, item_key)

    # -- pieces --------------------------------------------------------------------------
    def target(self, raw: Any, field: str, data: Any, key: Any) -> list[dict[str, Any]]:
        try:
            specs = locate.parse_target(raw)
        except locate.TargetError as error:
            where = field + (
                error.field if error.field.startswith("[") else f".{error.field}"
            ) * bool(error.field)
            line_data, line_key = data, key
            if isinstance(raw, list) and error.field.startswith("["):
                index = int(error.field[1 : error.field.index("]")])
                line_data, line_key = raw, index
                rest = error.field[error.field.index("]") + 2 :]
                if isinstance(raw[index], dict) and rest in raw[index]:
                    line_data, line_key = raw[index], rest
            elif isinstance(raw, dict) and error.field in raw:
                line_data, line_key = raw, error.field
            raise self.fail(where, str(error), line_data, line_key) from None
        self.check_templates(raw, field, data, key)
        return specs

    def pattern_text(self, text: Any, field: str, data: Any, key: Any) -> str:
        if not isinstance(text, str):
            raise self.fail(field, "expected a text", data, key)
        if not has_template(text):
            try:
                locate.as_regex(text)
            except re.error as error:
                raise self.fail(
                    field, f"not a valid regular expression ({error})", data, key
                ) from None
        self.check_templates(text, field, data, key)
        return text

    def condition(self, raw: Any, field: str, data: Any, key: Any, extract: bool = False) -> dict:
        if not isinstance(raw, dict) or not raw:
            raise self.fail(
                field, "a condition is a mapping such as {testid: x} or {url: /home}", data, key
            )
        raw_keys = set(raw)
        if extract:
            raw_keys.discard("extract")
        result: dict[str, Any]
        if "any" in raw or "all" in raw:
            kind = "any" if "any" in raw else "all"
            extra = raw_keys - {kind}
            if extra:
                bad = sorted(extra)[0]
                raise self.fail(f"{field}.{bad}", f"unknown key '{bad}' next to '{kind}'", raw, bad)
            items = raw[kind]
            if not isinstance(items, list) or not items:
                raise self.fail(
                    f"{field}.{kind}", "expected a non-empty list of conditions", raw, kind
                )
            result = {
                "kind": kind,
                "items": [
                    self.condition(item, f"{field}.{kind}[{i}]", items, i)
                    for i, item in enumerate(items)
                ],
            }
        elif "not" in raw:
            extra = raw_keys - {"not"}
            if extra:
                bad = sorted(extra)[0]
                raise self.fail(f"{field}.{bad}", f"unknown key '{bad}' next to 'not'", raw, bad)
            result = {"kind": "not", "item": self.condition(raw["not"], f"{field}.not", raw, "not")}
        elif raw_keys == {"url"} or raw_keys == {"title"}:
            kind = next(iter(raw_keys))
            result = {
                "kind": kind,
                "value": self.pattern_text(raw[kind], f"{field}.{kind}", raw, kind),
            }
        elif "target" in raw:
            checks = raw_keys - {"target"}
            unknown = checks - {"count", "value", "text"}
            if unknown:
                bad = sorted(unknown)[0]
                raise self.fail(
                    f"{field}.{bad}",
                    f"unknown key '{bad}' in a condition (count, value or text go with target)",
                    raw,
                    bad,
                )
            if len(checks) > 1:
                raise self.fail(field, "use one of count, value or text with a target", raw)
            result = {
                "kind": "target",
                "target": self.target(raw["target"], f"{field}.target", raw, "target"),
            }
            if "count" in raw:
                if (
                    not isinstance(raw["count"], int)
                    or isinstance(raw["count"], bool)
                    or raw["count"] < 0
                ):
                    raise self.fail(f"{field}.count", "expected a whole number", raw, "count")
                result["count"] = raw["count"]
            for check in ("value", "text"):
                if check in raw:
                    result[check] = self.pattern_text(
                        str(raw[check]) if isinstance(raw[check], int | float) else raw[check],
                        f"{field}.{check}",
                        raw,
                        check,
                    )
        elif locate.is_spec(raw):
            spec_raw = {k: v for k, v in raw.items() if k != "extract"}
            result = {"kind": "target", "target": self.target(spec_raw, field, data, key)}
        else:
            bad = sorted(raw_keys)[0] if raw_keys else "?"
            raise self.fail(
                f"{field}.{bad}",
                f"unknown condition '{bad}'{_suggest(bad, CONDITION_KEYS + locate.SPEC_KINDS)}",
                raw,
                bad,
            )
        if extract and "extract" in raw:
            result["extract"] = self.outcome_extracts(raw["extract"], f"{field}.extract", raw)
        return result

    def outcome_extracts(self, raw: Any, field: str, data: Any) -> dict[str, dict]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail(field, "expected a mapping of name -> target", data, "extract")
        result = {}
        for name, spec in raw.items():
            where = f"{field}.{name}"
            if not isinstance(name, str) or not IDENTIFIER.match(name):
                raise self.fail(where, "a value name is letters, digits and _", raw, name)
            if not isinstance(spec, dict):
                raise self.fail(
                    where, "expected a target with optional attribute/all/present", raw, name
                )
            options = {k: spec[k] for k in ("attribute", "all", "present") if k in spec}
            target_raw = spec.get("target", {k: v for k, v in spec.items() if k not in options})
            if "target" in spec and set(spec) - {"target", *options}:
                bad = sorted(set(spec) - {"target", *options})[0]
                raise self.fail(f"{where}.{bad}", f"unknown key '{bad}'", spec, bad)
            result[name] = self.extract_options(options, where, spec)
            result[name]["target"] = self.target(target_raw, where, raw, name)
        return result

    def extract_options(self, options: Mapping[str, Any], field: str, data: Any) -> dict[str, Any]:
        result: dict[str, Any] = {
            "attribute": options.get("attribute"),
            "all": options.get("all", False),
            "present": options.get("present", False),
            "unique": options.get("unique", False),
        }
        for flag in ("all", "present", "unique"):
            if not isinstance(result[flag], bool):
                raise self.fail(f"{field}.{flag}", "expected true or false", data, flag)
        if result["attribute"] is not None and not isinstance(result["attribute"], str):
            raise self.fail(f"{field}.attribute", "expected an attribute name", data, "attribute")
        if result["present"] and (result["all"] or result["attribute"]):
            raise self.fail(
                f"{field}.present",
                "'present' gives true/false; it takes no attribute or all",
                data,
                "present",
            )
        return result

    # -- steps ---------------------------------------------------------------------------
    def steps(self, raw: Any, field: str, data: Any, key: Any) -> list[Step]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(field, "expected a non-empty list of steps", data, key)
        return [self.step(item, f"{field}[{i}]", raw, i) for i, item in enumerate(raw)]

    def step(self, raw: Any, field: str, data: Any, key: Any) -> Step:
        if not isinstance(raw, dict):
            raise self.fail(
                field, "a step is a mapping such as {click: {testid: submit}}", data, key
            )
        kinds = [k for k in raw if k in STEP_FORMS]
        others = [k for k in raw if k not in STEP_FORMS and k not in COMMON_STEP_KEYS]
        if not kinds:
            if others:
                bad = others[0]
                raise self.fail(field, f"unknown step '{bad}'{_suggest(bad, STEP_KINDS)}", raw, bad)
            raise self.fail(field, f"a step needs one action ({', '.join(STEP_KINDS)})", raw)
        if len(kinds) > 1:
            raise self.fail(
                field, f"a step has one action, not {' and '.join(kinds)}", raw, kinds[1]
            )
        kind = kinds[0]
        if others:
            bad = others[0]
            raise self.fail(
                f"{field}.{bad}",
                f"unknown key '{bad}' in a step{_suggest(bad, COMMON_STEP_KEYS)}",
                raw,
                bad,
            )
        line = _line_of(raw, kind)
        where = f"{field}.{kind}"
        step = Step(kind=kind, args={}, line=line, path=field)
        if "name" in raw:
            if not isinstance(raw["name"], str):
                raise self.fail(f"{field}.name", "expected a text", raw, "name")
            step.name = raw["name"]
        if "timeout" in raw:
            if (
                not isinstance(raw["timeout"], int)
                or isinstance(raw["timeout"], bool)
                or raw["timeout"] <= 0
            ):
                raise self.fail(
                    f"{field}.timeout",
                    "expected milliseconds (a whole number above 0)",
                    raw,
                    "timeout",
                )
            step.timeout = raw["timeout"]
        if "optional" in raw:
            if not isinstance(raw["optional"], bool):
                raise self.fail(f"{field}.optional", "expected true or false", raw, "optional")
            step.optional = raw["optional"]
        if "when" in raw:
            step.when = self.condition(raw["when"], f"{field}.when", raw, "when")
        step.args = self.step_args(kind, raw[kind], where, raw)
        return step

    def step_args(self, kind: str, value: Any, where: str, step_raw: Any) -> dict[str, Any]:
        if kind == "wait":
            return self.wait_args(value, where, step_raw)
        if kind == "expect":
            return {"condition": self.condition(value, where, step_raw, kind)}
        if kind == "outcome":
            names = value if isinstance(value, list) else [value]
            if not names or not all(isinstance(n, str) for n in names):
                raise self.fail(where, "expected a list of outcome names", step_raw, kind)
            for index, name in enumerate(names):
                if name not in self.outcome_names:
                    raise self.fail(
                        where,
                        f"unknown outcome '{name}'{_suggest(name, self.outcome_names)}",
                        value if isinstance(value, list) else step_raw,
                        index if isinstance(value, list) else kind,
                    )
            return {"names": list(names)}
        allowed, bare = STEP_FORMS[kind]
        if isinstance(value, dict) and not (bare == "target" and locate.is_spec(value)):
            args = dict(value)
            for arg in args:
                if arg not in allowed:
                    raise self.fail(
                        f"{where}.{arg}",
                        f"unknown key '{arg}' in a {kind} step{_suggest(arg, allowed)}",
                        value,
                        arg,
                    )
            mapping = value
        elif bare is not None and value is not None:
            args = {bare: value}
            mapping = step_raw
        else:
            raise self.fail(where, f"expected a mapping with {', '.join(allowed)}", step_raw, kind)
        for required in REQUIRED_STEP_KEYS.get(kind, ()):
            if required not in args or args[required] is None:
                if kind == "scroll":
                    break
                raise self.fail(where, f"missing '{required}'", mapping, None)
        return self.check_args(kind, args, where, mapping)

    def check_args(self, kind: str, args: dict[str, Any], where: str, data: Any) -> dict[str, Any]:

        def field(name: str) -> str:
            return f"{where}.{name}" if isinstance(data, dict) and name in data else where

        def text(name: str) -> str:
            value = args[name]
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise self.fail(field(name), "expected a text", data, name)
            value = str(value)
            self.check_templates(value, field(name), data, name)
            return value

        def number(name: str, minimum: int = 0) -> int:
            value = args[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise self.fail(
                    field(name), f"expected a whole number of at least {minimum}", data, name
                )
            return value

        result: dict[str, Any] = {}
        if "target" in args and args["target"] is not None:
            result["target"] = self.target(args["target"], field("target"), data, "target")
        if kind == "goto":
            result["url"] = text("url")
        elif kind == "click":
            if "button" in args:
                if args["button"] not in MOUSE_BUTTONS:
                    raise self.fail(
                        field("button"),
                        f"expected one of {', '.join(MOUSE_BUTTONS)}",
                        data,
                        "button",
                    )
                result["button"] = args["button"]
            if "count" in args:
                result["count"] = number("count", 1)
            if "modifiers" in args:
                mods = args["modifiers"]
                valid = ("Alt", "Control", "ControlOrMeta", "Meta", "Shift")
                if not isinstance(mods, list) or any(m not in valid for m in mods):
                    raise self.fail(
                        field("modifiers"),
                        f"expected a list of {', '.join(valid)}",
                        data,
                        "modifiers",
                    )
                result["modifiers"] = mods
            if "force" in args:
                if not isinstance(args["force"], bool):
                    raise self.fail(field("force"), "expected true or false", data, "force")
                result["force"] = args["force"]
        elif kind in ("fill", "type"):
            result["value"] = text("value")
            if "delay" in args:
                result["delay"] = number("delay")
        elif kind == "select":
            option = args["option"]
            options = option if isinstance(option, list) else [option]
            for index, item in enumerate(options):
                if isinstance(item, bool) or not isinstance(item, str | int | float):
                    raise self.fail(
                        field("option"), "expected a text or a list of texts", data, "option"
                    )
                self.check_templates(
                    str(item),
                    f"{field('option')}[{index}]" if isinstance(option, list) else field("option"),
                    data,
                    "option",
                )
            result["option"] = (
                [str(item) for item in options] if isinstance(option, list) else str(option)
            )
        elif kind == "press":
            result["key"] = text("key")
        elif kind == "scroll":
            if "target" not in result:
                if "x" not in args and "y" not in args:
                    raise self.fail(where, "expected a target, or x and/or y offsets", data, None)
                for axis in ("x", "y"):
                    value = args.get(axis, 0)
                    if not isinstance(value, int | float) or isinstance(value, bool):
                        raise self.fail(field(axis), "expected a number of pixels", data, axis)
                    result[axis] = value
        elif kind == "extract":
            name = args["as"]
            if not isinstance(name, str) or not IDENTIFIER.match(name):
                raise self.fail(field("as"), "a value name is letters, digits and _", data, "as")
            if name in SECRET_NAMES:
                raise self.fail(field("as"), f"'{name}' is a secret's name", data, "as")
            result.update(self.extract_options(args, where, data))
            result["as"] = name
            self.known.add(name)
        elif kind == "screenshot":
            name = text("name")
            if not has_template(name) and not re.match(r"^[\w.-]+$", name):
                raise self.fail(
                    field("name"),
                    "a screenshot name is letters, digits, '.', '-' and '_'",
                    data,
                    "name",
                )
            result["name"] = name
            if "full_page" in args:
                if not isinstance(args["full_page"], bool):
                    raise self.fail(field("full_page"), "expected true or false", data, "full_page")
                result["full_page"] = args["full_page"]
        elif kind == "flow":
            result.update(self.sub_flow(args, where, data))
        elif kind == "within":
            result["steps"] = self.steps(args["steps"], f"{where}.steps", data, "steps")
        elif kind == "set_viewport":
            result["width"] = number("width", 1)
            result["height"] = number("height", 1)
        elif kind == "evaluate":
            result["expression"] = text("expression")
        return result

    def wait_args(self, value: Any, where: str, step_raw: Any) -> dict[str, Any]:
        if isinstance(value, dict) and "target" in value and "state" in value:
            extra = set(value) - {"target", "state"}
            if extra:
                bad = sorted(extra)[0]
                raise self.fail(f"{where}.{bad}", f"unknown key '{bad}' in a wait step", value, bad)
            if value["state"] not in WAIT_STATES:
                raise self.fail(
                    f"{where}.state", f"expected one of {', '.join(WAIT_STATES)}", value, "state"
                )
            return {
                "target": self.target(value["target"], f"{where}.target", value, "target"),
                "state": value["state"],
            }
        if isinstance(value, dict) and set(value) == {"target"}:
            return {
                "target": self.target(value["target"], f"{where}.target", value, "target"),
                "state": "visible",
            }
        return {"condition": self.condition(value, where, step_raw, "wait")}

    def sub_flow(self, args: dict[str, Any], where: str, data: Any) -> dict[str, Any]:
        name = args["name"]
        if not isinstance(name, str):
            raise self.fail(f"{where}.name", "expected a flow name or path", data, "name")
        given = args.get("params") or {}
        if not isinstance(given, dict):
            raise self.fail(
                f"{where}.params", "expected a mapping of param -> value", data, "params"
            )
        self.check_templates(given, f"{where}.params", data, "params")
        try:
            child = _load_ref(name, self.base_dir, self.stack)
        except FlowError as error:
            if error.source and error.source != self.source and error.line:
                raise
            raise self.fail(
                f"{where}.name", error.message if error.source == name else str(error), data, "name"
            ) from None
        for param_name in given:
            if param_name not in child.params:
                raise self.fail(
                    f"{where}.params.{param_name}",
                    f"flow '{child.name}' has no param '{param_name}'{_suggest(param_name, list(child.params))}",
                    given,
                    param_name,
                )
        for param_name, param in child.params.items():
            if param.required and param.default is None and param_name not in given:
                raise self.fail(
                    f"{where}.params",
                    f"flow '{child.name}' needs param '{param_name}'",
                    data,
                    "params",
                )
        # Names the child extracts become usable after the step, as if written here.
        self.known.update(_extracted_names(child.steps))
        return {"flow": child, "params": dict(given)}

    # -- params and the whole file -------------------------------------------------------
    def param(self, name: Any, raw: Any, data: Any) -> Param:
        field = f"params.{name}"
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            raise self.fail(field, "a param name is letters, digits and _", data, name)
        if name in SECRET_NAMES or name in TEMPLATE_FUNCTIONS:
            raise self.fail(
                field, f"'{name}' is reserved (a secret or a template function)", data, name
            )
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise self.fail(
                field, "expected a mapping such as {type: string, required: true}", data, name
            )
        for key in raw:
            if key not in PARAM_KEYS:
                raise self.fail(
                    f"{field}.{key}", f"unknown key '{key}'{_suggest(key, PARAM_KEYS)}", raw, key
                )
        if raw.get("type", "string") not in PARAM_TYPES:
            raise self.fail(
                f"{field}.type", f"expected one of {', '.join(PARAM_TYPES)}", raw, "type"
            )
        for flag in ("required", "secret"):
            if flag in raw and not isinstance(raw[flag], bool):
                raise self.fail(f"{field}.{flag}", "expected true or false", raw, flag)
        if "pattern" in raw:
            if not isinstance(raw["pattern"], str):
                raise self.fail(f"{field}.pattern", "expected a regular expression", raw, "pattern")
            try:
                re.compile(raw["pattern"])
            except re.error as error:
                raise self.fail(
                    f"{field}.pattern", f"not a valid regular expression ({error})", raw, "pattern"
                ) from None
        if "choices" in raw and (not isinstance(raw["choices"], list) or not raw["choices"]):
            raise self.fail(f"{field}.choices", "expected a non-empty list", raw, "choices")
        param = Param(**dict(raw))
        if param.default is not None:
            try:
                param.default = _coerce(name, param, param.default)
            except FlowError as error:
                raise self.fail(
                    f"{field}.default", error.message.split(": ", 1)[-1], raw, "default"
                ) from None
        return param

    def flow(self, data: Any) -> Flow:
        if not isinstance(data, dict):
            raise FlowError(
                "a flow file is a mapping with name, params, steps and outcomes",
                self.source,
                _line_of(data),
            )
        for key in data:
            if key not in TOP_KEYS:
                raise self.fail("", f"unknown key '{key}'{_suggest(key, TOP_KEYS)}", data, key)
        if "name" not in data:
            raise self.fail("", "missing 'name'", data)
        name = data["name"]
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise self.fail("name", "expected lower-case letters, digits, '_' or '-'", data, "name")
        summary = data.get("summary") or ""
        if not isinstance(summary, str):
            raise self.fail("summary", "expected a text", data, "summary")
        raw_params = data.get("params") or {}
        if not isinstance(raw_params, dict):
            raise self.fail("params", "expected a mapping of name -> param", data, "params")
        params = {name: self.param(name, raw, raw_params) for name, raw in raw_params.items()}
        self.known = set(params) | set(SECRET_NAMES)
        timeout = data.get("timeout", DEFAULT_TIMEOUT_MS)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
            raise self.fail(
                "timeout", "expected milliseconds (a whole number above 0)", data, "timeout"
            )
        session_flow = None
        session = data.get("session")
        if session is not None:
            if not isinstance(session, str):
                raise self.fail("session", "expected a flow name or path", data, "session")
            try:
                session_flow = _load_ref(session, self.base_dir, self.stack)
            except FlowError as error:
                if error.source == session or not error.source:
                    raise self.fail("session", error.message, data, "session") from None
                raise
        raw_outcomes = data.get("outcomes") or {}
        if not isinstance(raw_outcomes, dict):
            raise self.fail("outcomes", "expected a mapping of name -> condition", data, "outcomes")
        self.outcome_names = [str(n) for n in raw_outcomes]
        for outcome in raw_outcomes:
            if (
                not isinstance(outcome, str)
                or not NAME_PATTERN.match(outcome)
                or outcome == "failed"
            ):
                raise self.fail(
                    f"outcomes.{outcome}",
                    "an outcome name is lower-case letters, digits, '_' or '-' (not 'failed')",
                    raw_outcomes,
                    outcome,
                )
        login_page = None
        if data.get("login_page") is not None:
            login_page = self.condition(data["login_page"], "login_page", data, "login_page")
        if "steps" not in data:
            raise self.fail("", "missing 'steps'", data)
        steps = self.steps(data["steps"], "steps", data, "steps")
        # Outcomes are checked after the steps, so everything extracted is known by then.
        outcomes = {
            outcome: self.condition(
                cond, f"outcomes.{outcome}", raw_outcomes, outcome, extract=True
            )
            for outcome, cond in raw_outcomes.items()
        }
        success = data.get("success")
        if success is None:
            success = list(outcomes) or ["completed"]
        if not isinstance(success, list) or not all(isinstance(s, str) for s in success):
            raise self.fail("success", "expected a list of outcome names", data, "success")
        for index, outcome in enumerate(success):
            if outcome not in outcomes and not (outcome == "completed" and not outcomes):
                raise self.fail(
                    "success",
                    f"unknown outcome '{outcome}'{_suggest(outcome, list(outcomes))}",
                    success,
                    index,
                )
        return Flow(
            name=name,
            summary=summary.strip(),
            params=params,
            session=session,
            session_flow=session_flow,
            login_page=login_page,
            steps=steps,
            outcomes=outcomes,
            success=success,
            timeout=timeout,
            source=Path(self.source) if self.base_dir is not None else None,
        )


def _extracted_names(steps: list[Step]) -> set[str]:
    names: set[str] = set()
    for step in steps:
        if step.kind == "extract":
            names.add(step.args["as"])
        elif step.kind == "within":
            names |= _extracted_names(step.args["steps"])
        elif step.kind == "flow":
            names |= _extracted_names(step.args["flow"].steps)
    return names


def flows_dir() -> Path:
    """The bundled flows: <repo>/flows next to the agent package."""
    return Path(__file__).resolve().parent.parent / "flows"


def bundled_flows() -> list[Path]:
    folder = flows_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def _display(path: Path) -> str:
    """The path as the user would write it: relative under the working folder, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _find(ref: str, base_dir: Path | None) -> Path | None:
    candidate = Path(ref).expanduser()
    looks_like_path = "/" in ref or os.sep in ref or candidate.suffix in (".yaml", ".yml", ".json")
    if looks_like_path:
        if (
            not candidate.is_absolute()
            and base_dir is not None
            and (base_dir / candidate).is_file()
        ):
            return base_dir / candidate
        return candidate if candidate.is_file() else None
    for folder in [base_dir, flows_dir()] if base_dir else [flows_dir()]:
        for stem in dict.fromkeys([ref, ref.replace("-", "_"), ref.replace("_", "-")]):
            for suffix in (".yaml", ".yml", ".json"):
                path = folder / f"{stem}{suffix}"
                if path.is_file():
                    return path
    return None


def _load_ref(ref: str, base_dir: Path | None, stack: tuple[str, ...]) -> Flow:
    path = _find(ref, base_dir)
    if path is None:
        names = ", ".join(p.stem for p in bundled_flows())
        raise FlowError(f"no flow file or bundled flow named '{ref}' (bundled: {names})", ref)
    key = str(path.resolve())
    if key in stack:
        raise FlowError(f"flow '{ref}' includes itself", ref)
    source = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FlowError(f"cannot read ({error.strerror})", source) from None
    data = parse_text(text, source)
    return _Checker(source, path.parent, (*stack, key)).flow(data)


def load_flow(ref: str | Path) -> Flow:
    """A validated flow from a file path, or a bundled flow's name ("cancel_order" or "cancel-order")."""
    return _load_ref(str(ref), None, ())


def load_flow_data(data: dict, source: str = "<data>") -> Flow:
    """A validated flow from already-parsed data (recordings and imports check their output so)."""
    return _Checker(source, None, ()).flow(data)


# ---------------------------------------------------------------------------------------------
# Params

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", ""}


def _coerce(name: str, param: Param, value: object) -> object:
    kind = param.type
    try:
        if kind == "string":
            if isinstance(value, bool | dict | list) or value is None:
                raise ValueError
            return value if isinstance(value, str) else str(value)
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return value if isinstance(value, int) else int(str(value).strip())
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            return value if isinstance(value, int | float) else float(str(value).strip())
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError
    except ValueError:
        shown = "***" if param.secret else repr(value)
        raise FlowError(
            f"param {name}: expected {'an' if kind == 'integer' else 'a'} {kind}, got {shown}"
        ) from None


def bind_params(flow: Flow, given: Mapping[str, object]) -> dict:
    """The flow's params from the given values: typed, defaulted, and checked.

    A secret param not given is read from SELLER_AGENT_<NAME>. Raises FlowError
    ("param order_id: ...") on the first problem.
    """
    for name in given:
        if name not in flow.params:
            known = ", ".join(flow.params) or "none"
            raise FlowError(
                f"param {name}: flow '{flow.name}' has no such param (params: {known}){_suggest(name, list(flow.params))}"
            )
    bound: dict[str, object] = {}
    for name, param in flow.params.items():
        if name in given and given[name] is not None:
            value = _coerce(name, param, given[name])
        elif param.secret and os.environ.get(f"SELLER_AGENT_{name.upper()}"):
            value = _coerce(name, param, os.environ[f"SELLER_AGENT_{name.upper()}"])
        elif param.default is not None:
            value = param.default
        elif param.required:
            raise FlowError(f"param {name}: required, not given")
        else:
            value = "" if param.type == "string" else None
        if param.pattern and value not in (None, "") and not re.search(param.pattern, str(value)):
            shown = "***" if param.secret else repr(value)
            raise FlowError(f"param {name}: {shown} does not match {param.pattern}")
        if (
            param.choices
            and value not in param.choices
            and not (value in (None, "") and not param.required)
        ):
            shown = "***" if param.secret else repr(value)
            raise FlowError(
                f"param {name}: {shown} is not one of {', '.join(map(str, param.choices))}"
            )
        bound[name] = value
    return bound


def secret_params(flow: Flow, bound: Mapping[str, object]) -> dict[str, str]:
    """The bound values of params marked secret: they are masked like the account's secrets."""
    return {
        n: str(bound[n])
        for n, p in flow.params.items()
        if p.secret and bound.get(n) not in (None, "")
    }


# ---------------------------------------------------------------------------------------------
# JSON Schema


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
