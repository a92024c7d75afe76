"""`seller-agent demo`: the main job on its embedded default, start to finish."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
from importlib import resources
from pathlib import Path

import click

from agent.cli.language import TranslatedCommand
from agent.cli.options import InputError, browser_options, quiet_option, workers_option
from agent.i18n import _, shown

# Shipped inside the package, so the demo works from an installed wheel as from a checkout.
SAMPLE_ORDERS = Path(str(resources.files("agent").joinpath("data", "sample_orders.csv")))


def write_sample_list(target: str) -> None:
    """The bundled sample list, byte for byte, to `target` ('-': stdout). An existing file is
    not replaced (it may be the user's own list)."""
    data = SAMPLE_ORDERS.read_bytes()
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        with open(target, "xb") as file:
            file.write(data)
    except FileExistsError:
        raise InputError(
            _("{path} exists already; choose another name or remove it").format(path=target)
        ) from None
    except OSError as error:
        raise InputError(
            _("{file}: cannot write ({error})").format(file=target, error=error.strerror or error)
        ) from None


@click.command("demo", cls=TranslatedCommand)
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False),
    default=str(SAMPLE_ORDERS),
    show_default="the bundled sample list",
    help="Orders to cancel (CSV with order_id, reason, memo).",
)
@click.option(
    "--orders",
    type=click.IntRange(min=20),
    default=200,
    show_default=True,
    help="Demo orders to seed the portal with.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the portal database, journal and report (default: a new folder under "
    "$XDG_DATA_HOME/seller-agent/demo/).",
)
@click.option(
    "--sample-list",
    "sample_list",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default=None,
    metavar="FILE",
    help="Only write the bundled sample list to FILE ('-' for stdout), for `seller-agent cancel "
    "--from FILE` on the demo portal, and start nothing.",
)
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave the portal running afterwards (until Ctrl-C) so you can look around in it.",
)
@workers_option
@browser_options
@quiet_option
def demo(
    source: str,
    orders: int,
    out: str | None,
    sample_list: str | None,
    keep_running: bool,
    workers: int | None,
    browser_path: str | None,
    headed: bool,
    slowmo: int,
    quiet: bool,
) -> None:
    """Start the bundled portal with demo data, cancel a sample list of orders, show the report.

    The sample list holds orders of every kind: cancellable ones, orders whose buyer asked to
    cancel (officially, and only by message), a shipped one, a pending one, one cancelled
    earlier and an id the portal does not know. The run goes through the same engine as
    `seller-agent cancel --from FILE`: the journal, the workers, the rate guard and the
    report. Nothing outside the demo folder is touched.

    Usage:

    \b
        seller-agent demo
        seller-agent demo --workers 2 --keep-running
        seller-agent demo --sample-list sample_orders.csv
    """
    if sample_list is not None:
        write_sample_list(sample_list)
        if sample_list != "-" and not quiet:
            click.echo(
                _("Sample list written to {path}; try: {command}").format(
                    path=sample_list,
                    command=shlex.join(
                        ["seller-agent", "cancel", "--from", sample_list, "--dry-run"]
                    ),
                ),
                err=True,
            )
        return
    from agent import report as report_mod
    from agent.bulk.engine import BulkOptions, default_workers
    from agent.bulk.journal import Journal
    from agent.cancel.job import CancelRequest, execute_cancel
    from agent.cancel.rules import report_facts
    from agent.play.browser import private_dir
    from agent.play.home import data_dir, data_home
    from agent.play.secrets import DEMO_ACCOUNT, ENV_NAMES
    from mock_portal.testing import PortalStartError, running_portal

    def say(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    folder = Path(out) if out else data_dir() / "demo" / time.strftime("%Y%m%d-%H%M%S")
    private_dir(folder)
    portal_db = folder / "portal.db"
    if portal_db.exists():
        portal_db.unlink()  # every demo starts from the same seeded data
    # The demo signs in to its own portal with the demo account, whatever the environment
    # or the secrets file says about the user's real account (the environment wins over the
    # file).
    # Set for the command's duration only: the user's own values come back when it ends.
    previous = {env: os.environ.get(env) for env in ENV_NAMES.values()}
    for name, env in ENV_NAMES.items():
        os.environ[env] = DEMO_ACCOUNT[name]

    def restore() -> None:
        for env, value in previous.items():
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value

    click.get_current_context().call_on_close(restore)

    with contextlib.ExitStack() as stack:
        try:
            portal = stack.enter_context(running_portal(db_path=portal_db, seed=1, orders=orders))
        except PortalStartError as error:
            raise click.ClickException(
                _("the demo portal did not start: {error}").format(error=error)
            ) from None
        say(
            _("Demo portal: {url}  ({account})").format(
                url=portal.url, account="seller@example.com / demo-password / TOTP JBSWY3DPEHPK3PXP"
            )
        )
        say(_("Cancelling the orders in {file}").format(file=source))
        # The sample list is chosen to cross the 2.5% limit, so the guard's projection shows;
        # the demo overrides it to let every outcome appear. A real run stops at the limit.
        say(_("The demo overrides the cancellation-rate guard (--max-cancel-rate 100)."))
        request = CancelRequest(
            sources=[source],
            portal=portal.url,
            journal=str(folder / "journal.db"),
            run_dir=str(folder / "runs"),
            yes=True,
            max_cancel_rate=100.0,
            options=BulkOptions(
                workers=workers or default_workers(),
                quiet=quiet,
                headed=headed,
                slowmo=slowmo,
                browser_path=browser_path,
            ),
        )
        # The run's saved session and one-time-code ledger stay in the demo folder too: the
        # portal's random port would leave a session folder in the user's data home each time.
        with data_home(folder):
            outcome = execute_cancel(request, say=say)
        if outcome.run_id is None:
            raise click.ClickException(shown(outcome.message or _("the demo run did not start")))
        if outcome.message:
            say(_("Error: {message}").format(message=shown(outcome.message)))
        with Journal(request.journal) as journal:
            data = report_mod.build_report(journal, outcome.run_id, row_facts=report_facts)
        click.echo(report_mod.render_table(data))
        html_path = folder / "report.html"
        report_mod.write_report(data, "html", str(html_path))
        click.echo("\n" + _("HTML report: {path}").format(path=html_path))
        click.echo(
            _("Journal: {path} (run {run})").format(path=request.journal, run=outcome.run_id)
        )
        if keep_running:
            say(_("The portal stays up at {url}; Ctrl-C stops it.").format(url=portal.url))
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    # Orders that end not cancellable or not found are what the demo is meant to show; the
    # demo fails only when a row failed (an error the engine could not get past).
    failed = [row for row in data["rows"] if row["state"] != "done"]
    sys.exit(1 if failed else 0)
