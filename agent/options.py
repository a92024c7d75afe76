"""Shared Click options: every command spells and documents a flag the same way."""

from __future__ import annotations

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


def browser_options(func):
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
