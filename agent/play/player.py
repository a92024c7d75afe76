"""Run one flow on one page: steps, guards, outcomes, transparent re-sign-in, evidence on failure."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import io
import re
import secrets as token_source
import shutil
import tempfile
import time
import weakref
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from agent import flow as flowlib
from agent.errors import StepError, held_back, one_line, playwright_error_kind
from agent.flow import targets, totp
from agent.i18n import N_, Told, as_told, told, told_map
from agent.play import ahead, locate, otp
from agent.play import browser as browserlib
from agent.play.browser import private_dir, write_private_bytes
from agent.play.notes import EVIDENCE_NOTE
from agent.play.secrets import Secrets

TRANSIENT_KINDS = ("timeout", "http_5xx", "http_429", "network", "session")
LOADED_CHECK_SECONDS = 2.0
SCREENSHOT_MS = 10000  # a failure's screenshot, on a page that may still be loading
RESOLVE_GRACE = 1.0  # seconds a target lookup may take beyond its step's timeout
LOOK_MS = 1000  # asking what an element is, after Playwright refused to act on it
# The element the portal's "automated access blocked" page carries (answered with HTTP 403).
_BLOCKED_PAGE = re.compile(
    r'<(\w+)[^>]*\bid=["\']automated-access-blocked["\'][^>]*>(.*?)</\1>', re.DOTALL
)
POLL_SECONDS = 0.1
# The steps that act on a target they first find visible.
VISIBLE_TARGET_KINDS = ("click", "fill", "type", "select", "check", "uncheck", "press", "hover")
NAVIGATION_WAKE_SECONDS = 5.0
MAX_SIGN_INS = 2


@dataclass
class RunResult:
    """How one run of a flow ended.

    `error_kind`, when the run failed:
    - `timeout`: the page did not load in time (a navigation still pending, the document
      still loading), also when a target or an outcome was waited for on it; transient.
    - `http_5xx`, `http_429` (with `retry_after`): the main page answered with that status;
      transient.
    - `network`: the connection failed or the page or browser closed; transient.
    - `session`: signing in again failed, or the portal kept returning to the sign-in page;
      transient.
    - `selector`: the page loaded, and a step's target (or waited-for condition, or any of
      the outcomes) never appeared on it, or an element found never took the step's action
      (disabled, covered, hidden, read-only, a select without the option), or a wait for
      `hidden` or `detached` never held: the page is not what the flow expects; final.
    - `step`: anything else the flow cannot do (a failed expectation, a bad template, a
      bad param of a sub-flow); final.

    `error` is a Told for the player's own messages (agent.i18n): English as str(), the
    reader's language as `shown`, and its message id and values for the journal.
    """

    outcome: str
    ok: bool
    values: dict = field(default_factory=dict)
    matches: list[dict] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    retry_after: float | None = None
    evidence: list[str] = field(default_factory=list)
    duration: float = 0.0
    sign_ins: int = 0  # times the run signed in again because its session had ended

    @property
    def transient(self) -> bool:
        """True when a retry may succeed (timeouts, 5xx, 429, network, session trouble)."""
        return self.error_kind in TRANSIENT_KINDS

    def to_dict(self) -> dict:
        return {**asdict(self), "transient": self.transient}


class _Ended(Exception):
    """A guard or sub-flow guard found an outcome: the run ends with it."""

    def __init__(self, outcome: str):
        super().__init__(outcome)
        self.outcome = outcome


class _SignInNeeded(Exception):
    """The page landed on the sign-in page: the session expired."""


def _join(portal: str, url: str) -> str:
    if re.match(r"^[a-z][a-z0-9+.-]*:", url, re.IGNORECASE):
        return url
    if url.startswith("/"):
        return portal.rstrip("/") + url
    return portal.rstrip("/") + "/" + url


def _matches_text(pattern: str, text: str) -> bool:
    regex = targets.as_regex(pattern)
    return bool(regex.search(text)) if regex else pattern in text


def _safe_label(value: object) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(value))[:40].strip("_")


# page -> the runners playing on it now (a sign-in inside a run is a second one).
_WATCHERS: weakref.WeakKeyDictionary[Any, list[_Runner]] = weakref.WeakKeyDictionary()

# The page events a runner follows, and its method for each.
_PAGE_EVENTS = {
    "response": "_on_response",
    "framenavigated": "_on_navigated",
    "request": "_on_request",
    "requestfinished": "_on_request_done",
    "requestfailed": "_on_request_failed",
}


def _page_watchers(page: Any) -> list[_Runner]:
    """The runners to hand the page's events to. The page's listeners are added once, on its
    first run, and stay: a page played row after row would otherwise switch the driver's event
    subscriptions on and off every row (eight round trips a row)."""
    watchers = _WATCHERS.get(page)
    if watchers is None:
        watchers = _WATCHERS[page] = []
        for event, method in _PAGE_EVENTS.items():
            page.on(event, _forward(watchers, method))
    return watchers


def _forward(watchers: list[_Runner], method: str) -> Callable[[Any], None]:
    def forward(subject: Any) -> None:
        for runner in list(watchers):
            getattr(runner, method)(subject)

    return forward


class _Runner:
    def __init__(
        self,
        page: Any,
        flow: flowlib.Flow,
        params: dict,
        *,
        portal: str,
        secrets: Secrets,
        run_dir: Path,
        trace: bool,
        sign_in: bool = False,
    ):
        self.page = page
        self.flow = flow
        self.portal = portal
        self.secrets = secrets
        self.run_dir = Path(run_dir)
        self.trace = trace
        self.params = dict(params)
        self.values: dict[str, Any] = {}
        self.matches: list[dict] = []
        self.evidence: list[str] = []
        self.interrupt: BaseException | None = None
        self.interrupted = asyncio.Event()
        self.signing_in = False
        self.sign_ins = 0
        self.sign_in_url = self._sign_in_url()
        self.navigations: set[Any] = set()
        # Set while no main-frame navigation is in flight: the final outcome wakes on it
        # rather than polling while the submit's answer loads.
        self.navigations_done = asyncio.Event()
        self.navigations_done.set()
        # Why the main frame's last navigation failed ("net::ERR_... at URL"), if it did.
        self.failed_navigation: str | None = None
        # Counts the main frame's navigations (started and committed): outcomes read while it
        # moved were read from two pages, and are read again.
        self.page_moves = 0
        # Everything typed while signing in is as private as the password: the email in the
        # raw request body, the one-time code in the trace.
        self.is_sign_in = sign_in or flow.login_page is not None
        self._block_checks: list[asyncio.Future[None]] = []
        # The steps ahead whose conditions one count found false (agent.play.ahead), by id,
        # and the page_moves they were read at: the answer holds on that page only.
        self._settled: set[int] = set()
        self._settled_at = 0
        # The row a count found something in, and the page_moves it was read at: its steps
        # read for themselves on that page, without counting again.
        self._unsettled: set[int] = set()
        self._unsettled_at = 0
        # The step inside a `within` whose first candidate was seen there, visible, by the
        # within's own look (and the page_moves it was seen at): it acts without looking again.
        self._seen_first: tuple[int, int] | None = None

    # -- context and templates -----------------------------------------------------------
    def context(self, extra: dict | None = None) -> dict:
        return {**self.params, **(extra or {}), **self.values, **self.secrets.values()}

    def typed(self, template: Any, ctx: dict) -> str:
        """The text a fill or type step enters; hidden from every artefact when it is typed
        into a sign-in or made from a secret."""
        value = str(flowlib.render(template, ctx))
        names: set[str] = set()
        if isinstance(template, str) and flowlib.has_template(template):
            names = flowlib.template_names(template)
        if self.is_sign_in or names & set(self.secrets.values()):
            self.secrets.hide(value)
        if "totp_secret" in names:
            self._hide_codes_around_now()
        return value

    def _shown(self, value: Any, ctx: dict) -> Any:
        """value as an error line or a report names it: its templates rendered, except one
        that uses a secret (the account's, a `secret: true` param, a one-time code made from
        one), which is named as written - a rendered secret may be changed by a filter past
        what redaction recognises."""
        if isinstance(value, list):
            return [self._shown(item, ctx) for item in value]
        if isinstance(value, dict):
            return {key: self._shown(item, ctx) for key, item in value.items()}
        if not (isinstance(value, str) and flowlib.has_template(value)):
            return value
        try:
            if _template_names(value) & set(self.secrets.values()):
                return value
            return str(flowlib.render(value, ctx))
        except Exception:
            return value

    def _describe_spec(self, target: Any, index: int, ctx: dict) -> str:
        """Candidate `index` of a target as written in the flow, rendered as _shown says."""
        return self.secrets.redact(targets.describe(self._shown(target[index], ctx)))

    async def _fresh_code(self, template: Any) -> None:
        """Before a one-time code is typed: wait, if this machine already used the current
        30-second step for this account, for the next one (see agent.play.otp)."""
        if not (isinstance(template, str) and flowlib.has_template(template)):
            return
        if "totp_secret" not in flowlib.template_names(template) or not self.secrets.totp_secret:
            return
        key = otp.ledger_key(self.portal, self.secrets.email or "", self.secrets.totp_secret)
        await otp.fresh_step(key)

    def _hide_codes_around_now(self) -> None:
        # The code typed is hidden already; its neighbours are the ones the portal would also
        # accept (one step of skew) or show back, so they are as sensitive.
        step = int(time.time() // totp.STEP_SECONDS)
        with contextlib.suppress(totp.BadSecret):
            for delta in range(-2, 3):
                self.secrets.hide(totp.hotp(self.secrets.totp_secret, step + delta))

    def _sign_in_url(self) -> str | None:
        if self.flow.session_flow is None:
            return None
        condition = self.flow.sign_in_page()
        return condition["value"] if condition["kind"] == "url" else None

    # -- watching the page ---------------------------------------------------------------
    def _on_response(self, response: Any) -> None:
        if self.signing_in or self.interrupt is not None:
            return
        try:
            status = response.status
            if status == 403:
                self._watch_for_block(response)
                return
            if status < 500 and status != 429:
                return
            if response.request.resource_type != "document":
                return
            if response.frame != self.page.main_frame:
                return
        except Exception:
            return
        if status == 429:
            retry_after = None
            with contextlib.suppress(ValueError, TypeError):
                retry_after = float(response.headers.get("retry-after"))
            self._stop(
                StepError(
                    told(N_("HTTP 429 Too Many Requests at {url}"), url=response.url),
                    "http_429",
                    retry_after,
                )
            )
        else:
            self._stop(
                StepError(
                    told(N_("HTTP {status} at {url}"), status=status, url=response.url), "http_5xx"
                )
            )

    def _on_request(self, request: Any) -> None:
        with contextlib.suppress(Exception):
            if request.is_navigation_request() and request.frame == self.page.main_frame:
                self.navigations.add(request)
                self.navigations_done.clear()
                self.page_moves += 1

    def _on_request_done(self, request: Any) -> None:
        self.navigations.discard(request)
        if not self.navigations:
            self.navigations_done.set()

    def _on_request_failed(self, request: Any) -> None:
        self._on_request_done(request)
        with contextlib.suppress(Exception):
            if request.is_navigation_request() and request.frame == self.page.main_frame:
                self.failed_navigation = f"{request.failure} at {request.url}"

    async def _missing_kind(self) -> str:
        """The error kind of something that never appeared: `selector` when the page had
        loaded (so it is simply not there, and waiting longer would not help), `timeout` when
        the page itself was still on its way."""
        if self.navigations:
            return "timeout"
        # Chromium's own error page ("This site can't be reached") is a loaded page too, but
        # what is missing there is the portal, not a target: the network's trouble.
        if str(self.page.url).startswith("chrome-error://"):
            return "network"
        try:
            state = await asyncio.wait_for(
                self.page.evaluate("document.readyState"), LOADED_CHECK_SECONDS
            )
        except Exception:
            # No answer: the page is busy navigating, hung or gone.
            return "timeout"
        return "selector" if state == "complete" and not self.navigations else "timeout"

    def _watch_for_block(self, response: Any) -> None:
        """A 403 page saying automated access is blocked stops the flow (kind "blocked", never
        retried); any other 403 is left to the flow's own outcomes, and so is this one in a
        flow with an outcome named `blocked` (the login flow's)."""
        if "blocked" in self.flow.outcomes:
            return
        try:
            if response.request.resource_type != "document":
                return
            if response.frame != self.page.main_frame:
                return
        except Exception:
            return

        async def read() -> None:
            with contextlib.suppress(Exception):
                found = _BLOCKED_PAGE.search(await response.text())
                if found and self.interrupt is None:
                    said = " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split())[:300]
                    self._stop(
                        StepError(
                            told(N_("HTTP 403 at {url}: {said}"), url=response.url, said=said),
                            "blocked",
                        )
                    )

        self._block_checks.append(asyncio.ensure_future(read()))

    def _on_navigated(self, frame: Any) -> None:
        try:
            if frame != self.page.main_frame:
                return
            self.page_moves += 1
            if self.signing_in or self.interrupt is not None:
                return
            if str(frame.url).startswith("chrome-error://"):
                # Chromium's own error page: the portal could not be reached. Waiting for a
                # target there would only spend the step's whole timeout.
                why = self.failed_navigation or told(N_("the page could not be loaded"))
                self._stop(
                    StepError(told(N_("Chromium showed its error page: {why}"), why=why), "network")
                )
            elif self.sign_in_url and _matches_text(self.sign_in_url, frame.url):
                self._stop(_SignInNeeded())
        except Exception:
            return

    def _stop(self, reason: BaseException) -> None:
        self.interrupt = reason
        self.interrupted.set()

    def _clear_interrupt(self) -> None:
        self.interrupt = None
        self.interrupted.clear()

    async def _guarded(self, work: Awaitable[Any]) -> Any:
        """Await work, abandoning it as soon as the page shows an error page or the sign-in page."""
        if self.interrupt is not None:
            if asyncio.iscoroutine(work):
                work.close()  # never started: close it rather than leave it unawaited
            raise self.interrupt
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self.interrupted.wait())
        try:
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise self.interrupt  # type: ignore[misc]

    # -- conditions ----------------------------------------------------------------------
    async def holds(self, scope: Any, condition: dict, ctx: dict) -> bool:
        """Whether a condition holds right now (no waiting)."""
        kind = condition["kind"]
        try:
            if kind in ("url", "given"):
                return bool(self._local(condition, ctx))
            if kind == "title":
                return _matches_text(
                    flowlib.render(condition["value"], ctx), await self.page.title()
                )
            if kind == "any":
                items = condition["items"]
                if scope is self.page:
                    items = _flat_any(items)
                    # Every item made of bare targets alone in one round trip.
                    combined = [(item, self._combined(item, ctx)) for item in items]
                    ready = [locator for _, locator in combined if locator is not None]
                    answer = await self._count_holds(locate.join(ready)) if ready else False
                    if answer:
                        return True
                    # When that count failed (None), its items are asked one by one.
                    items = [
                        item for item, locator in combined if locator is None or answer is None
                    ]
                else:
                    plain = [item for item in items if ahead.plain_target(item)]
                    if plain:
                        # Every bare target of the list in one round trip.
                        specs = [
                            spec for item in plain for spec in flowlib.render(item["target"], ctx)
                        ]
                        if await locate.any_visible(scope, specs):
                            return True
                    items = [item for item in items if not ahead.plain_target(item)]
                for item in items:
                    if await self.holds(scope, item, ctx):
                        return True
                return False
            if kind in ("all", "not") and scope is self.page:
                locator = self._combined(condition, ctx)
                answer = None if locator is None else await self._count_holds(locator)
                if answer is not None:
                    return answer
            if kind == "all":
                for item in condition["items"]:
                    if not await self.holds(scope, item, ctx):
                        return False
                return True
            if kind == "not":
                return not await self.holds(scope, condition["item"], ctx)
            specs = flowlib.render(condition["target"], ctx)
            if ahead.plain_target(condition):
                return await locate.any_visible(scope, specs)
            if "count" in condition:
                found = await locate.present(scope, specs)
                return (await found[0].count() if found else 0) == condition["count"]
            found = await locate.present(scope, specs)
            if found is None:
                return False
            locator = found[0]
            if "value" in condition:
                expected = flowlib.render(condition["value"], ctx)
                actual = await locator.first.input_value(timeout=1000)
                return (
                    bool(targets.as_regex(expected).search(actual))
                    if targets.as_regex(expected)
                    else actual == expected
                )
            text = await locator.first.inner_text(timeout=1000)
            return _matches_text(flowlib.render(condition["text"], ctx), text)
        except PlaywrightError:
            # A navigation in progress destroys the page's context mid-check: "not yet".
            return False

    def _local(self, condition: dict, ctx: dict) -> bool | None:
        """The answer of a condition read without the browser (given, url); None for others."""
        kind = condition["kind"]
        if kind == "given":
            # A text or list that is not empty, or true (an extract's `present: true`).
            value = ctx.get(condition["value"])
            return value is not None and value is not False and value not in ("", [])
        if kind == "url":
            return _matches_text(flowlib.render(condition["value"], ctx), self.page.url)
        return None

    async def _read_ahead(self, steps: list[flowlib.Step], ctx: dict, flow: flowlib.Flow) -> None:
        """Settle the row of reading steps that starts here with one count, when it saves a
        round trip and none of their conditions holds (agent.play.ahead)."""
        first = steps[0]
        if first.when is None and first.kind not in ("outcome", "extract") or self.navigations:
            return
        if id(first) in self._unsettled and self._unsettled_at == self.page_moves:
            return
        reader = ahead.Reader(
            combined=lambda condition: self._combined(condition, ctx),
            local=lambda condition: self._local(condition, ctx),
            present=lambda specs: locate.union(self.page, flowlib.render(specs, ctx)),
        )
        row, witness = ahead.settled_row(steps, flow, reader)
        if not row:
            return
        moves = self.page_moves
        if witness is not ahead.NEVER and await self._count_holds(witness) is not False:
            self._unsettled = {id(step) for step in row}
            self._unsettled_at = moves
            return
        if moves == self.page_moves:
            self._settled = {id(step) for step in row}
            self._settled_at = moves

    def _take_settled(self, step: flowlib.Step) -> bool:
        """Whether the step's condition was found false by reading ahead, on this very page."""
        if id(step) not in self._settled:
            if not (step.kind == "extract" and (step.args["present"] or step.args["all"])):
                self._settled.clear()
            return False
        self._settled.discard(id(step))
        if self._settled_at == self.page_moves and not self.navigations:
            return True
        self._settled.clear()
        return False

    def _combined(self, condition: dict, ctx: dict, inside: bool = False) -> Any:
        """One locator of the page with an element exactly when the condition holds, for a
        condition made of bare targets alone (any, all and not of them, no frames); None for
        any other. `all` and `not` become the document's root element filtered by what it
        must and must not contain, so a whole tree is answered in one round trip; such a
        root cannot sit inside another's filter (`inside`), so deeper ones are not combined."""
        kind = condition["kind"]
        if kind == "target":
            if not ahead.plain_target(condition):
                return None
            specs = flowlib.render(condition["target"], ctx)
            if any("frame" in spec for spec in specs):
                return None
            return locate.visible(locate.union(self.page, specs))
        if kind == "any":
            parts = [self._combined(item, ctx, inside) for item in condition["items"]]
            if not parts or any(part is None for part in parts):
                return None
            return locate.join(parts)
        if kind not in ("all", "not") or inside:
            return None
        if kind == "not":
            musts, must_nots = [], [condition["item"]]
        else:
            musts = [item for item in condition["items"] if item["kind"] != "not"]
            must_nots = [item["item"] for item in condition["items"] if item["kind"] == "not"]
        root = self.page.locator(":root")
        for item, negated in [(item, False) for item in musts] + [(i, True) for i in must_nots]:
            part = self._combined(item, ctx, inside=True)
            if part is None:
                return None
            root = root.filter(has_not=part) if negated else root.filter(has=part)
        return root if musts or must_nots else None

    async def _count_holds(self, locator: Any) -> bool | None:
        """Whether the combined locator has an element; None when the page could not say
        (its document was replaced mid-query), and the condition is asked item by item."""
        try:
            return await locator.count() > 0
        except PlaywrightError:
            return None

    def trigger(self, scope: Any, condition: dict, ctx: dict) -> Any:
        """A locator whose visible elements must exist before the condition can hold (None
        when there is none), so a wait can sleep in the browser instead of polling."""
        kind = condition["kind"]
        if kind == "target":
            if "count" in condition:
                return None
            combined = locate.union(scope, flowlib.render(condition["target"], ctx))
            return locate.visible(combined) if ahead.plain_target(condition) else combined
        if kind == "any":
            triggers = [self.trigger(scope, item, ctx) for item in condition["items"]]
            if not triggers or any(item is None for item in triggers):
                return None
            return locate.join(triggers)
        if kind == "all":
            for item in condition["items"]:
                found = self.trigger(scope, item, ctx)
                if found is not None:
                    return found
        return None

    async def _until(self, trigger: Any, deadline: float) -> None:
        """Sleep until trigger has an element (or the deadline passes); interruptible."""
        remaining = max(1, int((deadline - time.monotonic()) * 1000))
        try:
            await self._guarded(trigger.first.wait_for(state="attached", timeout=remaining))
        except PlaywrightError:
            pass

    async def wait_for(self, scope: Any, condition: dict, ctx: dict, timeout_ms: int) -> bool:
        deadline = time.monotonic() + timeout_ms / 1000
        trigger = self.trigger(scope, condition, ctx)
        while True:
            if await self.holds(scope, condition, ctx):
                return True
            if time.monotonic() >= deadline:
                return False
            if trigger is not None:
                # Once: if it fires and the condition still does not hold, poll from then on.
                await self._until(trigger, deadline)
                trigger = None
            else:
                await self._guarded(asyncio.sleep(POLL_SECONDS))

    # -- steps ---------------------------------------------------------------------------
    async def _target(
        self, scope: Any, step: flowlib.Step, ctx: dict, timeout: int, state: str = "visible"
    ) -> Any:
        specs = flowlib.render(step.args["target"], ctx)
        seen, self._seen_first = self._seen_first, None
        if seen == (id(step), self.page_moves):
            # What resolving would pick: the first candidate, seen visible a moment ago, and no
            # navigation of the main frame started or committed since (page_moves counts both).
            locator, index = locate.build(scope, specs[0]), 0
        else:
            locator, index = await self._resolve(
                scope, specs, timeout, state, (step.args["target"], ctx)
            )
        self._match(step, index, ctx)
        return locator

    def _match(self, step: flowlib.Step, index: int, ctx: dict) -> None:
        """Note which candidate of the step's target was used (`matches` in the result)."""
        self.matches.append(
            {
                "step": step.name or step.path,
                "line": step.line,
                "candidate": index,
                "spec": self._describe_spec(step.args["target"], index, ctx),
            }
        )

    async def _resolve(
        self,
        scope: Any,
        specs: list[dict],
        timeout: int,
        state: str,
        written: tuple[list, dict] | None = None,
    ) -> tuple[Any, int]:
        """locate.resolve, held to the step's timeout: while the page navigates to a server
        that does not answer, Playwright's queries wait for the new document, however long.
        `written`: the target as the flow has it and its context, for the error to name the
        candidates as _shown says rather than as rendered."""
        try:
            return await self._guarded(
                asyncio.wait_for(
                    locate.resolve(scope, specs, timeout, state), timeout / 1000 + RESOLVE_GRACE
                )
            )
        except (locate.TargetTimeout, TimeoutError):
            shown = self._shown(*written) if written else specs
            tried = " or ".join(targets.describe(spec) for spec in shown)
            hidden = 0
            if state == "visible" and self.interrupt is None:
                # Said when it is so: "no element matched" reads wrong for one that is there,
                # hidden. One count, after the wait has failed.
                with contextlib.suppress(Exception):
                    hidden = await asyncio.wait_for(
                        locate.union(scope, specs).count(), LOOK_MS / 1000
                    )
            if hidden:
                raise locate.TargetTimeout(
                    told(
                        N_(
                            "no visible element matched {targets} within {timeout} ms "
                            "({count} on the page, hidden)"
                        ),
                        targets=tried,
                        timeout=int(timeout),
                        count=hidden,
                    )
                ) from None
            raise locate.TargetTimeout(
                told(
                    N_("no element matched {targets} within {timeout} ms"),
                    targets=tried,
                    timeout=int(timeout),
                )
            ) from None

    async def run_steps(
        self, scope: Any, steps: list[flowlib.Step], ctx: dict, flow: flowlib.Flow
    ) -> None:
        for index, step in enumerate(steps):
            await self.run_step(scope, step, ctx, flow, steps[index + 1 :])

    async def run_step(
        self,
        scope: Any,
        step: flowlib.Step,
        ctx: dict,
        flow: flowlib.Flow,
        following: list[flowlib.Step] | None = None,
    ) -> bool:
        """Do one step; False when it was skipped (its `when` did not hold, or it was optional
        and its target never came). following: the steps after it, which it may read ahead
        for (agent.play.ahead)."""
        ctx = {**ctx, **self.values}
        timeout = step.timeout or flow.timeout
        if scope is self.page and following is not None and id(step) not in self._settled:
            await self._read_ahead([step, *following], ctx, flow)
        settled = self._take_settled(step)
        if step.when is not None:
            if settled or not await self.holds(scope, step.when, ctx):
                return False
        elif settled:
            if step.kind == "extract":
                # None of its candidates is on the page: not present, or no values.
                self.values[step.args["as"]] = False if step.args["present"] else []
            return True  # a guard none of whose outcomes holds, or an extract of nothing
        if self._seen_first is not None and self._seen_first[0] != id(step):
            if step.kind not in ("outcome", "extract"):
                # This step acts first: what was seen for a later one may be gone after it.
                self._seen_first = None
        if (
            step.kind == "wait"
            and scope is self.page
            and following
            and await self._waited_and_seen(step, following, ctx)
        ):
            return True
        try:
            await self._do(scope, step, ctx, flow, timeout)
        except (_Ended, _SignInNeeded):
            raise
        except StepError as error:
            if step.optional and error.kind in ("timeout", "selector"):
                return False
            raise
        except locate.TargetTimeout as error:
            if step.optional:
                return False
            raise StepError(_step_told(step, error), await self._missing_kind()) from None
        except PlaywrightError as error:
            kind = playwright_error_kind(error)
            if step.optional and kind == "timeout":
                return False
            raise StepError(_step_told(step, one_line(error)), kind) from None
        except TemplateError as error:
            raise StepError(
                told(N_("step {step}: template: {why}"), step=_step_label(step), why=error), "step"
            ) from None
        return True

    async def _do(
        self, scope: Any, step: flowlib.Step, ctx: dict, flow: flowlib.Flow, timeout: int
    ) -> None:
        kind, args, page = step.kind, step.args, self.page
        if kind == "goto":
            url = _join(self.portal, flowlib.render(args["url"], ctx))
            await self._guarded(page.goto(url, timeout=timeout))
        elif kind == "click":
            options = {k: args[k] for k in ("button", "modifiers", "force") if k in args}
            if "count" in args:
                options["click_count"] = args["count"]
            await self._act(
                scope, step, ctx, timeout, lambda it: it.click(timeout=timeout, **options)
            )
        elif kind in ("fill", "type"):
            entered: list[str] = []

            async def enter(it: Any) -> None:
                if not entered:
                    # Once the field is found: a one-time code is made as late as it can be.
                    await self._fresh_code(args["value"])
                    entered.append(self.typed(args["value"], ctx))
                if kind == "fill":
                    await self._fill(it, entered[0], timeout)
                else:
                    delay = args.get("delay", 0)
                    await it.press_sequentially(entered[0], delay=delay, timeout=timeout)

            await self._act(scope, step, ctx, timeout, enter)
        elif kind == "select":
            option = flowlib.render(args["option"], ctx)
            await self._act(
                scope,
                step,
                ctx,
                timeout,
                lambda it: it.select_option(option, timeout=timeout),
                option=option,
            )
        elif kind in ("check", "uncheck"):
            await self._act(
                scope, step, ctx, timeout, lambda it: getattr(it, kind)(timeout=timeout)
            )
        elif kind == "press":
            key = flowlib.render(args["key"], ctx)
            if "target" in args:
                await self._act(
                    scope, step, ctx, timeout, lambda it: it.press(key, timeout=timeout)
                )
            else:
                await self._guarded(page.keyboard.press(key))
        elif kind == "hover":
            await self._act(scope, step, ctx, timeout, lambda it: it.hover(timeout=timeout))
        elif kind == "scroll":
            if "target" in args:
                await self._act(
                    scope,
                    step,
                    ctx,
                    timeout,
                    lambda it: it.scroll_into_view_if_needed(timeout=timeout),
                )
            else:
                await self._guarded(page.mouse.wheel(args["x"], args["y"]))
        elif kind == "wait":
            await self._wait(scope, step, ctx, timeout)
        elif kind == "expect":
            if not await self.wait_for(scope, args["condition"], ctx, timeout):
                raise StepError(
                    told(
                        N_("step {step}: expected {condition} within {timeout} ms"),
                        step=_step_label(step),
                        condition=_describe_condition(self._shown(args["condition"], ctx)),
                        timeout=timeout,
                    ),
                    "step",
                )
        elif kind == "extract":
            await self._extract(scope, step, ctx, timeout)
        elif kind == "screenshot":
            name = self.secrets.redact(str(flowlib.render(args["name"], ctx)))
            path = self._artifact(f"{_safe_label(name)}.png")
            image = await self._guarded(page.screenshot(full_page=args.get("full_page", False)))
            write_private_bytes(path, image)
            self.evidence.append(str(path))
        elif kind == "flow":
            child: flowlib.Flow = args["flow"]
            given = flowlib.render(args["params"], ctx)
            try:
                bound = flowlib.bind_params(child, given)
            except flowlib.FlowError as error:
                raise StepError(_step_told(step, error), "step") from None
            child_ctx = {**bound, **self.secrets.values()}
            try:
                await self.run_steps(scope, child.steps, child_ctx, child)
            except _Ended:
                # A guard inside the included flow ends that flow's steps, not the whole run.
                pass
        elif kind == "within":
            inner = args["steps"][0] if args["steps"] else None
            moves = self.page_moves
            seen = self._seen_first == (id(step), moves)
            if not seen:
                look = self._first_look(scope, step, ctx)
                seen = look is not None and await self._count_holds(look) is True
            if seen and inner is not None:
                self._seen_first = (id(step), moves)
                locator = await self._target(scope, step, ctx, timeout)
                self._seen_first = (id(inner), moves)
            else:
                locator = await self._target(scope, step, ctx, timeout)
            await self.run_steps(locator, args["steps"], ctx, flow)
        elif kind == "outcome":
            # A guard usually finds none of its outcomes: one look at them all says so, in
            # as few round trips as their conditions allow; they are asked in order only
            # when one may hold.
            either = {"kind": "any", "items": [flow.outcomes[name] for name in args["names"]]}
            if not await self.holds(scope, either, ctx):
                return
            for name in args["names"]:
                condition = flow.outcomes[name]
                if await self.holds(scope, condition, ctx):
                    if flow is self.flow:
                        await self._outcome_extracts(condition, ctx)
                    raise _Ended(name)
        elif kind == "set_viewport":
            await self._guarded(
                page.set_viewport_size({"width": args["width"], "height": args["height"]})
            )
        elif kind == "evaluate":
            await self._guarded(page.evaluate(flowlib.render(args["expression"], ctx)))

    async def _act(
        self,
        scope: Any,
        step: flowlib.Step,
        ctx: dict,
        timeout: int,
        action: Callable[[Any], Awaitable[Any]],
        option: Any = None,
    ) -> None:
        """Find the step's target and act on it. A candidate that matches several elements
        is no answer (Playwright refuses to act on it, "strict mode violation"): then the first
        candidate that matches exactly one element (or has exactly one visible) is used, and
        when none does, one line says how many each matched. Asked only after a refusal, so
        the usual step costs nothing more.

        An element found that never took the action (disabled, covered, hidden again, a select
        without the option) fails the step as `selector` when the page had loaded, as a target
        that never appeared does: a retry would meet the same page."""
        locator = await self._target(scope, step, ctx, timeout)
        try:
            try:
                await self._guarded(action(locator))
                return
            except PlaywrightError as error:
                if isinstance(error, PlaywrightTimeout) or "strict mode violation" not in str(
                    error
                ):
                    raise
            locator = await self._only_one(scope, step, ctx)
            await self._guarded(action(locator))
        except PlaywrightTimeout as error:
            kind = await self._missing_kind()
            why = await self._why_refused(locator, step, timeout, option)
            if why is None:
                # Told in Playwright's words: its line, and what its call log says held it back.
                why = one_line(error)
                reason = held_back(error)
                if reason:
                    why = f"{why.rstrip('.')} ({reason})"
            raise StepError(_step_told(step, why), kind) from None

    async def _why_refused(
        self, locator: Any, step: flowlib.Step, timeout: int, option: Any
    ) -> Told | None:
        """Why an element found for a step never took its action, asked of the element once
        the action has timed out (so a step that acts costs nothing more); None when it cannot
        be told (the element now takes it, or the page cannot be asked)."""
        if self.interrupt is not None:
            return None
        wanted = [str(option)] if isinstance(option, str | int | float) else None
        try:
            found = await asyncio.wait_for(
                locator.first.evaluate(_WHY_REFUSED_JS, wanted, timeout=LOOK_MS),
                LOOK_MS / 1000 + RESOLVE_GRACE,
            )
        except Exception:
            return None
        if not isinstance(found, dict):
            return None
        target = self.matches[-1]["spec"] if self.matches else step.kind
        why = found.get("why")
        if why == "option":
            listed = [f"'{text}'" for text in found.get("options", [])[:12]]
            if len(found.get("options", [])) > 12:
                listed.append("...")
            return told(
                N_("no option {option} in {target} within {timeout} ms (its options: {options})"),
                option=f"'{self.secrets.redact(wanted[0])}'" if wanted else "?",
                target=target,
                timeout=timeout,
                options=", ".join(listed) or "-",
            )
        if why == "covered":
            return told(
                N_("{target} stayed covered by {cover} for {timeout} ms"),
                target=target,
                cover=found.get("by", "?"),
                timeout=timeout,
            )
        said = {
            "disabled": N_("{target} stayed disabled for {timeout} ms"),
            "hidden": N_("{target} stayed hidden for {timeout} ms"),
            "readonly": N_("{target} stayed read-only for {timeout} ms"),
        }.get(str(why))
        return told(said, target=target, timeout=timeout) if said else None

    async def _only_one(self, scope: Any, step: flowlib.Step, ctx: dict) -> Any:
        """The first candidate of the step's target with exactly one element, or one visible
        element (then that one); recorded as the step's match. StepError when there is none."""
        specs = flowlib.render(step.args["target"], ctx)
        counts = []
        for index, spec in enumerate(specs):
            locator = locate.build(scope, spec)
            found = await self._guarded(locator.count())
            if found > 1:
                shown = await self._guarded(locate.visible(locator).count())
                if shown == 1:
                    locator, found = locate.visible(locator), 1
            if found == 1:
                self.matches[-1].update(
                    candidate=index, spec=self._describe_spec(step.args["target"], index, ctx)
                )
                return locator
            counts.append(
                told(
                    N_("{target} matched {count} elements"),
                    target=self._describe_spec(step.args["target"], index, ctx),
                    count=found,
                )
            )
        said = counts[-1]
        for earlier in reversed(counts[:-1]):
            # Translators: two items of a list, the second of which may be a list in turn.
            said = told(N_("{first}, {rest}"), first=earlier, rest=said)
        raise StepError(
            _step_told(
                step,
                told(
                    N_(
                        "{counts}; a target must match one element (add nth, has_text or a "
                        "narrower candidate)"
                    ),
                    counts=said,
                ),
            ),
            "step",
        )

    async def _fill(self, locator: Any, value: str, timeout: int) -> None:
        """Fill a field; on a <select>, choose the option whose value (else label) is the value.

        Chrome's Recorder records a select's change as a `change` step that does not say what
        the element is (imported as a fill), and its replay sets the value of whatever element
        it is. Playwright refuses to fill a select; only then is the element's tag asked, so an
        ordinary fill costs nothing more."""
        try:
            await locator.fill(value, timeout=timeout)
        except PlaywrightTimeout:
            raise
        except PlaywrightError:
            try:
                tag = await locator.evaluate("element => element.localName", timeout=LOOK_MS)
            except PlaywrightError:
                tag = None
            if tag != "select":
                raise
            await locator.select_option(value, timeout=timeout)

    def _first_look(self, scope: Any, step: flowlib.Step, ctx: dict) -> Any:
        """The locator with an element when the step would act on its first candidate: that
        candidate visible, or for a `within`, its first candidate visible and holding its
        first step's first candidate, visible. None for a step that does not act on a visible
        target at once (a `when`, a frame)."""
        if step.when is not None or "target" not in step.args:
            return None
        inner = None
        if step.kind == "within":
            inner = step.args["steps"][0] if step.args["steps"] else None
            if inner is None or inner.when is not None or "target" not in inner.args:
                return None
            if inner.kind not in VISIBLE_TARGET_KINDS:
                return None
        elif step.kind not in VISIBLE_TARGET_KINDS:
            return None
        first = flowlib.render(step.args["target"], ctx)[0]
        if "frame" in first:
            return None
        look = locate.visible(locate.build(scope, first))
        if inner is not None:
            within = flowlib.render(inner.args["target"], ctx)[0]
            if "frame" in within:
                return None
            look = locate.visible(locate.build(look, within))
        return look

    async def _waited_and_seen(
        self, step: flowlib.Step, following: list[flowlib.Step], ctx: dict
    ) -> bool:
        """For a wait on the page: one count of its condition together with the first look of
        the step that acts after the reads that follow it (agent.play.ahead). True when both
        are there: the wait is over, and that step acts on its first candidate without
        looking again. False (nothing concluded) otherwise; the wait then reads as usual."""
        if step.when is not None or "condition" not in step.args:
            return False
        action = ahead.next_action(following)
        look = None if action is None else self._first_look(self.page, action, ctx)
        waited = self._combined(step.args["condition"], ctx, inside=True)
        if look is None or waited is None:
            return False
        moves = self.page_moves
        both = self.page.locator(":root").filter(has=waited).filter(has=look)
        if await self._count_holds(both) is not True or moves != self.page_moves:
            return False
        self._seen_first = (id(action), moves)
        return True

    async def _wait(self, scope: Any, step: flowlib.Step, ctx: dict, timeout: int) -> None:
        args = step.args
        if "condition" in args:
            if not await self.wait_for(scope, args["condition"], ctx, timeout):
                raise StepError(
                    told(
                        N_("step {step}: timed out after {timeout} ms waiting for {condition}"),
                        step=_step_label(step),
                        timeout=timeout,
                        condition=_describe_condition(self._shown(args["condition"], ctx)),
                    ),
                    await self._missing_kind(),
                )
            return
        if args["state"] in ("visible", "attached"):
            await self._target(scope, step, ctx, timeout, args["state"])
            return
        specs = flowlib.render(args["target"], ctx)
        try:
            await self._guarded(
                locate.build(scope, specs[0]).first.wait_for(state=args["state"], timeout=timeout)
            )
        except PlaywrightTimeout:
            # Still there on a page that has loaded: waiting longer, or again, changes nothing
            # (`selector`); on a page still on its way, a timeout like any other.
            still = (
                N_("{target} was still visible after {timeout} ms")
                if args["state"] == "hidden"
                else N_("{target} was still on the page after {timeout} ms")
            )
            raise StepError(
                _step_told(
                    step,
                    told(
                        still,
                        target=self._describe_spec(args["target"], 0, ctx),
                        timeout=timeout,
                    ),
                ),
                await self._missing_kind(),
            ) from None

    async def _read(
        self, scope: Any, specs: list[dict], options: dict, timeout: int
    ) -> tuple[Any, int | None]:
        """The value read, and which candidate it was read from (None for a `present: true`
        read, which asks only whether any is there, or for a list nothing gave)."""
        if options["present"]:
            return await locate.any_present(scope, specs), None
        if options["all"]:
            found = await locate.present(scope, specs)
            if found is None:
                return [], None
            locator, index = found
            if options["attribute"]:
                values = [
                    await item.get_attribute(options["attribute"]) for item in await locator.all()
                ]
            else:
                values = [text.strip() for text in await locator.all_inner_texts()]
            if options["unique"]:
                values = list(dict.fromkeys(values))
            return values, index
        locator, index = await self._resolve(scope, specs, timeout, "attached")
        if options["attribute"]:
            return await locator.first.get_attribute(options["attribute"], timeout=timeout), index
        return (await locator.first.inner_text(timeout=timeout)).strip(), index

    async def _extract(self, scope: Any, step: flowlib.Step, ctx: dict, timeout: int) -> None:
        specs = flowlib.render(step.args["target"], ctx)
        self.values[step.args["as"]], index = await self._read(scope, specs, step.args, timeout)
        if index is not None:
            self._match(step, index, ctx)

    async def _outcome_extracts(self, condition: dict, ctx: dict) -> None:
        for name, spec in condition.get("extract", {}).items():
            specs = flowlib.render(spec["target"], ctx)
            try:
                self.values[name], _ = await self._read(self.page, specs, spec, 1000)
            except (locate.TargetTimeout, StepError):
                self.values[name] = None

    # -- the run -------------------------------------------------------------------------
    def _artifact(self, name: str) -> Path:
        return private_dir(self.run_dir) / name

    async def _on_sign_in_page(self) -> bool:
        if self.flow.session_flow is None:
            return False
        return await self.holds(self.page, self.flow.sign_in_page(), {})

    async def _sign_in_again(self) -> None:
        """Run the session flow on this page, save the new session, and carry on."""
        from agent.play import interstitials

        session_flow = self.flow.session_flow
        assert session_flow is not None
        self.signing_in = True
        self.sign_ins += 1
        try:
            inner = _Runner(
                self.page,
                session_flow,
                interstitials.login_params(session_flow, self.secrets),
                portal=self.portal,
                secrets=self.secrets,
                run_dir=self.run_dir,
                trace=False,
                sign_in=True,
            )
            result = await inner.run()
        finally:
            self.signing_in = False
            self._clear_interrupt()
        self.evidence.extend(result.evidence)
        if not result.ok:
            stop = interstitials.stop_for(
                result, self.portal, account=interstitials.configured_account(self.secrets)
            )
            if stop is not None:
                # A person must answer, or the portal said stop: never a retry's business.
                raise StepError(
                    told(N_("signing in again stopped: {stop}"), stop=stop), stop.error_kind
                )
            kind = (
                result.error_kind
                if result.error_kind in ("http_5xx", "http_429", "network", "timeout")
                else "session"
            )
            detail = result.error or told(N_("ended as {outcome}"), outcome=result.outcome)
            message = result.values.get("message")
            if message:
                detail = (
                    told(N_("{detail}: {message}"), detail=detail, message=message)
                    if result.error
                    else message
                )
            raise StepError(
                told(N_("signing in again failed: {detail}"), detail=detail),
                kind,
                result.retry_after,
            )
        with contextlib.suppress(Exception):
            await browserlib.save_storage_state(
                self.page.context, portal=self.portal, email=self.secrets.email
            )

    async def _final_outcome(self) -> str:
        ctx = self.context()
        if not self.flow.outcomes:
            return "completed"
        deadline = time.monotonic() + self.flow.timeout / 1000
        trigger = self.trigger(
            self.page, {"kind": "any", "items": list(self.flow.outcomes.values())}, ctx
        )
        while True:
            # Read from one page: not while the main frame is on its way to another (the
            # submit's answer), and again when it moved while being read - the form just
            # submitted and the page that answers it can each match another outcome.
            found = None
            if not self.navigations:
                moves = self.page_moves
                found = await self._first_outcome(ctx)
                if found is not None and moves == self.page_moves and not self.navigations:
                    name, condition = found
                    await self._outcome_extracts(condition, ctx)
                    return name
            if await self._on_sign_in_page():
                raise _SignInNeeded()
            if time.monotonic() >= deadline:
                # As for a step's target: `selector` when the page had loaded and none of the
                # outcomes is on it (a retry would find the same page), `timeout` when the page
                # itself was still on its way (or moved while an outcome that held was read).
                names = ", ".join(self.flow.outcomes)
                raise StepError(
                    told(
                        N_("no outcome ({names}) was reached within {timeout} ms"),
                        names=names,
                        timeout=self.flow.timeout,
                    ),
                    "timeout" if found is not None else await self._missing_kind(),
                )
            if found is not None:
                continue
            if self.navigations:
                await self._until_navigated(deadline)
            elif trigger is not None:
                await self._until(trigger, deadline)
                trigger = None
            else:
                await self._guarded(asyncio.sleep(POLL_SECONDS))

    async def _until_navigated(self, deadline: float) -> None:
        """Sleep until the main frame's navigations in flight have answered, the deadline
        passes or a few seconds go by (the caller looks again: the sign-in page, the
        deadline); interruptible."""
        wait = min(NAVIGATION_WAKE_SECONDS, max(0.01, deadline - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await self._guarded(asyncio.wait_for(self.navigations_done.wait(), wait))

    async def _first_outcome(self, ctx: dict) -> tuple[str, dict] | None:
        for name, condition in self.flow.outcomes.items():
            if await self.holds(self.page, condition, ctx):
                return name, condition
        return None

    async def _execute(self) -> str:
        steps = self.flow.steps
        sign_ins = 0
        index = restart_at = 0
        while True:
            try:
                while index < len(steps):
                    step = steps[index]
                    try:
                        ran = await self.run_step(
                            self.page, step, self.context(), self.flow, steps[index + 1 :]
                        )
                    except StepError:
                        if self.interrupt is None and await self._on_sign_in_page():
                            raise _SignInNeeded() from None
                        raise
                    if ran and step.kind == "goto":
                        restart_at = index
                    if self.interrupt is None and await self._on_sign_in_page():
                        raise _SignInNeeded()
                    index += 1
                return await self._final_outcome()
            except _SignInNeeded:
                sign_ins += 1
                if sign_ins > MAX_SIGN_INS:
                    raise StepError(
                        told(N_("the portal keeps returning to the sign-in page after signing in")),
                        "session",
                    ) from None
                self._clear_interrupt()
                await self._sign_in_again()
                # Go back to the last page the flow opened: a form posted into an expired
                # session was lost, and the flow's guards make doing it again safe.
                index = restart_at

    async def run(self) -> RunResult:
        started = time.monotonic()
        page = self.page
        watchers = _page_watchers(page)
        watchers.append(self)
        tracing = False
        if self.trace:
            try:
                await page.context.tracing.start(screenshots=True, snapshots=True)
                tracing = True
            except Exception:
                # Tracing is already on for this context (the caller traces); leave it to them.
                tracing = False
        outcome, error, kind, retry_after = "failed", None, None, None
        try:
            try:
                outcome = await self._execute()
            except _Ended as ended:
                outcome = ended.outcome
            except StepError as failure:
                error, kind, retry_after = as_told(failure), failure.kind, failure.retry_after
            except flowlib.FlowError as failure:
                error, kind = as_told(failure), "step"
            except Exception as failure:
                # A closed page or browser mid-run: report it as this run's failure, so a
                # caller running many flows loses only this one.
                if not type(failure).__module__.startswith("playwright"):
                    raise
                error, kind = one_line(failure), playwright_error_kind(failure)
            if error is not None:
                error = await self._leave_evidence(error, tracing)
                tracing = False
        finally:
            watchers.remove(self)
            for check in self._block_checks:
                check.cancel()
            if tracing:
                with contextlib.suppress(Exception):
                    await page.context.tracing.stop()
        ok = error is None and outcome in self.flow.success
        return RunResult(
            outcome=outcome,
            ok=ok,
            values=self.secrets.redact_data(dict(self.values)),  # type: ignore[arg-type]
            matches=self.matches,
            error=self._written(error) if error else None,
            error_kind=kind,
            retry_after=retry_after,
            evidence=self.evidence,
            duration=round(time.monotonic() - started, 3),
            sign_ins=self.sign_ins,
        )

    def _written(self, error: str) -> str:
        """A failure's message as the result keeps it: one line, secrets masked; a Told (the
        player's own, made one line as it was made) keeps its translation and values."""
        if isinstance(error, Told):
            return told_map(error, self.secrets.redact)
        return self.secrets.redact(one_line(error))

    async def _leave_evidence(self, error: str, tracing: bool) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        # Named after the row's first param (the order id), unless that is a secret.
        key = next(
            (
                _safe_label(v)
                for v in self.params.values()
                if v not in (None, "") and self.secrets.redact(str(v)) == str(v)
            ),
            "",
        )
        stem = "-".join(
            part for part in (self.flow.name, key, stamp, token_source.token_hex(2)) if part
        )
        written = []
        image, trouble = await _screenshot(self.page)
        if image is not None:
            with contextlib.suppress(OSError):
                shot = self._artifact(f"{stem}.png")
                write_private_bytes(shot, image)
                written.append(str(shot))
        if tracing:
            with contextlib.suppress(Exception):
                zipped = self._artifact(f"{stem}-trace.zip")
                # Playwright writes the trace unredacted: into a folder only we can read,
                # and only the redacted copy is kept.
                raw_dir = Path(tempfile.mkdtemp(prefix=".trace-", dir=self.run_dir))
                try:
                    raw = raw_dir / "trace.zip"
                    await self.page.context.tracing.stop(path=str(raw))
                    redact_zip(raw, self.secrets, zipped)
                finally:
                    shutil.rmtree(raw_dir, ignore_errors=True)
                written.append(str(zipped))
        self.evidence.extend(written)
        if not isinstance(error, Told):
            error = one_line(error)
        if trouble:
            error = told(N_("{error} (no screenshot: {trouble})"), error=error, trouble=trouble)
        if written:
            error = told(EVIDENCE_NOTE, error=error, files=", ".join(written))
        return error


async def _screenshot(page: Any) -> tuple[bytes | None, str | None]:
    """The page as it was when the flow failed, and why not when there is none. Playwright's
    screenshot waits for the page's fonts and for it to be still; a page that never settles
    (a busy machine, a hung script) is taken as it is through the DevTools protocol."""
    try:
        return await page.screenshot(timeout=SCREENSHOT_MS), None
    except Exception as error:
        trouble = one_line(error).split(" Call log:")[0][:200]
    answer = await browserlib.devtools_call(
        page, "Page.captureScreenshot", {"format": "png"}, timeout=SCREENSHOT_MS / 1000
    )
    if answer is None or "data" not in answer:
        return None, trouble
    return base64.b64decode(answer["data"]), None


IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".webp")


def redact_zip(path: Path, secrets: Secrets, target: Path | None = None) -> None:
    """Mask secrets in every file of a trace archive, written to target (default: in place),
    mode 0600. A trace records the parameters of every call (the text filled in), DOM
    snapshots (input values), the network log and raw request bodies. Its screencast frames
    are left as they are: a screenshot shows what the page showed."""
    redacted_bytes = io.BytesIO()
    with (
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(redacted_bytes, "w", zipfile.ZIP_DEFLATED) as redacted,
    ):
        for item in source.infolist():
            data = source.read(item)
            if not item.filename.lower().endswith(IMAGE_SUFFIXES):
                data = secrets.redact_bytes(data)
            redacted.writestr(item, data)
    write_private_bytes(target or path, redacted_bytes.getvalue())


def _flat_any(items: list[dict]) -> list[dict]:
    """The items of an `any`, with those of any `any` among them lifted into it (the same
    condition, and more of it answered in one round trip)."""
    flat: list[dict] = []
    for item in items:
        flat.extend(_flat_any(item["items"]) if item["kind"] == "any" else [item])
    return flat


@functools.lru_cache(maxsize=2048)
def _template_names(text: str) -> frozenset[str]:
    return frozenset(flowlib.template_names(text))


def _step_label(step: flowlib.Step) -> str:
    """step.label(), in the reader's language where it names a line."""
    if step.line:
        return told(N_("{step} (line {line})"), step=step.name or step.kind, line=step.line)
    return step.label()


def _step_told(step: flowlib.Step, why: object) -> Told:
    """A step's failure: where (the step and its line), then why."""
    return told(N_("step {step}: {why}"), step=_step_label(step), why=why)


# Why an element Playwright found never took an action (the reasons of Playwright's own
# actionability checks, https://playwright.dev/docs/actionability): asked of the element
# after the action timed out. `wanted`: the options a select step asked for.
_WHY_REFUSED_JS = """(element, wanted) => {
  if (wanted && element.localName === 'select') {
    const options = Array.from(element.options);
    const labels = options.map((option) => (option.label || option.value).trim());
    const has = wanted.every((text) =>
      options.some((option) => option.value === text || option.label === text));
    if (!has) return {why: 'option', options: labels.map((label) => label.slice(0, 60))};
  }
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  if (!box.width || !box.height || style.visibility !== 'visible') return {why: 'hidden'};
  if (element.matches(':disabled') || element.closest('[aria-disabled="true"]'))
    return {why: 'disabled'};
  if (element.matches('input, textarea') && element.readOnly) return {why: 'readonly'};
  const x = box.left + box.width / 2, y = box.top + box.height / 2;
  const top = document.elementFromPoint(x, y);
  if (top && top !== element && !element.contains(top)) {
    let name = '<' + top.localName;
    for (const attribute of ['id', 'data-testid', 'class']) {
      const value = top.getAttribute(attribute);
      if (value) name += ' ' + attribute + '="' + value.slice(0, 40) + '"';
    }
    return {why: 'covered', by: name + '>'};
  }
  return null;
}"""


def _describe_condition(condition: dict) -> str:
    kind = condition["kind"]
    if kind in ("url", "title", "given"):
        return f"{kind} {condition['value']}"
    if kind in ("any", "all"):
        joiner = " or " if kind == "any" else " and "
        return "(" + joiner.join(_describe_condition(c) for c in condition["items"]) + ")"
    if kind == "not":
        return f"not {_describe_condition(condition['item'])}"
    text = " or ".join(targets.describe(spec) for spec in condition["target"])
    for check in ("count", "value", "text"):
        if check in condition:
            text += f" with {check} {condition[check]}"
    return text


async def run_flow(
    page: Any,
    flow: flowlib.Flow,
    params: dict,
    *,
    portal: str,
    secrets: Secrets,
    run_dir: Path,
    trace: bool = False,
    sign_in: bool = False,
) -> RunResult:
    """Run one flow on one page and return how it ended; never raises for a flow failure.

    `sign_in` says the flow signs in (so is a flow with a `login_page`): whatever it types is
    hidden from its evidence and results like a secret."""
    for name, value in flowlib.secret_params(flow, params).items():
        secrets.add(name, value)
    runner = _Runner(
        page,
        flow,
        params,
        portal=portal,
        secrets=secrets,
        run_dir=run_dir,
        trace=trace,
        sign_in=sign_in,
    )
    return await runner.run()
