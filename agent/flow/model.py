"""The flow model: what a validated flow file becomes, and its error."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.errors import UserError
from agent.i18n import _

DEFAULT_TIMEOUT_MS = 15000
SECRET_NAMES = ("email", "password", "totp_secret")
NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PARAM_TYPES = ("string", "integer", "number", "boolean")
PARAM_KEYS = ("type", "required", "default", "pattern", "choices", "secret", "description")
TOP_KEYS = (
    "name",
    "summary",
    "params",
    "session",
    "login_page",
    "steps",
    "outcomes",
    "success",
    "timeout",
)
COMMON_STEP_KEYS = ("name", "timeout", "optional", "when")
WAIT_STATES = ("visible", "hidden", "attached", "detached")
MOUSE_BUTTONS = ("left", "right", "middle")
CONDITION_KEYS = (
    "text",
    "url",
    "title",
    "given",
    "target",
    "count",
    "value",
    "any",
    "all",
    "not",
)


class FlowError(UserError):
    """A flow file or its params are wrong. str() is "source:line: message" (line when known)."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line

    def __str__(self) -> str:
        if self.source and self.line:
            return f"{self.source}:{self.line}: {self.message}"
        if self.source:
            return f"{self.source}: {self.message}"
        return self.message


class Param(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = "string"
    required: bool = False
    default: Any = None
    pattern: str | None = None
    choices: list[Any] | None = None
    secret: bool = False
    description: str | None = None


class Step(BaseModel):
    """One step: its kind, its normalised arguments, and where it was written."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: str
    args: dict[str, Any]
    name: str | None = None
    timeout: int | None = None
    optional: bool = False
    when: dict[str, Any] | None = None
    line: int | None = None
    path: str = ""

    def label(self) -> str:
        """How errors and reports name the step: its name, else kind and line."""
        where = f"line {self.line}" if self.line else self.path
        return f"{self.name or self.kind} ({where})"


class Flow(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    summary: str = ""
    params: dict[str, Param] = {}
    session: str | None = None
    session_flow: Flow | None = None
    login_page: dict[str, Any] | None = None
    steps: list[Step]
    outcomes: dict[str, dict[str, Any]] = {}
    success: list[str] = []
    timeout: int = DEFAULT_TIMEOUT_MS
    source: Path | None = None

    def sign_in_page(self) -> dict[str, Any]:
        """The condition that recognises the sign-in page (see docs/flows.md, `login_page`)."""
        if self.login_page:
            return self.login_page
        if self.session_flow is not None:
            return self.session_flow.sign_in_page()
        return {"kind": "url", "value": "/ap/signin"}


def suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return _(" (did you mean '{word}'?)").format(word=close[0]) if close else ""
