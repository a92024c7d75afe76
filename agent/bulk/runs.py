"""Recording a new run in the journal: rows checked against the flow, params as they may be stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.bulk.journal import Journal
from agent.bulk.rows import Problem, RowSet, stop_if_strict
from agent.flow import FlowError, bind_params
from agent.i18n import as_told


def public_params(flow: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as they may be stored: a `secret: true` param becomes ***."""
    declared = getattr(flow, "params", {}) or {}
    return {
        name: ("***" if getattr(declared.get(name), "secret", False) else value)
        for name, value in params.items()
    }


def bind_rows(
    flow: Any, rowset: RowSet, shared: Mapping[str, Any], *, strict: bool = False
) -> RowSet:
    """Check every row against the flow's params before any browser starts; a row that does
    not bind becomes a problem naming its file and line (in strict mode, InputError)."""

    checked = RowSet(problems=list(rowset.problems))
    for row in rowset.rows:
        try:
            bind_params(flow, {**shared, **row.params})
        except FlowError as error:
            checked.problems.append(Problem(row.source, row.line, as_told(error)))
            continue
        checked.rows.append(row)
    stop_if_strict(checked, strict)
    return checked


def start_run(
    journal: Journal,
    flow: Any,
    rowset: RowSet,
    *,
    portal: str,
    shared_params: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> str:
    """Record a new run with every row pending; returns its id."""
    return journal.create_run(
        flow=flow.name,
        params=public_params(flow, shared_params or {}),
        portal=portal,
        rows=[(row.key, public_params(flow, row.params)) for row in rowset.rows],
        options=options,
    )
