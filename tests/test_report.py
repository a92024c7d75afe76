import csv
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.bulk.journal import Journal
from agent.cli.report import report as report_command
from agent.play.browser import CHROMIUM_ARGS, find_browser
from agent.report import build_report, render_csv, render_html, render_json, render_table

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
    assert data["fallback_steps"] == {"3": 1}
    assert data["rate"]["before"] == 0.5 and data["rate"]["after_measured"] == 1.5


def test_table_summary(recorded_run):
    journal, run_id, _ = recorded_run
    text = render_table(build_report(journal, run_id))
    assert f"Run {run_id}  flow cancel_order  interrupted" in text
    assert "Rows: 4  succeeded: 1  failed: 1  other outcomes: 1  not played yet: 1" in text
    assert f"  {C} [step]: step 4: no element matches <testid cancel-order> (password ***)" in text
    assert "Rows retried: 1" in text
    assert "Order Cancellation Rate: before 0.50%, projected 2.00%, after 1.50%" in text
    assert "hunter2" not in text


def test_json_and_csv(recorded_run):
    journal, run_id, _ = recorded_run
    data = build_report(journal, run_id)
    assert json.loads(render_json(data))["rows"][2]["key"] == C
    lines = list(csv.DictReader(io.StringIO(render_csv(data))))
    assert [line["outcome"] for line in lines] == ["cancelled", "not_cancellable", "failed", ""]
    assert lines[1]["attempts"] == "2" and lines[0]["ok"] == "true"
    assert json.loads(lines[0]["params"]) == {"order_id": A, "reason": "NoInventory"}


def test_html_is_self_contained(recorded_run):
    journal, run_id, tmp_path = recorded_run
    html = render_html(build_report(journal, run_id), tmp_path / "out")
    assert "data:image/png;base64," in html
    assert 'href="../runs/r1/trace.zip"' in html
    assert "<script" not in html and "hunter2" not in html


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
    out.write_text(render_html(build_report(journal, run_id), out.parent), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_browser(headless=True), args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(out.as_uri())
            assert page.get_by_test_id("total").inner_text() == "4"
            assert page.get_by_test_id("run-status").inner_text() == "interrupted"
            assert page.get_by_test_id("row").count() == 4
            image = page.locator("img.shot")
            assert image.count() == 1
            # The embedded screenshot decoded and laid out: a broken image has no natural size.
            assert image.evaluate("img => img.complete && img.naturalWidth") == 40
            trace_href = page.locator("a.evidence").get_attribute("href")
            assert (out.parent / trace_href).resolve() == (tmp_path / "runs" / "r1" / "trace.zip")
            page.get_by_role("link", name=C).click()
            assert page.url.endswith(f"#row-{C}")
            assert page.locator(f"#row-{C}").is_visible()
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
