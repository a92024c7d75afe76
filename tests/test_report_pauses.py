"""Reports show a run's pauses (when, how long, why) and its time as the sum of the
stretches it was played, not the gap between an interruption and its resume."""

from datetime import datetime

import pytest

from agent.bulk.journal import Journal
from agent.report import build_report, render_html, render_table


def stamp(clock):
    return f"2026-11-26T{clock}.000000Z"


def set_times(journal, table, column, key, **times):
    sets = ", ".join(f"{name} = ?" for name in times)
    journal.db.execute(f"UPDATE {table} SET {sets} WHERE {column} = ?", (*times.values(), key))


@pytest.fixture
def paused_run(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order",
            params={},
            portal="http://127.0.0.1:8600",
            rows=[("111-0000000-0000001", {}), ("111-0000000-0000002", {})],
            options={"workers": 2},
        )
        for key in ("111-0000000-0000001", "111-0000000-0000002"):
            journal.mark_running(run_id, key)
            journal.mark_done(run_id, key, outcome="cancelled", ok=True)
        times = [
            ("active", None, "12:00:00", "12:02:00"),
            ("outage", "portal unreachable (connection refused)", "12:00:30", "12:01:32"),
            ("throttled", "throttled: HTTP 429, Retry-After 1 s", "12:01:50", "12:01:53"),
            # Resumed three hours later for a minute.
            ("active", None, "15:00:00", "15:01:00"),
        ]
        for kind, reason, start, end in times:
            event = journal.open_event(run_id, kind, reason)
            journal.close_event(event)
            set_times(
                journal, "run_events", "id", event, started_at=stamp(start), ended_at=stamp(end)
            )
        yield journal, run_id


def local(clock):
    return datetime.fromisoformat(stamp(clock).replace("Z", "+00:00")).astimezone()


def test_the_summary_shows_the_time_running_and_each_pause(paused_run):
    journal, run_id = paused_run
    data = build_report(journal, run_id)
    assert data["seconds"] == pytest.approx(180)
    assert [pause["kind"] for pause in data["pauses"]] == ["outage", "throttled"]
    assert data["paused_seconds"] == pytest.approx(65)
    table = render_table(data)
    assert "Time: 3 min 00 s running (0.01 rows/s)" in table
    assert "Pauses: 2 (1 min 05 s in all; the portal's trouble, not the rows')" in table
    assert (
        f"  {local('12:00:30'):%H:%M:%S}  1 min 02 s   portal unreachable (connection refused)"
        in table
    )
    assert f"  {local('12:01:50'):%H:%M:%S}  3 s          throttled: HTTP 429" in table
    # Each pause is told once, in the block above: no other line speaks of it.
    assert sum("connection refused" in line for line in table.splitlines()) == 1
    html = render_html(data)
    assert 'data-testid="pauses"' in html and "portal unreachable (connection refused)" in html


def test_a_run_without_pauses_shows_none(tmp_path):
    with Journal(tmp_path / "journal.db") as journal:
        run_id = journal.create_run(
            flow="cancel_order", params={}, portal="p", rows=[("k", {})], options={}
        )
        data = build_report(journal, run_id)
    assert data["pauses"] == [] and "Pause" not in render_table(data)
    assert 'data-testid="pauses"' not in render_html(data)


def test_the_pauses_reasons_read_in_chinese(paused_run):
    """The journal keeps a pause's reason in English; the table and the page tell it in the
    reader's language."""
    journal, run_id = paused_run
    data = build_report(journal, run_id)
    table = render_table(data, "zh-CN")
    assert f"  {local('12:00:30'):%H:%M:%S}  1 分 02 秒   卖家平台无法访问（连接被拒绝）" in table
    assert f"  {local('12:01:50'):%H:%M:%S}  3 秒         限流：HTTP 429，Retry-After 1 秒" in table
    assert "throttled" not in table and "unreachable" not in table
    assert "是卖家平台的问题" in table and "门户" not in table
    html = render_html(data, lang="zh-CN")
    assert "卖家平台无法访问（连接被拒绝）" in html and "限流：HTTP 429，Retry-After 1 秒" in html
    # JSON keeps the journal's English.
    assert data["pauses"][1]["reason"] == "throttled: HTTP 429, Retry-After 1 s"


@pytest.mark.parametrize(
    ("reason", "chinese"),
    [
        ("portal unreachable (timed out); the run stopped (--max-outage)",
         "卖家平台无法访问（超时）；运行已停止（--max-outage）"),
        ("portal never answered (HTTP 502); the run stopped",
         "卖家平台始终没有响应（HTTP 502）；运行已停止"),
        ("portal unreachable (HTTP 503)", "卖家平台无法访问（HTTP 503）"),
        ("something else (x)", "something else (x)"),
    ],
)  # fmt: skip
def test_every_pause_reason_the_engine_writes_reads_in_chinese(reason, chinese):
    from agent.i18n import using
    from agent.report.words import pause_reason

    with using("zh-CN"):
        assert pause_reason(reason) == chinese
    with using("en"):
        assert pause_reason(reason) == reason


def test_the_outage_line_on_the_terminal_tells_the_probes_answer_in_chinese():
    from agent.bulk.outage import _describe
    from agent.i18n import shown, using

    with using("zh-CN"):
        refused = _describe(ConnectionRefusedError())
        timeout = _describe(TimeoutError())
    assert (str(refused), shown(refused)) == ("connection refused", "连接被拒绝")
    assert (str(timeout), shown(timeout)) == ("timed out", "超时")


def test_a_duration_before_hou_takes_no_space():
    """A Chinese duration is followed by 后 directly: 15 秒后, not 15 秒 后."""
    from agent.i18n import _, using

    with using("zh-CN"):
        back = _("portal answers again after {took}; going on").format(took="15 秒")
    assert back == "卖家平台在 15 秒后恢复响应；继续运行"
