"""One browser context's renderer over many cancellations, with and without the garbage
collection the bulk engine asks for every 10 rows (agent.play.browser.collect_garbage).

    .venv/bin/python bench/renderer_memory.py                # 150 orders each way
    .venv/bin/python bench/renderer_memory.py --orders 300 --every 10

Signs in once, then cancels orders one after the other in a single context with the
hand-tuned script's clicks, first without asking for collections, then (on a freshly seeded
portal) asking every N orders. Every 50 orders it prints the renderer's PSS and the size of
its JavaScript heap; at the end, the wall time one collection took (mean) and the browser
side's CPU per order (Python, driver and Chromium; the portal apart).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bulk import SEED, TICKS, _children, process_kind, reseed, signed_in_page  # noqa: E402

from mock_portal.testing import running_portal  # noqa: E402


def processes(skip: int) -> list[int]:
    """This process's descendants, the portal's (`skip`) left out."""
    found, stack = [], [child for child in _children(os.getpid()) if child != skip]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += _children(pid)
    return found


def renderer_pss_mb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        if process_kind(pid) != "renderer":
            continue
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total // 1024


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


async def one_context(portal, ids: list[str], every: int | None) -> None:
    from playwright.async_api import async_playwright

    from agent.play import browser as browserlib

    label = f"collected every {every} orders" if every else "never collected"
    async with async_playwright() as playwright:
        context, page, devtools = await signed_in_page(playwright, portal.url)
        skip = portal.process.pid
        cpu_before = cpu_seconds(processes(skip)) + time.process_time()
        collections: list[float] = []
        for number, order_id in enumerate(ids, 1):
            await page.goto(f"{portal.url}/orders-v3/search?qt=orderid&q={order_id}")
            row = page.locator(f'tr[data-order-id="{order_id}"]')
            await row.get_by_role("button", name="Cancel order").click()
            await page.get_by_label("Reason for cancellation").select_option("NoInventory")
            await page.get_by_role("button", name="Submit").click()
            await page.get_by_text(f"Order {order_id} was canceled").wait_for()
            if every and number % every == 0:
                started = time.perf_counter()
                await browserlib.collect_garbage(page)
                collections.append(time.perf_counter() - started)
            if number % 50 == 0 or number == len(ids):
                heap = await devtools.send("Runtime.getHeapUsage")
                print(
                    f"{label}: after {number} orders, renderer PSS "
                    f"{renderer_pss_mb(processes(skip))} MB, JavaScript heap "
                    f"{heap['usedSize'] >> 20} MB used of {heap['totalSize'] >> 20} MB",
                    flush=True,
                )
        cpu = cpu_seconds(processes(skip)) + time.process_time() - cpu_before
        print(f"{label}: browser-side CPU {1000 * cpu / len(ids):.0f} ms per order")
        if collections:
            mean = 1000 * sum(collections) / len(collections)
            print(f"{label}: one collection took {mean:.1f} ms (mean of {len(collections)})")
        await context.browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--every", type=int, default=10, help="orders between two collections")
    args = parser.parse_args()
    seeded = int(args.orders * 2.6) + 20
    with running_portal(seed=SEED, orders=seeded, SWEEP_INTERVAL_SECONDS=0) as portal:
        for every in (None, args.every):
            ids = reseed(portal, seeded)[: args.orders]
            asyncio.run(one_context(portal, ids, every))
    return 0


if __name__ == "__main__":
    sys.exit(main())
