"""One-time codes used once: the tool never types a code for a 30-second step it already used
for the same account, in one process or across commands run one after another."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.play import otp
from mock_portal.testing import running_portal

SECRET = "JBSWY3DPEHPK3PXP"


class FakeTime:
    def __init__(self, start: float) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def ledger_home(tmp_path, monkeypatch):
    monkeypatch.delenv(otp.REUSABLE_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(otp, "_used", {})
    return tmp_path / "data" / "seller-agent" / otp.LEDGER


def take(key: str, fake: FakeTime) -> int:
    return asyncio.run(otp.fresh_step(key, clock=fake.clock, sleep=fake.sleep))


def test_a_second_code_in_the_same_step_waits_for_the_next_step(ledger_home):
    key = otp.ledger_key("http://127.0.0.1:8600", "seller@example.com", SECRET)
    fake = FakeTime(1_800_000_010.0)  # 10 s into a step
    first = take(key, fake)
    assert fake.slept == []
    second = take(key, fake)
    assert second == first + 1
    assert len(fake.slept) == 1 and 20 <= fake.slept[0] <= 20.1
    # Once the step has moved on by itself, nothing to wait for.
    fake.now += 30
    assert take(key, fake) == second + 1 and len(fake.slept) == 1


def test_a_portal_said_to_take_codes_again_gets_the_current_code_at_once(ledger_home, monkeypatch):
    monkeypatch.setenv(otp.REUSABLE_ENV, "1")
    key = otp.ledger_key("http://127.0.0.1:8600", "seller@example.com", SECRET)
    fake = FakeTime(1_800_000_010.0)
    assert take(key, fake) == take(key, fake) == 1_800_000_010 // 30
    assert fake.slept == []


def test_the_rule_holds_across_commands_through_the_private_ledger(ledger_home, monkeypatch):
    key = otp.ledger_key("http://127.0.0.1:8600", "seller@example.com", SECRET)
    fake = FakeTime(1_800_000_001.0)
    take(key, fake)
    monkeypatch.setattr(otp, "_used", {})  # a new process: only the file remembers
    take(key, fake)
    assert len(fake.slept) == 1
    assert oct(ledger_home.stat().st_mode & 0o777) == "0o600"
    assert SECRET not in ledger_home.read_text() and "seller@" not in ledger_home.read_text()


def test_other_accounts_and_portals_do_not_wait(ledger_home):
    fake = FakeTime(1_800_000_001.0)
    take(otp.ledger_key("http://127.0.0.1:8600", "seller@example.com", SECRET), fake)
    take(otp.ledger_key("http://127.0.0.1:8601", "seller@example.com", SECRET), fake)
    take(otp.ledger_key("http://127.0.0.1:8600", "other@example.com", SECRET), fake)
    assert fake.slept == []


def test_the_same_secret_written_another_way_is_the_same_account(ledger_home):
    # The portal showed it in groups; one command has it from a variable as shown, the next
    # from the secrets file in one piece: the codes are the same, and so is the rule.
    grouped = " ".join(SECRET[i : i + 4] for i in range(0, len(SECRET), 4)).lower()
    assert otp.ledger_key("http://127.0.0.1:8600", "Seller@Example.com", grouped) == (
        otp.ledger_key("http://127.0.0.1:8600", "seller@example.com", SECRET)
    )
    assert otp.ledger_key("http://127.0.0.1:8600", "seller@example.com", SECRET + "==") == (
        otp.ledger_key("http://127.0.0.1:8600", "seller@example.com", SECRET)
    )


@pytest.mark.browser
@pytest.mark.slow
def test_two_sign_ins_in_a_row_both_work_where_codes_are_single_use(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SELLER_AGENT_")},
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    command = [str(Path(sys.executable).with_name("seller-agent")), "login", "-q"]
    with running_portal(orders=20, TOTP_ALLOW_REUSE=False) as portal:
        started = time.monotonic()
        results = [
            subprocess.run(
                [*command, "--portal", portal.url],
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
                stdin=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
    # The second waited for a code of its own rather than having the portal refuse it.
    assert time.monotonic() - started < 120


def test_within_a_data_home_the_ledger_sessions_and_journal_stay_in_its_folder(
    ledger_home, tmp_path
):
    from agent.bulk.journal import default_journal_path
    from agent.play.browser import storage_state_path
    from agent.play.home import data_home

    folder = tmp_path / "demo"
    key = otp.ledger_key("http://127.0.0.1:8600", "seller@example.com", SECRET)
    with data_home(folder):
        take(key, FakeTime(1_800_000_001.0))  # in an event loop, as a run signs in
        session = storage_state_path("http://127.0.0.1:41234", "seller@example.com")
        journal = default_journal_path()
    assert (folder / otp.LEDGER).exists() and not ledger_home.exists()
    assert session.parent == folder / "sessions" / "127.0.0.1_41234"
    assert journal == folder / "journal.db"
    # Outside it, the user's data home again.
    assert default_journal_path() == ledger_home.parent / "journal.db"
