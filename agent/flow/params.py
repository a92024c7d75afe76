"""Binding a flow's params: typed, defaulted and checked values from the user's input."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping

from agent.flow.model import Flow, FlowError, Param
from agent.i18n import N_, told

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", ""}

# These errors may be written down (a row's problem in the journal): English there, the
# reader's language on the terminal (agent.i18n.told).
_EXPECTED = {
    "string": N_("param {name}: expected a string, got {value}"),
    "integer": N_("param {name}: expected an integer, got {value}"),
    "number": N_("param {name}: expected a number, got {value}"),
    "boolean": N_("param {name}: expected a boolean, got {value}"),
}


def coerce(name: str, param: Param, value: object) -> object:
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
        message = _EXPECTED.get(kind, N_("param {name}: expected a {kind}, got {value}"))
        raise FlowError(told(message, name=name, kind=kind, value=shown)) from None


def bind_params(flow: Flow, given: Mapping[str, object]) -> dict:
    """The flow's params from the given values: typed, defaulted, and checked.

    A secret param not given is read from SELLER_AGENT_<NAME>. Raises FlowError
    ("param order_id: ...") on the first problem.
    """
    for name in given:
        if name not in flow.params:
            known = ", ".join(flow.params) or "none"
            close = difflib.get_close_matches(str(name), list(flow.params), n=1)
            hint = told(N_(" (did you mean '{word}'?)"), word=close[0]) if close else ""
            raise FlowError(
                told(
                    N_("param {name}: flow '{flow}' has no such param (params: {known}){hint}"),
                    name=name,
                    flow=flow.name,
                    known=known,
                    hint=hint,
                )
            )
    bound: dict[str, object] = {}
    for name, param in flow.params.items():
        if name in given and given[name] is not None:
            value = coerce(name, param, given[name])
        elif param.secret and os.environ.get(f"SELLER_AGENT_{name.upper()}"):
            value = coerce(name, param, os.environ[f"SELLER_AGENT_{name.upper()}"])
        elif param.default is not None:
            value = param.default
        elif param.required:
            raise FlowError(told(N_("param {name}: required, not given"), name=name))
        else:
            value = "" if param.type == "string" else None
        if param.pattern and value not in (None, "") and not re.search(param.pattern, str(value)):
            shown = "***" if param.secret else repr(value)
            raise FlowError(
                told(
                    N_("param {name}: {value} does not match {pattern}"),
                    name=name,
                    value=shown,
                    pattern=param.pattern,
                )
            )
        if (
            param.choices
            and value not in param.choices
            and not (value in (None, "") and not param.required)
        ):
            shown = "***" if param.secret else repr(value)
            raise FlowError(
                told(
                    N_("param {name}: {value} is not one of {choices}"),
                    name=name,
                    value=shown,
                    choices=", ".join(map(str, param.choices)),
                )
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
