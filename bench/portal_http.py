"""Portal throughput over real HTTP: concurrent sellers cancelling orders through the forms.

Starts its own portal (a fresh database in a temporary folder, on a free loopback port),
signs each client in through the real sign-in forms (email, password, TOTP), then has the
clients cancel Unshipped orders through the Cancel order form (GET the form, POST it) as
fast as they can. Prints cancellations per second and the latency of one cancellation
(form + submit), then checks the portal's books: every order cancelled exactly once.

    .venv/bin/python bench/portal_http.py --orders 2000 --clients 16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import statistics
import sys
import threading
import time
from collections import Counter

from mock_portal.testing import PortalClient, running_portal

DEMO = ("seller@example.com", "demo-password", "JBSWY3DPEHPK3PXP")
# A seeded portal has a bit over half its orders Unshipped; seed enough to have the number
# asked for, plus the fixed demo cases that are flagged or otherwise special.
UNSHIPPED_SHARE = 0.5


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may contain spaces; the fields after it may not.
        return stat.read().rsplit(")", 1)[1].split()


def _parent_of(pid: int) -> int | None:
    try:
        return int(_stat(pid)[1])
    except (OSError, IndexError, ValueError):
        return None  # gone meanwhile


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its direct children (the portal's worker
    processes), from Linux's /proc; None elsewhere."""
    if not os.path.isdir(f"/proc/{pid}"):
        return None
    pids = [pid] + [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and _parent_of(int(entry)) == pid
    ]
    ticks = 0
    for each in pids:
        try:
            fields = _stat(each)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run(args: argparse.Namespace) -> dict:
    seeded = math.ceil(args.orders / UNSHIPPED_SHARE) + 50
    print(f"starting a portal with {seeded} orders ...", file=sys.stderr)
    with running_portal(
        seed=args.seed,
        orders=seeded,
        threads=args.threads,
        workers=args.workers,
        SWEEP_INTERVAL_SECONDS=0,
    ) as portal:
        unshipped = [
            order["order_id"]
            for order in portal.orders(status="Unshipped", seller=DEMO[0])
            if order["buyer_request_kind"] is None
        ]
        if len(unshipped) < args.orders:
            raise SystemExit(f"only {len(unshipped)} Unshipped orders were seeded")
        work: queue.Queue[str] = queue.Queue()
        for order_id in unshipped[: args.orders]:
            work.put(order_id)

        clients = [PortalClient(portal.url) for _ in range(args.clients)]
        sign_in_started = time.perf_counter()
        for client in clients:
            client.sign_in(*DEMO)
        sign_in_seconds = time.perf_counter() - sign_in_started

        latencies: list[float] = []
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()
        start_gate = threading.Barrier(args.clients + 1)

        def worker(client: PortalClient) -> None:
            mine: list[float] = []
            counted: Counter[str] = Counter()
            start_gate.wait()
            while True:
                try:
                    order_id = work.get_nowait()
                except queue.Empty:
                    break
                began = time.perf_counter()
                outcome = client.cancel(order_id, args.reason)
                mine.append(time.perf_counter() - began)
                counted[outcome] += 1
            with lock:
                latencies.extend(mine)
                outcomes.update(counted)

        threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        server_pid = portal.process.pid
        cpu_before = process_cpu_seconds(server_pid)
        client_cpu_before = time.process_time()
        start_gate.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        cpu_after = process_cpu_seconds(server_pid)
        client_cpu = time.process_time() - client_cpu_before
        for client in clients:
            client.close()

        records = {o["order_id"]: o for o in portal.orders(seller=DEMO[0])}
        chosen = unshipped[: args.orders]
        cancelled_once = sum(
            1
            for oid in chosen
            if records[oid]["status"] == "Canceled" and records[oid]["cancel_events"] == 1
        )
        over_once = sum(1 for o in records.values() if o["cancel_events"] > 1)

    done = outcomes.get("cancelled", 0)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return {
        "clients": args.clients,
        "server_threads": args.threads,
        "server_workers": args.workers,
        "orders": args.orders,
        "cancelled": done,
        "outcomes": dict(outcomes),
        "seconds": round(elapsed, 3),
        "cancellations_per_second": round(done / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 1),
            "p95": round(percentile(latencies, 0.95) * 1000, 1),
            "max": round(max(latencies, default=0) * 1000, 1),
            "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0,
        },
        "sign_in_seconds": round(sign_in_seconds, 2),
        # The machine may be shared: CPU time the portal spent per cancellation says what
        # it costs regardless of what else was running.
        "server_cpu_ms_per_cancellation": round(server_cpu / done * 1000, 2)
        if server_cpu is not None and done
        else None,
        "client_cpu_ms_per_cancellation": round(client_cpu / done * 1000, 2) if done else None,
        "verified_cancelled_once": cancelled_once,
        "orders_cancelled_more_than_once": over_once,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000, help="orders to cancel")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--threads", type=int, default=8, help="portal threads per process")
    parser.add_argument("--workers", type=int, default=2, help="portal processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reason", default="NoInventory")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.clients < 1:
        parser.error("--orders and --clients must be at least 1")
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        latency = result["latency_ms"]
        print(
            f"{result['cancelled']} cancellations by {result['clients']} clients in "
            f"{result['seconds']} s: {result['cancellations_per_second']} cancellations/s\n"
            f"latency per cancellation (form + submit): p50 {latency['p50']} ms, "
            f"p95 {latency['p95']} ms, max {latency['max']} ms\n"
            f"CPU per cancellation: portal {result['server_cpu_ms_per_cancellation']} ms, "
            f"this client {result['client_cpu_ms_per_cancellation']} ms\n"
            f"outcomes: {result['outcomes']}; verified cancelled exactly once: "
            f"{result['verified_cancelled_once']}/{result['orders']}; cancelled more than "
            f"once: {result['orders_cancelled_more_than_once']}"
        )
    ok = (
        result["verified_cancelled_once"] == result["orders"]
        and result["orders_cancelled_more_than_once"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
