"""create_app(config): the only place the portal's Flask app is built."""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2.ext import Extension

MARKUPS = ("mock", "real")

DEFAULTS: dict[str, Any] = {
    "DATABASE": None,  # path of the SQLite file; required
    "SECRET_KEY": None,  # generated per database when not given (kept in the database)
    "SEED": 1,
    "ORDERS": 200,
    "DEFAULT_LANG": "en",
    "AUTO_CANCEL": "seed-30d",  # or "amazon-7bd"
    "SESSION_IDLE_MINUTES": 30,
    "KEEP_SIGNED_IN_DAYS": 14,
    "MAX_FAILED_ATTEMPTS": 5,
    # A TOTP code signs in once per account (RFC 6238 section 5.2). True lets a code be used
    # again within its 30 s, for test suites that sign in many times a minute.
    "TOTP_ALLOW_REUSE": False,
    "LOCKOUT_MINUTES": 15,
    "API_ENABLED": True,
    "API_TOKEN": None,  # when set, /mock/api/ needs "Authorization: Bearer <token>"
    # Host names besides loopback ones under which /mock/api/ and /mailbox/ answer loopback
    # clients (`portal serve --host NAME` adds NAME); see access.py.
    "ALLOWED_HOSTS": (),
    "SMTP": None,  # "host:port" to also deliver emails there
    "SWEEP_INTERVAL_SECONDS": 60,
    "DEMO_EMAIL": "seller@example.com",
    "DEMO_PASSWORD": "demo-password",
    "DEMO_TOTP_SECRET": "JBSWY3DPEHPK3PXP",
    # "mock" pages carry data-testid hooks; "real" pages carry none, as on Seller Central,
    # so a flow that passes on them does not lean on hooks the real site lacks.
    "MARKUP": "mock",
    # Static files are named with a hash of their content (?v=...), so browsers may keep
    # them: a page load is then one request instead of three.
    "SEND_FILE_MAX_AGE_DEFAULT": 86400,
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from mock_portal import limits

    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(limits.DEFAULTS)
    app.config.update(config or {})
    if not app.config["DATABASE"]:
        raise ValueError("create_app needs config['DATABASE'], the path of the SQLite file")
    if app.config["MARKUP"] not in MARKUPS:
        raise ValueError(
            f"MARKUP must be one of {', '.join(MARKUPS)}, got {app.config['MARKUP']!r}"
        )
    if app.config["MARKUP"] == "real":
        # Removed from the template source when it is compiled, so the "real" pages cost
        # nothing per request and no template can forget a hook.
        app.jinja_env.add_extension(StripTestIds)

    from mock_portal import access, db, faults, i18n, seed

    seed.init_db(app.config)
    db.init_app(app)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = db.stored_secret_key(app) or secrets.token_hex(32)
    i18n.init_app(app)
    faults.init_app(app)
    limits.init_app(app)
    access.init_app(app)

    from mock_portal.views import (
        api,
        auth,
        cancel,
        health,
        interstitials,
        mail,
        messaging,
        orders,
    )

    for module in (auth, interstitials, orders, cancel, health, mail, messaging, api):
        app.register_blueprint(module.bp)
    _version_static_urls(app)
    _note_user_agents(app)
    return app


def _note_user_agents(app: Flask) -> None:
    from flask import request

    from mock_portal import orders

    @app.before_request
    def note_user_agent() -> None:
        agent = request.headers.get("User-Agent", "")[: orders.USER_AGENT_MAX_LENGTH]
        orders.ACTING_USER_AGENT.set(agent or None)

    @app.teardown_request
    def forget_user_agent(_error: BaseException | None = None) -> None:
        orders.ACTING_USER_AGENT.set(None)


class StripTestIds(Extension):
    """Drops every data-testid attribute from the templates (MARKUP = "real")."""

    ATTRIBUTE = re.compile(r"""\s+data-testid=(?:"[^"]*"|'[^']*'|[^\s>]+)""")

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return self.ATTRIBUTE.sub("", source)


def _version_static_urls(app: Flask) -> None:
    """url_for("static", filename=...) gains ?v=<content hash>: a changed file is a new URL."""
    versions: dict[str, str] = {}

    @app.url_defaults
    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint != "static" or "filename" not in values or "v" in values:
            return
        name = values["filename"]
        if name not in versions:
            path = Path(app.static_folder or "") / name
            try:
                versions[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            except OSError:
                versions[name] = ""
        if versions[name]:
            values["v"] = versions[name]
