from agent.cancel.reasons import REASONS, label, parse_reason


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


def test_the_portal_and_the_tool_agree_on_reason_codes_and_labels():
    from mock_portal.reasons import REASONS as PORTAL_REASONS

    assert PORTAL_REASONS == REASONS


def test_the_portal_accepts_the_codes_the_tool_computes():
    from agent.flow import totp as tool_totp
    from mock_portal import totp as portal_totp

    secret = "JBSWY3DPEHPK3PXP"
    for moment in (59, 1_700_000_000, 1_800_000_015):
        assert portal_totp.totp(secret, moment) == tool_totp.totp(secret, moment)
        assert portal_totp.verify(secret, tool_totp.totp(secret, moment), at=moment)
