"""Chrome DevTools Recorder JSON (the @puppeteer/replay schema) -> a flow.

Every step type of the schema is either translated or refused by name. Selectors keep their
order and become target fallbacks: `aria/Name[role="button"]` -> role+name, `aria/Name` -> label
(then exact text), `text/` -> text, `xpath/` -> xpath, `pierce/` and plain CSS -> css (Playwright's
CSS already pierces open shadow roots), `[data-testid="x"]` -> testid, and a shadow-DOM array
(ancestor selectors, then the element's) -> one chained Playwright selector.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent.i18n import N_, Told, as_told, told
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

STEP_TYPES = (
    "setViewport",
    "navigate",
    "click",
    "doubleClick",
    "change",
    "keyDown",
    "keyUp",
    "hover",
    "scroll",
    "waitForElement",
    "waitForExpression",
    "waitForURL",
    "close",
    "emulateNetworkConditions",
    "customStep",
)
# customStep names our exporter writes: Chrome's replay skips custom steps, and importing them
# back restores what Chrome Recorder has no step for (params, outcomes, guards, extracts...).
FLOW_META_STEP = "seller-agent/flow"
FLOW_STEP = "seller-agent/step"
MOUSE_BUTTONS = {"primary": None, "auxiliary": "middle", "secondary": "right"}
MODIFIER_KEYS = {"Shift", "Control", "Alt", "Meta"}
KEY_NAMES = {"\r": "Enter", "\n": "Enter", " ": "Space"}
# waitForExpression has no flow step of its own; `evaluate` with this poller waits the same way
# (Playwright awaits a promise an expression returns). The exporter recognises it to go back.
WAIT_PREFIX = (
    "(async (check, limit) => { const end = Date.now() + limit; "
    "while (!(await check())) { if (Date.now() > end) "
    "throw new Error('waitForExpression: the expression stayed false'); "
    "await new Promise((resolve) => setTimeout(resolve, 100)); } return true; })"
    "(async () => ("
)
WAIT_SUFFIX = re.compile(r"\), (\d+)\)$")
DEFAULT_WAIT_MS = 15000

_ARIA = re.compile(r'^(?P<name>.*?)(?:\[role="(?P<role>[^"]+)"\])?$', re.DOTALL)
_ATTR_CSS = re.compile(
    r"""^\[(?P<attr>data-testid|placeholder)=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[\w-]+))\]$"""
)
_SELECT_HINTS = re.compile(
    r"(?:^|[\s>+~(])select(?:$|[\s.#\[:>])|\[role=\"(?:combobox|listbox)\"\]|//select"
)


def fingerprint(chrome_step: Mapping[str, Any]) -> str:
    """A short hash of what a Chrome step does. Asserted events are left out: the exporter
    adds them to a step after the fact."""
    body = {key: value for key, value in chrome_step.items() if key != "assertedEvents"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def wait_expression(expression: str, timeout: int | None = None) -> str:
    return f"{WAIT_PREFIX}{expression}), {int(timeout or DEFAULT_WAIT_MS)})"


def unwrap_wait_expression(script: str) -> tuple[str, int] | None:
    """The original expression and limit of a script made by wait_expression, else None."""
    if not script.startswith(WAIT_PREFIX):
        return None
    match = WAIT_SUFFIX.search(script)
    if not match:
        return None
    return script[len(WAIT_PREFIX) : match.start()], int(match.group(1))


class _Refused(Exception):
    """One step cannot be translated; the message (a Told) says why, in a few words."""


def _json_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _single_spec(selector: str, selector_attribute: str | None) -> list[dict | str]:
    """Our target candidates for one Chrome selector string (usually one, two for bare aria/)."""
    if selector.startswith("aria/"):
        match = _ARIA.match(selector[5:])
        name, role = match["name"].strip(), match["role"]
        if role:
            spec: dict[str, Any] = {"role": role}
            if name:
                spec["name"] = name
                spec["exact"] = True
            return [spec]
        if not name:
            raise _Refused(told(N_("empty aria selector {selector!r}"), selector=selector))
        # Without a role, Chrome matches any element by accessible name: a field's label, or a
        # button's or link's own text. Playwright has no role-less name query, so both go in.
        return [{"label": name, "exact": True}, {"text": name, "exact": True}]
    if selector.startswith("text/"):
        text = selector[5:].strip()
        if not text:
            raise _Refused(told(N_("empty text selector {selector!r}"), selector=selector))
        return [{"text": text}]
    if selector.startswith("xpath/"):
        return [{"xpath": selector[6:]}]
    css = selector[7:] if selector.startswith("pierce/") else selector
    if not css.strip():
        raise _Refused(told(N_("an empty selector")))
    match = _ATTR_CSS.match(css.strip())
    if match:
        value = match["dq"] if match["dq"] is not None else match["sq"] or match["bare"]
        if match["attr"] == "data-testid" and selector_attribute in (None, "data-testid"):
            return [{"testid": value}]
        if match["attr"] == "placeholder":
            return [{"placeholder": value}]
    return [{"css": css}]


def _chain_part(selector: str) -> str:
    """One link of a shadow-DOM selector array, in Playwright's selector syntax."""
    if selector.startswith("aria/"):
        match = _ARIA.match(selector[5:])
        name, role = match["name"].strip(), match["role"]
        if role:
            return f"role={role}" + (f"[name={_json_text(name)}]" if name else "")
        return f"text={_json_text(name)}"
    if selector.startswith("text/"):
        return f"text={selector[5:].strip()}"
    if selector.startswith("xpath/"):
        return f"xpath={selector[6:]}"
    if selector.startswith("pierce/"):
        return f"css={selector[7:]}"
    return f"css={selector}"


def frame_selector(frame: object) -> str | None:
    """Chrome's frame path (child-frame indexes from the top) as our `frame:` selector."""
    if frame is None:
        return None
    if not isinstance(frame, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in frame
    ):
        raise _Refused(told(N_("'frame' must be a list of frame indexes such as [0]")))
    if not frame:
        return None
    if len(frame) > 1:
        raise _Refused(
            told(
                N_("frames nested {depth} deep ({frame}) are not supported, only one"),
                depth=len(frame),
                frame=frame,
            )
        )
    return f"iframe >> nth={frame[0]}"


def convert_selectors(
    selectors: object, frame: str | None = None, selector_attribute: str | None = None
) -> list[dict | str]:
    """Chrome's selector list as our target candidates, in the same order, duplicates dropped."""
    if not isinstance(selectors, list) or not selectors:
        raise _Refused(told(N_("'selectors' must be a non-empty list")))
    candidates: list[dict | str] = []
    for selector in selectors:
        if isinstance(selector, list) and len(selector) == 1:
            selector = selector[0]
        if isinstance(selector, str):
            specs: list[dict | str] = _single_spec(selector, selector_attribute)
            if frame:
                specs = [{**spec, "frame": frame} for spec in specs if isinstance(spec, dict)]
        elif (
            isinstance(selector, list)
            and selector
            and all(isinstance(part, str) and part for part in selector)
        ):
            chain = " >> ".join(_chain_part(part) for part in selector)
            # A plain-string target has no `frame:` key, so the frame goes into the chain itself,
            # the way Playwright's own frame_locator writes it.
            specs = [f"{frame} >> internal:control=enter-frame >> {chain}" if frame else chain]
        else:
            raise _Refused(
                told(
                    N_("selector {selector} is neither a string nor a list of strings"),
                    selector=repr(selector),
                )
            )
        for spec in specs:
            if spec not in candidates:
                candidates.append(spec)
    return candidates


def _target(candidates: list[dict | str]) -> dict | str | list:
    return candidates[0] if len(candidates) == 1 else candidates


def _selectors_text(step: Mapping[str, Any]) -> str:
    """All of a step's selector strings, one per line, for looking for hints in them."""
    parts: list[str] = []
    for selector in step.get("selectors") or []:
        if isinstance(selector, str):
            parts.append(selector)
        elif isinstance(selector, list):
            parts.extend(str(part) for part in selector)
    return "\n".join(parts)


def _need(step: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """step[key], refused when missing or of the wrong type (true/false is not a number);
    `what` (marked with N_()) says what it should be."""
    if key not in step:
        raise _Refused(told(N_("missing '{key}'"), key=key))
    value = step[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise _Refused(told(N_("'{key}' must be {what}"), key=key, what=told(what)))
    return value


class _Translator:
    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        source: str,
        portal: str | None,
        params: Mapping[str, str],
        skip_unsupported: bool,
        warn: Callable[[str], None],
    ):
        self.data = data
        self.source = source
        self.portal = portal
        self.params = dict(params)
        self.skip_unsupported = skip_unsupported
        self.warn = warn
        self.selector_attribute = data.get("selectorAttribute")
        self.steps: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {}
        self.current_url = ""
        self.signed_in_via_session = False
        self.in_sign_in = False
        self.sign_in_landing: str | None = None
        self.held: list[str] = []
        self.pressed_since_down = False
        self.typed_values: list[str] = []

    def run(self) -> dict[str, Any]:
        raw_steps = self.data["steps"]
        for index, step in enumerate(raw_steps, start=1):
            where = told(N_("{file}: step {index}"), file=self.source, index=index)
            if not isinstance(step, dict):
                raise RecordingError(
                    told(
                        N_("{where}: a step must be an object, not {step}"),
                        where=where,
                        step=repr(step),
                    )
                )
            kind = step.get("type")
            if not isinstance(kind, str):
                raise RecordingError(told(N_("{where}: the step has no 'type'"), where=where))
            if kind not in STEP_TYPES:
                raise RecordingError(
                    told(
                        N_("{where}: unknown step type {kind!r} (known: {known})"),
                        where=where,
                        kind=kind,
                        known=", ".join(STEP_TYPES),
                    )
                )
            original = (self.meta.get("originals") or {}).get(str(index))
            try:
                if isinstance(original, dict) and original.get("fingerprint") == fingerprint(step):
                    # The exact flow steps this Chrome step was exported from, as long as
                    # nobody edited the step in Chrome since.
                    self.steps.extend(dict(s) for s in original.get("steps") or [])
                    self._asserted(step, self.steps[-1:])
                    continue
                self._step(step, kind, is_last=index == len(raw_steps))
            except _Refused as refusal:
                message = refused(where, kind, refusal)
                if not self.skip_unsupported:
                    raise RecordingError(message) from None
                self.warn(told(N_("skipped {message}"), message=message))
        self._flush_modifiers()
        return self._flow()

    # -- per step -------------------------------------------------------------------------

    def _step(self, step: Mapping[str, Any], kind: str, is_last: bool) -> None:
        target_page = step.get("target", "main")
        if target_page not in (None, "main"):
            raise _Refused(
                told(
                    N_("steps in another tab or window (target {target}) are not supported"),
                    target=repr(target_page),
                )
            )
        if kind == "customStep":
            self._custom(step)
            return
        if kind == "navigate":
            url = _need(step, "url", str, N_("a URL"))
            self._leave_sign_in_if(url)
            if is_sign_in_url(url):
                self._enter_sign_in(url)
                self._asserted(step, [])
                return
            self._emit({"goto": relative_url(url, self.portal)}, step)
            self.current_url = url
            self._asserted(step, self.steps[-1:])
            return
        if self.in_sign_in and self._is_sign_in_step(step, kind):
            self._asserted(step, [])
            return
        if self.in_sign_in:
            self._finish_sign_in()
        if kind == "close" and is_last:
            return  # the run ends with the flow anyway
        method = getattr(self, f"_{kind}")
        method(step)
        self._asserted(step, self.steps[-1:])

    def _setViewport(self, step: Mapping[str, Any]) -> None:  # Chrome's step names
        width = _need(step, "width", (int, float), N_("a number"))
        height = _need(step, "height", (int, float), N_("a number"))
        self._emit({"set_viewport": {"width": int(width), "height": int(height)}}, step)

    def _click(self, step: Mapping[str, Any], count: int = 1) -> None:
        target = self._target(step)
        button = step.get("button", "primary")
        if button not in MOUSE_BUTTONS:
            raise _Refused(
                told(
                    N_("mouse button {button} is not supported (primary, auxiliary, secondary)"),
                    button=repr(button),
                )
            )
        options: dict[str, Any] = {}
        if MOUSE_BUTTONS[button]:
            options["button"] = MOUSE_BUTTONS[button]
        if count > 1:
            options["count"] = count
        if self.held:
            options["modifiers"] = list(self.held)
            self.pressed_since_down = True
        self._emit({"click": {"target": target, **options} if options else target}, step)

    def _doubleClick(self, step: Mapping[str, Any]) -> None:
        self._click(step, count=2)

    def _hover(self, step: Mapping[str, Any]) -> None:
        self._emit({"hover": self._target(step)}, step)

    def _change(self, step: Mapping[str, Any]) -> None:
        target = self._target(step)
        value = literal_text(_need(step, "value", str, N_("a text")))
        hints = _selectors_text(step)
        if PASSWORD_HINTS.search(hints):
            self.warn(
                told(
                    N_(
                        "{file}: a typed password became {template} (it comes from the "
                        "secrets, never from the flow file)"
                    ),
                    file=self.source,
                    template="{{ password }}",
                )
            )
            value = "{{ password }}"
        else:
            self.typed_values.append(value)
        if _SELECT_HINTS.search(hints):
            self._emit({"select": {"target": target, "option": value}}, step)
        else:
            self._emit({"fill": {"target": target, "value": value}}, step)

    def _keyDown(self, step: Mapping[str, Any]) -> None:
        key = KEY_NAMES.get(_need(step, "key", str, N_("a key name")), step["key"])
        if key in MODIFIER_KEYS:
            if key not in self.held:
                self.held.append(key)
                self.pressed_since_down = False
            return
        self.pressed_since_down = True
        self._emit({"press": "+".join([*self.held, key])}, step)

    def _keyUp(self, step: Mapping[str, Any]) -> None:
        key = KEY_NAMES.get(_need(step, "key", str, N_("a key name")), step["key"])
        # The press was written at keyDown; keyUp only matters for a modifier pressed alone.
        if key in self.held:
            self.held.remove(key)
            if not self.pressed_since_down:
                self._emit({"press": key}, step)
                self.pressed_since_down = True

    def _flush_modifiers(self) -> None:
        for key in self.held:
            if not self.pressed_since_down:
                self.steps.append({"press": key})
        self.held = []

    def _scroll(self, step: Mapping[str, Any]) -> None:
        if "selectors" in step:
            self._emit({"scroll": self._target(step)}, step)
            return
        x, y = step.get("x", 0), step.get("y", 0)
        for value in (x, y):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise _Refused(told(N_("'x' and 'y' must be numbers")))
        self._emit({"scroll": {"x": int(x), "y": int(y)}}, step)

    def _waitForElement(self, step: Mapping[str, Any]) -> None:
        candidates = convert_selectors(
            step.get("selectors"), self._frame(step), self.selector_attribute
        )
        # puppeteer/replay's runner (what Chrome's Replay button runs) compares with ">=" when
        # the recording gives no operator: `count: 3` alone means at least three.
        operator = step.get("operator", ">=")
        count = step.get("count", 1)
        if operator not in ("==", ">=", "<="):
            raise _Refused(
                told(N_("operator {operator} is not one of ==, >=, <="), operator=repr(operator))
            )
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _Refused(told(N_("'count' must be a whole number, 0 or more")))
        # puppeteer/replay's waitForElement counts the elements the selectors find (in the
        # DOM, seen or not) and compares the count; `visible: false` waits for the opposite of
        # that comparison (`return result === visible`): with the defaults, until no element
        # is there any more.
        negated = step.get("visible") is False or step.get("hidden") is True
        properties = step.get("properties") or {}
        if set(properties) - {"value"}:
            raise _Refused(
                told(
                    N_("waiting on element {keys} other than 'value' has no flow equivalent"),
                    keys="properties",
                )
            )
        attributes = step.get("attributes") or {}
        if attributes:
            candidates = _with_attributes(candidates, attributes)
        target = _target(candidates)
        if "value" in properties:
            condition = {"target": target, "value": literal_text(str(properties["value"]))}
            self._emit({"expect": {"not": condition} if negated else condition}, step)
        elif negated:
            self._emit(self._wait_not(candidates, operator, count), step)
        elif count == 1 and (operator == "==" or "operator" not in step):
            # One element there (the usual recording): a plain wait.
            self._emit({"wait": {"target": target, "state": "visible"}}, step)
        elif count == 0:
            # ">= 0" always holds in Chrome; a recording says it only to mean "none left".
            self._emit({"wait": {"target": target, "state": "hidden"}}, step)
        elif operator == ">=":
            # At least N: the N-th match exists.
            self._emit(
                {"wait": {"target": _with_nth(candidates, count - 1), "state": "attached"}}, step
            )
        elif operator == "<=":
            self._emit(
                {"expect": {"not": {"target": _with_nth(candidates, count), "count": 1}}}, step
            )
        else:
            self._emit({"expect": {"target": target, "count": count}}, step)

    @staticmethod
    def _wait_not(candidates: list[dict | str], operator: str, count: int) -> dict[str, Any]:
        """The flow step that waits until `count operator N` no longer holds."""
        if operator == ">=":
            if count <= 1:
                # Fewer than one: no element left.
                return {"wait": {"target": _target(candidates), "state": "detached"}}
            # Fewer than N: no N-th match.
            return {"expect": {"not": {"target": _with_nth(candidates, count - 1), "count": 1}}}
        if operator == "<=":
            # More than N: the (N+1)-th match exists.
            return {"wait": {"target": _with_nth(candidates, count), "state": "attached"}}
        return {"expect": {"not": {"target": _target(candidates), "count": count}}}

    def _waitForExpression(self, step: Mapping[str, Any]) -> None:
        expression = _need(step, "expression", str, N_("a JavaScript expression"))
        if step.get("frame"):
            raise _Refused(told(N_("waiting on an expression inside a frame is not supported")))
        # Polled for as long as any other step of the flow would wait: the step's own
        # timeout, else the recording's.
        limit = next((t for t in (step.get("timeout"), self._flow_timeout()) if _ms(t)), None)
        self._emit({"evaluate": wait_expression(expression, limit)}, step, timeout=False)

    def _waitForURL(self, step: Mapping[str, Any]) -> None:
        url = _need(step, "url", str, N_("a URL"))
        self._emit({"wait": {"url": relative_url(url, self.portal)}}, step)

    def _close(self, step: Mapping[str, Any]) -> None:
        raise _Refused(told(N_("closing the page before the end has no flow equivalent")))

    def _emulateNetworkConditions(self, step: Mapping[str, Any]) -> None:
        raise _Refused(
            told(
                N_(
                    "network throttling has no flow equivalent (flows run at the network's real "
                    "speed); remove the step, or import with --skip-unsupported"
                )
            )
        )

    def _custom(self, step: Mapping[str, Any]) -> None:
        name = step.get("name")
        parameters = step.get("parameters")
        if name == FLOW_META_STEP and isinstance(parameters, dict):
            self.meta.update(parameters)
            return
        if (
            name == FLOW_STEP
            and isinstance(parameters, dict)
            and isinstance(parameters.get("step"), dict)
        ):
            self.steps.append(dict(parameters["step"]))
            return
        raise _Refused(
            told(
                N_("custom step {name} belongs to a Chrome extension; seller-agent cannot run it"),
                name=repr(name),
            )
        )

    # -- helpers --------------------------------------------------------------------------

    def _frame(self, step: Mapping[str, Any]) -> str | None:
        return frame_selector(step.get("frame"))

    def _target(self, step: Mapping[str, Any]) -> dict | str | list:
        if "selectors" not in step:
            raise _Refused(told(N_("missing '{key}'"), key="selectors"))
        return _target(
            convert_selectors(step["selectors"], self._frame(step), self.selector_attribute)
        )

    def _emit(
        self, flow_step: dict[str, Any], step: Mapping[str, Any], timeout: bool = True
    ) -> None:
        if (
            timeout
            and isinstance(step.get("timeout"), int)
            and not isinstance(step["timeout"], bool)
        ):
            flow_step["timeout"] = step["timeout"]
        self.steps.append(flow_step)

    def _asserted(self, step: Mapping[str, Any], produced: list) -> None:
        """assertedEvents (a navigation the step causes) become waits after the step."""
        events = step.get("assertedEvents") or []
        if not isinstance(events, list):
            raise _Refused(told(N_("'assertedEvents' must be a list")))
        for event in events:
            if not isinstance(event, dict) or event.get("type") != "navigation":
                raise _Refused(
                    told(
                        N_("asserted event {event} is not supported (only navigation)"),
                        event=repr(event),
                    )
                )
            url = event.get("url")
            if url:
                if is_sign_in_url(url):
                    self._enter_sign_in(url)
                    continue
                if self.in_sign_in:
                    self.sign_in_landing = url
                    self._finish_sign_in()
                    continue
                self.current_url = url
                if produced and self.steps and "goto" in self.steps[-1]:
                    # A goto already waits for its page; a redirect elsewhere is still checked.
                    if relative_url(url, self.portal) == self.steps[-1]["goto"]:
                        continue
                self.steps.append({"wait": {"url": relative_url(url, self.portal)}})
            if event.get("title") and not self.in_sign_in:
                self.steps.append({"expect": {"title": literal_text(str(event["title"]))}})

    def _enter_sign_in(self, url: str) -> None:
        self.in_sign_in = True
        self.signed_in_via_session = True
        self.current_url = url
        query = parse_qs(urlsplit(url).query)
        if query.get("next"):
            self.sign_in_landing = query["next"][0]

    def _leave_sign_in_if(self, url: str) -> None:
        if self.in_sign_in and not is_sign_in_url(url):
            self.in_sign_in = False

    def _is_sign_in_step(self, step: Mapping[str, Any], kind: str) -> bool:
        if "selectors" not in step:
            return kind in ("keyDown", "keyUp")
        return bool(SIGN_IN_HINTS.search(_selectors_text(step)))

    def _finish_sign_in(self) -> None:
        """Back from the dropped sign-in: go where the sign-in led, unless already there."""
        self.in_sign_in = False
        landing = self.sign_in_landing
        self.sign_in_landing = None
        last_goto = next((s["goto"] for s in reversed(self.steps) if "goto" in s), None)
        if (not landing or is_sign_in_url(landing)) and last_goto is None:
            landing = SIGN_IN_LANDING  # a replay must start on a page, not on about:blank
        if not landing or is_sign_in_url(landing):
            return
        landing = relative_url(landing, self.portal)
        if landing != last_goto:
            self.steps.append({"goto": landing})
        self.current_url = landing

    def _flow_timeout(self) -> int | None:
        """The flow's timeout: what our own export kept, else the recording's `timeout`."""
        timeout = self.meta.get("timeout") or self.data.get("timeout")
        return timeout if _ms(timeout) else None

    def _flow(self) -> dict[str, Any]:
        title = self.data.get("title") or Path(self.source).stem
        new_params = order_id_params(self.typed_values, self.params)
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
        meta = self.meta
        flow: dict[str, Any] = {
            "name": meta.get("name") or flow_name(str(title), "imported"),
            "summary": meta.get("summary") or f"Imported from Chrome DevTools Recorder: {title}",
        }
        outcomes = meta.get("outcomes") or {}
        used = template_names([steps, outcomes])
        declared = param_specs(used, given, meta.get("params"))
        for name, spec in (meta.get("params") or {}).items():
            declared.setdefault(name, spec)
        if declared:
            flow["params"] = declared
        if meta:
            # Our own export says exactly which session the flow had, if any.
            if meta.get("session"):
                flow["session"] = meta["session"]
        elif self.signed_in_via_session or on_portal(steps):
            flow["session"] = SESSION_FLOW
        for key in ("login_page", "success"):
            if meta.get(key):
                flow[key] = meta[key]
        timeout = self._flow_timeout()
        if timeout is not None:
            flow["timeout"] = timeout
        flow["steps"] = steps
        if outcomes:
            flow["outcomes"] = outcomes
        return flow


def refused(where: Told, kind: str, refusal: Exception) -> Told:
    """The line for a step that has no translation: where it is, its type, and why."""
    return told(N_("{where} ({kind}): {why}"), where=where, kind=kind, why=as_told(refusal))


def _ms(value: object) -> bool:
    """Whether a recording's value is a timeout (a whole number of milliseconds)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _with_attributes(candidates: list[dict | str], attributes: Any) -> list[dict | str]:
    """The candidates narrowed to elements whose attributes have these values, as Chrome's
    replay narrows the elements a waitForElement counts: CSS and XPath take the attributes
    in the selector; a candidate by role, label or text cannot, and is left out."""
    if not isinstance(attributes, dict) or not all(
        isinstance(name, str) and re.fullmatch(r"[A-Za-z_:][-A-Za-z0-9_:.]*", name)
        for name in attributes
    ):
        raise _Refused(told(N_("'attributes' must map attribute names to values")))
    values = {name: str(value) for name, value in attributes.items()}
    css = "".join(f"[{name}={_css_string(value)}]" for name, value in values.items())
    narrowed: list[dict | str] = []
    for spec in candidates:
        if not isinstance(spec, dict):
            continue
        rest = {key: value for key, value in spec.items() if key == "frame"}
        if "css" in spec:
            narrowed.append({"css": spec["css"] + css, **rest})
        elif "testid" in spec:
            narrowed.append({"css": f"[data-testid={_css_string(spec['testid'])}]{css}", **rest})
        elif "placeholder" in spec:
            base = f"[placeholder={_css_string(spec['placeholder'])}]"
            narrowed.append({"css": base + css, **rest})
        elif "xpath" in spec and not any("'" in value for value in values.values()):
            test = "".join(f"[@{name}='{value}']" for name, value in values.items())
            narrowed.append({"xpath": f"({spec['xpath']}){test}", **rest})
    if not narrowed:
        raise _Refused(
            told(
                N_(
                    "waiting on element attributes needs a CSS or XPath selector to narrow; "
                    "the step has none"
                )
            )
        )
    return narrowed


def _with_nth(candidates: list[dict | str], nth: int) -> dict | str | list:
    specs = [
        {**spec, "nth": nth} if isinstance(spec, dict) else f"{spec} >> nth={nth}"
        for spec in candidates
    ]
    return _target(specs)


def _check_top(data: object, source: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise RecordingError(
            told(N_("{file}: a Chrome Recorder recording is a JSON object"), file=source)
        )
    if "steps" not in data:
        raise RecordingError(told(N_("{file}: the recording has no 'steps'"), file=source))
    if not isinstance(data["steps"], list):
        raise RecordingError(told(N_("{file}: 'steps' must be a list"), file=source))
    if not data["steps"]:
        raise RecordingError(told(N_("{file}: the recording has no steps"), file=source))
    if "title" in data and not isinstance(data["title"], str):
        raise RecordingError(told(N_("{file}: 'title' must be a text"), file=source))
    return data


def translate_chrome_recording(
    data: object,
    *,
    source: str = "<recording>",
    portal: str | None = None,
    params: Mapping[str, str] | None = None,
    skip_unsupported: bool = False,
    warn: Callable[[str], None] | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """A flow (as data) from a parsed Chrome Recorder recording.

    URLs on `portal`'s origin become relative; literal `params` values become templates;
    the portal's sign-in becomes `session: login`. Raises RecordingError (one line) for a
    malformed recording or a step that has no translation (unless skip_unsupported, which
    drops such steps and reports each through `warn`). With check, the result is validated
    by the flow loader.
    """
    recording = _check_top(data, source)
    flow = _Translator(
        recording,
        source=source,
        portal=portal,
        params=params or {},
        skip_unsupported=skip_unsupported,
        warn=warn or (lambda message: None),
    ).run()
    if not flow["steps"]:
        raise RecordingError(
            told(N_("{file}: nothing is left to replay once the sign-in is removed"), file=source)
        )
    if check:
        validate(flow, source)
    return flow


def import_chrome_recording(path: Path | str, **options: Any) -> dict[str, Any]:
    """translate_chrome_recording() of a JSON file."""
    return translate_chrome_recording(read_json(path), source=str(path), **options)
