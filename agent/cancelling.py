"""Cancelling one order with the bundled flow: its params, and what its result means.

Both `seller-agent cancel` and bulk runs use these, so a line of output means the same
thing whichever way the order was cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.reasons import REASONS, parse_reason

CANCEL_FLOW = "cancel_order"
CANCELLED = "cancelled"


class BadReason(ValueError):
    """A cancellation reason that is neither a code nor a label."""

    def __init__(self, text: str):
        codes = ", ".join(REASONS)
        super().__init__(f"unknown reason '{text}' (use one of: {codes}, or their labels)")


def reason_code(text: str) -> str:
    """The reason code for a code or a label in either language, any case; BadReason if unknown."""
    code = parse_reason(text)
    if code is None:
        raise BadReason(text)
    return code


def cancel_params(order_id: str, reason: str = "BuyerCanceled", memo: str = "") -> dict[str, str]:
    """The cancel_order flow's params for one order (the reason given as a code or a label)."""
    return {"order_id": order_id.strip(), "reason": reason_code(reason), "memo": memo}


def counts_toward_rate(outcome: str, reason: str, buyer_requested: bool | None) -> bool | None:
    """Whether this cancellation counts toward the Order Cancellation Rate.

    It counts unless the reason is Buyer Canceled and the buyer officially asked to cancel
    (the portal's banner); a message-only request does not show the banner, so it counts.
    Only a cancellation made now has an answer: other outcomes give None.
    """
    if outcome != CANCELLED:
        return None
    return not (reason == "BuyerCanceled" and bool(buyer_requested))


def interpret(result: Any, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One order's line of a report: order_id, outcome, reason, buyer_requested,
    counts_toward_rate, ok, error. `params` are the flow's params (order_id, reason)."""
    params = params or {}
    values = getattr(result, "values", None) or {}
    order_id = params.get("order_id") or values.get("order_id")
    reason = params.get("reason") or values.get("reason") or ""
    buyer_requested = values.get("buyer_requested")
    if buyer_requested is not None:
        buyer_requested = bool(buyer_requested)
    return {
        "order_id": order_id,
        "outcome": result.outcome,
        "reason": reason,
        "buyer_requested": buyer_requested,
        "counts_toward_rate": counts_toward_rate(result.outcome, reason, buyer_requested),
        "ok": bool(result.ok),
        "error": result.error,
    }
