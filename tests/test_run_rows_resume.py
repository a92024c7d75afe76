"""`seller-agent run FLOW --resume` from another folder than the one the run started in: the
command the report prints works anywhere, and a FLOW path typed from the new folder is used."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.bulk.journal import Journal

pytestmark = pytest.mark.browser

# Reads an order's page. A row for an order that does not exist ends in no outcome, a failure,
# after a second, so `--max-failures 1` leaves the rows after it unplayed.
FLOW = """\
name: order-page
params:
  order_id: {type: string, required: true}
session: login
timeout: 1000
steps:
  - goto: /orders-v3/order/{{ order_id }}
outcomes:
  shown: {testid: order-status}
"""


def seller_agent(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("seller-agent")), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SELLER_AGENT_")},
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
        },
    )


def test_a_run_over_rows_resumes_from_another_folder(tmp_path, portal, portal_cases):
    work = tmp_path / "work"
    elsewhere = tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "order_page.yaml").write_text(FLOW)
    shown = [portal_cases["shipped"], portal_cases["multi_item"]]
    (work / "rows.csv").write_text("order_id\n112-9999999-9999999\n" + "\n".join(shown) + "\n")
    journal = tmp_path / "journal.db"
    common = ["--portal", portal.url, "--journal", str(journal), "--workers", "1", "-q"]

    first = seller_agent(
        "run", "order_page.yaml", "--rows", "rows.csv", "--max-failures", "1", *common,
        cwd=work, home=tmp_path,
    )  # fmt: skip
    assert first.returncode == 1, first.stderr[-2000:]
    report = seller_agent(
        "report", "last", "--format", "json", "--journal", str(journal), cwd=work, home=tmp_path
    )
    command = json.loads(report.stdout)["resume"]["resume"]
    # The printed command names the flow file so that it is found from any folder.
    assert str(work / "order_page.yaml") in command

    # From another folder, with the flow's path as it is typed there.
    second = seller_agent("run", "../work/order_page.yaml", "--resume", "last", *common,
                          cwd=elsewhere, home=tmp_path)  # fmt: skip
    assert second.returncode == 1, second.stderr[-2000:]  # the first row stays failed
    assert "Error" not in second.stderr, second.stderr
    with Journal(str(journal)) as opened:
        rows = {row.key: row for row in opened.rows(opened.resolve_run_id("last"))}
    assert [rows[key].outcome for key in shown] == ["shown", "shown"]


def test_a_run_recorded_with_a_relative_flow_path_resumes_with_the_flow_given(tmp_path):
    """Journals written before the path was stored whole keep the path as it was typed."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "order_page.yaml").write_text(FLOW)
    journal = tmp_path / "journal.db"
    with Journal(str(journal)) as opened:
        run_id = opened.create_run(
            flow="order-page",
            params={},
            portal="http://127.0.0.1:9",
            rows=[("112-0000001-0000001", {"order_id": "112-0000001-0000001"})],
            options={"workers": 1, "flow_source": "order_page.yaml"},
        )
        opened.mark_running(run_id, "112-0000001-0000001")
        opened.mark_done(run_id, "112-0000001-0000001", outcome="shown", ok=True)
        opened.set_run_status(run_id, "interrupted")
    # Nothing is left to play, so no browser starts: the flow only has to be found.
    given = seller_agent("run", "flows/order_page.yaml", "--resume", "last",
                         "--journal", str(journal), cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert given.returncode == 0, given.stderr
    other = seller_agent("run", "cancel_order", "--resume", "last",
                         "--journal", str(journal), cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert other.returncode == 2
    assert other.stderr.strip().splitlines()[-1] == (
        f"Error: run {run_id} played the flow 'order-page', not 'cancel_order'"
    )


KEYED = """\
name: keyed
params:
  order_id: {type: string, required: true}
  api_key: {type: string, secret: true, required: true}
session: login
timeout: 1000
steps:
  - goto: /orders-v3/order/{{ order_id }}?k={{ api_key }}
outcomes:
  real: {all: [{url: 'k=S3CR3T'}, {testid: order-status}]}
"""


def test_a_secret_param_reaches_every_row_and_the_resume_never_as_stars(
    tmp_path, portal, portal_cases
):
    """flows.md: a secret param comes from -p, the environment or the secrets file, and the
    journal keeps it as ***. Rows were played with *** (from a column), a secrets file's
    value was not read, and a resume refused the -p given again ("required, not given")."""
    (tmp_path / "keyed.yaml").write_text(KEYED)
    shown = [portal_cases["shipped"], portal_cases["multi_item"]]
    journal = tmp_path / "journal.db"
    common = ["--portal", portal.url, "--journal", str(journal), "--workers", "1", "-q"]

    # In a column: refused before anything is recorded.
    (tmp_path / "with_key.csv").write_text(f"order_id,api_key\n{shown[0]},S3CR3T\n")
    refused = seller_agent("run", "keyed.yaml", "--rows", "with_key.csv", *common,
                           cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: with_key.csv:2: column api_key is a secret param of the flow, and the journal "
        "keeps no secret to play the rows with; give it once with -p api_key=..., "
        "SELLER_AGENT_API_KEY or the secrets file"
    )
    assert not journal.exists()

    # From the secrets file.
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(
        "email: seller@example.com\npassword: demo-password\ntotp_secret: JBSWY3DPEHPK3PXP\n"
        "api_key: S3CR3T\n"
    )
    secrets.chmod(0o600)
    (tmp_path / "one.csv").write_text(f"order_id\n{shown[0]}\n")
    played = seller_agent("run", "keyed.yaml", "--rows", "one.csv", "--secrets", str(secrets),
                          *common, cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert played.returncode == 0, played.stderr[-2000:]

    # With -p, stopped after a failure, resumed with -p again.
    (tmp_path / "rows.csv").write_text("order_id\n112-9999999-9999999\n" + "\n".join(shown) + "\n")
    first = seller_agent("run", "keyed.yaml", "--rows", "rows.csv", "-p", "api_key=S3CR3T",
                         "--max-failures", "1", *common, cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert first.returncode == 1, first.stderr[-2000:]
    second = seller_agent("run", "keyed.yaml", "--resume", "last", "-p", "api_key=S3CR3T",
                          *common, cwd=tmp_path, home=tmp_path)  # fmt: skip
    assert "Error" not in second.stderr, second.stderr
    with Journal(str(journal)) as opened:
        run_id = opened.resolve_run_id("last")
        rows = {row.key: row for row in opened.rows(run_id)}
        assert opened.run(run_id).params == {"api_key": "***"}
    assert [rows[key].outcome for key in shown] == ["real", "real"]
    for kept in tmp_path.glob("journal.db*"):  # the database, its WAL
        assert b"S3CR3T" not in kept.read_bytes(), kept
