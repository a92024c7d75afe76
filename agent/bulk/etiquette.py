"""How a run behaves toward a portal: a conservative pace when the portal is not on this
machine, and a stop of the whole run, at once, when the portal waits for a person or blocks
automated access.

Amazon's Business Solutions Agreement (from March 2026) asks automated agents to identify
themselves (see agent.play.browser: the User-Agent's product token) and to stop when Amazon
asks them to; this module is the stopping half, and the pace keeps a run from looking like an
attack on a real site.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from agent.errors import SellerAgentError
from agent.i18n import N_, _, told
from agent.play.interstitials import HALT_KINDS

# Rows started per second against a portal that is not on this machine, unless --rate says.
REMOTE_RATE = 1.0


class RunHalted(SellerAgentError):
    """The portal asked a person to act, or blocked automated access, in the middle of a run.

    Exit code 2, like a sign-in that stops before the run: running again without a person's
    help gives the same answer. The rows not done stay in the journal for --resume."""

    exit_code = 2


def is_local_portal(portal: str) -> bool:
    """True for a portal on this machine: localhost (and *.localhost) or a loopback address."""
    host = (urlsplit(portal).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_rate(portal: str, rate: float | None) -> float | None:
    """The pace of a run: the one given, else REMOTE_RATE for a portal elsewhere, else none."""
    if rate is not None or is_local_portal(portal):
        return rate
    return REMOTE_RATE


def paced(options: Any, portal: str, say: Callable[[str], None]) -> Any:
    """The run's options with the default pace applied, said once when it was chosen here."""
    rate = default_rate(portal, options.rate)
    if rate == options.rate:
        return options
    host = urlsplit(portal).hostname or portal
    say(
        _(
            "pace: at most {rate} row per second, as {host} is not on this machine "
            "(cancel --rate sets another)"
        ).format(rate=f"{rate:g}", host=host)
    )
    return dataclasses.replace(options, rate=rate)


def halt_if_told(result: Any, stop: Any, run_id: str) -> None:
    """Stop the run at once when a row met a page a person must answer or a blocked portal:
    no new rows are taken, and RunHalted carries the portal's message. The row itself is left
    as the journal has it (running), so --resume plays it again through its guard."""
    if result.outcome != "failed" or result.error_kind not in HALT_KINDS:
        return
    stop.soft = True
    stop.reason = stop.reason or result.error_kind
    raise RunHalted(
        told(
            N_("{error}; run {run} stopped, its rows not done stay for --resume {run}"),
            error=result.error,
            run=run_id,
        )
    )
