"""`seller-agent report`: the report of a bulk run, from the journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from agent.bulk.journal import Journal, JournalError, default_journal_path
from agent.cli.options import lang_option
from agent.report import FORMATS, build_report, run_kind, write_report


@click.command()
@click.argument("run_id", default="last", metavar="[RUN_ID|last]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table (a summary), json, csv (one line per row) or html (one self-contained file).",
)
@click.option(
    "-o",
    "--output",
    default="-",
    metavar="FILE",
    help="Write the report here ('-' for stdout, the default).",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The run journal (default $XDG_DATA_HOME/seller-agent/journal.db).",
)
@lang_option
def report(run_id: str, fmt: str, output: str, journal_path: str | None) -> None:
    """Show the report of a bulk run: counts per outcome, failures, retries, the rate.

    Usage:

        seller-agent report

        seller-agent report last --format html -o report.html

        seller-agent report last --format html -o report.html --lang zh-CN

        seller-agent report 20261126-140501-3f2a --format csv -o -
    """
    path = Path(journal_path) if journal_path else default_journal_path()
    if not path.exists():
        raise click.UsageError(f"no journal at {path}: no bulk run has been recorded there yet")
    try:
        with Journal(path) as journal:
            resolved = journal.resolve_run_id(run_id)
            data = build_report(journal, resolved, row_facts=_row_facts(journal, resolved))
    except JournalError as error:
        raise click.UsageError(str(error)) from error
    try:
        write_report(data, fmt, output, redact=_redactor())
    except OSError as error:
        raise click.ClickException(f"{output}: {error.strerror}") from error


def _row_facts(journal: Journal, run_id: str) -> Callable | None:
    """What the cancel job adds to each row of its runs (whether it counts toward the rate)."""
    if run_kind(journal.run(run_id).options) != "cancel":
        return None
    from agent.cancel.rules import report_facts

    return report_facts


def _redactor() -> Callable[[str], str] | None:
    """The journal holds no secrets; this is a second line of defence for reports."""
    try:
        from agent.play.secrets import load_secrets

        return load_secrets().redact
    except Exception:  # an unreadable secrets file must not block a report
        return None
