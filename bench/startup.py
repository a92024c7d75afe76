"""Start-up time: `seller-agent --help`, `python -c "import agent.cli"` and, for the modules a
cancellation loads before its browser starts, `python -c "import agent.cancel.job, ..."`,
each in a fresh process, median of N; and the imports that cost most, from -X importtime.

    .venv/bin/python bench/startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("seller-agent"))
CANCEL_PATH = "import agent.cli, agent.cancel.job, agent.play.player, playwright.async_api"
COMMANDS = {
    "seller-agent --help": [CLI, "--help"],
    "python -c 'import agent.cli'": [PYTHON, "-c", "import agent.cli"],
    "python -c 'pass' (the interpreter alone)": [PYTHON, "-c", "pass"],
    "imports of a cancellation": [PYTHON, "-c", CANCEL_PATH],
}


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def heaviest(code: str, count: int) -> list[tuple[int, str]]:
    """The imports (three levels deep at most) under `code` by cumulative microseconds."""
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    found = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        if depth > 2:  # deeper imports: their parents say enough
            continue
        found.append((int(cumulative), "  " * depth + name.strip()))
    return sorted(found, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    for label, command in COMMANDS.items():
        times = sorted(timed(command) for _ in range(args.runs))
        print(
            f"{label:<44} median {statistics.median(times) * 1000:5.0f} ms"
            f"  (min {times[0] * 1000:.0f}, max {times[-1] * 1000:.0f}, {args.runs} runs)"
        )
    for code in ("import agent.cli", CANCEL_PATH):
        print(f"heaviest imports of {code!r} (cumulative ms, one run):")
        for micros, name in heaviest(code, 14):
            print(f"  {micros / 1000:6.1f}  {name}")


if __name__ == "__main__":
    main()
