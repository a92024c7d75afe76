"""The Cancel order page: GET shows the form, POST validates it and cancels (Post/Redirect/Get)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from mock_portal import db
from mock_portal import orders as domain
from mock_portal.i18n import notify
from mock_portal.reasons import REASONS
from mock_portal.views.auth import login_required
from mock_portal.views.orders import load_order_or_404

bp = Blueprint("cancel", __name__)

MAX_MEMO_LENGTH = 1000
SUBMIT_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_QUANTITY_DIGITS = 6


def _form_page(
    order: dict[str, Any],
    *,
    errors: list[str],
    status: int = 200,
    values: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    values = values or {}
    return (
        render_template(
            "cancel/cancel.html",
            order=order,
            reasons=REASONS,
            errors=errors,
            submit_token=secrets.token_urlsafe(16),
            chosen_reason=values.get("reason", ""),
            memo=values.get("memo", ""),
            scope=values.get("scope", "order"),
            quantities=values.get("quantities", {}),
        ),
        status,
    )


def _state_page(order: dict[str, Any], outcome: str, status: int = 200) -> ResponseReturnValue:
    return render_template("cancel/cancel.html", order=order, outcome=outcome), status


def _blocked_outcome(order: dict[str, Any]) -> str | None:
    if order["status"] == "Canceled":
        return "already_cancelled"
    if not order.get("cancellable"):
        return "not_cancellable"
    return None


def remaining(item: dict[str, Any]) -> int:
    return int(item["quantity"]) - int(item.get("quantity_cancelled") or 0)


def parse_quantities(
    order: dict[str, Any], form: Any
) -> tuple[dict[int, int] | None, dict[str, str]]:
    """The {item_id: quantity} to cancel from the qty_<item-id> fields, or None when any is
    not a whole number within what is left of its item, or when all are zero. Also returns
    the raw values, so a re-rendered form keeps what the seller typed."""
    chosen: dict[int, int] = {}
    raw_values: dict[str, str] = {}
    valid = True
    for item in order["items"]:
        raw = form.get(f"qty_{item['id']}", "").strip()
        raw_values[str(item["id"])] = raw[: MAX_QUANTITY_DIGITS + 2]
        if not raw.isdecimal() or not raw.isascii() or len(raw) > MAX_QUANTITY_DIGITS:
            valid = False
            continue
        quantity = int(raw)
        if quantity > remaining(item):
            valid = False
        elif quantity > 0:
            chosen[item["id"]] = quantity
    if not valid or not chosen:
        return None, raw_values
    return chosen, raw_values


@bp.route("/orders-v3/order/<order_id>/cancel", methods=["GET"])
@login_required
def cancel_page(order_id: str) -> ResponseReturnValue:
    order = load_order_or_404(order_id)
    blocked = _blocked_outcome(order)
    if blocked:
        return _state_page(order, blocked)
    return _form_page(order, errors=[])


@bp.route("/orders-v3/order/<order_id>/cancel", methods=["POST"])
@login_required
def cancel_submit(order_id: str) -> ResponseReturnValue:
    order = load_order_or_404(order_id)
    form = request.form
    reason = form.get("reason", "")
    memo = form.get("memo", "")
    scope = form.get("scope", "order")
    errors: list[str] = []
    if reason not in REASONS:
        errors.append("error_reason")
        reason = ""
    if len(memo) > MAX_MEMO_LENGTH:
        errors.append("error_memo")
    if scope not in ("order", "items"):
        errors.append("error_scope")
        scope = "order"
    items, typed = parse_quantities(order, form)
    if scope == "items" and items is None:
        errors.append("error_quantities")
    if errors:
        blocked = _blocked_outcome(order)
        if blocked:
            return _state_page(order, blocked)
        values = {
            "reason": reason,
            "memo": memo[:MAX_MEMO_LENGTH],
            "scope": scope,
            "quantities": typed,
        }
        return _form_page(order, errors=errors, status=400, values=values)

    token = form.get("submit_token", "")
    result = domain.cancel_order(
        db.get_db(),
        seller_id=g.seller["id"],
        order_id=order["order_id"],
        reason=reason,
        memo=memo,
        items=items if scope == "items" else None,
        submit_token=token if SUBMIT_TOKEN.fullmatch(token) else None,
    )
    outcome = result.outcome
    if outcome in ("cancelled", "items_cancelled"):
        key = "cancel_confirmation" if outcome == "cancelled" else "cancel_items_confirmation"
        notify(key, "cancel-confirmation", order_id=order["order_id"])
        return redirect(url_for("orders.details", order_id=order["order_id"]), code=303)
    if outcome == "not_found":
        abort(404)
    latest = result.order or order
    if outcome in ("already_cancelled", "not_cancellable"):
        return _state_page(latest, outcome)
    # invalid_reason / invalid_items: the domain's own checks disagreed with ours (e.g. the
    # items changed between the page and the submit); show the form again with the error.
    error = "error_reason" if outcome == "invalid_reason" else "error_quantities"
    values = {"reason": reason, "memo": memo, "scope": scope, "quantities": typed}
    return _form_page(latest, errors=[error], status=400, values=values)
