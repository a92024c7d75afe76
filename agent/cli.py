"""The seller-agent command line: one Click group; each command lives in agent/commands/."""

from __future__ import annotations

import click

from agent import __version__
from agent.commands import cancel, demo, flows, install, portal
from agent.commands import record as record_command
from agent.commands import report as report_command
from agent.commands import run as run_command


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
cli.add_command(report_command.report)
cli.add_command(run_command.run)
cli.add_command(run_command.login)
cli.add_command(cancel.cancel)
cli.add_command(flows.flows)
cli.add_command(install.install)
cli.add_command(record_command.record)
cli.add_command(record_command.import_)
cli.add_command(record_command.export)
cli.add_command(demo.demo)


if __name__ == "__main__":
    cli()
