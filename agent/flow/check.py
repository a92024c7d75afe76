"""The flow checker: walks a flow's raw data, builds the models, and stops at the first
fault with its file and line."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError

from agent.flow import targets as locate
from agent.flow.lines import _line_of
from agent.flow.model import (
    COMMON_STEP_KEYS,
    CONDITION_KEYS,
    DEFAULT_TIMEOUT_MS,
    IDENTIFIER,
    NAME_PATTERN,
    PARAM_KEYS,
    PARAM_TYPES,
    SECRET_NAMES,
    TOP_KEYS,
    Flow,
    FlowError,
    Param,
    Step,
)
from agent.flow.model import suggest as _suggest
from agent.flow.params import coerce
from agent.flow.steps import BY_NAME, STEP_KINDS, StepInput
from agent.flow.templates import FILTERS, JINJA_NAMES, TemplateRefused, has_template, template_uses
from agent.i18n import _


class _Checker:
    """Walks a flow's raw data, builds the models, and stops at the first fault with its line."""

    def __init__(
        self,
        source: str,
        base_dir: Path | None,
        stack: tuple[str, ...],
        load_ref: Callable[[str, Path | None, tuple[str, ...]], Flow],
    ):
        self.source = source
        # How an included flow (a `flow:` step) is loaded; the loader passes itself in.
        self.load_ref = load_ref
        self.base_dir = base_dir
        self.stack = stack
        self.known: set[str] = set()
        # The known names that are lists (extracted with `all: true`): only they take NAME[N].
        self.lists: set[str] = set()
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
                names, indexed = template_uses(value)
            except TemplateSyntaxError as error:
                raise self.fail(
                    field, _("bad template: {error}").format(error=error.message), data, key
                ) from None
            except TemplateRefused as error:
                raise self.fail(field, str(error), data, key) from None
            unknown = sorted(names - self.known)
            if unknown:
                name = unknown[0]
                hint = (
                    _(" ('{name}' is a filter: {example})").format(
                        name=name, example=f"{{{{ value | {name} }}}}"
                    )
                    if name in FILTERS
                    else _suggest(name, sorted(self.known))
                )
                raise self.fail(
                    field,
                    _(
                        "template names '{name}', which is not a param, a secret or a value "
                        "extracted earlier{hint}"
                    ).format(name=name, hint=hint),
                    data,
                    key,
                )
            not_lists = sorted(indexed - self.lists)
            if not_lists:
                raise self.fail(
                    field,
                    _(
                        "template takes an item of '{name}' ({example}), which is not a list "
                        "extracted with 'all: true'"
                    ).format(name=not_lists[0], example=f"{not_lists[0]}[N]"),
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
            raise self.fail(field, _("expected a text"), data, key)
        if not has_template(text):
            try:
                locate.as_regex(text)
            except re.error as error:
                raise self.fail(
                    field,
                    _("not a valid regular expression ({error})").format(error=error),
                    data,
                    key,
                ) from None
        self.check_templates(text, field, data, key)
        return text

    def condition(self, raw: Any, field: str, data: Any, key: Any, extract: bool = False) -> dict:
        if not isinstance(raw, dict) or not raw:
            raise self.fail(
                field, _("a condition is a mapping such as {testid: x} or {url: /home}"), data, key
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
                raise self.fail(
                    f"{field}.{bad}",
                    _("unknown key '{key}' next to '{kind}'").format(key=bad, kind=kind),
                    raw,
                    bad,
                )
            items = raw[kind]
            if not isinstance(items, list) or not items:
                raise self.fail(
                    f"{field}.{kind}", _("expected a non-empty list of conditions"), raw, kind
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
                raise self.fail(
                    f"{field}.{bad}",
                    _("unknown key '{key}' next to '{kind}'").format(key=bad, kind="not"),
                    raw,
                    bad,
                )
            result = {"kind": "not", "item": self.condition(raw["not"], f"{field}.not", raw, "not")}
        elif raw_keys == {"given"}:
            name = raw["given"]
            if not isinstance(name, str) or name not in self.known:
                raise self.fail(
                    f"{field}.given",
                    _("'given' names a param, a secret or a value extracted earlier{hint}").format(
                        hint=_suggest(str(name), sorted(self.known))
                    ),
                    raw,
                    "given",
                )
            result = {"kind": "given", "value": name}
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
                    _(
                        "unknown key '{key}' in a condition (count, value or text go with target)"
                    ).format(key=bad),
                    raw,
                    bad,
                )
            if len(checks) > 1:
                raise self.fail(field, _("use one of count, value or text with a target"), raw)
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
                    raise self.fail(f"{field}.count", _("expected a whole number"), raw, "count")
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
                _("unknown condition '{name}'{hint}").format(
                    name=bad, hint=_suggest(bad, CONDITION_KEYS + locate.SPEC_KINDS)
                ),
                raw,
                bad,
            )
        if extract and "extract" in raw:
            result["extract"] = self.outcome_extracts(raw["extract"], f"{field}.extract", raw)
        return result

    def outcome_extracts(self, raw: Any, field: str, data: Any) -> dict[str, dict]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail(field, _("expected a mapping of name -> target"), data, "extract")
        result = {}
        for name, spec in raw.items():
            where = f"{field}.{name}"
            if not isinstance(name, str) or not IDENTIFIER.match(name):
                raise self.fail(where, _("a value name is letters, digits and _"), raw, name)
            if not isinstance(spec, dict):
                raise self.fail(
                    where, _("expected a target with optional attribute/all/present"), raw, name
                )
            options = {k: spec[k] for k in ("attribute", "all", "present") if k in spec}
            target_raw = spec.get("target", {k: v for k, v in spec.items() if k not in options})
            if "target" in spec and set(spec) - {"target", *options}:
                bad = sorted(set(spec) - {"target", *options})[0]
                raise self.fail(
                    f"{where}.{bad}",
                    _("unknown key '{key}'{hint}").format(key=bad, hint=""),
                    spec,
                    bad,
                )
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
                raise self.fail(f"{field}.{flag}", _("expected true or false"), data, flag)
        if result["attribute"] is not None and not isinstance(result["attribute"], str):
            raise self.fail(
                f"{field}.attribute", _("expected an attribute name"), data, "attribute"
            )
        if result["present"] and (result["all"] or result["attribute"]):
            raise self.fail(
                f"{field}.present",
                _("'present' gives true/false; it takes no attribute or all"),
                data,
                "present",
            )
        return result

    # -- steps ---------------------------------------------------------------------------
    def steps(self, raw: Any, field: str, data: Any, key: Any) -> list[Step]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(field, _("expected a non-empty list of steps"), data, key)
        return [self.step(item, f"{field}[{i}]", raw, i) for i, item in enumerate(raw)]

    def step(self, raw: Any, field: str, data: Any, key: Any) -> Step:
        if not isinstance(raw, dict):
            raise self.fail(
                field, _("a step is a mapping such as {click: {testid: submit}}"), data, key
            )
        kinds = [k for k in raw if k in BY_NAME]
        others = [k for k in raw if k not in BY_NAME and k not in COMMON_STEP_KEYS]
        if not kinds:
            if others:
                bad = others[0]
                raise self.fail(
                    field,
                    _("unknown step '{step}'{hint}").format(
                        step=bad, hint=_suggest(bad, STEP_KINDS)
                    ),
                    raw,
                    bad,
                )
            raise self.fail(
                field,
                _("a step needs one action ({actions})").format(actions=", ".join(STEP_KINDS)),
                raw,
            )
        if len(kinds) > 1:
            raise self.fail(
                field,
                _("a step has one action, not {actions}").format(actions=_(" and ").join(kinds)),
                raw,
                kinds[1],
            )
        kind = kinds[0]
        if others:
            bad = others[0]
            raise self.fail(
                f"{field}.{bad}",
                _("unknown key '{key}' in a step{hint}").format(
                    key=bad, hint=_suggest(bad, COMMON_STEP_KEYS)
                ),
                raw,
                bad,
            )
        line = _line_of(raw, kind)
        where = f"{field}.{kind}"
        step = Step(kind=kind, args={}, line=line, path=field)
        if "name" in raw:
            if not isinstance(raw["name"], str):
                raise self.fail(f"{field}.name", _("expected a text"), raw, "name")
            step.name = raw["name"]
        if "timeout" in raw:
            if (
                not isinstance(raw["timeout"], int)
                or isinstance(raw["timeout"], bool)
                or raw["timeout"] <= 0
            ):
                raise self.fail(
                    f"{field}.timeout",
                    _("expected milliseconds (a whole number above 0)"),
                    raw,
                    "timeout",
                )
            step.timeout = raw["timeout"]
        if "optional" in raw:
            if not isinstance(raw["optional"], bool):
                raise self.fail(f"{field}.optional", _("expected true or false"), raw, "optional")
            step.optional = raw["optional"]
        if "when" in raw:
            step.when = self.condition(raw["when"], f"{field}.when", raw, "when")
        step.args = self.step_args(kind, raw[kind], where, raw)
        return step

    def step_args(self, kind_name: str, value: Any, where: str, step_raw: Any) -> dict[str, Any]:
        kind = BY_NAME[kind_name]
        if kind.whole_value:
            return kind.check(StepInput(self, kind.name, where, value, step_raw))
        allowed, bare = kind.keys, kind.bare
        if isinstance(value, dict) and not (bare == "target" and locate.is_spec(value)):
            args = dict(value)
            for arg in args:
                if arg not in allowed:
                    raise self.fail(
                        f"{where}.{arg}",
                        _("unknown key '{key}' in a {kind} step{hint}").format(
                            key=arg, kind=kind.name, hint=_suggest(arg, allowed)
                        ),
                        value,
                        arg,
                    )
            mapping = value
        elif bare is not None and value is not None:
            args = {bare: value}
            mapping = step_raw
        else:
            raise self.fail(
                where,
                _("expected a mapping with {keys}").format(keys=", ".join(allowed)),
                step_raw,
                kind.name,
            )
        for required in kind.required:
            if required not in args or args[required] is None:
                raise self.fail(where, _("missing '{key}'").format(key=required), mapping, None)
        step = StepInput(self, kind.name, where, value, mapping, args)
        result: dict[str, Any] = {}
        if "target" in args and args["target"] is not None:
            step.target = self.target(args["target"], step.field("target"), mapping, "target")
            result["target"] = step.target
        result.update(kind.check(step))
        return result

    def sub_flow(self, args: dict[str, Any], where: str, data: Any) -> dict[str, Any]:
        name = args["name"]
        if not isinstance(name, str):
            raise self.fail(f"{where}.name", _("expected a flow name or path"), data, "name")
        given = args.get("params") or {}
        if not isinstance(given, dict):
            raise self.fail(
                f"{where}.params", _("expected a mapping of param -> value"), data, "params"
            )
        self.check_templates(given, f"{where}.params", data, "params")
        try:
            child = self.load_ref(name, self.base_dir, self.stack)
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
                    _("flow '{flow}' has no param '{param}'{hint}").format(
                        flow=child.name,
                        param=param_name,
                        hint=_suggest(param_name, list(child.params)),
                    ),
                    given,
                    param_name,
                )
        for param_name, param in child.params.items():
            if param.required and param.default is None and param_name not in given:
                raise self.fail(
                    f"{where}.params",
                    _("flow '{flow}' needs param '{param}'").format(
                        flow=child.name, param=param_name
                    ),
                    data,
                    "params",
                )
        # Names the child extracts become usable after the step, as if written here.
        self.known.update(_extracted_names(child.steps))
        self.lists.difference_update(_extracted_names(child.steps))
        self.lists.update(_extracted_names(child.steps, lists=True))
        return {"flow": child, "params": dict(given)}

    # -- params and the whole file -------------------------------------------------------
    def param(self, name: Any, raw: Any, data: Any) -> Param:
        field = f"params.{name}"
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            raise self.fail(field, _("a param name is letters, digits and _"), data, name)
        if name in SECRET_NAMES or name in JINJA_NAMES:
            raise self.fail(
                field,
                _("'{name}' is reserved (a secret or one of Jinja's own names)").format(name=name),
                data,
                name,
            )
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise self.fail(
                field, _("expected a mapping such as {type: string, required: true}"), data, name
            )
        for key in raw:
            if key not in PARAM_KEYS:
                raise self.fail(
                    f"{field}.{key}",
                    _("unknown key '{key}'{hint}").format(key=key, hint=_suggest(key, PARAM_KEYS)),
                    raw,
                    key,
                )
        if raw.get("type", "string") not in PARAM_TYPES:
            raise self.fail(
                f"{field}.type",
                _("expected one of {choices}").format(choices=", ".join(PARAM_TYPES)),
                raw,
                "type",
            )
        for flag in ("required", "secret"):
            if flag in raw and not isinstance(raw[flag], bool):
                raise self.fail(f"{field}.{flag}", _("expected true or false"), raw, flag)
        if "pattern" in raw:
            if not isinstance(raw["pattern"], str):
                raise self.fail(
                    f"{field}.pattern", _("expected a regular expression"), raw, "pattern"
                )
            try:
                re.compile(raw["pattern"])
            except re.error as error:
                raise self.fail(
                    f"{field}.pattern",
                    _("not a valid regular expression ({error})").format(error=error),
                    raw,
                    "pattern",
                ) from None
        if "choices" in raw and (not isinstance(raw["choices"], list) or not raw["choices"]):
            raise self.fail(f"{field}.choices", _("expected a non-empty list"), raw, "choices")
        param = Param(**dict(raw))
        if param.default is not None:
            try:
                param.default = coerce(name, param, param.default)
            except FlowError as error:
                raise self.fail(
                    f"{field}.default", error.message.split(": ", 1)[-1], raw, "default"
                ) from None
        return param

    def flow(self, data: Any) -> Flow:
        if not isinstance(data, dict):
            raise FlowError(
                _("a flow file is a mapping with name, params, steps and outcomes"),
                self.source,
                _line_of(data),
            )
        for key in data:
            if key not in TOP_KEYS:
                raise self.fail(
                    "",
                    _("unknown key '{key}'{hint}").format(key=key, hint=_suggest(key, TOP_KEYS)),
                    data,
                    key,
                )
        if "name" not in data:
            raise self.fail("", _("missing 'name'"), data)
        name = data["name"]
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise self.fail(
                "name", _("expected lower-case letters, digits, '_' or '-'"), data, "name"
            )
        summary = data.get("summary") or ""
        if not isinstance(summary, str):
            raise self.fail("summary", _("expected a text"), data, "summary")
        raw_params = data.get("params") or {}
        if not isinstance(raw_params, dict):
            raise self.fail("params", _("expected a mapping of name -> param"), data, "params")
        params = {name: self.param(name, raw, raw_params) for name, raw in raw_params.items()}
        self.known = set(params) | set(SECRET_NAMES)
        timeout = data.get("timeout", DEFAULT_TIMEOUT_MS)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
            raise self.fail(
                "timeout", _("expected milliseconds (a whole number above 0)"), data, "timeout"
            )
        session_flow = None
        session = data.get("session")
        if session is not None:
            if not isinstance(session, str):
                raise self.fail("session", _("expected a flow name or path"), data, "session")
            try:
                session_flow = self.load_ref(session, self.base_dir, self.stack)
            except FlowError as error:
                if error.source == session or not error.source:
                    raise self.fail("session", error.message, data, "session") from None
                raise
        raw_outcomes = data.get("outcomes") or {}
        if not isinstance(raw_outcomes, dict):
            raise self.fail(
                "outcomes", _("expected a mapping of name -> condition"), data, "outcomes"
            )
        self.outcome_names = [str(n) for n in raw_outcomes]
        for outcome in raw_outcomes:
            if (
                not isinstance(outcome, str)
                or not NAME_PATTERN.match(outcome)
                or outcome == "failed"
            ):
                raise self.fail(
                    f"outcomes.{outcome}",
                    _("an outcome name is lower-case letters, digits, '_' or '-' (not 'failed')"),
                    raw_outcomes,
                    outcome,
                )
        login_page = None
        if data.get("login_page") is not None:
            login_page = self.condition(data["login_page"], "login_page", data, "login_page")
        if "steps" not in data:
            raise self.fail("", _("missing 'steps'"), data)
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
            raise self.fail("success", _("expected a list of outcome names"), data, "success")
        for index, outcome in enumerate(success):
            if outcome not in outcomes and not (outcome == "completed" and not outcomes):
                raise self.fail(
                    "success",
                    _("unknown outcome '{outcome}'{hint}").format(
                        outcome=outcome, hint=_suggest(outcome, list(outcomes))
                    ),
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


def _extracted_names(steps: list[Step], lists: bool = False) -> set[str]:
    """The names the steps extract (with lists, those whose last extract is `all: true`)."""
    names: set[str] = set()
    for step in steps:
        if step.kind == "extract":
            if not lists or step.args["all"]:
                names.add(step.args["as"])
            else:
                names.discard(step.args["as"])
        elif step.kind == "within":
            names = _later(names, step.args["steps"], lists)
        elif step.kind == "flow":
            names = _later(names, step.args["flow"].steps, lists)
    return names


def _later(names: set[str], steps: list[Step], lists: bool) -> set[str]:
    """`names` updated by what `steps` extract after them."""
    if not lists:
        return names | _extracted_names(steps)
    return (names - _extracted_names(steps)) | _extracted_names(steps, lists=True)
