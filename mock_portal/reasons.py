"""The portal's cancellation reasons: the codes its Cancel order form posts and the labels it
shows, in English and in Seller Central's Chinese. The tool keeps its own table; a test checks
that both agree on the codes."""

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
