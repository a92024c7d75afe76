"""Deterministic slices of a row list (`--shard K/N`), so N machines can split one list with
no coordination: a row belongs to the shard its key's SHA-256 names. Every key lands in
exactly one shard, the same on every machine, whatever the order or the other rows."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from agent.bulk.rows import RowSet
from agent.errors import UserError
from agent.i18n import N_, told

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
MAX_SHARDS = 1000


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written: the K of K/N
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index


def shard_of(key: str, count: int) -> int:
    """The 1-based shard of `key` among `count`."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse_shard(text: str) -> Shard:
    found = _SHARD.match(text or "")
    if not found:
        raise UserError(told(N_("--shard {text}: expected K/N, such as 1/3"), text=text))
    index, count = int(found[1]), int(found[2])
    if not 1 <= count <= MAX_SHARDS or not 1 <= index <= count:
        raise UserError(
            told(
                N_("--shard {text}: K must be from 1 to N, and N from 1 to {most}"),
                text=text,
                most=MAX_SHARDS,
            )
        )
    return Shard(index, count)


def take_shard(rowset: RowSet, shard: Shard | None) -> RowSet:
    """The rows of `shard` (all of them when None), in their input order; the problems and
    notes of the whole input stay, so every machine warns about the same bad rows."""
    if shard is None:
        return rowset
    return RowSet(
        rows=[row for row in rowset.rows if shard.holds(row.key)],
        problems=list(rowset.problems),
        notes=list(rowset.notes),
    )
