"""Caps on request bodies: a form or JSON body larger, or a form with more fields, than any
page of the portal sends gets HTTP 413 before anything reads it into memory."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, request

# The largest real body is the Cancel order form of a multi-item order with a 1000-character
# memo in Chinese (about 10 KB once URL-encoded); a fault setting list is at most ~20 KB.
MAX_BODY_BYTES = 64 * 1024
# The Cancel order form has five fields plus one per item.
MAX_FORM_FIELDS = 100

DEFAULTS: dict[str, Any] = {
    # Flask's own settings: the whole body, and (multipart forms) the fields and their size.
    "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
    "MAX_FORM_MEMORY_SIZE": MAX_BODY_BYTES,
    "MAX_FORM_PARTS": MAX_FORM_FIELDS,
}


def init_app(app: Any) -> None:
    @app.before_request
    def _count_form_fields() -> None:
        # Werkzeug counts the parts of multipart forms only (MAX_FORM_PARTS); a URL-encoded
        # body within the size cap could still carry thousands of fields.
        if request.mimetype != "application/x-www-form-urlencoded":
            return
        limit = current_app.config.get("MAX_FORM_PARTS")
        if limit and request.get_data(cache=True).count(b"&") >= limit:
            abort(413)
