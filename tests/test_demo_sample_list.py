"""`seller-agent demo --sample-list FILE`: the demo's order list for an installed tool, whose
copy of it is buried in site-packages. Run as a user would, outside the source tree."""

import os
import subprocess
import sys
from pathlib import Path

from agent.cancel.orders import read_order_rows

SELLER_AGENT = str(Path(sys.executable).with_name("seller-agent"))
BUNDLED = Path(__file__).resolve().parent.parent / "agent" / "data" / "sample_orders.csv"


def demo(tmp_path, *args):
    return subprocess.run(
        [SELLER_AGENT, "demo", *args],
        cwd=tmp_path,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")},
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_the_sample_list_is_written_where_asked_and_nothing_starts(tmp_path):
    result = demo(tmp_path, "--sample-list", "orders.csv")
    assert result.returncode == 0, result.stderr
    written = tmp_path / "orders.csv"
    assert written.read_bytes() == BUNDLED.read_bytes()
    rows = read_order_rows([str(written)])
    assert len(rows.rows) == 13 and not rows.problems
    said = result.stderr.decode()
    assert "try: seller-agent cancel --from orders.csv --dry-run" in said
    # No portal, no browser, no demo folder: only the file asked for.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["orders.csv"]


def test_the_sample_list_goes_to_stdout_and_never_over_a_file(tmp_path):
    result = demo(tmp_path, "--sample-list", "-")
    assert result.returncode == 0 and result.stdout == BUNDLED.read_bytes()
    mine = tmp_path / "orders.csv"
    mine.write_text("order-id\n112-0000001-0000099\n")
    result = demo(tmp_path, "--sample-list", str(mine))
    assert result.returncode == 2
    assert b"exists already" in result.stderr
    assert mine.read_text() == "order-id\n112-0000001-0000099\n"
