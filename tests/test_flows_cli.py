"""`seller-agent flows ...`, `install` and the top-level help: no portal needed."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from agent.cli import cli
from agent.flow import flows_dir
from agent.flow.steps import STEP_KINDS


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", catch_exceptions=False)


def test_list_shows_bundled_flows_with_params():
    result = invoke("flows", "list")
    assert result.exit_code == 0
    assert "cancel_order: Cancel one unshipped order" in result.output
    assert (
        "    params: order_id:string (required), reason:string=BuyerCanceled, memo:string"
        in result.output
    )
    assert "login: Sign in to the seller portal" in result.output
    data = json.loads(invoke("flows", "list", "--json").output)
    by_name = {entry["name"]: entry for entry in data}
    assert by_name["cancel_order"]["success"] == ["cancelled", "already_cancelled"]
    assert by_name["collect_cancel_requests"]["outcomes"] == ["collected"]


def test_check_reports_each_file_and_exits_two_on_any_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - click: {testid: a, colour: red}\n")
    good = flows_dir() / "cancel_order.yaml"
    result = invoke("flows", "check", str(good), str(bad))
    assert result.exit_code == 2
    assert result.stdout == f"ok: {good} (cancel_order, 12 steps)\n"
    assert (
        result.stderr
        == f"Error: {bad}:3: steps[0].click.colour: unknown key 'colour' in a target\n"
    )
    assert invoke("flows", "check", str(good)).exit_code == 0


def test_schema_is_json_with_every_step(tmp_path):
    target = tmp_path / "flow.schema.json"
    assert invoke("flows", "schema", "-o", str(target)).exit_code == 0
    schema = json.loads(target.read_text())
    assert {next(iter(s["required"])) for s in schema["$defs"]["step"]["oneOf"]} == set(STEP_KINDS)
    assert json.loads(invoke("flows", "schema").output) == schema


def test_install_dry_run_names_playwrights_installer():
    result = invoke("install", "--dry-run", "--with-deps")
    assert result.output == f"{sys.executable} -m playwright install --with-deps chromium\n"


def test_install_reports_a_failed_download_with_the_way_out(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The download host is a closed loopback port: the installer fails fast, offline.
    env = {
        **os.environ,
        "PLAYWRIGHT_DOWNLOAD_HOST": f"http://127.0.0.1:{port}",
        "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "browsers"),
    }
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "seller-agent"), "install"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Playwright's installer failed (exit code 1); ")
    assert "Chromium" in last


def test_top_level_help_lists_the_commands():
    output = invoke("--help").output
    for command in ("cancel", "flows", "install", "login", "run"):
        assert f"  {command} " in output


# Every page in docs/ that shows a command's --help; the check below keeps them current.
HELP_DOCS = tuple(
    f"docs/{path.name}"
    for path in sorted((Path(__file__).resolve().parent.parent / "docs").glob("*.md"))
    if "<!-- help: " in path.read_text()
)
HELP_BLOCK = re.compile(r"<!-- help: (?P<command>[a-z ]+) -->\n```\n(?P<text>.*?)```", re.DOTALL)


def help_text(command: str) -> str:
    result = CliRunner().invoke(
        cli, [*command.split(), "--help"], prog_name="seller-agent", terminal_width=100
    )
    return result.output


def docs_with_current_help(text: str) -> str:
    return HELP_BLOCK.sub(
        lambda m: f"<!-- help: {m['command']} -->\n```\n{help_text(m['command'])}```", text
    )


def write_help_blocks() -> None:
    """Refresh the --help blocks the docs end with (run after changing a command's help)."""
    for name in HELP_DOCS:
        path = Path(__file__).resolve().parent.parent / name
        path.write_text(docs_with_current_help(path.read_text()))


def test_docs_end_with_the_current_help_of_their_commands():
    root = Path(__file__).resolve().parent.parent
    for name in HELP_DOCS:
        text = (root / name).read_text()
        blocks = HELP_BLOCK.findall(text)
        assert blocks, name
        assert all(body.startswith("Usage: seller-agent ") for _, body in blocks), name
        assert text == docs_with_current_help(text), (
            f"{name}: --help changed; run write_help_blocks()"
        )


def test_every_command_has_a_checked_help_block_in_the_docs():
    import click

    def commands(group, prefix=""):
        for name, command in group.commands.items():
            yield prefix + name
            if isinstance(command, click.Group):
                yield from commands(command, prefix + name + " ")

    root = Path(__file__).resolve().parent.parent
    documented = {
        match["command"]
        for name in HELP_DOCS
        for match in HELP_BLOCK.finditer((root / name).read_text())
    }
    assert sorted(set(commands(cli)) - documented) == []


def test_flow_files_saved_with_a_byte_order_mark_are_read(tmp_path):
    text = {
        "yaml": "name: marked\nsteps:\n  - goto: /home\n",
        "json": '{"name": "marked", "steps": [{"goto": "/home"}]}',
    }
    paths = []
    for suffix, body in text.items():
        path = tmp_path / f"marked.{suffix}"
        path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
        paths.append(str(path))
    result = invoke("flows", "check", *paths)
    assert result.exit_code == 0, result.output
