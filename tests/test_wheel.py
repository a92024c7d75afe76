"""The product as a stranger installs it: a wheel built from this checkout, installed (not
editable) into a fresh virtual environment, and run from a folder outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ("account_health", "cancel_order", "collect_cancel_requests", "login")


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The seller-agent command of a fresh venv holding only the built wheel and its deps."""
    work = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)])
    (wheel,) = work.glob("seller_agent-*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], timeout=900)
    return venv / "bin" / "seller-agent"


@pytest.fixture
def outside(tmp_path):
    """A folder outside the checkout, and an environment that cannot see the checkout."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "SELLER_AGENT_"))
    }
    env |= {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data")}
    return {"cwd": folder, "env": env, "stdin": subprocess.DEVNULL}


def test_the_installed_wheel_lists_and_checks_its_bundled_flows(installed, outside):
    listed = run([str(installed), "flows", "list"], **outside).stdout
    for name in BUNDLED:
        assert f"{name}: " in listed
    checked = run([str(installed), "flows", "check", "cancel_order"], **outside)
    assert checked.stdout.startswith("ok: cancel_order")
    version = run([str(installed), "--version"], **outside).stdout
    assert metadata.version("seller-agent") in version
    # The pytest plugin is registered by the installed package itself.
    plugins = run(
        [
            str(installed.with_name("python")),
            "-c",
            "from importlib.metadata import entry_points; "
            "print([e.value for e in entry_points(group='pytest11')])",
        ],
        **outside,
    ).stdout
    assert "agent.testing" in plugins


def test_the_installed_wheel_runs_the_demo_end_to_end(installed, outside, tmp_path):
    out = tmp_path / "demo"
    result = run(
        [str(installed), "demo", "--out", str(out), "--workers", "2", "--orders", "40"],
        timeout=600,
        **outside,
    )
    assert "Cancelled" in result.stdout  # the summary table, in words
    assert (out / "report.html").is_file()
    # The installed package, not the checkout, did the work.
    where = run(
        [str(installed.with_name("python")), "-c", "import agent; print(agent.__file__)"],
        **outside,
    ).stdout
    assert str(ROOT) not in where and "site-packages" in where


def test_the_installed_wheel_gives_the_readme_tour_its_sample_list(installed, outside):
    # The README's tour: `seller-agent demo --sample-list FILE`, then `cancel --from FILE`.
    run([str(installed), "demo", "--sample-list", "sample_orders.csv"], **outside)
    written = (outside["cwd"] / "sample_orders.csv").read_bytes()
    assert written == (ROOT / "agent" / "data" / "sample_orders.csv").read_bytes()


def test_the_installed_wheel_speaks_chinese(installed, outside):
    # The compiled catalogs ship in the wheel and are read without Babel (not installed here).
    journal = outside["cwd"] / "journal.db"
    make_run = (
        "import sys; from agent.bulk.journal import Journal\n"
        "j = Journal(sys.argv[1])\n"
        "r = j.create_run(flow='cancel_order', params={}, portal='p',"
        " rows=[('112-0000001-0000001', {'order_id': '112-0000001-0000001'})],"
        " options={'max_cancel_rate': 2.5})\n"
        "j.mark_running(r, '112-0000001-0000001')\n"
        "j.mark_done(r, '112-0000001-0000001', outcome='cancelled', ok=True)\n"
        "j.set_run_status(r, 'finished')\n"
    )
    run([str(installed.with_name("python")), "-c", make_run, str(journal)], **outside)
    env = {**outside["env"], "LANG": "zh_CN.UTF-8"}
    env.pop("LC_ALL", None)
    env.pop("LC_MESSAGES", None)
    table = run([str(installed), "report", "--journal", str(journal)], **{**outside, "env": env})
    assert "已完成" in table.stdout and "已取消" in table.stdout
    page = outside["cwd"] / "report.html"
    run(
        [str(installed), "report", "--journal", str(journal), "--format", "html", "-o", str(page),
         "--lang", "zh-CN"],
        **outside,
    )  # fmt: skip
    assert '<html lang="zh-CN">' in page.read_text(encoding="utf-8")
