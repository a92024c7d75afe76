"""/mock/api/: JSON inspection and control for tests, demos and benchmarks.

Open to loopback clients by default; when API_TOKEN is set, every call needs
"Authorization: Bearer <token>" instead (from any address). API_ENABLED False turns it off.
Requests from other sites' pages are refused: see mock_portal/access.py. Bodies are JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from mock_portal import access, clock, db, faults, mail, metrics, orders

bp = Blueprint("api", __name__, url_prefix="/mock/api")


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


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and request.content_length:
        abort(_error(400, "the body must be a JSON object"))
    if data is None:
        return {}
    if not isinstance(data, dict):
        abort(_error(400, "the body must be a JSON object"))
    return data


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
    limit = request.args.get("limit", type=int)
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
    conn = db.get_db()
    row = conn.execute("SELECT seller_id FROM orders WHERE id = ?", (order_id,)).fetchone()
    seller_id = _seller_id(data["seller"]) if data.get("seller") else (row and row["seller_id"])
    if seller_id is None:
        return _error(404, f"no order {order_id}")
    items = data.get("items")
    if items is not None and not isinstance(items, dict):
        return _error(400, "items must be an object {item_id: quantity}")
    result = orders.cancel_order(
        conn,
        seller_id=seller_id,
        order_id=order_id,
        reason=str(data.get("reason", "")),
        memo=str(data.get("memo", "")),
        items=items,
        submit_token=data.get("submit_token") or None,
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
        if data["auto_cancel"] not in clock.PRESETS:
            return _error(400, f"auto_cancel must be one of {', '.join(clock.PRESETS)}")
        with db.transaction(conn):
            db.set_meta(conn, "auto_cancel", data["auto_cancel"])
    advance = data.get("advance")
    if advance is None:
        if "auto_cancel" in data or data.get("sweep"):
            return jsonify({"now": clock.iso(clock.now(conn)), **clock.sweep(conn)})
        return _error(400, 'give {"advance": "31d"} (units d, h, m, s, bd)')
    try:
        result = clock.advance(conn, str(advance))
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
    except faults.FaultError as error:
        return _error(400, str(error))
    faults.state(current_app).set(settings)
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
    kind = data.get("kind", "official")
    if kind not in ("official", "message", "cancel"):
        return _error(400, "kind must be official, message or cancel")
    conn = db.get_db()
    outcome = orders.request_cancellation(
        conn, order_id=order_id, kind=kind, reason=str(data.get("reason", ""))
    )
    response = jsonify({"outcome": outcome, "order": orders.get_order(conn, None, order_id)})
    response.status_code = 404 if outcome == "not_found" else 200
    return response


def _reseed(data: dict[str, Any]) -> Response:
    overrides: dict[str, Any] = {}
    for name in ("seed", "orders"):
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return _error(400, f"{name} must be a whole number >= 0")
            overrides[name] = value
    if overrides.get("orders", 0) > 100_000:
        return _error(400, "orders must be at most 100000")
    summary = db.reset(db.get_db(), current_app.config, **overrides)
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
