"""Target specs: parse and check them. Pure: no browser is needed to read a target.

A target is one spec or an ordered list of fallback specs; agent.play.locate turns them into
Playwright locators.
"""

from __future__ import annotations

import re
from typing import Any

from agent.i18n import _

# One of these keys says how a spec finds its element; the value is what it looks for.
SPEC_KINDS = ("role", "label", "text", "placeholder", "testid", "alt", "title", "css", "xpath")
SPEC_MODIFIERS = ("name", "exact", "nth", "has_text", "frame")
# Keys whose text may be written /like this/i to mean a regular expression.
REGEX_KEYS = ("name", "text", "label", "placeholder", "alt", "title", "has_text")
_REGEX = re.compile(r"^/(?P<body>.+)/(?P<flags>[imsx]*)$", re.DOTALL)
_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class TargetError(ValueError):
    """A target spec is malformed; `field` is the key at fault (empty for the spec itself)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def is_spec(data: object) -> bool:
    """True when a mapping looks like a target spec (it has one of the kind keys)."""
    return isinstance(data, dict) and any(kind in data for kind in SPEC_KINDS)


def as_regex(text: str) -> re.Pattern[str] | None:
    """The compiled pattern for text written /like this/flags, else None.

    Raises re.error for a bad pattern, so a flow is rejected when it loads.
    """
    match = _REGEX.match(text)
    if not match:
        return None
    flags = 0
    for letter in match["flags"]:
        flags |= _FLAG_BITS[letter]
    return re.compile(match["body"], flags)


def _has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def parse_spec(raw: object) -> dict[str, Any]:
    """One spec, normalised to {"kind", "value", and any of name/exact/nth/has_text/frame}."""
    if isinstance(raw, str):
        if not raw.strip():
            raise TargetError(_("a target selector cannot be empty"))
        return {"kind": "selector", "value": raw}
    if not isinstance(raw, dict):
        raise TargetError(
            _("a target is a mapping such as {example} or a selector, not {value}").format(
                example="{testid: x}", value=repr(raw)
            )
        )
    kinds = [key for key in SPEC_KINDS if key in raw]
    if not kinds:
        raise TargetError(_("a target needs one of: {kinds}").format(kinds=", ".join(SPEC_KINDS)))
    if len(kinds) > 1:
        raise TargetError(
            _("a target has one kind, not {kinds}").format(kinds=_(" and ").join(kinds)), kinds[1]
        )
    kind = kinds[0]
    for key in raw:
        if key not in SPEC_KINDS and key not in SPEC_MODIFIERS:
            raise TargetError(_("unknown key '{key}' in a target").format(key=key), str(key))
    spec: dict[str, Any] = {"kind": kind, "value": raw[kind]}
    if not isinstance(spec["value"], str) or not spec["value"].strip():
        raise TargetError(_("'{key}' needs a non-empty text").format(key=kind), kind)
    if "name" in raw:
        if kind != "role":
            raise TargetError(_("'name' goes with 'role' only"), "name")
        if not isinstance(raw["name"], str):
            raise TargetError(_("'name' needs a text"), "name")
        spec["name"] = raw["name"]
    if "exact" in raw:
        if not isinstance(raw["exact"], bool):
            raise TargetError(_("'exact' is true or false"), "exact")
        spec["exact"] = raw["exact"]
    if "nth" in raw:
        if not isinstance(raw["nth"], int) or isinstance(raw["nth"], bool):
            raise TargetError(_("'nth' is a whole number (0 is the first, -1 the last)"), "nth")
        spec["nth"] = raw["nth"]
    for key in ("has_text", "frame"):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key]:
                raise TargetError(_("'{key}' needs a non-empty text").format(key=key), key)
            spec[key] = raw[key]
    for key in REGEX_KEYS:
        text = spec.get("value") if key == kind else spec.get(key)
        if isinstance(text, str) and not _has_template(text):
            try:
                as_regex(text)
            except re.error as error:
                raise TargetError(
                    _("'{key}' is not a valid regular expression ({error})").format(
                        key=key, error=error
                    ),
                    key,
                ) from None
    return spec


def parse_target(raw: object) -> list[dict[str, Any]]:
    """A target as an ordered list of normalised specs (one spec becomes a list of one)."""
    if isinstance(raw, list):
        if not raw:
            raise TargetError(_("a list of fallback targets cannot be empty"))
        specs = []
        for index, item in enumerate(raw):
            try:
                specs.append(parse_spec(item))
            except TargetError as error:
                field = f"[{index}]" + (f".{error.field}" if error.field else "")
                raise TargetError(str(error), field) from None
        return specs
    return [parse_spec(raw)]


def describe(spec: dict[str, Any]) -> str:
    """A short readable form of one spec, as reports show it: role=button[name="Submit"]."""
    if spec["kind"] == "selector":
        text = spec["value"]
    else:
        text = f"{spec['kind']}={spec['value']}"
    if "name" in spec:
        text += f'[name="{spec["name"]}"]'
    if "has_text" in spec:
        text += f' has_text="{spec["has_text"]}"'
    if "nth" in spec:
        text += f" nth={spec['nth']}"
    if "frame" in spec:
        text = f"frame={spec['frame']} >> {text}"
    return text
