"""`seller-agent report`: the report of a bulk run, from the journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from agent.bulk.journal import Journal, JournalError, default_journal_path
from agent.cli.language import TranslatedCommand
from agent.cli.options import InputError, lang_option
from agent.i18n import _, ngettext, shown
from agent.report import FORMATS, build_report, run_kind, write_report


@click.command(cls=TranslatedCommand)
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
    "--log",
    "show_log",
    is_flag=True,
    help="Show the run's log instead: sign-ins, pauses, retries and their reasons, with times.",
)
@click.option(
    "--merge",
    is_flag=True,
    help="One report for a sharded job: the newest run in each JOURNAL given, combined; "
    "keys that two shards both played and missing shards are flagged.",
)
@lang_option
def report(
    refs: tuple[str, ...],
    fmt: str,
    output: str,
    journal_path: str | None,
    show_log: bool,
    merge: bool,
) -> None:
    """Show the report of a bulk run: counts per outcome, failures, retries, pauses, the rate.

    Usage:

    \b
        seller-agent report
        seller-agent report last --format html -o report.html
        seller-agent report last --format html -o report.html --lang zh-CN
        seller-agent report 20261126-140501-3f2a --format csv -o -
        seller-agent report last --log
        seller-agent report --merge shard1.db shard2.db shard3.db \\
            --format html -o job.html
    """
    if merge:
        _merged(refs, fmt, output)
        return
    if len(refs) > 1:
        raise click.UsageError(_("give one run id (or --merge JOURNAL... for a sharded job)"))
    run_id = refs[0] if refs else "last"
    path = Path(journal_path) if journal_path else default_journal_path()
    if not path.exists():
        raise click.UsageError(
            _("no journal at {path}: no bulk run has been recorded there yet").format(path=path)
        )
    try:
        with Journal(path) as journal:
            resolved = journal.resolve_run_id(run_id)
            if show_log:
                _show_log(journal, resolved, output)
                return
            data = build_report(journal, resolved, row_facts=_row_facts(journal, resolved))
    except JournalError as error:
        raise click.UsageError(shown(error)) from error
    try:
        write_report(data, fmt, output, redact=_redactor())
    except OSError as error:
        raise InputError(_("{file}: {reason}").format(file=output, reason=error.strerror)) from None


def _row_facts(journal: Journal, run_id: str) -> Callable | None:
    """What the cancel job adds to each row of its runs (whether it counts toward the rate)."""
    if run_kind(journal.run(run_id).options) != "cancel":
        return None
    from agent.cancel.rules import report_facts

    return report_facts


def _show_log(journal: Journal, run_id: str, output: str) -> None:
    from agent.bulk.engine import default_run_dir
    from agent.bulk.runlog import LOG_NAME

    recorded = journal.run(run_id).options.get("log")
    log = Path(recorded) if recorded else default_run_dir(journal, run_id) / LOG_NAME
    try:
        text = log.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.UsageError(
            _("run {run} has no log at {log}").format(run=run_id, log=log)
        ) from None
    except OSError as error:
        raise click.ClickException(
            _("{file}: {reason}").format(file=log, reason=error.strerror)
        ) from error
    redact = _redactor()
    if redact:
        text = redact(text)
    if output in (None, "-"):
        click.echo(text, nl=False)
        return
    from agent.play.browser import write_private_bytes

    try:
        # Like a report: readable by the owner only, and written whole or not at all.
        write_private_bytes(Path(output), text.encode("utf-8"))
    except OSError as error:
        raise InputError(_("{file}: {reason}").format(file=output, reason=error.strerror)) from None


def _merged(journals: tuple[str, ...], fmt: str, output: str) -> None:
    from agent.report.merge import merge_runs

    try:
        data = merge_runs(journals, row_facts=_row_facts)
    except JournalError as error:
        raise click.UsageError(shown(error)) from error
    try:
        write_report(data, fmt, output, redact=_redactor())
    except OSError as error:
        raise InputError(_("{file}: {reason}").format(file=output, reason=error.strerror)) from None
    if data["duplicates"]:
        click.echo(
            ngettext(
                "Warning: {count} key was played by two shards: {keys}",
                "Warning: {count} keys were played by two shards: {keys}",
                len(data["duplicates"]),
            ).format(
                count=len(data["duplicates"]),
                keys=", ".join(item["key"] for item in data["duplicates"][:10]),
            ),
            err=True,
        )
    for note in data["warnings"]:
        click.echo(_("Warning: {note}").format(note=shown(note)), err=True)


def _redactor() -> Callable[[str], str] | None:
    """The journal holds no secrets; this is a second line of defence for reports."""
    try:
        from agent.play.secrets import load_secrets

        return load_secrets().redact
    except Exception:  # an unreadable secrets file must not block a report
        return None
