"""`seller-agent run` and `seller-agent login` through the CLI, against a live portal."""

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli import cli
from agent.play.browser import storage_state_path

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("isolated_home")]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", catch_exceptions=False)


def test_help_pages():
    run_help = invoke("run", "--help").output
    assert "Usage: seller-agent run [OPTIONS] FLOW" in run_help
    assert "-p, --param NAME=VALUE" in run_help and "--json" in run_help
    login_help = invoke("login", "--help").output
    assert "Usage: seller-agent login [OPTIONS]" in login_help and "--secrets FILE" in login_help


def test_login_saves_a_private_session_and_prints_its_path(portal):
    result = invoke("login", "--portal", portal.url)
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path == storage_state_path(portal.url, "seller@example.com")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert "demo-password" not in path.read_text()


def test_run_a_bundled_flow_as_json(portal, portal_cases):
    result = invoke("run", "collect_cancel_requests", "--json", "--portal", portal.url)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["flow"] == "collect_cancel_requests" and data["outcome"] == "collected"
    assert portal_cases["flagged"] in data["values"]["order_ids"]
    assert data["ok"] is True and data["error"] is None


def test_run_prints_outcome_and_values(portal, portal_cases):
    result = invoke(
        "run", "cancel-order", "-p", f"order_id={portal_cases['pending']}", "--portal", portal.url
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "outcome: not_cancellable"
    assert "buyer_requested: false" in result.stdout


def test_a_bad_param_is_exit_two_before_the_browser(tmp_path):
    result = invoke(
        "run", "cancel_order", "-p", "order_id=1", "--browser-path", str(tmp_path / "x")
    )
    assert result.exit_code == 2
    assert result.output == "Error: param order_id: '1' does not match ^\\d{3}-\\d{7}-\\d{7}$\n"
    result = invoke("run", "cancel_order", "-p", "oops")
    assert (result.exit_code, result.output) == (2, "Error: -p oops: expected NAME=VALUE\n")
    result = invoke("run", "cancel_order")
    assert (result.exit_code, result.output) == (2, "Error: param order_id: required, not given\n")
    # The same param twice: which was meant cannot be told (and neither value is repeated).
    result = invoke(
        "run", "cancel_order", "-p", "order_id=112-0000001-0000001", "-p",
        "order_id=112-0000001-0000002",
    )  # fmt: skip
    assert (result.exit_code, result.output) == (
        2,
        "Error: -p order_id: given twice, with different values; give it once\n",
    )
    result = invoke(
        "import", "-", "-p", "order_id=112-0000001-0000001", "-p", "order_id=112-0000001-0000009"
    )
    assert result.exit_code == 2 and "-p order_id: given twice" in result.output


def test_a_bad_flow_file_is_one_line_with_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nsteps:\n  - goto: /home\n  - clik: {testid: x}\n")
    result = invoke("run", str(path))
    assert result.exit_code == 2
    assert (
        result.output == f"Error: {path}:4: steps[1]: unknown step 'clik' (did you mean 'click'?)\n"
    )


def test_a_failing_step_exits_one_with_evidence_in_the_run_folder(portal, tmp_path):
    path = tmp_path / "probe.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: probe
            session: login
            steps:
              - goto: /home
              - click: {testid: never-there}
                timeout: 1000
            """
        )
    )
    run_dir = tmp_path / "evidence"
    result = invoke("run", str(path), "--portal", portal.url, "--run-dir", str(run_dir))
    assert result.exit_code == 1
    assert result.stdout == "outcome: failed\n"
    error = result.stderr.splitlines()[-1]
    assert error.startswith(
        "Error: step click (line 5): no element matched testid=never-there within 1000 ms (evidence: "
    )
    files = sorted(p.name for p in run_dir.iterdir())
    assert len(files) == 2 and files[0].endswith("-trace.zip") and files[1].endswith(".png")
    assert all(str(run_dir / name) in error for name in files)


def test_a_used_fallback_is_noted_on_stderr(portal, tmp_path):
    path = tmp_path / "probe.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: probe
            session: login
            steps:
              - goto: /orders-v3/
              - click: [{testid: no-such-tab}, {testid: tab-shipped}]
                name: open Shipped
            outcomes:
              shipped: {url: /orders-v3/shipped}
            """
        )
    )
    result = invoke("run", str(path), "-q", "--portal", portal.url)
    assert result.exit_code == 0
    assert result.stdout == "outcome: shipped\n"
    assert (
        result.stderr == "note: open Shipped (line 5) used fallback target #2: testid=tab-shipped\n"
    )


def test_extract_steps_say_which_candidate_they_read(portal, tmp_path):
    path = tmp_path / "reads.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: reads
            session: login
            steps:
              - goto: /orders-v3/
              - extract:
                  target: [{testid: no-such-cell}, {css: 'tr[data-testid=order-row]'}]
                  attribute: data-order-id
                  as: first_id
                name: read the first order
              - extract:
                  target: [{css: 'tr[data-testid=order-row]'}]
                  attribute: data-order-id
                  all: true
                  as: ids
              - extract: {target: [{testid: no-such-banner}], present: true, as: banner}
            outcomes:
              read: {url: /orders-v3/}
            """
        )
    )
    result = invoke("run", str(path), "--json", "--portal", portal.url)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["values"]["first_id"] == data["values"]["ids"][0]
    # A `present: true` read asks only whether any candidate is there: no match of its own.
    assert [(m["step"], m["line"], m["candidate"], m["spec"]) for m in data["matches"]] == [
        ("read the first order", 5, 1, "css=tr[data-testid=order-row]"),
        ("steps[2]", 10, 0, "css=tr[data-testid=order-row]"),
    ]
    result = invoke("run", str(path), "-q", "--portal", portal.url)
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "note: read the first order (line 5) used fallback target #2: "
        "css=tr[data-testid=order-row]\n"
    )
