"""Signing in: run the bundled login flow, keep the signed-in state, reuse it while it works."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.errors import SessionError
from agent.i18n import N_, told, told_map
from agent.play import browser as browserlib
from agent.play import interstitials
from agent.play.secrets import Secrets

SESSION_FLOW = "login"


async def sign_in(
    context: Any,
    *,
    portal: str,
    secrets: Secrets,
    run_dir: Path,
    person_wait: float = 0,
    say: Callable[[str], None] | None = None,
) -> None:
    """Run the login flow in this context and save its storage state; SessionError if it fails.

    A page a person must answer (a CAPTCHA, an emailed code, a choice of account) or a page
    blocking automated access raises SignInStopped (exit code 2). With person_wait (a headed
    browser), a person gets that many seconds to answer such a page in the window instead."""
    from agent.flow import load_flow
    from agent.play.player import run_flow

    flow = load_flow(SESSION_FLOW)
    page = await context.new_page()
    try:
        # Traced for a failed sign-in's evidence; what it types is hidden from the trace.
        result = await run_flow(
            page,
            flow,
            interstitials.login_params(flow, secrets),
            portal=portal,
            secrets=secrets,
            run_dir=run_dir,
            trace=True,
            sign_in=True,
        )
        answered = bool(person_wait) and await interstitials.wait_for_person(
            page, flow, result, portal=portal, seconds=person_wait, say=say
        )
    finally:
        with contextlib.suppress(Exception):
            await page.close()
    if not result.ok and not answered:
        raise sign_in_error(result, portal=portal, secrets=secrets)
    await browserlib.save_storage_state(context, portal=portal, email=secrets.email)


def sign_in_error(result: Any, *, portal: str, secrets: Secrets) -> SessionError:
    """The error of a sign-in that did not end signed in: SignInStopped where a person must
    act or the portal blocked automation, else a SessionError whose `error_kind` tells
    callers whether a retry may help (a 5xx, 429 or timeout) or never (a rejected password)."""
    stop = interstitials.stop_for(result, portal, account=interstitials.configured_account(secrets))
    if stop is not None:
        return stop
    detail = result.values.get("message") or result.error
    # A step's failure (a Told) stays one, so it reads in the reader's language too.
    detail = (
        told_map(detail if isinstance(detail, str) else str(detail), secrets.redact)
        if detail
        else told(N_("ended as {outcome}"), outcome=result.outcome)
    )
    error = SessionError(
        told(N_("signing in to {portal} failed: {detail}"), portal=portal, detail=detail)
    )
    error.error_kind = result.error_kind if result.outcome == "failed" else "rejected"
    return error


async def session_works(browser: Any, path: Path, *, portal: str) -> bool:
    """True when the saved state still opens a signed-in page (no redirect to sign-in).

    Asked over HTTP with the state's cookies (the context's own request client), not by
    opening a page: no renderer starts and no page is drawn, which took 0.18 s of a single
    cancellation. A portal that signed someone out only in a page's script would pass this
    check; the flow then meets the sign-in page and signs in again there, so the check saves
    work and guards nothing."""
    from agent.flow import load_flow

    sign_in_page = load_flow(SESSION_FLOW).sign_in_page()
    context = await browserlib.new_context(browser, storage_state=path)
    try:
        response = await context.request.get(portal.rstrip("/") + "/home")
        if sign_in_page["kind"] == "url":
            return sign_in_page["value"] not in response.url
        return True
    except Exception:
        return False
    finally:
        await context.close()


async def ensure_session(browser: Any, *, portal: str, secrets: Secrets, run_dir: Path) -> Path:
    """A storage-state file that is signed in: the saved one while it works, else a new one."""
    path = browserlib.storage_state_path(portal, secrets.email)
    if path.is_file():
        try:
            if await session_works(browser, path, portal=portal):
                return path
        except (OSError, ValueError):
            # An unreadable or corrupt state file is replaced by signing in again.
            pass
    context = await browserlib.new_context(browser)
    try:
        await sign_in(context, portal=portal, secrets=secrets, run_dir=run_dir)
    finally:
        await context.close()
    return path
