"""Who may open the portal's test doors, and where a state-changing request may come from.

The test doors are the inspection API (/mock/api/) and the mail catcher (/mailbox/): they
show and change every seller's data without a sign-in, so one rule guards both
(`door_refusal`). A web page open in the user's browser must not be able to use them:
its requests carry its own Origin, and through DNS rebinding its own host name in Host.
Form posts of the pages also must come from the portal's own pages (`same_origin`, next to
the CSRF token).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template, request

DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback_address(address: str | None) -> bool:
    """127.0.0.0/8, ::1, and IPv4 loopback written as IPv6 (::ffff:127.0.0.1)."""
    if not address:
        return False
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback


def _host_name(host: str) -> str:
    """The name or address in a Host header, without port, brackets or a final dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_own_host(host: str) -> bool:
    """True when a Host header names this portal: a loopback name or address, or one of the
    ALLOWED_HOSTS (which `portal serve --host NAME` adds to). A page that reached the portal
    by rebinding its own domain to 127.0.0.1 still sends that domain."""
    name = _host_name(host)
    if name == "localhost" or name.endswith(".localhost") or is_loopback_address(name):
        return True
    allowed = current_app.config.get("ALLOWED_HOSTS") or ()
    return name in {_host_name(str(entry)) for entry in allowed}


def _origin_parts(scheme: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    return scheme, host, port if port is not None else DEFAULT_PORTS.get(scheme)


def same_origin(origin: str | None) -> bool:
    """True when an Origin header is absent (non-browser clients, and browsers on same-origin
    GETs) or names exactly this request's scheme, host and port. "null" (sandboxed frames,
    file: pages, some cross-site redirects) is never this portal. Browsers also send "null"
    on every POST from a page served with `Referrer-Policy: no-referrer`: the portal must
    not send that policy, or its own forms would be refused."""
    if origin is None:
        return True
    try:
        given = urlsplit(origin.strip())
        given_parts = _origin_parts(given.scheme.lower(), given.hostname or "", given.port)
        own = urlsplit(f"{request.scheme}://{request.host}")
        own_parts = _origin_parts(own.scheme.lower(), own.hostname or "", own.port)
    except ValueError:  # a port out of range or not a number
        return False
    return bool(given_parts[1]) and given_parts == own_parts


def door_refusal() -> tuple[int, str] | None:
    """(status, message) when this request may not use /mock/api/ or /mailbox/, else None.

    With API_TOKEN set: the token, from anywhere (a foreign page cannot know it, nor send an
    Authorization header cross-site without a preflight the portal never grants). Without
    it: loopback clients only, addressing the portal by its own name."""
    if not same_origin(request.headers.get("Origin")):
        return 403, "requests from other sites' pages are refused (foreign Origin)"
    config = current_app.config
    token = config.get("API_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return 401, "this needs 'Authorization: Bearer <token>'"
        return None
    if not is_loopback_address(request.remote_addr):
        return 403, "this answers loopback clients only (set an API token to open it)"
    if not is_own_host(request.host):
        return 403, "the Host header does not name this portal (add it to ALLOWED_HOSTS)"
    return None


def init_app(app: Any) -> None:
    @app.before_request
    def _form_posts_from_own_pages() -> Any:
        # The CSRF token already proves a form came from a page of this session; a foreign
        # Origin is refused as well, before anything reads the form.
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/mock/api/"):
            return None
        if not same_origin(request.headers.get("Origin")):
            return render_template("auth/csrf.html"), 400
        return None
