"""What else a seller reads follows their language: flow errors, `flows list`, the rate
guard's warnings, secrets and sign-in errors, the portal's stops, browser endpoint errors,
the demo, `run`'s outcome line and the merged report's table. What is written down (the run's
log, the journal, JSON) stays English."""

from __future__ import annotations

import json
import os
import socket
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from agent.bulk import etiquette
from agent.cancel import job
from agent.cancel.guard import GuardError, metrics_from_values
from agent.cli import cli
from agent.cli.run import print_result
from agent.i18n import shown, using
from agent.play import interstitials, session
from agent.play.secrets import Secrets
from agent.report.merge import merge_lines

ZH = {"LANG": "zh_CN.UTF-8"}


def invoke(*args: str, env: dict[str, str] | None = None):
    environ = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8", **(env or {})}
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", env=environ)


def bad_flow(tmp_path):
    flow = tmp_path / "bad.yaml"
    flow.write_text("name: bad\nsteps:\n  - clik: {testid: go}\n", encoding="utf-8")
    return flow


def test_a_flow_error_gives_its_why_in_chinese_with_file_line_and_field(tmp_path):
    flow = bad_flow(tmp_path)
    chinese = invoke("flows", "check", str(flow), env=ZH)
    assert chinese.exit_code == 2
    assert chinese.output == (f"错误：{flow}:3: steps[0]: 未知的步骤 'clik'（是不是 'click'？）\n")
    english = invoke("flows", "check", str(flow))
    assert english.exit_code == 2
    assert (
        english.output
        == f"Error: {flow}:3: steps[0]: unknown step 'clik' (did you mean 'click'?)\n"
    )


def test_rows_for_a_flow_without_params_is_one_line_naming_the_flow_in_either_language(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home.yaml").write_text("name: home\nsteps:\n  - goto: /home\n")
    (tmp_path / "rows.csv").write_text("order_id\n112-0000001-0000001\n")
    english = invoke("run", "home.yaml", "--rows", "rows.csv")
    assert english.exit_code == 2
    assert (
        english.output == "Error: home.yaml: the flow has no params for the rows' columns to fill\n"
    )
    chinese = invoke("run", "home.yaml", "--rows", "rows.csv", env=ZH)
    assert chinese.exit_code == 2
    assert chinese.output == "错误：home.yaml: 此流程没有参数可供各行的列填入\n"


def test_run_with_a_bad_flow_file_says_why_in_chinese(tmp_path):
    flow = bad_flow(tmp_path)
    result = invoke("run", str(flow), env=ZH)
    assert result.exit_code == 2
    assert f"{flow}:3: steps[0]: 未知的步骤 'clik'" in result.output
    assert "Traceback" not in result.output


def test_flows_list_and_check_read_in_chinese_with_codes_as_they_are(tmp_path):
    chinese = invoke("flows", "list", env=ZH)
    assert chinese.exit_code == 0, chinese.output
    assert "    参数：order_id:string（必填）, reason:string=BuyerCanceled" in chinese.output
    assert "    结果：cancelled, already_cancelled" in chinese.output
    english = invoke("flows", "list")
    assert "    params: order_id:string (required), reason:string=BuyerCanceled" in english.output
    assert "    outcomes: cancelled, already_cancelled" in english.output
    assert "参数" not in english.output
    # The bundled flows' summaries are in the catalog; JSON keeps them as written.
    assert (
        "cancel_order: 取消一个未发货的订单（订单 > 管理订单 > 找到该订单 > 操作 > 取消订单）。"
        in (chinese.output)
    )
    assert "login: 登录卖家平台" in chinese.output
    assert "cancel_order: Cancel one unshipped order (Orders > Manage" in english.output
    summaries = [line for line in chinese.output.splitlines() if not line.startswith(" ")]
    assert len(summaries) >= 5 and all(not line.isascii() for line in summaries), summaries
    listed = json.loads(invoke("flows", "list", "--json", env=ZH).output)
    assert next(f for f in listed if f["name"] == "login")["summary"].startswith("Sign in to")

    checked = invoke("flows", "check", "cancel_order", env=ZH)
    assert checked.exit_code == 0
    assert checked.output.startswith("正确：cancel_order（cancel_order，")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_rate_guard_warns_in_chinese_and_its_error_stays_english_underneath():
    portal = f"http://127.0.0.1:{closed_port()}"
    request = SimpleNamespace(portal=portal, api_token=None, max_cancel_rate=None)
    said: list[str] = []
    with using("zh-CN"):
        projection, refusal = job.check_rate(request, SimpleNamespace(rows=[]), said.append)
    assert (projection, refusal) == (None, None)
    assert said[0].startswith(f"警告：无法预估取消率：{portal}: 无法读取 mock/api/metrics（")

    with using("zh-CN"):
        with pytest.raises(GuardError) as raised:
            metrics_from_values({"cancelled": "many", "total": "12"})
    assert shown(raised.value) == "账户状况页显示的数量不是数字：'many' / '12'"
    assert str(raised.value) == "Account Health shows counts that are not numbers: 'many' of '12'"


def test_a_wrong_secrets_file_is_refused_in_chinese(tmp_path):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("password: [1, 2]\n", encoding="utf-8")
    os.chmod(secrets, 0o600)
    chinese = invoke("login", "--secrets", str(secrets), env=ZH)
    assert chinese.exit_code == 2
    assert chinese.output == f"错误：{secrets}: password: 应为文本值\n"
    english = invoke("login", "--secrets", str(secrets))
    assert english.output == f"Error: {secrets}: password: expected a text value\n"

    os.chmod(secrets, 0o644)
    result = invoke("login", "--secrets", str(secrets), env=ZH)
    assert result.exit_code == 2
    assert f"密钥文件可被其他用户读取；请运行 `chmod 600 {secrets}`" in result.output


def sign_in_result(outcome: str, **values: object) -> SimpleNamespace:
    return SimpleNamespace(
        outcome=outcome, values=values, error=None, error_kind=None, ok=False, retry_after=None
    )


def test_sign_in_errors_and_stops_show_chinese_and_stay_english_for_the_log():
    portal = "http://127.0.0.1:8600"
    secrets = Secrets(email="a@example.com", password="pw", totp_secret="JBSWY3DPEHPK3PXP")
    with using("zh-CN"):
        refused = session.sign_in_error(
            sign_in_result("wrong_password", message="Your password is incorrect"),
            portal=portal,
            secrets=secrets,
        )
        captcha = session.sign_in_error(sign_in_result("captcha"), portal=portal, secrets=secrets)
    assert shown(refused) == f"登录 {portal} 失败：Your password is incorrect"
    assert f"{refused}" == f"signing in to {portal} failed: Your password is incorrect"
    assert shown(captcha) == (
        f"{portal} 要求输入验证码图片中的字符，seller-agent 从不自行回答："
        "请用 `seller-agent login --headed` 手动登录，然后再运行"
    )
    assert str(captcha) == (
        f"{portal} asks for the characters of a CAPTCHA picture, which seller-agent never "
        "answers itself: sign in by hand with `seller-agent login --headed`, then run again"
    )
    assert captcha.exit_code == 2

    # A stop in the middle of a run: the terminal in Chinese, the journal's words inside it.
    row = SimpleNamespace(outcome="failed", error_kind="blocked", error="HTTP 403 at /orders")
    stop = SimpleNamespace(soft=False, reason=None)
    with using("zh-CN"), pytest.raises(etiquette.RunHalted) as halted:
        etiquette.halt_if_told(row, stop, "r1")
    assert shown(halted.value) == (
        "HTTP 403 at /orders；运行 r1 已停止，未完成的行保留，可用 --resume r1 继续"
    )
    assert str(halted.value).endswith("; run r1 stopped, its rows not done stay for --resume r1")


def test_an_account_picker_stop_lists_the_choices_in_chinese():
    result = sign_in_result("account_choice_required", choices=["Europe", "Japan"])
    with using("zh-CN"):
        stop = interstitials.stop_for(result, "https://portal.example", account="Brazil")
    assert shown(stop).startswith(
        "https://portal.example 要求选择账户或站点，而设置的账户 'Brazil' 不在选项中（Europe, Japan）"
    )


def test_a_bad_browser_endpoint_is_refused_in_chinese(tmp_path):
    chinese = invoke("cancel", "112-0000001-0000001", "--browser-endpoint", "ftp://x", env=ZH)
    assert chinese.exit_code == 2
    assert "浏览器端点 ftp://x/：应为 ws://HOST:PORT/TOKEN（Playwright 浏览器服务器）" in (
        chinese.output
    )
    english = invoke("cancel", "112-0000001-0000001", "--browser-endpoint", "ftp://x")
    assert "browser endpoint ftp://x/: expected ws://HOST:PORT/TOKEN" in english.output


def test_runs_outcome_line_translates_its_label_not_the_outcome(capsys):
    result = SimpleNamespace(
        outcome="cancelled",
        values={"order_id": "112-0000001-0000001"},
        matches=[{"candidate": 1, "step": "click", "line": 7, "spec": "testid=cancel"}],
        error=None,
    )
    with using("zh-CN"):
        print_result(result, "cancel_order", as_json=False)
    out, err = capsys.readouterr()
    assert out == "结果：cancelled\norder_id: 112-0000001-0000001\n"
    assert err == "注意：click（第 7 行） 使用了备用目标 #2：testid=cancel\n"
    print_result(result, "cancel_order", as_json=False)
    out, err = capsys.readouterr()
    assert out == "outcome: cancelled\norder_id: 112-0000001-0000001\n"
    assert err == "note: click (line 7) used fallback target #2: testid=cancel\n"


def merged_report() -> dict:
    from agent.report.merge import _warnings

    shards = [
        {"shard": "1/3", "total": 4, "succeeded": 3, "failed": 1, "status": "finished",
         "journal": "a.db", "flow": "cancel_order"},
    ]  # fmt: skip
    return {"shards": shards, "duplicates": [], "warnings": _warnings(shards)}


def test_the_merged_table_reads_in_chinese_and_its_warnings_stay_english_in_json():
    with using("zh-CN"):
        report = merged_report()
        lines = merge_lines(report)
    assert lines[1] == "分片      行数       成功    失败  状态         运行记录"
    assert lines[2] == "1/3          4          3       1  已完成       a.db"
    assert lines[3] == "警告：缺少分片：2/3, 3/3"
    assert json.loads(json.dumps(report["warnings"])) == ["missing shards: 2/3, 3/3"]
    english = merge_lines(merged_report())
    assert english[1] == "Shard     Rows  succeeded  failed  status       journal"
    assert english[2] == "1/3          4          3       1  finished     a.db"
    assert english[3] == "Warning: missing shards: 2/3, 3/3"


def test_the_demo_speaks_chinese_from_its_first_line(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id\n12-34\n", encoding="utf-8")
    result = invoke(
        "demo", "--from", str(orders), "--orders", "20", "--out", str(tmp_path / "demo"), env=ZH
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("演示卖家平台：http://127.0.0.1:")
    assert lines[0].endswith("（seller@example.com / demo-password / TOTP JBSWY3DPEHPK3PXP）")
    assert "  （" not in lines[0], "Chinese brackets need no spaces before them"
    assert lines[1] == f"正在取消 {orders} 中的订单"
    assert lines[2] == "演示会跳过取消率保护（--max-cancel-rate 100）。"
    assert lines[-1].startswith(f"错误：{orders}: 没有有效的订单编号")
    # The demo account was the command's only: nothing of it is left in the environment.
    assert not any(name in os.environ for name in ("SELLER_AGENT_EMAIL", "SELLER_AGENT_PASSWORD"))


def test_a_wrong_param_reads_in_chinese_on_the_terminal_and_stays_english_written_down():
    from agent.flow import bind_params, load_flow

    flow = load_flow("cancel_order")
    zh = invoke("run", "cancel_order", "--param", "order_id=123", env=ZH)
    assert zh.exit_code == 2
    assert "参数 order_id：'123' 不符合格式" in zh.output
    en = invoke("run", "cancel_order", env={})
    assert en.exit_code == 2 and "param order_id: required, not given" in en.output
    with using("zh-CN"):
        with pytest.raises(Exception) as raised:
            bind_params(flow, {"order_id": "112-0000001-0000001", "reasn": "NoInventory"})
    # str() is what a journal keeps; shown() what a person reads.
    assert str(raised.value).startswith("param reasn: flow 'cancel_order' has no such param")
    assert str(raised.value).endswith("(did you mean 'reason'?)")
    assert shown(raised.value).startswith("参数 reasn：流程“cancel_order”没有这个参数")


def test_a_refused_template_says_why_in_chinese(tmp_path):
    flow = tmp_path / "hostile.yaml"
    flow.write_text('name: t\nsteps:\n  - goto: "/x/{{ cycler.__init__ }}"\n', encoding="utf-8")
    zh = invoke("flows", "check", str(flow), env=ZH)
    assert zh.exit_code == 2
    assert f"{flow}:3: steps[0].goto: 模板：不允许访问属性（'.'）" in zh.output
    en = invoke("flows", "check", str(flow))
    assert f"{flow}:3: steps[0].goto: template: attribute access ('.') is not allowed" in en.output


def test_errors_about_runs_journals_and_options_read_in_chinese_and_stay_english_below(tmp_path):
    from agent.bulk.journal import Journal, JournalError
    from agent.bulk.shard import parse_shard
    from agent.errors import UserError

    journal = tmp_path / "journal.db"
    for args in (["cancel", "--resume", "nosuchrun"], ["report", "nosuchrun"]):
        result = invoke(*args, "--journal", str(journal), env=ZH)
        assert f"错误：{journal} 中没有运行 'nosuchrun'" in result.output, result.output
        assert "no run" not in result.output
    english = invoke("report", "nosuchrun", "--journal", str(journal))
    assert f"Error: no run 'nosuchrun' in {journal}" in english.output
    merged = invoke("report", "--merge", str(tmp_path / "gone.db"), env=ZH)
    assert f"{tmp_path / 'gone.db'}: 那里没有运行记录" in merged.output
    shard = invoke("cancel", "--shard", "9/3", "112-0000001-0000001", env=ZH)
    assert "K 必须在 1 到 N 之间" in shard.output
    # Raised with its translation; str() stays English for logs and JSON.
    with using("zh-CN"), Journal(journal) as opened, pytest.raises(JournalError) as error:
        opened.resolve_run_id("last")
    assert shown(error.value) == f"{journal} 中还没有任何运行"
    assert str(error.value) == f"no runs yet in {journal}"
    with pytest.raises(UserError) as error:
        parse_shard("1-3")
    assert str(error.value) == "--shard 1-3: expected K/N, such as 1/3"


def test_an_import_error_reads_in_chinese_with_lang_and_in_english_by_default(tmp_path):
    from agent.recording.common import RecordingError
    from agent.recording.import_chrome import translate_chrome_recording

    throttled = {"type": "emulateNetworkConditions", "download": 1, "upload": 1, "latency": 1}
    recording = tmp_path / "chore.json"
    recording.write_text(json.dumps({"title": "x", "steps": [throttled]}), encoding="utf-8")
    zh = invoke("--lang", "zh-CN", "import", str(recording), "-o", str(tmp_path / "out.yaml"))
    assert zh.exit_code == 2
    # The file and the step's type stay as written, with the location's ASCII colon.
    assert zh.output == (
        f"错误：{recording}: 第 1 步 (emulateNetworkConditions): 网络限速在流程中没有对应的步骤"
        "（流程按网络的实际速度运行）；请删除该步骤，或加上 --skip-unsupported 导入\n"
    )
    en = invoke("import", str(recording), "-o", str(tmp_path / "out.yaml"))
    assert en.exit_code == 2
    assert en.output == (
        f"Error: {recording}: step 1 (emulateNetworkConditions): network throttling has no flow "
        "equivalent (flows run at the network's real speed); remove the step, or import with "
        "--skip-unsupported\n"
    )
    assert not (tmp_path / "out.yaml").exists()
    # Skipped on request: the note reads in Chinese too.
    recording.write_text(
        json.dumps({"title": "x", "steps": [throttled, {"type": "navigate", "url": "/home"}]}),
        encoding="utf-8",
    )
    skipped = invoke(
        "import", str(recording), "--skip-unsupported", "--lang", "zh-CN", env={"LANG": "C"}
    )
    assert skipped.exit_code == 0, skipped.output
    assert (
        f"注意：已跳过 {recording}: 第 1 步 (emulateNetworkConditions): 网络限速" in skipped.stderr
    )
    # The error itself stays English underneath (str), carrying its translation.
    with using("zh-CN"), pytest.raises(RecordingError) as raised:
        translate_chrome_recording({"title": "x", "steps": [{"type": "clik"}]}, source="r.json")
    assert str(raised.value).startswith("r.json: step 1: unknown step type 'clik' (known: ")
    assert shown(raised.value).startswith("r.json: 第 1 步: 未知的步骤类型 'clik'（已知类型：")


def test_the_throttling_line_reads_as_chinese_whatever_the_pace():
    """The pace is words of its own in Chinese (每秒 1.50 行, 不限速): no stray spaces around it."""
    from agent.i18n import _

    message = (
        "portal throttling (HTTP 429, Retry-After {hold}): every worker waits, then the run "
        "goes on at {pace}"
    )
    with using("zh-CN"):
        paced = _(message).format(hold="2 秒", pace=_("{rate} rows/s").format(rate="1.50"))
        free = _(message).format(hold="2 秒", pace=_("not limited"))
    assert (
        paced
        == "卖家平台限流（HTTP 429，Retry-After 2 秒）：所有并发暂停等待，随后继续运行（每秒 1.50 行）"
    )
    assert free.endswith("随后继续运行（不限速）")


@pytest.mark.parametrize(
    ("args", "stdin", "english", "chinese"),
    [
        (["cancel", "--from", "{rows}"], None,
         "{rows}: no valid order ids ({rows}:2: malformed order id 'abc')", "没有有效的订单编号"),
        (["cancel", "--from", "-"], "order_id\nabc\n", "<stdin>: no valid order ids", "没有有效的订单编号"),
        (["run", "{flow}"], None, "{flow}:3: steps[0]: unknown step 'clik' (did you mean 'click'?)",
         "未知的步骤"),
        (["run", "cancel_order", "--rows", "{rows}"], None, "no valid rows to run", "没有可运行的有效行"),
        (["run", "cancel_order", "--rows", "-"], "order_id\nabc\n", "no valid rows to run",
         "没有可运行的有效行"),
        (["run", "cancel_order", "-p", "order_id=1"], None,
         "param order_id: '1' does not match ^\\d{{3}}-\\d{{7}}-\\d{{7}}$", "不符合格式"),
    ],
)  # fmt: skip
def test_json_keeps_an_input_errors_english_while_the_person_reads_chinese(
    tmp_path, args, stdin, english, chinese
):
    rows = tmp_path / "bad.csv"
    rows.write_text("order_id\nabc\n", encoding="utf-8")
    names = {"rows": str(rows), "flow": str(bad_flow(tmp_path))}
    result = CliRunner().invoke(
        cli,
        [arg.format(**names) for arg in args] + ["--json"],
        prog_name="seller-agent",
        env={"LC_ALL": "", "LC_MESSAGES": "", **ZH},
        input=stdin,
    )
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["error"] == english.format(**names)
    assert result.stderr.splitlines()[-1].startswith("错误：") and chinese in result.stderr
    if args[0] == "run" and "--rows" in args:
        # The rows left out: English in the document, Chinese in the warning.
        (problem,) = document["problems"]
        assert problem.endswith(":2: param order_id: 'abc' does not match ^\\d{3}-\\d{7}-\\d{7}$")
        assert "参数 order_id：'abc' 不符合格式" in result.stderr
