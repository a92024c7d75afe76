import csv
import io
import json
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent import i18n
from agent.bulk.journal import Journal
from agent.cli.report import report as report_command
from agent.i18n import display_width, using
from agent.play.browser import CHROMIUM_ARGS, find_browser
from agent.report import (
    CSV_COLUMNS,
    FORMATS,
    build_report,
    render,
    render_csv,
    render_html,
    render_json,
    render_table,
)
from agent.report.merge import merge_runs

A, B, C, D = (f"11{n}-0000000-000000{n}" for n in range(1, 5))


def tiny_png(path: Path, rgb=(200, 30, 30), size=40) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture
def recorded_run(tmp_path):
    evidence = tmp_path / "runs" / "r1"
    evidence.mkdir(parents=True)
    shot = tiny_png(evidence / "failure.png")
    trace = evidence / "trace.zip"
    trace.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    journal = Journal(tmp_path / "journal.db", redact=lambda text: text.replace("hunter2", "***"))
    run_id = journal.create_run(
        flow="cancel_order",
        params={"memo": "batch <7>"},
        portal="http://127.0.0.1:8600",
        rows=[(key, {"order_id": key, "reason": "NoInventory"}) for key in (A, B, C, D)],
        options={"workers": 2, "projection": {"rate_before": 0.5, "rate_after": 2.0, "limit": 2.5}},
    )
    journal.mark_running(run_id, A)
    journal.mark_done(
        run_id, A, outcome="cancelled", ok=True, matches=[{"step": 3, "candidate": 1}]
    )
    journal.mark_running(run_id, B)
    journal.note_retry(run_id, B, "HTTP 500", "http_5xx")
    journal.mark_done(run_id, B, outcome="not_cancellable", ok=False)
    journal.mark_running(run_id, C)
    # The portal was unreachable during C's first try: played again, not retried.
    journal.note_replay(run_id, C, "net::ERR_CONNECTION_REFUSED", "network")
    journal.mark_failed(
        run_id,
        C,
        error="step 4: no element matches <testid cancel-order> (password hunter2)",
        error_kind="step",
        evidence=[str(shot), str(trace)],
    )
    journal.set_run_status(run_id, "interrupted")
    journal.update_run_options(run_id, rate_measured_after=1.5)
    yield journal, run_id, tmp_path
    journal.close()


def test_report_data(recorded_run):
    journal, run_id, _ = recorded_run
    data = build_report(journal, run_id)
    assert data["total"] == 4 and data["succeeded"] == 1 and data["failed"] == 1
    assert data["not_ok"] == 1 and data["pending"] == 1
    assert data["outcomes"] == {"cancelled": 1, "failed": 1, "not_cancellable": 1, "pending": 1}
    assert data["retried"] == [B]
    assert data["replayed"] == [C]
    assert [(row["attempts"], row["replays"]) for row in data["rows"]] == [
        (1, 0),
        (2, 0),
        (1, 1),
        (0, 0),
    ]
    assert data["fallback_steps"] == {"3": 1}
    assert data["rate"]["before"] == 0.5 and data["rate"]["after_measured"] == 1.5
    assert data["run"]["kind"] == "cancel"
    assert data["pauses"] == [] and data["problems"] == []
    first = data["rows"][0]
    assert first["reason"] == "NoInventory" and first["memo"] == "batch <7>"
    assert first["fallbacks"] == [{"step": 3, "line": None, "candidate": 1, "spec": None}]
    assert first["seconds"] is not None and first["seconds"] >= 0
    # Without the cancel job's facts, the report does not guess what counts toward the rate.
    assert first["counts_toward_rate"] is None


def test_the_cancel_jobs_facts_say_which_rows_count_toward_the_rate(recorded_run):
    from agent.cancel.rules import report_facts

    journal, run_id, _ = recorded_run
    rows = build_report(journal, run_id, row_facts=report_facts)["rows"]
    assert [row["counts_toward_rate"] for row in rows] == [True, None, None, None]


def test_resume_commands_name_the_run_and_its_journal(recorded_run, monkeypatch, tmp_path):
    journal, run_id, folder = recorded_run
    data = build_report(journal, run_id)
    db = folder / "journal.db"
    assert data["resume"] == {
        "resume": f"seller-agent cancel --resume {run_id} --journal {db}",
        "retry_failed": f"seller-agent cancel --resume {run_id} --journal {db} --retry-failed",
    }
    # The default journal needs no --journal.
    monkeypatch.setenv("XDG_DATA_HOME", str(folder.parent))
    default = folder.parent / "seller-agent" / "journal.db"
    with Journal(default) as other:
        flow_run = other.create_run(
            flow="my_flow",
            params={},
            portal="http://127.0.0.1:8600",
            rows=[("a", {"q": "a"})],
            options={"workers": 1, "flow_source": "flows/my flow.yaml"},
        )
        data = build_report(other, flow_run)
    assert data["run"]["kind"] == "flow"
    assert data["resume"] == {
        "resume": f"seller-agent run 'flows/my flow.yaml' --resume {flow_run}"
    }


def test_a_finished_run_has_nothing_to_resume(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order", params={}, portal="p", rows=[(A, {"order_id": A})],
            options={"max_cancel_rate": 2.5},
        )  # fmt: skip
        journal.mark_running(run_id, A)
        journal.mark_done(run_id, A, outcome="cancelled", ok=True)
        journal.set_run_status(run_id, "finished")
        assert build_report(journal, run_id)["resume"] is None


def test_table_summary(recorded_run):
    journal, run_id, _ = recorded_run
    text = render_table(build_report(journal, run_id), "en")
    assert f"Run {run_id}  flow cancel_order  Interrupted" in text
    assert "Rows: 4  succeeded: 1  failed: 1  other outcomes: 1  not played yet: 1" in text
    assert f"{'Cancelled':<30} {1:>5}" in text and f"{'Cannot be cancelled':<30} {1:>5}" in text
    assert f"{'Outcome':<30}  Rows\n" in text
    assert (
        f"  {C} [The page was not as the flow expects]: step 4: no element matches "
        "<testid cancel-order> (password ***)"
    ) in text
    assert "Rows retried: 1" in text
    assert "Row played again after the portal's trouble (not an attempt): 1" in text
    assert "Order Cancellation Rate: before 0.50%, projected 2.00%, after 1.50%" in text
    assert f"To go on with this run: seller-agent cancel --resume {run_id} --journal " in text
    assert "hunter2" not in text


def test_table_summary_in_chinese_uses_the_portals_words(recorded_run):
    journal, run_id, _ = recorded_run
    text = render_table(build_report(journal, run_id), "zh-CN")
    assert f"运行 {run_id}  流程 cancel_order  已中断" in text
    assert "行数：4  成功：1  失败：1  其他结果：1  尚未执行：1" in text
    # 已取消 is what the portal's zh-CN pages call a cancelled order; a Chinese word takes two
    # columns, so the counts still line up.
    lines = text.splitlines()
    counted = [
        line for line in lines if line.startswith(("已取消", "无法取消", "失败 ", "尚未执行 "))
    ]
    assert len(counted) == 4
    assert {display_width(line) for line in counted} == {36}
    # The heading's "行数" stands over the counts, right-aligned as they are.
    assert display_width(next(line for line in lines if line.startswith("结果 "))) == 36
    assert "订单取消率：运行前 0.50%，预计 2.00%，运行后 1.50%" in text


def test_json_and_csv(recorded_run):
    journal, run_id, _ = recorded_run
    data = build_report(journal, run_id)
    assert json.loads(render_json(data))["rows"][2]["key"] == C
    lines = list(csv.DictReader(io.StringIO(render_csv(data))))
    assert [line["outcome"] for line in lines] == ["cancelled", "not_cancellable", "failed", ""]
    assert lines[1]["attempts"] == "2" and lines[0]["ok"] == "true"
    assert [line["replays"] for line in lines] == ["0", "0", "1", "0"]
    assert (lines[2]["attempts"], lines[2]["outcome"]) == ("1", "failed")
    assert json.loads(lines[0]["params"]) == {"order_id": A, "reason": "NoInventory"}
    assert lines[3]["seconds"] == "" and float(lines[0]["seconds"]) >= 0


def test_csv_and_json_stay_machine_words_in_every_language(recorded_run):
    journal, run_id, _ = recorded_run
    data = build_report(journal, run_id)
    with using("zh-CN"):
        assert render_csv(data).splitlines()[0] == ",".join(CSV_COLUMNS)
        assert json.loads(render_json(data))["run"]["status"] == "interrupted"
    assert render(data, "csv", lang="zh-CN") == render(data, "csv", lang="en")


def test_html_is_self_contained(recorded_run):
    journal, run_id, tmp_path = recorded_run
    html = render_html(build_report(journal, run_id), tmp_path / "out", "en")
    assert "data:image/png;base64," in html
    assert 'href="../runs/r1/trace.zip"' in html
    trace = (tmp_path / "runs" / "r1" / "trace.zip").resolve()
    assert f"playwright show-trace {trace}" in html
    assert "hunter2" not in html
    # Nothing is fetched: no external script, style, font or image.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script src" not in html and "<link" not in html


def test_html_values_read_as_words(recorded_run):
    journal, run_id, tmp_path = recorded_run
    html = render_html(build_report(journal, run_id), tmp_path, "en")
    rows = json.loads(re.search(r'id="rows-data">(.*?)</script>', html).group(1))["rows"]
    shown = json.dumps(rows)
    for python_text in ("True", "False", "None"):
        assert python_text not in shown
    assert rows[0]["w"] == "Cancelled" and rows[0]["r"] == "No Inventory"
    assert rows[2]["w"] == "Failed" and rows[3]["w"] == "Not played yet"
    # C was played again once after an outage: said in its details, not counted as a try.
    assert rows[2]["a"] == 1 and any("not counted as a try" in line for line in rows[2]["d"])
    assert not any("portal's trouble" in line for line in rows[1]["d"])
    assert re.search(r'data-testid="retried">1</b>Retried', html)
    assert re.search(r'data-testid="replayed">1</b>Played again after the portal', html)
    assert (
        "<dt>Workers</dt><dd>2</dd>" in html
        and "<dt>Seller memo</dt><dd>batch &lt;7&gt;</dd>" in html
    )
    zh = render_html(build_report(journal, run_id), tmp_path, "zh-CN")
    assert '<html lang="zh-CN">' in zh
    zh_rows = json.loads(re.search(r'id="rows-data">(.*?)</script>', zh).group(1))["rows"]
    assert [row["w"] for row in zh_rows] == ["已取消", "无法取消", "失败", "尚未执行"]
    assert zh_rows[0]["r"] == "无库存"


@pytest.mark.browser
def test_a_failure_cards_labels_end_with_the_languages_colon(recorded_run, browser):
    """The colon after "Tries", "Time" is the page's (CSS): full-width in Chinese."""
    journal, run_id, tmp_path = recorded_run
    page = browser.new_page()
    try:
        for lang, colon in (("en", ":"), ("zh-CN", "：")):
            html = tmp_path / f"report-{lang}.html"
            html.write_text(render_html(build_report(journal, run_id), tmp_path, lang))
            page.goto(html.as_uri())
            card = page.get_by_test_id("failure")
            labels = card.locator("dl.facts dt")
            assert labels.count() >= 2
            for index in range(labels.count()):
                after = labels.nth(index).evaluate("dt => getComputedStyle(dt, '::after').content")
                assert after == f'"{colon}"', (lang, labels.nth(index).inner_text())
                assert not labels.nth(index).inner_text().endswith((":", "："))
    finally:
        page.close()


def test_html_keeps_a_place_for_the_runs_pauses(recorded_run, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    journal, run_id, tmp_path = recorded_run
    data = build_report(journal, run_id)
    data["pauses"] = [
        {
            "kind": "outage",
            "started_at": "2026-11-26T14:05:00Z",
            "ended_at": "2026-11-26T14:15:30Z",
            "seconds": 630.0,
            "reason": "HTTP 503",
        }
    ]
    html = render_html(data, tmp_path, "en")
    assert 'data-testid="pauses"' in html and "HTTP 503" in html
    assert "<td>26 Nov 2026, 22:05:00 UTC+8</td><td>26 Nov 2026, 22:15:30 UTC+8</td>" in html
    zh = render_html(data, tmp_path, "zh-CN")
    assert "<td>2026年11月26日 22:05:00 UTC+8</td>" in zh
    assert 'data-testid="pauses"' not in render_html(build_report(journal, run_id), tmp_path)


def test_secrets_are_masked_before_escaping(tmp_path):
    # A secret with characters HTML and JSON escape ("<", "&") would survive a text-only pass.
    secret = "p<a&ss"
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order", params={}, portal="p", rows=[(A, {"order_id": A})],
            options={"max_cancel_rate": 2.5},
        )  # fmt: skip
        journal.mark_running(run_id, A)
        journal.mark_failed(run_id, A, error=f"typed {secret}", error_kind="step")
        data = build_report(journal, run_id)
    for fmt in FORMATS:
        text = render(data, fmt, tmp_path, redact=lambda text: text.replace(secret, "***"))
        assert "p<a" not in text and "p\\u003ca" not in text and "p&lt;a" not in text, fmt
        assert "***" in text, fmt


def test_report_command(recorded_run):
    journal, run_id, tmp_path = recorded_run
    runner = CliRunner()
    db = str(tmp_path / "journal.db")
    table = runner.invoke(report_command, ["--journal", db])
    assert table.exit_code == 0, table.output
    assert f"Run {run_id}" in table.output
    as_json = runner.invoke(
        report_command, [run_id, "--journal", db, "--format", "json", "-o", "-"]
    )
    assert json.loads(as_json.output)["run"]["id"] == run_id
    out = tmp_path / "report.csv"
    written = runner.invoke(
        report_command, ["last", "--journal", db, "--format", "csv", "-o", str(out)]
    )
    assert written.exit_code == 0 and written.output == ""
    assert out.read_text().startswith("key,state,outcome")
    assert not list(tmp_path.glob(".*.partial"))
    # A place that cannot take the file is the user's to fix: one line, exit 2.
    folder = runner.invoke(report_command, ["last", "--journal", db, "-o", str(tmp_path)])
    assert folder.exit_code == 2
    assert folder.output == f"Error: {tmp_path}: Is a directory\n"


def test_report_command_follows_lang_and_the_locale(recorded_run):
    journal, run_id, tmp_path = recorded_run
    db = str(tmp_path / "journal.db")
    runner = CliRunner()
    chinese = runner.invoke(report_command, ["--journal", db, "--lang", "zh-CN"])
    assert chinese.exit_code == 0, chinese.output
    assert f"运行 {run_id}" in chinese.output and "已中断" in chinese.output
    # The choice ends with the command.
    assert i18n.chosen_language() is None
    by_locale = runner.invoke(report_command, ["--journal", db], env={"LANG": "zh_CN.UTF-8"})
    assert "已中断" in by_locale.output
    english = runner.invoke(
        report_command, ["--journal", db, "--lang", "en"], env={"LC_ALL": "zh_CN.UTF-8"}
    )
    assert f"Run {run_id}  flow cancel_order  Interrupted" in english.output
    page = tmp_path / "zh.html"
    html = runner.invoke(
        report_command, ["--journal", db, "--format", "html", "-o", str(page), "--lang", "zh_CN"]
    )
    assert html.exit_code == 0, html.output
    assert '<html lang="zh-CN">' in page.read_text()


def test_report_command_refuses_a_language_it_does_not_speak(recorded_run):
    journal, run_id, tmp_path = recorded_run
    result = CliRunner().invoke(
        report_command, ["--journal", str(tmp_path / "journal.db"), "--lang", "fr"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--lang': 'fr' is not one of 'en', 'zh-CN'." in result.output


def test_report_command_errors(tmp_path, recorded_run):
    runner = CliRunner()
    missing = runner.invoke(report_command, ["--journal", str(tmp_path / "none.db")])
    assert missing.exit_code == 2
    assert f"no journal at {tmp_path / 'none.db'}" in missing.output
    unknown = runner.invoke(report_command, ["nope", "--journal", str(tmp_path / "journal.db")])
    assert unknown.exit_code == 2 and "no run 'nope'" in unknown.output
    assert "Traceback" not in unknown.output


@pytest.mark.browser
def test_html_report_renders_in_chromium(recorded_run):
    from playwright.sync_api import sync_playwright

    journal, run_id, tmp_path = recorded_run
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    out.write_text(render_html(build_report(journal, run_id), out.parent, "en"), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_browser(headless=True), args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(out.as_uri())
            assert page.get_by_test_id("total").inner_text() == "4"
            assert page.get_by_test_id("run-status").inner_text() == "Interrupted"
            assert page.get_by_test_id("row").count() == 4
            image = page.locator("img.shot")
            assert image.count() == 1
            # The embedded screenshot decoded and laid out: a broken image has no natural size.
            assert image.evaluate("img => img.complete && img.naturalWidth") == 40
            trace_href = page.locator("a.evidence").get_attribute("href")
            assert (out.parent / trace_href).resolve() == (tmp_path / "runs" / "r1" / "trace.zip")
            page.locator(f"#row-{C}").get_by_role("link", name="see the failure").click()
            assert page.url.endswith(f"#fail-{C}")
            assert page.locator(f"#fail-{C}").is_visible()
            shot = page.screenshot(full_page=True)
            assert len(shot) > 5000
            (tmp_path / "report.png").write_bytes(shot)
        finally:
            browser.close()


def test_selector_health_counts_each_candidate_per_step_and_flags_drift():
    from types import SimpleNamespace

    from agent.report import selector_health

    def row(*candidates):
        return SimpleNamespace(
            matches=[
                {"step": "steps[3]", "line": 12, "candidate": c, "spec": ["testid=x", "css=.x"][c]}
                for c in candidates
            ]
        )

    health = selector_health([row(0), row(1), row(1), row(0), SimpleNamespace(matches=[])])
    assert health == [
        {
            "step": "steps[3]",
            "line": 12,
            "matched": 4,
            "first_choice_share": 0.5,
            "candidates": [
                {"candidate": 0, "spec": "testid=x", "count": 2},
                {"candidate": 1, "spec": "css=.x", "count": 2},
            ],
        }
    ]


def test_the_portals_words_read_in_the_reports_language_whichever_page_they_came_from():
    from agent import i18n
    from agent.report.html import _row_view

    row = {
        "key": "112-0000001-0000001",
        "seq": 1,
        "state": "done",
        "outcome": "already_cancelled",
        "ok": True,
        "reason": "NoInventory",
        "attempts": 1,
        "values": {
            "cancel_reason": "No Inventory",
            "cancelled_by": "Seller",
            "buyer_requested": False,
        },
    }
    with i18n.using("zh-CN"):
        details = _row_view(row, card=False)["d"]
    assert details == ["买家已请求取消：否", "取消原因：无库存", "取消方：卖家"], details
    chinese_page = {**row, "values": {"cancel_reason": "买家取消", "cancelled_by": "买家"}}
    with i18n.using("en"):
        details = _row_view(chinese_page, card=False)["d"]
    assert details == ["Cancellation reason: Buyer Canceled", "Canceled by: Buyer"], details
    with i18n.using("zh-CN"):  # text the tool has no word for stays as the page wrote it
        assert i18n.portal_word("Marketplace") == "Marketplace"


def test_the_parties_are_the_portals_words():
    from agent.i18n import PARTIES
    from mock_portal.i18n import STRINGS

    assert PARTIES == {"Seller": STRINGS["by_seller"], "Buyer": STRINGS["by_buyer"]}


def test_the_speed_counts_rows_played_to_an_end_not_rows_never_played(tmp_path):
    # Stopped early (--max-outage, Ctrl-C): 2 rows done, 1 failed, 7 never played, in 12.5 s
    # of running. The speed is 3 rows in 12.5 s, not 10.
    keys = [f"112-0000001-{n:07d}" for n in range(1, 11)]
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order", params={}, portal="p",
            rows=[(key, {"order_id": key}) for key in keys], options={"max_cancel_rate": 2.5},
        )  # fmt: skip
        for key in keys[:2]:
            journal.mark_running(run_id, key)
            journal.mark_done(run_id, key, outcome="cancelled", ok=True)
        journal.mark_running(run_id, keys[2])
        journal.mark_failed(run_id, keys[2], error="HTTP 500", error_kind="http_5xx")
        journal.mark_running(run_id, keys[3])  # in flight when the run stopped
        journal.set_run_status(run_id, "interrupted")
        span = journal.open_event(run_id, "active")
        journal.db.execute(
            "UPDATE run_events SET started_at = ?, ended_at = ? WHERE id = ?",
            ("2026-11-26T12:00:00.000000Z", "2026-11-26T12:00:12.500000Z", span),
        )
        data = build_report(journal, run_id)
    assert (data["total"], data["ended"], data["pending"]) == (10, 3, 7)
    assert data["seconds"] == pytest.approx(12.5)
    assert data["rows_per_second"] == pytest.approx(0.24)
    assert json.loads(render_json(data))["rows_per_second"] == pytest.approx(0.24)
    assert "Time: 12.5 s running (0.24 rows/s)" in render_table(data, "en")
    assert "(0.24 rows/s)" in render_html(data, tmp_path, "en")
    # In Chinese, the speed's brackets are Chinese ones, as in the table.
    assert "用时：运行 12.5 秒（每秒 0.24 行）" in render_table(data, "zh-CN")
    zh = render_html(data, tmp_path, "zh-CN")
    assert "（每秒 0.24 行）" in zh and "(每秒" not in zh
    # The merged report of shards counts the same way.
    merged = merge_runs([tmp_path / "journal.db"])
    assert merged["ended"] == 3
    assert merged["rows_per_second"] == pytest.approx(3 / merged["seconds"])


def test_a_run_stopped_before_any_row_ended_tells_no_speed(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order", params={}, portal="p", rows=[(A, {"order_id": A})], options={}
        )
        journal.mark_running(run_id, A)  # in flight when the run stopped
        journal.set_run_status(run_id, "interrupted")
        span = journal.open_event(run_id, "active")
        journal.db.execute(
            "UPDATE run_events SET started_at = ?, ended_at = ? WHERE id = ?",
            ("2026-11-26T12:00:00.000000Z", "2026-11-26T12:00:04.000000Z", span),
        )
        data = build_report(journal, run_id)
    assert (data["seconds"], data["rows_per_second"]) == (pytest.approx(4.0), None)
    table = render_table(data, "en")
    assert "Time: 4 s running\n" in table and "rows/s" not in table
    assert "用时：运行 4 秒\n" in render_table(data, "zh-CN")
    assert "rows/s" not in render_html(data, tmp_path, "en")


def test_the_canary_option_says_how_many_rows_went_first(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order", params={}, portal="p", rows=[("k", {})], options={"canary": 3}
        )
        data = build_report(journal, run_id)
    en = render_html(data, tmp_path, "en")
    assert "<dt>Canary (rows played first, then asked)</dt><dd>3 rows</dd>" in en
    zh = render_html(data, tmp_path, "zh-CN")
    assert "<dt>先行批次（先执行这些行，再询问）</dt><dd>3 行</dd>" in zh
    assert "试" not in zh.split("<dt>先行批次")[1].split("</dd>")[0]


def test_a_long_list_of_unofficial_buyer_canceled_orders_wraps_between_ids(tmp_path):
    """Each order id stays whole, but the list breaks between them: a run of hundreds does
    not widen the page."""
    keys = [f"112-0000001-{n:07d}" for n in range(1, 101)]
    projection = {"rate_before": 0.5, "rate_after": 9.0, "buyer_canceled_unofficial": keys}
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order", params={}, portal="p", rows=[(k, {}) for k in keys[:1]],
            options={"max_cancel_rate": 2.5, "projection": projection},
        )  # fmt: skip
        html = render_html(build_report(journal, run_id), tmp_path, "en")
    assert f'<span class="id">{keys[0]}</span>, <span class="id">{keys[1]}</span>' in html


def test_a_run_a_live_process_is_playing_is_said_so_without_a_resume_command(tmp_path):
    import os

    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        run_id = journal.create_run(
            flow="page",
            params={},
            portal="http://127.0.0.1:9",
            rows=[(key, {"order_id": key}) for key in ("a", "b")],
            options={"workers": 1},
        )
        stretch = journal.claim_run(run_id)  # this process plays it
        journal.mark_running(run_id, "a")
        journal.mark_done(run_id, "a", outcome="shown", ok=True)
        result = CliRunner().invoke(
            report_command, ["last", "--journal", str(path)], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        assert f"Being played now by process {os.getpid()}: this report shows it so far" in (
            result.output
        )
        assert "--resume" not in result.output
        data = json.loads(
            CliRunner()
            .invoke(report_command, ["last", "--journal", str(path), "--format", "json"])
            .output
        )
        assert data["playing"] == str(os.getpid()) and data["resume"] is None
        # The process is gone (here: its stretch ended without the run finishing).
        journal.close_event(stretch)
        data = json.loads(
            CliRunner()
            .invoke(report_command, ["last", "--journal", str(path), "--format", "json"])
            .output
        )
        assert data["playing"] is None
        assert data["resume"] == {
            "resume": f"seller-agent run page --resume {run_id} --journal {path}"
        }


def test_a_report_loads_neither_the_flow_package_nor_playwright(recorded_run):
    # A report is read often and on its own: its speed is its imports.
    journal, run_id, tmp_path = recorded_run
    code = (
        "import sys\nfrom agent.cli import cli\n"
        "for fmt in ('table', 'html', 'json', 'csv'):\n"
        "    try:\n"
        f"        cli(['report', {run_id!r}, '--journal', {str(tmp_path / 'journal.db')!r},"
        f" '--format', fmt, '-o', {str(tmp_path / 'out')!r}])\n"
        "    except SystemExit as end:\n"
        "        assert not end.code, end.code\n"
        "print(sorted(m for m in ('agent.flow', 'agent.play.player', 'playwright') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
