"""Input rows for bulk runs: reading the files people hand the tool, and generic rows bound to
a flow's params. Everything is validated before any browser starts, and every problem names its
file and line ("orders.csv:7: malformed order id '12-34'").

The files are what spreadsheets write: CSV or tab-separated text in UTF-8 or UTF-16, or in the
code page of the Windows that saved it (GB18030/GBK in China, Big5 in Taiwan, Shift_JIS in
Japan, EUC-KR in Korea, Windows-1252 in Europe and the Americas), and .xlsx workbooks. A
legacy encoding is never guessed blindly: it is chosen only when the file's own content
settles it, and otherwise the user is asked for --encoding. Programs hand over JSON: an array
of objects, or one object per line (JSON Lines), each object a row and its keys the columns.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import sys
import unicodedata
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from agent.errors import UserError
from agent.i18n import N_, Told, _, in_english_too, language, ngettext, shown, told, using


class InputError(UserError):
    """The input cannot be used at all (no valid row, unreadable file, strict-mode problems)."""


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self._where()}: {self.message}"

    @property
    def shown(self) -> str:
        """The problem as a person reads it: its message's translation where it carries one
        (str() keeps the English, for JSON and the journal)."""
        return f"{self._where()}: {shown(self.message)}"

    def _where(self) -> str:
        return self.source if self.line is None else f"{self.source}:{self.line}"


@dataclass
class InputRow:
    key: str
    params: dict[str, Any]
    source: str
    line: int


@dataclass
class RowSet:
    rows: list[InputRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # How an input was understood when that was a judgement (a legacy encoding chosen because
    # only it reads as ordinary text): said to the user before the run.
    notes: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [row.key for row in self.rows]


class NumberCell(str):
    """A spreadsheet cell that held a number, as text ("10.5", "3"). `exact` is false when the
    number is too long for Excel's 15 significant digits, so the digits typed are lost."""

    exact: bool = True

    def __new__(cls, value: int | float) -> NumberCell:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            text = str(int(value))
        else:
            text = repr(value) if isinstance(value, float) else str(value)
        cell = super().__new__(cls, text)
        cell.exact = abs(value) < 10**15
        return cell


class FormulaCell(str):
    """A spreadsheet cell holding a formula whose result was never saved with it (files
    written by programs rather than by Excel): empty to read, `formula` says what it was."""

    formula: str = ""

    def __new__(cls, formula: str) -> FormulaCell:
        cell = super().__new__(cls, "")
        cell.formula = formula
        return cell


def filled(record: list[str]) -> bool:
    """A record that is not blank: a cell with text, or a formula without a saved value."""
    return any(cell.strip() or isinstance(cell, FormulaCell) for cell in record)


def unsaved_formula(column: str, cell: str) -> str | None:
    """The problem with a cell whose formula has no saved result."""
    if isinstance(cell, FormulaCell):
        return _(
            "{column} holds the formula {formula} but no value was saved with it (open the file "
            "in Excel and save it, or paste the values)"
        ).format(column=column, formula=cell.formula)
    return None


# Legacy encodings tried, in the order named in messages, with the name people know them by.
# Each decoder is the Windows superset of its standard (what Excel writes): GBK is within
# GB18030, Shift_JIS within cp932, EUC-KR within cp949.
LEGACY_ENCODINGS = {
    "gb18030": N_("GB18030/GBK (Chinese)"),
    "big5": N_("Big5 (Chinese)"),
    "cp932": N_("Shift_JIS (Japanese)"),
    "cp949": N_("EUC-KR (Korean)"),
    "cp1252": N_("Windows-1252 (Western)"),
}
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "latin_1": "cp1252",
    "iso8859_1": "cp1252",
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Punctuation a Western text in Windows-1252 commonly has beside its letters.
_WESTERN_PUNCTUATION = set("€‘’‚“”„–—…•·°×÷«»¡¿ºª§©®™\u00a0")


def _encoding_name(name: str) -> str:
    try:
        found = codecs.lookup(name).name
    except LookupError:
        raise InputError(_("--encoding: unknown encoding {name!r}").format(name=name)) from None
    return _SUPERSETS.get(found.replace("-", "_"), found)


def _decode_as(data: bytes, name: str, encoding: str) -> str:
    """The text in the encoding the user named: read as its Windows superset first (what
    Excel writes when "GBK" or "Latin-1" is meant), else exactly as named; an error names the
    encoding as the user gave it."""
    codec = _encoding_name(encoding)
    exact = codecs.lookup(encoding).name
    for attempt in dict.fromkeys((codec, exact)):
        try:
            return data.decode(attempt)
        except UnicodeDecodeError as error:
            failure = error
    shown = "UTF-8" if exact == "utf-8" else encoding
    raise InputError(
        _("{file}: not {encoding} text ({reason} at byte {byte})").format(
            file=name, encoding=shown, reason=failure.reason, byte=failure.start
        )
    ) from None


def _common_in(encoding: str, char: str) -> bool:
    """Whether `char` is one a text written in `encoding` ordinarily has. A reading in the
    wrong code page is strictly valid surprisingly often, but it lands on rare characters:
    GBK bytes read as Shift_JIS give half-width katakana, Shift_JIS read as GBK gives
    ideographs outside GB2312, CJK bytes read as Windows-1252 give runs of symbols."""
    if char.isascii():
        return True
    category = unicodedata.category(char)
    if category in ("Cc", "Co", "Cn", "Cs"):
        return False
    if encoding == "gb18030":
        try:
            return len(char.encode("gb2312")) == 2
        except UnicodeEncodeError:
            return False
    if encoding == "big5":
        encoded = char.encode("big5")
        return len(encoded) == 2 and encoded <= b"\xc6\x7e"  # symbols and the common hanzi
    if encoding == "cp932":
        encoded = char.encode("cp932")
        # JIS X 0208 (kana, symbols, both kanji levels) and NEC's symbols; not half-width
        # katakana (one byte) nor the IBM extensions (0xED.., 0xFA..).
        return len(encoded) == 2 and (encoded[0] <= 0x9F or 0xE0 <= encoded[0] <= 0xEA)
    if encoding == "cp949":
        try:
            encoded = char.encode("euc_kr")
        except UnicodeEncodeError:
            return False
        # KS X 1001's 2,350 syllables and symbols; Python spells other syllables as 8-byte
        # jamo sequences. Hanja are rare in Korean text today.
        return len(encoded) == 2 and "CJK UNIFIED" not in unicodedata.name(char, "")
    if encoding == "cp1252":
        return category.startswith("L") or char in _WESTERN_PUNCTUATION
    return True


def _ordinary(encoding: str, text: str) -> bool:
    if not all(_common_in(encoding, char) for char in set(text)):
        return False
    if encoding == "cp1252":
        # Accented letters come one or two at a time in Western words ("Füße"); a double-byte
        # text read one byte per character makes longer runs, symbols among them.
        for run in re.findall(r"[^\x00-\x7f]{2,}", text):
            if len(run) > 2 or not all(char.isalpha() for char in run):
                return False
    return True


def _cells(text: str) -> set[str]:
    return {fold(cell.strip(" \"'")) for cell in re.split(r"[,\t;\n]", text)}


def _tried() -> str:
    return ", ".join(["UTF-8", "UTF-16", *(_(name) for name in LEGACY_ENCODINGS.values())])


def decode(
    data: bytes, name: str, *, encoding: str | None = None, vocabulary: Collection[str] = ()
) -> tuple[str, str | None]:
    """The text of a file, and a note when its encoding was a judgement.

    In order: a byte-order mark; --encoding; UTF-8 (legacy text is almost never valid UTF-8);
    UTF-16 without a mark (every other byte zero); then the legacy encodings: one whose reading
    contains known words (`vocabulary`: header names, reason labels, already folded) wins;
    else one that is the only reading made of ordinary characters. Anything else is refused
    with the encodings tried and the --encoding to pass."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), None
            except UnicodeDecodeError as error:
                raise InputError(
                    _(
                        "{file}: starts with a {codec} byte-order mark but is not {codec} "
                        "({reason} at byte {byte})"
                    ).format(file=name, codec=codec.upper(), reason=error.reason, byte=error.start)
                ) from None
    if encoding is not None:
        return _decode_as(data, name, encoding), None
    # UTF-16 without a mark before UTF-8: ASCII text in UTF-16 is valid UTF-8 too (a NUL
    # after every character), and text files never hold NULs of their own.
    if len(data) >= 4 and len(data) % 2 == 0:
        for codec, zeros, others in (
            ("utf-16-le", data[1::2], data[0::2]),
            ("utf-16-be", data[0::2], data[1::2]),
        ):
            if zeros.count(0) > len(zeros) * 0.7 and others.count(0) < len(others) * 0.1:
                try:
                    return data.decode(codec), None
                except UnicodeDecodeError:
                    break
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    readings = {}
    for codec in LEGACY_ENCODINGS:
        try:
            readings[codec] = data.decode(codec)
        except UnicodeDecodeError:
            continue
    known = {word for word in vocabulary if not word.isascii()}
    told = [codec for codec, text in readings.items() if known & _cells(text)]
    if len(told) == 1:
        return readings[told[0]], None
    ordinary = [codec for codec, text in readings.items() if _ordinary(codec, text)]
    if not told and len(ordinary) == 1:
        codec = ordinary[0]
        return readings[codec], _(
            "{file}: not UTF-8; read as {encoding}, the only encoding in which it is ordinary "
            "text (pass --encoding NAME if that is wrong)"
        ).format(file=name, encoding=_(LEGACY_ENCODINGS[codec]))
    if not readings:
        raise InputError(
            _(
                "{file}: not text in any encoding tried ({tried}); save it as UTF-8 CSV or "
                "pass --encoding NAME"
            ).format(file=name, tried=_tried())
        )
    candidates = told or ordinary or list(readings)
    shown = _(" or ").join(_(LEGACY_ENCODINGS[codec]) for codec in candidates)
    raise InputError(
        _(
            "{file}: cannot tell the text encoding: not UTF-8, and it reads as {readings} "
            "(tried {tried}); pass --encoding {encodings}, or save it as CSV UTF-8"
        ).format(
            file=name,
            readings=shown,
            tried=_tried(),
            encodings=_(" or ").join(candidates),
        )
    )


def fold(text: str) -> str:
    """A header name as compared: compatibility forms unified (full-width letters), case,
    spaces and punctuation ignored ("Order ID", "order-id", "ORDER_ID", "OrderId" are one)."""
    return "".join(
        char for char in unicodedata.normalize("NFKC", text).casefold() if char.isalnum()
    )


def clean_cell(text: str) -> str:
    """A cell without compatibility forms, invisible characters (zero-width spaces, byte-order
    marks, direction marks) or surrounding white space."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(char for char in text if unicodedata.category(char) != "Cf").strip()


# How far down a file its header row may sit, under a title or an export's notes.
HEADER_SEARCH_LINES = 10


def find_column(header: list[str], names: Iterable[str]) -> int | None:
    folded = [fold(cell) for cell in header]
    for name in names:
        if fold(name) in folded:
            return folded.index(fold(name))
    return None


@dataclass
class Table:
    """A file's records as (line, cells): the line a person sees in an editor, or the row
    number in a workbook. `text` is the decoded text of a text file (None for a workbook);
    for a saved email (`email`), its subject and text, with no records."""

    name: str
    records: list[tuple[int, list[str]]]
    text: str | None = None
    note: str | None = None
    email: bool = False


# Header fields that open a saved email (.eml, or a message saved as text).
_EMAIL_HEADERS = re.compile(
    rb"(?:return-path|received|delivered-to|from|to|subject|date|message-id|mime-version):",
    re.IGNORECASE,
)


def is_email(name: str, data: bytes) -> bool:
    """A saved email: an .eml name, or a text opening with mail header fields (two of them
    on the first lines, "From:" and "Subject:" say, and no CSV-like first line)."""
    if name.lower().endswith(".eml"):
        return True
    head = data[:2000].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].split(b"\n")[:30]
    fields = [line for line in head if _EMAIL_HEADERS.match(line)]
    return len(fields) >= 2 and bool(head) and _EMAIL_HEADERS.match(head[0]) is not None


def email_text(data: bytes) -> str:
    """What a person reads in a saved email: its subject, then its text parts (decoded from
    their transfer encoding and charset), or its HTML parts as text when it has no plain
    one. Attachments are left out."""
    import email
    import email.policy
    import html

    message = email.message_from_bytes(data, policy=email.policy.default)
    plain: list[str] = []
    markup: list[str] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except (LookupError, UnicodeError, ValueError):
            payload = part.get_payload(decode=True) or b""
            content = payload.decode("utf-8", errors="replace")
        if kind == "text/plain":
            plain.append(content)
        else:
            # Block elements end lines, so an id in a table cell stays apart from its
            # neighbours; then the tags go and the entities are read.
            content = re.sub(r"(?i)<(br|/p|/div|/tr|/td|/li|/h\d)[^>]*>", "\n", content)
            content = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", content)
            markup.append(html.unescape(re.sub(r"<[^>]+>", " ", content)))
    subject = str(message.get("subject") or "")
    return "\n".join([subject, *(plain or markup)])


def read_in_english_too(read: Callable[[], RowSet]) -> RowSet:
    """read() (which must give the same rows each time: see replayable_stdin); when the
    reader's language is not English, an input error carries its English too (in_english_too)
    and so does every problem (the rows left out) whose message keeps none, from reading the
    input once more in English: --json and the journal keep English, a person reads the
    translation."""
    rowset = in_english_too(read, InputError)
    bare = {id(problem) for problem in rowset.problems if shown(problem.message) == problem.message}
    if not bare or language() == "en":
        return rowset
    with using("en"):
        again = read()
    if len(again.problems) == len(rowset.problems):
        rowset.problems = [
            replace(mine, message=Told(str(english.message), str(mine.message)))
            if id(mine) in bare
            else mine
            for mine, english in zip(rowset.problems, again.problems, strict=True)
        ]
    return rowset


def replayable_stdin(stdin: TextIO | None) -> TextIO:
    """Standard input (or `stdin`) read whole now, as a stream that gives the same bytes each
    time it is read from its start: an order list from a pipe can be read twice (once more in
    English, for an error's English)."""
    stream = stdin if stdin is not None else sys.stdin
    buffer = getattr(stream, "buffer", None)
    data = buffer.read() if buffer is not None else stream.read().encode("utf-8")
    return _Replayable(data)  # type: ignore[return-value]


class _Replayable:
    """What _read_input asks of a stream (its bytes, through `buffer`), the same each time."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def buffer(self) -> io.BytesIO:
        return io.BytesIO(self._data)

    def read(self) -> str:
        return self._data.decode("utf-8", "replace")


def _read_input(source: str, stdin: TextIO | None) -> tuple[str, bytes | str]:
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin
        # The bytes when there are any, so stdin's encoding is found like a file's.
        buffer = getattr(stream, "buffer", None)
        return "<stdin>", buffer.read() if buffer is not None else stream.read()
    try:
        return source, Path(source).read_bytes()
    except FileNotFoundError as error:
        raise InputError(_("{file}: no such file").format(file=source)) from error
    except IsADirectoryError as error:
        raise InputError(_("{file}: is a directory, not a file").format(file=source)) from error
    except OSError as error:
        raise InputError(
            told(N_("{file}: {reason}"), file=source, reason=error.strerror)
        ) from error


def read_table(
    source: str,
    stdin: TextIO | None = None,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    vocabulary: Collection[str] = (),
) -> Table:
    """A CSV/tab-separated/plain text file or an .xlsx workbook ("-" is stdin) as records."""
    name, data = _read_input(source, stdin)
    note = None
    if isinstance(data, bytes):
        if data.startswith(b"\xd0\xcf\x11\xe0") and "EncryptionInfo".encode("utf-16-le") in data:
            # Excel keeps a workbook with a password to open in the old compound file format.
            raise InputError(
                _(
                    "{file}: the workbook is protected with a password; remove it in Excel (File "
                    "> Info > Protect Workbook) or save the sheet as CSV UTF-8"
                ).format(file=name)
            )
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise InputError(
                _("{file}: an Excel 97-2003 workbook (.xls); save it as .xlsx or CSV UTF-8").format(
                    file=name
                )
            )
        if data.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
            return _read_workbook(name, data, sheet)
        if is_email(name, data):
            return Table(name, [], email_text(data), email=True)
        text, note = decode(data, name, encoding=encoding, vocabulary=vocabulary)
    else:
        text = data
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    records = _json_records(name, text)
    if records is None:
        records, read_note = _text_records(name, text)
        note = "; ".join(part for part in (note, read_note) if part) or None
    return Table(name, records, text, note)


def _json_cell(value: Any) -> str:
    """A JSON value as a cell: text as it is, null empty, true/false and numbers as JSON
    writes them, a list or an object as its JSON text."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


# What may stand between the objects of a JSON array.
_JSON_GAP = re.compile(r"[\s,]*")


def _json_records(name: str, text: str) -> list[tuple[int, list[str]]] | None:
    """The rows of a JSON array of objects, or of JSON Lines (an object per line), as records
    under a header of their keys (in the order they first appear), each at the line its object
    starts on; None for any other text (a CSV, a list of ids, JSON of another shape, which a
    file of order ids still reads as text)."""
    body = text.lstrip()
    if not body.startswith(("[", "{")):
        return None
    named_json = name.lower().endswith((".json", ".jsonl", ".ndjson"))
    decoder = json.JSONDecoder()
    objects: list[tuple[int, Any]] = []
    position, line = len(text) - len(body), text.count("\n", 0, len(text) - len(body)) + 1
    try:
        if body.startswith("["):
            position += 1
            while True:
                skipped = _JSON_GAP.match(text, position)
                line += text.count("\n", position, skipped.end())
                position = skipped.end()
                if position >= len(text) or text[position] == "]":
                    break
                value, end = decoder.raw_decode(text, position)
                objects.append((line, value))
                line += text.count("\n", position, end)
                position = end
            if position >= len(text) or text[position + 1 :].strip():
                raise ValueError("not one array")
        else:
            try:
                whole = json.loads(text)
            except ValueError:
                whole = None
            if whole is not None and "\n" in body.strip():
                # One object over several lines (another program's document), not one per line.
                if named_json:
                    raise InputError(
                        _(
                            "{file}: one JSON object; rows are an array of objects, or an object "
                            "per line"
                        ).format(file=name)
                    )
                return None
            for number, row in enumerate(text.split("\n"), start=1):
                if row.strip():
                    line = number
                    objects.append((number, json.loads(row)))
    except ValueError:
        if not named_json:
            return None
        raise InputError(
            _(
                "{file}:{line}: not readable as JSON (an array of objects, or an object per line)"
            ).format(file=name, line=line)
        ) from None
    if not all(isinstance(value, dict) for _line, value in objects):
        if named_json and not all(isinstance(value, str) for _line, value in objects):
            raise InputError(
                _("{file}: JSON rows must be objects, one per row (a column per key)").format(
                    file=name
                )
            )
        return None
    header = list(dict.fromkeys(key for _line, value in objects for key in value))
    records = [(objects[0][0] if objects else 1, header)]
    for line, value in objects:
        records.append((line, [_json_cell(value.get(column)) for column in header]))
    return records


# Excel's hint for the delimiter, alone on a CSV file's first line ("sep=;").
_SEPARATOR_LINE = re.compile(r'"?sep=(.)"?[,;\t]*\n')


def sniff_delimiter(text: str) -> str:
    """Tab when the first line has one (Excel's "Unicode Text", Seller Central's reports),
    else semicolon when it outnumbers commas (Excel's CSV where the decimal mark is a comma),
    else comma. Quoted text is not counted."""
    first = next((line for line in text.split("\n") if line.strip()), "")
    first = re.sub(r'"[^"]*"', "", first)
    if "\t" in first:
        return "\t"
    return ";" if first.count(";") > first.count(",") else ","


def looks_like_csv(name: str, text: str) -> bool:
    if name.lower().endswith((".csv", ".tsv")):
        return True
    first = next((line for line in text.split("\n") if line.strip()), "")
    return any(mark in first for mark in ",\t;")


def _read_records(
    name: str, text: str, delimiter: str, offset: int, **dialect: Any
) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, **dialect)
    records = []
    line = 1 + offset
    try:
        for record in reader:
            records.append((line, record))
            line = reader.line_num + 1 + offset
    except csv.Error as error:
        raise InputError(
            _("{file}:{line}: not readable as CSV ({error})").format(
                file=name, line=line, error=error
            )
        ) from None
    return records


def _text_records(name: str, text: str) -> tuple[list[tuple[int, list[str]]], str | None]:
    """The records of a CSV or tab-separated text, and a note when the file had to be read
    another way than as written."""
    hint = _SEPARATOR_LINE.match(text)
    if hint:
        body, delimiter, offset = text[hint.end() :], hint.group(1), 1
    else:
        body, delimiter, offset = text, sniff_delimiter(text), 0
    records = _read_records(name, body, delimiter, offset)
    swallowed = next(
        (line for line, record in records if any("\n" in cell for cell in record)), None
    )
    if swallowed is None:
        return records, None
    try:
        _read_records(name, body, delimiter, offset, strict=True)
        return records, None  # a cell with a line break, quoted as it should be
    except InputError:
        pass
    # A quote that opens a cell and never closes where it should swallows the lines after it
    # (a product name "12" pot" in a report): those rows would be lost without a word.
    if delimiter == "\t":
        # Seller Central writes its tab-separated reports without quoting: read them so.
        return _read_records(name, body, delimiter, offset, quoting=csv.QUOTE_NONE), _(
            "{file}:{line}: a cell starts with a quote that does not close; the file is read "
            "without quoting, as Seller Central writes its reports"
        ).format(file=name, line=swallowed)
    raise InputError(
        _(
            "{file}:{line}: a quote opens a cell here and does not close where it should, so "
            "the lines after it would be read as part of it; double a quote inside a quoted "
            'cell ("") or remove it'
        ).format(file=name, line=swallowed)
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return NumberCell(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _read_workbook(name: str, data: bytes, sheet: str | None) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        # The formulas too: a cell whose formula has no saved result reads as empty above.
        formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, SyntaxError) as error:
        raise InputError(
            _("{file}: not a readable .xlsx workbook ({error})").format(file=name, error=error)
        ) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(
                _("{file}: no sheet {sheet!r} (sheets: {sheets})").format(
                    file=name, sheet=sheet, sheets=", ".join(book.sheetnames)
                )
            )
        if not book.worksheets:
            raise InputError(_("{file}: the workbook has no worksheet").format(file=name))
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        written = formulas[worksheet.title]
        records = []
        rows = zip(
            worksheet.iter_rows(values_only=True), written.iter_rows(values_only=True), strict=False
        )
        for line, (values, typed) in enumerate(rows, start=1):
            cells = [
                FormulaCell(formula)
                if value is None and isinstance(formula, str) and formula.startswith("=")
                else _cell_text(value)
                for value, formula in zip(values, [*typed, *[None] * len(values)], strict=False)
            ]
            while cells and cells[-1] == "" and not isinstance(cells[-1], FormulaCell):
                cells.pop()
            records.append((line, cells))
    finally:
        book.close()
        formulas.close()
    return Table(name, records)


def stop_if_strict(rowset: RowSet, strict: bool) -> None:
    """In strict mode, any problem with any row stops the run before it starts."""
    if strict and rowset.problems:
        count = len(rowset.problems)
        more = (
            ngettext(
                " (and {count} more problem)", " (and {count} more problems)", count - 1
            ).format(count=count - 1)
            if count > 1
            else ""
        )
        raise InputError(
            _("{problem}{more} - strict mode stops on any bad row").format(
                problem=rowset.problems[0], more=more
            )
        )


def finish(rowset: RowSet, names: list[str], strict: bool, what: str) -> RowSet:
    stop_if_strict(rowset, strict)
    if not rowset.rows:
        where = ", ".join(names) if names else _("the input")
        detail = f" ({rowset.problems[0]})" if rowset.problems else ""
        raise InputError(
            _("{where}: no valid {what}{detail}").format(where=where, what=_(what), detail=detail)
        )
    return rowset


def inexact_number(column: str, cell: str) -> str | None:
    """The problem with a cell Excel stored as a number too long to keep its digits."""
    if isinstance(cell, NumberCell) and not cell.exact:
        return _(
            "{column} is the number {number}, too long for Excel to keep exactly (format the "
            "column as Text in Excel and type it again)"
        ).format(column=column, number=cell)
    return None


def param_of(cell: str, names: Iterable[str]) -> str | None:
    """The param a header cell names: the one of that name, else the only one whose name is
    the same in any case, with spaces and punctuation ignored (`Order ID` and `order-id`,
    as exports write them, are `order_id`)."""
    names = list(names)
    if cell in names:
        return cell
    loose = [name for name in names if fold(name) == fold(cell) and fold(cell)]
    return loose[0] if len(loose) == 1 else None


def read_param_rows(
    source: str,
    *,
    key_column: str,
    columns: Mapping[str, Any] | None = None,
    strict: bool = False,
    stdin: TextIO | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> RowSet:
    """Generic rows for `run FLOW --rows FILE`: each row of a CSV, tab-separated text or .xlsx
    sheet becomes a params dict (header names are param names), keyed by `key_column`. When
    `columns` (a flow's params mapping) is given, a header that names no param is an error.
    Blank and duplicate keys are problems."""
    vocabulary = {fold(name) for name in [key_column, *(columns or {})]}
    table = read_table(source, stdin, encoding=encoding, sheet=sheet, vocabulary=vocabulary)
    name = table.name
    records = [(line, record) for line, record in table.records if filled(record)]
    if not records:
        raise InputError(_("{file}: empty file, expected a header row").format(file=name))
    names = list(columns) if columns is not None else []
    # --key as the user wrote it (a param's name, or the column's as the file has it, in any
    # case): the param it names, else the column.
    key_column = param_of(key_column, names) or key_column
    # The header row: the first line, or one under a title or an export's notes.
    for position, (line, cells) in enumerate(records[:HEADER_SEARCH_LINES]):
        written = [clean_cell(cell) for cell in cells]
        header = [param_of(cell, names) or cell for cell in written]
        if key_column not in header:
            header = [
                key_column if cell == mapped and param_of(cell, [key_column]) else mapped
                for cell, mapped in zip(written, header, strict=True)
            ]
        if key_column in header:
            header_line, records = line, records[position:]
            break
    else:
        header_line, header_cells = records[0]
        raise InputError(
            _("{file}:{line}: no column {column!r} (columns: {columns})").format(
                file=name,
                line=header_line,
                column=key_column,
                columns=", ".join(clean_cell(cell) for cell in header_cells),
            )
        )
    rowset = RowSet(notes=[table.note] if table.note else [])
    renamed = [
        f"{cell!r} -> {column}"
        for cell, column in zip(written, header, strict=True)
        if cell != column
    ]
    if renamed:
        # Said, so that a column taken for a param by a looser name is never a surprise.
        rowset.notes.append(
            _("{file}:{line}: columns read as the params of the same name: {columns}").format(
                file=name, line=header_line, columns=", ".join(renamed)
            )
        )
    key_index = header.index(key_column)
    if columns is not None:
        # Other columns (an export's extra ones) are left out, and said so: a misspelt param's
        # column would otherwise be ignored in silence. Strict mode refuses them.
        # The key column (--key) names the rows, a param or not.
        unknown = [
            column for column in header if column and column not in columns and column != key_column
        ]
        if unknown and strict:
            raise InputError(
                _("{file}:{line}: column {column!r} is not a param of the flow").format(
                    file=name, line=header_line, column=unknown[0]
                )
                + _(" - strict mode stops on any bad row")
            )
        if unknown:
            rowset.notes.append(
                _(
                    "{file}:{line}: columns that are no param of the flow are left out: {columns}"
                ).format(file=name, line=header_line, columns=", ".join(unknown))
            )
        header = [column if column in columns else "" for column in header]
    seen: dict[str, int] = {}
    for line, record in records[1:]:
        if len(record) > len(header):
            rowset.problems.append(
                Problem(
                    name,
                    line,
                    _("{cells} cells but the header has {columns}").format(
                        cells=len(record), columns=len(header)
                    ),
                )
            )
            continue
        params = {
            column: record[index].strip()
            for index, column in enumerate(header)
            if column and index < len(record) and record[index].strip() != ""
        }
        inexact = next(
            (
                problem
                for index, column in enumerate(header)
                if column and index < len(record)
                for problem in [
                    inexact_number(column, record[index]) or unsaved_formula(column, record[index])
                ]
                if problem
            ),
            None,
        )
        if inexact:
            rowset.problems.append(Problem(name, line, inexact))
            continue
        key = record[key_index].strip() if key_index < len(record) else ""
        if not key:
            rowset.problems.append(
                Problem(name, line, _("missing {column}").format(column=key_column))
            )
            continue
        if key in seen:
            rowset.problems.append(
                Problem(
                    name,
                    line,
                    _("duplicate {column} {key!r} (first on line {first})").format(
                        column=key_column, key=key, first=seen[key]
                    ),
                )
            )
            continue
        seen[key] = line
        rowset.rows.append(InputRow(key, params, name, line))
    return finish(rowset, [name], strict, N_("rows"))
