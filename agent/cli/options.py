"""Shared Click options: every command spells and documents a flag the same way."""

from __future__ import annotations

import os
from collections.abc import Callable

import click

DEFAULT_PORTAL = "http://127.0.0.1:8600"


def portal_option(func):
    return click.option(
        "--portal",
        envvar="SELLER_AGENT_PORTAL",
        default=DEFAULT_PORTAL,
        show_default=True,
        metavar="URL",
        help="Base URL of the seller portal (env SELLER_AGENT_PORTAL).",
    )(func)


def _as_environment(name: str) -> Callable:
    """An option callback that sets environment variable `name` for the command's duration.

    The browser and sign-in code read these settings from the environment, far below the
    command line and for every command alike; an option given on the command line simply
    wins over the variable, and the variable is restored when the command ends."""

    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is None:
            return
        previous = os.environ.get(name)
        os.environ[name] = value

        def restore() -> None:
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous

        ctx.call_on_close(restore)

    return callback


def identity_options(func: Callable) -> Callable:
    """How the browser presents itself: the account chosen on an account picker, and the
    product token its User-Agent carries."""
    func = click.option(
        "--user-agent-suffix",
        metavar="TEXT",
        expose_value=False,
        callback=_as_environment("SELLER_AGENT_USER_AGENT_SUFFIX"),
        help="Appended to the browser's own User-Agent on every request (default "
        "'seller-agent/VERSION (automated)'; '' turns it off; env "
        "SELLER_AGENT_USER_AGENT_SUFFIX).",
    )(func)
    func = click.option(
        "--account",
        metavar="NAME",
        expose_value=False,
        callback=_as_environment("SELLER_AGENT_ACCOUNT"),
        help="Account or marketplace to choose when the portal asks, by the name it shows "
        "(env SELLER_AGENT_ACCOUNT, or `account` in the secrets file).",
    )(func)
    return func


def browser_options(func):
    func = identity_options(func)
    func = click.option(
        "--browser-path",
        envvar="SELLER_AGENT_BROWSER",
        type=click.Path(dir_okay=False),
        help="Chromium executable to use instead of the one found automatically.",
    )(func)
    func = click.option("--headed", is_flag=True, help="Show the browser window.")(func)
    func = click.option(
        "--slowmo",
        type=click.IntRange(min=0),
        default=0,
        metavar="MS",
        help="Pause this many milliseconds between browser actions (for watching).",
    )(func)
    return func


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        func
    )


def quiet_option(func):
    return click.option("-q", "--quiet", is_flag=True, help="No progress or chatter on stderr.")(
        func
    )


def workers_option(func):
    return click.option(
        "--workers",
        type=click.IntRange(min=1, max=64),
        default=None,
        metavar="N",
        help="Browser contexts working at once (default: from the CPU count).",
    )(func)


class InputError(click.ClickException):
    """A mistake in what the user gave (flow, params, reason, secrets file): exit code 2."""

    exit_code = 2


def secrets_option(func: Callable) -> Callable:
    return click.option(
        "--secrets",
        "secrets_path",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help="Secrets file (YAML: email, password, totp_secret; mode 0600). Default "
        "~/.config/seller-agent/secrets.yaml; SELLER_AGENT_* variables win over it.",
    )(func)


def run_dir_option(func: Callable) -> Callable:
    return click.option(
        "--run-dir",
        type=click.Path(file_okay=False),
        default=None,
        metavar="DIR",
        help="Folder for screenshots and traces of failures (default runs/<time>-<flow>).",
    )(func)


def bulk_options(func: Callable) -> Callable:
    """How a bulk run treats its rows: attempts, context recycling, media, traces."""
    func = click.option(
        "--attempts",
        type=click.IntRange(min=1, max=20),
        default=4,
        show_default=True,
        metavar="N",
        help="Tries per row when the portal is slow or errs (timeouts, HTTP 5xx, 429).",
    )(func)
    func = click.option(
        "--recycle-every",
        type=click.IntRange(min=1),
        default=50,
        show_default=True,
        metavar="N",
        help="Replace each worker's browser context after this many rows (bounds memory).",
    )(func)
    func = click.option(
        "--block-media",
        is_flag=True,
        help="Do not load images, fonts and media (faster; screenshots look bare).",
    )(func)
    return func


def api_token_option(func: Callable) -> Callable:
    return click.option(
        "--api-token",
        envvar="SELLER_AGENT_API_TOKEN",
        metavar="TOKEN",
        help="Token of the portal's inspection API, when it needs one (env "
        "SELLER_AGENT_API_TOKEN). Only the bundled mock portal has this API.",
    )(func)
