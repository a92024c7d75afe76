"""Targets as Playwright locators: build them from parsed specs, wait for them, pick the one
that matched. Works on a Page, a Frame or a Locator alike.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from agent.flow.targets import as_regex, describe


class TargetTimeout(TimeoutError):
    """No candidate of a target appeared in time."""


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
    except PlaywrightError:
        # A navigation in progress destroys the page's context mid-query: "not there yet".
        return 0


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
    except PlaywrightTimeout:
        tried = " or ".join(describe(spec) for spec in specs)
        raise TargetTimeout(f"no element matched {tried} within {int(timeout)} ms") from None
    if len(locators) == 1:
        return locators[0], 0
    found = await _pick(locators, state)
    if found is None:
        # It appeared and vanished again between the two checks: take the union's choice.
        return combined, 0
    return found
