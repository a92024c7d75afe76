"""Bulk cancellation over browser servers: `seller-agent cancel --browser-endpoint` against 1, 2,
... local `seller-agent browser serve` processes, and where the CPU of one order goes.

    .venv/bin/python bench/endpoints.py                     # 120 orders, 1 and 2 endpoints
    .venv/bin/python bench/endpoints.py --orders 200 --endpoints 1 2 3 --per-endpoint 2

Each configuration gets the portal reseeded, so every run cancels the same orders. For each it
prints orders per second (rows' first start to last end, as the report counts them) and the
CPU each side spent per order: the browser servers (Node.js and Chromium), the client
(the tool's Python and Playwright's driver) and the portal. On one machine every side shares
the same cores, so more endpoints here cannot go faster than the cores allow; the CPU split
is what projects a job spread over machines: a machine with C cores serving browsers plays at
most C x 1000 / (server ms per order) orders per second, and the client and the portal each
put their own ceiling on the sum.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bulk import PeakSampler, process_cpu, reseed  # noqa: E402

from agent.bulk.journal import Journal  # noqa: E402
from agent.report import build_report  # noqa: E402
from mock_portal.testing import running_portal  # noqa: E402

SELLER_AGENT = str(Path(sys.executable).with_name("seller-agent"))


def start_server(env: dict) -> tuple[subprocess.Popen, str, PeakSampler]:
    process = subprocess.Popen(
        [SELLER_AGENT, "browser", "serve", "--port", "0", "-q"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    endpoint = process.stdout.readline().strip()
    if not endpoint.startswith("ws://"):
        raise SystemExit("a browser server did not start")
    sampler = PeakSampler(process.pid)
    sampler.__enter__()
    return process, endpoint, sampler


def run_once(portal, ids: list[str], endpoints: int, per_endpoint: int, work: Path) -> dict:
    env = {**os.environ, "XDG_DATA_HOME": str(work / "data")}
    env.pop("SELLER_AGENT_BROWSER_ENDPOINT", None)
    servers = [start_server(env) for _ in range(endpoints)]
    source = work / "ids.txt"
    source.write_text("\n".join(ids) + "\n")
    journal = work / f"journal-{endpoints}.db"
    workers = max(1, endpoints) * per_endpoint
    command = [
        SELLER_AGENT, "cancel", "--yes", "-q", "--from", str(source), "--reason", "NoInventory",
        "--portal", portal.url, "--max-cancel-rate", "100", "--journal", str(journal),
        "--workers", str(workers),
    ]  # fmt: skip
    for _, endpoint, _ in servers:
        command += ["--browser-endpoint", endpoint]
    portal_before = process_cpu(portal.process.pid)
    client = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    with PeakSampler(client.pid) as client_sampler:
        _, errors = client.communicate()
    portal_cpu = process_cpu(portal.process.pid) - portal_before
    server_cpu = 0.0
    for process, _, sampler in servers:
        sampler.__exit__(None, None, None)
        server_cpu += sampler.cpu_seconds
        process.terminate()
        process.wait(timeout=30)
    with Journal(journal) as opened:
        report = build_report(opened, opened.last_run_id())
    cancelled = sum(1 for order_id in ids if portal.order(order_id)["status"] == "Canceled")
    if client.returncode or cancelled != len(ids):
        print(f"warning: {cancelled} of {len(ids)} cancelled: {errors[-500:]}", file=sys.stderr)
    count = len(ids)
    return {
        "endpoints": endpoints,
        "workers": workers,
        "orders": count,
        "cancelled": cancelled,
        "seconds": round(report["seconds"], 2),
        "orders_per_second": round(count / report["seconds"], 2),
        "server_cpu_ms_per_order": round(1000 * server_cpu / count),
        "client_cpu_ms_per_order": round(1000 * client_sampler.cpu_seconds / count),
        "portal_cpu_ms_per_order": round(1000 * portal_cpu / count),
    }


def projection(results: list[dict], cores: int) -> list[str]:
    """Orders per second for N machines of `cores` cores serving browsers, from CPU per order."""
    best = min(results, key=lambda result: result["server_cpu_ms_per_order"])
    server_ms = best["server_cpu_ms_per_order"]
    client_ms = best["client_cpu_ms_per_order"]
    per_machine = cores * 1000 / server_ms
    client_ceiling = cores * 1000 / client_ms
    lines = [
        f"one {cores}-core machine serving browsers: at most {per_machine:.1f} orders/s "
        f"({server_ms} ms of server CPU per order)",
        f"the client on its own {cores}-core machine: at most {client_ceiling:.1f} orders/s "
        f"({client_ms} ms per order)",
    ]
    for machines in (1, 2, 4, 8, 16):
        lines.append(
            f"  {machines:>2} browser machines: ~{min(machines * per_machine, client_ceiling):.1f}"
            " orders/s"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=120)
    parser.add_argument("--endpoints", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--per-endpoint", type=int, default=2, help="workers per endpoint")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    results = []
    with (
        running_portal(seed=42, orders=args.orders * 2 + 40) as portal,
        tempfile.TemporaryDirectory() as folder,
    ):
        for endpoints in args.endpoints:
            ids = reseed(portal, args.orders * 2 + 40)[: args.orders]
            work = Path(folder) / f"e{endpoints}"
            work.mkdir()
            results.append(run_once(portal, ids, endpoints, args.per_endpoint, work))
            time.sleep(1)
    if args.json:
        print(json.dumps({"cores": cores, "results": results}, indent=2))
        return 0
    print(f"{date.today()}  {platform.node()}  {cores} cores  {platform.processor() or ''}")
    print(
        "endpoints  workers  orders  seconds  orders/s  server ms/order  client ms/order  portal ms/order"
    )
    for result in results:
        print(
            f"{result['endpoints']:>9}  {result['workers']:>7}  {result['orders']:>6}  "
            f"{result['seconds']:>7}  {result['orders_per_second']:>8}  "
            f"{result['server_cpu_ms_per_order']:>15}  {result['client_cpu_ms_per_order']:>15}  "
            f"{result['portal_cpu_ms_per_order']:>15}"
        )
    print()
    for line in projection(results, cores):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
