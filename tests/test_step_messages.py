"""A failed step in the reader's language: on the terminal (`run --lang zh-CN`), and in the
report of a run over rows read in Chinese, from the message id and values the journal keeps;
English wherever it is written down (JSON, the journal's error, the run's log). And a step
that can never succeed on a page that loaded is played once, not retried."""

import csv
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.bulk.journal import Journal
from agent.cli import cli

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("isolated_home")]


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(
        cli, list(args), prog_name="seller-agent", catch_exceptions=False, env=env
    )


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


MISSING = """\
    name: probe
    session: login
    steps:
      - goto: /home
      - click: {testid: never-there}
        timeout: 1000
    """


def test_a_failed_step_reads_in_chinese_on_the_terminal_and_in_english_in_json(portal, tmp_path):
    flow = write(tmp_path / "probe.yaml", MISSING)
    run_dir = tmp_path / "evidence"
    common = ["run", str(flow), "--portal", portal.url, "--run-dir", str(run_dir)]

    chinese = invoke(*common, "--lang", "zh-CN")
    assert chinese.exit_code == 1
    line = chinese.stderr.splitlines()[-1]
    assert line.startswith(
        "错误：步骤 click（第 5 行）: 1000 毫秒内没有找到与 testid=never-there 匹配的元素（证据："
    ), line
    assert all(str(path) in line for path in run_dir.iterdir())

    # The locale says the same as --lang.
    by_locale = invoke(*common, env={"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""})
    assert by_locale.stderr.splitlines()[-1].startswith("错误：步骤 click（第 5 行）: "), (
        by_locale.stderr
    )

    as_json = invoke(*common, "--json", "--lang", "zh-CN")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["error_kind"] == "selector" and data["transient"] is False
    assert data["error"].startswith(
        "step click (line 5): no element matched testid=never-there within 1000 ms (evidence: "
    )


def test_a_template_filters_error_reads_in_chinese(portal, tmp_path):
    flow = write(
        tmp_path / "probe.yaml",
        """\
        name: probe
        session: login
        params:
          q: {type: string, default: mug}
        steps:
          - goto: /home?q={{ q | first }}
        """,
    )
    chinese = invoke("run", str(flow), "--portal", portal.url, "--lang", "zh-CN", "--no-trace")
    assert chinese.exit_code == 1
    assert chinese.stderr.splitlines()[-1].startswith(
        "错误：步骤 goto（第 6 行）: 模板：过滤器 'first' 需要列表，得到的却是文本"
    ), chinese.stderr
    english = invoke("run", str(flow), "--portal", portal.url, "--json", "--no-trace")
    assert json.loads(english.stdout)["error"].startswith(
        "step goto (line 6): template: filter 'first' needs a list, got a text"
    )


# A button that is there and stays disabled: hopeless on a page that loaded.
DISABLED = """\
    name: disabled-submit
    session: login
    timeout: 2000
    params:
      order_id: {type: string, required: true}
    steps:
      - goto: /orders-v3/order/{{ order_id }}/cancel
      - evaluate: "document.querySelector('[data-testid=cancel-submit]').disabled = true"
      - click: {testid: cancel-submit}
    outcomes:
      cancelled: {testid: cancel-confirmation}
    """


def test_a_run_over_rows_plays_a_hopeless_step_once_and_its_report_reads_in_chinese(
    portal, unshipped_orders, tmp_path
):
    orders = unshipped_orders(2)
    flow = write(tmp_path / "disabled.yaml", DISABLED)
    rows = tmp_path / "rows.csv"
    with rows.open("w", newline="") as handle:
        csv.writer(handle).writerows([["order_id"], *([order] for order in orders)])
    journal_path = tmp_path / "journal.db"
    played = invoke(
        "run",
        str(flow),
        "--rows",
        str(rows),
        "--portal",
        portal.url,
        "--journal",
        str(journal_path),
        "--workers",
        "1",
        "--attempts",
        "4",
        "--lang",
        "zh-CN",
    )
    assert played.exit_code == 1, played.output

    english = "step click (line 9): testid=cancel-submit stayed disabled for 2000 ms"
    with Journal(journal_path) as journal:
        run_id = journal.resolve_run_id("last")
        found = journal.rows(run_id)
    assert [(row.state, row.error_kind, row.attempts) for row in found] == [
        ("failed", "selector", 1),
        ("failed", "selector", 1),
    ]  # played once each: a retry would meet the same page
    for row in found:
        assert row.error.startswith(english), row.error  # the journal keeps the English
        assert row.error_told["message"] == "{error} (evidence: {files})"
        assert row.error_told["values"]["error"]["message"] == "step {step}: {why}"
    log = invoke("report", "--journal", str(journal_path), "--log", "--lang", "zh-CN")
    assert english in log.stdout and "禁用" not in log.stdout  # the run's log stays English
    for order in orders:
        assert portal.order(order)["status"] == "Unshipped"

    chinese_words = "步骤 click（第 9 行）: testid=cancel-submit 在 2000 毫秒内一直处于禁用状态"
    table = invoke("report", "--journal", str(journal_path), "--lang", "zh-CN")
    assert table.exit_code == 0, table.output
    failures = [line for line in table.stdout.splitlines() if line.startswith("  " + orders[0])]
    assert failures and failures[0].startswith(
        f"  {orders[0]} [页面上没有流程要找的内容]: {chinese_words}（证据："
    ), table.stdout

    in_english = invoke("report", "--journal", str(journal_path), "--lang", "en")
    assert f"  {orders[0]} [selector]" not in in_english.stdout
    assert f"{orders[0]} [The page did not have what the flow looks for]: {english}" in (
        in_english.stdout
    )

    page = tmp_path / "report.html"
    html = invoke(
        "report",
        "--journal",
        str(journal_path),
        "--format",
        "html",
        "-o",
        str(page),
        "--lang",
        "zh-CN",
    )
    assert html.exit_code == 0, html.output
    text = page.read_text()
    # The page shows the evidence itself: the message is told without the note.
    assert chinese_words in text and "证据：" not in text and "stayed disabled" not in text

    data = json.loads(
        invoke(
            "report", "--journal", str(journal_path), "--format", "json", "--lang", "zh-CN"
        ).stdout
    )
    assert data["rows"][0]["error"].startswith(english)  # data for scripts stays English
