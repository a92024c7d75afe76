"""Reading ahead: the guards and `when` conditions that follow one another on an unchanged
page, answered together in one round trip when none of them holds.

On the usual path of a flow, a row of steps after a page loads only reads it: a `when` that
sends the run elsewhere when the order is missing, another when it is already cancelled, a
guard for outcomes that end the run early. Each is false almost every time, and each costs a
round trip to the browser when asked alone. Each such condition has a witness: a locator
with an element whenever the condition holds (for a condition made of bare targets, the
locator that answers it exactly). When the witnesses of the whole row together have no
element, every condition of the row is false, and one count has said so. When they have one,
nothing is concluded and the steps ask their own conditions as before, so the answer is
never anything but what reading them one by one would have given on that page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError

from agent import flow as flowlib
from agent.play import locate

HOLDS = True  # certainly holds, without a read
NEVER = False  # certainly does not hold, without a read


def plain_target(condition: dict) -> bool:
    """A bare target condition: it holds when any candidate has a visible element."""
    return condition["kind"] == "target" and not {"count", "value", "text"} & condition.keys()


@lru_cache(maxsize=1024)
def _names_in_text(text: str) -> frozenset[str]:
    return frozenset(flowlib.template_names(text)) if flowlib.has_template(text) else frozenset()


def names_used(value: Any) -> set[str]:
    """Every name a condition (or a step's arguments) refers to: in its templates, and the
    names its `given` conditions ask about."""
    names: set[str] = set()
    if isinstance(value, str):
        names |= _names_in_text(value)
    elif isinstance(value, dict):
        if value.get("kind") == "given":
            names.add(value["value"])
        for item in value.values():
            names |= names_used(item)
    elif isinstance(value, list | tuple):
        for item in value:
            names |= names_used(item)
    return names


class Reader:
    """Witnesses and the round trips a condition costs, for one page and one context.

    combined: the runner's exact one-locator form of a condition (None when it has none);
    local: the answer of a condition read without the browser (`given`, `url`), else None;
    present: the locator with an element when any of a target's candidates has one.
    Each renders the condition's templates with the context it was made for. A condition's
    one-locator form is made once per reader: `witness` and `reads` ask for it at every level
    of a tree, and the flow's conditions do not change while a reader is used.
    """

    def __init__(
        self,
        combined: Callable[[dict], Any],
        local: Callable[[dict], bool | None],
        present: Callable[[list[dict]], Any],
    ):
        self._combined = combined
        self._made: dict[int, Any] = {}
        self.local = local
        self.present = present

    def combined(self, condition: dict) -> Any:
        key = id(condition)
        if key not in self._made:
            self._made[key] = self._combined(condition)
        return self._made[key]

    def witness(self, condition: dict) -> Any:
        """HOLDS, NEVER, None (nothing can be said without reading it), or a locator that
        has an element whenever the condition holds."""
        known = self.local(condition)
        if known is not None:
            return HOLDS if known else NEVER
        kind = condition["kind"]
        if kind == "target":
            if plain_target(condition):
                return self.combined(condition)
            if "count" in condition:
                return None  # a count of 0 holds where nothing is
            if any("frame" in spec for spec in condition["target"]):
                return None
            # A text or value is read from a candidate that is there: none, nothing to read.
            return self.present(condition["target"])
        if kind == "any":
            parts = [self.witness(item) for item in condition["items"]]
            if any(part is None or part is HOLDS for part in parts):
                return None
            found = [part for part in parts if part is not NEVER]
            return locate.join(found) if found else NEVER
        if kind in ("all", "not"):
            exact = self.combined(condition)
            if exact is not None:
                return exact
        if kind == "all":
            parts = [self.witness(item) for item in condition["items"]]
            if any(part is NEVER for part in parts):
                return NEVER
            # Every item must hold, so any one item's witness is the whole condition's.
            found = [part for part in parts if part is not None and part is not HOLDS]
            if found:
                return found[0]
            return HOLDS if all(part is HOLDS for part in parts) else None
        if kind == "not":
            inner = self.witness(condition["item"])
            return NEVER if inner is HOLDS else None
        return None  # a title: read from the page

    def reads(self, condition: dict) -> int:
        """About how many round trips asking the condition alone takes when it is false."""
        if self.local(condition) is not None:
            return 0
        if self.combined(condition) is not None:
            return 1
        kind = condition["kind"]
        if kind == "any":
            items = condition["items"]
            joined = any(self.combined(item) is not None for item in items)
            return int(joined) + sum(
                self.reads(item) for item in items if self.combined(item) is None
            )
        if kind == "all":
            return max((self.reads(item) for item in condition["items"]), default=0)
        if kind == "not":
            return self.reads(condition["item"])
        return 1


def guard_condition(step: flowlib.Step, flow: flowlib.Flow) -> dict:
    """The condition under which a guard step ends the run: any of its outcomes."""
    return {"kind": "any", "items": [flow.outcomes[name] for name in step.args["names"]]}


def settled_row(
    steps: list[flowlib.Step], flow: flowlib.Flow, reader: Reader
) -> tuple[list[flowlib.Step], Any]:
    """The steps from the first on whose conditions one count can settle, and the locator to
    count (None when reading ahead would not save a round trip).

    The row is made of steps with a `when` (skipped when it is false), guards (passed when
    none of their outcomes holds) and extracts of presence or of all matches (read at once,
    without waiting: nothing there, they are answered too). A condition that uses what an
    extract of the row extracts ends the row. Any other step ends it: it acts on the page,
    or waits for it to change.
    """
    row: list[flowlib.Step] = []
    witnesses: list[Any] = []
    reads = 0
    extracted: set[str] = set()
    for step in steps:
        if step.when is not None:
            condition = step.when
        elif step.kind == "outcome":
            condition = guard_condition(step, flow)
        elif step.kind == "extract" and (step.args["present"] or step.args["all"]):
            # Read at once, without waiting for the page to change: the rest of the row reads
            # the same page. Where none of its candidates is there, it has its answer (not
            # present, or no values) from the same count; otherwise it reads as usual.
            extracted.add(step.args["as"])
            if any("frame" in spec for spec in step.args["target"]):
                continue
            try:
                found = reader.present(step.args["target"])
            except TemplateError:
                continue
            row.append(step)
            reads += 1
            witnesses.append(found)
            continue
        else:
            break
        if extracted & names_used(condition):
            break
        try:
            found = reader.witness(condition)
            cost = reader.reads(condition)
        except TemplateError:
            # A template that does not render here is the step's own error, raised by it.
            break
        if found is None or found is HOLDS:
            break
        row.append(step)
        reads += cost
        if found is not NEVER:
            witnesses.append(found)
    if reads < 2:
        return [], None
    return row, locate.join(witnesses) if witnesses else NEVER


def next_action(steps: list[flowlib.Step]) -> flowlib.Step | None:
    """The first of the steps that is not one of a row's reads (a step with a `when`, a
    guard, an extract of presence or of all matches): the step that acts after them, when
    they all turn out false. None when it uses what one of those extracts reads."""
    extracted: set[str] = set()
    for step in steps:
        if step.when is not None or step.kind == "outcome":
            continue
        if step.kind == "extract" and (step.args["present"] or step.args["all"]):
            extracted.add(step.args["as"])
            continue
        inner = step.args.get("steps") or []
        used = names_used(step.args.get("target")) | names_used(
            [item.args.get("target") for item in inner[:1]]
        )
        return None if used & extracted else step
    return None
