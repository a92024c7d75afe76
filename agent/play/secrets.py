"""Account secrets: from the environment, else a secrets file, else the bundled portal's demo account.

Secrets never live in a flow file. Everything the engine prints or stores passes through
`Secrets.redact` (or `redact_bytes`), which replaces every secret value with ***, and every
value typed into a sign-in (the one-time code included) once the player has reported it with
`Secrets.hide`. A value is masked as written and in the forms a page, a request body or a
trace stores it in: URL-encoded, JSON-escaped, HTML-escaped.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, quote_plus

import yaml

from agent.errors import SecretsError
from agent.i18n import N_, _, told

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
MIN_LENGTH = 3  # shorter values would mask half of every text


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
    # Values typed into a sign-in or computed from a secret (one-time codes): masked like the
    # secrets, but never offered to templates.
    typed: set[str] = field(default_factory=set, repr=False)

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

    def hide(self, value: str) -> None:
        """Mask one more value from now on (something typed into a sign-in, a one-time code)."""
        if value and len(value) >= MIN_LENGTH:
            self.typed.add(value)

    def hidden(self) -> frozenset[str]:
        """Every value redact() masks, as written."""
        values = {v for v in self.values().values() if v and len(v) >= MIN_LENGTH}
        return frozenset(values | self.typed)

    def redact(self, text: str) -> str:
        pattern = _pattern(self.hidden(), False)
        return pattern.sub(MASK, text) if pattern is not None else text

    def redact_bytes(self, data: bytes) -> bytes:
        """redact() for bytes holding text in UTF-8 (trace files, request bodies)."""
        pattern = _pattern(self.hidden(), True)
        return pattern.sub(MASK.encode(), data) if pattern is not None else data

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


def encoded_forms(value: str) -> set[str]:
    """value as written and as a URL (also one inside another URL), a form body, a JSON string
    (also one nested in another JSON string) and HTML text store it."""
    forms = {value, html.escape(value), html.escape(value, quote=False)}
    once = quote(value, safe="")
    # Twice: a URL carried inside another URL's query (`next=...`).
    for encoded in (once, quote_plus(value, safe=""), quote(once, safe="")):
        forms.add(encoded)
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda match: match[0].lower(), encoded))
    for ascii_only in (True, False):
        in_json = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        forms.add(in_json)
        forms.add(json.dumps(in_json, ensure_ascii=ascii_only)[1:-1])
    return {form for form in forms if form}


def _alternative(form: str, numeric: bool) -> str:
    escaped = re.escape(form)
    if not numeric:
        return escaped
    # A one-time code is digits: the same digits inside a longer number (a timestamp, an
    # order id) are not the code, and masking them would corrupt that number. A %XX escape
    # just before it (`%22123456` in an encoded JSON body) still counts as a boundary.
    return rf"(?:(?<![0-9])|(?<=%[0-9A-Fa-f]{{2}})){escaped}(?![0-9])"


@lru_cache(maxsize=64)
def _pattern(values: frozenset[str], as_bytes: bool) -> re.Pattern | None:
    alternatives = {(form, value.isdigit()) for value in values for form in encoded_forms(value)}
    if not alternatives:
        return None
    # Longest first, so a value that contains another is masked whole.
    ordered = sorted(alternatives, key=lambda item: (-len(item[0]), item[0]))
    source = "|".join(_alternative(form, numeric) for form, numeric in ordered)
    return re.compile(source.encode() if as_bytes else source)


def _read_file(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise SecretsError(
            told(N_("{path}: cannot read the secrets file ({why})"), path=path, why=error.strerror)
        ) from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            told(
                N_("{path}: the secrets file is readable by other users; run `chmod 600 {path}`"),
                path=path,
            )
        )
    # Imported here: the flow package is heavy, and a report (which only redacts) needs none
    # of it.
    from agent.flow.lines import ExpandsTooFar, load_yaml

    try:
        data = load_yaml(text, _TextLoader)
    except ExpandsTooFar as error:
        raise SecretsError(
            told(N_("{where}: not valid YAML: {why}"), where=f"{path}:{error.line}", why=error.why)
        ) from None
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f"{path}:{line + 1}" if line is not None else str(path)
        raise SecretsError(told(N_("{where}: not valid YAML"), where=where)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SecretsError(
            told(N_("{path}: expected a mapping such as `password: ...`"), path=path)
        )
    result = {}
    for key, value in data.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise SecretsError(told(N_("{path}: {key}: expected a text value"), path=path, key=key))
        result[str(key)] = str(value)
    return result


class _TextLoader(yaml.SafeLoader):
    """A YAML loader that keeps every plain value as written: unquoted, YAML 1.1 reads a
    password 012345 as the octal number 5349, 190:20:30 as 685230 and yes as true, and the
    portal would be sent what the user never typed."""


def _as_written(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(node.value)


for _tag in ("int", "float", "bool", "timestamp"):
    _TextLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _as_written)


def _base32(secret: str) -> bool:
    """Whether a TOTP secret decodes as base32 (spaces, dashes and case as people type it),
    as agent.flow.totp reads it. Not asked of that module: importing it loads the whole flow
    package (about 100 ms), which a report, redacting only, would then pay."""
    cleaned = secret.replace(" ", "").replace("-", "").upper()
    try:
        return bool(base64.b32decode(cleaned + "=" * (-len(cleaned) % 8), casefold=True))
    except (binascii.Error, ValueError):
        return False


def load_secrets(path: Path | None = None) -> Secrets:
    """Secrets by name: each from its environment variable, else the file. When no detail of
    an account is given anywhere (and no file is named), the bundled portal's demo account.
    SecretsError when an account is given only in part, or its TOTP secret is no base32 key.

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
            sources.add(N_("environment"))
        elif file_values.get(name):
            chosen[name] = file_values[name]
            sources.add(str(source_path))
    # The demo account stands in only when no detail of an account is given at all: filling
    # the gaps of the user's own account with it would send the demo password to their portal.
    if chosen or path is not None:
        missing = [name for name in ENV_NAMES if name not in chosen]
        if missing:
            raise SecretsError(
                told(
                    N_(
                        "{source}: the account has no {names}; give them in the secrets file "
                        "or as {variables} (the demo account is used only when no account "
                        "detail is given)"
                    ),
                    source=source_path if path is not None or file_values else _("environment"),
                    names=", ".join(missing),
                    variables=", ".join(ENV_NAMES[name] for name in missing),
                )
            )
        if not _base32(chosen["totp_secret"]):
            raise SecretsError(
                told(
                    N_(
                        "{source}: totp_secret is not a base32 key (the letters A-Z and digits "
                        "2-7 the portal showed when two-step verification was set up)"
                    ),
                    source=source_path if file_values.get("totp_secret") else _("environment"),
                )
            )
    else:
        chosen = dict(DEMO_ACCOUNT)
        sources.add(N_("demo account"))
    extra = {k: v for k, v in file_values.items() if k not in ENV_NAMES}
    return Secrets(**chosen, extra=extra, source=", ".join(sorted(sources)))
