"""Where one bulk row's time goes: the bundled cancel flow played by the engine over N orders,
with every driver call counted and every step of the flow timed, in one process.

    .venv/bin/python bench/steps.py --orders 40 --workers 1

Prints, per flow step (and for the final outcome read): how often it ran, its mean wall time,
the driver calls it made per run and the CPU that Playwright's driver, Chromium's processes
(renderer, browser, GPU and the rest; read from /proc in ticks of 10 ms, so a mean over many
rows) and Python (including this script's own reading of /proc) spent meanwhile, then the
driver calls of a whole row by method. --flow FILE plays another flow (for example
bench/clicks_only.yaml) with `seller-agent run FILE --rows` instead of `seller-agent cancel`.
One worker by default, so a step's time and CPU are its own and not its neighbours'. The
counts are exact; the times are those of a shared machine (compare within one run).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_portal.testing import running_portal  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bulk import TICKS, _children, kind_of  # noqa: E402

DEMO = "seller@example.com"


# The processes whose CPU a step is charged with, by kind; the rest are counted as "other".
SHOWN_KINDS = ("renderer", "browser", "gpu-process", "driver")
EXCLUDED: set[int] = set()  # the portal's process: its CPU is not the browser side's


def browser_side_cpu() -> dict[str, float]:
    """CPU seconds used so far by this process's descendants (the driver and Chromium's
    processes), by kind; the portal's process tree left out."""
    totals: dict[str, float] = {}
    stack = [child for child in _children(os.getpid()) if child not in EXCLUDED]
    while stack:
        pid = stack.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = kind_of(pid, (pid, int(fields[19])))
        kind = kind if kind in SHOWN_KINDS else "other"
        totals[kind] = totals.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS
        stack += _children(pid)
    return totals


class Counter:
    """Driver calls (method -> count), overall and for the step being played."""

    def __init__(self) -> None:
        self.total: collections.Counter[str] = collections.Counter()
        self.current: collections.Counter[str] | None = None

    def seen(self, method: str) -> None:
        self.total[method] += 1
        if self.current is not None:
            self.current[method] += 1


def instrument(counter: Counter, steps: dict[str, list]) -> None:
    from playwright._impl import connection

    from agent.play import player

    send = connection.Connection.send_message_to_server

    def counted(self, obj, method, params, options):  # type: ignore[no-untyped-def]
        if method != "__waitInfo__":
            counter.seen(f"{obj._type}.{method}")
        return send(self, obj, method, params, options)

    connection.Connection.send_message_to_server = counted  # type: ignore[method-assign]

    async def timed(label: str, work):  # type: ignore[no-untyped-def]
        outer = counter.current
        counter.current = collections.Counter()
        cpu_before = browser_side_cpu()
        cpu_before["python"] = time.process_time()
        started = time.perf_counter()
        try:
            return await work
        finally:
            elapsed = time.perf_counter() - started
            now = browser_side_cpu()
            now["python"] = time.process_time()
            cpu = {kind: seconds - cpu_before.get(kind, 0.0) for kind, seconds in now.items()}
            calls = counter.current
            steps.setdefault(label, []).append((elapsed, calls, cpu))
            counter.current = outer
            if outer is not None:
                outer.update(calls)

    run_step = player._Runner.run_step
    final = player._Runner._final_outcome
    run = player._Runner.run

    async def step(self, scope, step, ctx, flow, following=None):  # type: ignore[no-untyped-def]
        label = f"{flow.name}: {step.path} {step.kind}" + (f" ({step.name})" if step.name else "")
        return await timed(label, run_step(self, scope, step, ctx, flow, following))

    async def outcome(self):  # type: ignore[no-untyped-def]
        return await timed("final outcome", final(self))

    async def whole(self):  # type: ignore[no-untyped-def]
        return await timed("whole row (run_flow)", run(self))

    player._Runner.run_step = step  # type: ignore[method-assign]
    player._Runner._final_outcome = outcome  # type: ignore[method-assign]
    player._Runner.run = whole  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--flow",
        help="play this flow file over the orders (`seller-agent run FLOW --rows`, a CSV with an "
        "order_id column) instead of `seller-agent cancel` with the bundled flow; for example "
        "bench/clicks_only.yaml",
    )
    args = parser.parse_args()
    counter = Counter()
    steps: dict[str, list] = {}
    instrument(counter, steps)
    from agent.cli import cli

    with (
        tempfile.TemporaryDirectory(prefix="bench-steps-") as temp,
        running_portal(
            seed=42, orders=int(args.orders * 2.6) + 20, SWEEP_INTERVAL_SECONDS=0
        ) as portal,
    ):
        EXCLUDED.add(portal.process.pid)
        ids = [o["order_id"] for o in portal.orders(status="Unshipped", seller=DEMO)]
        source = Path(temp) / "ids.txt"
        source.write_text("\n".join(ids[: args.orders]) + "\n")
        row_file = Path(temp) / "rows.csv"
        row_file.write_text("order_id\n" + "".join(f"{i}\n" for i in ids[: args.orders]))
        common = ["--portal", portal.url, "--workers", str(args.workers)]
        common += ["--journal", str(Path(temp) / "j.db"), "-q"]
        if args.flow:
            command = ["run", args.flow, "--rows", str(row_file), "--no-trace", *common]
            command += ["--run-dir", str(Path(temp) / "runs")]
        else:
            command = ["cancel", "--yes", "--from", str(source), "--reason", "NoInventory"]
            command += ["--max-cancel-rate", "100", *common]
        os.environ["XDG_DATA_HOME"] = str(Path(temp) / "data")
        started = time.perf_counter()
        # The command's own lines (one per order) would bury the table.
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                cli.main(command, standalone_mode=False)
        except SystemExit:
            pass  # the command's exit code; the figures below are what matters
        finally:
            elapsed = time.perf_counter() - started
    rows = len(steps.get("whole row (run_flow)", [])) or 1
    print(f"{args.orders} orders, {args.workers} workers, {elapsed:.1f} s")
    columns = [*SHOWN_KINDS, "other", "python"]
    print(
        f"{'step':<58} {'runs':>5} {'mean ms':>8} {'calls/run':>9}  CPU ms/run: "
        + " ".join(f"{kind:>8}" for kind in columns)
    )
    for label, runs in steps.items():
        mean = 1000 * sum(t for t, _, _ in runs) / len(runs)
        calls = sum(sum(c.values()) for _, c, _ in runs) / len(runs)
        cpu = [1000 * sum(u.get(kind, 0.0) for _, _, u in runs) / len(runs) for kind in columns]
        print(
            f"{label[:58]:<58} {len(runs):>5} {mean:>8.0f} {calls:>9.1f}              "
            + " ".join(f"{value:>8.1f}" for value in cpu)
        )
    print("driver calls per row, by method:")
    for method, count in counter.total.most_common():
        print(f"  {method:<44} {count / rows:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
