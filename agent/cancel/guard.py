"""The cancellation-rate guard: what the Order Cancellation Rate will be after a bulk cancel.

Order Cancellation Rate = seller-cancelled orders / all seller-fulfilled orders (7 days).
Every seller cancellation counts, except one with reason Buyer Canceled on an order whose
buyer asked officially ("Request cancellation"). A buyer who only wrote a message did not
ask officially: cancelling that order as Buyer Canceled still counts, and the plan lists such
orders by id, because that is the mistake a careful operator wants to hear about.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from agent.errors import UserError
from agent.i18n import N_, Nn_, _, ngettext, pgettext, told
from agent.report import format_rate

DEFAULT_MAX_CANCEL_RATE = 2.5  # percent; Amazon's target for the Order Cancellation Rate
CANCELLABLE_STATUSES = {"Unshipped", "PartiallyShipped"}


class GuardError(UserError):
    """The current metrics could not be read. `answered` is true when the portal answered
    (with an error: it has no inspection API, or wants a token), false when it could not be
    reached at all."""

    def __init__(self, message: str, *, answered: bool = False):
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True)
class Metrics:
    cancelled: int  # orders counted toward the rate now
    total: int  # all orders in the window

    @property
    def rate(self) -> float:
        """Percent."""
        return 100.0 * self.cancelled / self.total if self.total else 0.0

    @property
    def exact_rate(self) -> Fraction:
        """Percent, exactly: what limits are compared with, so that a limit printed with two
        decimals means what it says."""
        return Fraction(100 * self.cancelled, self.total) if self.total else Fraction(0)

    def exceeds(self, limit: float) -> bool:
        # str(): the limit as the user typed it (2.53), not its binary neighbour.
        return self.exact_rate > Fraction(str(limit))

    def least_limit(self) -> str:
        """The smallest limit with two decimals that this rate does not exceed: the figure a
        refusal names for --max-cancel-rate (rounded up, never down)."""
        hundredths = math.ceil(self.exact_rate * 100)
        return f"{hundredths // 100}.{hundredths % 100:02d}"


@dataclass(frozen=True)
class PlannedOrder:
    order_id: str
    reason: str | None
    request_kind: str | None = None  # "official", "message" or None; unknown counts as None
    status: str | None = None  # None when unknown: assumed cancellable
    found: bool = True  # false when the portal listed every order of the seller but not this


def counts_toward_rate(reason: str | None, request_kind: str | None) -> bool:
    return not (reason == "BuyerCanceled" and request_kind == "official")


@dataclass
class Projection:
    before: Metrics
    after: Metrics
    limit: float
    counted: list[str] = field(default_factory=list)
    not_counted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # not cancellable now: no effect
    not_found: list[str] = field(default_factory=list)  # not this seller's, or no such order
    buyer_canceled_unofficial: list[str] = field(default_factory=list)

    @property
    def raises_rate(self) -> bool:
        return self.after.cancelled > self.before.cancelled

    @property
    def over_limit(self) -> bool:
        """The run would raise the rate, and above the limit. A run whose orders do not count
        leaves an already high rate where it is, so it is never refused for it."""
        return self.raises_rate and self.after.exceeds(self.limit)

    def rate_texts(self) -> tuple[str, str]:
        """The rate before and after as every output shows them (plan, refusal, report)."""
        return format_rate(self.before.rate), format_rate(self.after.rate, self.limit)

    def to_dict(self) -> dict[str, Any]:
        # The rates unrounded: the report formats the same number the plan did.
        return {
            "rate_before": self.before.rate,
            "rate_after": self.after.rate,
            "cancelled_before": self.before.cancelled,
            "cancelled_after": self.after.cancelled,
            "total": self.after.total,
            "limit": self.limit,
            "over_limit": self.over_limit,
            "counted": self.counted,
            "not_counted": self.not_counted,
            "unchanged": self.unchanged,
            "not_found": self.not_found,
            "buyer_canceled_unofficial": self.buyer_canceled_unofficial,
        }

    def summary_lines(self) -> list[str]:
        before, after = self.rate_texts()
        lines = [
            _(
                "Order Cancellation Rate: {before} now, {after} after this run ({counted}, "
                "{not_counted}; limit {limit}%)"
            ).format(
                before=before,
                after=after,
                counted=ngettext(
                    "{count} of the orders counts", "{count} of the orders count", len(self.counted)
                ).format(count=len(self.counted)),
                not_counted=ngettext(
                    "{count} does not", "{count} do not", len(self.not_counted)
                ).format(count=len(self.not_counted)),
                limit=f"{self.limit:g}",
            )
        ]
        if self.buyer_canceled_unofficial:
            count = len(self.buyer_canceled_unofficial)
            lines.append(
                ngettext(
                    "{count} order uses Buyer Canceled without an official buyer request, so "
                    "it counts: {orders}",
                    "{count} orders use Buyer Canceled without an official buyer request, so "
                    "they count: {orders}",
                    count,
                ).format(count=count, orders=_listed(self.buyer_canceled_unofficial))
            )
        for ids, (singular, plural) in (
            (
                self.not_found,
                Nn_(
                    "{count} order is not this seller's or not found, so not counted: {orders}",
                    "{count} orders are not this seller's or not found, so not counted: {orders}",
                ),
            ),
            (
                self.unchanged,
                Nn_(
                    "{count} order is not cancellable now (pending, shipped or already "
                    "cancelled), so not counted: {orders}",
                    "{count} orders are not cancellable now (pending, shipped or already "
                    "cancelled), so not counted: {orders}",
                ),
            ),
        ):
            if ids:
                lines.append(
                    ngettext(singular, plural, len(ids)).format(count=len(ids), orders=_listed(ids))
                )
        if self.over_limit:
            lines.append(
                _(
                    "This run would raise the rate above {limit}%: it needs an explicit "
                    "override (a higher --max-cancel-rate)."
                ).format(limit=f"{self.limit:g}")
            )
        elif self.before.rate > self.limit:
            lines.append(
                _(
                    "The rate is already above {limit}%; none of this run's orders count "
                    "toward it, so the run does not change it."
                ).format(limit=f"{self.limit:g}")
            )
        return lines


def _listed(ids: list[str]) -> str:
    """Up to 20 order ids, and how many more."""
    more = len(ids) - 20
    # Joined as the language lists things (、 between Chinese items).
    joined = pgettext("list", ", ").join(ids[:20])
    return joined + (_(" and {count} more").format(count=more) if more > 0 else "")


def project_rate(
    metrics: Metrics, orders: Iterable[PlannedOrder], limit: float = DEFAULT_MAX_CANCEL_RATE
) -> Projection:
    """The rate after cancelling `orders`. Cancelling moves an order into the numerator only;
    the number of orders in the window stays the same."""
    projection = Projection(before=metrics, after=metrics, limit=limit)
    added = 0
    for order in orders:
        if not order.found:
            projection.not_found.append(order.order_id)
            continue
        if order.status is not None and order.status not in CANCELLABLE_STATUSES:
            projection.unchanged.append(order.order_id)
            continue
        if counts_toward_rate(order.reason, order.request_kind):
            added += 1
            projection.counted.append(order.order_id)
            if order.reason == "BuyerCanceled":
                projection.buyer_canceled_unofficial.append(order.order_id)
        else:
            projection.not_counted.append(order.order_id)
    projection.after = Metrics(cancelled=metrics.cancelled + added, total=metrics.total)
    return projection


def _first(record: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        if name in record and record[name] is not None:
            return record[name]
    return None


def metrics_from_api(data: Mapping[str, Any]) -> Metrics:
    """Metrics from the mock portal's /mock/api/metrics answer."""
    record = data.get("metrics", data) if isinstance(data, Mapping) else {}
    if isinstance(record, Mapping) and "order_cancellation_rate" in record:
        inner = record["order_cancellation_rate"]
        if isinstance(inner, Mapping):
            record = {**record, **inner}
    cancelled = _first(record, ("cancelled", "canceled", "counted", "cancelled_count", "numerator"))
    total = _first(record, ("total", "orders", "total_orders", "denominator"))
    if cancelled is None or total is None:
        raise GuardError(
            told(N_("unexpected metrics answer: {answer}"), answer=json.dumps(data)[:200]),
            answered=True,
        )
    return Metrics(cancelled=int(cancelled), total=int(total))


def _api_get(portal: str, path: str, token: str | None, timeout: float) -> Any:
    request = urllib.request.Request(urllib.parse.urljoin(portal.rstrip("/") + "/", path))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise GuardError(
            told(
                N_("{portal}: {path} answered HTTP {code}"),
                portal=portal,
                path=path,
                code=error.code,
            ),
            answered=True,
        ) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise GuardError(
            told(
                N_("{portal}: cannot read {path} ({reason})"),
                portal=portal,
                path=path,
                reason=reason,
            )
        ) from error
    try:
        return json.loads(body)
    except ValueError:
        # A portal without the API often answers with a page (its sign-in page, say).
        raise GuardError(
            told(N_("{portal}: {path} is not an inspection API"), portal=portal, path=path),
            answered=True,
        ) from None


def fetch_api_snapshot(
    portal: str,
    *,
    seller: str | None = None,
    token: str | None = None,
    timeout: float = 15.0,
) -> tuple[Metrics, dict[str, dict[str, Any]]]:
    """The current metrics and every order of the seller, from the portal's inspection API
    (the bundled mock portal; a real portal has none). Orders the API marks as another
    seller's are left out."""
    query = f"?seller={urllib.parse.quote(seller)}" if seller else ""
    metrics = metrics_from_api(_api_get(portal, f"mock/api/metrics{query}", token, timeout))
    answer = _api_get(portal, f"mock/api/orders{query}", token, timeout)
    orders = {
        order["order_id"]: order
        for order in answer.get("orders", [])
        if not seller or order.get("seller") in (None, seller)
    }
    return metrics, orders


def planned_orders(
    rows: Iterable[tuple[str, str | None]],
    known: Mapping[str, Mapping[str, Any]],
    *,
    complete: bool = False,
) -> list[PlannedOrder]:
    """(order id, reason) pairs joined with what the portal says of each order. `complete`:
    `known` is every order of the seller (the inspection API), so an order missing from it is
    not the seller's to cancel; otherwise (the portal's pages) an unknown order is assumed
    cancellable, which can only overstate the rate."""
    planned = []
    for order_id, reason in rows:
        record = known.get(order_id)
        if record is None and complete:
            planned.append(PlannedOrder(order_id, reason, found=False))
            continue
        record = record or {}
        kind = record.get("buyer_request_kind")
        if kind is None and record.get("buyer_requested"):
            kind = "official"
        planned.append(PlannedOrder(order_id, reason, kind, record.get("status")))
    return planned


def metrics_from_values(values: Mapping[str, Any]) -> Metrics:
    """Metrics from what the account_health flow read off the page."""
    cancelled, total = values.get("cancelled"), values.get("total")
    try:
        return Metrics(
            cancelled=int(str(cancelled).replace(",", "").strip()),
            total=int(str(total).replace(",", "").strip()),
        )
    except ValueError:
        raise GuardError(
            told(
                N_("Account Health shows counts that are not numbers: {cancelled} of {total}"),
                cancelled=repr(cancelled),
                total=repr(total),
            )
        ) from None


@dataclass
class PortalFacts:
    """What the portal's own pages say: the rate's counts and the officially requested orders."""

    metrics: Metrics
    requested: list[str]  # order ids whose buyers asked officially (their request emails)


async def read_portal_facts(
    browser: Any, *, portal: str, secrets: Any, run_dir: Any
) -> PortalFacts:
    """Sign in (reusing a saved session) and run the account_health and
    collect_cancel_requests flows: the guard's inputs on a portal without an inspection API."""
    from agent.flow import load_flow
    from agent.play import browser as browserlib
    from agent.play import session
    from agent.play.player import run_flow

    state = await session.ensure_session(browser, portal=portal, secrets=secrets, run_dir=run_dir)
    context = await browserlib.new_context(browser, storage_state=state)
    try:
        page = await context.new_page()
        found = {}
        for name in ("account_health", "collect_cancel_requests"):
            result = await run_flow(
                page, load_flow(name), {}, portal=portal, secrets=secrets, run_dir=run_dir
            )
            if not result.ok:
                raise GuardError(
                    told(
                        N_("the {flow} flow failed: {error}"),
                        flow=name,
                        error=result.error or result.outcome,
                    )
                )
            found[name] = result.values
    finally:
        await context.close()
    return PortalFacts(
        metrics=metrics_from_values(found["account_health"]),
        requested=sorted(found["collect_cancel_requests"].get("order_ids") or []),
    )
