"""`seller-agent install`: Playwright's own browser, through Playwright's installer."""

from __future__ import annotations

import subprocess
import sys

import click

from agent.cli.language import TranslatedCommand
from agent.i18n import _


def installer_command(with_deps: bool) -> list[str]:
    command = [sys.executable, "-m", "playwright", "install"]
    if with_deps:
        command.append("--with-deps")
    return [*command, "chromium"]


@click.command("install", cls=TranslatedCommand)
@click.option(
    "--with-deps",
    is_flag=True,
    help="Also install the system libraries Chromium needs (needs root).",
)
@click.option("--dry-run", is_flag=True, help="Print the installer command instead of running it.")
def install(with_deps: bool, dry_run: bool) -> None:
    """Install Playwright's Chromium with Playwright's own installer.

    Not needed when a system Chromium is installed (Debian: apt-get install chromium):
    seller-agent uses Playwright's browser when there is one, else the system's.

    Usage:

    \b
        seller-agent install
        seller-agent install --with-deps
    """
    from agent.play.browser import playwright_browsers_dir, playwright_chromium, system_chromium

    command = installer_command(with_deps)
    if dry_run:
        click.echo(" ".join(command))
        return
    click.echo(_("running: {command}").format(command=" ".join(command)), err=True)
    try:
        completed = subprocess.run(command, stdin=subprocess.DEVNULL, check=False)
    except OSError as error:
        raise click.ClickException(
            _("cannot run Playwright's installer: {why}").format(why=error.strerror)
        ) from None
    found = playwright_chromium()
    if completed.returncode != 0 or not found:
        fallback = system_chromium()
        advice = (
            _("the system Chromium at {path} will be used instead").format(path=fallback)
            if fallback
            else _(
                "install your distribution's Chromium instead (Debian: apt-get install chromium) "
                "or pass --browser-path"
            )
        )
        raise click.ClickException(
            _("Playwright's installer failed (exit code {code}); {advice}").format(
                code=completed.returncode, advice=advice
            )
        )
    click.echo(
        _("installed Playwright's Chromium in {folder}: {path}").format(
            folder=playwright_browsers_dir(), path=found
        )
    )
