"""Serve the portal with waitress (multi-threaded WSGI) plus the periodic auto-cancel sweep."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mock_portal import db, seed
from mock_portal import orders as orders_domain

log = logging.getLogger(__name__)


MARKUP_ENV = "SELLER_AGENT_PORTAL_MARKUP"


def N_(message: str) -> str:  # noqa: N802  (gettext's name)
    """A message for the person who started the portal. The portal writes it in English; a
    launcher that speaks other languages (seller-agent portal serve) passes `translate`, and
    the seller-agent catalog takes these messages from this file (babel.cfg)."""
    return message


def _english(message: str) -> str:
    return message


Translate = Callable[[str], str]
READY = N_("Portal listening on {url}")


class Sweeper(threading.Thread):
    """Runs the sweep every `interval` seconds, so auto-cancellation happens on a portal that
    only sits there, not just when a test advances the clock."""

    def __init__(self, database: str, interval: float) -> None:
        super().__init__(name="portal-sweep", daemon=True)
        self.database = database
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                conn = db.connect(self.database)
                try:
                    orders_domain.sweep(conn)
                finally:
                    conn.close()
            except Exception:  # one failed sweep must not end the portal
                log.exception("auto-cancel sweep failed")

    def stop(self) -> None:
        self.stopped.set()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # A deep backlog: a benchmark's clients all connect at once.
    return socket.create_server((host, port), family=family, backlog=2048)


def _terminate(_signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def _serve_socket(app: Any, sock: socket.socket, threads: int) -> None:
    from waitress import create_server

    server = create_server(
        app,
        sockets=[sock],
        threads=threads,
        ident="mock-portal",
        # The default limit of 100 open connections would turn benchmark clients away.
        connection_limit=1000,
        channel_timeout=120,
    )
    try:
        # waitress's run() closes the server itself on SystemExit / KeyboardInterrupt.
        server.run()
    finally:
        server.close()


def serve(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8600,
    threads: int = 16,
    *,
    workers: int = 1,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly. `on_ready(url)` is called once the
    socket listens (with the real port when `port` is 0).

    With `workers` > 1 the listening socket is shared by that many forked processes, each
    with `threads` threads: Python runs one thread at a time per process, so one process
    cannot use more than one core. SQLite transactions keep them consistent, and faults are
    kept in shared memory (see faults.py)."""
    sock = _listen(host, port)
    effective_port = sock.getsockname()[1]
    display_host = f"[{host}]" if ":" in host else host
    url = f"http://{display_host}:{effective_port}"
    interval = float(app.config.get("SWEEP_INTERVAL_SECONDS") or 0)
    sweeper = Sweeper(app.config["DATABASE"], interval) if interval > 0 else None
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    children: list[int] = []
    try:
        if workers > 1:
            if not hasattr(os, "fork"):
                raise PortalError(N_("--workers above 1 needs a system with fork()"))
            for _ in range(workers):
                pid = os.fork()
                if pid == 0:
                    _worker(app, sock, threads)
                children.append(pid)
        if sweeper:
            sweeper.start()
        if on_ready:
            on_ready(url)
        if children:
            _watch(children)
        else:
            _serve_socket(app, sock, threads)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        if sweeper:
            sweeper.stop()
        _stop_children(children)
        sock.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _worker(app: Any, sock: socket.socket, threads: int) -> None:
    """A forked worker process: serve, then leave without running the parent's cleanup."""
    code = 0
    try:
        signal.signal(signal.SIGTERM, _terminate)
        _serve_socket(app, sock, threads)
    except (SystemExit, KeyboardInterrupt):
        pass
    except BaseException:  # logged; the parent sees the exit code
        log.exception("portal worker failed")
        code = 1
    finally:
        os._exit(code)


def _watch(children: list[int]) -> None:
    """Wait until any worker ends (which ends the portal) or a signal arrives."""
    pid, status = os.wait()
    if pid in children:
        children.remove(pid)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        log.error("portal worker %s exited with %s; stopping", pid, code)


def _stop_children(children: list[int], timeout: float = 10) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pending = list(children)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                pending.remove(pid)
        if pending:
            time.sleep(0.05)
    for pid in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def ready_line(url: str) -> str:
    """The line a portal prints once it listens; testing.PortalProcess waits for it."""
    return READY.format(url=url)


def print_ready(url: str) -> None:
    print(ready_line(url), file=sys.stderr, flush=True)


class PortalError(Exception):
    """A problem a user can fix (bad path, port in use); the message is one line: str() in
    English, `said(translate)` in the launcher's language."""

    def __init__(self, message: str, /, **values: Any) -> None:
        super().__init__(message.format(**values))
        self.message = message
        self.values = values

    def said(self, translate: Translate = _english) -> str:
        return translate(self.message).format(**self.values)


def default_db_path() -> Path:
    """The user's data folder, never the current directory (a portal database left in a
    project checkout is easy to commit by mistake)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "seller-agent" / "portal.db"


def build_config(
    *,
    db_path: str | os.PathLike | None = None,
    seed: int | None = None,
    orders: int | None = None,
    lang: str | None = None,
    auto_cancel: str | None = None,
    smtp: str | None = None,
    api_token: str | None = None,
    markup: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from mock_portal import mail
    from mock_portal.app import MARKUPS

    path = Path(db_path) if db_path else default_db_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PortalError(
            N_("cannot create the folder of the database {path}: {reason}"),
            path=path,
            reason=error.strerror,
        ) from None
    if path.is_dir():
        raise PortalError(
            N_("--db {path}: is a folder; give a file path such as {example}"),
            path=path,
            example=path / "portal.db",
        )
    config: dict[str, Any] = {"DATABASE": str(path)}
    if smtp:
        try:
            mail.parse_smtp(smtp)
        except ValueError as error:
            raise PortalError(N_("--smtp: {error}"), error=error) from None
    # The environment lets any launcher (seller-agent portal serve included) pick the markup
    # without an option of its own.
    markup = markup or os.environ.get(MARKUP_ENV) or None
    if markup is not None and markup not in MARKUPS:
        raise PortalError(
            N_("--markup: must be one of {choices}, got {markup}"),
            choices=", ".join(MARKUPS),
            markup=repr(markup),
        )
    for key, value in (
        ("MARKUP", markup),
        ("SEED", seed),
        ("ORDERS", orders),
        ("DEFAULT_LANG", lang),
        ("AUTO_CANCEL", auto_cancel),
        ("SMTP", smtp),
        ("API_TOKEN", api_token),
    ):
        if value is not None:
            config[key] = value
    config.update(extra or {})
    return config


def open_app(
    config: dict[str, Any], *, reset: bool = False, translate: Translate = _english
) -> tuple[Any, list[str]]:
    """Build the app on its database (seeding a new one); with `reset`, wipe and re-seed an
    existing one. Returns the app and notes worth telling the user (in `translate`'s
    language)."""
    from mock_portal import create_app

    path = Path(config["DATABASE"])
    existed = path.exists() and path.stat().st_size > 0
    notes: list[str] = []
    try:
        app = create_app(config)
        conn = db.connect(str(path))
        try:
            if reset and existed:
                seed.reset(conn, app.config)
                notes.append(
                    translate(N_("Database {path} reset and seeded again.")).format(path=path)
                )
            elif existed:
                seeded = (db.get_meta(conn, "seed"), db.get_meta(conn, "orders"))
                wanted = (str(app.config["SEED"]), str(app.config["ORDERS"]))
                if seeded != wanted and None not in seeded:
                    notes.append(
                        translate(
                            N_(
                                "Using the existing database {path} (seed {seed}, {orders} "
                                "orders); add --reset to seed it again with seed {new_seed}, "
                                "{new_orders} orders."
                            )
                        ).format(
                            path=path,
                            seed=seeded[0],
                            orders=seeded[1],
                            new_seed=wanted[0],
                            new_orders=wanted[1],
                        )
                    )
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise PortalError(N_("database {path}: {error}"), path=path, error=error) from None
    return app, notes


def run_portal(
    config: dict[str, Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8600,
    threads: int = 16,
    workers: int = 1,
    reset: bool = False,
    announce: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    translate: Translate = _english,
) -> None:
    """Open (or create) the database, tell the user where to go, and serve until stopped.
    `translate` gives the lines in the launcher's language; in English (the default) the
    first is ready_line's, which testing.PortalProcess waits for."""
    app, notes = open_app(config, reset=reset, translate=translate)
    if host not in ("", "0.0.0.0", "::"):
        # Clients on this machine may address the portal by the name it listens on.
        app.config["ALLOWED_HOSTS"] = [*app.config.get("ALLOWED_HOSTS", ()), host]
    for note in notes:
        announce(note)

    def say(message: str, **values: Any) -> None:
        announce(translate(message).format(**values))

    def ready(url: str) -> None:
        say(READY, url=url)
        say(N_("Sign in at {url}"), url=f"{url}/ap/signin")
        say(
            N_("Demo account: {email}  password {password}  TOTP secret {secret}"),
            email=app.config["DEMO_EMAIL"],
            password=app.config["DEMO_PASSWORD"],
            secret=app.config["DEMO_TOTP_SECRET"],
        )
        say(N_("Database: {path}"), path=app.config["DATABASE"])
        say(N_("Press Ctrl-C to stop."))

    try:
        serve(app, host, port, threads, workers=workers, on_ready=ready)
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise PortalError(
                N_("cannot listen on {host}:{port}: {reason} (choose another --port)"),
                host=host,
                port=port,
                reason=error.strerror,
            ) from None
        raise
