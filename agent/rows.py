"""Input rows for bulk runs: order ids from CSV, plain text, stdin or arguments, or generic
CSV rows bound to a flow's params. Everything is validated before any browser starts, and
every problem names its file and line ("orders.csv:7: malformed order id '12-34'")."""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from agent.reasons import parse_reason

ORDER_ID_PATTERN = re.compile(r"^\d{3}-\d{7}-\d{7}$")
# Column names Seller Central's own order reports and people's spreadsheets use for the id.
ORDER_ID_COLUMNS = ("order_id", "amazon-order-id", "order-id", "order id", "orderid")
REASON_COLUMNS = ("reason", "cancel_reason", "cancel-reason")
MEMO_COLUMNS = ("memo", "seller_memo", "seller-memo", "note")
MEMO_MAX = 1000


class InputError(Exception):
    """The input cannot be used at all (no valid row, unreadable file, strict-mode problems)."""


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.message}"


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

    @property
    def keys(self) -> list[str]:
        return [row.key for row in self.rows]


def _read_text(source: str, stdin: TextIO | None) -> tuple[str, str]:
    """(display name, text) with a UTF-8 byte-order mark and Windows line ends removed."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin
        raw = stream.read()
        name = "<stdin>"
    else:
        path = Path(source)
        try:
            raw = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError as error:
            raise InputError(f"{source}: no such file") from error
        except IsADirectoryError as error:
            raise InputError(f"{source}: is a directory, not a file") from error
        except UnicodeDecodeError as error:
            raise InputError(
                f"{source}: not UTF-8 text ({error.reason} at byte {error.start})"
            ) from error
        except OSError as error:
            raise InputError(f"{source}: {error.strerror}") from error
        name = source
    raw = raw.removeprefix("\ufeff")
    return name, raw.replace("\r\n", "\n").replace("\r", "\n")


def _looks_like_csv(name: str, text: str) -> bool:
    if name.lower().endswith((".csv", ".tsv")):
        return True
    first = next((line for line in text.split("\n") if line.strip()), "")
    return "," in first or "\t" in first


def _fold(text: str) -> str:
    return text.strip().casefold().replace(" ", "_").replace("-", "_")


def _find_column(header: list[str], names: Iterable[str]) -> int | None:
    folded = [_fold(cell) for cell in header]
    for name in names:
        if _fold(name) in folded:
            return folded.index(_fold(name))
    return None


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
    id_column = _find_column(header, ORDER_ID_COLUMNS)
    has_header = id_column is not None or not ORDER_ID_PATTERN.match(header[0].strip())
    reason_column = memo_column = None
    if has_header:
        reason_column = _find_column(header, REASON_COLUMNS)
        memo_column = _find_column(header, MEMO_COLUMNS)
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
        name, text = _read_text(source, stdin)
        names.append(name)
        if _looks_like_csv(name, text):
            _collect_csv(collector, name, text)
        else:
            _collect_text(collector, name, text)
    for position, order_id in enumerate(ids, start=1):
        collector.add("argument", position, order_id, None, None)
        if "arguments" not in names:
            names.append("arguments")
    return _finish(collector.rowset, names, strict, "order ids")


def _finish(rowset: RowSet, names: list[str], strict: bool, what: str) -> RowSet:
    if strict and rowset.problems:
        count = len(rowset.problems)
        raise InputError(
            f"{rowset.problems[0]}"
            + (f" (and {count - 1} more problems)" if count > 1 else "")
            + " - strict mode stops on any bad row"
        )
    if not rowset.rows:
        where = ", ".join(names) if names else "the input"
        detail = f" ({rowset.problems[0]})" if rowset.problems else ""
        raise InputError(f"{where}: no valid {what}{detail}")
    return rowset


def read_param_rows(
    source: str,
    *,
    key_column: str,
    columns: Mapping[str, Any] | None = None,
    strict: bool = False,
    stdin: TextIO | None = None,
) -> RowSet:
    """Generic rows for `run FLOW --rows FILE.csv`: each CSV row becomes a params dict (header
    names are param names), keyed by `key_column`. When `columns` (a flow's params mapping) is
    given, a header that names no param is an error. Blank and duplicate keys are problems."""
    name, text = _read_text(source, stdin)
    delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    while records and not any(cell.strip() for cell in records[0]):
        records.pop(0)
    if not records:
        raise InputError(f"{name}: empty file, expected a header row")
    header = [cell.strip() for cell in records[0]]
    if key_column not in header:
        raise InputError(f"{name}:1: no column {key_column!r} (columns: {', '.join(header)})")
    if columns is not None:
        unknown = [column for column in header if column and column not in columns]
        if unknown:
            raise InputError(f"{name}:1: column {unknown[0]!r} is not a param of the flow")
    rowset = RowSet()
    seen: dict[str, int] = {}
    key_index = header.index(key_column)
    for line, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header):
            rowset.problems.append(
                Problem(name, line, f"{len(record)} cells but the header has {len(header)}")
            )
            continue
        params = {
            column: record[index].strip()
            for index, column in enumerate(header)
            if column and index < len(record) and record[index].strip() != ""
        }
        key = record[key_index].strip() if key_index < len(record) else ""
        if not key:
            rowset.problems.append(Problem(name, line, f"missing {key_column}"))
            continue
        if key in seen:
            rowset.problems.append(
                Problem(name, line, f"duplicate {key_column} {key!r} (first on line {seen[key]})")
            )
            continue
        seen[key] = line
        rowset.rows.append(InputRow(key, params, name, line))
    return _finish(rowset, [name], strict, "rows")
