"""Cancellation reasons as Seller Central names them: a code, an English and a Chinese label,
and reading a reason a person typed in either language."""

from __future__ import annotations

# One table for the tool (agent.i18n holds it, below every layer that shows a reason).
from agent.i18n import REASONS


def _fold(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


_LOOKUP = {
    _fold(name): code for code, labels in REASONS.items() for name in (code, *labels.values())
}


def parse_reason(text: str) -> str | None:
    """The reason code for a code or label in either language, ignoring case, spaces and
    punctuation ("buyer canceled", "BUYER_CANCELED", "买家取消" -> "BuyerCanceled"); None if unknown."""
    return _LOOKUP.get(_fold(text or ""))


def label(code: str, lang: str = "en") -> str:
    return REASONS[code].get(lang, REASONS[code]["en"])
