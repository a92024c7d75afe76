"""Errors shared by the engine and the commands, and how a Playwright failure is classified."""

from __future__ import annotations

import re

# Playwright's messages carry a multi-line call log and ANSI colours; users get the first line.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_API_PREFIX = re.compile(r"^(?:[A-Z][A-Za-z]*\.)?[a-z_]+[A-Za-z_]*: ")
# What follows the API's name in Playwright's messages ("Locator.fill: Error: Element is not
# ..."): the line already says it is an error.
_ERROR_PREFIX = re.compile(r"^(?:(?:[A-Z][A-Za-z]*)?Error: )+")


class SellerAgentError(Exception):
    """Base of the errors a user can cause or meet; str() is one readable line.

    `exit_code` is what the command line exits with; the CLI maps it in one place."""

    exit_code = 1


class UserError(SellerAgentError):
    """Something the user gave is wrong (a file, a flag, a row, a flow): exit code 2, and
    nothing was started or written."""

    exit_code = 2


class SecretsError(UserError):
    """The secrets file is unreadable, malformed or readable by other users."""


class SessionError(SellerAgentError):
    """Signing in failed (wrong password, wrong code, locked account, sign-in loop)."""


class StepError(SellerAgentError):
    """A step could not be done; `kind` is one of RunResult's error kinds."""

    def __init__(self, message: str, kind: str = "step", retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def one_line(text: object) -> str:
    """The first meaningful line of an error message, without ANSI colours or API prefixes."""
    cleaned = _ANSI.sub("", str(text)).strip()
    first = next((line.strip() for line in cleaned.splitlines() if line.strip()), "")
    first = _ERROR_PREFIX.sub("", _API_PREFIX.sub("", first))
    return first.rstrip(".") if first.endswith("..") else first


# What Playwright's call log says held an action back, in its own words ("element is not
# stable", "<div class="veil"> intercepts pointer events").
_HELD_BACK = re.compile(
    r"^\s*- ((?:element is (?:not|outside) [a-z ]+)|(?:.+ intercepts pointer events)|"
    r"(?:did not find some options))\s*$",
    re.MULTILINE,
)


def held_back(text: object) -> str | None:
    """The last reason Playwright's call log gives for not acting on an element, or None."""
    found = _HELD_BACK.findall(_ANSI.sub("", str(text)))
    return found[-1][:200] if found else None


def playwright_error_kind(error: BaseException) -> str:
    """The RunResult error kind of a Playwright exception."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    if isinstance(error, PlaywrightTimeout):
        return "timeout"
    message = str(error)
    if "net::ERR_" in message or "NS_ERROR_" in message or "Connection refused" in message:
        return "network"
    if "Timeout" in message and "exceeded" in message:
        return "timeout"
    return "step"
