"""The Chromium flags the tool launches with: its --disable-features keeps Playwright's own
list (Chromium honours only the last --disable-features), and the browser really gets it. And
what the tool asks Chromium's DevTools protocol for: a renderer's garbage collection, a
screenshot Playwright could not take, neither waiting on a renderer that does not answer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import playwright
from conftest import heap_collected

from agent.play import browser as browserlib


def playwright_disabled_features() -> list[str]:
    """The features the installed Playwright's driver disables, read from its bundle."""
    package = Path(playwright.__file__).parent / "driver" / "package" / "lib"
    bundles = [package / "coreBundle.js", *package.glob("server/chromium/chromiumSwitches.js")]
    for bundle in bundles:
        if not bundle.exists():
            continue
        found = re.search(r"disabledFeatures = \[(.*?)\]", bundle.read_text(), re.DOTALL)
        if found:
            return re.findall(r'^\s*"([^"]+)"', found.group(1), re.MULTILINE)
    raise AssertionError(f"Playwright's disabledFeatures list not found under {package}")


def our_disabled_features() -> list[str]:
    flags = [arg for arg in browserlib.CHROMIUM_ARGS if arg.startswith("--disable-features=")]
    assert len(flags) == 1, flags
    return flags[0].split("=", 1)[1].split(",")


def test_our_disable_features_repeats_playwrights_own_list() -> None:
    theirs = playwright_disabled_features()
    assert len(theirs) > 5  # the parse found the list, not a stray match
    missing = [name for name in theirs if name not in our_disabled_features()]
    assert not missing, f"add to PLAYWRIGHT_DISABLED_FEATURES in agent/play/browser.py: {missing}"


def test_render_document_is_disabled() -> None:
    assert "RenderDocument" in our_disabled_features()


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        for task in Path(f"/proc/{stack.pop()}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            stack += children
    return found


def _browser_command_lines() -> list[list[str]]:
    """The command lines of the Chromium browser processes this test process started
    (through Playwright's driver): the ones talking over a pipe that are no child type."""
    lines = []
    for pid in _descendants(os.getpid()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "--remote-debugging-pipe" in argv and not any(a.startswith("--type=") for a in argv):
            lines.append(argv)
    return lines


def test_the_launched_browser_gets_our_features_last(chromium, loop) -> None:
    """The browser process's own command line: the last --disable-features on it, the one
    Chromium honours, is ours."""
    assert chromium.is_connected()
    lines = _browser_command_lines()
    assert lines, "no Chromium browser process found under this test process"
    for argv in lines:
        given = [arg for arg in argv if arg.startswith("--disable-features=")]
        honoured = given[-1].split("=", 1)[1].split(",")
        assert "RenderDocument" in honoured
        assert set(playwright_disabled_features()) <= set(honoured)


def test_collect_garbage_gives_back_a_renderers_heap(chromium, loop) -> None:
    """What a worker asks every few rows: the page's renderer collects the garbage of what it
    ran, which a busy renderer does not do on its own."""

    async def scenario() -> tuple[int, int, bool]:
        context = await browserlib.new_context(chromium)
        try:
            page = await context.new_page()
            before, after, asked = await heap_collected(context, page)
            await page.close()
            closed = await browserlib.collect_garbage(page)
            return before, after, asked and not closed
        finally:
            await context.close()

    before, after, answered = loop.run_until_complete(scenario())
    assert answered  # asked on the open page; a closed page gives False, not an exception
    assert before > 10 * 2**20, before
    assert after < before / 4, (before, after)


@contextlib.asynccontextmanager
async def busy_page(chromium) -> AsyncIterator:
    """A page whose script never yields, holding its renderer; its context is closed after,
    which ends the renderer and any call still waiting on it."""
    context = await browserlib.new_context(chromium)
    try:
        page = await context.new_page()
        await page.goto("data:text/html,<p>busy</p>")
        await page.evaluate("() => { setTimeout(() => { for (;;) {} }, 0); }")
        yield page
    finally:
        await context.close()


def test_a_renderer_that_does_not_answer_is_not_waited_for(chromium, loop, monkeypatch) -> None:
    """A page whose script never yields holds its renderer: the worker asking for a collection
    gets False after the timeout instead of hanging the run."""
    monkeypatch.setattr(browserlib, "COLLECT_TIMEOUT_SECONDS", 1)

    async def scenario() -> tuple[bool, float]:
        async with busy_page(chromium) as page:
            started = time.monotonic()
            # Not awaited directly: were the timeout broken, the test would hang, not fail.
            asked = asyncio.ensure_future(browserlib.collect_garbage(page))
            await asyncio.wait({asked}, timeout=4)
            waited = time.monotonic() - started
            assert asked.done(), f"no answer after {waited:.1f} s"
            return asked.result(), waited

    answered, waited = loop.run_until_complete(scenario())
    assert answered is False
    assert 0.9 < waited < 4, waited


def test_a_failures_screenshot_does_not_wait_on_a_renderer_that_does_not_answer(
    chromium, loop, monkeypatch
) -> None:
    """Playwright's screenshot times out on a page stuck in a script, and the DevTools
    fallback is bounded too: the failed row gets its evidence, or the reason there is none,
    instead of hanging its worker."""
    from agent.play import player

    monkeypatch.setattr(player, "SCREENSHOT_MS", 1000)

    async def scenario() -> tuple[bytes | None, str | None, float]:
        async with busy_page(chromium) as page:
            started = time.monotonic()
            taken = asyncio.ensure_future(player._screenshot(page))
            await asyncio.wait({taken}, timeout=6)
            waited = time.monotonic() - started
            assert taken.done(), f"no answer after {waited:.1f} s"
            image, trouble = taken.result()
            return image, trouble, waited

    image, trouble, waited = loop.run_until_complete(scenario())
    assert waited < 6
    assert (image is None) != (trouble is None)  # a picture, or why there is none
    if image is not None:
        assert image.startswith(b"\x89PNG")


def test_headed_without_a_display_is_one_line_and_exit_two(tmp_path) -> None:
    """A window asked for where none can be shown (a server, a container): said plainly, before
    any browser starts, instead of the browser's own 'Target page ... has been closed'."""
    from click.testing import CliRunner

    from agent.cli import cli

    env = {"DISPLAY": None, "WAYLAND_DISPLAY": None, "XDG_DATA_HOME": str(tmp_path / "data")}
    for command in (
        ["login", "--headed", "--portal", "http://127.0.0.1:9"],
        ["run", "account_health", "--headed", "--portal", "http://127.0.0.1:9"],
    ):
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines()[-1] == (
            "Error: --headed opens a browser window, and this session has no display to show it "
            "on (no DISPLAY or WAYLAND_DISPLAY): run it on a desktop or through remote desktop, "
            "or under xvfb-run, or leave --headed out"
        )
