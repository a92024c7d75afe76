"""The tool's languages: choosing one, the catalogs (complete, compiled, shipped), and the
words it shares with the portal."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from agent import i18n
from agent.i18n import _, ngettext, pgettext, using

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import i18n as catalogs  # noqa: E402  (scripts/i18n.py: Babel's side)


@pytest.mark.parametrize(
    ("name", "lang"),
    [
        ("zh_CN.UTF-8", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("zh_CN.GB18030", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-hans-CN", "zh-CN"),
        ("zh_SG.UTF-8", "zh-CN"),
        ("zh", "zh-CN"),
        ("ZH-cn", "zh-CN"),
        ("en_US.UTF-8", "en"),
        ("en_GB", "en"),
        ("C", "en"),
        ("C.UTF-8", "en"),
        ("POSIX", "en"),
        ("zh_TW.UTF-8", None),
        ("zh-Hant", None),
        ("zh_HK", None),
        ("fr_FR.UTF-8", None),
        ("", None),
        (None, None),
    ],
)
def test_locale_names_map_to_the_languages_the_tool_speaks(name, lang):
    assert i18n.normalize(name) == lang


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8", "LANG": "en_US"}, "zh-CN"),
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),
        # An empty variable is unset; a set one naming another language means English.
        ({"LC_ALL": "", "LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LC_ALL": "fr_FR.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
    ],
)
def test_the_locale_variables_choose_in_posix_order(environ, lang):
    assert i18n.from_environment(environ) == lang


def test_lang_wins_over_the_locale_and_a_block_wins_over_both(monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert i18n.language() == "zh-CN" and _("yes") == "是"
    i18n.set_language("en")
    try:
        assert i18n.language() == "en" and _("yes") == "yes"
        with using("zh-CN"):
            assert _("no") == "否"
        assert _("no") == "no"
    finally:
        i18n.set_language(None)
    assert i18n.language() == "zh-CN"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        i18n.set_language("fr")


def test_plural_and_context_messages():
    with using("en"):
        assert pgettext("outcome", "Cancelled") == "Cancelled"
        assert ngettext("%(num)d row was not played yet.", "%(num)d rows were not played yet.", 2)
    with using("zh-CN"):
        assert pgettext("outcome", "Cancelled") == "已取消"
        one = ngettext("%(num)d row was not played yet.", "%(num)d rows were not played yet.", 1)
        many = ngettext("%(num)d row was not played yet.", "%(num)d rows were not played yet.", 5)
        assert one == many == "还有 %(num)d 行尚未执行。"


def test_every_message_in_the_code_has_a_chinese_translation():
    """Extracted from the code now (Python and the report's template), as Babel does."""
    template = catalogs.extract()
    assert len(template) > 50
    for path in catalogs.po_paths():
        missing = catalogs.missing_translations(template, catalogs.read_catalog(path))
        assert missing == [], f"{path.name}: run scripts/i18n.py and translate: {missing}"


def test_an_untranslated_message_is_caught(tmp_path):
    # The check above can fail: a message that is absent, empty or fuzzy is reported.
    from babel.messages.catalog import Catalog

    template = Catalog()
    template.add("Brand new message")
    template.add("Cancelled", context="outcome")
    catalog = Catalog(locale="zh_CN")
    catalog.add("Cancelled", "已取消", context="outcome")
    assert catalogs.missing_translations(template, catalog) == ["Brand new message"]
    catalog.add("Brand new message", "", flags=["fuzzy"])
    assert catalogs.missing_translations(template, catalog) == ["Brand new message"]


def test_the_shipped_mo_files_match_their_po_files():
    assert catalogs.po_paths(), "no catalogs found"
    for path in catalogs.po_paths():
        compiled = path.with_suffix(".mo").read_bytes()
        fresh = catalogs.compiled(catalogs.read_catalog(path))
        assert catalogs.mo_messages(compiled) == catalogs.mo_messages(fresh), (
            f"{path.with_suffix('.mo').name} is older than its .po: run scripts/i18n.py"
        )
    assert catalogs.check() == 0


def test_translations_keep_every_placeholder():
    # A translation that drops or renames {count} or %(num)d breaks at run time, not here.
    pattern = re.compile(r"\{\w+\}|%\(\w+\)[sd]")
    for path in catalogs.po_paths():
        for message in catalogs.read_catalog(path):
            if not message.id:
                continue
            ids = [message.id] if isinstance(message.id, str) else list(message.id)
            strings = [message.string] if isinstance(message.string, str) else message.string
            wanted = set(pattern.findall(ids[-1]))
            for string in strings:
                assert set(pattern.findall(string)) == wanted, (message.id, string)


def test_the_catalog_is_read_through_the_package_resources():
    i18n.translations.cache_clear()
    catalog = i18n.translations("zh-CN")
    assert catalog.gettext("yes") == "是"
    assert isinstance(i18n.translations("en").gettext("yes"), str)


def test_outcome_and_status_words_are_the_portals_own():
    from agent.report.words import outcome_word
    from mock_portal.i18n import STRINGS

    with using("zh-CN"):
        assert outcome_word("cancelled") == STRINGS["status_Canceled"]["zh-CN"] == "已取消"
        assert outcome_word("not_found") == STRINGS["no_results"]["zh-CN"] == "未找到订单"
        assert i18n.reason_label("BuyerCanceled") == "买家取消"
        assert pgettext("column", "Order ID") == STRINGS["qt_orderid"]["zh-CN"]
        assert _("Order Cancellation Rate") == "订单取消率"
    with using("en"):
        assert i18n.reason_label("BuyerCanceled") == "Buyer Canceled"
        assert i18n.reason_label("SomethingElse") == "SomethingElse"


def test_the_tool_keeps_one_table_of_reason_labels():
    from agent.cancel import reasons

    assert reasons.REASONS is i18n.REASONS


def test_dates_and_durations_read_as_the_language_writes_them(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        moment = "2026-11-26T06:05:01.123456Z"
        assert i18n.format_datetime(moment, "en") == "26 Nov 2026, 14:05:01 UTC+8"
        assert i18n.format_datetime(moment, "zh-CN") == "2026年11月26日 14:05:01 UTC+8"
        assert i18n.format_datetime(None, "en") == "—"
        assert i18n.format_datetime("not a time", "en") == "—"
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
    assert i18n.format_datetime(moment, "en") == "26 Nov 2026, 06:05:01 UTC"
    with using("en"):
        assert i18n.format_duration(0.84) == "0.8 s"
        assert i18n.format_duration(125) == "2 min 05 s"
        assert i18n.format_duration(3780) == "1 h 03 min"
        assert i18n.yes_no(True) == "yes" and i18n.yes_no(None) == "—"
        assert i18n.format_duration(5) == "5 s" and i18n.format_duration(0.02) == "0.02 s"
        assert i18n.format_duration(900) == "15 min 00 s"
    with using("zh-CN"):
        assert i18n.format_duration(125) == "2 分 05 秒"
        assert i18n.format_duration(900, "en") == "15 min 00 s"  # a language asked for
        assert i18n.yes_no(False) == "否"
        # Shown in Chinese, written down (str) in English.
        told = i18n.told_duration(5)
        assert (str(told), i18n.shown(told)) == ("5 s", "5 秒")
        plural = i18n.told_plural(("{count} worker", "{count} workers"), 1)
        assert (str(plural), i18n.shown(plural)) == ("1 worker", "1 个并发")


def test_padding_counts_a_chinese_character_as_two_columns():
    assert i18n.display_width("已取消") == 6
    assert i18n.pad("已取消", 8) == "已取消  "
    assert i18n.pad("Cancelled", 8) == "Cancelled"


# Where a message starts with a location (a file, file:line, a path, an option, a flow), the
# location is followed by an ASCII ": " in every language, as a compiler writes it.
LOCATION = re.compile(
    r"^((?:\{(?:file|path|source|where|flow|filename|place)\}(?::\{line\})?)|--[a-z-]+"
    r"(?: \{[a-z_]+\})?)(: |：)"
)


def test_a_location_at_the_start_of_a_message_keeps_its_ascii_colon_in_chinese():
    checked = 0
    for path in catalogs.po_paths():
        for message in catalogs.read_catalog(path):
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            found = LOCATION.match(ids[0] or "")
            if not found or found[2] != ": ":
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for string in strings:
                checked += 1
                assert string.startswith(found[1] + ": "), (ids[0], string)
    assert checked > 30


def test_a_failed_steps_location_keeps_its_ascii_colon_in_chinese():
    # "step click (line 5): ..." names the step in the reader's words ("步骤 click（第 5 行）"),
    # and the reason follows an ASCII ": " as after any other location.
    checked = 0
    for path in catalogs.po_paths():
        for message in catalogs.read_catalog(path):
            if isinstance(message.id, str) and message.id.startswith("step {step}: "):
                checked += 1
                assert re.match(r"^[^:：]*\{step\}: ", message.string), (message.id, message.string)
    assert checked >= 4


def test_a_told_message_is_told_again_in_the_readers_language_from_its_record():
    inner = i18n.told(i18n.N_("{target} stayed disabled for {timeout} ms"), target="x", timeout=5)
    outer = i18n.told(i18n.N_("step {step}: {why}"), step="click (line 3)", why=inner)
    record = i18n.told_record(outer)
    assert record == {
        "message": "step {step}: {why}",
        "values": {
            "step": "click (line 3)",
            "why": {
                "message": "{target} stayed disabled for {timeout} ms",
                "values": {"target": "x", "timeout": "5"},
            },
        },
    }
    with using("en"):
        assert (
            i18n.retell(record, "English")
            == str(outer)
            == "step click (line 3): x stayed disabled for 5 ms"
        )
    with using("zh-CN"):
        assert (
            i18n.retell(record, str(outer)) == "步骤 click (line 3): x 在 5 毫秒内一直处于禁用状态"
        )
        # A record that cannot be told again (its values do not fit) gives the English kept.
        broken = {"message": "step {step}: {why}", "values": {"step": "x"}}
        assert i18n.retell(broken, "the English") == "the English"
        assert i18n.retell(None, "the English") == "the English"
    # Masking secrets reaches the English, the translation and the values alike.
    masked = i18n.told_map(outer, lambda text: text.replace("x", "***"))
    assert "x" not in str(masked) and "x" not in i18n.shown(masked)
    assert i18n.told_record(masked)["values"]["why"]["values"]["target"] == "***"
