"""Signing in: run the bundled login flow, keep the signed-in state, reuse it while it works."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from agent.errors import SessionError
from agent.play import browser as browserlib
from agent.play.secrets import Secrets

SESSION_FLOW = "login"


async def sign_in(context: Any, *, portal: str, secrets: Secrets, run_dir: Path) -> None:
    """Run the login flow in this context and save its storage state; SessionError if it fails."""
    from agent.flow import load_flow
    from agent.play.player import run_flow

    flow = load_flow(SESSION_FLOW)
    page = await context.new_page()
    try:
        # Traced for a failed sign-in's evidence; what it types is hidden from the trace.
        result = await run_flow(
            page,
            flow,
            {},
            portal=portal,
            secrets=secrets,
            run_dir=run_dir,
            trace=True,
            sign_in=True,
        )
    finally:
        with contextlib.suppress(Exception):
            await page.close()
    if not result.ok:
        detail = result.values.get("message") or result.error or f"ended as {result.outcome}"
        error = SessionError(f"signing in to {portal} failed: {secrets.redact(str(detail))}")
        # Callers retry a sign-in that met a 5xx, 429 or timeout, never a rejected password.
        error.error_kind = result.error_kind if result.outcome == "failed" else "rejected"
        raise error
    await browserlib.save_storage_state(context, portal=portal, email=secrets.email)


async def session_works(browser: Any, path: Path, *, portal: str) -> bool:
    """True when the saved state still opens a signed-in page (no redirect to sign-in)."""
    from agent.flow import load_flow

    sign_in_page = load_flow(SESSION_FLOW).sign_in_page()
    context = await browserlib.new_context(browser, storage_state=path)
    try:
        page = await context.new_page()
        await page.goto(portal.rstrip("/") + "/home")
        if sign_in_page["kind"] == "url":
            return sign_in_page["value"] not in page.url
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
