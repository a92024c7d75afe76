"""`seller-agent browser`: serve this machine's Chromium to bulk runs on other machines."""

from __future__ import annotations

import sys

import click

from agent.cli.language import TranslatedGroup
from agent.i18n import _, shown


@click.group(cls=TranslatedGroup)
def browser() -> None:
    """Browsers for bulk runs spread over several machines.

    Usage:

    \b
        seller-agent browser serve --host 10.0.0.7 --port 8610
    """


@browser.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep it a loopback or private address: whoever reaches the "
    "port and knows the token drives the browser.",
)
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8610,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--token",
    envvar="SELLER_AGENT_BROWSER_TOKEN",
    metavar="TOKEN",
    help="The secret last part of the endpoint's address, 16 or more of A-Z a-z 0-9 . _ ~ - "
    "(env SELLER_AGENT_BROWSER_TOKEN; default: a new random one at every start).",
)
@click.option(
    "--browser-path",
    envvar="SELLER_AGENT_BROWSER",
    type=click.Path(dir_okay=False),
    help="Chromium executable to serve instead of the one found automatically.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the endpoint.")
def serve(host: str, port: int, token: str | None, browser_path: str | None, quiet: bool) -> None:
    """Serve a headless Chromium to bulk runs elsewhere, until stopped.

    Starts Playwright's own browser server with the Chromium this tool would launch (and
    its flags) and prints its endpoint, ws://HOST:PORT/TOKEN, on stdout. On the machine that
    runs the job, pass it to `cancel`, `run` or `login` with --browser-endpoint. The client's
    and the server's Playwright versions must match: install the same seller-agent on both.
    Stops on Ctrl-C or SIGTERM, closing the browser; exits 1 if the browser dies.

    Usage:

    \b
        seller-agent browser serve
        seller-agent browser serve --host 10.0.0.7 --port 8610
        SELLER_AGENT_BROWSER_TOKEN=$(cat /etc/seller-agent/token) \\
            seller-agent browser serve
    """
    from agent.play.browser import BrowserNotFound
    from agent.play.server import start_server, wait

    try:
        server = start_server(host=host, port=port, token=token, browser_path=browser_path)
    except (BrowserNotFound, FileNotFoundError) as error:
        failure = click.ClickException(shown(error))
        failure.exit_code = 2
        raise failure from None
    click.echo(server.endpoint)
    sys.stdout.flush()
    if not quiet:
        click.echo(
            _(
                "browser server listening on {address} (Ctrl-C to stop); the endpoint above "
                "carries its token: keep it private"
            ).format(address=f"{host}:{server.endpoint.rsplit(':', 1)[1].split('/')[0]}"),
            err=True,
        )
    code = wait(server)
    if code:
        raise click.ClickException(_("the browser server stopped: its browser closed or crashed"))
