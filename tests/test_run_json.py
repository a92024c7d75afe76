"""`seller-agent run --json` prints one JSON document however the run ends: success, a failed
step, a bad flow or param (exit 2), a browser that cannot start, and --rows runs."""

import json

import pytest
from click.testing import CliRunner

from agent.cli import cli

pytestmark = pytest.mark.usefixtures("isolated_home")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", catch_exceptions=False)


def document(result) -> dict:
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_a_bad_param_is_a_json_error_with_exit_two(tmp_path):
    result = invoke("run", "cancel_order", "-p", "order_id=1", "--json")
    assert result.exit_code == 2
    data = document(result)
    assert data["error"] == "param order_id: '1' does not match ^\\d{3}-\\d{7}-\\d{7}$"
    assert data["ok"] is False and data["flow"] == "cancel_order"
    assert data["exit_code"] == 2
    assert "Error: param order_id" in result.stderr  # people still read stderr


@pytest.mark.parametrize(
    "args",
    [
        ("run", "no_such_flow", "--json"),
        ("run", "cancel_order", "-p", "oops", "--json"),
        ("run", "cancel_order", "-p", "order_id=112-0000001-0000001", "--json",
         "--browser-path", "/nonexistent/chromium"),
        ("run", "cancel_order", "--rows", "/nonexistent/rows.csv", "--json"),
        ("run", "--resume", "nope", "cancel_order", "--json"),
    ],
)  # fmt: skip
def test_every_input_error_is_one_json_document(args):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    data = document(result)
    assert data["ok"] is False and data["error"] and data["exit_code"] == 2


def test_rows_with_no_valid_row_is_a_json_error(tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("order_id\n12-34\n")
    result = invoke("run", "cancel_order", "--rows", str(rows), "--json")
    assert result.exit_code == 2
    data = document(result)
    assert data["error"] == "no valid rows to run"
    assert data["problems"] == [
        f"{rows}:2: param order_id: '12-34' does not match ^\\d{{3}}-\\d{{7}}-\\d{{7}}$"
    ]


@pytest.mark.browser
@pytest.mark.slow
def test_an_unreachable_portal_is_a_json_error_with_exit_one(tmp_path):
    result = invoke(
        "run",
        "account_health",
        "--json",
        "--portal",
        "http://127.0.0.1:9",
        "--run-dir",
        str(tmp_path / "runs"),
    )
    assert result.exit_code == 1
    data = document(result)
    assert data["ok"] is False and data["error"]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--rate", "2/s"), ("--workers", "2"), ("--journal", "j.db"), ("--attempts", "2"),
     ("--retry-failed", None), ("--key", "order_id")],
)  # fmt: skip
def test_a_rows_setting_given_to_a_single_run_is_refused(option, value):
    """A single run would ignore it: one line naming it, exit 2, before any browser starts."""
    given = [option] if value is None else [option, value]
    args = ("run", "cancel_order", "-p", "order_id=112-0000001-0000001", *given)
    result = invoke(*args, "--browser-path", "/nonexistent/chromium")
    assert result.exit_code == 2
    assert f"Error: {option} applies to a run over rows (--rows or --resume)" in result.stderr
    data = document(invoke(*args, "--json", "--browser-path", "/nonexistent/chromium"))
    assert data["error"] == f"{option} applies to a run over rows (--rows or --resume)"
