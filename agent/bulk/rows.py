"""Input rows for bulk runs: reading files people hand the tool, and generic CSV rows bound to a
flow's params. Everything is validated before any browser starts, and every problem names its
file and line ("orders.csv:7: malformed order id '12-34'")."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from agent.errors import UserError


class InputError(UserError):
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


def read_text(source: str, stdin: TextIO | None) -> tuple[str, str]:
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


def looks_like_csv(name: str, text: str) -> bool:
    if name.lower().endswith((".csv", ".tsv")):
        return True
    first = next((line for line in text.split("\n") if line.strip()), "")
    return "," in first or "\t" in first


def _fold(text: str) -> str:
    return text.strip().casefold().replace(" ", "_").replace("-", "_")


def find_column(header: list[str], names: Iterable[str]) -> int | None:
    folded = [_fold(cell) for cell in header]
    for name in names:
        if _fold(name) in folded:
            return folded.index(_fold(name))
    return None


def finish(rowset: RowSet, names: list[str], strict: bool, what: str) -> RowSet:
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
    name, text = read_text(source, stdin)
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
    return finish(rowset, [name], strict, "rows")
