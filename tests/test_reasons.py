from agent.reasons import REASONS, label, parse_reason


def test_codes_and_labels_in_both_languages_parse():
    for code, labels in REASONS.items():
        assert parse_reason(code) == code
        assert parse_reason(code.upper()) == code
        assert parse_reason(labels["en"]) == code
        assert parse_reason(labels["zh-CN"]) == code


def test_loose_spelling_is_accepted_and_unknown_is_none():
    assert parse_reason("buyer_canceled") == "BuyerCanceled"
    assert parse_reason(" pricing error ") == "PricingError"
    assert parse_reason("refund") is None
    assert parse_reason("") is None


def test_label_falls_back_to_english():
    assert label("NoInventory", "fr") == "No Inventory"
    assert label("NoInventory", "zh-CN") == "无库存"
