"""The cancel job's input: order ids from CSV, tab-separated or plain text, .xlsx workbooks,
stdin or arguments, with optional reason and memo columns. Every problem names its file and
line. Reading the file (encodings, workbooks, delimiters) is agent.bulk.rows's; what the
columns are called and what an order id looks like is this module's."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from agent.bulk.rows import (
    HEADER_SEARCH_LINES,
    InputError,
    InputRow,
    NumberCell,
    Problem,
    RowSet,
    Table,
    clean_cell,
    filled,
    find_column,
    finish,
    fold,
    looks_like_csv,
    read_table,
    unsaved_formula,
)
from agent.cancel.reasons import REASONS, parse_reason
from agent.i18n import N_, _, ngettext

ORDER_ID_PATTERN = re.compile(r"^\d{3}-\d{7}-\d{7}$")
ORDER_ID_EXAMPLE = "112-0000001-0000001"
# Column names for the id in Seller Central's own reports (English, Chinese and Japanese
# Seller Central) and in people's spreadsheets. Compared folded: "Order ID" is "order_id".
# The first name a header has wins: the marketplace's own id before a plain "order id",
# which in a seller's ERP export (店小秘, 马帮 and the like) is often the ERP's own number
# beside the marketplace's (平台订单号).
ORDER_ID_COLUMNS = (
    "amazon-order-id",
    "platform-order-id",
    "平台订单号",
    "平台单号",
    "平台訂單號",
    "order-id",
    "order number",
    "order no",
    "订单号",
    "订单编号",
    "亚马逊订单号",
    "亚马逊订单编号",
    "訂單編號",
    "訂單號碼",
    "注文番号",
    "注文ID",
    "Amazon注文番号",
    "주문번호",
)
REASON_COLUMNS = (
    "reason",
    "cancel-reason",
    "cancellation-reason",
    "reason-code",
    "cancel-reason-code",
    "取消原因",
    "取消理由",
    "原因",
    "理由",
    "キャンセル理由",
    "취소사유",
)
# Words in a header that says it holds a reason. Such a column that is not read would send
# every order with --reason instead of what the file says, so it is an error.
REASON_WORDS = ("reason", "原因", "理由", "사유")
# Words that make such a column someone else's reason, never the seller's choice: the buyer's
# own words on a request (Seller Central's order reports have `buyer-requested-cancel-reason`),
# or a return's or refund's reason. It is left unread, and the file is read.
OTHERS_REASON_WORDS = (
    "buyer",
    "customer",
    "return",
    "refund",
    "买家",
    "買家",
    "顾客",
    "顧客",
    "客户",
    "退货",
    "退貨",
    "退款",
    "購入者",
    "返品",
    "返金",
    "구매자",
    "반품",
    "환불",
)
MEMO_COLUMNS = ("memo", "seller-memo", "note", "备注", "備註", "メモ", "備考", "메모")
# Columns that make a file one line per item (Seller Central's order reports): an order of
# several items is on several lines, and its id repeats without being a duplicate.
ITEM_COLUMNS = (
    "order-item-id",
    "sku",
    "asin",
    "product-name",
    "quantity-purchased",
    "quantity",
    "item",
    "商品编号",
    "订单商品编号",
    "商品名称",
    "数量",
)
MEMO_MAX = 1000

# Words that, found in a file read in some legacy encoding, show that reading is the right one.
VOCABULARY = frozenset(
    fold(word)
    for word in (
        *ORDER_ID_COLUMNS,
        *REASON_COLUMNS,
        *MEMO_COLUMNS,
        *(label for labels in REASONS.values() for label in labels.values()),
    )
)

# Dashes people type or paste for the hyphen in an id (NFKC already maps the full-width
# and small hyphen-minus): hyphen, non-breaking hyphen, figure dash, en and em dash,
# horizontal bar, minus sign, and the katakana long-vowel mark a Japanese IME gives for "-".
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70"), "-")


def normalize_order_id(text: str) -> str:
    """An order id as typed or pasted, made plain: full-width digits and hyphens, other
    dashes, ideographic and no-break spaces, zero-width characters, byte-order marks and
    direction marks become the ASCII id (or what is left to reject)."""
    return clean_cell(unicodedata.normalize("NFKC", text).translate(_DASHES))


def shown(text: str) -> str:
    """A value for a message: quoted, invisible characters escaped ('...\\u200b')."""
    return repr(text.strip(" \t"))


@dataclass
class _Collector:
    default_reason: str | None
    rowset: RowSet = field(default_factory=RowSet)
    seen: dict[str, tuple[str, int]] = field(default_factory=dict)
    reported_duplicates: set[str] = field(default_factory=set)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Valid rows read so far, repeats of an order already taken included.
    valid: int = 0

    def problem(self, source: str, line: int | None, message: str) -> None:
        self.rowset.problems.append(Problem(source, line, message))

    def add(
        self,
        source: str,
        line: int,
        typed: str,
        reason: str | None,
        memo: str | None,
        *,
        items: bool = False,
    ) -> bool:
        """Take one row; False when it was not taken (a problem, or a duplicate). items: the
        file has a line per item, so a repeated id with the same reason and memo is the same
        order's next item, not a duplicate."""
        for column, cell in (
            (_("order id cell"), typed),
            (_("reason cell"), reason),
            (_("memo cell"), memo),
        ):
            problem = unsaved_formula(column, cell) if cell is not None else None
            if problem:
                self.problem(source, line, problem)
                return False
        if isinstance(typed, NumberCell):
            # Excel turns digits typed in a General cell into a number: an id has hyphens,
            # so a number here is never one, whatever digits it kept.
            self.problem(
                source,
                line,
                _(
                    "order id cell is the number {number}, not an id like {example} (format the "
                    "column as Text in Excel and type the ids again)"
                ).format(number=typed, example=ORDER_ID_EXAMPLE),
            )
            return False
        order_id = normalize_order_id(typed)
        if not order_id:
            self.problem(source, line, _("missing order id"))
            return False
        if not ORDER_ID_PATTERN.match(order_id):
            self.problem(source, line, _("malformed order id {id}").format(id=shown(typed)))
            return False
        params: dict[str, Any] = {"order_id": order_id}
        if reason is not None and reason.strip():
            code = parse_reason(reason)
            if code is None:
                self.problem(
                    source,
                    line,
                    _("unknown reason {reason} for {order}").format(
                        reason=shown(reason), order=order_id
                    ),
                )
                return False
            params["reason"] = code
        elif self.default_reason is not None:
            params["reason"] = self.default_reason
        if memo is not None and memo.strip():
            if len(memo) > MEMO_MAX:
                self.problem(
                    source,
                    line,
                    _("memo for {order} is over {limit} characters").format(
                        order=order_id, limit=MEMO_MAX
                    ),
                )
                return False
            params["memo"] = str(memo)
        self.valid += 1
        if order_id in self.seen:
            first_source, first_line = self.seen[order_id]
            if items and first_source == source and self.params[order_id] == params:
                return False  # the same order's next item
            if order_id not in self.reported_duplicates:
                self.reported_duplicates.add(order_id)
                if first_source == source:
                    said = _("duplicate order id {order} (first on line {line})").format(
                        order=order_id, line=first_line
                    )
                else:
                    said = _("duplicate order id {order} (first on {place})").format(
                        order=order_id, place=f"{first_source}:{first_line}"
                    )
                self.problem(source, line, said)
            return False
        self.seen[order_id] = (source, line)
        self.params[order_id] = params
        self.rowset.rows.append(InputRow(order_id, params, source, line))
        return True


def _id_like(cell: str) -> bool:
    """A first cell that is an order id, or a mistyped one (mostly digits and dashes, a letter
    or two typed for a digit): the file has no header row and its first column is the ids."""
    text = normalize_order_id(cell)
    digits = sum(char.isdigit() for char in text)
    others = [char for char in text if not (char.isdigit() or char in "- ")]
    typo = digits >= 10 and "-" in text and len(others) <= 2 and all(c.isalpha() for c in others)
    return typo or bool(re.fullmatch(r"[\d\-\s]+", text)) and digits > 0


def _no_id_column(name: str, line: int, header: list[str]) -> InputError:
    # Never read some other column (a SKU, an email) as the ids.
    columns = ", ".join(shown(clean_cell(cell))[1:-1] for cell in header)
    return InputError(
        _(
            "{file}:{line}: no order id column (columns: {columns}); name it order-id, "
            "amazon-order-id, 订单号 or 注文番号, or give the ids without a header row, one "
            "per line or in the first column"
        ).format(file=name, line=line, columns=columns)
    )


def _collect_table(collector: _Collector, table: Table) -> None:
    records = [(line, record) for line, record in table.records if filled(record)]
    if not records:
        return
    name = table.name
    header_line, header = records[0]
    if find_column(header, ORDER_ID_COLUMNS) is None and header and _id_like(header[0]):
        # No header row: the first column is the ids.
        for line, record in records:
            collector.add(name, line, record[0], None, None)
        return
    # The header row: the first line, or one under a title or an export's notes.
    for position, (line, record) in enumerate(records[:HEADER_SEARCH_LINES]):
        if find_column(record, ORDER_ID_COLUMNS) is not None:
            header_line, header, body = line, record, records[position + 1 :]
            break
    else:
        raise _no_id_column(name, header_line, header)
    id_column = find_column(header, ORDER_ID_COLUMNS)
    reason_column = find_column(header, REASON_COLUMNS)
    memo_column = find_column(header, MEMO_COLUMNS)
    for position, title in enumerate(header):
        folded = fold(title)
        if (
            position != reason_column
            and any(word in folded for word in REASON_WORDS)
            and not any(word in folded for word in OTHERS_REASON_WORDS)
        ):
            raise InputError(
                _(
                    "{file}:{line}: column {column} looks like a cancellation reason, but the "
                    "reason is read from a column named reason or 取消原因{also}; rename it to "
                    "use its values, or remove it to use --reason for every order"
                ).format(
                    file=name,
                    line=header_line,
                    column=shown(clean_cell(title)),
                    also=_(" (the file has one already)") if reason_column is not None else "",
                )
            )
    items = find_column(header, ITEM_COLUMNS) is not None

    def cell(record: list[str], column: int | None) -> str | None:
        if column is None or column >= len(record):
            return None
        return record[column]

    for line, record in body:
        typed = cell(record, id_column)
        collector.add(
            name,
            line,
            "" if typed is None else typed,
            cell(record, reason_column),
            cell(record, memo_column),
            items=items,
        )


# An order id inside other text (an email, a message pasted into a file).
ORDER_ID_IN_TEXT = re.compile(r"(?<![\d-])\d{3}-\d{7}-\d{7}(?![\d-])")


def _collect_text(collector: _Collector, name: str, text: str, *, email: bool = False) -> None:
    """A list of ids, one per line, or text that names them (a saved email, a message pasted
    into a file). A line that is an id, or holds ids among words, gives them; a line that
    looks like an id but is none is reported; a line with no id in it (a greeting, a
    signature) is left out, said in one note for a list and silently for an email."""
    first = True
    prose: list[int] = []
    for line, content in enumerate(text.split("\n"), start=1):
        if not content.strip() or content.lstrip().startswith("#") and not email:
            continue
        if first and find_column([content], ORDER_ID_COLUMNS) is not None:
            first = False  # a one-column list with its header
            continue
        first = False
        plain = normalize_order_id(content)
        named = ORDER_ID_IN_TEXT.findall(plain)
        if ORDER_ID_PATTERN.match(plain) or _id_like(content) and not named and not email:
            collector.add(name, line, content, None, None)
        elif named:
            for order_id in dict.fromkeys(named):
                # The same order named twice in one email is one order, not a duplicate row.
                if not (email and order_id in collector.seen):
                    collector.add(name, line, order_id, None, None)
        else:
            prose.append(line)
    if prose and not email:
        shown_lines = ", ".join(str(line) for line in prose[:5]) + (
            ", ..." if len(prose) > 5 else ""
        )
        collector.rowset.notes.append(
            ngettext(
                "{file}: {count} line with no order id in it was left out (line {lines})",
                "{file}: {count} lines with no order id in them were left out (lines {lines})",
                len(prose),
            ).format(file=name, count=len(prose), lines=shown_lines)
        )


def _prose_naming_orders(table: Table) -> bool:
    if table.text is None or table.name.lower().endswith((".csv", ".tsv")):
        return False
    return ORDER_ID_IN_TEXT.search(normalize_order_id(table.text)) is not None


def _same_file(source: str, read: dict[str, str]) -> str | None:
    """The name a file was first given by, when this source is that file again (stdin is
    never the same file: it can be read once only anyway)."""
    if source == "-":
        return None
    try:
        key = str(Path(source).resolve())
    except OSError:
        return None
    if key in read:
        return read[key]
    read[key] = source
    return None


def read_order_rows(
    sources: Iterable[str] = (),
    ids: Iterable[str] = (),
    *,
    default_reason: str | None = None,
    strict: bool = False,
    stdin: TextIO | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> RowSet:
    """Order ids from files and from arguments. A file is a CSV or tab-separated text (in
    UTF-8, UTF-16 or the legacy encoding its content shows; `encoding` forces one) or an .xlsx
    workbook (its first sheet, or `sheet`), with an order id column named in English, Chinese
    or Japanese in any position and optional reason and memo columns; or a headerless list
    whose first column is the ids; or plain text, one id per line; "-" is stdin. Duplicates
    are kept once and reported once. Raises InputError when a file cannot be read, has no
    order id column, when no row is valid, or in strict mode when any problem was found."""
    if default_reason is not None:
        code = parse_reason(default_reason)
        if code is None:
            raise InputError(_("--reason: unknown reason {reason!r}").format(reason=default_reason))
        default_reason = code
    collector = _Collector(default_reason)
    names = []
    read: dict[str, str] = {}
    for source in sources:
        same = _same_file(source, read)
        if same is not None:
            collector.rowset.notes.append(
                _("{file}: given more than once (as {first}); read once").format(
                    file=source, first=same
                )
            )
            continue
        table = read_table(source, stdin, encoding=encoding, sheet=sheet, vocabulary=VOCABULARY)
        names.append(table.name)
        if table.note:
            collector.rowset.notes.append(table.note)
        valid, problems = collector.valid, len(collector.rowset.problems)
        if table.email:
            _collect_text(collector, table.name, table.text or "", email=True)
        elif table.text is None or looks_like_csv(table.name, table.text):
            try:
                _collect_table(collector, table)
            except InputError:
                # Not a table after all: a message pasted into a .txt whose first line has a
                # comma ("Hi team,"), naming its orders in its text.
                if not _prose_naming_orders(table):
                    raise
                _collect_text(collector, table.name, table.text or "")
        else:
            _collect_text(collector, table.name, table.text)
        if collector.valid == valid and len(sources) > 1:
            # Alone, a file without a valid row stops the run (finish); beside others too.
            found = collector.rowset.problems[problems:]
            detail = f" ({found[0]})" if found else ""
            raise InputError(
                _("{where}: no valid {what}{detail}").format(
                    where=table.name, what=_("order ids"), detail=detail
                )
            )
    for position, order_id in enumerate(ids, start=1):
        collector.add("argument", position, order_id, None, None)
        if "arguments" not in names:
            names.append("arguments")
    return finish(collector.rowset, names, strict, N_("order ids"))
