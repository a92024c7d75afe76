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
        tmp_path / "s.yaml", "email: file@example.com\npassword: file-pass\napi_key: k-123\n"
    )
    clean_env.setenv("SELLER_AGENT_PASSWORD", "env-pass")
    secrets = load_secrets(path)
    assert secrets.email == "file@example.com"
    assert secrets.password == "env-pass"
    assert secrets.totp_secret == DEMO_ACCOUNT["totp_secret"]
    assert secrets.values()["api_key"] == "k-123"


def test_default_file_location_is_used(clean_env, tmp_path):
    folder = tmp_path / "config" / "seller-agent"
    folder.mkdir(parents=True)
    private_file(folder / "secrets.yaml", "password: from-default\n")
    assert load_secrets().password == "from-default"


def test_redact_masks_every_secret_everywhere(clean_env):
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
