"""/mock/api/: JSON inspection and control for tests, demos and benchmarks.

Open to loopback clients by default; when API_TOKEN is set, every call needs
"Authorization: Bearer <token>" instead (from any address). API_ENABLED False turns it off.
Requests from other sites' pages are refused: see mock_portal/access.py. Bodies are JSON.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, current_app, jsonify, request

from mock_portal import access, clock, db, faults, mail, metrics, orders
from mock_portal import seed as seeding

bp = Blueprint("api", __name__, url_prefix="/mock/api")

# Bounds of the inputs: far beyond any real use, and inside what SQLite and datetime hold.
MAX_LIMIT = 100_000
MAX_ORDERS = 100_000
MAX_SEED = 2**31 - 1
MAX_ITEMS = 1_000
MAX_QUANTITY = 1_000_000
MAX_EMAIL_LENGTH = 254
MAX_ORDER_ID_LENGTH = 64
MAX_REASON_LENGTH = 100
MAX_TEXT_LENGTH = 1_000  # the Cancel order form's memo limit
MAX_SUBMIT_TOKEN_LENGTH = 64


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


@bp.before_request
def _guard() -> Response | None:
    if not current_app.config.get("API_ENABLED", True):
        abort(404)
    refused = access.door_refusal()
    if refused:
        response = _error(*refused)
        if refused[0] == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    # A page on another site can send a form or text/plain body without asking first; a JSON
    # body makes the browser ask (a CORS preflight), which this API never grants.
    if request.method not in ("GET", "HEAD", "OPTIONS") and _has_body() and not request.is_json:
        return _error(415, "send the body as JSON (Content-Type: application/json)")
    return None


def _has_body() -> bool:
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return bool(request.content_length) or chunked


@bp.errorhandler(413)
def _too_large(_error_: Exception) -> Response:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return _error(413, f"the body is too large (at most {limit} bytes)")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _json_body() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        # Python's parser takes NaN and Infinity, which JSON has not; as quantities or
        # settings they only crash int() further on.
        data = json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError):
        abort(_error(400, "the body must be a JSON object"))
    if not isinstance(data, dict):
        abort(_error(400, "the body must be a JSON object"))
    return data


def _bad(message: str) -> NoReturn:
    abort(_error(400, message))


def _text(data: dict[str, Any], name: str, max_length: int, default: str | None = "") -> Any:
    """A string field of the body (absent or null: `default`), at most `max_length` long."""
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > max_length:
        _bad(f"{name} must be a string of at most {max_length} characters")
    return value


def _whole(value: Any, name: str, low: int, high: int) -> int:
    # bool is an int to Python, and 2.5 or 1e3 are no counts.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _bad(f"{name} must be a whole number from {low} to {high}")
    return value


def _whole_arg(name: str, low: int, high: int) -> int | None:
    """A whole-number query parameter; absent or empty: None. ASCII digits only (int()
    also reads full-width digits and signs, and any length)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(high)):
        _bad(f"{name} must be a whole number from {low} to {high}")
    return _whole(int(raw), name, low, high)


def _quantities(value: Any) -> dict[int, int] | None:
    """The body's {item_id: quantity}, validated; None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        _bad(f"items must be an object {{item_id: quantity}} of at most {MAX_ITEMS} items")
    quantities = {}
    for key, quantity in value.items():
        if not key.isascii() or not key.isdigit() or len(key) > 18:
            _bad(f"items: {key[:20]!r} is not an item id (a whole number)")
        quantities[int(key)] = _whole(
            quantity, f"items: the quantity of item {key}", 0, MAX_QUANTITY
        )
    return quantities


def _seller_id(email: str | None) -> int:
    conn = db.get_db()
    email = email or current_app.config.get("DEMO_EMAIL", "seller@example.com")
    seller_id = orders.seller_id_for(conn, email)
    if seller_id is None:
        abort(_error(404, f"no seller {email!r}"))
    return seller_id


@bp.get("/health")
def health() -> Response:
    return jsonify({"ok": True})


@bp.get("/orders")
def list_orders() -> Response:
    status = request.args.get("status") or None
    if status is not None and status not in orders.STATUSES:
        return _error(400, f"unknown status {status!r} (one of {', '.join(orders.STATUSES)})")
    kind = request.args.get("buyer_request_kind") or None
    if kind is not None and kind not in ("official", "message"):
        return _error(400, "buyer_request_kind must be official or message")
    limit = _whole_arg("limit", 0, MAX_LIMIT)
    found = orders.find_orders(
        db.get_db(),
        status=status,
        seller=request.args.get("seller") or None,
        buyer_request_kind=kind,
        limit=limit,
    )
    return jsonify({"orders": found})


@bp.get("/orders/<order_id>")
def get_order(order_id: str) -> Response:
    order = orders.get_order(db.get_db(), None, order_id)
    if order is None:
        return _error(404, f"no order {order_id}")
    return jsonify(order)


@bp.post("/orders/<order_id>/cancel")
def cancel_order(order_id: str) -> Response:
    """Cancel as the order's seller would through the form (for tests and benchmarks)."""
    data = _json_body()
    seller = _text(data, "seller", MAX_EMAIL_LENGTH)
    reason = _text(data, "reason", MAX_REASON_LENGTH)
    memo = _text(data, "memo", MAX_TEXT_LENGTH)
    submit_token = _text(data, "submit_token", MAX_SUBMIT_TOKEN_LENGTH)
    items = _quantities(data.get("items"))
    conn = db.get_db()
    row = conn.execute("SELECT seller_id FROM orders WHERE id = ?", (order_id,)).fetchone()
    seller_id = _seller_id(seller) if seller else (row and row["seller_id"])
    if seller_id is None:
        return _error(404, f"no order {order_id}")
    result = orders.cancel_order(
        conn,
        seller_id=seller_id,
        order_id=order_id,
        reason=reason,
        memo=memo,
        items=items,
        submit_token=submit_token or None,
    )
    status = 404 if result.outcome == "not_found" else 200
    response = jsonify({"outcome": result.outcome, "order": result.order})
    response.status_code = status
    return response


@bp.post("/orders/<order_id>/ship")
def ship_order(order_id: str) -> Response:
    outcome = orders.confirm_shipment(db.get_db(), seller_id=None, order_id=order_id)
    response = jsonify({"outcome": outcome})
    response.status_code = 404 if outcome == "not_found" else 200
    return response


@bp.get("/mail")
def list_mail() -> Response:
    found = mail.list_mail(
        db.get_db(),
        to=request.args.get("to") or None,
        order_id=request.args.get("order_id") or None,
        kind=request.args.get("kind") or None,
    )
    return jsonify({"mail": found})


@bp.get("/metrics")
def get_metrics() -> Response:
    conn = db.get_db()
    return jsonify(metrics.cancellation_rate(conn, _seller_id(request.args.get("seller"))))


@bp.get("/clock")
def get_clock() -> Response:
    conn = db.get_db()
    return jsonify(
        {
            "now": clock.iso(clock.now(conn)),
            "offset_seconds": clock.offset_seconds(conn),
            "auto_cancel": clock.preset(conn),
        }
    )


@bp.post("/clock")
def move_clock() -> Response:
    data = _json_body()
    conn = db.get_db()
    if "auto_cancel" in data:
        if not isinstance(data["auto_cancel"], str) or data["auto_cancel"] not in clock.PRESETS:
            return _error(400, f"auto_cancel must be one of {', '.join(clock.PRESETS)}")
        with db.transaction(conn):
            db.set_meta(conn, "auto_cancel", data["auto_cancel"])
    advance = data.get("advance")
    if advance is None:
        if "auto_cancel" in data or data.get("sweep"):
            return jsonify({"now": clock.iso(clock.now(conn)), **orders.sweep(conn)})
        return _error(400, 'give {"advance": "31d"} (units d, h, m, s, bd)')
    if not isinstance(advance, str):
        return _error(400, 'advance must be a string such as "31d" (units d, h, m, s, bd)')
    try:
        result = orders.advance_clock(conn, advance)
    except ValueError as error:
        return _error(400, f"advance: {error}")
    return jsonify(result)


@bp.get("/faults")
def get_faults() -> Response:
    return jsonify(faults.state(current_app).describe())


@bp.post("/faults")
def set_faults() -> Response:
    try:
        settings = faults.FaultSettings.parse(_json_body())
        faults.state(current_app).set(settings)
    except faults.FaultError as error:
        return _error(400, str(error))
    return jsonify(faults.state(current_app).describe())


@bp.delete("/faults")
def clear_faults() -> Response:
    faults.state(current_app).set(faults.FaultSettings())
    return jsonify(faults.state(current_app).describe())


@bp.post("/buyer-requests")
def buyer_request() -> Response:
    data = _json_body()
    order_id = data.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        return _error(400, "order_id is required")
    if len(order_id) > MAX_ORDER_ID_LENGTH:
        return _error(400, f"order_id must be at most {MAX_ORDER_ID_LENGTH} characters")
    kind = data.get("kind", "official")
    if not isinstance(kind, str) or kind not in ("official", "message", "cancel"):
        return _error(400, "kind must be official, message or cancel")
    reason = _text(data, "reason", MAX_TEXT_LENGTH)
    conn = db.get_db()
    outcome = orders.request_cancellation(conn, order_id=order_id, kind=kind, reason=reason)
    response = jsonify({"outcome": outcome, "order": orders.get_order(conn, None, order_id)})
    response.status_code = 404 if outcome == "not_found" else 200
    return response


def _reseed(data: dict[str, Any]) -> Response:
    overrides: dict[str, Any] = {}
    for name, high in (("seed", MAX_SEED), ("orders", MAX_ORDERS)):
        if name in data:
            overrides[name] = _whole(data[name], name, 0, high)
    summary = seeding.reset(db.get_db(), current_app.config, **overrides)
    faults.state(current_app).set(faults.FaultSettings())
    return jsonify(summary)


@bp.post("/seed")
def seed() -> Response:
    """Wipe and seed again, with `seed` and `orders` from the body (default: the config)."""
    return _reseed(_json_body())


@bp.post("/reset")
def reset() -> Response:
    """Back to the start: the configured seed and order count, clock and faults cleared."""
    return _reseed({})
