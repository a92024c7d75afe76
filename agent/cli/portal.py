"""`seller-agent portal ...`: run and reset the bundled mock seller portal.

Flask and waitress are imported inside the commands so `seller-agent --help` stays fast."""

from __future__ import annotations

import click

from agent.cli.language import TranslatedGroup
from agent.i18n import gettext, ngettext

AUTO_CANCEL_PRESETS = ("seed-30d", "amazon-7bd")


def _db_option(func):
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False),
        metavar="PATH",
        help="SQLite file of the portal (default: $XDG_DATA_HOME/seller-agent/portal.db, "
        "else ~/.local/share/seller-agent/portal.db).",
    )(func)


def _seed_options(func):
    func = click.option(
        "--orders",
        type=click.IntRange(min=0, max=100_000),
        default=200,
        show_default=True,
        metavar="N",
        help="Orders of the demo seller in a new (or reset) database.",
    )(func)
    func = click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=1,
        show_default=True,
        metavar="N",
        help="Seed of the demo data: the same seed gives the same orders.",
    )(func)
    return func


@click.group(cls=TranslatedGroup)
def portal() -> None:
    """Run the bundled mock seller portal (Seller Central look-alike).

    Usage:

    \b
        seller-agent portal serve
        seller-agent portal serve --port 8601 --orders 1000 --reset
        seller-agent portal reset
    """


@portal.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8600,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@_db_option
@_seed_options
@click.option(
    "--lang",
    type=click.Choice(["en", "zh-CN"]),
    default="en",
    show_default=True,
    help="Default page language (a browser can switch with ?lang=), and the language of "
    "this command's own messages.",
)
@click.option(
    "--auto-cancel",
    type=click.Choice(AUTO_CANCEL_PRESETS),
    default="seed-30d",
    show_default=True,
    help="Auto-cancel rule: 30 days after ship-by, or Amazon's 7 business days.",
)
@click.option(
    "--smtp",
    metavar="HOST:PORT",
    help="Also deliver the portal's emails to this SMTP server.",
)
@click.option(
    "--api-token",
    envvar="SELLER_AGENT_PORTAL_API_TOKEN",
    metavar="TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on /mock/api/ (env "
    "SELLER_AGENT_PORTAL_API_TOKEN); without it the API answers loopback clients only.",
)
@click.option(
    "--markup",
    type=click.Choice(["mock", "real"]),
    default=None,
    help="Page markup: 'mock' pages also carry test ids (data-testid), 'real' pages none, as on "
    "Seller Central (default: env SELLER_AGENT_PORTAL_MARKUP, else mock).",
)
@click.option("--reset", is_flag=True, help="Wipe the database and seed it again first.")
@click.option(
    "--threads",
    type=click.IntRange(min=1, max=256),
    default=16,
    show_default=True,
    help="Worker threads of the web server (per process).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Server processes sharing the port; more than one uses more than one CPU core.",
)
def serve(
    host: str,
    port: int,
    db_path: str | None,
    seed: int,
    orders: int,
    lang: str,
    auto_cancel: str,
    smtp: str | None,
    api_token: str | None,
    markup: str | None,
    reset: bool,
    threads: int,
    workers: int,
) -> None:
    """Start the mock seller portal and serve it until Ctrl-C.

    Prints the URL and the demo account to stderr. A new database is seeded with demo data
    from --seed and --orders; an existing one is reused as it is unless --reset is given.

    Usage:

    \b
        seller-agent portal serve
        seller-agent portal serve --port 8601 --lang zh-CN \\
            --auto-cancel amazon-7bd
        seller-agent portal serve --db /tmp/portal.db --seed 7 \\
            --orders 2000 --reset
        seller-agent portal serve --port 0 --workers 2
        seller-agent portal serve --markup real
    """
    from mock_portal import server

    try:
        config = server.build_config(
            db_path=db_path,
            seed=seed,
            orders=orders,
            lang=lang,
            auto_cancel=auto_cancel,
            smtp=smtp,
            api_token=api_token,
            markup=markup,
        )
        server.run_portal(
            config,
            host=host,
            port=port,
            threads=threads,
            workers=workers,
            reset=reset,
            translate=gettext,
        )
    except server.PortalError as error:
        raise click.UsageError(error.said(gettext)) from None


@portal.command()
@_db_option
@_seed_options
def reset(db_path: str | None, seed: int, orders: int) -> None:
    """Wipe the portal's database and seed it again with demo data.

    Safe while a portal is serving that database: the change is one transaction.

    Usage:

    \b
        seller-agent portal reset
        seller-agent portal reset --db /tmp/portal.db --seed 7 --orders 2000
    """
    from mock_portal import db, server
    from mock_portal import seed as seeding

    try:
        config = server.build_config(db_path=db_path, seed=seed, orders=orders)
        app, _notes = server.open_app(config, translate=gettext)
        conn = db.connect(config["DATABASE"])
        try:
            summary = seeding.reset(conn, app.config)
        finally:
            conn.close()
    except server.PortalError as error:
        raise click.UsageError(error.said(gettext)) from None
    click.echo(
        ngettext(
            "Reset {path}: seed {seed}, {count} order for {seller}.",
            "Reset {path}: seed {seed}, {count} orders for {seller}.",
            summary["orders"],
        ).format(
            path=config["DATABASE"],
            seed=summary["seed"],
            count=summary["orders"],
            seller=summary["sellers"][0],
        ),
        err=True,
    )
