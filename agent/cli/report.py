"""`seller-agent report`: the report of a bulk run, from the journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from agent.bulk.journal import Journal, JournalError, default_journal_path
from agent.report import FORMATS, build_report, write_report


@click.command()
@click.argument("refs", nargs=-1, metavar="[RUN_ID|last] | --merge JOURNAL...")
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
@click.option(
    "--merge",
    is_flag=True,
    help="One report for a sharded job: the newest run in each JOURNAL given, combined; "
    "keys that two shards both played and missing shards are flagged.",
)
def report(
    refs: tuple[str, ...], fmt: str, output: str, journal_path: str | None, merge: bool
) -> None:
    """Show the report of a bulk run: counts per outcome, failures, retries, the rate.

    Usage:

        seller-agent report

        seller-agent report last --format html -o report.html

        seller-agent report 20261126-140501-3f2a --format csv -o -

        seller-agent report --merge shard1.db shard2.db shard3.db --format html -o job.html
    """
    if merge:
        _merged(refs, fmt, output)
        return
    if len(refs) > 1:
        raise click.UsageError("give one run id (or --merge JOURNAL... for a sharded job)")
    run_id = refs[0] if refs else "last"
    path = Path(journal_path) if journal_path else default_journal_path()
    if not path.exists():
        raise click.UsageError(f"no journal at {path}: no bulk run has been recorded there yet")
    try:
        with Journal(path) as journal:
            data = build_report(journal, journal.resolve_run_id(run_id))
    except JournalError as error:
        raise click.UsageError(str(error)) from error
    try:
        write_report(data, fmt, output, redact=_redactor())
    except OSError as error:
        raise click.ClickException(f"{output}: {error.strerror}") from error


def _merged(journals: tuple[str, ...], fmt: str, output: str) -> None:
    from agent.report.merge import merge_runs

    try:
        data = merge_runs(journals)
    except JournalError as error:
        raise click.UsageError(str(error)) from error
    try:
        write_report(data, fmt, output, redact=_redactor())
    except OSError as error:
        raise click.ClickException(f"{output}: {error.strerror}") from error
    if data["duplicates"]:
        click.echo(
            f"Warning: {len(data['duplicates'])} keys were played by two shards: "
            + ", ".join(item["key"] for item in data["duplicates"][:10]),
            err=True,
        )
    for note in data["warnings"]:
        click.echo(f"Warning: {note}", err=True)


def _redactor() -> Callable[[str], str] | None:
    """The journal holds no secrets; this is a second line of defence for reports."""
    try:
        from agent.play.secrets import load_secrets

        return load_secrets().redact
    except Exception:  # an unreadable secrets file must not block a report
        return None
