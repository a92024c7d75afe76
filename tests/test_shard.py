"""--shard K/N and `report --merge`: deterministic, disjoint, complete slices of a row list,
and one report from the journals of a sharded job (run end to end in test_scale_e2e.py)."""

import csv
import io
import json
from collections import Counter

import pytest
from click.testing import CliRunner

from agent.bulk.journal import Journal
from agent.bulk.rows import InputRow, Problem, RowSet
from agent.bulk.shard import Shard, parse_shard, shard_of, take_shard
from agent.cli import cli
from agent.errors import UserError
from agent.report.merge import merge_lines, merge_runs

KEYS = [f"112-{n // 10000:07d}-{n:07d}" for n in range(3000)]


def test_shards_are_written_k_of_n():
    assert parse_shard("2/3") == Shard(2, 3)
    assert parse_shard(" 1 / 1 ") == Shard(1, 1)
    assert str(parse_shard("10/12")) == "10/12"
    for text in ("0/3", "4/3", "3", "1/0", "a/b", "-1/3", "1/3/5", ""):
        with pytest.raises(UserError):
            parse_shard(text)


def test_the_hash_rule_is_fixed():
    """Machines on different releases must agree where a key goes: these never change."""
    assert [shard_of("112-0000001-0000001", n) for n in (2, 3, 10)] == [1, 2, 1]
    assert [shard_of("112-0000001-0000003", n) for n in (2, 3, 10)] == [1, 3, 9]
    assert [shard_of("订单-1", n) for n in (2, 3, 10)] == [2, 2, 6]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_every_key_lands_in_exactly_one_shard_of_even_size(count):
    rowset = RowSet(rows=[InputRow(key, {}, "ids.txt", line) for line, key in enumerate(KEYS)])
    slices = [take_shard(rowset, Shard(index, count)) for index in range(1, count + 1)]
    keys = [row.key for part in slices for row in part.rows]
    assert sorted(keys) == sorted(KEYS)
    assert len(set(keys)) == len(keys)
    sizes = [len(part.rows) for part in slices]
    assert max(sizes) - min(sizes) < 0.15 * len(KEYS) / count + 10
    # Each slice keeps the input order.
    for part in slices:
        lines = [row.line for row in part.rows]
        assert lines == sorted(lines)


def test_a_shard_keeps_the_whole_input_s_problems():
    problem = Problem("ids.txt", 3, "malformed order id")
    rowset = RowSet(rows=[InputRow("a", {}, "ids.txt", 1)], problems=[problem], notes=["n"])
    part = take_shard(rowset, Shard(1, 2))
    assert part.problems == [problem] and part.notes == ["n"]
    assert take_shard(rowset, None) is rowset


def test_a_cancel_shard_without_rows_says_so_and_records_nothing(tmp_path):
    # 112-0000001-0000001 is in shard 1 of 2 (see test_the_hash_rule_is_fixed).
    journal = tmp_path / "journal.db"
    result = CliRunner().invoke(
        cli,
        ["cancel", "112-0000001-0000001", "--shard", "2/2", "--journal", str(journal)]
        + ["--portal", "http://127.0.0.1:9", "--yes"],
        env={"XDG_DATA_HOME": str(tmp_path / "data")},
    )
    assert result.exit_code == 2
    assert "shard 2/2: 0 of 1 row" in result.output
    assert "Error: no valid rows to run in shard 2/2" in result.output
    assert not journal.exists()


def test_a_rows_shard_without_rows_says_so(tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("order_id\n112-0000001-0000001\n")
    result = CliRunner().invoke(
        cli,
        ["run", "cancel_order", "--rows", str(rows), "--shard", "2/2"]
        + ["--journal", str(tmp_path / "journal.db"), "--portal", "http://127.0.0.1:9"],
        env={"XDG_DATA_HOME": str(tmp_path / "data")},
    )
    assert result.exit_code == 2
    assert "Error: no valid rows to run in shard 2/2" in result.output


def shard_journal(path, shard, outcomes, flow="cancel_order"):
    """A finished run of one shard, as `cancel --shard` leaves it."""
    with Journal(path) as journal:
        run_id = journal.create_run(
            flow=flow,
            params={},
            portal="http://127.0.0.1:8600",
            rows=[(key, {"order_id": key}) for key in outcomes],
            options={"shard": shard, "workers": 2},
        )
        for key, outcome in outcomes.items():
            journal.mark_running(run_id, key)
            if outcome == "failed":
                journal.mark_failed(run_id, key, error="timeout", error_kind="timeout")
            else:
                endpoint = {"endpoint": "ws://10.0.0.1:8610/…"}
                journal.mark_done(run_id, key, outcome=outcome, ok=True, values=endpoint)
        journal.set_run_status(run_id, "finished")
    return path


def test_merged_report_sums_the_shards(tmp_path):
    journals = [
        shard_journal(tmp_path / "1.db", "1/3", {"a": "cancelled", "b": "cancelled"}),
        shard_journal(tmp_path / "2.db", "2/3", {"c": "already_cancelled"}),
        shard_journal(tmp_path / "3.db", "3/3", {"d": "cancelled", "e": "failed"}),
    ]
    merged = merge_runs(journals)
    assert merged["total"] == 5 and merged["succeeded"] == 4 and merged["failed"] == 1
    assert merged["outcomes"] == {"already_cancelled": 1, "cancelled": 3, "failed": 1}
    assert [shard["shard"] for shard in merged["shards"]] == ["1/3", "2/3", "3/3"]
    assert merged["duplicates"] == [] and merged["warnings"] == []
    assert merged["endpoints"] == {"ws://10.0.0.1:8610/…": 4}
    assert {row["key"]: row["shard"] for row in merged["rows"]}["e"] == "3/3"
    assert merged["run"]["status"] == "finished"


def test_merged_report_flags_a_key_two_shards_played_and_a_missing_shard(tmp_path):
    journals = [
        shard_journal(tmp_path / "1.db", "1/3", {"a": "cancelled", "b": "cancelled"}),
        shard_journal(tmp_path / "3.db", "3/3", {"b": "already_cancelled", "d": "cancelled"}),
    ]
    merged = merge_runs(journals)
    assert merged["duplicates"] == [
        {"key": "b", "shards": ["1/3", "3/3"], "outcomes": ["cancelled", "already_cancelled"]}
    ]
    assert merged["warnings"] == ["missing shards: 2/3"]

    result = CliRunner().invoke(cli, ["report", "--merge", *map(str, journals)])
    assert result.exit_code == 0
    assert "Played by two shards (1):\n  b: shards 1/3, 3/3 (cancelled, already_cancelled)" in (
        result.stdout
    )
    assert "Warning: 1 key was played by two shards: b" in result.stderr
    assert "Warning: missing shards: 2/3" in result.stderr

    html = tmp_path / "job.html"
    result = CliRunner().invoke(
        cli, ["report", "--merge", *map(str, journals), "--format", "html", "-o", str(html)]
    )
    assert result.exit_code == 0
    page = html.read_text()
    assert 'data-testid="shards"' in page and "Played by two shards: b (1/3, 3/3)" in page


def test_merge_names_what_it_cannot_merge(tmp_path):
    plain = tmp_path / "plain.db"
    with Journal(plain) as journal:
        journal.create_run(flow="other", params={}, portal="p", rows=[("z", {})], options={})
    journals = [shard_journal(tmp_path / "1.db", "1/2", {"a": "cancelled"}), plain]
    assert merge_runs(journals)["warnings"] == [
        f"not a sharded run: {plain}",
        "missing shards: 2/2",
        "runs of different flows: cancel_order, other",
    ]
    result = CliRunner().invoke(cli, ["report", "--merge", str(tmp_path / "nope.db")])
    assert result.exit_code == 2 and f"{tmp_path / 'nope.db'}: no journal there" in result.output
    assert not (tmp_path / "nope.db").exists()
    result = CliRunner().invoke(cli, ["report", "a", "b"])
    assert result.exit_code == 2 and "give one run id" in result.output


def test_merged_json_keeps_every_row_with_its_shard(tmp_path):
    journals = [
        shard_journal(tmp_path / "1.db", "1/2", {"a": "cancelled"}),
        shard_journal(tmp_path / "2.db", "2/2", {"b": "cancelled", "c": "cancelled"}),
    ]
    result = CliRunner().invoke(cli, ["report", "--merge", *map(str, journals), "--format", "json"])
    data = json.loads(result.stdout)
    assert Counter(row["shard"] for row in data["rows"]) == {"1/2": 1, "2/2": 2}


def test_a_shard_is_for_new_runs_only(tmp_path):
    result = CliRunner().invoke(cli, ["cancel", "--resume", "last", "--shard", "1/2"])
    assert result.exit_code == 2 and "--shard applies to a new run" in result.output
    result = CliRunner().invoke(cli, ["run", "cancel_order", "--shard", "1/2"])
    assert result.exit_code == 2 and "--shard applies to a new --rows run" in result.output


def test_merged_rows_keep_the_rate_flag_and_their_shard_in_every_format(tmp_path):
    journals = [
        shard_journal(tmp_path / "1.db", "1/2", {"a": "cancelled"}),
        shard_journal(tmp_path / "2.db", "2/2", {"b": "cancelled", "c": "already_cancelled"}),
    ]
    # What `cancel` records: each row's reason, so the rate flag can be worked out.
    for path in journals:
        with Journal(path) as journal:
            run_id = journal.resolve_run_id("last")
            journal.update_run_options(run_id, max_cancel_rate=2.5)
            journal.db.execute(
                "UPDATE rows SET params = json_set(params, '$.reason', 'NoInventory')"
                " WHERE run_id = ?",
                (run_id,),
            )
    data = json.loads(
        CliRunner()
        .invoke(cli, ["report", "--merge", *map(str, journals), "--format", "json"])
        .stdout
    )
    flags = {row["key"]: row["counts_toward_rate"] for row in data["rows"]}
    single = json.loads(
        CliRunner()
        .invoke(cli, ["report", "--journal", str(journals[1]), "--format", "json"])
        .stdout
    )
    assert (
        flags["b"] is True
        and flags["b"] == {r["key"]: r["counts_toward_rate"] for r in single["rows"]}["b"]
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                CliRunner()
                .invoke(cli, ["report", "--merge", *map(str, journals), "--format", "csv"])
                .stdout
            )
        )
    )
    assert [(row["key"], row["shard"], row["counts_toward_rate"]) for row in rows] == [
        ("a", "1/2", "true"),
        ("b", "2/2", "true"),
        ("c", "2/2", flags["c"] and "true" or ""),
    ]
    html = (
        CliRunner()
        .invoke(cli, ["report", "--merge", *map(str, journals), "--format", "html", "--lang", "en"])
        .stdout
    )
    assert "Shard 2/2" in html


def test_a_merged_time_is_the_shards_active_stretches_together(tmp_path):
    journals = [
        shard_journal(tmp_path / "1.db", "1/2", {"a": "cancelled"}),
        shard_journal(tmp_path / "2.db", "2/2", {"b": "cancelled"}),
    ]
    stretches = [
        ("2026-11-30T10:00:00.000000Z", "2026-11-30T10:00:06.800000Z"),
        ("2026-11-30T10:00:01.000000Z", "2026-11-30T10:00:05.900000Z"),
    ]
    for path, (start, end) in zip(journals, stretches, strict=True):
        with Journal(path) as journal:
            run_id = journal.resolve_run_id("last")
            span = journal.open_event(run_id, "active")
            journal.db.execute(
                "UPDATE run_events SET started_at = ?, ended_at = ? WHERE id = ?",
                (start, end, span),
            )
    assert merge_runs(journals[:1])["seconds"] == pytest.approx(6.8)
    # Side by side, the job took as long as both together cover: 6.8 s, not the rows' span.
    assert merge_runs(journals)["seconds"] == pytest.approx(6.8)


def test_the_merged_tables_warnings_read_in_chinese_like_the_line_on_stderr(
    tmp_path, isolated_home
):
    journals = [
        shard_journal(tmp_path / "1.db", "1/3", {"a": "cancelled"}),
        shard_journal(tmp_path / "2.db", "2/3", {"c": "cancelled"}),
    ]
    result = CliRunner().invoke(cli, ["report", "--merge", *map(str, journals), "--lang", "zh-CN"])
    assert result.exit_code == 0, result.output
    assert "警告：缺少分片：3/3" in result.stdout.splitlines()
    assert "missing" not in result.stdout
    assert result.stderr == "警告：缺少分片：3/3\n"


def test_the_merged_html_page_reads_in_chinese_and_knows_its_runs_are_cancel_runs(
    tmp_path, isolated_home
):
    journals = [
        shard_journal(tmp_path / "1.db", "1/3", {"112-0000001-0000001": "cancelled"}),
        shard_journal(tmp_path / "2.db", "2/3", {"112-0000001-0000002": "cancelled"}),
    ]
    for journal in journals:  # as `cancel --shard` records them
        with Journal(journal) as opened:
            run_id = opened.last_run_id()
            opened.update_run_options(run_id, max_cancel_rate=2.5)
    page = tmp_path / "job.html"
    result = CliRunner().invoke(
        cli, ["report", "--merge", *map(str, journals), "--format", "html", "-o", str(page),
              "--lang", "zh-CN"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    html = page.read_text()
    shards = html.split('data-testid="shards"')[1].split("</table>")[0]
    assert "<td>已完成</td>" in shards and "finished" not in shards
    assert '<p class="warning">缺少分片：3/3</p>' in html and "missing shards" not in html
    assert "<th>订单编号</th>" in html
    data = json.loads(
        CliRunner()
        .invoke(cli, ["report", "--merge", *map(str, journals), "--format", "json"])
        .stdout
    )
    assert data["run"]["kind"] == "cancel"


def test_a_merged_report_keeps_the_shards_pauses_and_left_out_rows(tmp_path):
    from agent.report import render_table

    journals = [
        shard_journal(tmp_path / "1.db", "1/2", {"a": "cancelled"}),
        shard_journal(tmp_path / "2.db", "2/2", {"b": "cancelled"}),
    ]
    with Journal(journals[1]) as journal:
        run_id = journal.last_run_id()
        event = journal.open_event(run_id, "outage", "portal unreachable (connection refused)")
        journal.close_event(event)
        journal.update_run_options(run_id, problems=["orders.csv:7: malformed order id '12-34'"])
    with Journal(journals[0]) as journal:
        journal.update_run_options(
            journal.last_run_id(), problems=["orders.csv:7: malformed order id '12-34'"]
        )
    merged = merge_runs(journals)
    assert [(pause["kind"], pause["shard"]) for pause in merged["pauses"]] == [("outage", "2/2")]
    assert merged["pauses"][0]["reason"] == "portal unreachable (connection refused)"
    assert merged["problems"] == ["orders.csv:7: malformed order id '12-34'"]
    table = render_table(merged, "en")
    assert "Pause: 1 (" in table and "portal unreachable (connection refused)" in table


def test_the_merged_table_says_how_to_go_on_with_an_unfinished_shard(tmp_path):
    done = shard_journal(tmp_path / "1.db", "1/2", {"a": "cancelled"})
    stopped = tmp_path / "2.db"
    with Journal(stopped) as journal:
        run_id = journal.create_run(
            flow="cancel_order", params={}, portal="http://127.0.0.1:8600",
            rows=[(key, {"order_id": key}) for key in ("b", "c")],
            options={"shard": "2/2", "max_cancel_rate": 2.5},
        )  # fmt: skip
        journal.mark_running(run_id, "b")
        journal.mark_done(run_id, "b", outcome="cancelled", ok=True)
        journal.set_run_status(run_id, "interrupted")
    merged = merge_runs([done, stopped])
    assert [shard["resume"] for shard in merged["shards"]] == [
        None,
        {"resume": f"seller-agent cancel --resume {run_id} --journal {stopped}"},
    ]
    assert (
        f"To go on with shard 2/2: seller-agent cancel --resume {run_id} --journal {stopped}"
        in (merge_lines(merged))
    )
