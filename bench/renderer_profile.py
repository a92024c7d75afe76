"""Where the renderer's time goes while the player cancels orders: a JavaScript CPU profile of
one page (DevTools `Profiler`) over N orders, for the bundled cancel flow and for
bench/clicks_only.yaml (the hand-tuned script's clicks as a flow), one after the other.

    .venv/bin/python bench/renderer_profile.py                # 40 orders each
    .venv/bin/python bench/renderer_profile.py --orders 80 --top 25

Signs in once, plays each flow over a few orders to warm up, then profiles N more in the same
page (sampling every 100 microseconds). Prints, per flow and in ms per order, the renderer's
sampled time that is not idle, split into JavaScript by function (the page's own and
Playwright's injected script, which runs the selector engines), garbage collection, and
"(program)": the renderer's native work (parsing, style, layout, paint, compiling). The same
page and portal serve both flows, so their difference is what the bundled flow's reads add.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bulk import DEMO, reseed, signed_in_page  # noqa: E402

from mock_portal.testing import running_portal  # noqa: E402

WARM_UP = 5
FLOWS = {
    "bundled cancel_order": "cancel_order",
    "clicks-only": str(ROOT / "bench/clicks_only.yaml"),
}


def by_function(profile: dict) -> collections.Counter[str]:
    """Sampled microseconds by function (its name, and the end of its script's address)."""
    nodes = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    spent: collections.Counter[str] = collections.Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[sample]
        where = frame["url"].rsplit("/", 1)[-1][:24]
        spent[f"{frame['functionName'] or '(anonymous)'} {where}".strip()] += delta
    return spent


async def profile_flow(portal, ids: list[str], flow_ref: str, top: int) -> dict[str, float]:
    from playwright.async_api import async_playwright

    from agent import flow as flowlib
    from agent.play.player import run_flow
    from agent.play.secrets import Secrets

    flow = flowlib.load_flow(flow_ref)
    secrets = Secrets(email=DEMO, password="demo-password", totp_secret="JBSWY3DPEHPK3PXP")
    async with async_playwright() as playwright:
        context, page, devtools = await signed_in_page(playwright, portal.url)
        await devtools.send("Profiler.enable")
        await devtools.send("Profiler.setSamplingInterval", {"interval": 100})
        with tempfile.TemporaryDirectory() as runs:

            async def cancel(order_id: str) -> None:
                params = {"order_id": order_id, "reason": "NoInventory"}
                result = await run_flow(
                    page, flow, params, portal=portal.url, secrets=secrets, run_dir=Path(runs)
                )
                if result.outcome != "cancelled":
                    raise SystemExit(f"{order_id}: {result.outcome} {result.error}")

            for order_id in ids[:WARM_UP]:
                await cancel(order_id)
            await devtools.send("Profiler.start")
            for order_id in ids[WARM_UP:]:
                await cancel(order_id)
            profile = (await devtools.send("Profiler.stop"))["profile"]
        await context.browser.close()
    orders = len(ids) - WARM_UP
    spent = by_function(profile)
    idle = spent.pop("(idle)", 0)
    busy = sum(spent.values())
    print(
        f"  sampled, not idle: {busy / 1000 / orders:.1f} ms per order (idle {idle / 1000 / orders:.1f})"
    )
    for name, micros in spent.most_common(top):
        print(f"  {micros / 1000 / orders:7.2f}  {name}")
    special = ("(program)", "(garbage collector)")
    javascript = sum(micros for name, micros in spent.items() if name not in special)
    return {
        "busy": busy / 1000 / orders,
        "program": spent["(program)"] / 1000 / orders,
        "gc": spent["(garbage collector)"] / 1000 / orders,
        "javascript": javascript / 1000 / orders,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40, help="orders profiled per flow")
    parser.add_argument("--top", type=int, default=15, help="functions listed per flow")
    args = parser.parse_args()
    totals = {}
    needed = 2 * (args.orders + WARM_UP)
    with running_portal() as portal:
        # The seed leaves about half of its orders unshipped, some of them reserved.
        ids = reseed(portal, 4 * needed)
        if len(ids) < needed:
            raise SystemExit(f"the portal has {len(ids)} unshipped orders, {needed} needed")
        for number, (label, flow_ref) in enumerate(FLOWS.items()):
            print(f"{label} ({args.orders} orders), renderer ms per order:")
            chosen = ids[number * (args.orders + WARM_UP) :][: args.orders + WARM_UP]
            totals[label] = asyncio.run(profile_flow(portal, chosen, flow_ref, args.top))
    print("ms per order: not idle, JavaScript, (program), garbage collection")
    for label, figures in totals.items():
        print(
            f"  {label:22} {figures['busy']:6.1f} {figures['javascript']:6.1f} "
            f"{figures['program']:6.1f} {figures['gc']:6.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
