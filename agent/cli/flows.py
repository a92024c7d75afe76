"""`seller-agent flows ...`: list the bundled flows, check flow files, print the JSON Schema."""

from __future__ import annotations

import json
import sys

import click

from agent.cli.language import TranslatedGroup, print_error
from agent.cli.options import json_option
from agent.i18n import _, ngettext, shown


@click.group("flows", cls=TranslatedGroup)
def flows() -> None:
    """Work with flow files: list, check, schema.

    Usage:

    \b
        seller-agent flows list
        seller-agent flows check my_flow.yaml flows/*.yaml
        seller-agent flows schema -o flow.schema.json
    """


def _param_text(name: str, param: object) -> str:
    text = f"{name}:{param.type}"  # type: ignore[attr-defined]
    if param.required and param.default is None:  # type: ignore[attr-defined]
        text += _(" (required)")
    elif param.default not in (None, ""):  # type: ignore[attr-defined]
        text += f"={param.default}"  # type: ignore[attr-defined]
    return text


@flows.command("list")
@json_option
def list_flows(as_json: bool) -> None:
    """List the bundled flows with their summaries and params.

    Usage:

    \b
        seller-agent flows list
        seller-agent flows list --json
    """
    from agent.flow import FlowError, bundled_flows, load_flow

    entries = []
    for path in bundled_flows():
        try:
            flow = load_flow(path)
        except FlowError as error:
            raise click.ClickException(shown(error)) from None
        entries.append(
            {
                "name": flow.name,
                "file": str(path),
                "summary": flow.summary,
                "params": {n: p.model_dump(exclude_none=True) for n, p in flow.params.items()},
                "outcomes": list(flow.outcomes),
                "success": flow.success,
            }
        )
        if not as_json:
            # Names of flows, params and outcomes are codes: they stay as written.
            params = ", ".join(_param_text(n, p) for n, p in flow.params.items()) or _("no params")
            # A bundled flow's summary is in the catalog (scripts/i18n.py takes it from the
            # YAML); JSON keeps it as written.
            click.echo(f"{flow.name}: {_(flow.summary) if flow.summary else ''}")
            click.echo(_("    params: {params}").format(params=params))
            click.echo(
                _("    outcomes: {outcomes}").format(
                    outcomes=", ".join(flow.outcomes) or "completed"
                )
            )
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False, indent=2))


@flows.command("check")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def check(files: tuple[str, ...]) -> None:
    """Check flow files offline, without a browser: one line per file.

    Exit code 0 when every file is valid, 2 when any is not (its line names the file, the
    line and the field at fault).

    Usage:

    \b
        seller-agent flows check my_flow.yaml
        seller-agent flows check flows/*.yaml
    """
    from agent.flow import FlowError, load_flow

    bad = 0
    for name in files:
        try:
            flow = load_flow(name)
        except FlowError as error:
            bad += 1
            print_error(error)
            continue
        click.echo(
            ngettext(
                "ok: {file} ({flow}, {count} step)",
                "ok: {file} ({flow}, {count} steps)",
                len(flow.steps),
            ).format(file=name, flow=flow.name, count=len(flow.steps))
        )
    if bad:
        sys.exit(2)


@flows.command("schema")
@click.option("-o", "--output", default="-", metavar="FILE", help="Write here ('-' for stdout).")
def schema(output: str) -> None:
    """Print the JSON Schema of flow files, for editors to complete and check them.

    Usage:

    \b
        seller-agent flows schema -o flow.schema.json

    Then point your editor at it; for VS Code's YAML extension, start a flow file with
    `# yaml-language-server: $schema=flow.schema.json`.
    """
    from agent.flow import flow_json_schema

    text = json.dumps(flow_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output == "-":
        click.echo(text, nl=False)
    else:
        with click.open_file(output, "w", encoding="utf-8") as handle:
            handle.write(text)
