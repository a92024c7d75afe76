"""Where signing in needs a person, or the portal says stop.

The real sign-in can stop at a CAPTCHA, at a code sent by email (/ap/cvf) or at a choice
between accounts. seller-agent never answers a CAPTCHA or a code itself: it stops before any
order is touched, with one line saying what the portal asks for and how to get past it by
hand. A page saying automated access is blocked stops everything the same way. An account
picker is answered with the configured account (--account, SELLER_AGENT_ACCOUNT or `account`
in the secrets file), or with its only choice.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from typing import Any

from agent.errors import SessionError
from agent.i18n import N_, _, told

ACCOUNT_ENV = "SELLER_AGENT_ACCOUNT"
ACCOUNT_SECRET = "account"
# The bundled login flow's param naming the choice to take on an account picker.
PARAM = "account_choice"

# Error kinds that end a whole run at once and are never retried: the portal is waiting for a
# person, or has asked automation to stop.
INTERSTITIAL = "interstitial"
BLOCKED = "blocked"
HALT_KINDS = frozenset({INTERSTITIAL, BLOCKED})

BY_HAND = N_("sign in by hand with `seller-agent login --headed`, then run again")
# The login flow's outcomes where a person must act, and what the portal asks for.
PERSON_OUTCOMES = {
    "captcha": N_("the characters of a CAPTCHA picture"),
    "verification_required": N_("a verification code it sent to the account's email or phone"),
    "account_choice_required": N_("a choice of account or marketplace"),
}
PERSON_WAIT_SECONDS = 600.0


class SignInStopped(SessionError):
    """Signing in met a page a person must answer, or the portal blocked automated access.

    Exit code 2: nothing was touched, and running again without a person's help gives the same
    answer. `error_kind` is "interstitial" or "blocked"."""

    exit_code = 2

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.error_kind = kind


def configured_account(secrets: Any) -> str:
    """The account to choose on a picker: SELLER_AGENT_ACCOUNT (which --account sets), else the
    secrets file's `account`; empty when none is configured."""
    chosen = os.environ.get(ACCOUNT_ENV) or getattr(secrets, "extra", {}).get(ACCOUNT_SECRET) or ""
    return chosen.strip()


def account_pattern(name: str) -> str:
    """The picker choice's accessible name a configured account must match: the whole name,
    any case, spaces around it ignored."""
    return "/^\\s*" + re.escape(name) + "\\s*$/i"


def login_params(flow: Any, secrets: Any) -> dict[str, Any]:
    """The session flow's params: the configured account as the bundled login flow expects it,
    when the flow has that param; every other param at its default."""
    from agent.flow import FlowError, bind_params

    account = configured_account(secrets)
    # Not named `account`: the secrets file's values reach templates under their own names.
    given = {PARAM: account_pattern(account)} if account and PARAM in flow.params else {}
    try:
        return bind_params(flow, given)
    except FlowError:
        # A session flow of one's own with required params: the run reports the missing value.
        return given


def _collapse(text: object) -> str:
    return " ".join(str(text).split())


def stop_for(result: Any, portal: str, *, account: str = "") -> SignInStopped | None:
    """The error a finished sign-in attempt must stop with, or None when it is not a stop."""
    if result.outcome == BLOCKED or result.error_kind == BLOCKED:
        shown = _collapse(result.values.get("message") or "")
        if not shown and result.error_kind == BLOCKED:
            shown = _collapse(result.error or "")
        said = f" ({shown})" if shown else ""
        return SignInStopped(
            told(
                N_(
                    "{portal} blocked automated access{said}: seller-agent stops here; run "
                    "nothing against it until a person has signed in by hand and the portal "
                    "allows automation again"
                ),
                portal=portal,
                said=said,
            ),
            BLOCKED,
        )
    wanted = PERSON_OUTCOMES.get(result.outcome)
    if wanted is None:
        return None
    asks = told(wanted)
    if result.outcome == "account_choice_required":
        choices = [_collapse(choice) for choice in result.values.get("choices") or []]
        listed = ", ".join(choice for choice in choices if choice) or told(N_("none shown"))
        if account:
            return SignInStopped(
                told(
                    N_(
                        "{portal} asks for {asks}, and the configured account '{account}' is not "
                        "one of its choices ({listed}): set --account to one of them (or "
                        "SELLER_AGENT_ACCOUNT, or `account` in the secrets file)"
                    ),
                    portal=portal,
                    asks=asks,
                    account=account,
                    listed=listed,
                ),
                INTERSTITIAL,
            )
        return SignInStopped(
            told(
                N_(
                    "{portal} asks for {asks} ({listed}): choose one with --account NAME (or "
                    "SELLER_AGENT_ACCOUNT, or `account` in the secrets file), or {by_hand}"
                ),
                portal=portal,
                asks=asks,
                listed=listed,
                by_hand=told(BY_HAND),
            ),
            INTERSTITIAL,
        )
    return SignInStopped(
        told(
            N_("{portal} asks for {asks}, which seller-agent never answers itself: {by_hand}"),
            portal=portal,
            asks=asks,
            by_hand=told(BY_HAND),
        ),
        INTERSTITIAL,
    )


def _plain_specs(condition: dict[str, Any]) -> list[dict[str, Any]]:
    """The target specs of a condition made of plain targets joined by `any`."""
    if condition["kind"] == "any":
        return [spec for item in condition["items"] for spec in _plain_specs(item)]
    if condition["kind"] == "target" and not {"count", "value", "text"} & condition.keys():
        return list(condition["target"])
    return []


async def wait_for_person(
    page: Any,
    flow: Any,
    result: Any,
    *,
    portal: str,
    seconds: float = PERSON_WAIT_SECONDS,
    say: Callable[[str], None] | None = None,
) -> bool:
    """In a browser window a person sees: wait until they have answered the page the sign-in
    stopped at and the flow's `signed_in` page shows. False when the time runs out, the window
    is closed, or the page is not one a person can answer."""
    from agent import flow as flowlib
    from agent.play import locate

    if result.outcome not in PERSON_OUTCOMES or "signed_in" not in flow.outcomes:
        return False
    specs = flowlib.render(_plain_specs(flow.outcomes["signed_in"]), {})
    if not specs:
        return False
    if say is not None:
        say(
            _(
                "{portal} asks for {asks}: answer it in the browser window and finish signing "
                "in (waiting up to {minutes} minutes)"
            ).format(
                portal=portal, asks=_(PERSON_OUTCOMES[result.outcome]), minutes=int(seconds // 60)
            )
        )
    signed_in = locate.visible(locate.union(page, specs))
    with contextlib.suppress(Exception):
        await signed_in.first.wait_for(state="attached", timeout=seconds * 1000)
        return True
    return False
