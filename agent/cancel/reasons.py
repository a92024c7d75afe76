"""Cancellation reasons as Seller Central names them: a code, an English and a Chinese label."""

from __future__ import annotations

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
