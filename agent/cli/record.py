"""`seller-agent record`, `import` and `export`: flows without writing code.

Playwright is imported inside `record` only, so `seller-agent --help` stays fast.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agent.cli.language import TranslatedCommand
from agent.cli.options import InputError, browser_options, portal_option, quiet_option
from agent.cli.run import parse_param_options
from agent.i18n import N_, _, as_told, ngettext, shown, told


def _param_option(func: Callable) -> Callable:
    return click.option(
        "-p",
        "--param",
        "param_pairs",
        multiple=True,
        metavar="NAME=VALUE",
        help="A value that stands for a param: where it appears, {{ NAME }} is written "
        "instead (repeat for several).",
    )(func)


def _recording_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """-p NAME=VALUE of record and import: NAME must be able to stand in a template, and must
    not be a secret's (the value would be typed where the secret then goes: a search box, a
    URL)."""
    from agent.flow import SECRET_NAMES
    from agent.flow.model import IDENTIFIER

    params = parse_param_options(pairs)
    for name in params:
        if name in SECRET_NAMES:
            raise InputError(
                _(
                    "-p {name}: {name} is a secret's name ({secrets}), never a param; choose "
                    "another name"
                ).format(name=name, secrets=", ".join(SECRET_NAMES))
            )
        if not IDENTIFIER.match(name):
            raise InputError(
                _(
                    "-p {name}: a param's name is letters, digits and _, not starting with a "
                    "digit (such as {example})"
                ).format(name=name, example=re.sub(r"\W", "_", name).lstrip("0123456789") or "p")
            )
    return params


def _note_unused_params(
    params: dict[str, str], flows: list[dict], source: str, warn: Callable[[str], None]
) -> None:
    """Says which -p values appear nowhere in what was recorded: a mistyped value would
    otherwise leave the flow without the param the user asked for, unsaid."""
    from agent.recording.common import template_names

    used = {name for flow in flows for name in template_names(flow)}
    for name, value in params.items():
        if name not in used:
            warn(
                _(
                    "{file}: -p {name}: {value!r} appears nowhere in the recording; no param {name}"
                ).format(file=source, name=name, value=value)
            )


def _output_option(func: Callable) -> Callable:
    return click.option(
        "-o",
        "--output",
        default="-",
        show_default=True,
        metavar="FILE",
        help="Where to write ('-' is stdout).",
    )(func)


def _warner(quiet: bool) -> Callable[[str], None]:
    def warn(message: str) -> None:
        if not quiet:
            click.echo(_("note: {message}").format(message=shown(message)), err=True)

    return warn


def _write(text: str, output: str, quiet: bool, what: str) -> None:
    if output == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(
            _("{file}: cannot write ({error})").format(file=output, error=error.strerror)
        ) from None
    if not quiet:
        click.echo(_("wrote {what} to {file}").format(what=what, file=output), err=True)


def _flow_named(name: str) -> str:
    return _("flow {name}").format(name=repr(name))


def _absolute_start(url: str | None, portal: str) -> str:
    if not url:
        return portal.rstrip("/") + "/home"
    if url.startswith("/"):
        return portal.rstrip("/") + url
    if "://" not in url and not url.startswith("about:"):
        raise InputError(
            _("URL {url}: expected an http(s) URL or a path such as /orders-v3/").format(url=url)
        )
    return url


@click.command("record", cls=TranslatedCommand)
@click.argument("url", required=False, metavar="[URL]")
@_output_option
@_param_option
@click.option("--name", metavar="NAME", help="The flow's name (default: from the start page).")
@click.option(
    "--session",
    metavar="FLOW",
    help="Session flow the flow signs in with (default: `login` for pages of --portal or "
    "when the sign-in page showed).",
)
@click.option(
    "--headless",
    is_flag=True,
    help="No window (the default without a display); stop with SIGINT or SIGTERM.",
)
@click.option(
    "--locale",
    "browser_locale",
    metavar="LOCALE",
    help="Language the recording browser asks pages for, e.g. zh-CN (--lang is the tool's "
    "own language).",
)
@portal_option
@browser_options
@quiet_option
def record(
    url: str | None,
    output: str,
    param_pairs: tuple[str, ...],
    name: str | None,
    session: str | None,
    headless: bool,
    browser_locale: str | None,
    portal: str,
    browser_path: str | None,
    headed: bool,
    slowmo: int,
    quiet: bool,
) -> None:
    """Record a flow: open a browser, do the chore by hand, stop; get a flow file.

    Opens URL (default: the portal's home page; a path such as /orders-v3/ is joined to
    --portal) and records navigations, clicks, typing, selects, checks, key presses and
    form submits. Stop with the page's "Stop recording" button, by closing the browser, or
    with Ctrl-C (SIGINT) or SIGTERM; the flow is written then. The portal's sign-in is
    replaced by the `login` session flow; typed passwords become {{ password }}; a value
    given with -p is written as {{ NAME }}; a typed order id becomes the param order_id.

    Usage:

    \b
        seller-agent record /orders-v3/ -o my_cancel.yaml \\
            -p order_id=112-0000001-0000001
        seller-agent record https://sellercentral.example/home \\
            -o chore.yaml --locale zh-CN
        seller-agent record /orders-v3/ -o flow.yaml --headless &
        kill -TERM $!    # stop it: the flow is written
    """
    import asyncio

    from agent.errors import one_line
    from agent.flow import FlowError
    from agent.play.browser import BrowserNotFound
    from agent.recording.common import RecordingError, dump_flow
    from agent.recording.recorder import display_available, record_session

    params = _recording_params(param_pairs)
    start = _absolute_start(url, portal)
    show = (headed or display_available()) and not headless
    warn = _warner(quiet)

    def ready(recorder: Any) -> None:
        if quiet:
            return
        how = (
            _('the page\'s "Stop recording" button, closing the browser, or Ctrl-C')
            if show
            else _("SIGINT or SIGTERM (kill -TERM {pid})").format(pid=__import__("os").getpid())
        )
        click.echo(_("recording {url} - stop with {how}").format(url=start, how=how), err=True)

    try:
        flow = asyncio.run(
            record_session(
                url=start,
                portal=portal,
                params=params,
                name=name,
                session=session,
                headed=show,
                browser_path=browser_path,
                slowmo=slowmo,
                locale=browser_locale,
                warn=warn,
                on_ready=ready,
            )
        )
    except (BrowserNotFound, FileNotFoundError) as error:
        raise InputError(as_told(error)) from None
    except FlowError as error:
        raise click.ClickException(
            _("the recording is not a valid flow: {error}").format(error=shown(error))
        ) from None
    except RecordingError as error:
        raise click.ClickException(shown(error)) from None
    except Exception as error:
        if type(error).__module__.startswith("playwright"):
            raise click.ClickException(
                _("browser: {error} ({start})").format(error=one_line(error), start=start)
            ) from None
        raise
    _note_unused_params(params, [flow], start, warn)
    steps = len(flow["steps"])
    what = ngettext("flow {name} ({count} step)", "flow {name} ({count} steps)", steps)
    _write(dump_flow(flow), output, quiet, what.format(name=repr(flow["name"]), count=steps))


@click.command("import", cls=TranslatedCommand)
@click.argument("recording", metavar="RECORDING")
@_output_option
@_param_option
@click.option(
    "--format",
    "source_format",
    type=click.Choice(["auto", "chrome-recorder", "selenium-ide"]),
    default="auto",
    show_default=True,
    help="The recording's format (auto: by its content).",
)
@click.option(
    "--test",
    "tests",
    multiple=True,
    metavar="NAME",
    help="Selenium IDE: import only this test (repeat for several).",
)
@click.option(
    "--skip-unsupported",
    is_flag=True,
    help="Drop steps that have no flow equivalent (each named on stderr) instead of failing.",
)
@portal_option
@quiet_option
def import_(
    recording: str,
    output: str,
    param_pairs: tuple[str, ...],
    source_format: str,
    tests: tuple[str, ...],
    skip_unsupported: bool,
    portal: str,
    quiet: bool,
) -> None:
    """Turn a Chrome DevTools Recorder JSON export or a Selenium IDE project into flows.

    URLs on --portal's origin become relative, so the flow follows --portal when replayed.
    The portal's sign-in is replaced by the `login` session flow. {{ name }} placeholders
    in the recording, and values given with -p, become params. A Selenium IDE project gives
    one flow per test: with more than one, -o names a folder. Exit code 2 for a malformed
    recording or a step with no flow equivalent (the message names the step).

    Usage:

    \b
        seller-agent import recording.json -o flows/my_chore.yaml
        seller-agent import recording.json -o flow.yaml \\
            -p order_id=112-0000001-0000001
        seller-agent import project.side -o flows/imported/ \\
            --portal http://127.0.0.1:8600
    """
    from agent.flow import FlowError
    from agent.recording.common import RecordingError, detect_format, dump_flow, read_json
    from agent.recording.import_chrome import translate_chrome_recording
    from agent.recording.import_selenium import translate_side_project

    params = _recording_params(param_pairs)
    warn = _warner(quiet)
    try:
        if recording == "-":
            data = read_json("<stdin>", sys.stdin.read())
        else:
            data = read_json(recording)
        source = recording if recording != "-" else "<stdin>"
        kind = detect_format(data, source) if source_format == "auto" else source_format
        options: dict[str, Any] = {
            "source": source,
            "portal": portal,
            "params": params,
            "skip_unsupported": skip_unsupported,
            "warn": warn,
        }
        if kind == "chrome-recorder":
            if tests:
                raise InputError(
                    told(N_("{file}: --test is for Selenium IDE projects"), file=source)
                )
            flows = [translate_chrome_recording(data, **options)]
        else:
            flows = translate_side_project(data, tests=list(tests) or None, **options)
    except RecordingError as error:
        raise InputError(as_told(error)) from None
    except FlowError as error:
        # Every line names the file: the translation's own error names the recording.
        where = error.source or (recording if recording != "-" else "<stdin>")
        if error.line:
            where = f"{where}:{error.line}"
        raise InputError(
            told(
                N_("{where}: the translation is not a valid flow: {error}"),
                where=where,
                error=error.message,
            )
        ) from None
    _note_unused_params(params, flows, source, warn)
    if len(flows) == 1 and not (output != "-" and Path(output).is_dir()):
        _write(dump_flow(flows[0]), output, quiet, _flow_named(flows[0]["name"]))
        return
    if output == "-" or Path(output).suffix in (".yaml", ".yml", ".json"):
        raise InputError(
            told(
                N_("{file} has {count} tests: pass -o a folder, or pick one with --test"),
                file=recording,
                count=len(flows),
            )
        )
    folder = Path(output)
    for flow in flows:
        path = folder / f"{flow['name']}.yaml"
        _write(dump_flow(flow), str(path), quiet, _flow_named(flow["name"]))
        click.echo(str(path))


@click.command("export", cls=TranslatedCommand)
@click.argument("flow_ref", metavar="FLOW")
@click.option(
    "--to",
    "target_format",
    type=click.Choice(["chrome-recorder"]),
    default="chrome-recorder",
    show_default=True,
    help="The format to write.",
)
@_output_option
@click.option(
    "-p",
    "--param",
    "param_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Fill in {{ NAME }} with VALUE (Chrome replays text as written; a param not given "
    "gets its default); secrets are never filled in.",
)
@portal_option
@quiet_option
def export(
    flow_ref: str,
    target_format: str,
    output: str,
    param_pairs: tuple[str, ...],
    portal: str,
    quiet: bool,
) -> None:
    """Write a flow as a Chrome DevTools Recorder recording (JSON), to replay in Chrome.

    Open the file in Chrome's Recorder panel (Import recording). Relative URLs are joined to
    --portal. Steps Chrome has no equivalent for (extract, outcome guards, conditional steps,
    sub-flows) become custom steps that Chrome skips; `seller-agent import` of the file gives
    the flow back. Chrome does not run the session flow: sign in in that Chrome first.

    Usage:

    \b
        seller-agent export cancel_order --to chrome-recorder -o cancel_order.json
        seller-agent export my_flow.yaml -o chore.json \\
            -p order_id=112-0000001-0000001
    """
    from agent.flow import FlowError, load_flow, parse_text
    from agent.recording.export_chrome import ExportError, custom_steps_in, export_chrome_recording

    try:
        flow = load_flow(flow_ref)
    except FlowError as error:
        raise InputError(as_told(error)) from None
    source = flow.source
    if source is None:
        raise InputError(_("{flow}: cannot find the flow's file").format(flow=flow_ref))
    data = parse_text(Path(source).read_text(encoding="utf-8-sig"), str(source))
    params = parse_param_options(param_pairs)
    from agent.flow.model import suggest
    from agent.recording.common import template_names

    used = template_names(data)
    for name in params:
        # A misspelt -p would leave its {{ NAME }} unfilled, typed as it is in Chrome.
        if name not in flow.params and name not in used:
            raise InputError(
                _("param {name}: flow '{flow}' has no such param (params: {known}){hint}").format(
                    name=name,
                    flow=flow.name,
                    known=", ".join(flow.params) or _("none"),
                    hint=suggest(name, [*flow.params, *used]),
                )
            )
    try:
        recording = export_chrome_recording(data, portal=portal, params=params)
    except ExportError as error:
        raise InputError(told(N_("{file}: {error}"), file=source, error=as_told(error))) from None
    skipped = custom_steps_in(recording)
    if skipped and not quiet:
        click.echo(
            _(
                "note: Chrome will skip step(s) {steps} (no Chrome equivalent; kept for import "
                "back)"
            ).format(steps=", ".join(map(str, skipped))),
            err=True,
        )
    text = json.dumps(recording, ensure_ascii=False, indent=2) + "\n"
    what = _("the Chrome Recorder JSON of {name}").format(name=repr(flow.name))
    _write(text, output, quiet, what)
