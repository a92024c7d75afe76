"""Latency of one `seller-agent cancel ID` with a saved session, and of `seller-agent --help`.

Starts its own portal (a real one, on a free loopback port), signs in once, then runs
`seller-agent cancel` in a fresh process per order and splits each run's wall time into:
process (interpreter start, imports, flow check, exit), browser start, session check (the
saved session is reused), and the flow itself. Prints medians.

    .venv/bin/python bench/single_cancel.py [--orders 5] [--help-runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mock_portal.testing import running_portal

CLI = str(Path(sys.executable).with_name("seller-agent"))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def parse_timings(stderr: str) -> dict[str, float]:
    for line in stderr.splitlines():
        if line.startswith("timings: "):
            return {k: float(v) for k, v in (part.split("=") for part in line[9:].split())}
    return {}  # the command printed no split: only the total is reported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5, help="cancels to time")
    parser.add_argument("--help-runs", type=int, default=5, help="`--help` runs to time")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="seller-agent-bench-")
    env = {**os.environ, "XDG_DATA_HOME": home, "SELLER_AGENT_TIMINGS": "1"}
    helps = [timed([CLI, "--help"], env)[0] for _ in range(args.help_runs)]
    print(
        f"seller-agent --help: median {statistics.median(helps) * 1000:.0f} ms over {len(helps)} runs"
    )

    with running_portal(seed=7, orders=max(60, args.orders * 3)) as portal:
        env["SELLER_AGENT_PORTAL"] = portal.url
        login_time, done = timed([CLI, "login", "-q"], env)
        if done.returncode:
            raise SystemExit(f"login failed: {done.stderr}")
        print(f"seller-agent login (once, fresh sign-in): {login_time:.2f} s")
        orders = [
            o["order_id"]
            for o in portal.orders(status="Unshipped", seller="seller@example.com")
            if not o["buyer_requested"]
        ][: args.orders]
        rows = []
        for order_id in orders:
            total, done = timed(
                [
                    CLI,
                    "cancel",
                    order_id,
                    "-q",
                    "--reason",
                    "NoInventory",
                    "--max-cancel-rate",
                    "100",
                ],
                env,
            )
            if done.returncode or "cancelled" not in done.stdout:
                raise SystemExit(f"cancel {order_id} failed: {done.stdout}{done.stderr}")
            parts = parse_timings(done.stderr)
            parts["process"] = total - sum(parts.values())
            parts["total"] = total
            rows.append(parts)
    print(f"seller-agent cancel ID (saved session), median of {len(rows)}:")
    for name in ("total", "process", "browser_start", "session", "flows"):
        values = [row[name] for row in rows if name in row]
        if not values or (name == "process" and len(rows[0]) == 2):
            continue
        print(
            f"  {name:<14} {statistics.median(values):6.2f} s   (min {min(values):.2f}, max {max(values):.2f})"
        )


if __name__ == "__main__":
    main()
