"""Cancelling one order with the bundled flow: its params, and what its result means.

Both `seller-agent cancel` and bulk runs use these, so a line of output means the same
thing whichever way the order was cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.cancel.reasons import REASONS, parse_reason
from agent.errors import UserError
from agent.i18n import N_, told

CANCEL_FLOW = "cancel_order"
CANCELLED = "cancelled"


class BadReason(UserError, ValueError):
    """A cancellation reason that is neither a code nor a label."""

    def __init__(self, text: str):
        codes = ", ".join(REASONS)
        super().__init__(
            told(
                N_("unknown reason '{reason}' (use one of: {codes}, or their labels)"),
                reason=text,
                codes=codes,
            )
        )


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


def report_facts(row: Any) -> dict[str, Any]:
    """What a report says about one journal row of a cancel run beyond the journal's own
    fields: whether its cancellation counts toward the rate, as the command's line says."""
    requested = (row.values or {}).get("buyer_requested")
    return {
        "counts_toward_rate": counts_toward_rate(
            row.outcome or row.state,
            (row.params or {}).get("reason") or "",
            None if requested is None else bool(requested),
        )
    }


# When a row that may already have acted (reclaimed after a crash, or retried after a
# transient failure) finds the order already cancelled, and the flow's values show the
# cancellation is this seller's with this row's reason, the earlier attempt did it.
RECONCILE_OUTCOMES = {"already_cancelled": "cancelled"}


def reconcile(flow: Any, row_params: Mapping[str, Any], result: Any) -> str | None:
    """The outcome to record for a row that may already have acted and now meets its guard:
    the success outcome when the flow's values show the earlier attempt did it, else None."""
    target = RECONCILE_OUTCOMES.get(result.outcome)
    if target is None or target not in flow.outcomes:
        return None
    values = result.values or {}
    by = str(values.get("cancelled_by", "")).strip().lower()
    reason = values.get("cancel_reason") or values.get("reason")
    wanted = row_params.get("reason")
    if by in {"seller", "you", "卖家"} and reason and wanted and _same_reason(reason, wanted):
        return target
    return None


def _same_reason(shown: Any, wanted: Any) -> bool:
    from agent.cancel.reasons import parse_reason

    return (parse_reason(str(shown)) or str(shown)) == (parse_reason(str(wanted)) or str(wanted))
