"""Replay any flow over the rows of a CSV with the bulk engine (`seller-agent run FLOW --rows`).

The same engine as bulk cancellation: rows checked before the browser starts, the journal,
workers, retries, resume, reports. Only the row source differs: each CSV column binds to the
flow param of the same name, and one column is the row's key in the journal.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.bulk.endpoints import check_endpoints
from agent.bulk.engine import (
    BulkOptions,
    BulkResult,
    ReconcileRule,
    play_run,
    resumed_options,
)
from agent.bulk.journal import run_kind
from agent.bulk.runs import bind_rows, start_run
from agent.bulk.shard import Shard, take_shard
from agent.i18n import N_, _, as_told, in_english_too, ngettext, shown, told


@dataclass
class RowsRequest:
    flow: str | None  # a flow file or bundled name; on resume, the run's (else its own is used)
    rows: str | None  # CSV path or "-"
    portal: str
    key: str | None = None  # the key column (default: the flow's first required param)
    shared: Mapping[str, Any] = field(default_factory=dict)  # -p params for every row
    strict: bool = False
    encoding: str | None = None  # of the rows file, when its content cannot show it
    sheet: str | None = None  # of an .xlsx rows file (default: the first)
    journal: str | None = None
    resume: str | None = None
    secrets_path: str | None = None
    run_dir: str | None = None
    shard: Shard | None = None  # play only this slice of the rows (agent.bulk.shard)
    options: BulkOptions = field(default_factory=BulkOptions)
    # The job's rule for rows that may have acted before a crash (see agent.bulk.engine).
    reconcile: ReconcileRule | None = None
    # On resume: the settings (agent.bulk.engine.RESUMED_SETTINGS) given again; the others
    # are the run's own, from its start. None: every setting as given now.
    given: frozenset[str] | None = None


@dataclass
class RowsOutcome:
    exit_code: int
    run_id: str | None = None
    result: BulkResult | None = None
    message: str | None = None
    problems: list[Any] = field(default_factory=list)  # rows skipped, each naming file:line


def key_column(flow: Any, chosen: str | None) -> str:
    """The column that names a row: --key, else the flow's first required param, else its
    first param."""
    if chosen:
        return chosen
    required = [name for name, param in flow.params.items() if param.required]
    names = required or list(flow.params)
    if not names:
        from agent.flow import FlowError

        raise FlowError(
            _("the flow has no params for the rows' columns to fill"),
            str(flow.source) if flow.source else flow.name,
        )
    return names[0]


def secret_params_given(flow: Any, given: Mapping[str, Any], secrets: Any) -> dict[str, Any]:
    """The flow's `secret: true` params for every row: as given with -p, else a key of the same
    name in the secrets file (SELLER_AGENT_<NAME> is read when the params are bound). Each
    value is masked from then on, like the account's secrets."""
    found: dict[str, Any] = {}
    for name, param in flow.params.items():
        if not getattr(param, "secret", False):
            continue
        if name in given:
            found[name] = given[name]
        elif name in getattr(secrets, "extra", {}):
            found[name] = secrets.extra[name]
        if name in found:
            secrets.add(name, str(found[name]))
    return found


def refuse_secret_columns(flow: Any, rowset: Any) -> None:
    """A secret param in a column of the rows is refused: the journal never keeps a secret, so
    the rows would be played (and resumed) with *** in its place."""
    from agent.bulk.rows import InputError

    for row in rowset.rows:
        for name in row.params:
            if getattr(flow.params.get(name), "secret", False):
                raise InputError(
                    _(
                        "{file}:{line}: column {column} is a secret param of the flow, and the "
                        "journal keeps no secret to play the rows with; give it once with -p "
                        "{column}=..., {variable} or the secrets file"
                    ).format(
                        file=row.source,
                        line=row.line,
                        column=name,
                        variable=f"SELLER_AGENT_{name.upper()}",
                    )
                )


def flow_source(flow: Any) -> str | None:
    """Where a resume finds the flow again, from any folder: a bundled flow by its name (the
    package may move), a file by its absolute path."""
    from agent.flow import flows_dir

    if flow.source is None:
        return None
    path = Path(flow.source).resolve()
    if path.parent == flows_dir().resolve():
        return path.stem
    return str(path)


def resumed_flow(run_id: str, record: Any, given: str | None) -> Any:
    """The flow a resumed run plays: the FLOW given, when it is the run's flow (typed from
    wherever the user is now), else the one the run recorded. A FLOW that is another flow is
    refused: the run's rows were bound to its own."""
    from agent.flow import FlowError, load_flow

    if given is not None:
        try:
            flow = load_flow(given)
        except FlowError:
            flow = None
        if flow is not None and flow.name == record.flow:
            return flow
        if flow is not None:
            raise FlowError(
                _("run {run} played the flow {flow!r}, not {given!r}").format(
                    run=run_id, flow=record.flow, given=flow.name
                )
            )
    return load_flow(record.options.get("flow_source") or record.flow)


def execute_rows(
    request: RowsRequest,
    *,
    say: Callable[[str], None],
    warn: Callable[[str], None] | None = None,
    stdin: Any = None,
) -> RowsOutcome:
    """Check the rows, record (or resume) the run, and play it. Input errors come back as
    exit code 2 with one line, before anything is written. warn: for what the input could
    not give (rows left out, an encoding guessed), which --quiet does not silence (default:
    say)."""
    warn = warn or say
    from agent.bulk.journal import Journal, JournalError, RunBusy
    from agent.bulk.rows import InputError, read_in_english_too, read_param_rows, replayable_stdin
    from agent.errors import SellerAgentError
    from agent.flow import FlowError, load_flow
    from agent.play.browser import BrowserNotFound, EndpointError
    from agent.play.secrets import load_secrets

    journal: Journal | None = None
    run_id: str | None = None
    options = request.options
    try:
        secrets = load_secrets(Path(request.secrets_path) if request.secrets_path else None)
        if request.resume:
            journal = Journal(request.journal, redact=secrets.redact)
            run_id = journal.resolve_run_id(request.resume)
            record = journal.run(run_id)
            if run_kind(record.options) == "cancel":
                # A cancel run goes on under its own rules: its dry run, its rate guard. Played
                # here, a dry run's orders would be cancelled for real.
                raise JournalError(
                    _(
                        "run {run} is a run of seller-agent cancel: go on with it with "
                        "`seller-agent cancel --resume {run}`"
                    ).format(run=run_id)
                )
            flow = resumed_flow(run_id, record, request.flow)
            # The journal keeps a secret param as ***: it comes again from -p, the
            # environment or the secrets file, as when the run started.
            given_secrets = secret_params_given(flow, request.shared, secrets)
            for name, value in record.params.items():
                if (
                    value == "***"
                    and name not in given_secrets
                    and not os.environ.get(f"SELLER_AGENT_{name.upper()}")
                ):
                    # Said before any browser starts, not as every row's failure.
                    raise InputError(
                        _(
                            "param {name} is a secret, which the journal does not keep: give it "
                            "again with -p {name}=..., {variable} or the secrets file"
                        ).format(name=name, variable=f"SELLER_AGENT_{name.upper()}")
                    )
            shared = {**dict(record.params), **given_secrets}
            portal = record.portal
            options = resumed_options(journal, run_id, record.options, options, request.given)
            say(_("resuming run {run}: {settings}").format(run=run_id, settings=options.summary()))
        else:
            flow = in_english_too(lambda: load_flow(request.flow), FlowError)
            key = key_column(flow, request.key)

            # in_english_too reads an unusable file again: standard input is kept for it.
            source = replayable_stdin(stdin) if request.rows == "-" else stdin

            def read() -> Any:
                return read_param_rows(
                    request.rows,
                    key_column=key,
                    columns=flow.params,
                    strict=request.strict,
                    stdin=source,
                    encoding=request.encoding,
                    sheet=request.sheet,
                )

            rowset = read_in_english_too(read)
            for note in rowset.notes:
                warn(_("Note: {note}").format(note=note))
            refuse_secret_columns(flow, rowset)
            shared = {**dict(request.shared), **secret_params_given(flow, request.shared, secrets)}
            rowset = bind_rows(flow, rowset, shared, strict=request.strict)
            for problem in rowset.problems:
                warn(_("Warning: {problem} (skipped)").format(problem=shown(problem)))
            if request.shard is not None:
                everything = len(rowset.rows)
                rowset = take_shard(rowset, request.shard)
                say(
                    ngettext(
                        "shard {shard}: {count} of {total} row",
                        "shard {shard}: {count} of {total} rows",
                        everything,
                    ).format(shard=request.shard, count=len(rowset.rows), total=everything)
                )
            if not rowset.rows:
                message = (
                    told(N_("no valid rows to run in shard {shard}"), shard=request.shard)
                    if request.shard is not None
                    else told(N_("no valid rows to run"))
                )
                return RowsOutcome(2, message=message, problems=rowset.problems)
            # Every browser endpoint answers before anything is recorded.
            check_endpoints(options)
            portal = request.portal
            journal = Journal(request.journal, redact=secrets.redact)
            run_id = start_run(
                journal,
                flow,
                rowset,
                portal=portal,
                shared_params=shared,
                options=options.to_dict()
                | {
                    "flow_source": flow_source(flow),
                    "shard": str(request.shard) if request.shard is not None else None,
                },
            )
        result = play_run(
            flow,
            journal,
            run_id,
            portal=portal,
            secrets=secrets,
            options=options,
            run_dir=request.run_dir,
            shared=shared,
            say=say,
            reconcile=request.reconcile,
        )
        return RowsOutcome(result.exit_code, run_id=run_id, result=result)
    except RunBusy as error:
        # Another process plays the run: nothing of this one to report, only why.
        return RowsOutcome(2, message=as_told(error))
    except (
        InputError,
        FlowError,
        JournalError,
        BrowserNotFound,
        EndpointError,
        ValueError,
    ) as error:
        return RowsOutcome(2, run_id=run_id, message=as_told(error))
    except FileNotFoundError as error:
        return RowsOutcome(2, run_id=run_id, message=as_told(error))
    except SellerAgentError as error:
        # A stop the portal asked for (a person must act) is exit 2 even mid-run.
        code = 2 if run_id is None or error.exit_code == 2 else 1
        return RowsOutcome(code, run_id=run_id, message=as_told(error))
    finally:
        if journal is not None:
            journal.close()
