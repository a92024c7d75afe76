"""Shared Click options: every command spells and documents a flag the same way."""

from __future__ import annotations

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


def input_file_options(func: Callable) -> Callable:
    """How to read an input file the tool cannot read unaided: its text encoding, the sheet
    of a workbook."""
    func = click.option(
        "--encoding",
        metavar="NAME",
        help="Text encoding of the input file when it is not UTF-8 or UTF-16 and its content "
        "does not show it (gbk, big5, cp932, cp949, cp1252, ...).",
    )(func)
    func = click.option(
        "--sheet",
        metavar="NAME",
        help="With an .xlsx input: the sheet to read (default: the first).",
    )(func)
    return func


def _check_endpoints(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple:
    from agent.play.browser import EndpointError, parse_endpoint

    for text in value:
        try:
            parse_endpoint(text)
        except EndpointError as error:
            raise click.BadParameter(str(error)) from None
    return tuple(value)


def browser_endpoint_option(func: Callable) -> Callable:
    """Work in browsers elsewhere instead of launching one (see docs/scaling.md)."""
    return click.option(
        "--browser-endpoint",
        "browser_endpoints",
        multiple=True,
        envvar="SELLER_AGENT_BROWSER_ENDPOINT",
        callback=_check_endpoints,
        metavar="URL",
        help="Work in the browser at URL instead of launching one: ws://HOST:PORT/TOKEN (a "
        "browser server, `seller-agent browser serve`) or http://HOST:PORT (a Chromium "
        "DevTools endpoint). Repeatable; a bulk run spreads its workers over all of them, "
        "evenly or as ?workers=N at the end of a URL says (env SELLER_AGENT_BROWSER_ENDPOINT, "
        "space-separated).",
    )(func)


def _check_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
    from agent.bulk.shard import parse_shard
    from agent.errors import UserError

    if value is None:
        return None
    try:
        return parse_shard(value)
    except UserError as error:
        raise click.BadParameter(str(error).removeprefix(f"--shard {value}: ")) from None


def shard_option(func: Callable) -> Callable:
    return click.option(
        "--shard",
        callback=_check_shard,
        metavar="K/N",
        help="Play only the K-th of N slices of the rows (by a hash of each row's key): N "
        "machines split one list with no coordination. `report --merge` joins their reports.",
    )(func)
