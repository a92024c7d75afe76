"""A flow -> Chrome DevTools Recorder JSON, to open and replay in Chrome's own Recorder panel.

Each step becomes the Chrome step that does the same thing (goto -> navigate, fill -> change,
press -> keyDown/keyUp, a `wait: {url}` -> the previous step's asserted navigation...). What
Chrome has no step for (extract, outcome guards, screenshots, sub-flows) becomes a
`customStep`, which Chrome's replay skips. The first step is a `customStep` holding what a
recording cannot say (params, session, outcomes) and the exact flow steps behind any Chrome
step that does not translate back by itself, each with a fingerprint of that Chrome step: so
importing the export gives the same flow, and a step edited in Chrome is read as edited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from agent.errors import UserError
from agent.flow import targets
from agent.i18n import N_, told
from agent.recording.common import RecordingError, absolute_url
from agent.recording.import_chrome import (
    FLOW_META_STEP,
    FLOW_STEP,
    fingerprint,
    translate_chrome_recording,
    unwrap_wait_expression,
)

MAX_TIMEOUT = 30000  # @puppeteer/replay rejects step timeouts above 30 s
ACTION_KEYS = (
    "goto",
    "click",
    "fill",
    "type",
    "select",
    "check",
    "uncheck",
    "press",
    "hover",
    "scroll",
    "wait",
    "expect",
    "extract",
    "screenshot",
    "flow",
    "within",
    "outcome",
    "set_viewport",
    "evaluate",
)
BUTTONS = {"left": "primary", "middle": "auxiliary", "right": "secondary"}
TARGET_KINDS = ("role", "label", "text", "placeholder", "testid", "alt", "title", "css", "xpath")
ACTIONS = ("click", "fill", "type", "select", "check", "uncheck", "press", "hover", "scroll")
NOT_CSS = ("aria/", "text/", "xpath/", "pierce/")
_FRAME_NTH = re.compile(r"^iframe >> nth=(\d+)$")
_TEMPLATE = re.compile(r"{{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?}}")
# A name, or a text in quotes (`{{ '{{' }}`, how a flow writes braces as text).
_EXPRESSION = re.compile(r"""{{-?\s*(?:([A-Za-z_][A-Za-z0-9_]*)|'([^']*)'|"([^"]*)")\s*-?}}""")


class ExportError(UserError):
    """A flow cannot be written as a Chrome recording; str() is one line."""


def _is_regex(text: object) -> bool:
    """True for a /regular expression/ Chrome cannot match. A URL path such as /orders-v3/
    is also written like one, but without pattern characters it means the same as text."""
    if not isinstance(text, str):
        return False
    try:
        pattern = targets.as_regex(text)
    except re.error:
        return True
    return pattern is not None and bool(re.search(r"[\\^$|?*+()\[\]{}]", pattern.pattern))


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selector_of(spec: Mapping[str, Any]) -> str | None:
    """Chrome's selector for one spec, or None when Chrome has no way to say it."""
    if "nth" in spec or "has_text" in spec:
        return None
    kind = next((key for key in TARGET_KINDS if key in spec), None)
    value = spec.get(kind) if kind else None
    if not isinstance(value, str) or _is_regex(value) or _is_regex(spec.get("name")):
        return None
    if kind == "role":
        name = spec.get("name", "")
        return f'aria/{name}[role="{value}"]'
    if kind == "label":
        return f"aria/{value}"
    if kind == "text":
        return f"text/{value}"
    if kind in ("placeholder", "alt", "title"):
        return f"[{kind}={_quoted(value)}]"
    if kind == "testid":
        return f"[data-testid={_quoted(value)}]"
    if kind == "css":
        return value
    if kind == "xpath":
        return f"xpath/{value}"
    return None


def _string_selector(selector: str) -> list[str] | str | None:
    """A Playwright selector string as Chrome's selector (an array for chains)."""
    parts = [part.strip() for part in selector.split(" >> ")]
    converted: list[str] = []
    for part in parts:
        if part.startswith("css="):
            converted.append(part[4:])
        elif part.startswith("xpath="):
            converted.append("xpath/" + part[6:])
        elif part.startswith("//") or part.startswith("(//"):
            converted.append("xpath/" + part)
        elif part.startswith("text="):
            text = part[5:]
            if text.startswith('"') and text.endswith('"'):
                text = json.loads(text)
            converted.append("text/" + text)
        elif part.startswith("role="):
            match = re.fullmatch(r'role=([\w-]+)(?:\[name=("(?:[^"\\]|\\.)*")\])?', part)
            if not match:
                return None
            name = json.loads(match.group(2)) if match.group(2) else ""
            converted.append(f'aria/{name}[role="{match.group(1)}"]')
        elif "=" in part.split("[", 1)[0] or part.startswith("internal:"):
            return None  # another Playwright engine (nth=, has=, internal:...): nothing in Chrome
        else:
            converted.append(part)
    return converted[0] if len(converted) == 1 else converted


def target_selectors(target: object) -> tuple[list, list[int] | None]:
    """Chrome's `selectors` (and `frame`) for one of our targets; candidates Chrome cannot
    express are left out, and an empty list means none could be."""
    specs = target if isinstance(target, list) else [target]
    selectors: list = []
    frame: list[int] | None = None
    frame_known = False
    index = 0
    while index < len(specs):
        spec = specs[index]
        index += 1
        if isinstance(spec, str):
            selector = _string_selector(spec)
            spec_frame = None
        elif isinstance(spec, dict):
            selector = _selector_of(spec)
            spec_frame = None
            if "frame" in spec:
                match = _FRAME_NTH.match(str(spec["frame"]))
                if not match:
                    continue
                spec_frame = [int(match.group(1))]
            # The importer turns a role-less `aria/X` into {label: X} then {text: X, exact}:
            # folding the pair back keeps a round trip from growing the selector list.
            following = specs[index] if index < len(specs) else None
            if (
                "label" in spec
                and isinstance(following, dict)
                and following.get("text") == spec["label"]
                and following.get("exact") is True
                and following.get("frame") == spec.get("frame")
            ):
                index += 1
        else:
            continue
        if selector is None:
            continue
        if frame_known and spec_frame != frame:
            continue  # Chrome has one frame per step: keep the candidates in the first one's
        frame, frame_known = spec_frame, True
        entry = selector if isinstance(selector, list) else [selector]
        if entry not in selectors:
            selectors.append(entry)
    return selectors, frame


def _css_of(entry: list[str]) -> str | None:
    """The CSS of one Chrome selector entry, or None when it is not plain CSS (an aria, text,
    xpath or pierce selector, or a path through shadow roots)."""
    if len(entry) != 1 or entry[0].startswith(NOT_CSS):
        return None
    return entry[0]


def _css_list(selector: str) -> list[str]:
    """A CSS selector list split at its top-level commas (not those in quotes, [] or ())."""
    parts, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(selector):
        if quote:
            if char == quote and selector[index - 1] != "\\":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(selector[start:index].strip())
            start = index + 1
    parts.append(selector[start:].strip())
    return [part for part in parts if part]


def descendant(scope: str, inner: str) -> str:
    """One CSS selector for `inner` inside `scope`: each of inner's alternatives after each of
    scope's, with the descendant combinator."""
    return ", ".join(f"{outer} {part}" for outer in _css_list(scope) for part in _css_list(inner))


class _Exporter:
    def __init__(self, data: Mapping[str, Any], portal: str, params: Mapping[str, str]):
        self.data = data
        self.portal = portal
        self.params = {name: str(value) for name, value in params.items()}
        self.chrome: list[dict[str, Any]] = []
        self.originals: dict[str, dict[str, Any]] = {}
        self.number = 0

    def run(self) -> dict[str, Any]:
        steps = self.data.get("steps") or []
        for number, step in enumerate(steps, start=1):
            if not isinstance(step, dict):
                raise ExportError(
                    told(N_("step {number}: a step must be a mapping"), number=number)
                )
            self.number = number
            self._export(step, number)
        self._success_wait()
        meta = {
            key: self.data[key]
            for key in ("name", "summary", "params", "session", "login_page", "success", "timeout")
            if self.data.get(key) not in (None, {}, [])
        }
        if self.data.get("outcomes"):
            meta["outcomes"] = self.data["outcomes"]
        meta["originals"] = self.originals
        recording: dict[str, Any] = {
            "title": str(self.data.get("summary") or self.data.get("name") or "flow"),
        }
        timeout = self.data.get("timeout")
        if isinstance(timeout, int) and not isinstance(timeout, bool):
            recording["timeout"] = min(max(timeout, 1), MAX_TIMEOUT)
        recording["steps"] = [
            {"type": "customStep", "name": FLOW_META_STEP, "parameters": meta},
            *self.chrome,
        ]
        return recording

    def _export(self, step: Mapping[str, Any], number: int) -> None:
        action = next((key for key in ACTION_KEYS if key in step), None)
        if action is None:
            raise ExportError(
                told(
                    N_("step {number}: no known action in {keys}"),
                    number=number,
                    keys=str(sorted(step)),
                )
            )
        value = step[action]
        if action == "wait" and isinstance(value, dict) and set(value) == {"url"}:
            if self._assert_navigation(value["url"]):
                return
        # A conditional step is a decision Chrome's replay cannot make: it stays ours.
        produced = None if "when" in step else self._translate(action, value, step)
        if produced is None:
            produced = [
                {"type": "customStep", "name": FLOW_STEP, "parameters": {"step": dict(step)}}
            ]
        # Chrome's own steps get the params' defaults written in (its replay has no templates);
        # a step that stays ours keeps its templates, as the flow it goes back into has them.
        produced = [
            chrome if chrome["type"] == "customStep" else self._render(chrome)
            for chrome in produced
        ]
        timeout = step.get("timeout")
        if isinstance(timeout, int) and not isinstance(timeout, bool):
            for chrome in produced:
                if chrome["type"] not in ("customStep", "waitForExpression"):
                    chrome["timeout"] = min(max(timeout, 1), MAX_TIMEOUT)
        first_index = len(self.chrome) + 2  # 1-based, after the metadata step
        self.chrome.extend(produced)
        if produced[0]["type"] == "customStep":
            return
        if not self._translates_back(produced, step):
            for offset, chrome in enumerate(produced):
                self.originals[str(first_index + offset)] = {
                    "fingerprint": fingerprint(chrome),
                    "steps": [dict(step)] if offset == 0 else [],
                }

    def _success_wait(self) -> None:
        """A flow ends by waiting for its outcomes; Chrome's replay would end right after the
        last click, with its submit still on the way. A last wait until a success outcome
        shows makes the replay end where the flow does, and fail where the flow would not
        succeed. It is an expression (Chrome's waitForFunction lives through the navigation
        the submit starts; its element wait does not), so it is written only when every
        success outcome is made of targets with plain CSS candidates and visible texts."""
        outcomes = self.data.get("outcomes") or {}
        success = self.data.get("success") or []
        if not isinstance(outcomes, dict) or not isinstance(success, list) or not success:
            return
        checks: list[str] = []
        for name in success:
            found = _outcome_checks(outcomes.get(name))
            if not found:
                return
            checks += [check for check in found if check not in checks]
        expression = " || ".join(f"({check})" for check in checks)
        wait = self._render({"type": "waitForExpression", "expression": expression})
        self.chrome.append(wait)
        # Not a step of the flow: importing the recording back drops it.
        self.originals[str(len(self.chrome) + 1)] = {"fingerprint": fingerprint(wait), "steps": []}

    def _refuse(self, why: str, inner: int | None = None, action: str | None = None) -> None:
        """Refuse the step being exported (its `within` step `inner`, an `action`), because
        `why` (a Told)."""
        if inner is None:
            raise ExportError(told(N_("step {number}: {why}"), number=self.number, why=why))
        raise ExportError(
            told(
                N_("step {number} (within), its step {inner} ({action}): {why}"),
                number=self.number,
                inner=inner,
                action=action,
                why=why,
            )
        )

    def _translates_back(self, produced: list[dict], step: Mapping[str, Any]) -> bool:
        try:
            flow = translate_chrome_recording(
                {"title": "check", "steps": produced}, portal=self.portal, check=False
            )
        except RecordingError:
            return False
        return flow["steps"] == [dict(step)] and not flow.get("session")

    def _render(self, chrome: dict[str, Any]) -> dict[str, Any]:
        def fill(match: re.Match[str]) -> str:
            if match.group(1):
                return self.params.get(match.group(1), match.group(0))
            return match.group(2) if match.group(2) is not None else match.group(3)

        def render(text: str) -> str:
            return _EXPRESSION.sub(fill, text)

        def walk(data: Any) -> Any:
            if isinstance(data, str):
                return render(data)
            if isinstance(data, list):
                return [walk(item) for item in data]
            if isinstance(data, dict):
                return {key: walk(item) for key, item in data.items()}
            return data

        return walk(chrome)

    def _assert_navigation(self, url: object) -> bool:
        """A `wait: {url}` right after an action is that action's asserted navigation."""
        if not isinstance(url, str) or _is_regex(url) or not self.chrome:
            return False
        previous = self.chrome[-1]
        if previous["type"] in ("customStep", "waitForElement", "waitForExpression"):
            return False
        events = previous.setdefault("assertedEvents", [])
        events.append({"type": "navigation", "url": absolute_url(self._plain(url), self.portal)})
        return True

    def _plain(self, text: str) -> str:
        return _TEMPLATE.sub(lambda match: self.params.get(match.group(1), match.group(0)), text)

    def _with_target(self, kind: str, target: object, **fields: Any) -> dict[str, Any] | None:
        selectors, frame = target_selectors(target)
        if not selectors:
            return None
        chrome: dict[str, Any] = {"type": kind}
        if frame:
            chrome["frame"] = frame
        chrome["selectors"] = selectors
        chrome.update(fields)
        return chrome

    def _translate(
        self, action: str, value: Any, step: Mapping[str, Any]
    ) -> list[dict[str, Any]] | None:
        if action == "goto" and isinstance(value, str):
            return [{"type": "navigate", "url": absolute_url(value, self.portal)}]
        if action == "set_viewport" and isinstance(value, dict):
            return [
                {
                    "type": "setViewport",
                    "width": value.get("width"),
                    "height": value.get("height"),
                    "deviceScaleFactor": 1,
                    "isMobile": False,
                    "hasTouch": False,
                    "isLandscape": False,
                }
            ]
        if action in ("click", "check", "uncheck"):
            options = value if isinstance(value, dict) and "target" in value else {"target": value}
            kind = "doubleClick" if options.get("count") == 2 else "click"
            if options.get("count") not in (None, 1, 2):
                return None
            fields: dict[str, Any] = {"offsetX": 1, "offsetY": 1}
            button = BUTTONS.get(options.get("button", "left"))
            if button is None:
                return None
            if button != "primary":
                fields["button"] = button
            click = self._with_target(kind, options["target"], **fields)
            if click is None:
                return None
            modifiers = options.get("modifiers") or []
            return (
                [{"type": "keyDown", "key": key} for key in modifiers]
                + [click]
                + [{"type": "keyUp", "key": key} for key in reversed(modifiers)]
            )
        if action in ("fill", "type", "select") and isinstance(value, dict):
            text = value.get("value", value.get("option"))
            if not isinstance(text, str):
                return None
            change = self._with_target("change", value.get("target"), value=text)
            return [change] if change else None
        if action == "press":
            key = value.get("key") if isinstance(value, dict) else value
            if not isinstance(key, str) or not key:
                return None
            keys = key.split("+") if len(key) > 1 else [key]
            return [{"type": "keyDown", "key": k} for k in keys] + [
                {"type": "keyUp", "key": k} for k in reversed(keys)
            ]
        if action == "hover":
            hover = self._with_target("hover", value)
            return [hover] if hover else None
        if action == "scroll":
            if isinstance(value, dict) and ("x" in value or "y" in value) and len(value) <= 2:
                return [{"type": "scroll", "x": value.get("x", 0), "y": value.get("y", 0)}]
            scroll = self._with_target("scroll", value)
            return [scroll] if scroll else None
        if action in ("wait", "expect") and isinstance(value, dict):
            return self._condition(value)
        if action == "within" and isinstance(value, dict):
            return self._within(value)
        if action == "evaluate" and isinstance(value, str):
            unwrapped = unwrap_wait_expression(value)
            if unwrapped:
                return [{"type": "waitForExpression", "expression": unwrapped[0]}]
        return None

    def _within(self, value: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """Steps scoped inside a target. In Chrome's selectors an array of parts is a path
        through shadow roots, not an element inside another; so each inner selector is joined
        to the scope's into one descendant CSS selector, which needs CSS on both sides. An
        action Chrome cannot do in its scope is refused: skipping it would replay something
        else. Observations Chrome has no step for (extract, ...) are left to import back."""
        inner_steps = value.get("steps")
        if not isinstance(inner_steps, list):
            return None
        acts = any(
            isinstance(inner, dict) and any(key in inner for key in (*ACTIONS, "within", "goto"))
            for inner in inner_steps
        )
        scope, frame = target_selectors(value.get("target"))
        scope_css = [css for css in (_css_of(entry) for entry in scope) if css]
        if not acts:
            return None  # nothing Chrome must do: one custom step, for import back
        if frame or not scope_css:
            why = (
                told(N_("it is inside a frame"))
                if frame
                else told(N_("none of its candidates is plain CSS"))
            )
            self._refuse(
                told(
                    N_(
                        "Chrome cannot scope steps to this target ({why}); give it a css or "
                        "testid candidate"
                    ),
                    why=why,
                )
            )
        produced: list[dict[str, Any]] = []
        for number, inner in enumerate(inner_steps, start=1):
            if not isinstance(inner, dict):
                self._refuse(told(N_("a step must be a mapping")), number, "?")
            action = next((key for key in ACTION_KEYS if key in inner), None)
            is_action = action in (*ACTIONS, "within", "goto")
            chrome_steps = None
            if action not in (None, "goto", "within") and "when" not in inner:
                chrome_steps = self._translate(action, inner[action], inner)
            if not chrome_steps:
                if not is_action:
                    continue
                self._refuse(told(_why_not_scoped(inner, action)), number, action or "?")
            for chrome in chrome_steps:
                if "selectors" not in chrome:
                    continue
                inner_css = [css for css in (_css_of(e) for e in chrome["selectors"]) if css]
                if chrome.get("frame") or not inner_css:
                    self._refuse(
                        told(
                            N_(
                                "none of its target's candidates is plain CSS outside a frame, "
                                "which is all Chrome can find inside another element; give it "
                                "a css or testid candidate"
                            )
                        ),
                        number,
                        action,
                    )
                chrome["selectors"] = [
                    [descendant(outer, css)] for outer in scope_css for css in inner_css
                ]
            produced.extend(chrome_steps)
        return produced or None

    def _condition(self, condition: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        if set(condition) == {"text"} and isinstance(condition["text"], str):
            if _is_regex(condition["text"]):
                return None
            return [{"type": "waitForElement", "selectors": [["text/" + condition["text"]]]}]
        if set(condition) == {"url"} and isinstance(condition["url"], str):
            if _is_regex(condition["url"]):
                return None
            expression = f"location.href.includes({json.dumps(self._plain(condition['url']))})"
            return [{"type": "waitForExpression", "expression": expression}]
        if "target" in condition:
            extra = set(condition) - {"target", "state", "count", "value"}
            if extra:
                return None
            fields: dict[str, Any] = {}
            # Chrome's replay counts the elements in the DOM, seen or not: `visible` and
            # `attached` are both "one is there"; `visible: false` would wait for the opposite.
            state = condition.get("state", "visible")
            if state in ("hidden", "detached"):
                fields["count"] = 0
                fields["operator"] = "=="
            if "count" in condition:
                # An exact count: without an operator Chrome's replay would read "at least".
                fields["count"] = condition["count"]
                fields["operator"] = "=="
            if "value" in condition:
                fields["properties"] = {"value": condition["value"]}
            wait = self._with_target("waitForElement", condition["target"], **fields)
            return [wait] if wait else None
        if any(kind in condition for kind in TARGET_KINDS):
            wait = self._with_target("waitForElement", dict(condition))
            return [wait] if wait else None
        return None


def _why_not_scoped(step: Mapping[str, Any], action: str | None) -> str:
    """Why a step inside `within` cannot be exported (a message marked with N_())."""
    if "when" in step:
        return N_("Chrome cannot decide a conditional (when) step")
    return {
        None: N_("no known action"),
        "goto": N_("a page cannot be opened inside an element"),
        "within": N_("Chrome cannot nest one scope in another"),
    }.get(action, N_("Chrome has no step that does this"))


def _visible_css(selectors: list[str]) -> str:
    return (
        f"{json.dumps(selectors)}.some((selector) => Array.from(document.querySelectorAll("
        "selector)).some((element) => element.checkVisibility()))"
    )


def _visible_text(text: str) -> str:
    """A visible element whose text is `text` (Playwright's getByText: a /regex/ searched in
    the element's text, else a case-insensitive substring of its whitespace-folded text)."""
    pattern = targets.as_regex(text)
    if pattern is not None:
        flags = "".join(
            letter
            for letter, bit in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL))
            if pattern.flags & bit
        )
        test = f"new RegExp({json.dumps(pattern.pattern)}, {json.dumps(flags)}).test(shown)"
    else:
        wanted = " ".join(text.split()).lower()
        test = f"shown.toLowerCase().includes({json.dumps(wanted)})"
    return (
        "Array.from(document.querySelectorAll('body *')).some((element) => {"
        " const shown = (element.innerText || '').replace(/\\s+/g, ' ').trim();"
        f" return element.checkVisibility() && {test}; }})"
    )


def _outcome_checks(condition: object) -> list[str] | None:
    """JavaScript checks, any of which holding means the outcome holds: visible targets with
    plain CSS and visible texts; None when the outcome says more than Chrome can check."""
    if not isinstance(condition, dict):
        return None
    plain = {key: value for key, value in condition.items() if key != "extract"}
    if set(plain) == {"any"} and isinstance(plain["any"], list):
        # The alternatives Chrome can check; one it cannot (a labelled field's text, say) is
        # left out as long as another remains.
        checks: list[str] = []
        for item in plain["any"]:
            checks += [check for check in _outcome_checks(item) or [] if check not in checks]
        return checks or None
    if set(plain) == {"text"} and isinstance(plain["text"], str):
        return [_visible_text(plain["text"])]
    found = _outcome_selectors(plain)
    if not found:
        return None
    css = [_css_of(entry) for entry in found]
    if any(selector is None for selector in css):
        return None
    return [_visible_css(css)]


def _outcome_selectors(condition: object) -> list | None:
    """Chrome's selectors for an outcome that holds when one of some targets is visible, or
    None when it says more (a URL, a title, a text or count check, not, all)."""
    if not isinstance(condition, dict):
        return None
    plain = {key: value for key, value in condition.items() if key != "extract"}
    if set(plain) == {"any"} and isinstance(plain["any"], list):
        selectors: list = []
        for item in plain["any"]:
            found = _outcome_selectors(item)
            if not found:
                return None
            selectors += [entry for entry in found if entry not in selectors]
        return selectors
    if set(plain) == {"target"}:
        plain = {"target": plain["target"]}
        target = plain["target"]
    elif any(kind in plain for kind in TARGET_KINDS) and set(plain) <= {
        *TARGET_KINDS,
        "name",
        "exact",
    }:
        target = plain
    else:
        return None
    selectors, frame = target_selectors(target)
    return selectors if selectors and not frame else None


def export_chrome_recording(
    data: Mapping[str, Any],
    *,
    portal: str,
    params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Chrome Recorder recording (as data) for a flow given as its parsed file content.

    Relative URLs are joined to `portal`. `{{ name }}` templates are filled in with `params`,
    else the param's default (Chrome replays text literally); secrets never are.
    """
    declared = data.get("params") or {}
    secret = {"email", "password", "totp_secret"} | {
        name for name, spec in declared.items() if isinstance(spec, dict) and spec.get("secret")
    }
    # Chrome replays text as written, so a param's default is the best text to give it.
    values = {
        name: spec["default"]
        for name, spec in declared.items()
        if isinstance(spec, dict) and spec.get("default") is not None
    }
    values.update(params or {})
    safe_params = {name: value for name, value in values.items() if name not in secret}
    return _Exporter(data, portal, safe_params).run()


def custom_steps_in(recording: Mapping[str, Any]) -> list[int]:
    """1-based numbers of the Chrome steps that Chrome's replay will skip (our custom steps)."""
    return [
        number
        for number, step in enumerate(recording.get("steps", []), start=1)
        if step.get("type") == "customStep" and step.get("name") == FLOW_STEP
    ]
