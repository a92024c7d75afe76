"""Turning other tools' recordings (and our own recorder's events) into flow files.

What every translation shares lives here: making portal URLs relative, dropping the sign-in
in favour of the `login` session flow, turning literal values into `{{ params }}`, and
writing YAML in a stable, readable order. Nothing here imports Playwright.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import yaml

from agent.errors import UserError
from agent.i18n import N_, told

SESSION_FLOW = "login"
# The portal's sign-in pages (docs/portal.md); steps on them are replaced by the session flow.
SIGN_IN_PATHS = ("/ap/signin", "/ap/mfa")
# Where the portal's sign-in leads when the sign-in URL names no `next` page.
SIGN_IN_LANDING = "/home"
SECRET_NAMES = ("email", "password", "totp_secret")
ORDER_ID_PATTERN = r"^\d{3}-\d{7}-\d{7}$"
ORDER_ID_RE = re.compile(r"(?<![\d-])\d{3}-\d{7}-\d{7}(?![\d-])")
TOP_LEVEL_ORDER = (
    "name",
    "summary",
    "params",
    "session",
    "login_page",
    "success",
    "timeout",
    "steps",
    "outcomes",
)
# Words of the portal's sign-in form (both languages): a step that names none of them has left
# the sign-in, even when the recording does not say where the sign-in led.
SIGN_IN_HINTS = re.compile(
    r"signin-|mfa-|e-?mail|password|\botp\b|remember|continue|sign(?:ed)? ?in|"
    r"登录|密码|电子邮箱|一次性密码|继续|保持登录",
    re.IGNORECASE,
)
# Words that name a password field in a selector (an id, a name, a label, in any case): what is
# typed there becomes {{ password }} rather than text in the flow file. Generous on purpose: a
# secret written into a flow is worse than a field's value to type again.
PASSWORD_HINTS = re.compile(
    r"pass(?:word|wd|wort)|(?<![a-z])(?:pwd|pass)(?![a-z])|mot[ -]de[ -]passe|contrase[ñn]a|"
    r"密码|密碼|パスワード|비밀번호",
    re.IGNORECASE,
)
# In a typed value: a `{{ name }}` placeholder (kept: it becomes a param), or the opening of
# any other template syntax (written out as text).
_PLACEHOLDER_OR_OPENER = re.compile(r"({{-?\s*[A-Za-z_][A-Za-z0-9_]*\s*-?}})|({{|{%|{#)")
_OPENER = re.compile(r"{{|{%|{#")


def literal_text(value: str, *, placeholders: bool = True) -> str:
    """A typed value as flow text: what would open a template (`{{`, `{%`, `{#`) is written
    as `{{ '{{' }}` and so on, so the value is typed as it was; with `placeholders`, a
    `{{ name }}` the user wrote stays one. Typed text such as "}}{{" or "{{ 7*7 }}" made the
    whole import fail as an invalid template."""
    if placeholders:
        return _PLACEHOLDER_OR_OPENER.sub(
            lambda match: match.group(1) or "{{ '" + match.group(2) + "' }}", value
        )
    return _OPENER.sub(lambda match: "{{ '" + match.group(0) + "' }}", value)


# The first name in a template (the value a filter such as `| totp` works on).
_TEMPLATE_NAME = re.compile(r"{{-?\s*([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")


class RecordingError(UserError):
    """A recording cannot be translated; str() is one line naming the file and the step."""


def flow_name(title: str, fallback: str = "recorded") -> str:
    """A flow name (`[a-z0-9_-]+`) made from a free-text title."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", title.strip().lower()).strip("-_")
    return slug[:60].strip("-_") or fallback


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def relative_url(url: str, portal: str | None) -> str:
    """`url` without the portal's origin when it is on the portal, so the flow follows --portal."""
    if not portal or not origin(url) or origin(url) != origin(portal):
        return url
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


def absolute_url(url: str, portal: str) -> str:
    return urljoin(portal.rstrip("/") + "/", url) if url.startswith("/") else url


def is_sign_in_url(url: str) -> bool:
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    return any(path == prefix or path.startswith(prefix + "/") for prefix in SIGN_IN_PATHS)


def on_portal(steps: list) -> bool:
    """True when a flow opens pages of the portal (relative URLs): those pages need the
    portal's sign-in, so the flow gets the session flow even if the recording skipped it."""
    return any(
        isinstance(step, dict)
        and isinstance(step.get("goto"), str)
        and step["goto"].startswith("/")
        for step in steps
    )


def template_names(data: object) -> list[str]:
    """Every name used as `{{ name }}` inside data's strings, in order of first use."""
    found: list[str] = []
    for text in _strings(data):
        for name in _TEMPLATE_NAME.findall(text):
            if name not in found:
                found.append(name)
    return found


def _strings(data: object) -> Iterable[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, Mapping):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)


def replace_strings(data: Any, change: Callable[[str], str]) -> Any:
    """A copy of data with change(text) applied to every string value (keys left alone)."""
    if isinstance(data, str):
        return change(data)
    if isinstance(data, Mapping):
        return {key: replace_strings(value, change) for key, value in data.items()}
    if isinstance(data, list):
        return [replace_strings(item, change) for item in data]
    return data


def parameterize(steps: list, params: Mapping[str, str]) -> list:
    """Steps with every literal param value written as `{{ name }}` (longest values first,
    so an order id inside a longer value is not split)."""
    pairs = sorted(
        ((name, str(value)) for name, value in params.items() if str(value)),
        key=lambda pair: len(pair[1]),
        reverse=True,
    )

    def change(text: str) -> str:
        for name, value in pairs:
            # Short values (a quantity "1") are only replaced when they are the whole text;
            # inside longer text they would hit digits of unrelated numbers.
            if text == value:
                return "{{ " + name + " }}"
            if len(value) >= 4 and value in text:
                text = text.replace(value, "{{ " + name + " }}")
        return text

    return replace_strings(steps, change)


def order_id_params(values: Iterable[str], known: Mapping[str, str]) -> dict[str, str]:
    """New params for typed values that look like order ids and are not a given param yet."""
    taken = {str(value) for value in known.values()}
    found: dict[str, str] = {}
    for value in values:
        for order_id in ORDER_ID_RE.findall(value or ""):
            if order_id in taken or order_id in found.values():
                continue
            name = "order_id"
            index = 2
            while name in known or name in found:
                name = f"order_id_{index}"
                index += 1
            found[name] = order_id
    return found


def param_specs(
    used: Iterable[str], given: Mapping[str, str], extra: Mapping[str, dict] | None = None
) -> dict[str, dict]:
    """Param declarations for the template names a flow uses (secrets need none)."""
    specs: dict[str, dict] = {}
    for name in used:
        if name in SECRET_NAMES or name in specs:
            continue
        if extra and name in extra:
            specs[name] = dict(extra[name])
            continue
        spec: dict[str, Any] = {"type": "string", "required": True}
        value = given.get(name)
        if value is not None and re.fullmatch(ORDER_ID_PATTERN, str(value)):
            spec["pattern"] = ORDER_ID_PATTERN
        specs[name] = spec
    return specs


def ordered_flow(data: Mapping[str, Any]) -> dict[str, Any]:
    """The flow's keys in the order people read them; empty optional keys left out."""
    result: dict[str, Any] = {}
    for key in TOP_LEVEL_ORDER:
        if key == "steps":
            result[key] = data.get(key, [])
        elif data.get(key) not in (None, {}, []):
            result[key] = data[key]
    for key, value in data.items():
        if key not in result and value not in (None, {}, []):
            result[key] = value
    return result


class _FlowDumper(yaml.SafeDumper):
    """Block style for the flow's structure, flow style for small leaf mappings such as
    targets ({role: button, name: Submit}), so a step reads on one line."""


# Keys that make a mapping a step: a step always reads as a block, `- click: ...`.
_STEP_KEYS = frozenset(
    "goto click fill type select check uncheck press hover scroll wait expect extract "
    "screenshot flow within outcome set_viewport evaluate".split()
)
_STEP_OPTIONS = frozenset(("name", "timeout", "optional", "when"))


def _is_leaf(value: object) -> bool:
    if isinstance(value, dict):
        if _STEP_KEYS & set(value) and set(value) - _STEP_KEYS <= _STEP_OPTIONS:
            return False
        return all(isinstance(item, str | int | float | bool) for item in value.values())
    if isinstance(value, list):
        return all(_is_leaf(item) and isinstance(item, dict) for item in value)
    return False


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    flow = _is_leaf(data) and len(data) <= 6 and sum(len(str(v)) for v in data.values()) < 80
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = bool(data) and (
        all(isinstance(item, str) and len(item) < 30 for item in data)
        or (_is_leaf(data) and sum(len(str(item)) for item in data) < 90)
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_FlowDumper.add_representer(dict, _represent_dict)
_FlowDumper.add_representer(list, _represent_list)
_FlowDumper.add_representer(str, _represent_str)


def dump_flow(data: Mapping[str, Any]) -> str:
    """The flow as YAML: stable key order, one line per simple step, Unicode kept readable."""
    return yaml.dump(
        ordered_flow(data),
        Dumper=_FlowDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )


def validate(data: Mapping[str, Any], source: str) -> None:
    """Check translated output with the flow loader, so nothing invalid is ever written."""
    from agent.flow import load_flow_data

    load_flow_data(dict(data), source=source)


def read_json(path: Path | str, text: str | None = None) -> Any:
    """A recording's JSON, with a one-line error naming the file, line and column. A byte order
    mark at the start (Windows editors save one) is not part of the text."""
    import json

    try:
        if text is None:
            text = Path(path).read_text(encoding="utf-8-sig")
        return json.loads(text.removeprefix("\ufeff"))
    except FileNotFoundError:
        raise RecordingError(told(N_("{file}: no such file"), file=path)) from None
    except IsADirectoryError:
        raise RecordingError(told(N_("{file}: is a directory, not a file"), file=path)) from None
    except OSError as error:
        raise RecordingError(
            told(N_("{file}: {reason}"), file=path, reason=error.strerror)
        ) from None
    except UnicodeDecodeError:
        raise RecordingError(told(N_("{file}: not a UTF-8 text file"), file=path)) from None
    except json.JSONDecodeError as error:
        raise RecordingError(
            told(
                N_("{file}:{line}: not valid JSON ({error}, column {column})"),
                file=path,
                line=error.lineno,
                error=error.msg,
                column=error.colno,
            )
        ) from None


def detect_format(data: object, source: str) -> str:
    """'chrome-recorder' or 'selenium-ide' for a parsed recording, else RecordingError naming
    the file (`source`)."""
    if isinstance(data, dict) and isinstance(data.get("tests"), list) and "version" in data:
        return "selenium-ide"
    if isinstance(data, dict) and "steps" in data:
        return "chrome-recorder"
    raise RecordingError(
        told(
            N_(
                "{file}: not a Chrome DevTools Recorder recording (an object with 'title' and "
                "'steps') nor a Selenium IDE project (an object with 'version' and 'tests')"
            ),
            file=source,
        )
    )
