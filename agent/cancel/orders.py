"""The cancel job's input: order ids from CSV, plain text, stdin or arguments, with optional
reason and memo columns. Every problem names its file and line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from agent.bulk.rows import (
    InputError,
    InputRow,
    Problem,
    RowSet,
    find_column,
    finish,
    looks_like_csv,
    read_text,
)
from agent.cancel.reasons import parse_reason

ORDER_ID_PATTERN = re.compile(r"^\d{3}-\d{7}-\d{7}$")
# Column names Seller Central's own order reports and people's spreadsheets use for the id.
ORDER_ID_COLUMNS = ("order_id", "amazon-order-id", "order-id", "order id", "orderid")
REASON_COLUMNS = ("reason", "cancel_reason", "cancel-reason")
MEMO_COLUMNS = ("memo", "seller_memo", "seller-memo", "note")
MEMO_MAX = 1000


@dataclass
class _Collector:
    default_reason: str | None
    rowset: RowSet = field(default_factory=RowSet)
    seen: dict[str, tuple[str, int]] = field(default_factory=dict)
    reported_duplicates: set[str] = field(default_factory=set)

    def problem(self, source: str, line: int | None, message: str) -> None:
        self.rowset.problems.append(Problem(source, line, message))

    def add(
        self, source: str, line: int, order_id: str, reason: str | None, memo: str | None
    ) -> None:
        order_id = order_id.strip()
        if not order_id:
            self.problem(source, line, "missing order id")
            return
        if not ORDER_ID_PATTERN.match(order_id):
            self.problem(source, line, f"malformed order id {order_id!r}")
            return
        params: dict[str, Any] = {"order_id": order_id}
        if reason is not None and reason.strip():
            code = parse_reason(reason)
            if code is None:
                self.problem(source, line, f"unknown reason {reason.strip()!r} for {order_id}")
                return
            params["reason"] = code
        elif self.default_reason is not None:
            params["reason"] = self.default_reason
        if memo is not None and memo.strip():
            if len(memo) > MEMO_MAX:
                self.problem(source, line, f"memo for {order_id} is over {MEMO_MAX} characters")
                return
            params["memo"] = memo
        if order_id in self.seen:
            if order_id not in self.reported_duplicates:
                self.reported_duplicates.add(order_id)
                first_source, first_line = self.seen[order_id]
                first = (
                    f"line {first_line}"
                    if first_source == source
                    else f"{first_source}:{first_line}"
                )
                self.problem(source, line, f"duplicate order id {order_id} (first on {first})")
            return
        self.seen[order_id] = (source, line)
        self.rowset.rows.append(InputRow(order_id, params, source, line))


def _collect_csv(collector: _Collector, name: str, text: str) -> None:
    delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    first_index = next(
        (i for i, record in enumerate(records) if any(c.strip() for c in record)), None
    )
    if first_index is None:
        return
    header = records[first_index]
    id_column = find_column(header, ORDER_ID_COLUMNS)
    has_header = id_column is not None or not ORDER_ID_PATTERN.match(header[0].strip())
    reason_column = memo_column = None
    if has_header:
        reason_column = find_column(header, REASON_COLUMNS)
        memo_column = find_column(header, MEMO_COLUMNS)
        if id_column is None:
            id_column = 0
        body = records[first_index + 1 :]
        offset = first_index + 2
    else:
        id_column = 0
        body = records[first_index:]
        offset = first_index + 1
    # csv.reader yields one record per logical row; with no quoted newlines (ids never have
    # them) record index + offset is the line number a person sees in an editor.
    for index, record in enumerate(body):
        line = index + offset
        if not any(cell.strip() for cell in record):
            continue

        def cell(column: int | None, record: list[str] = record) -> str | None:
            if column is None or column >= len(record):
                return None
            return record[column]

        collector.add(name, line, cell(id_column) or "", cell(reason_column), cell(memo_column))


def _collect_text(collector: _Collector, name: str, text: str) -> None:
    for line, content in enumerate(text.split("\n"), start=1):
        if not content.strip() or content.lstrip().startswith("#"):
            continue
        collector.add(name, line, content, None, None)


def read_order_rows(
    sources: Iterable[str] = (),
    ids: Iterable[str] = (),
    *,
    default_reason: str | None = None,
    strict: bool = False,
    stdin: TextIO | None = None,
) -> RowSet:
    """Order ids from files (CSV with an order_id / amazon-order-id column or the first
    column, optional reason and memo columns; or plain text, one id per line; "-" is stdin)
    and from arguments. Duplicates are kept once and reported once. Raises InputError when no
    row is valid, or in strict mode when any problem was found."""
    if default_reason is not None:
        code = parse_reason(default_reason)
        if code is None:
            raise InputError(f"--reason: unknown reason {default_reason!r}")
        default_reason = code
    collector = _Collector(default_reason)
    names = []
    for source in sources:
        name, text = read_text(source, stdin)
        names.append(name)
        if looks_like_csv(name, text):
            _collect_csv(collector, name, text)
        else:
            _collect_text(collector, name, text)
    for position, order_id in enumerate(ids, start=1):
        collector.add("argument", position, order_id, None, None)
        if "arguments" not in names:
            names.append("arguments")
    return finish(collector.rowset, names, strict, "order ids")
