"""create_app(config): the only place the portal's Flask app is built."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
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

    from mock_portal import access, db, faults, i18n

    db.init_app(app)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = db.stored_secret_key(app) or secrets.token_hex(32)
    i18n.init_app(app)
    faults.init_app(app)
    limits.init_app(app)
    access.init_app(app)

    from mock_portal.views import api, auth, cancel, health, mail, messaging, orders

    for module in (auth, orders, cancel, health, mail, messaging, api):
        app.register_blueprint(module.bp)
    _version_static_urls(app)
    return app


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
