"""What a flow's guard (its first `outcome` step) means to the engine: the dry-run pass that
stops there, and whether a failed attempt got past it (and so may have acted)."""

from __future__ import annotations

from typing import Any

from agent.flow import FlowError, load_flow_data
from agent.i18n import N_, told

# Steps that only look at the page: a dry run may go on through them after the guard.
LOOKING_STEPS = {"wait", "expect", "extract", "screenshot", "outcome", "scroll", "hover"}


DRY_RUN_OUTCOME = "would_run"


def dry_run_flow(flow: Any) -> Any:
    """The flow's guard-only pass: its steps up to the first guard (`outcome` step) and the
    look-only steps after it, ending in `would_run` when no guard outcome holds. The bundled
    cancel flow has no dry_run param, and nothing after its guard is safe to replay."""

    steps = list(flow.steps)
    guard = next((index for index, step in enumerate(steps) if step.kind == "outcome"), None)
    if guard is None:
        raise FlowError(
            told(
                N_("{flow}: no guard (outcome) step, so a dry run cannot stop safely"),
                flow=flow.name,
            )
        )
    end = guard + 1
    while end < len(steps) and steps[end].kind in LOOKING_STEPS:
        end += 1
    outcomes = dict(flow.outcomes)
    # Every page URL contains "/": the outcome holds whenever no guard outcome did. The
    # condition goes through the flow loader so it has the shape the player expects.
    always = load_flow_data(
        {"name": "dry-run", "steps": [{"goto": "/"}], "outcomes": {DRY_RUN_OUTCOME: {"url": "/"}}}
    )
    outcomes[DRY_RUN_OUTCOME] = always.outcomes[DRY_RUN_OUTCOME]
    success = list(flow.success or flow.outcomes) + [DRY_RUN_OUTCOME]
    return flow.model_copy(update={"steps": steps[:end], "outcomes": outcomes, "success": success})


def _steps_after_guard(flow: Any) -> set[tuple[str, int | None]]:
    steps = list(flow.steps)
    guard = next((i for i, step in enumerate(steps) if step.kind == "outcome"), None)
    found: set[tuple[str, int | None]] = set()
    pending = steps[guard + 1 :] if guard is not None else []
    while pending:
        step = pending.pop()
        found.add((step.name or step.path, step.line))
        nested = step.args.get("steps") if isinstance(step.args, dict) else None
        if isinstance(nested, list):
            pending.extend(item for item in nested if hasattr(item, "kind"))
    return found


def passed_guard(flow: Any, result: Any) -> bool:
    """True when a failed attempt reached a step after the flow's first guard (it resolved
    that step's target), so it may have changed something before it failed."""
    after = _steps_after_guard(flow)
    return any((match.get("step"), match.get("line")) in after for match in result.matches or [])
