"""create_app(config): the only place the portal's Flask app is built."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

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
    "LOCKOUT_MINUTES": 15,
    "API_ENABLED": True,
    "API_TOKEN": None,  # when set, /mock/api/ needs "Authorization: Bearer <token>"
    "SMTP": None,  # "host:port" to also deliver emails there
    "SWEEP_INTERVAL_SECONDS": 60,
    "DEMO_EMAIL": "seller@example.com",
    "DEMO_PASSWORD": "demo-password",
    "DEMO_TOTP_SECRET": "JBSWY3DPEHPK3PXP",
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.update(config or {})
    if not app.config["DATABASE"]:
        raise ValueError("create_app needs config['DATABASE'], the path of the SQLite file")

    from mock_portal import db, faults, i18n

    db.init_app(app)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = db.stored_secret_key(app) or secrets.token_hex(32)
    i18n.init_app(app)
    faults.init_app(app)

    from mock_portal.views import api, auth, cancel, health, mail, messaging, orders

    for module in (auth, orders, cancel, health, mail, messaging, api):
        app.register_blueprint(module.bp)
    return app
