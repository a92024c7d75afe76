"""`seller-agent cancel --json` prints one JSON document however the command ends: a bad
order id, reason, memo or input file is `{"ok": false, "error": ..., "exit_code": 2}` on stdout,
with the same one line on stderr for people, before any browser starts."""

import json

import pytest
from click.testing import CliRunner

from agent.cli import cli

pytestmark = pytest.mark.usefixtures("isolated_home")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="seller-agent", catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("12-3",), "order 12-3: malformed order id (expected digits like 112-0000001-0000001)"),
        ((), "give order ids, --from FILE, --from-requests or --resume RUN_ID"),
        (("112-0000001-0000001", "--reason", "Whim"), "--reason: unknown reason 'Whim'"),
        (("112-0000001-0000001", "--memo", "x" * 1001),
         "--memo: at most 1000 characters, got 1001"),
        (("--from", "{tmp}/missing.csv"), "{tmp}/missing.csv"),
        (("--from", "{tmp}/ids.csv"), "{tmp}/ids.csv: no valid order ids"),
        (("--resume", "no-such-run"), "no run 'no-such-run' in "),
    ],
)  # fmt: skip
def test_every_input_error_is_one_json_document(tmp_path, args, error):
    (tmp_path / "ids.csv").write_text("order_id\nabc\n")
    given = [arg.format(tmp=tmp_path) for arg in args]
    result = invoke(
        "cancel", *given, "--json", "--portal", "http://127.0.0.1:9",
        "--browser-path", str(tmp_path / "no-browser"), "--run-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["exit_code"] == 2
    assert data["error"].startswith(error.format(tmp=tmp_path)), data["error"]
    assert result.stderr == f"Error: {data['error']}\n"
    assert not (tmp_path / "runs").exists()


def test_without_json_an_input_error_is_one_line_on_stderr(tmp_path):
    result = invoke("cancel", "12-3", "--portal", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: order 12-3: malformed order id (expected digits like 112-0000001-0000001)\n"
    )


@pytest.mark.parametrize(
    ("args", "error", "chinese"),
    [
        (("12-3",), "order 12-3: malformed order id (expected digits like 112-0000001-0000001)",
         "订单 12-3：订单编号格式有误"),
        ((), "give order ids, --from FILE, --from-requests or --resume RUN_ID", "请给出订单编号"),
        (("112-0000001-0000001", "--reason", "Whim"),
         "--reason: unknown reason 'Whim' (use one of: NoInventory, ", "--reason: 未知的取消原因"),
        (("112-0000001-0000001", "--memo", "x" * 1001),
         "--memo: at most 1000 characters, got 1001", "--memo: "),
        (("--resume", "no-such-run"), "no run 'no-such-run' in ", "中没有运行 'no-such-run'"),
        (("--resume", "last", "112-0000001-0000001"),
         "--resume goes on with the run's own orders", "--resume "),
        (("--resume", "last", "--shard", "1/2"),
         "--shard applies to a new run; a resumed run keeps its own rows", "--shard "),
    ],
)  # fmt: skip
def test_the_json_error_stays_english_in_chinese(tmp_path, args, error, chinese):
    """JSON is for scripts and does not change with the language; the line on stderr is for
    people and does."""
    result = invoke(
        "cancel", *args, "--json", "--lang", "zh-CN", "--portal", "http://127.0.0.1:9",
        "--browser-path", str(tmp_path / "no-browser"), "--run-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["error"].startswith(error), data["error"]
    assert result.stderr.startswith("错误："), result.stderr
    assert chinese in result.stderr and result.stderr != f"错误：{data['error']}\n"
