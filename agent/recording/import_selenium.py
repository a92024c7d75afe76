"""Selenium IDE projects (.side) -> flows, one per test.

The common commands are translated (open, click, type, select, send keys, assert/verify text
and element, wait for element, store); any other command is refused by name. A command's
`target` and its alternative `targets` become target fallbacks in the same order; `${name}`
variables become `{{ name }}` templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from agent.i18n import N_, as_told, told
from agent.recording.common import (
    PASSWORD_HINTS,
    SESSION_FLOW,
    SIGN_IN_HINTS,
    SIGN_IN_LANDING,
    RecordingError,
    flow_name,
    is_sign_in_url,
    literal_text,
    on_portal,
    order_id_params,
    param_specs,
    parameterize,
    read_json,
    relative_url,
    template_names,
    validate,
)

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEY = re.compile(r"\$\{KEY_([A-Z0-9_]+)\}")
# Selenium's Keys names -> Playwright key names, for the keys people send in recordings.
KEYS = {
    "ENTER": "Enter",
    "RETURN": "Enter",
    "TAB": "Tab",
    "ESCAPE": "Escape",
    "ESC": "Escape",
    "BACKSPACE": "Backspace",
    "BACK_SPACE": "Backspace",
    "DELETE": "Delete",
    "DEL": "Delete",
    "SPACE": "Space",
    "UP": "ArrowUp",
    "DOWN": "ArrowDown",
    "LEFT": "ArrowLeft",
    "RIGHT": "ArrowRight",
    "ARROW_UP": "ArrowUp",
    "ARROW_DOWN": "ArrowDown",
    "ARROW_LEFT": "ArrowLeft",
    "ARROW_RIGHT": "ArrowRight",
    "HOME": "Home",
    "END": "End",
    "PAGE_UP": "PageUp",
    "PAGE_DOWN": "PageDown",
    "PAGEUP": "PageUp",
    "PAGEDOWN": "PageDown",
}
_CSS_IDENT = re.compile(r"^[A-Za-z_][\w-]*$")
_TESTID_CSS = re.compile(r"""^\[data-testid=(?:"([^"]*)"|'([^']*)'|([\w-]+))\]$""")


class _Refused(Exception):
    """One command cannot be translated; the message (a Told) says why, in a few words."""


def convert_locator(locator: str) -> list[dict[str, Any]]:
    """One Selenium IDE locator (`id=x`, `css=...`, `xpath=...`, `linkText=...`) as target
    candidates (one, or two for a link text)."""
    locator = locator.strip()
    strategy, sep, value = locator.partition("=")
    if locator.startswith("//") or locator.startswith("(//"):
        return [{"xpath": locator}]
    if not sep or not value:
        raise _Refused(
            told(
                N_("locator {locator!r} has no strategy (id=, name=, css=, xpath=, linkText=)"),
                locator=locator,
            )
        )
    if strategy == "id":
        return [{"css": f"#{value}" if _CSS_IDENT.match(value) else f'[id="{value}"]'}]
    if strategy == "name":
        return [{"css": f'[name="{value}"]'}]
    if strategy == "css":
        match = _TESTID_CSS.match(value)
        if match:
            return [{"testid": next(group for group in match.groups() if group is not None)}]
        return [{"css": value}]
    if strategy == "xpath":
        return [{"xpath": value}]
    # Selenium IDE records a link text for what looks like a link, and portals style buttons
    # as links and links as buttons (Seller Central's Action > Cancel order is a button): the
    # text names a link, else a button, as the IDE's own click would find it.
    if strategy in ("linkText", "link"):
        return [
            {"role": "link", "name": value, "exact": True},
            {"role": "button", "name": value, "exact": True},
        ]
    if strategy == "partialLinkText":
        return [{"role": "link", "name": value}, {"role": "button", "name": value}]
    raise _Refused(told(N_("locator strategy {strategy!r} is not supported"), strategy=strategy))


def _targets(command: Mapping[str, Any]) -> dict | list:
    candidates: list[dict] = []
    locators = [command.get("target", "")]
    for item in command.get("targets") or []:
        if isinstance(item, list) and item and isinstance(item[0], str):
            locators.append(item[0])
    for locator in locators:
        if not isinstance(locator, str) or not locator.strip():
            continue
        for spec in convert_locator(_variables(locator)):
            if spec not in candidates:
                candidates.append(spec)
    if not candidates:
        raise _Refused(told(N_("the command has no target")))
    return candidates[0] if len(candidates) == 1 else candidates


def _variables(text: str) -> str:
    """Selenium's `${name}` as `{{ name }}`; anything else that would open a template is text."""
    return _VARIABLE.sub(
        lambda match: "{{ " + match.group(1) + " }}", literal_text(text, placeholders=False)
    )


class _TestTranslator:
    def __init__(
        self,
        project: Mapping[str, Any],
        test: Mapping[str, Any],
        *,
        source: str,
        portal: str | None,
        params: Mapping[str, str],
        skip_unsupported: bool,
        warn: Callable[[str], None],
    ):
        self.base_url = project.get("url") or ""
        self.test = test
        self.source = source
        self.portal = portal or self.base_url or None
        self.params = dict(params)
        self.skip_unsupported = skip_unsupported
        self.warn = warn
        self.steps: list[dict[str, Any]] = []
        self.stored: dict[str, dict] = {}
        self.typed: list[str] = []
        self.in_sign_in = False
        self.sign_in_landing: str | None = None
        self.used_session = False

    def run(self) -> dict[str, Any]:
        test_name = self.test.get("name") or "test"
        commands = self.test.get("commands")
        if not isinstance(commands, list):
            raise RecordingError(
                told(
                    N_("{file}: test {test} has no 'commands' list"),
                    file=self.source,
                    test=repr(test_name),
                )
            )
        for index, command in enumerate(commands, start=1):
            where = told(
                N_("{file}: test {test}, command {index}"),
                file=self.source,
                test=repr(test_name),
                index=index,
            )
            if not isinstance(command, dict):
                raise RecordingError(told(N_("{where}: a command must be an object"), where=where))
            name = command.get("command")
            if not isinstance(name, str):
                raise RecordingError(
                    told(N_("{where}: the command has no 'command' name"), where=where)
                )
            if not name or name.startswith("//"):
                continue  # disabled in the IDE
            try:
                self._command(name, command)
            except _Refused as refusal:
                message = told(
                    N_("{where} ({kind}): {why}"), where=where, kind=name, why=as_told(refusal)
                )
                if not self.skip_unsupported:
                    raise RecordingError(message) from None
                self.warn(told(N_("skipped {message}"), message=message))
        return self._flow(test_name)

    def _command(self, name: str, command: Mapping[str, Any]) -> None:
        target = str(command.get("target") or "")
        value = str(command.get("value") or "")
        if name == "open":
            if not target:
                raise _Refused(told(N_("'open' needs a URL")))
            url = urljoin(self.base_url.rstrip("/") + "/", target) if self.base_url else target
            if is_sign_in_url(url):
                self._enter_sign_in(url)
                return
            self.in_sign_in = False
            self.steps.append({"goto": _variables(relative_url(url, self.portal))})
            return
        if self.in_sign_in:
            if SIGN_IN_HINTS.search(f"{target} {value} {command.get('targets') or ''}"):
                return
            self._finish_sign_in()
        handler = _HANDLERS.get(name)
        if handler is None:
            raise _Refused(
                told(
                    N_("the command {name!r} is not supported (supported: {known})"),
                    name=name,
                    known=", ".join(sorted(_HANDLERS)),
                )
            )
        handler(self, command, target, value)

    # -- commands -------------------------------------------------------------------------

    def click(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"click": _targets(command)})

    def double_click(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"click": {"target": _targets(command), "count": 2}})

    def type_text(self, command: Mapping[str, Any], target: str, value: str) -> None:
        if PASSWORD_HINTS.search(f"{target} {command.get('targets') or ''}"):
            self.warn(
                told(
                    N_("{file}: a typed password became {template}"),
                    file=self.source,
                    template="{{ password }}",
                )
            )
            text = "{{ password }}"
        else:
            self.typed.append(value)
            text = _variables(value)
        self.steps.append({"fill": {"target": _targets(command), "value": text}})

    def send_keys(self, command: Mapping[str, Any], target: str, value: str) -> None:
        spec = _targets(command)
        position = 0
        for match in _KEY.finditer(value):
            if match.start() > position:
                text = _variables(value[position : match.start()])
                self.steps.append({"type": {"target": spec, "value": text}})
            key = KEYS.get(match.group(1))
            if key is None:
                raise _Refused(
                    told(N_("key {key} is not supported"), key="${KEY_" + match.group(1) + "}")
                )
            self.steps.append({"press": {"target": spec, "key": key}})
            position = match.end()
        if position < len(value):
            self.steps.append({"type": {"target": spec, "value": _variables(value[position:])}})

    def select(self, command: Mapping[str, Any], target: str, value: str) -> None:
        kind, sep, option = value.partition("=")
        if not sep or kind not in ("label", "value"):
            raise _Refused(
                told(
                    N_("option {option!r}: only label=... and value=... are supported"),
                    option=value,
                )
            )
        self.steps.append({"select": {"target": _targets(command), "option": _variables(option)}})

    def check(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"check": _targets(command)})

    def uncheck(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"uncheck": _targets(command)})

    def hover(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"hover": _targets(command)})

    def expect_text(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"expect": {"target": _targets(command), "text": _variables(value)}})

    def expect_value(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"expect": {"target": _targets(command), "value": _variables(value)}})

    def expect_present(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"expect": _condition(_targets(command))})

    def expect_absent(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"expect": {"not": _condition(_targets(command))}})

    def expect_title(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self.steps.append({"expect": {"title": _variables(target)}})

    def _wait(self, command: Mapping[str, Any], value: str, state: str) -> None:
        step: dict[str, Any] = {"wait": {"target": _targets(command), "state": state}}
        if value.strip().isdigit():
            step["timeout"] = int(value)
        self.steps.append(step)

    def wait_present(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self._wait(command, value, "attached")

    def wait_visible(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self._wait(command, value, "visible")

    def wait_absent(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self._wait(command, value, "detached")

    def wait_hidden(self, command: Mapping[str, Any], target: str, value: str) -> None:
        self._wait(command, value, "hidden")

    def store(self, command: Mapping[str, Any], target: str, value: str) -> None:
        # `store` sets a variable to a fixed text: a param with that default, overridable per row.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise _Refused(told(N_("variable name {name!r} is not a valid name"), name=value))
        self.stored[value] = {"type": "string", "default": target}

    def store_text(self, command: Mapping[str, Any], target: str, value: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise _Refused(told(N_("variable name {name!r} is not a valid name"), name=value))
        self.steps.append({"extract": {"target": _targets(command), "as": value}})

    def set_window_size(self, command: Mapping[str, Any], target: str, value: str) -> None:
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", target)
        if not match:
            raise _Refused(told(N_("window size {size!r} is not WIDTHxHEIGHT"), size=target))
        self.steps.append(
            {"set_viewport": {"width": int(match.group(1)), "height": int(match.group(2))}}
        )

    def run_script(self, command: Mapping[str, Any], target: str, value: str) -> None:
        if value:
            raise _Refused(told(N_("storing a script's result is not supported")))
        self.steps.append({"evaluate": target})

    def close(self, command: Mapping[str, Any], target: str, value: str) -> None:
        # The run ends when the flow does; closing the window adds nothing.
        return

    def nothing(self, command: Mapping[str, Any], target: str, value: str) -> None:
        # `echo` writes to the IDE's own log and `debugger` pauses the IDE: neither acts on
        # the page, so a replay has nothing to do for them.
        return

    # -- sign-in ------------------------------------------------------------------------

    def _enter_sign_in(self, url: str) -> None:
        self.in_sign_in = True
        self.used_session = True
        query = parse_qs(urlsplit(url).query)
        self.sign_in_landing = query["next"][0] if query.get("next") else None

    def _finish_sign_in(self) -> None:
        self.in_sign_in = False
        landing, self.sign_in_landing = self.sign_in_landing, None
        last_goto = next((s["goto"] for s in reversed(self.steps) if "goto" in s), None)
        if (not landing or is_sign_in_url(landing)) and last_goto is None:
            landing = SIGN_IN_LANDING  # a replay must start on a page, not on about:blank
        if landing and not is_sign_in_url(landing):
            landing = relative_url(landing, self.portal)
            if landing != last_goto:
                self.steps.append({"goto": landing})

    def _flow(self, test_name: str) -> dict[str, Any]:
        new_params = order_id_params(self.typed, self.params)
        for name, value in new_params.items():
            self.warn(
                told(
                    N_("{file}: {value!r} looks like an order id: written as {template}"),
                    file=self.source,
                    value=value,
                    template="{{ " + name + " }}",
                )
            )
        given = {**self.params, **new_params}
        steps = parameterize(self.steps, given)
        if not steps:
            raise RecordingError(
                told(
                    N_("{file}: test {test} has nothing to replay once the sign-in is removed"),
                    file=self.source,
                    test=repr(test_name),
                )
            )
        flow: dict[str, Any] = {
            "name": flow_name(test_name, "imported"),
            "summary": f"Imported from Selenium IDE: {test_name}",
        }
        flow["params"] = param_specs(template_names(steps), given, self.stored)
        if self.used_session or on_portal(steps):
            flow["session"] = SESSION_FLOW
        flow["steps"] = steps
        return flow


def _condition(target: dict | list) -> dict:
    return target if isinstance(target, dict) else {"target": target}


_HANDLERS: dict[str, Callable[..., None]] = {
    "click": _TestTranslator.click,
    "clickAt": _TestTranslator.click,
    "doubleClick": _TestTranslator.double_click,
    "doubleClickAt": _TestTranslator.double_click,
    "type": _TestTranslator.type_text,
    "sendKeys": _TestTranslator.send_keys,
    "select": _TestTranslator.select,
    "check": _TestTranslator.check,
    "uncheck": _TestTranslator.uncheck,
    "mouseOver": _TestTranslator.hover,
    "assertText": _TestTranslator.expect_text,
    "verifyText": _TestTranslator.expect_text,
    "assertValue": _TestTranslator.expect_value,
    "verifyValue": _TestTranslator.expect_value,
    "assertElementPresent": _TestTranslator.expect_present,
    "verifyElementPresent": _TestTranslator.expect_present,
    "assertElementNotPresent": _TestTranslator.expect_absent,
    "verifyElementNotPresent": _TestTranslator.expect_absent,
    "assertTitle": _TestTranslator.expect_title,
    "verifyTitle": _TestTranslator.expect_title,
    "waitForElementPresent": _TestTranslator.wait_present,
    "waitForElementVisible": _TestTranslator.wait_visible,
    "waitForElementNotPresent": _TestTranslator.wait_absent,
    "waitForElementNotVisible": _TestTranslator.wait_hidden,
    "store": _TestTranslator.store,
    "storeText": _TestTranslator.store_text,
    "setWindowSize": _TestTranslator.set_window_size,
    "runScript": _TestTranslator.run_script,
    "executeScript": _TestTranslator.run_script,
    "close": _TestTranslator.close,
    "echo": _TestTranslator.nothing,
    "debugger": _TestTranslator.nothing,
}


def translate_side_project(
    data: object,
    *,
    source: str = "<project>",
    portal: str | None = None,
    params: Mapping[str, str] | None = None,
    tests: list[str] | None = None,
    skip_unsupported: bool = False,
    warn: Callable[[str], None] | None = None,
    check: bool = True,
) -> list[dict[str, Any]]:
    """One flow (as data) per test of a parsed .side project, in the project's order.

    `tests` picks tests by name. Raises RecordingError (one line naming the test and the
    command) for anything malformed or unsupported.
    """
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        raise RecordingError(
            told(N_("{file}: a Selenium IDE project is an object with a 'tests' list"), file=source)
        )
    if not data["tests"]:
        raise RecordingError(told(N_("{file}: the project has no tests"), file=source))
    known = [test.get("name") for test in data["tests"] if isinstance(test, dict)]
    for wanted in tests or []:
        if wanted not in known:
            raise RecordingError(
                told(
                    N_("{file}: no test named {name!r} (tests: {tests})"),
                    file=source,
                    name=wanted,
                    tests=", ".join(map(str, known)),
                )
            )
    flows: list[dict[str, Any]] = []
    for index, test in enumerate(data["tests"], start=1):
        if not isinstance(test, dict):
            raise RecordingError(
                told(N_("{file}: test {index} must be an object"), file=source, index=index)
            )
        if tests and test.get("name") not in tests:
            continue
        flow = _TestTranslator(
            data,
            test,
            source=source,
            portal=portal,
            params=params or {},
            skip_unsupported=skip_unsupported,
            warn=warn or (lambda message: None),
        ).run()
        if any(flow["name"] == other["name"] for other in flows):
            flow["name"] = f"{flow['name']}-{index}"
        if check:
            validate(flow, f"{source} (test {test.get('name')!r})")
        flows.append(flow)
    return flows


def import_side_project(path: Path | str, **options: Any) -> list[dict[str, Any]]:
    """translate_side_project() of a .side file."""
    return translate_side_project(read_json(path), source=str(path), **options)
