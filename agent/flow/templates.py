"""Templates in flow values: a deliberately tiny language on top of Jinja2's syntax.

Flows are shared and imported, so a flow's templates are code written by strangers. A
template may name the flow's params, its secrets and values extracted earlier, and pass
them through a few filters defined here - nothing else: no calls, no attribute or item
access, no operators, no `{% %}` statements, no Jinja globals. `check_template` enforces
that on the parsed syntax tree when a flow loads, so a hostile template is refused before
any browser starts. Rendering runs in Jinja2's sandbox with no globals, only these
filters, output that must be a text or a number, and a cap on its length - a second wall
should the first ever have a gap.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateRuntimeError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from agent.flow import totp as totplib
from agent.i18n import N_, Told, _, told

# Room for any real URL, form value or script, not for a template built to exhaust memory.
MAX_TEMPLATE_CHARS = 10_000
MAX_OUTPUT_CHARS = 100_000
# A value with a chain of filters is a few levels deep; anything deeper is not a real flow.
MAX_DEPTH = 12
# Names Jinja itself gives meaning to (the template, loops, macros, blocks): never a value.
JINJA_NAMES = ("self", "loop", "caller", "varargs", "kwargs", "super")


class TemplateRefused(SecurityError):
    """A template uses something flows may not (a call, attribute access, a statement...)."""


@dataclass(frozen=True)
class _Filter:
    function: Callable[..., Any]
    args: tuple[str, ...]  # names of its arguments, each a text in quotes
    optional: int = 0  # how many of the last args may be left out
    doc: str = ""


def _kind(value: Any) -> Told:
    """What a value is, in words - never the value itself (it may be a secret)."""
    if isinstance(value, Undefined):
        return told(N_("an undefined value"))
    if isinstance(value, bool):
        return told(N_("true/false"))
    if isinstance(value, str):
        return told(N_("a text"))
    if isinstance(value, int | float):
        return told(N_("a number"))
    if isinstance(value, list | tuple):
        return told(N_("a list"))
    if value is None:
        return told(N_("nothing"))
    if isinstance(value, Mapping):
        return told(N_("a mapping"))
    return told(N_("an object"))


def _scalar(value: Any, name: str) -> str:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises its own "'x' is undefined" here
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TemplateRuntimeError(
            told(
                N_("filter '{name}' needs a text or a number, got {kind}"),
                name=name,
                kind=_kind(value),
            )
        )
    return str(value)


def _items(value: Any, name: str) -> list[str | int | float]:
    if isinstance(value, Undefined):
        str(value)
    if not isinstance(value, list | tuple):
        raise TemplateRuntimeError(
            told(N_("filter '{name}' needs a list, got {kind}"), name=name, kind=_kind(value))
        )
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise TemplateRuntimeError(
                told(
                    N_("filter '{name}' needs a list of texts or numbers, got {kind} in it"),
                    name=name,
                    kind=_kind(item),
                )
            )
    return list(value)


def _capped(text: str, name: str) -> str:
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateRuntimeError(_too_long(name))
    return text


def _too_long(name: str) -> Told:
    return told(
        N_("filter '{name}' gives more than {count} characters"), name=name, count=MAX_OUTPUT_CHARS
    )


def _totp(value: Any) -> str:
    try:
        return totplib.totp(_scalar(value, "totp"))
    except totplib.BadSecret as error:
        raise TemplateRuntimeError(
            told(N_("filter '{name}': {why}"), name="totp", why=error)
        ) from None


def _urlencode(value: Any) -> str:
    return quote(_scalar(value, "urlencode"), safe="")


def _replace(value: Any, old: str, new: str) -> str:
    text = _scalar(value, "replace")
    # Worked out before replacing, so a short template cannot build a huge text first.
    grown = len(text) + text.count(old) * (len(new) - len(old))
    if grown > MAX_OUTPUT_CHARS:
        raise TemplateRuntimeError(_too_long("replace"))
    return text.replace(old, new)


def _join(value: Any, separator: str = "") -> str:
    items = [str(item) for item in _items(value, "join")]
    size = sum(map(len, items)) + len(separator) * max(len(items) - 1, 0)
    if size > MAX_OUTPUT_CHARS:
        raise TemplateRuntimeError(_too_long("join"))
    return separator.join(items)


def _first(value: Any) -> Any:
    items = _items(value, "first")
    if not items:
        raise TemplateRuntimeError(told(N_("filter '{name}' got an empty list"), name="first"))
    return items[0]


def _last(value: Any) -> Any:
    items = _items(value, "last")
    if not items:
        raise TemplateRuntimeError(told(N_("filter '{name}' got an empty list"), name="last"))
    return items[-1]


def _length(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return len(_items(value, "length"))


def _default(value: Any, fallback: str) -> Any:
    if isinstance(value, Undefined) or value is None or value == "" or value == []:
        return fallback
    return value


FILTERS: dict[str, _Filter] = {
    "default": _Filter(
        _default, ("fallback",), doc="the value, or the fallback when it is missing or empty"
    ),
    "first": _Filter(_first, (), doc="the first item of a list"),
    "join": _Filter(
        _join, ("separator",), optional=1, doc="a list's items joined by the separator"
    ),
    "last": _Filter(_last, (), doc="the last item of a list"),
    "length": _Filter(_length, (), doc="how many items a list has, or characters a text has"),
    "lower": _Filter(lambda value: _scalar(value, "lower").lower(), (), doc="lower case"),
    "replace": _Filter(_replace, ("old", "new"), doc="every `old` replaced by `new`"),
    "totp": _Filter(_totp, (), doc="the current two-step verification code for a TOTP secret"),
    "trim": _Filter(
        lambda value: _scalar(value, "trim").strip(), (), doc="without surrounding spaces"
    ),
    "upper": _Filter(lambda value: _scalar(value, "upper").upper(), (), doc="upper case"),
    "urlencode": _Filter(
        _urlencode, (), doc="percent-encoded for a URL (all but letters, digits and `_.-~`)"
    ),
}


def _finalize(value: Any) -> Any:
    """What `{{ ... }}` may put into the text: a text or a number, never a Python repr."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises its own "'x' is undefined" here
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TemplateRuntimeError(
            told(N_("the value is {kind}, not a text or a number"), kind=_kind(value))
        )
    return value


class _FlowEnvironment(SandboxedEnvironment):
    """The sandbox narrowed to what the check allows: no attributes at all, and items only of
    lists by a whole number."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(
            told(
                N_("attribute access is not allowed ({kind}.{attribute})"),
                kind=_kind(obj),
                attribute=attribute,
            )
        )

    def getitem(self, obj: Any, argument: Any) -> Any:
        if not isinstance(obj, list | tuple) or type(argument) is not int:
            raise SecurityError(
                told(N_("'[...]' is only item N of a list, not of {kind}"), kind=_kind(obj))
            )
        return super().getitem(obj, argument)


@lru_cache(maxsize=1)
def template_env() -> SandboxedEnvironment:
    # optimized=False: Jinja's optimizer folds constant expressions while compiling, which
    # would evaluate something like 'a' * 10**9 before any check could see it.
    env = _FlowEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_finalize,
        optimized=False,
    )
    env.globals.clear()
    env.filters = {name: spec.function for name, spec in FILTERS.items()}
    env.tests = {}
    return env


def has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


# -- checking the syntax tree ------------------------------------------------------------------
_STATEMENT_WORDS = {
    "For": "for",
    "If": "if",
    "Assign": "set",
    "AssignBlock": "set",
    "Macro": "macro",
    "CallBlock": "call",
    "FilterBlock": "filter",
    "With": "with",
    "Include": "include",
    "Import": "import",
    "FromImport": "from",
    "Extends": "extends",
    "Block": "block",
    "ExprStmt": "do",
    "Continue": "continue",
    "Break": "break",
    "Scope": "scope",
    "ScopedEvalContextModifier": "autoescape",
    "EvalContextModifier": "autoescape",
}


def _why(node: nodes.Node) -> str:
    """Why a node that is not a name, a constant or a filter is refused."""
    if isinstance(node, nodes.Call):
        return _("calls are not allowed")
    if isinstance(node, nodes.Getattr):
        return _("attribute access ('.') is not allowed")
    if isinstance(node, nodes.Getitem):
        return _("'[...]' is only NAME[N], item N (a whole number from 0) of a list")
    if isinstance(node, nodes.Test):
        return _("tests ('is ...') are not allowed")
    if isinstance(node, nodes.Concat):
        return _("operator '~' is not allowed (write {{ a }}{{ b }})")
    if isinstance(node, nodes.BinExpr | nodes.UnaryExpr):
        return _("operator '{operator}' is not allowed").format(operator=node.operator)
    if isinstance(node, nodes.Compare):
        return _("comparisons are not allowed")
    if isinstance(node, nodes.CondExpr):
        return _("'... if ... else ...' is not allowed")
    if isinstance(node, nodes.List | nodes.Tuple | nodes.Dict):
        return _("list and mapping literals are not allowed")
    return _("{kind} expressions are not allowed").format(kind=type(node).__name__)


def _filter_list() -> str:
    return ", ".join(FILTERS)


def _check_expression(node: nodes.Node, depth: int, names: set[str], indexed: set[str]) -> None:
    if depth > MAX_DEPTH:
        raise TemplateRefused(
            _("template: nested more than {depth} levels deep").format(depth=MAX_DEPTH)
        )
    if isinstance(node, nodes.Name):
        if node.name.startswith("_"):
            raise TemplateRefused(
                _("template: name '{name}' begins with '_'").format(name=node.name)
            )
        if node.name in JINJA_NAMES:
            raise TemplateRefused(
                _("template: '{name}' is one of Jinja's own names").format(name=node.name)
            )
        names.add(node.name)
        return
    if isinstance(node, nodes.Const):
        if isinstance(node.value, bool) or not isinstance(node.value, str | int | float):
            raise TemplateRefused(_("template: a constant is a text in quotes or a number"))
        return
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and isinstance(node.arg, nodes.Const)
        and type(node.arg.value) is int
    ):
        # An item of a list extracted earlier (`all: true`) - plain data, by a plain number.
        # Which names are such lists is the flow's to say (check.py): the name is noted.
        _check_expression(node.node, depth + 1, names, indexed)
        indexed.add(node.node.name)
        return
    if isinstance(node, nodes.Filter) and node.node is not None:
        spec = FILTERS.get(node.name)
        if spec is None:
            close = difflib.get_close_matches(node.name, list(FILTERS), n=1)
            if close:
                raise TemplateRefused(
                    _(
                        "template: unknown filter '{name}' (did you mean '{close}'? filters: "
                        "{filters})"
                    ).format(name=node.name, close=close[0], filters=_filter_list())
                )
            raise TemplateRefused(
                _("template: unknown filter '{name}' (filters: {filters})").format(
                    name=node.name, filters=_filter_list()
                )
            )
        if node.kwargs or node.dyn_args is not None or node.dyn_kwargs is not None:
            raise TemplateRefused(
                _("template: filter '{name}' takes texts in quotes only").format(name=node.name)
            )
        most = len(spec.args)
        least = most - spec.optional
        if not least <= len(node.args) <= most:
            wanted = ", ".join(spec.args) if spec.args else _("no arguments")
            raise TemplateRefused(
                _("template: filter '{name}' takes ({wanted})").format(
                    name=node.name, wanted=wanted
                )
            )
        for arg in node.args:
            if not isinstance(arg, nodes.Const) or not isinstance(arg.value, str):
                raise TemplateRefused(
                    _("template: filter '{name}' takes texts in quotes only").format(name=node.name)
                )
        _check_expression(node.node, depth + 1, names, indexed)
        return
    raise TemplateRefused(_("template: {why}").format(why=_why(node)))


def check_template(text: str) -> set[str]:
    """The names a template uses, after checking it is one flows may run.

    Raises TemplateSyntaxError for a template that does not parse, TemplateRefused for one
    that parses but uses more than names, constants and the filters above."""
    return template_uses(text)[0]


def template_uses(text: str) -> tuple[set[str], set[str]]:
    """The names a template uses, and those of them it takes an item of (`NAME[N]`, which
    only a list extracted with `all: true` has), after checking it as check_template does."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateRefused(
            _("template: longer than {count} characters").format(count=MAX_TEMPLATE_CHARS)
        )
    try:
        tree = template_env().parse(text)
    except RecursionError:
        raise TemplateRefused(
            _("template: nested more than {depth} levels deep").format(depth=MAX_DEPTH)
        ) from None
    names: set[str] = set()
    indexed: set[str] = set()
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            word = _STATEMENT_WORDS.get(type(statement).__name__, type(statement).__name__)
            raise TemplateRefused(
                _(
                    "template: '{{% {word} %}}' is not allowed (only {{{{ value | filter }}}})"
                ).format(word=word)
            )
        for node in statement.nodes:
            if not isinstance(node, nodes.TemplateData):
                _check_expression(node, 1, names, indexed)
    return names, indexed


def template_names(text: str) -> set[str]:
    """The variable names a template uses; raises TemplateSyntaxError or TemplateRefused."""
    return check_template(text)


@lru_cache(maxsize=2048)
def _compiled(text: str) -> Any:
    # Checked here too, so nothing renders a template the loader never saw.
    check_template(text)
    return template_env().from_string(text)


def _render_text(text: str, context: Mapping[str, Any]) -> str:
    parts: list[str] = []
    size = 0
    for part in _compiled(text).generate(context):
        size += len(part)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateRuntimeError(
                told(N_("the result is longer than {count} characters"), count=MAX_OUTPUT_CHARS)
            )
        parts.append(part)
    return "".join(parts)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """value with every template string rendered (recursing into lists and dicts)."""
    if isinstance(value, str):
        return _render_text(value, context) if has_template(value) else value
    if isinstance(value, list):
        return [render(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    return value
