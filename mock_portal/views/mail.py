"""Mailboxes: the signed-in seller's (/mail) and any address's (/mailbox/<address>, a mock
mail catcher that needs no sign-in, so tests and demos can read what a buyer received; it
answers whoever may use /mock/api/, see mock_portal/access.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, g, render_template
from flask.typing import ResponseReturnValue

from mock_portal import access, db
from mock_portal import mail as outbox
from mock_portal.views.auth import login_required

bp = Blueprint("mail", __name__)

MAX_ADDRESS_LENGTH = 320
# SQLite integers are 64-bit; a larger id from the URL cannot name any email.
MAX_MAIL_ID = 2**63 - 1


def mail_catcher_door(
    view: Callable[..., ResponseReturnValue],
) -> Callable[..., ResponseReturnValue]:
    """Every address's mail is behind the same rule as /mock/api/: a buyer's emails name the
    seller's orders, and nobody signs in to read them."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        refused = access.door_refusal()
        if refused:
            status, message = refused
            response = Response(message + "\n", status=status, mimetype="text/plain")
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return view(*args, **kwargs)

    return wrapped


def _find(mail_id: int, address: str) -> dict:
    message = outbox.get_mail(db.get_db(), mail_id) if mail_id <= MAX_MAIL_ID else None
    if message is None or str(message["to"]).casefold() != address.casefold():
        abort(404)
    return message


@bp.route("/mail")
@login_required
def seller_mail() -> ResponseReturnValue:
    messages = outbox.list_mail(db.get_db(), to=g.seller["email"])
    return render_template("mail/list.html", messages=messages, address=None)


@bp.route("/mail/<int:mail_id>")
@login_required
def seller_message(mail_id: int) -> ResponseReturnValue:
    message = _find(mail_id, g.seller["email"])
    return render_template("mail/message.html", message=message, address=None)


@bp.route("/mailbox/<address>")
@mail_catcher_door
def mailbox(address: str) -> ResponseReturnValue:
    if len(address) > MAX_ADDRESS_LENGTH:
        abort(404)
    messages = outbox.list_mail(db.get_db(), to=address)
    return render_template("mail/list.html", messages=messages, address=address)


@bp.route("/mailbox/<address>/<int:mail_id>")
@mail_catcher_door
def mailbox_message(address: str, mail_id: int) -> ResponseReturnValue:
    message = _find(mail_id, address)
    return render_template("mail/message.html", message=message, address=address)
