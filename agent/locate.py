"""Target specs: parse and check them (pure), and turn them into Playwright locators.

A target is one spec or an ordered list of fallback specs. Parsing needs no browser; building
and resolving take a Playwright Page, Frame or Locator (duck-typed, so this module never
imports Playwright and loads fast).
"""

from __future__ import annotations

import re
from typing import Any

# One of these keys says how a spec finds its element; the value is what it looks for.
SPEC_KINDS = ("role", "label", "text", "placeholder", "testid", "alt", "title", "css", "xpath")
SPEC_MODIFIERS = ("name", "exact", "nth", "has_text", "frame")
# Keys whose text may be written /like this/i to mean a regular expression.
REGEX_KEYS = ("name", "text", "label", "placeholder", "alt", "title", "has_text")
_REGEX = re.compile(r"^/(?P<body>.+)/(?P<flags>[imsx]*)$", re.DOTALL)
_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class TargetTimeout(TimeoutError):
    """No candidate of a target appeared in time."""


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
            raise TargetError("a target selector cannot be empty")
        return {"kind": "selector", "value": raw}
    if not isinstance(raw, dict):
        raise TargetError(f"a target is a mapping such as {{testid: x}} or a selector, not {raw!r}")
    kinds = [key for key in SPEC_KINDS if key in raw]
    if not kinds:
        raise TargetError(f"a target needs one of: {', '.join(SPEC_KINDS)}")
    if len(kinds) > 1:
        raise TargetError(f"a target has one kind, not {' and '.join(kinds)}", kinds[1])
    kind = kinds[0]
    for key in raw:
        if key not in SPEC_KINDS and key not in SPEC_MODIFIERS:
            raise TargetError(f"unknown key '{key}' in a target", str(key))
    spec: dict[str, Any] = {"kind": kind, "value": raw[kind]}
    if not isinstance(spec["value"], str) or not spec["value"].strip():
        raise TargetError(f"'{kind}' needs a non-empty text", kind)
    if "name" in raw:
        if kind != "role":
            raise TargetError("'name' goes with 'role' only", "name")
        if not isinstance(raw["name"], str):
            raise TargetError("'name' needs a text", "name")
        spec["name"] = raw["name"]
    if "exact" in raw:
        if not isinstance(raw["exact"], bool):
            raise TargetError("'exact' is true or false", "exact")
        spec["exact"] = raw["exact"]
    if "nth" in raw:
        if not isinstance(raw["nth"], int) or isinstance(raw["nth"], bool):
            raise TargetError("'nth' is a whole number (0 is the first, -1 the last)", "nth")
        spec["nth"] = raw["nth"]
    for key in ("has_text", "frame"):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key]:
                raise TargetError(f"'{key}' needs a non-empty text", key)
            spec[key] = raw[key]
    for key in REGEX_KEYS:
        text = spec.get("value") if key == kind else spec.get(key)
        if isinstance(text, str) and not _has_template(text):
            try:
                as_regex(text)
            except re.error as error:
                raise TargetError(
                    f"'{key}' is not a valid regular expression ({error})", key
                ) from None
    return spec


def parse_target(raw: object) -> list[dict[str, Any]]:
    """A target as an ordered list of normalised specs (one spec becomes a list of one)."""
    if isinstance(raw, list):
        if not raw:
            raise TargetError("a list of fallback targets cannot be empty")
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


def _text_arg(text: str) -> Any:
    return as_regex(text) or text


def build(scope: Any, spec: dict[str, Any]) -> Any:
    """The Playwright locator of one rendered spec, inside scope (a Page, Frame or Locator)."""
    if "frame" in spec:
        scope = scope.frame_locator(spec["frame"])
    kind, value = spec["kind"], spec["value"]
    exact = spec.get("exact")
    if kind == "role":
        options: dict[str, Any] = {}
        if "name" in spec:
            options["name"] = _text_arg(spec["name"])
        if exact is not None:
            options["exact"] = exact
        locator = scope.get_by_role(value, **options)
    elif kind == "label":
        locator = scope.get_by_label(_text_arg(value), exact=exact)
    elif kind == "text":
        locator = scope.get_by_text(_text_arg(value), exact=exact)
    elif kind == "placeholder":
        locator = scope.get_by_placeholder(_text_arg(value), exact=exact)
    elif kind == "alt":
        locator = scope.get_by_alt_text(_text_arg(value), exact=exact)
    elif kind == "title":
        locator = scope.get_by_title(_text_arg(value), exact=exact)
    elif kind == "testid":
        locator = scope.get_by_test_id(value)
    elif kind == "css":
        locator = scope.locator(f"css={value}")
    elif kind == "xpath":
        locator = scope.locator(f"xpath={value}")
    else:
        locator = scope.locator(value)
    if "has_text" in spec:
        locator = locator.filter(has_text=_text_arg(spec["has_text"]))
    if "nth" in spec:
        locator = locator.nth(spec["nth"])
    return locator


def join(locators: list[Any]) -> Any:
    """One locator matching what any of the locators matches (Locator.or_)."""
    combined = locators[0]
    for locator in locators[1:]:
        combined = combined.or_(locator)
    return combined


def union(scope: Any, specs: list[dict[str, Any]]) -> Any:
    """One locator matching what any of the candidates matches."""
    return join([build(scope, spec) for spec in specs])


def visible(locator: Any) -> Any:
    """The locator narrowed to its visible elements."""
    return locator.filter(visible=True)


async def _count(locator: Any) -> int:
    try:
        return await locator.count()
    except Exception as error:
        # A navigation in progress destroys the page's context mid-query: "not there yet".
        if type(error).__module__.startswith("playwright"):
            return 0
        raise


async def any_visible(scope: Any, specs: list[dict[str, Any]]) -> bool:
    """Whether any candidate has a visible element right now: one round trip, no waiting."""
    return await _count(visible(union(scope, specs))) > 0


async def any_present(scope: Any, specs: list[dict[str, Any]]) -> bool:
    """Whether any candidate has an element, visible or not, right now: one round trip."""
    return await _count(union(scope, specs)) > 0


async def _pick(locators: list[Any], state: str) -> tuple[Any, int] | None:
    """The first candidate with a visible element (or, for state "attached", any element)."""
    for index, locator in enumerate(locators):
        if await _count(visible(locator) if state == "visible" else locator):
            return locator, index
    return None


async def present(scope: Any, specs: list[dict[str, Any]]) -> tuple[Any, int] | None:
    """The first candidate present right now (visible preferred), with its index; no waiting.

    One round trip when nothing matches, two when the first candidate is visible.
    """
    locators = [build(scope, spec) for spec in specs]
    if not await _count(join(locators)):
        return None
    return await _pick(locators, "visible") or await _pick(locators, "attached")


async def resolve(
    scope: Any, specs: list[dict[str, Any]], timeout: float, state: str = "visible"
) -> tuple[Any, int]:
    """Wait (up to timeout ms) until any candidate appears, then pick the first one present.

    The first choice is looked at once; then the candidates are raced together with
    Locator.or_, so a missing first choice costs no extra wait. Raises TargetTimeout naming
    every candidate when none appears.
    """
    locators = [build(scope, spec) for spec in specs]
    # Usually the page is ready and the first choice is there: one look, no wait.
    if await _count(visible(locators[0]) if state == "visible" else locators[0]):
        return locators[0], 0
    combined = join(locators)
    waited = visible(combined) if state == "visible" else combined
    try:
        await waited.first.wait_for(state="attached", timeout=timeout)
    except Exception as error:
        if type(error).__name__ == "TimeoutError":
            tried = " or ".join(describe(spec) for spec in specs)
            raise TargetTimeout(f"no element matched {tried} within {int(timeout)} ms") from None
        raise
    if len(locators) == 1:
        return locators[0], 0
    found = await _pick(locators, state)
    if found is None:
        # It appeared and vanished again between the two checks: take the union's choice.
        return combined, 0
    return found
