"""`seller-agent portal serve` and `portal reset` as a user runs them (subprocess, CliRunner),
and the PortalProcess fixture's failure path."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from agent.cli import cli
from mock_portal import db, seed
from mock_portal.testing import PortalProcess, PortalStartError

CLI = [sys.executable, "-c", "from agent.cli import cli; cli()"]


def start(args, env=None):
    return subprocess.Popen(
        [*CLI, "portal", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def read_until_ready(process, timeout=30) -> tuple[str, list[str]]:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            url = next(
                entry.split()[-1] for entry in lines if entry.startswith("Portal listening on")
            )
            return url, lines
    process.kill()
    raise AssertionError("portal did not start:\n" + "\n".join(lines) + process.stderr.read())


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def test_serve_answers_prints_credentials_and_stops_on_sigterm(tmp_path):
    database = tmp_path / "portal.db"
    process = start(["--port", "0", "--db", str(database), "--orders", "12", "--seed", "4"])
    try:
        url, lines = read_until_ready(process)
        assert url.startswith("http://127.0.0.1:")
        text = "\n".join(lines)
        assert "seller@example.com" in text and "demo-password" in text
        assert "JBSWY3DPEHPK3PXP" in text and str(database) in text
        assert get_json(url + "/mock/api/health") == {"ok": True}
        found = get_json(url + "/mock/api/orders?seller=seller@example.com")["orders"]
        assert len(found) == 12 and found[0]["order_id"].startswith("112-0000004-")
        with urllib.request.urlopen(url + "/ap/signin", timeout=10) as page:
            assert page.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert process.stdout.read() == ""  # chatter goes to stderr only
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_existing_database_is_kept_unless_reset(tmp_path):
    database = tmp_path / "portal.db"
    runner = CliRunner()
    first = runner.invoke(cli, ["portal", "reset", "--db", str(database), "--orders", "3"])
    assert first.exit_code == 0, first.output
    assert "3 orders" in first.output
    process = start(["--port", "0", "--db", str(database), "--orders", "9"])
    try:
        url, lines = read_until_ready(process)
        assert any("add --reset" in line for line in lines)
        assert len(get_json(url + "/mock/api/orders?seller=seller@example.com")["orders"]) == 3
    finally:
        process.terminate()
        process.wait(timeout=15)
    process = start(["--port", "0", "--db", str(database), "--orders", "9", "--reset"])
    try:
        url, lines = read_until_ready(process)
        assert any("reset and seeded again" in line for line in lines)
        assert len(get_json(url + "/mock/api/orders?seller=seller@example.com")["orders"]) == 9
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_serve_and_reset_speak_the_sellers_language(tmp_path):
    database = tmp_path / "portal.db"
    chinese = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}
    reset = CliRunner().invoke(
        cli, ["portal", "reset", "--db", str(database), "--orders", "1"], env=chinese
    )
    assert reset.exit_code == 0, reset.output
    assert f"已重置 {database}：种子 1，为 seller@example.com 生成 1 个订单。" in reset.output
    english = CliRunner().invoke(
        cli, ["portal", "reset", "--db", str(database), "--orders", "1", "--lang", "en"]
    )
    assert f"Reset {database}: seed 1, 1 order for seller@example.com." in english.output
    # --lang sets the pages' default language and the command's own messages.
    process = start(["--port", "0", "--db", str(database), "--orders", "4", "--lang", "zh-CN"])
    try:
        lines = []
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith("按 Ctrl-C 停止。"):
                break
        text = "\n".join(lines)
        assert "卖家平台正在监听 http://127.0.0.1:" in text, text
        assert "演示账户：seller@example.com  密码 " in text and f"数据库：{database}" in text
        assert "使用已有的数据库" in text and "Portal listening" not in text
    finally:
        process.terminate()
        process.wait(timeout=15)
    # An error of the portal's own (a database where no folder can be made), and one of Click's
    # about the option, in the seller's language.
    (tmp_path / "notes.txt").write_text("")
    place = tmp_path / "notes.txt" / "portal.db"
    failed = CliRunner().invoke(cli, ["portal", "reset", "--db", str(place)], env=chinese)
    assert failed.exit_code == 2
    assert f"无法创建数据库 {place} 所在的文件夹：" in failed.output, failed.output
    folder = CliRunner().invoke(cli, ["portal", "reset", "--db", str(tmp_path)], env=chinese)
    assert f"文件 '{tmp_path}' 是文件夹。" in folder.output, folder.output


def test_default_database_lives_in_the_users_data_folder(tmp_path, monkeypatch):
    data_home = tmp_path / "data"
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    runner = CliRunner(env={"XDG_DATA_HOME": str(data_home)})
    result = runner.invoke(cli, ["portal", "reset", "--orders", "2"])
    assert result.exit_code == 0, result.output
    assert list(workdir.iterdir()) == []
    assert (data_home / "seller-agent" / "portal.db").is_file()


def test_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = start(["--port", str(port), "--db", str(tmp_path / "p.db"), "--orders", "2"])
        _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--smtp", "nowhere"], "--smtp: SMTP server must be host:port"),
        (["--auto-cancel", "weekly"], "Invalid value for '--auto-cancel'"),
        (["--lang", "fr"], "Invalid value for '--lang'"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path, args, message):
    result = CliRunner().invoke(
        cli, ["portal", "serve", "--db", str(tmp_path / "p.db"), "--port", "0", *args]
    )
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_db_that_is_a_folder_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["portal", "reset", "--db", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a folder" in result.output or "is a directory" in result.output


def test_another_programs_database_is_refused_and_left_as_it_was(tmp_path):
    # A seller-agent journal given to the portal by mistake: no portal table is added to it.
    journal = tmp_path / "journal.db"
    with sqlite3.connect(journal) as conn:
        conn.execute("CREATE TABLE runs (id TEXT)")
        conn.execute("CREATE TABLE rows (key TEXT)")
    conn.close()
    before = journal.read_bytes()
    for command in (["reset"], ["serve", "--port", "0"]):
        result = CliRunner().invoke(cli, ["portal", *command, "--db", str(journal)])
        assert result.exit_code == 2, result.output
        assert result.output.splitlines()[-1] == (
            f"Error: database {journal}: not a portal database (its tables: rows, runs); "
            "left as it was"
        )
        assert journal.read_bytes() == before


def test_help_shows_the_options():
    result = CliRunner().invoke(cli, ["portal", "serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--seed", "--orders", "--lang", "--auto-cancel"):
        assert option in result.output
    for option in ("--smtp", "--api-token", "--reset"):
        assert option in result.output


def test_help_does_not_import_the_web_stack():
    code = (
        "import sys; from agent.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('flask', 'waitress') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_portal_process_fails_fast_with_the_portals_output(tmp_path):
    bad = PortalProcess(db_path=tmp_path, orders=2)  # a folder, not a file
    started = time.monotonic()
    with pytest.raises(PortalStartError, match="is a folder"):
        bad.start()
    assert time.monotonic() - started < 20
    assert bad.process.poll() is not None


def test_api_token_via_the_fixture(tmp_path):
    with PortalProcess(db_path=tmp_path / "p.db", orders=2, api_token="abc-123") as portal:
        assert portal.api_get("/mock/api/orders")["orders"]
        request = urllib.request.Request(portal.url + "/mock/api/orders")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
        assert "abc-123" not in portal.output


def test_several_worker_processes_share_faults_and_cancel_once():
    with PortalProcess(orders=20, workers=2, threads=4) as portal:
        portal.api_post("/mock/api/faults", {"error_every": 2, "paths": ["/ap/signin"]})
        codes = []
        for _ in range(6):
            try:
                with urllib.request.urlopen(portal.url + "/ap/signin", timeout=10) as answer:
                    codes.append(answer.status)
            except urllib.error.HTTPError as error:
                codes.append(error.code)
        # Every second request fails, whichever process answered it.
        assert codes == [200, 500] * 3
        portal.api_delete("/mock/api/faults")

        order_id = portal.orders(status="Unshipped")[-1]["order_id"]
        results = []

        def cancel() -> None:
            answer = portal.api_post(
                f"/mock/api/orders/{order_id}/cancel", {"reason": "NoInventory"}
            )
            results.append(answer["outcome"])

        threads = [threading.Thread(target=cancel) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(results) == ["already_cancelled"] * 7 + ["cancelled"]
        assert portal.order(order_id)["cancel_events"] == 1
        host, port = portal.url.removeprefix("http://").split(":")
    # Stopping the portal stopped every worker: nothing listens on the port any more.
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 2):
        pass


def test_background_sweep_cancels_without_anyone_moving_the_clock(tmp_path):
    with PortalProcess(db_path=tmp_path / "p.db", orders=12, SWEEP_INTERVAL_SECONDS=0.2) as portal:
        near = seed.case_ids(1, 12)["near_auto_cancel"]
        assert portal.order(near)["status"] == "Unshipped"
        # Move the stored clock directly: unlike POST /mock/api/clock, this runs no sweep.
        conn = db.connect(str(portal.db_path))
        with db.transaction(conn):
            db.set_meta(conn, "clock_offset_seconds", 2 * 3600)
        conn.close()
        deadline = time.monotonic() + 20
        while portal.order(near)["status"] != "Canceled" and time.monotonic() < deadline:
            time.sleep(0.1)
        order = portal.order(near)
        assert (order["status"], order["cancelled_by"]) == ("Canceled", "marketplace")


def test_a_portal_without_the_api_still_starts(tmp_path):
    with PortalProcess(db_path=tmp_path / "p.db", orders=2, API_ENABLED=False) as portal:
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(portal.url + "/mock/api/health", timeout=10)
        assert missing.value.code == 404
        with urllib.request.urlopen(portal.url + "/ap/signin", timeout=10) as page:
            assert page.status == 200
