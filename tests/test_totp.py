from agent.flow import totp

# RFC 6238 appendix B, SHA-1 key "12345678901234567890", truncated to our 6 digits.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_rfc6238_vectors():
    assert totp.totp(RFC_SECRET, at=59) == "287082"
    assert totp.totp(RFC_SECRET, at=1111111109) == "081804"
    assert totp.totp(RFC_SECRET, at=1234567890) == "005924"


def test_verify_accepts_one_step_of_skew_and_no_more():
    now = 1_700_000_000
    assert totp.verify(RFC_SECRET, totp.totp(RFC_SECRET, now - 30), at=now)
    assert totp.verify(RFC_SECRET, totp.totp(RFC_SECRET, now + 30), at=now)
    assert not totp.verify(RFC_SECRET, totp.totp(RFC_SECRET, now - 90), at=now)


def test_verify_rejects_malformed_codes():
    for code in ["", "12345", "1234567", "abcdef", None]:
        assert not totp.verify(RFC_SECRET, code, at=0)


def test_bad_secret_is_reported():
    try:
        totp.totp("not base32!")
    except totp.BadSecret as error:
        assert "base32" in str(error)
    else:
        raise AssertionError("a bad secret must raise BadSecret")


def test_only_ascii_digits_make_a_code():
    now = 1_800_000_000
    code = totp.totp(RFC_SECRET, now)
    wide = "".join(chr(ord(digit) + 0xFEE0) for digit in code)  # full-width digits
    assert not totp.verify(RFC_SECRET, wide, at=now)
