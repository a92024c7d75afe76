"""`seller-agent run` and `seller-agent login`, and the pieces the one-off commands share.

Playwright, pydantic and Jinja2 are imported inside the commands, so `seller-agent --help`
stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from agent.bulk.timings import Timings
from agent.cli.language import (
    TranslatedCommand,
    echo_json,
    exit_with_json_error,
    json_errors,
    print_error,
    stop_message,
    warn,
)
from agent.cli.options import (
    InputError,
    browser_endpoint_option,
    browser_options,
    bulk_options,
    given_settings,
    input_file_options,
    json_option,
    max_outage_option,
    parse_duration,
    parse_rate,
    portal_option,
    quiet_option,
    run_dir_option,
    secrets_option,
    shard_option,
    workers_option,
)
from agent.i18n import N_, _, as_told, in_english_too, pgettext, shown, told


def default_run_dir(name: str) -> Path:
    return Path("runs") / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{name}"


def load_secrets_or_fail(path: str | None) -> Any:
    from agent.errors import SecretsError
    from agent.play.secrets import load_secrets

    try:
        return load_secrets(Path(path) if path else None)
    except SecretsError as error:
        raise InputError(as_told(error)) from None


def load_flow_or_fail(ref: str) -> Any:
    from agent.flow import FlowError, load_flow

    try:
        return in_english_too(lambda: load_flow(ref), FlowError)
    except FlowError as error:
        raise InputError(as_told(error)) from None


def parse_param_options(pairs: tuple[str, ...]) -> dict[str, str]:
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(told(N_("-p {pair}: expected NAME=VALUE"), pair=pair))
        name = name.strip()
        if name in given and given[name] != value:
            # Which one was meant cannot be told: the last one silently winning could cancel
            # with another reason, or another order, than the one read first.
            raise InputError(
                # The values are not repeated: one may be a secret.
                told(N_("-p {name}: given twice, with different values; give it once"), name=name)
            )
        given[name] = value
    return given


def run_in_browser(
    work: Callable[[Any], Coroutine[Any, Any, Any]],
    *,
    portal: str,
    secrets: Any,
    run_dir: Path,
    browser_path: str | None,
    headed: bool,
    slowmo: int,
    signed_in: bool,
    timings: Timings | None = None,
    connect: str | None = None,
) -> Any:
    """Start a browser, sign in when asked (reusing a saved session), and await work(context).

    Failures a user can act on (no browser, sign-in refused, portal down) become one-line
    ClickExceptions."""
    import asyncio

    from agent.errors import SellerAgentError, one_line
    from agent.play.browser import BrowserNotFound, EndpointError

    timings = timings or Timings()

    async def main() -> Any:
        from playwright.async_api import async_playwright

        from agent.play import browser as browserlib
        from agent.play import session

        async with async_playwright() as playwright:
            browser = await browserlib.launch(
                playwright,
                browser_path=browser_path,
                headed=headed,
                slowmo=slowmo,
                connect=connect,
            )
            timings.mark("browser_start")
            try:
                storage = None
                if signed_in:
                    storage = await session.ensure_session(
                        browser, portal=portal, secrets=secrets, run_dir=run_dir
                    )
                    timings.mark("session")
                context = await browserlib.new_context(browser, storage_state=storage)
                try:
                    return await work(context)
                finally:
                    await context.close()
            finally:
                await browser.close()

    try:
        return asyncio.run(main())
    except (BrowserNotFound, EndpointError) as error:
        raise InputError(as_told(error)) from None
    except FileNotFoundError as error:
        raise InputError(as_told(error)) from None
    except SellerAgentError as error:
        failure = click.ClickException(secrets.redact(shown(error)))
        # A sign-in a person must finish is exit 2, like any stop before work began.
        failure.exit_code = error.exit_code
        raise failure from None
    except KeyboardInterrupt:
        raise click.ClickException(_("interrupted")) from None
    except Exception as error:
        if type(error).__module__.startswith("playwright"):
            raise click.ClickException(
                f"browser: {secrets.redact(one_line(error))} (portal {portal})"
            ) from None
        raise


# The options of a run over rows (Click's name -> the option as typed).
ROWS_ONLY = {
    "key": "--key",
    "journal": "--journal",
    "strict": "--strict",
    "max_failures": "--max-failures",
    "pace": "--rate",
    "retry_failed": "--retry-failed",
    "max_outage": "--max-outage",
    "attempts": "--attempts",
    "recycle_every": "--recycle-every",
    "block_media": "--block-media",
    "workers": "--workers",
    "sheet": "--sheet",
    "encoding": "--encoding",
}


def print_result(result: Any, flow_name: str, as_json: bool) -> None:
    if as_json:
        echo_json({"flow": flow_name, **result.to_dict(), "exit_code": 0 if result.ok else 1})
        return
    # The outcome is the flow's own name for it (a code): only the label is translated.
    click.echo(_("outcome: {outcome}").format(outcome=result.outcome))
    for name, value in result.values.items():
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        click.echo(f"{name}: {text}")
    fallbacks = [m for m in result.matches if m["candidate"]]
    for match in fallbacks:
        step = (
            _("{step} (line {line})").format(step=match["step"], line=match["line"])
            if match["line"]
            else match["step"]
        )
        click.echo(
            _("note: {step} used fallback target #{number}: {target}").format(
                step=step, number=match["candidate"] + 1, target=match["spec"]
            ),
            err=True,
        )
    if result.error:
        print_error(result.error)


@click.command("run", cls=TranslatedCommand)
@click.argument("flow_ref", metavar="FLOW")
@click.option(
    "-p",
    "--param",
    "param_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A param of the flow (repeat for several).",
)
@portal_option
@browser_options
@browser_endpoint_option
@secrets_option
@run_dir_option
@click.option(
    "--trace/--no-trace",
    default=True,
    show_default=True,
    help="Record a Playwright trace, kept when a step fails (with --rows, only when --trace is "
    "given: a trace costs every row time).",
)
@click.option(
    "--rows",
    "rows_file",
    metavar="FILE.csv",
    help="Replay once per row of a CSV, tab-separated, .xlsx or JSON file (an array of objects, "
    "or an object per line), columns bound to the params of the same name (- for stdin).",
)
@input_file_options
@click.option(
    "--key",
    metavar="COLUMN",
    help="With --rows: the column naming each row (default: the first required param).",
)
@click.option(
    "--resume",
    metavar="RUN_ID",
    help="Go on with an interrupted --rows run (its id, or 'last'): done rows are skipped.",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="With --rows: the run journal (default $XDG_DATA_HOME/seller-agent/journal.db).",
)
@click.option("--strict", is_flag=True, help="With --rows: any bad row is an error.")
@click.option(
    "--max-failures",
    type=click.IntRange(min=1),
    metavar="K",
    help="With --rows: stop taking new rows after K failures.",
)
@click.option(
    "--rate", "pace", metavar="N/s", help="With --rows: at most this many rows per second."
)
@click.option("--retry-failed", is_flag=True, help="With --resume: play failed rows again too.")
@max_outage_option(
    help="With --rows: how long the portal may be unreachable (or throttle every request) "
    "before the run stops, resumable: 90s, 15m, 1h."
)
@bulk_options
@shard_option
@workers_option
@json_option
@quiet_option
def run(as_json: bool, **params: Any) -> None:
    """Replay one flow once and print its outcome and extracted values.

    FLOW is a flow file (YAML or JSON) or the name of a bundled flow. The flow is checked
    completely before the browser starts. Exit code 0 when the outcome is a success, 1 when
    it is not (or a step failed: a screenshot and a trace are left in the run folder), 2 for
    a bad flow or param.

    Usage:

    \b
        seller-agent run cancel_order -p order_id=112-0000001-0000001 \\
            -p reason=NoInventory
        seller-agent run collect_cancel_requests --json
        seller-agent run my_flow.yaml -p q=mug --headed --slowmo 250
        seller-agent run my_flow.yaml --rows orders.csv --workers 4
        seller-agent run my_flow.yaml --resume last
    """
    with json_errors(as_json, flow=params["flow_ref"]):
        _run(as_json=as_json, **params)


def _run(
    flow_ref: str,
    param_pairs: tuple[str, ...],
    portal: str,
    browser_path: str | None,
    headed: bool,
    slowmo: int,
    browser_endpoints: tuple[str, ...],
    secrets_path: str | None,
    run_dir: str | None,
    trace: bool,
    rows_file: str | None,
    sheet: str | None,
    encoding: str | None,
    key: str | None,
    resume: str | None,
    journal: str | None,
    strict: bool,
    max_failures: int | None,
    pace: str | None,
    retry_failed: bool,
    max_outage: str,
    attempts: int,
    recycle_every: int,
    block_media: bool,
    shard: Any,
    workers: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    if shard is not None and (resume or not rows_file):
        raise click.UsageError(_("--shard applies to a new --rows run"))
    if resume and rows_file:
        # The run would go on with its own rows, the file given here left unread.
        raise click.UsageError(
            _(
                "--resume goes on with the run's own rows; --rows starts a new run: give one or the other"
            )
        )
    if not (rows_file or resume):
        # A setting of runs over rows, given to a single run, would be silently ignored.
        context = click.get_current_context()
        for name, option in ROWS_ONLY.items():
            if context.get_parameter_source(name) == ParameterSource.COMMANDLINE:
                raise click.UsageError(
                    _("{option} applies to a run over rows (--rows or --resume)").format(
                        option=option
                    )
                )
    if rows_file or resume:
        # A trace costs every row time: a run over rows keeps traces only when asked to.
        trace_given = click.get_current_context().get_parameter_source("trace") in (
            ParameterSource.COMMANDLINE,
            ParameterSource.ENVIRONMENT,
        )
        run_rows(
            flow_ref,
            rows_file,
            parse_param_options(param_pairs),
            portal=portal,
            sheet=sheet,
            encoding=encoding,
            key=key,
            resume=resume,
            journal=journal,
            strict=strict,
            max_failures=max_failures,
            rate=parse_rate(pace),
            retry_failed=retry_failed,
            max_outage=parse_duration(max_outage),
            attempts=attempts,
            recycle_every=recycle_every,
            block_media=block_media,
            trace=trace and trace_given,
            given=given_settings(click.get_current_context()),
            shard=shard,
            workers=workers,
            browser_path=browser_path,
            headed=headed,
            slowmo=slowmo,
            browser_endpoints=browser_endpoints,
            secrets_path=secrets_path,
            run_dir=run_dir,
            as_json=as_json,
            quiet=quiet,
        )
    from agent.flow import FlowError, bind_params, secret_params
    from agent.play.player import run_flow

    flow = load_flow_or_fail(flow_ref)
    given = parse_param_options(param_pairs)
    secrets = load_secrets_or_fail(secrets_path)
    for name, param in flow.params.items():
        # A secret param may also live in the secrets file, under its own name.
        if param.secret and name not in given and name in secrets.extra:
            given[name] = secrets.extra[name]
    try:
        params = in_english_too(lambda: bind_params(flow, given), FlowError)
    except FlowError as error:
        raise InputError(as_told(error)) from None
    for name, value in secret_params(flow, params).items():
        secrets.add(name, value)
    folder = Path(run_dir) if run_dir else default_run_dir(flow.name)
    timings = Timings()

    async def work(context: Any) -> Any:
        page = await context.new_page()
        result = await run_flow(
            page, flow, params, portal=portal, secrets=secrets, run_dir=folder, trace=trace
        )
        timings.mark("flow")
        return result

    if not quiet:
        click.echo(_("running {flow} on {portal}").format(flow=flow.name, portal=portal), err=True)
    result = run_in_browser(
        work,
        portal=portal,
        secrets=secrets,
        run_dir=folder,
        browser_path=browser_path,
        headed=headed,
        slowmo=slowmo,
        signed_in=flow.session_flow is not None,
        timings=timings,
        connect=browser_endpoints[0] if browser_endpoints else None,
    )
    print_result(result, flow.name, as_json)
    timings.report()
    sys.exit(0 if result.ok else 1)


@click.command("login", cls=TranslatedCommand)
@portal_option
@browser_options
@browser_endpoint_option
@secrets_option
@run_dir_option(
    help="Folder for screenshots and traces of a failed sign-in (default runs/<time>-login)."
)
@quiet_option
def login(
    portal: str,
    browser_path: str | None,
    headed: bool,
    slowmo: int,
    browser_endpoints: tuple[str, ...],
    secrets_path: str | None,
    run_dir: str | None,
    quiet: bool,
) -> None:
    """Sign in to the portal and save the session for later runs.

    Runs the bundled login flow (email, password, and the two-step verification code
    computed from the TOTP secret) and saves the signed-in state, readable by you only, in
    your data folder, one file per portal and account. Other commands reuse it, and sign in
    again by themselves when it expires. Prints the session file's path.

    A CAPTCHA or a verification code is never answered by the tool: it stops with exit code
    2 and says what the portal asks for. With --headed you answer it in the browser window
    and finish signing in there (within 10 minutes); the session is then saved as usual. An
    account picker is answered with --account, or with its only choice.

    Usage:

    \b
        seller-agent login
        seller-agent login --headed --account "United States"
        SELLER_AGENT_PASSWORD=... seller-agent login \\
            --portal http://127.0.0.1:8600
    """
    from agent.play.browser import storage_state_path
    from agent.play.interstitials import PERSON_WAIT_SECONDS

    secrets = load_secrets_or_fail(secrets_path)
    folder = Path(run_dir) if run_dir else default_run_dir("login")

    def say(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    async def work(context: Any) -> None:
        from agent.play.session import sign_in

        await sign_in(
            context,
            portal=portal,
            secrets=secrets,
            run_dir=folder,
            # Only a visible window lets a person answer what the tool will not.
            person_wait=PERSON_WAIT_SECONDS if headed else 0,
            say=say,
        )

    run_in_browser(
        work,
        portal=portal,
        secrets=secrets,
        run_dir=folder,
        browser_path=browser_path,
        headed=headed,
        slowmo=slowmo,
        signed_in=False,
        connect=browser_endpoints[0] if browser_endpoints else None,
    )
    if not quiet:
        click.echo(
            _("signed in to {portal} (secrets from {source})").format(
                # Where the secrets came from: files by name, the others in words.
                portal=portal,
                source=pgettext("list", ", ").join(
                    _(part) if part else part for part in secrets.source.split(", ")
                ),
            ),
            err=True,
        )
    click.echo(str(storage_state_path(portal, secrets.email)))


def run_rows(
    flow_ref: str,
    rows_file: str | None,
    shared: dict[str, Any],
    *,
    portal: str,
    sheet: str | None = None,
    encoding: str | None = None,
    key: str | None,
    resume: str | None,
    journal: str | None,
    strict: bool,
    max_failures: int | None,
    rate: float | None,
    retry_failed: bool,
    max_outage: float,
    attempts: int,
    recycle_every: int,
    block_media: bool,
    trace: bool,
    given: frozenset[str],
    workers: int | None,
    browser_path: str | None,
    headed: bool,
    slowmo: int,
    secrets_path: str | None,
    shard: Any = None,
    browser_endpoints: tuple[str, ...] = (),
    run_dir: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """`run FLOW --rows FILE.csv`: the flow once per row, through the bulk engine."""
    from agent import report as report_mod
    from agent.bulk import retry as retry_rules
    from agent.bulk.engine import BulkOptions, default_workers
    from agent.bulk.journal import Journal
    from agent.bulk.replay import RowsRequest, execute_rows
    from agent.cancel import rules as cancel_rules

    def say(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    request = RowsRequest(
        flow=flow_ref,
        rows=rows_file,
        portal=portal,
        key=key,
        shared=shared,
        strict=strict,
        encoding=encoding,
        sheet=sheet,
        journal=journal,
        resume=resume,
        secrets_path=secrets_path,
        run_dir=run_dir,
        shard=shard,
        options=BulkOptions(
            workers=workers or default_workers(),
            rate=rate,
            max_failures=max_failures,
            retry=retry_rules.RetryPolicy(attempts=attempts),
            recycle_every=recycle_every,
            max_outage=max_outage,
            block_media=block_media,
            trace=trace,
            retry_failed=retry_failed,
            quiet=quiet,
            headed=headed,
            slowmo=slowmo,
            browser_path=browser_path,
            endpoints=browser_endpoints,
            connect=browser_endpoints[0] if browser_endpoints else None,
        ),
        # A replayed cancel flow keeps the cancel job's rule for rows that may have acted
        # before a crash; the rule does nothing for flows without a `cancelled` outcome.
        reconcile=cancel_rules.reconcile,
        given=given,
    )
    outcome = execute_rows(request, say=say, warn=warn, stdin=sys.stdin)
    if outcome.run_id is None:
        message = outcome.message or _("nothing to run")
        if as_json:
            problems = [str(problem) for problem in outcome.problems]
            exit_with_json_error(message, outcome.exit_code or 2, flow=flow_ref, problems=problems)
        raise InputError(message)
    with Journal(request.journal) as opened:
        data = report_mod.build_report(opened, outcome.run_id)
    if as_json:
        echo_json(
            {
                "flow": data["run"]["flow"],
                "ok": outcome.exit_code == 0,
                "error": outcome.message or stop_message(outcome),
                "exit_code": outcome.exit_code,
                **data,
            }
        )
    else:
        click.echo(report_mod.render_table(data))
    if outcome.message:
        print_error(outcome.message)
    sys.exit(outcome.exit_code)
