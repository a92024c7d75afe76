"""Account Health: the Order Cancellation Rate, its target and the orders counted in it."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from flask.typing import ResponseReturnValue

from mock_portal import db, metrics
from mock_portal.views.auth import login_required

bp = Blueprint("health", __name__)


def percent(value: float) -> str:
    """0.016666 -> "1.67%", 0.025 -> "2.5%" (no trailing zeros, as Seller Central shows it)."""
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


@bp.route("/performance/account/health")
@login_required
def account_health() -> ResponseReturnValue:
    rate = metrics.cancellation_rate(db.get_db(), g.seller["id"])
    return render_template(
        "health/health.html",
        rate=rate,
        rate_text=percent(rate["rate"]),
        target_text=percent(rate["target"]),
        at_risk=rate["rate"] >= rate["target"],
    )
