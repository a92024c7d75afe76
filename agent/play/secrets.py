"""Account secrets: from the environment, else a secrets file, else the bundled portal's demo account.

Secrets never live in a flow file. Everything the engine prints or stores passes through
`Secrets.redact`, which replaces every secret value with ***.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from agent.errors import SecretsError

ENV_NAMES = {
    "email": "SELLER_AGENT_EMAIL",
    "password": "SELLER_AGENT_PASSWORD",
    "totp_secret": "SELLER_AGENT_TOTP_SECRET",
}
DEMO_ACCOUNT = {
    "email": "seller@example.com",
    "password": "demo-password",
    "totp_secret": "JBSWY3DPEHPK3PXP",
}
MASK = "***"


def default_secrets_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "seller-agent" / "secrets.yaml"


@dataclass
class Secrets:
    """The account's email, password and TOTP secret, plus any extra secret values by name."""

    email: str
    password: str
    totp_secret: str
    extra: dict[str, str] = field(default_factory=dict)
    source: str = "demo account"

    def values(self) -> dict[str, str]:
        return {
            **self.extra,
            "email": self.email,
            "password": self.password,
            "totp_secret": self.totp_secret,
        }

    def add(self, name: str, value: str) -> None:
        """Treat one more value (a `secret: true` flow param) as a secret."""
        self.extra[name] = value

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for value in sorted(
            {v for v in self.values().values() if v and len(v) >= 3}, key=len, reverse=True
        ):
            text = text.replace(value, MASK)
        return text

    def redact_data(self, data: object) -> object:
        """redact() applied to every string inside lists and dicts."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, list):
            return [self.redact_data(item) for item in data]
        if isinstance(data, dict):
            return {key: self.redact_data(value) for key, value in data.items()}
        return data

    def __repr__(self) -> str:
        return f"Secrets(email={MASK}, password={MASK}, totp_secret={MASK}, source={self.source!r})"


def _read_file(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SecretsError(f"{path}: cannot read the secrets file ({error.strerror})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"{path}: the secrets file is readable by other users; run `chmod 600 {path}`"
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f"{path}:{line + 1}" if line is not None else str(path)
        raise SecretsError(f"{where}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SecretsError(f"{path}: expected a mapping such as `password: ...`")
    result = {}
    for key, value in data.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise SecretsError(f"{path}: {key}: expected a text value")
        result[str(key)] = str(value)
    return result


def load_secrets(path: Path | None = None) -> Secrets:
    """Secrets by name: each from its environment variable, else the file, else the demo account.

    `path` is the secrets file (default ~/.config/seller-agent/secrets.yaml); a missing default
    file is fine, a missing explicit one is an error.
    """
    file_values: dict[str, str] = {}
    source_path = Path(path) if path else default_secrets_path()
    if path is not None or source_path.exists():
        file_values = _read_file(source_path)
    chosen: dict[str, str] = {}
    sources = set()
    for name, env in ENV_NAMES.items():
        if os.environ.get(env):
            chosen[name] = os.environ[env]
            sources.add("environment")
        elif file_values.get(name):
            chosen[name] = file_values[name]
            sources.add(str(source_path))
        else:
            chosen[name] = DEMO_ACCOUNT[name]
            sources.add("demo account")
    extra = {k: v for k, v in file_values.items() if k not in ENV_NAMES}
    return Secrets(**chosen, extra=extra, source=", ".join(sorted(sources)))
