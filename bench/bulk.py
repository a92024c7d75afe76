"""Bulk cancellation throughput and memory: the bulk engine at 1, 2, 4 and 8 workers, against
two baselines doing the same clicks (a plain sequential Playwright script, and a hand-tuned
async script with as many contexts as the engine's default), and the portal's HTTP floor.

    .venv/bin/python bench/bulk.py                 # 500 orders per configuration
    .venv/bin/python bench/bulk.py --orders 100 --workers 1 4 --block-media both

Each configuration gets a freshly seeded portal, so every run cancels the same orders. Peak
memory is that of the whole process tree (Python, Playwright's driver, every Chromium
process), sampled every 100 ms, two ways: the sum of each process's PSS (proportional set
size: a page shared by n processes counts 1/n to each, so the sum is what the tree really
occupies) and the sum of RSS (which counts shared pages once per process, so overstates).
CPU per order is sampled the same way, per process, for the browser side (Python, driver,
Chromium) and read from the portal process: the cores divided by their sum is the most any
number of workers could reach on this machine. After each engine run, `seller-agent report
last` is timed in every format on the run's journal. Prints a table; --json prints the figures
as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.bulk.engine import default_workers  # noqa: E402
from mock_portal.testing import running_portal  # noqa: E402

DEMO = "seller@example.com"
TICKS = os.sysconf("SC_CLK_TCK")
SEED = 42


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def process_kind(pid: int) -> str:
    """python, driver (Playwright's Node.js), or Chromium's process type (browser, renderer,
    gpu-process, utility)."""
    try:
        # Chromium rewrites its children's command lines as one space-separated string.
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
    except OSError:
        return "gone"
    if not argv:
        return "exited"  # a zombie: its CPU was counted while it ran
    program = Path(argv[0].decode(errors="replace")).name
    if program.startswith("python"):
        return "python"
    if program == "node":
        return "driver"
    for arg in argv:
        if arg.startswith(b"--type="):
            return arg[7:].decode(errors="replace")
    return "browser"


KINDS: dict[tuple[int, int], str] = {}


def kind_of(pid: int, key: tuple[int, int]) -> str:
    """What process `pid` (keyed by pid and start time) is, remembered in KINDS. Looked at
    again until it has a type of its own: a child just forked still shows its parent's command
    line (before its exec, or, for a renderer forked by Chromium's zygote, until it rewrites
    its own)."""
    if KINDS.get(key, "browser") in ("browser", "zygote"):
        KINDS[key] = process_kind(pid)
    return KINDS[key]


def tree_sample(pid: int) -> tuple[int, int, dict[tuple[int, int], float]]:
    """Of `pid` and all its descendants: summed PSS and summed RSS in bytes, and the CPU
    seconds each process has used so far, keyed by (pid, start time) (KINDS says what each
    process is)."""
    pss = rss = 0
    cpu: dict[tuple[int, int], float] = {}
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            key = (current, int(fields[19]))
            cpu[key] = (int(fields[11]) + int(fields[12])) / TICKS
            kind_of(current, key)
        except OSError:
            continue
        stack += _children(current)
    return pss, rss, cpu


class PeakSampler:
    """Samples a process tree every `interval` s: peak memory, and CPU per process as last seen
    (a process that ends between two samples loses at most one interval of its CPU)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0  # PSS
        self.peak_rss = 0
        self.cpu: dict[tuple[int, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            pss, rss, cpu = tree_sample(self.pid)
            self.peak = max(self.peak, pss)
            self.peak_rss = max(self.peak_rss, rss)
            self.cpu.update(cpu)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def process_cpu(pid: int) -> float:
    """CPU seconds a running process has used so far (the portal's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measured(portal, ids: list[str], command: list[str], env: dict | None = None) -> dict:
    """Run command (it cancels ids) in a process of its own; time, CPU, and peak memory."""
    portal_before = process_cpu(portal.process.pid)
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    with PeakSampler(process.pid) as sampler:
        _, errors = process.communicate()
    elapsed = time.monotonic() - started
    client_cpu = sampler.cpu_seconds
    portal_cpu = process_cpu(portal.process.pid) - portal_before
    cancelled = sum(1 for order_id in ids if portal.order(order_id)["status"] == "Canceled")
    if process.returncode or cancelled != len(ids):
        print(
            f"warning: {cancelled} of {len(ids)} cancelled, exit {process.returncode}: "
            f"{errors[-500:]}",
            file=sys.stderr,
        )
    per_order = (client_cpu + portal_cpu) / len(ids)
    by_kind: dict[str, float] = {}
    for key, seconds in sampler.cpu.items():
        kind = KINDS.get(key, "gone")
        by_kind[kind] = by_kind.get(kind, 0.0) + seconds
    return {
        "orders": len(ids),
        "cancelled": cancelled,
        "seconds": round(elapsed, 2),
        "orders_per_second": round(len(ids) / elapsed, 2),
        # CPU per order of the browser side (Python, driver, Chromium) and of the portal; the
        # machine's cores divided by their sum is the most any configuration could reach.
        "client_cpu_ms_per_order": round(1000 * client_cpu / len(ids)),
        "portal_cpu_ms_per_order": round(1000 * portal_cpu / len(ids)),
        "cpu_bound_orders_per_second": round((os.cpu_count() or 1) / per_order, 2),
        "peak_pss_mb": round(sampler.peak / 2**20),
        "peak_rss_mb": round(sampler.peak_rss / 2**20),
        # Where the browser side's CPU went, ms per order, by process kind.
        "cpu_ms_per_order_by_process": {
            kind: round(1000 * seconds / len(ids)) for kind, seconds in sorted(by_kind.items())
        },
    }


def reseed(portal, orders: int) -> list[str]:
    portal.api_post("/mock/api/seed", {"seed": SEED, "orders": orders})
    return [order["order_id"] for order in portal.orders(status="Unshipped", seller=DEMO)]


def bench_engine(portal, ids: list[str], workers: int, block_media: bool, work: Path) -> dict:
    source = work / "ids.txt"
    source.write_text("\n".join(ids) + "\n")
    journal = work / f"journal-{workers}-{int(block_media)}.db"
    command = [
        str(Path(sys.executable).with_name("seller-agent")), "cancel", "--yes",
        "--from", str(source), "--reason", "NoInventory",
        "--portal", portal.url, "--workers", str(workers), "--max-cancel-rate", "100",
        "--journal", str(journal), "-q",
    ]  # fmt: skip
    if block_media:
        command.append("--block-media")
    env = {**os.environ, "XDG_DATA_HOME": str(work / "data")}
    return {
        "what": f"engine, {workers} workers" + (", media blocked" if block_media else ""),
        "workers": workers,
        **measured(portal, ids, command, env),
        "report": report_times(journal, work, env),
    }


def bench_clicks_only(portal, ids: list[str], workers: int, work: Path) -> dict:
    """The engine (`seller-agent run --rows`) playing bench/clicks_only.yaml: the hand-tuned
    script's clicks and nothing else, so the engine's own cost shows apart from the bundled
    flow's safety reads."""
    source = work / f"clicks-{workers}.csv"
    source.write_text("order_id\n" + "".join(f"{order_id}\n" for order_id in ids))
    journal = work / f"journal-clicks-{workers}.db"
    command = [
        str(Path(sys.executable).with_name("seller-agent")), "run",
        str(ROOT / "bench" / "clicks_only.yaml"), "--rows", str(source),
        "--portal", portal.url, "--workers", str(workers), "--no-trace",
        "--journal", str(journal), "--run-dir", str(work / f"runs-clicks-{workers}"), "-q",
    ]  # fmt: skip
    env = {**os.environ, "XDG_DATA_HOME": str(work / "data")}
    return {
        "what": f"engine, clicks-only flow, {workers} workers",
        "workers": workers,
        **measured(portal, ids, command, env),
    }


def report_times(journal: Path, work: Path, env: dict) -> dict:
    """How long `seller-agent report last` takes on the run just made, in each format (a fresh
    process each, so the figure is what a person waits for), and the journal's size."""
    program = str(Path(sys.executable).with_name("seller-agent"))
    times: dict[str, float] = {}
    for form in ("table", "json", "csv", "html"):
        target = work / f"report.{form}"
        started = time.monotonic()
        subprocess.run(
            [program, "report", "last", "--journal", str(journal), "--format", form,
             "-o", str(target)],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        times[f"{form}_seconds"] = round(time.monotonic() - started, 2)
        times[f"{form}_kb"] = round(target.stat().st_size / 1024)
    times["journal_mb"] = round(journal.stat().st_size / 2**20, 1)
    return times


async def plain_script(portal_url: str, ids: list[str]) -> None:
    """The baseline: what a person writes with Playwright alone, one order after another."""
    from playwright.async_api import async_playwright

    from agent.flow.totp import totp
    from agent.play.browser import CHROMIUM_ARGS, find_browser

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=find_browser(headless=True), args=CHROMIUM_ARGS
        )
        page = await browser.new_page()
        await page.goto(portal_url + "/ap/signin")
        await page.get_by_test_id("signin-email").fill(DEMO)
        await page.get_by_test_id("signin-continue").click()
        await page.get_by_test_id("signin-password").fill("demo-password")
        await page.get_by_test_id("signin-submit").click()
        await page.get_by_test_id("mfa-code").fill(totp("JBSWY3DPEHPK3PXP"))
        await page.get_by_test_id("mfa-submit").click()
        await page.get_by_test_id("nav-account").wait_for()
        for order_id in ids:
            await page.goto(portal_url + "/orders-v3/")
            await page.get_by_test_id("search-type").select_option("orderid")
            await page.get_by_test_id("search-input").fill(order_id)
            await page.get_by_test_id("search-submit").click()
            row = page.locator(f'tr[data-testid=order-row][data-order-id="{order_id}"]')
            await row.get_by_test_id("cancel-order").click()
            await page.get_by_test_id("cancel-reason").select_option("NoInventory")
            await page.get_by_test_id("cancel-submit").click()
            await page.get_by_test_id("cancel-confirmation").wait_for()
        await browser.close()


async def sign_in(page, portal_url: str) -> None:
    """Sign the page in to the portal as the demo seller, the way a person does: email,
    password, the one-time code."""
    from agent.flow.totp import totp

    await page.goto(portal_url + "/ap/signin")
    await page.get_by_label("Email").fill(DEMO)
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Password").fill("demo-password")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("Enter OTP").fill(totp("JBSWY3DPEHPK3PXP"))
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_test_id("nav-account").wait_for()


async def signed_in_page(playwright, portal_url: str) -> tuple:
    """A launched browser's new context and page, signed in to the portal, and a DevTools
    session on the page: (context, page, devtools)."""
    from agent.play import browser as browserlib

    browser = await browserlib.launch(playwright)
    context = await browserlib.new_context(browser)
    page = await context.new_page()
    await sign_in(page, portal_url)
    return context, page, await context.new_cdp_session(page)


async def tuned_script(portal_url: str, ids: list[str], workers: int) -> None:
    """The second baseline: what a skilled user writes in an afternoon with Playwright's async
    API. One browser with the same flags as the engine, signed in once, `workers` contexts
    sharing the signed-in state, each taking the next order from a queue and doing the same
    clicks as the bundled flow: Manage Orders searched by order id, Action > Cancel order in
    the order's row, the reason, Submit, the confirmation. No journal, no guard, no retries,
    no evidence: the engine's safety is what the difference between the two buys."""
    from playwright.async_api import async_playwright

    from agent.play.browser import CHROMIUM_ARGS, find_browser

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=find_browser(headless=True), args=CHROMIUM_ARGS
        )
        first = await browser.new_context()
        page = await first.new_page()
        await sign_in(page, portal_url)
        state = await first.storage_state()
        await first.close()
        queue: asyncio.Queue[str] = asyncio.Queue()
        for order_id in ids:
            queue.put_nowait(order_id)

        async def worker() -> None:
            context = await browser.new_context(storage_state=state)
            page = await context.new_page()
            while not queue.empty():
                order_id = queue.get_nowait()
                await page.goto(f"{portal_url}/orders-v3/search?qt=orderid&q={order_id}")
                row = page.locator(f'tr[data-order-id="{order_id}"]')
                await row.get_by_role("button", name="Cancel order").click()
                await page.get_by_label("Reason for cancellation").select_option("NoInventory")
                await page.get_by_role("button", name="Submit").click()
                await page.get_by_text(f"Order {order_id} was canceled").wait_for()
            await context.close()

        await asyncio.gather(*(worker() for _ in range(workers)))
        await browser.close()


def bench_tuned(portal, ids: list[str], workers: int, work: Path) -> dict:
    source = work / "tuned-ids.txt"
    source.write_text("\n".join(ids) + "\n")
    command = [sys.executable, __file__, "--tuned-script", portal.url, str(source), str(workers)]
    return {
        "what": f"hand-tuned async script, {workers} contexts",
        "workers": workers,
        **measured(portal, ids, command),
    }


def bench_plain(portal, ids: list[str], work: Path) -> dict:
    # In a process of its own, like the engine, so its memory is measured without the portal's.
    source = work / "plain-ids.txt"
    source.write_text("\n".join(ids) + "\n")
    command = [sys.executable, __file__, "--plain-script", portal.url, str(source)]
    return {"what": "plain sequential Playwright script", **measured(portal, ids, command)}


def http_floor() -> str | None:
    script = ROOT / "bench" / "portal_http.py"
    if not script.exists():
        return None
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    return (done.stdout + done.stderr).strip()


def main() -> int:
    if sys.argv[1:2] == ["--plain-script"]:
        # The baseline's own process: --plain-script PORTAL_URL IDS_FILE.
        asyncio.run(plain_script(sys.argv[2], Path(sys.argv[3]).read_text().split()))
        return 0
    if sys.argv[1:2] == ["--tuned-script"]:
        # --tuned-script PORTAL_URL IDS_FILE WORKERS
        ids = Path(sys.argv[3]).read_text().split()
        asyncio.run(tuned_script(sys.argv[2], ids, int(sys.argv[4])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500, help="orders to cancel per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument(
        "--block-media", choices=["off", "on", "both"], default="off",
        help="run the engine with images/fonts/media blocked too (both: measure the difference)",
    )  # fmt: skip
    parser.add_argument("--no-baseline", action="store_true", help="the engine alone")
    parser.add_argument(
        "--baselines", nargs="+", choices=["plain", "tuned"], default=["plain", "tuned"],
        help="which baselines to run after the engine",
    )  # fmt: skip
    parser.add_argument(
        "--tuned-first", action="store_true",
        help="run the hand-tuned script before the engine too (a load that drifts during the "
        "run then shows as the difference between its two figures)",
    )  # fmt: skip
    parser.add_argument(
        "--clicks-only", action="store_true",
        help="also run the engine on bench/clicks_only.yaml (the hand-tuned script's clicks, no "
        "safety reads) at the default worker count",
    )  # fmt: skip
    parser.add_argument("--no-http-floor", action="store_true", help="skip bench/portal_http.py")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.block_media]
    # The seed gives roughly 45% Unshipped orders; seed enough for the requested count.
    seeded = int(args.orders * 2.6) + 20
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as temp:
        work = Path(temp)
        with running_portal(seed=SEED, orders=seeded, SWEEP_INTERVAL_SECONDS=0) as portal:
            if args.tuned_first and not args.no_baseline:
                ids = reseed(portal, seeded)[: args.orders]
                results.append(bench_tuned(portal, ids, default_workers(), work))
                print(json.dumps(results[-1]), file=sys.stderr)
            for workers in args.workers:
                for block in modes:
                    ids = reseed(portal, seeded)[: args.orders]
                    results.append(bench_engine(portal, ids, workers, block, work))
                    print(json.dumps(results[-1]), file=sys.stderr)
            if args.clicks_only:
                ids = reseed(portal, seeded)[: args.orders]
                results.append(bench_clicks_only(portal, ids, default_workers(), work))
                print(json.dumps(results[-1]), file=sys.stderr)
            if not args.no_baseline and "plain" in args.baselines:
                ids = reseed(portal, seeded)[: args.orders]
                results.append(bench_plain(portal, ids, work))
                print(json.dumps(results[-1]), file=sys.stderr)
            if not args.no_baseline and "tuned" in args.baselines:
                # The hand-tuned script with the engine's default worker count.
                ids = reseed(portal, seeded)[: args.orders]
                results.append(bench_tuned(portal, ids, default_workers(), work))
                print(json.dumps(results[-1]), file=sys.stderr)
    floor = None if args.no_http_floor else http_floor()
    if args.json:
        print(json.dumps({"results": results, "http_floor": floor}, indent=2))
        return 0
    print(
        f"{'configuration':<36} {'orders':>6} {'seconds':>8} {'orders/s':>9} "
        f"{'CPU ms/order':>12} {'portal ms':>9} {'CPU-bound/s':>11} {'PSS MB':>7} {'RSS MB':>7}"
    )
    for item in results:
        print(
            f"{item['what']:<36} {item['orders']:>6} {item['seconds']:>8} "
            f"{item['orders_per_second']:>9} {item['client_cpu_ms_per_order']:>12} "
            f"{item['portal_cpu_ms_per_order']:>9} {item['cpu_bound_orders_per_second']:>11} "
            f"{item['peak_pss_mb']:>7} {item['peak_rss_mb']:>7}"
        )
    print("report of the run (`seller-agent report last`, a fresh process each):")
    for item in results:
        if "report" in item:
            times = item["report"]
            forms = ", ".join(
                f"{form} {times[f'{form}_seconds']} s ({times[f'{form}_kb']} kB)"
                for form in ("table", "json", "csv", "html")
            )
            print(f"  {item['what']:<36} {forms}; journal {times['journal_mb']} MB")
    print("browser-side CPU ms per order, by process:")
    for item in results:
        split = ", ".join(f"{k} {v}" for k, v in item["cpu_ms_per_order_by_process"].items())
        print(f"  {item['what']:<36} {split}")
    baseline = next((r for r in results if r["what"].startswith("plain")), None)
    tuned_runs = [r for r in results if r["what"].startswith("hand-tuned")]
    engine = [
        r
        for r in results
        if r is not baseline and r not in tuned_runs and "clicks-only" not in r["what"]
    ]
    default = next((r for r in engine if r["workers"] == default_workers()), None)
    if baseline and engine:
        best = max(engine, key=lambda r: r["orders_per_second"])
        ratio = best["orders_per_second"] / baseline["orders_per_second"]
        print(f"best engine configuration ({best['what']}) vs plain script: {ratio:.2f}x")
        if default:
            ratio = default["orders_per_second"] / baseline["orders_per_second"]
            print(
                f"default worker count ({default_workers()}): {default['orders_per_second']} "
                f"orders/s, {ratio:.2f}x the plain script"
            )
    if tuned_runs and default:
        # With --tuned-first the script ran before and after the engine: their mean.
        rate = sum(r["orders_per_second"] for r in tuned_runs) / len(tuned_runs)
        cpu = sum(r["client_cpu_ms_per_order"] for r in tuned_runs) / len(tuned_runs)
        print(
            f"default worker count vs the hand-tuned async script with as many contexts: "
            f"{default['orders_per_second'] / rate:.2f}x the orders/s, "
            f"{default['client_cpu_ms_per_order'] / cpu:.2f}x the CPU per order"
        )
    if floor:
        print("HTTP floor (bench/portal_http.py):")
        print(floor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
