"""The seller-agent command line: one Click group; each command lives in a module beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from agent.cli import browser, cancel, demo, flows, install, portal
from agent.cli import record as record_command
from agent.cli import report as report_command
from agent.cli import run as run_command
from agent.cli.language import TranslatedGroup, main_language, speak_clicks_words

speak_clicks_words()


class SellerAgentGroup(TranslatedGroup):
    """The one place where the tool's errors become exits: a SellerAgentError raised anywhere
    under a command is printed as one line ("Error: ...") and exits with its own code.

    It also chooses the language before Click reads the command line: a `--lang` anywhere
    in it counts for help and for Click's own errors too."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        from agent import i18n

        lang = main_language(args)
        previous = i18n.chosen_language()
        if lang is not None:
            i18n.set_language(lang)
        try:
            return super().main(args, *rest, **kwargs)
        finally:
            i18n.set_language(previous)

    def invoke(self, ctx: click.Context) -> object:
        from agent.errors import SellerAgentError
        from agent.i18n import Told, shown

        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            # Click prints str() of its message: a told() one is shown in the reader's language.
            if isinstance(error.message, Told):
                error.message = error.message.shown
            raise
        except SellerAgentError as error:
            # In the reader's language; str(error) stays English for the run's log.
            failure = click.ClickException(shown(error))
            failure.exit_code = error.exit_code
            raise failure from None


@click.group(cls=SellerAgentGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seller-agent", prog_name="seller-agent")
def cli() -> None:
    """Browser automation for marketplace sellers.

    Replays recorded, parameterised flows on a seller portal with Playwright; cancels orders
    one at a time or in bulk, safely; ships a mock seller portal to try it all on.

    Usage:

    \b
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
cli.add_command(browser.browser)
