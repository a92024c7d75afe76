"""The language the tool speaks: English or Simplified Chinese, from --lang or the locale.

Messages are gettext messages: the English text is the message id, wrapped in `_()` (or
`ngettext`, `pgettext`, `npgettext`) where it is written, extracted with Babel into
agent/locale/, and translated in agent/locale/zh_CN/LC_MESSAGES/messages.po. The compiled
.mo files ship in the package, so the tool reads them with the standard library alone
(scripts/i18n.py extracts, updates and compiles them; a test checks every message has its
translation and every .mo matches its .po).

The words the tool shares with the portal (cancellation reasons) are a table here, not
translations: they must read exactly as the portal's pages do, in both languages, and a test
checks them against the portal.
"""

from __future__ import annotations

import contextlib
import gettext as _gettext
import os
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TypeVar

LANGS = ("en", "zh-CN")
DEFAULT_LANG = "en"
DOMAIN = "messages"

# Which environment variables choose the language, strongest first (POSIX: LC_ALL overrides
# LC_MESSAGES, which overrides LANG; the first one set decides, even for a language the tool
# does not speak, which then falls back to English).
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

# Cancellation reasons as Seller Central names them, in English and in its Chinese UI. The
# portal keeps the same table (mock_portal/reasons.py); a test checks the two agree.
REASONS: dict[str, dict[str, str]] = {
    "NoInventory": {"en": "No Inventory", "zh-CN": "无库存"},
    "BuyerCanceled": {"en": "Buyer Canceled", "zh-CN": "买家取消"},
    "GeneralAdjustment": {"en": "General Adjustment", "zh-CN": "一般调整"},
    "PricingError": {"en": "Pricing Error", "zh-CN": "定价错误"},
    "ShippingAddressUndeliverable": {
        "en": "Shipping Address Undeliverable",
        "zh-CN": "无法配送至该地址",
    },
    "CustomerExchange": {"en": "Customer Exchange", "zh-CN": "客户换货"},
}

# Who cancelled an order, as the portal's order page says it ("Canceled by: Seller"); the
# portal's words by_seller and by_buyer (mock_portal/i18n.py), which a test checks.
PARTIES: dict[str, dict[str, str]] = {
    "Seller": {"en": "Seller", "zh-CN": "卖家"},
    "Buyer": {"en": "Buyer", "zh-CN": "买家"},
}

_chosen: str | None = None  # set once by --lang; None: the environment decides
_scoped: ContextVar[str | None] = ContextVar("seller_agent_lang", default=None)


def normalize(text: str | None) -> str | None:
    """The language a locale name or language tag asks for, or None when it names none the
    tool speaks: "zh_CN.UTF-8", "zh_CN", "zh-Hans", "zh-hans-CN", "zh_SG", "zh" -> "zh-CN";
    "en_US.UTF-8", "en", "C", "POSIX" -> "en". Traditional Chinese (zh_TW, zh_HK, zh-Hant)
    is not Simplified Chinese: None."""
    if not text:
        return None
    name = text.split(".", 1)[0].split("@", 1)[0].strip()
    if name in ("C", "POSIX"):
        return "en"
    parts = [part.lower() for part in name.replace("_", "-").split("-") if part]
    if not parts:
        return None
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh":
        rest = set(parts[1:])
        if rest & {"hant", "tw", "hk", "mo"}:
            return None
        return "zh-CN"
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale variables ask for: the first of LC_ALL, LC_MESSAGES, LANG
    that is set decides; English when it names a language the tool does not speak."""
    environ = os.environ if environ is None else environ
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable)
        if value:
            return normalize(value) or DEFAULT_LANG
    return DEFAULT_LANG


def set_language(lang: str | None) -> None:
    """Choose the language for the rest of the process (--lang); None hands the choice back
    to the environment."""
    global _chosen
    if lang is not None and lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (expected one of {', '.join(LANGS)})")
    _chosen = lang


def chosen_language() -> str | None:
    """The language set by --lang, or None when the environment decides."""
    return _chosen


def language() -> str:
    """The language in force: one chosen for a block (`using`), else --lang, else the
    environment's."""
    return _scoped.get() or _chosen or from_environment()


@contextlib.contextmanager
def using(lang: str | None) -> Iterator[str]:
    """Speak `lang` inside the block (None: the language in force), e.g. to render one
    report in a language other than the terminal's."""
    lang = lang or language()
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (expected one of {', '.join(LANGS)})")
    token = _scoped.set(lang)
    try:
        yield lang
    finally:
        _scoped.reset(token)


def locale_folder(lang: str) -> str:
    """Babel's name for a language's catalog folder: zh-CN -> zh_CN."""
    return lang.replace("-", "_")


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of `lang`, read from the package (so it works from a wheel or a
    zip as well as from the source tree). English is the messages themselves."""
    if lang == DEFAULT_LANG:
        return _gettext.NullTranslations()
    path = resources.files("agent") / "locale" / locale_folder(lang) / "LC_MESSAGES"
    try:
        with (path / f"{DOMAIN}.mo").open("rb") as handle:
            return _gettext.GNUTranslations(handle)
    except FileNotFoundError:
        # A checkout whose catalogs were never compiled: English rather than a crash (the
        # tests and the wheel test make sure a release has them).
        return _gettext.NullTranslations()


def _current() -> _gettext.NullTranslations:
    return translations(language())


def gettext(message: str) -> str:
    return _current().gettext(message)


_ = gettext


def N_(message: str) -> str:  # noqa: N802  (gettext's name: mark for extraction, do not translate)
    """A message to translate later, where it is shown (a table of them, a parameter)."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802
    """A plural message to translate later with ngettext."""
    return singular, plural


class Told(str):
    """A message in English that carries its translation: str() is the English (what the run's
    log, the journal and JSON keep), `shown` is what a person reads. Errors raised with one
    show it on the terminal and stay English wherever they are written down.

    One made by told() also keeps its message id and values (`message`, `values`), so it can
    be written down (`told_record`) and told again later in another reader's language
    (`retell`): the report of a run in Chinese shows the run's errors in Chinese."""

    shown: str
    message: str | None
    values: dict[str, str | Told]

    def __new__(
        cls,
        english: str,
        shown: str | None = None,
        message: str | None = None,
        values: Mapping[str, str | Told] | None = None,
    ) -> Told:
        made = super().__new__(cls, english)
        made.shown = english if shown is None else shown
        made.message = message
        made.values = dict(values or {})
        return made


def told(message: str, /, **values: object) -> Told:
    """`message` (marked with N_()) filled in with `values`, in English and translated; a value
    that is itself a Told (or an error raised with one) is shown translated in the
    translation."""
    kept = {name: _kept(value) for name, value in values.items()}
    english = message.format(**{name: str(value) for name, value in kept.items()})
    return Told(
        english,
        gettext(message).format(**{k: shown(v) for k, v in kept.items()}),
        message,
        kept,
    )


def _kept(value: object) -> str | Told:
    """A value of a told() message as it is kept: a Told as itself; an error raised with a Told
    as that Told; one that reads otherwise in translation (a `shown` of its own) as a Told of
    both; anything else as its text."""
    if isinstance(value, Told):
        return value
    carried = as_told(value)
    return carried if carried.message is not None or carried.shown != carried else str(value)


def told_plural(messages: tuple[str, str], count: int, /, **values: object) -> Told:
    """told() for a count: `messages` (marked with Nn_()) is the singular and the plural, chosen
    by `count` in each language; `count` is among the values as {count}."""
    singular, plural = messages
    values = {"count": count, **values}
    english = (singular if count == 1 else plural).format(
        **{name: str(value) for name, value in values.items()}
    )
    translated = ngettext(singular, plural, count)
    return Told(english, translated.format(**{k: shown(v) for k, v in values.items()}))


def shown(thing: object) -> str:
    """What a person reads of a message or an error: its translation where it carries one (a
    Told, an error raised with a Told, or one with a `shown` of its own), else str()."""
    own = getattr(thing, "shown", None)
    if isinstance(own, str):
        return own
    if isinstance(thing, BaseException) and len(thing.args) == 1:
        inner = getattr(thing.args[0], "shown", None)
        # Only where str() is the message itself (an error that writes its own str() says so
        # with a `shown` of its own).
        if isinstance(inner, str) and str(thing) == str(thing.args[0]):
            return inner
    return str(thing)


def as_told(thing: object) -> Told:
    """An error (or a message) as a Told: English as str(), its translation as shown, to be
    passed on to where it is printed or written. A Told, or an error raised with one, keeps
    its message id and values; an error that in_english_too asked again keeps that English."""
    if isinstance(thing, Told):
        return thing
    if isinstance(thing, BaseException) and len(thing.args) == 1:
        inner = thing.args[0]
        if isinstance(inner, Told) and str(thing) == str(inner):
            return inner
    english = getattr(thing, "english", None)
    if isinstance(thing, BaseException) and isinstance(english, str):
        return Told(english, shown(thing))
    return Told(str(thing), shown(thing))


_T = TypeVar("_T")


def in_english_too(work: Callable[[], _T], catch: type[BaseException]) -> _T:
    """work(); when it fails with `catch` in the reader's language only (a message made with
    _(), which keeps no English), work is done again in English and the error, raised as it
    was, carries that English as `english` (as_told gives it): --json and the journal keep
    the English while a person reads the translation. Only for work that can be done twice
    with nothing changed, such as checking a flow file or reading an order list."""
    try:
        return work()
    except catch as error:
        if language() != "en" and as_told(error).message is None and str(error) == shown(error):
            with using("en"):
                try:
                    work()
                except catch as again:
                    error.english = str(again)  # type: ignore[attr-defined]
        raise


def told_map(thing: str, change: Callable[[str], str]) -> str:
    """`change` (such as masking secrets) applied to a message: to a Told's English, its
    translation and every value it keeps; to any other text as it is."""
    if not isinstance(thing, Told):
        return change(thing)
    values = {name: told_map(value, change) for name, value in thing.values.items()}
    return Told(change(str(thing)), change(thing.shown), thing.message, values)


def told_record(thing: object) -> dict | None:
    """What a Told made by told() needs to be told again in another language: its message id
    and values (a value that is a Told of its own as a record in turn), as JSON-ready data;
    None for any other message."""
    if not isinstance(thing, Told) or thing.message is None:
        return None
    values: dict[str, object] = {}
    for name, value in thing.values.items():
        values[name] = told_record(value) or str(value)
    return {"message": thing.message, "values": values}


def retell(record: object, english: str | None = None) -> str | None:
    """A message written down with told_record, in the language in force; `english` (the text
    kept beside it) when the record is missing or cannot be told again (say, a message whose
    translation since names other values)."""
    if not isinstance(record, Mapping):
        return english
    try:
        return _retold(record)
    except (KeyError, IndexError, ValueError, TypeError):
        return english


def _retold(record: Mapping) -> str:
    values = {
        name: _retold(value) if isinstance(value, Mapping) else str(value)
        for name, value in record["values"].items()
    }
    return gettext(record["message"]).format(**values)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _current().ngettext(singular, plural, count)


def pgettext(context: str, message: str) -> str:
    return _current().pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, count: int) -> str:
    return _current().npgettext(context, singular, plural, count)


def reason_label(code: str | None, lang: str | None = None) -> str:
    """A reason's label as the portal shows it in `lang`; an unknown code as it is."""
    if not code:
        return ""
    labels = REASONS.get(code)
    if labels is None:
        return code
    return labels.get(lang or language(), labels["en"])


def portal_word(text: str, lang: str | None = None) -> str:
    """A word read from a portal page (a reason's label, who cancelled) as the portal says it
    in `lang`, from either language's page; any other text as it is."""
    found = _portal_words().get(text.strip())
    return found.get(lang or language(), text) if found else text


@cache
def _portal_words() -> dict[str, dict[str, str]]:
    return {
        label: labels
        for table in (REASONS, PARTIES)
        for labels in table.values()
        for label in labels.values()
    }


def yes_no(value: bool | None) -> str:
    """A yes/no fact as a word; an unknown one as a dash."""
    if value is None:
        return "—"
    return _("yes") if value else _("no")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_time(value: str | datetime | None) -> datetime | None:
    """A journal time (ISO 8601, UTC) as an aware datetime; None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_datetime(value: str | datetime | None, lang: str | None = None) -> str:
    """A moment in the reader's local time, written the way the language writes dates:
    "26 Nov 2026, 14:05:01 UTC+8" or "2026年11月26日 14:05:01 UTC+8"."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    local = moment.astimezone()
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    zone = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "") if minutes else "UTC"
    clock = f"{local:%H:%M:%S}"
    if (lang or language()) == "zh-CN":
        return f"{local.year}年{local.month}月{local.day}日 {clock} {zone}"
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {clock} {zone}"


def format_duration(seconds: float | None, lang: str | None = None) -> str:
    """A span of time as a person reads it: "0.8 s", "2 min 05 s", "1 h 03 min" (in `lang`,
    else the language in force). Every duration the tool shows or logs is written by it."""
    if lang is not None:
        with using(lang):
            return format_duration(seconds)
    if seconds is None:
        return "—"
    if seconds < 59.95:
        # To a tenth of a second, without a trailing ".0" ("5 s", "0.8 s"); a blink, to two
        # figures ("0.02 s").
        figures = f"{round(seconds, 1):g}" if seconds >= 0.1 or seconds == 0 else f"{seconds:.2g}"
        return _("{seconds} s").format(seconds=figures)
    whole = round(seconds)
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=f"{rest:02d}")
    hours, rest = divmod(whole, 3600)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=f"{rest // 60:02d}")


def told_duration(seconds: float | None) -> Told:
    """format_duration as a Told: English where it is written down (the run's log), the
    reader's language where it is shown."""
    return Told(format_duration(seconds, DEFAULT_LANG), format_duration(seconds))


def format_number(value: int | float) -> str:
    """A count with thousands separators (both languages group by three)."""
    return f"{value:,}"


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns (str.ljust counts characters,
    which misaligns a column of Chinese words)."""
    return text + " " * max(0, width - display_width(text))
