"""Buyer-seller messages (the inbox where unofficial "please cancel" requests arrive)."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from flask.typing import ResponseReturnValue

from mock_portal import db, messaging
from mock_portal.views.auth import login_required

bp = Blueprint("messaging", __name__)


@bp.route("/messaging/inbox")
@login_required
def inbox() -> ResponseReturnValue:
    messages = messaging.list_messages(db.get_db(), g.seller["id"])
    return render_template("messaging/inbox.html", messages=messages)
