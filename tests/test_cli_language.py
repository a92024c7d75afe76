"""The command line in the seller's language: help, Click's own words, input errors, the plan
and the summary of a cancel run, and help that stays readable at 80 columns."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from agent import i18n
from agent.cli import cli
from agent.cli.language import NO_REWRAP, lang_in_args, paragraphs
from agent.i18n import display_width, using

SELLER_AGENT = Path(sys.executable).parent / "seller-agent"


def invoke(*args: str, env: dict[str, str] | None = None, width: int = 80):
    environ = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8", **(env or {})}
    return CliRunner().invoke(
        cli, list(args), prog_name="seller-agent", env=environ, terminal_width=width
    )


def run_command(*args: str, lang: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")}
    environ |= {"LANG": lang, "COLUMNS": "80"}
    return subprocess.run(
        [str(SELLER_AGENT), *args], capture_output=True, text=True, env=environ, timeout=60
    )


def test_the_locale_gives_chinese_help_and_lang_en_gives_it_back_in_english():
    chinese = run_command("cancel", "--help", lang="zh_CN.UTF-8")
    assert chinese.returncode == 0, chinese.stderr
    assert chinese.stdout.startswith("用法： seller-agent cancel")
    assert "取消订单，每个订单打印一行。" in chinese.stdout
    assert "选项" in chinese.stdout and "显示此帮助并退出。" in chinese.stdout
    # Example commands are shown as written.
    assert "      seller-agent cancel --resume last\n" in chinese.stdout

    english = run_command("cancel", "--help", "--lang", "en", lang="zh_CN.UTF-8")
    assert english.returncode == 0, english.stderr
    assert english.stdout.startswith("Usage: seller-agent cancel")
    assert "Cancel orders and print one line per order." in english.stdout
    assert "用法" not in english.stdout and "取消订单" not in english.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--lang", "zh-CN", "cancel", "--help"],  # the group's --lang
        ["cancel", "--lang", "zh-CN", "--help"],  # the command's
        ["cancel", "--help", "--lang", "zh_CN.UTF-8"],  # after --help, as a locale name
        ["--lang=zh-CN", "cancel", "--help"],
    ],
)
def test_lang_counts_wherever_it_is_on_the_line(args):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "取消订单，每个订单打印一行。" in result.output
    # The choice ends with the command: the next one speaks the locale's language again.
    assert i18n.chosen_language() is None
    assert "Cancel orders and print one line per order." in invoke("cancel", "--help").output


def test_lang_before_double_dash_only_and_the_last_one_wins():
    assert lang_in_args(["cancel", "--lang", "zh-CN", "--lang", "en"]) == "en"
    assert lang_in_args(["run", "f.yaml", "--", "--lang", "zh-CN"]) is None
    assert lang_in_args(["cancel", "--lang", "fr"]) is None


def test_a_bad_lang_is_refused_in_the_locales_language():
    result = invoke("cancel", "--lang", "fr", "--help")
    assert result.exit_code == 2
    assert "Invalid value for '--lang'" in result.output


def test_every_command_and_group_takes_lang():
    def commands(group: click.Group, prefix: tuple[str, ...] = ()):
        yield prefix, group
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from commands(command, (*prefix, name))
            else:
                yield (*prefix, name), command

    for path, command in commands(cli):
        assert any("--lang" in param.opts for param in command.params), path


def test_group_listing_gives_each_commands_summary_in_chinese():
    result = invoke("--help", env={"LANG": "zh_CN.UTF-8"})
    assert result.exit_code == 0
    assert "命令" in result.output
    line = next(line for line in result.output.splitlines() if line.startswith("  cancel "))
    assert "取消订单，每个订单打印一行" in line


def test_clicks_own_errors_read_in_chinese():
    result = invoke("cancel", "--workers", "0", env={"LANG": "zh_CN.UTF-8"})
    assert result.exit_code == 2
    assert "错误：'--workers' 的值无效：0 不在 1<=x<=64 范围内。" in result.output
    assert "运行 'seller-agent cancel --help' 查看帮助。" in result.output


def test_a_bad_row_reads_in_chinese_naming_the_file_and_row(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("order-id\n112-0000001-0000001\n12-34\n", encoding="utf-8")
    journal = tmp_path / "journal.db"
    result = invoke(
        "cancel",
        "--from",
        str(orders),
        "--strict",
        "--journal",
        str(journal),
        env={"LANG": "zh_CN.UTF-8"},
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"错误：{orders}:3: 订单编号格式有误 '12-34' - 严格模式下遇到任何有误的行都会停止"
    )
    assert "Traceback" not in result.output
    assert not journal.exists()


def test_an_option_the_command_checks_itself_reads_in_chinese():
    result = invoke("cancel", "112-0000001-0000001", "--rate", "fast", "--lang", "zh-CN")
    assert result.exit_code == 2
    assert "错误：--rate: 应为 5/s 或 120/min 这样的速度，收到的是 'fast'" in result.output


def commands_with_help() -> list[list[str]]:
    found = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        found.append(prefix)
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])
            else:
                found.append([*prefix, name])

    walk(cli, [])
    return found


def example_lines(command: list[str]) -> list[str]:
    target: click.Command = cli
    for name in command:
        target = target.commands[name]  # type: ignore[attr-defined]
    lines = []
    for paragraph in paragraphs(target.help or ""):
        if paragraph.startswith(NO_REWRAP):
            lines += [line for line in paragraph.splitlines()[1:] if line.strip()]
    return lines


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_help_fits_80_columns_and_examples_are_never_rewrapped(lang):
    with_examples = 0
    for command in commands_with_help():
        output = invoke(*command, "--help", "--lang", lang, width=80).output
        for line in output.splitlines():
            assert display_width(line) <= 80, (command, line)
        examples = example_lines(command)
        with_examples += bool(examples)
        for example in examples:
            # Shown whole, on its own line, indented as written.
            assert f"\n  {example}\n" in output, (command, example)
    assert with_examples >= 10


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_help_wraps_without_orphaned_punctuation_or_split_placeholders(lang):
    for command in commands_with_help():
        output = invoke(*command, "--help", "--lang", lang, width=80).output
        for line in output.splitlines():
            text = line.strip()
            # A closing bracket, full stop or comma ends the line before, never starts one.
            assert not text or text[0] not in "）」》。，、；：！？", (command, line)
            # {{ password }} is written whole on one line.
            assert line.count("{{") == line.count("}}"), (command, line)
            if lang == "zh-CN":
                # Headings ("选项：", "命令：") end with the full-width colon, as "用法：" does.
                assert not re.fullmatch(r"\S.*[\u4e00-\u9fff]:", line), (command, line)


def test_a_default_shown_as_words_is_translated():
    chinese = invoke("demo", "--help", "--lang", "zh-CN").output
    assert "随附的示例列表" in chinese and "bundled" not in chinese
    assert "选项：" in chinese
    english = invoke("demo", "--help", "--lang", "en").output
    assert "[default: (the bundled sample list)]" in english and "Options:" in english


def test_every_docstring_example_is_in_a_no_rewrap_block():
    for command in commands_with_help():
        target: click.Command = cli
        for name in command:
            target = target.commands[name]  # type: ignore[attr-defined]
        for paragraph in paragraphs(target.help or ""):
            if "seller-agent " in paragraph and paragraph.lstrip().startswith("seller-agent"):
                pytest.fail(f"{command}: example outside a \\b block: {paragraph!r}")


def test_record_calls_the_browsers_language_locale():
    output = invoke("record", "--help").output
    assert "--locale LOCALE" in output
    assert "--lang [en|zh-CN]" in output


def test_the_cancel_plan_reads_in_chinese():
    from agent.cancel.guard import Metrics, PlannedOrder, project_rate

    metrics = Metrics(cancelled=1, total=200)
    orders = [
        PlannedOrder("112-0000001-0000001", "NoInventory"),
        PlannedOrder("112-0000001-0000002", "BuyerCanceled", request_kind="message"),
        PlannedOrder("112-0000001-0000003", "NoInventory", found=False),
    ]
    projection = project_rate(metrics, orders, 2.5)
    with using("zh-CN"):
        lines = projection.summary_lines()
    with using("en"):
        english = projection.summary_lines()
    assert lines[0].startswith("订单取消率：当前 0.50%，本次运行后 1.50%")
    assert "2 个订单计入，0 个不计入；上限 2.5%" in lines[0]
    assert lines[1] == (
        "1 个订单以“买家取消”为原因但买家没有正式请求，因此计入：112-0000001-0000002"
    )
    assert lines[2] == "1 个订单不属于本卖家或未找到，因此不计入：112-0000001-0000003"
    assert english[0].startswith("Order Cancellation Rate: 0.50% now, 1.50% after this run")


def test_the_cancel_summary_reads_in_chinese():
    from agent.cli.cancel import format_line, next_step

    row = {
        "order_id": "112-0000001-0000001",
        "outcome": "cancelled",
        "reason": "BuyerCanceled",
        "counts_toward_rate": False,
    }
    with using("zh-CN"):
        assert format_line(row) == (
            "112-0000001-0000001  已取消              买家取消        不计入取消率"
        )
        assert next_step("finished", 2, ["seller-agent", "cancel", "--resume", "r1"]) == (
            "2 个订单失败；要重试，请运行：seller-agent cancel --resume r1 --retry-failed"
        )
    with using("en"):
        # English keeps the codes scripts may already read.
        assert format_line(row) == (
            "112-0000001-0000001  cancelled          BuyerCanceled   does not count toward rate"
        )
        assert next_step("interrupted", 0, ["seller-agent", "cancel", "--resume", "r1"]) == (
            "To go on with this run: seller-agent cancel --resume r1"
        )


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_order_lines_of_a_run_keep_their_columns_aligned_whatever_the_words(lang):
    """The widest outcome (a dry run's, in Chinese) and the widest reason (Shipping Address
    Undeliverable) do not push a line's later columns out of place."""
    from agent.cli.cancel import format_line, reason_width

    rows = [
        {"order_id": "112-0000001-0000001", "outcome": outcome, "reason": reason,
         "counts_toward_rate": counts}
        for outcome, reason, counts in [
            ("cancelled", "BuyerCanceled", False),
            ("would_run", "ShippingAddressUndeliverable", None),
            ("already_cancelled", "PricingError", None),
            ("not_found", "NoInventory", None),
            ("failed", "GeneralAdjustment", None),
        ]
    ]  # fmt: skip
    with using(lang):
        width = reason_width(row["reason"] for row in rows)
        lines = [format_line(row, width) for row in rows]
    starts = set()
    for line in lines:
        third = re.match(r"(\S+  \S.*?  +)(\S.*?  +)\S", line)
        assert third, line
        starts.add((display_width(third.group(1)), display_width(third.group(2))))
    assert len(starts) == 1, lines


def test_the_journal_and_the_runs_log_have_different_names_in_chinese():
    """`--journal` (the run's record, which resume reads) and `--log` (the run's log, for
    support) are two things; in Chinese too."""
    with using("zh-CN"):
        journal = _help_line(cli, ["report", "--help"], "--journal")
        log = _help_line(cli, ["report", "--help"], "--log")
    assert "运行记录" in journal and "日志" not in journal
    assert "日志" in log and "运行记录" not in log


def _help_line(group, args, option):
    result = CliRunner().invoke(group, [*args, "--lang", "zh-CN"], terminal_width=200)
    return next(line for line in result.output.splitlines() if line.strip().startswith(option))


def test_a_failed_orders_line_brackets_its_error_in_the_languages_brackets():
    from agent.cli.cancel import format_line
    from agent.i18n import Told

    row = {
        "order_id": "112-0000001-0000001",
        "outcome": "failed",
        "reason": "NoInventory",
        "counts_toward_rate": None,
        "error": Told("HTTP 500 at /x", "/x 返回 HTTP 500"),
    }
    with using("zh-CN"):
        assert format_line(row).endswith("  -  （/x 返回 HTTP 500）")
    with using("en"):
        row["error"] = Told("HTTP 500 at /x")
        assert format_line(row).endswith("  -  (HTTP 500 at /x)")


def test_the_canary_is_not_called_a_dry_run_in_chinese(monkeypatch, capsys):
    """The canary's orders are really cancelled: its Chinese name must not be 试运行, the
    dry run's, and its counts read with Chinese punctuation."""
    from agent.bulk.engine import CanarySummary
    from agent.cli.prompts import canary_prompt

    summary = CanarySummary(
        run_id="r1", played=2, remaining=6, outcomes={"cancelled": 1, "not_found": 1},
        failed=0, all_ok=False,
    )  # fmt: skip
    with using("zh-CN"):
        assert canary_prompt(yes=True)(summary) is False  # not all ok, and no terminal to ask
        stopped = i18n.gettext("canary: stopped before the remaining rows; resume to play them")
    said = capsys.readouterr().err
    assert said == "先行批次：已执行 2 行（已取消：1、未找到订单：1）；还剩 6 行\n"
    assert "试运行" not in stopped and stopped.startswith("先行批次：")


def test_order_ids_listed_in_chinese_prose_are_joined_with_the_chinese_list_mark():
    from agent.cancel.guard import Metrics, PlannedOrder, project_rate

    orders = [
        PlannedOrder("112-0000001-0000002", "BuyerCanceled", request_kind="message"),
        PlannedOrder("112-0000001-0000003", "BuyerCanceled", request_kind="message"),
    ]
    projection = project_rate(Metrics(cancelled=1, total=200), orders, 2.5)
    with using("zh-CN"):
        chinese = projection.summary_lines()
    with using("en"):
        english = projection.summary_lines()
    assert chinese[1].endswith("因此计入：112-0000001-0000002、112-0000001-0000003")
    assert english[1].endswith(": 112-0000001-0000002, 112-0000001-0000003")
