"""Home, Manage Orders (tabs, search, pagination), order details, shipment and packing slip."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from mock_portal import db
from mock_portal import orders as domain
from mock_portal.i18n import notify
from mock_portal.views.auth import login_required, safe_next

bp = Blueprint("orders", __name__)

PAGE_SIZE = 25
DEFAULT_TAB = "unshipped"
SEARCH_TYPES = ("orderid", "buyer-email", "sku", "asin")
MAX_QUERY_LENGTH = 200
MAX_ORDER_ID_LENGTH = 64
# Seller Central's own addresses of the tabs; the Shipped tab lives outside /mfn/. "All" has no
# publicly known address of its own and stays at /orders-v3/?tab=all.
TAB_PATHS = {
    "pending": "/orders-v3/mfn/pending",
    "unshipped": "/orders-v3/mfn/unshipped",
    "canceled": "/orders-v3/mfn/canceled",
    "shipped": "/orders-v3/shipped",
}
DEFAULT_DATE_RANGE = "last-30"
# Far beyond any real page count, and keeps OFFSET arithmetic in SQLite's integer range.
MAX_PAGE = 100_000


def page_number(raw: str | None) -> int:
    """A page number from the query string; anything that is not a sane integer means page 1."""
    try:
        page = int(raw or "1")
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


def load_order_or_404(order_id: str) -> dict[str, Any]:
    """The signed-in seller's order, or the 404 "No orders found" page (also for other
    sellers' orders, so their existence is not revealed)."""
    order = None
    if len(order_id) <= MAX_ORDER_ID_LENGTH:
        order = domain.get_order(db.get_db(), g.seller["id"], order_id)
    if order is None:
        abort(404)
    return order


@bp.app_errorhandler(404)
def not_found(error: HTTPException) -> Any:
    # The JSON API answers its own errors; only pages get the "No orders found" page.
    if request.path.startswith("/mock/api/"):
        return error
    return render_template("orders/not_found.html"), 404


@bp.route("/")
def root() -> ResponseReturnValue:
    return redirect(url_for("orders.home"))


@bp.route("/home")
@login_required
def home() -> ResponseReturnValue:
    return render_template("orders/home.html")


def _list_page(*, tab: str | None, q: str | None, qt: str) -> str:
    conn = db.get_db()
    page = page_number(request.args.get("page"))
    rows: list[dict[str, Any]] = []
    total = 0
    if q is None or len(q) <= MAX_QUERY_LENGTH:
        rows, total = domain.list_orders(
            conn,
            g.seller["id"],
            tab=tab or "all",
            q=q,
            qt=qt,
            page=page,
            page_size=PAGE_SIZE,
        )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return render_template(
        "orders/manage.html",
        orders=rows,
        total=total,
        page=page,
        pages=pages,
        page_size=PAGE_SIZE,
        tab=tab,
        q=q,
        qt=qt,
        counts=domain.tab_counts(conn, g.seller["id"]),
        tabs=domain.TABS,
        search_types=SEARCH_TYPES,
        # Kept in the search form as Seller Central's search address carries it; the portal
        # finds orders of any date.
        date_range=request.args.get("date-range", DEFAULT_DATE_RANGE)[:40],
    )


def tab_url(name: str) -> str:
    if name in TAB_PATHS:
        return TAB_PATHS[name]
    return url_for("orders.manage", tab=name)


@bp.app_context_processor
def orders_context() -> dict[str, Any]:
    return {"tab_url": tab_url}


@bp.route("/orders-v3/")
@login_required
def manage() -> ResponseReturnValue:
    tab = request.args.get("tab", DEFAULT_TAB)
    if tab not in domain.TABS:
        tab = DEFAULT_TAB
    return _list_page(tab=tab, q=None, qt="orderid")


@bp.route("/orders-v3/mfn/<any(pending, unshipped, canceled):tab>")
@login_required
def tab_page(tab: str) -> ResponseReturnValue:
    return _list_page(tab=tab, q=None, qt="orderid")


@bp.route("/orders-v3/shipped")
@login_required
def shipped() -> ResponseReturnValue:
    return _list_page(tab="shipped", q=None, qt="orderid")


@bp.route("/orders-v3/search")
@login_required
def search() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()
    qt = request.args.get("qt", "orderid")
    if qt not in SEARCH_TYPES:
        qt = "orderid"
    if not q:
        return redirect(url_for("orders.manage"))
    return _list_page(tab=None, q=q, qt=qt)


@bp.route("/orders-v3/order/<order_id>")
@login_required
def details(order_id: str) -> ResponseReturnValue:
    order = load_order_or_404(order_id)
    return render_template("orders/details.html", order=order)


@bp.route("/orders-v3/order/<order_id>/confirm-shipment", methods=["POST"])
@login_required
def confirm_shipment(order_id: str) -> ResponseReturnValue:
    order = load_order_or_404(order_id)
    outcome = domain.confirm_shipment(
        db.get_db(), seller_id=g.seller["id"], order_id=order["order_id"]
    )
    if outcome == "not_found":
        abort(404)
    if outcome == "shipped":
        notify("shipment_confirmed", "shipment-confirmed", order_id=order["order_id"])
    else:
        notify("not_shippable", "not-shippable", "error", order_id=order["order_id"])
    default = url_for("orders.details", order_id=order["order_id"])
    return redirect(safe_next(request.form.get("next"), default), code=303)


@bp.route("/orders-v3/order/<order_id>/packing-slip")
@login_required
def packing_slip(order_id: str) -> ResponseReturnValue:
    order = load_order_or_404(order_id)
    return render_template("orders/packing_slip.html", order=order)
