import os

import pytest

from agent.errors import SecretsError
from agent.play.secrets import DEMO_ACCOUNT, load_secrets


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("SELLER_AGENT_EMAIL", "SELLER_AGENT_PASSWORD", "SELLER_AGENT_TOTP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return monkeypatch


def private_file(path, text):
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def test_demo_account_when_nothing_is_configured(clean_env):
    secrets = load_secrets()
    assert secrets.values() == DEMO_ACCOUNT
    assert secrets.source == "demo account"


def test_environment_wins_over_the_file(clean_env, tmp_path):
    path = private_file(
        tmp_path / "s.yaml",
        "email: file@example.com\npassword: file-pass\ntotp_secret: GEZDGNBVGY3TQOJQ\n"
        "api_key: k-123\n",
    )
    clean_env.setenv("SELLER_AGENT_PASSWORD", "env-pass")
    secrets = load_secrets(path)
    assert secrets.email == "file@example.com"
    assert secrets.password == "env-pass"
    assert secrets.totp_secret == "GEZDGNBVGY3TQOJQ"
    assert secrets.values()["api_key"] == "k-123"


def test_an_account_given_in_part_is_never_filled_from_the_demo_account(clean_env, tmp_path):
    # Filled in, the demo password would go to the user's own portal.
    path = private_file(tmp_path / "s.yaml", "email: me@example.com\n")
    with pytest.raises(SecretsError) as caught:
        load_secrets(path)
    assert str(caught.value) == (
        f"{path}: the account has no password, totp_secret; give them in the secrets file or "
        "as SELLER_AGENT_PASSWORD, SELLER_AGENT_TOTP_SECRET (the demo account is used only "
        "when no account detail is given)"
    )
    empty = private_file(tmp_path / "empty.yaml", "")
    with pytest.raises(SecretsError, match="the account has no email, password, totp_secret"):
        load_secrets(empty)  # a file named on purpose is the user's account, even empty
    clean_env.setenv("SELLER_AGENT_EMAIL", "me@example.com")
    with pytest.raises(SecretsError, match="^environment: the account has no password"):
        load_secrets()
    # Nothing given anywhere: the bundled portal's demo account.
    clean_env.delenv("SELLER_AGENT_EMAIL")
    assert load_secrets().password == DEMO_ACCOUNT["password"]


def test_a_totp_secret_that_is_no_base32_key_is_refused_before_any_browser(clean_env, tmp_path):
    path = private_file(
        tmp_path / "s.yaml", "email: me@example.com\npassword: pw-1\ntotp_secret: not base32!!\n"
    )
    with pytest.raises(SecretsError, match=r"s.yaml: totp_secret is not a base32 key"):
        load_secrets(path)
    # As people copy it: spaces, dashes, lower case.
    spaced = private_file(
        tmp_path / "t.yaml",
        "email: me@example.com\npassword: pw-1\ntotp_secret: jbsw y3dp-ehpk 3pxp\n",
    )
    assert load_secrets(spaced).totp_secret == "jbsw y3dp-ehpk 3pxp"


def test_default_file_location_is_used(clean_env, tmp_path):
    folder = tmp_path / "config" / "seller-agent"
    folder.mkdir(parents=True)
    private_file(
        folder / "secrets.yaml",
        "email: me@example.com\npassword: from-default\ntotp_secret: JBSWY3DPEHPK3PXP\n",
    )
    assert load_secrets().password == "from-default"


def test_redact_masks_every_secret_everywhere(clean_env):
    clean_env.setenv("SELLER_AGENT_EMAIL", "seller@example.com")
    clean_env.setenv("SELLER_AGENT_PASSWORD", "s3cr3t")
    clean_env.setenv("SELLER_AGENT_TOTP_SECRET", "s3cr3tTOTP")
    secrets = load_secrets()
    text = "login seller@example.com with s3cr3t and s3cr3tTOTP"
    assert secrets.redact(text) == "login *** with *** and ***"
    assert secrets.redact_data({"a": ["s3cr3t", 1], "b": "x"}) == {"a": ["***", 1], "b": "x"}
    assert "s3cr3t" not in repr(secrets) and "seller@example.com" not in repr(secrets)
    secrets.add("pin", "9876")
    assert secrets.redact("pin 9876") == "pin ***"


def test_a_file_others_can_read_is_refused(clean_env, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("password: x\n")
    os.chmod(path, 0o644)
    with pytest.raises(SecretsError) as caught:
        load_secrets(path)
    assert (
        str(caught.value)
        == f"{path}: the secrets file is readable by other users; run `chmod 600 {path}`"
    )


def test_missing_or_malformed_files(clean_env, tmp_path):
    with pytest.raises(SecretsError) as caught:
        load_secrets(tmp_path / "none.yaml")
    assert (
        str(caught.value)
        == f"{tmp_path / 'none.yaml'}: cannot read the secrets file (No such file or directory)"
    )
    bad = private_file(tmp_path / "bad.yaml", "password: [x\n")
    with pytest.raises(SecretsError) as caught:
        load_secrets(bad)
    assert str(caught.value).startswith(f"{bad}:") and "not valid YAML" in str(caught.value)
    listed = private_file(tmp_path / "list.yaml", "- a\n")
    with pytest.raises(SecretsError) as caught:
        load_secrets(listed)
    assert str(caught.value) == f"{listed}: expected a mapping such as `password: ...`"


@pytest.mark.parametrize(
    "written",
    ["012345", "0x1F", "1_000", "+42", "190:20:30", "1e5", "3.10", "yes", "off", "2026-11-30"],
)
def test_a_value_yaml_would_read_as_a_number_or_date_is_kept_as_written(
    clean_env, tmp_path, written
):
    # Unquoted, YAML 1.1 reads 012345 as the octal 5349, 190:20:30 as 685230, yes as true:
    # a password typed as the portal takes it must reach the portal as typed.
    path = private_file(
        tmp_path / "s.yaml",
        f"email: me@example.com\npassword: {written}\ntotp_secret: GEZDGNBVGY3TQOJQ\n"
        f"api_key: {written}\n",
    )
    secrets = load_secrets(path)
    assert secrets.password == written
    assert secrets.values()["api_key"] == written


def test_typed_values_are_masked_in_every_encoding_but_never_offered_to_templates(clean_env):
    secrets = load_secrets()
    secrets.hide("493017")
    assert "493017" not in secrets.values().values()
    body = (
        "email=seller%40example.com&otp=493017 | seller%40example.com"
        ' | {"q":"\\"seller@example.com\\""} | next=%2Fsearch%3Fq%3Dseller%2540example.com'
        " | %7B%22otp%22%3A%22493017%22%7D | seller%2540example.com"
    )
    redacted = secrets.redact(body)
    assert "seller" not in redacted and "493017" not in redacted
    assert redacted.startswith("email=***&otp=*** | ***")
    assert "%22***%22" in redacted
    assert secrets.redact_bytes(body.encode()) == redacted.encode()
    # Short values are not masked: they would blank out half of every text.
    secrets.hide("ab")
    assert secrets.redact("ab cd") == "ab cd"


def test_a_code_inside_a_longer_number_is_left_alone(clean_env):
    secrets = load_secrets()
    secrets.hide("123456")
    text = '{"wallTime":1712345678901,"order":"112-1234567-0123456","otp":"123456"}'
    assert secrets.redact(text) == (
        '{"wallTime":1712345678901,"order":"112-1234567-0123456","otp":"***"}'
    )
    assert secrets.redact("code=123456&next") == "code=***&next"
