"""Templates in flow values: Jinja2's sandbox with StrictUndefined."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

from agent.flow import totp


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
