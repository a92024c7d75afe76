"""The seller-agent command line: one Click group; each command lives in agent/commands/."""

from __future__ import annotations

import click

from agent import __version__
from agent.commands import portal


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="seller-agent")
def cli() -> None:
    """Browser automation for marketplace sellers.

    Replays recorded, parameterised flows on a seller portal with Playwright; cancels orders
    one at a time or in bulk, safely; ships a mock seller portal to try it all on.

    Usage:

        seller-agent portal serve

        seller-agent cancel 112-0000001-0000001 --reason BuyerCanceled
    """


cli.add_command(portal.portal)
