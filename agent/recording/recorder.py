"""Record a flow from a live browser: what a person does becomes flow steps.

agent/recorder.js runs in every document of the recording context and reports each action
(with target candidates computed in the page) through an exposed binding, which survives
navigations. This module turns the reports into steps: typing coalesced into one fill per
field, the portal's sign-in replaced by the `login` session flow, portal URLs made relative,
literal param values written as `{{ param }}`, passwords as `{{ password }}`.

    async with recording(browser, url=portal + "/orders-v3/", portal=portal) as rec:
        ...                          # a person (or a test, through rec.page) works here
        await rec.wait_stopped()     # the stop button, closing the page, or rec.stop()
    flow = rec.flow()                # a dict, validated; importers.dump_flow() writes YAML
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent.i18n import N_, told
from agent.play.signals import loop_signals
from agent.recording.common import (
    SESSION_FLOW,
    RecordingError,
    flow_name,
    is_sign_in_url,
    on_portal,
    order_id_params,
    param_specs,
    parameterize,
    relative_url,
    replace_strings,
    template_names,
    validate,
)

SCRIPT = Path(__file__).with_name("recorder.js")
BINDING = "__sellerAgentRecord"
# The JavaScript that names an iframe from its parent's side, for a target's `frame:`.
_FRAME_SELECTOR_JS = """(frame) => {
  if (frame.id) return 'iframe#' + CSS.escape(frame.id);
  if (frame.name) return 'iframe[name=' + JSON.stringify(frame.name) + ']';
  if (frame.title) return 'iframe[title=' + JSON.stringify(frame.title) + ']';
  const frames = Array.from(document.querySelectorAll('iframe'));
  return 'iframe >> nth=' + frames.indexOf(frame);
}"""


def _escape_templates(text: str) -> str:
    """Literal text from a page that happens to contain template markers stays literal."""
    if "{{" not in text and "{%" not in text:
        return text
    return text.replace("{{", "{{ '{{' }}").replace("{%", "{{ '{%' }}")


class Recorder:
    """Collects the page's reports and builds the flow; one recording per instance."""

    def __init__(
        self,
        *,
        portal: str,
        params: Mapping[str, str] | None = None,
        name: str | None = None,
        session: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.portal = portal
        self.params = {key: str(value) for key, value in (params or {}).items()}
        self.name = name
        self.session = session
        self.warn = warn or (lambda message: None)
        self.page: Any = None
        self.start_url = ""
        self.steps: list[dict[str, Any]] = []
        self._keys: list[str | None] = []  # the element each step acted on, for coalescing
        self._fills: dict[str, str] = {}  # the last value filled into each field
        self._saw_sign_in = False
        self._opening = False
        self._frame_tasks: list[asyncio.Task] = []
        self._stopped = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def attach(self, context: Any) -> None:
        """Make every document of the context report to this recorder (before any page opens)."""
        await context.expose_binding(BINDING, self._on_report)
        await context.add_init_script(path=str(SCRIPT))

    async def open(self, context: Any, url: str) -> Any:
        """Open the recording page at url; its first goto is the flow's first step."""
        self.page = await context.new_page()
        self.page.on("close", lambda _page: self._stopped.set())
        self.start_url = url
        if url and url != "about:blank":
            if is_sign_in_url(url):
                self._saw_sign_in = True
            else:
                self._add({"goto": relative_url(url, self.portal)}, None)
            self._opening = True
            try:
                await self.page.goto(url)
            finally:
                self._opening = False
        return self.page

    def stop(self) -> None:
        """End the recording (a signal handler, the stop button and page close call this)."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def settle(self) -> None:
        """Let reports already sent by the page arrive before the flow is built."""
        if self.page is not None and not self.page.is_closed():
            with contextlib.suppress(Exception):
                # A round trip to the page: reports sent before it are delivered before its answer.
                await self.page.evaluate("1")
        for _ in range(3):
            await asyncio.sleep(0)
        if self._frame_tasks:
            await asyncio.gather(*self._frame_tasks, return_exceptions=True)

    # -- reports from the page --------------------------------------------------------------

    def _on_report(self, source: Mapping[str, Any], report: Mapping[str, Any]) -> None:
        if not isinstance(report, dict):
            return
        kind = report.get("type")
        if kind == "stop":
            self.stop()
            return
        page = source.get("page")
        if self.page is not None and page is not None and page != self.page:
            return  # popups and other tabs are not part of this flow
        frame = source.get("frame")
        in_frame = bool(report.get("inFrame"))
        url = str(report.get("url") or "")
        top_url = self.page.url if self.page is not None and in_frame else url
        if kind == "page":
            self._on_page(report, url)
            return
        if is_sign_in_url(top_url):
            self._saw_sign_in = True
            return
        step = self._step_for(kind, report)
        if step is None:
            return
        target_key = (report.get("target") or {}).get("key")
        if in_frame and frame is not None:
            self._resolve_frame_later(step, frame)
        self._add(step, target_key)

    def _on_page(self, report: Mapping[str, Any], url: str) -> None:
        if report.get("inFrame"):
            return
        if not url.startswith(("http://", "https://")):
            return  # the blank document a new page starts with
        if is_sign_in_url(url):
            self._saw_sign_in = True
            return
        # A page nobody clicked or pressed towards was typed into the address bar, reloaded,
        # or reached by back/forward: a goto replays it. Redirects inherit their cause.
        # The first page after a sign-in the recording started on is where replays begin.
        if (report.get("caused") or self._opening) and self.steps:
            return
        relative = relative_url(url, self.portal)
        last = self.steps[-1] if self.steps else None
        if last and last.get("goto") == relative:
            return
        self._add({"goto": relative}, None)

    def _target(self, report: Mapping[str, Any]) -> Any:
        target = report.get("target") or {}
        candidates = [
            replace_strings(candidate, _escape_templates)
            for candidate in target.get("candidates") or []
        ]
        if not candidates:
            return None
        return candidates[0] if len(candidates) == 1 else candidates

    def _step_for(self, kind: str, report: Mapping[str, Any]) -> dict[str, Any] | None:
        target = self._target(report)
        if kind == "press":
            key = str(report.get("key") or "")
            if not key:
                return None
            return {"press": {"target": target, "key": key} if target else key}
        if target is None:
            return None
        if kind == "click":
            options: dict[str, Any] = {}
            if report.get("button") == "right":
                options["button"] = "right"
            if report.get("modifiers"):
                options["modifiers"] = list(report["modifiers"])
            step: dict[str, Any] = {"click": {"target": target, **options} if options else target}
            if isinstance(report.get("count"), int) and report["count"] > 1:
                step["_count"] = report["count"]  # the second click of a double click
            return step
        if kind == "fill":
            if (report.get("target") or {}).get("password") or report.get("value") is None:
                return {"fill": {"target": target, "value": "{{ password }}"}}
            value = str(report.get("value"))
            return {"fill": {"target": target, "value": _escape_templates(value)}}
        if kind == "select":
            value = report.get("value")
            option = [str(v) for v in value] if isinstance(value, list) else str(value or "")
            return {"select": {"target": target, "option": option}}
        if kind in ("check", "uncheck"):
            return {kind: target}
        return None

    def _add(self, step: dict[str, Any], key: str | None) -> None:
        if "fill" in step and key is not None:
            # The change event a field fires when it loses focus (or its form is submitted)
            # repeats what its input events already said.
            if self._fills.get(key) == step["fill"]["value"]:
                return
            self._fills[key] = step["fill"]["value"]
        last = self.steps[-1] if self.steps else None
        last_key = self._keys[-1] if self._keys else None
        same_field = key is not None and key == last_key and last is not None
        if same_field and "fill" in step and "fill" in last:
            last["fill"]["value"] = step["fill"]["value"]  # typing goes on: one fill per field
            return
        if same_field and "select" in step and "select" in last:
            last["select"]["option"] = step["select"]["option"]
            return
        if (
            same_field
            and ("check" in step or "uncheck" in step)
            and ("check" in last or "uncheck" in last)
        ):
            self.steps[-1] = step
            return
        if same_field and "click" in step and "click" in last and self._is_second_click(step):
            clicked = last["click"]
            options = clicked if isinstance(clicked, dict) and "target" in clicked else None
            if options is None:
                last["click"] = {"target": clicked, "count": 2}
            else:
                options["count"] = 2
            return
        self.steps.append(step)
        self._keys.append(key)

    @staticmethod
    def _is_second_click(step: dict[str, Any]) -> bool:
        # The page reports both clicks of a double click; the second carries the count.
        return bool(step.get("_count", 0) > 1)

    def _resolve_frame_later(self, step: dict[str, Any], frame: Any) -> None:
        async def resolve() -> None:
            element = await frame.frame_element()
            try:
                selector = await element.evaluate(_FRAME_SELECTOR_JS)
            finally:
                await element.dispose()
            _set_frame(step, selector)

        self._frame_tasks.append(asyncio.ensure_future(resolve()))

    # -- the result ------------------------------------------------------------------------

    def flow(self, *, check: bool = True) -> dict[str, Any]:
        """The recorded flow as data (validated by the flow loader unless check=False)."""
        steps = [{k: v for k, v in step.items() if not k.startswith("_")} for step in self.steps]
        if not steps:
            raise RecordingError(
                told(
                    N_(
                        "nothing was recorded (sign-in pages are left out: the session flow "
                        "does that)"
                    )
                )
            )
        typed = [
            step["fill"]["value"]
            for step in steps
            if "fill" in step and step["fill"]["value"] != "{{ password }}"
        ]
        new_params = order_id_params(typed, self.params)
        for name, value in new_params.items():
            self.warn(
                told(
                    N_(
                        "the typed value {value!r} looks like an order id: written as "
                        "{template} (param {name}; rename it in the file if you like)"
                    ),
                    value=value,
                    template="{{ " + name + " }}",
                    name=name,
                )
            )
        given = {**self.params, **new_params}
        steps = parameterize(steps, given)
        start_path = relative_url(self.start_url, self.portal) if self.start_url else ""
        flow: dict[str, Any] = {
            "name": self.name or flow_name(start_path.strip("/").split("?")[0], "recorded"),
            "summary": f"Recorded on {start_path or self.portal}",
        }
        declared = param_specs(template_names(steps), given)
        if declared:
            flow["params"] = declared
        session = self.session or (SESSION_FLOW if self._saw_sign_in or on_portal(steps) else None)
        if session:
            flow["session"] = session
        flow["steps"] = steps
        if check:
            validate(flow, "<recording>")
        return flow


def _set_frame(step: dict[str, Any], selector: str) -> None:
    """Put `frame:` on every candidate of the step's target."""
    action = next(iter(step))
    body = step[action]
    holder, key = (
        (body, "target") if isinstance(body, dict) and "target" in body else (step, action)
    )
    target = holder[key]
    specs = target if isinstance(target, list) else [target]
    framed = [
        {**spec, "frame": selector}
        if isinstance(spec, dict)
        else f"{selector} >> internal:control=enter-frame >> {spec}"
        for spec in specs
    ]
    holder[key] = framed if isinstance(target, list) else framed[0]


@asynccontextmanager
async def recording(
    browser: Any,
    *,
    url: str,
    portal: str,
    params: Mapping[str, str] | None = None,
    name: str | None = None,
    session: str | None = None,
    storage_state: Path | None = None,
    locale: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> AsyncIterator[Recorder]:
    """A recorder on a fresh context of `browser`, its page opened at url.

    The context closes when the block ends; build the flow with `rec.flow()` after that
    (everything the page reported has arrived by then).
    """
    from agent.play import browser as browserlib

    recorder = Recorder(portal=portal, params=params, name=name, session=session, warn=warn)
    context = await browserlib.new_context(browser, storage_state=storage_state, locale=locale)
    try:
        await recorder.attach(context)
        await recorder.open(context, url)
        yield recorder
        await recorder.settle()
    finally:
        with contextlib.suppress(Exception):
            await context.close()


def display_available() -> bool:
    """True where a headed browser can show a window."""
    import os
    import sys

    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


async def record_session(
    *,
    url: str,
    portal: str,
    params: Mapping[str, str] | None = None,
    name: str | None = None,
    session: str | None = None,
    headed: bool = False,
    browser_path: str | None = None,
    slowmo: int = 0,
    connect: str | None = None,
    locale: str | None = None,
    warn: Callable[[str], None] | None = None,
    on_ready: Callable[[Recorder], None] | None = None,
) -> dict[str, Any]:
    """Launch a browser, record until stopped, return the flow (as data).

    Stops on the page's stop button, when the page or browser closes, or on SIGINT/SIGTERM
    (so a program driving a headless recording can end it and still get the file).
    """

    from playwright.async_api import async_playwright

    from agent.play import browser as browserlib

    loop = asyncio.get_running_loop()
    async with async_playwright() as playwright:
        browser = await browserlib.launch(
            playwright, browser_path=browser_path, headed=headed, slowmo=slowmo, connect=connect
        )
        try:
            async with recording(
                browser,
                url=url,
                portal=portal,
                params=params,
                name=name,
                session=session,
                locale=locale,
                warn=warn,
            ) as recorder:
                browser.on("disconnected", lambda _browser: recorder.stop())
                with loop_signals(loop, recorder.stop):
                    if on_ready:
                        on_ready(recorder)
                    await recorder.wait_stopped()
        finally:
            with contextlib.suppress(Exception):
                await browser.close()
    return recorder.flow()
