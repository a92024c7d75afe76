"""Reading ahead (agent.play.ahead): the bundled flow's reads after the search page loads -
the two `when` lookups, the buyer-request extract and the first guard - played with and
without reading ahead on pages like the portal's, in Chromium. Reading ahead must decide
every step the way reading each condition alone does, and on the usual page (an order that
can be cancelled) settle the row in one round trip."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from agent import flow as flowlib
from agent.play import ahead, player
from agent.play.secrets import Secrets

ORDER = "112-0000001-0000001"
ROW = (
    '<table><tr data-testid=order-row data-order-id="{id}"><td>{id}</td>'
    "<td data-testid=order-status data-status={status}>{status}</td>{button}</tr></table>"
)
BUTTON = "<td><button data-testid=cancel-order>Cancel order</button></td>"
BANNER = (
    "<div data-testid=buyer-request-banner>The buyer has requested that this order be "
    "canceled.</div>"
)

PAGES = {
    "cancellable": ROW.format(id=ORDER, status="Unshipped", button=BUTTON),
    "buyer asked": BANNER + ROW.format(id=ORDER, status="Unshipped", button=BUTTON),
    "cancelled": ROW.format(id=ORDER, status="Canceled", button=""),
    "pending": ROW.format(id=ORDER, status="Pending", button=""),
    "not found": "<p>No orders found</p>",
    "not found, in Chinese": "<p>未找到订单</p>",
    "details, cancelled": "<label for=s>Status</label><output id=s>Canceled</output>",
    "details, shipped": "<label for=s>Status</label><output id=s>Shipped</output>",
    "another order": ROW.format(id="112-0000002-0000002", status="Canceled", button=""),
}
# The pages on which none of the row's conditions holds.
QUIET = {"cancellable", "buyer asked", "another order"}


def bundled_row() -> flowlib.Flow:
    """The bundled cancel flow's steps from its first `when` to its first guard, each `goto`
    turned into a script that notes it ran (so a step taken shows without leaving the page)."""
    data = yaml.safe_load(Path(flowlib.flows_dir() / "cancel_order.yaml").read_text())
    first = next(index for index, step in enumerate(data["steps"]) if "when" in step)
    guard = next(index for index, step in enumerate(data["steps"]) if "outcome" in step)
    steps = copy.deepcopy(data["steps"][first : guard + 1])
    for number, step in enumerate(steps):
        if "goto" in step:
            del step["goto"]
            step["evaluate"] = f"(window.taken = window.taken || []).push({number})"
    return flowlib.load_flow_data({**data, "name": "row", "steps": steps})


def runner_for(page, flow: flowlib.Flow, tmp_path: Path) -> player._Runner:
    secrets = Secrets(email="e@example.com", password="p", totp_secret="JBSWY3DPEHPK3PXP")
    return player._Runner(
        page, flow, {}, portal="http://127.0.0.1:1", secrets=secrets, run_dir=tmp_path, trace=False
    )


@pytest.fixture(scope="module")
def page(chromium, loop):
    page = loop.run_until_complete(chromium.new_page())
    yield page
    loop.run_until_complete(page.close())


def play(page, loop, tmp_path, flow, html: str, read_ahead: bool) -> tuple:
    """Play the row on a page of this HTML; what it did: the steps taken, the values, the
    outcome."""
    loop.run_until_complete(page.set_content(html))
    loop.run_until_complete(page.evaluate("window.taken = []"))
    runner = runner_for(page, flow, tmp_path)
    ctx = {"order_id": ORDER, "reason": "BuyerCanceled", "memo": ""}
    ended = None

    async def steps() -> None:
        for index, step in enumerate(flow.steps):
            following = flow.steps[index + 1 :] if read_ahead else None
            await runner.run_step(page, step, ctx, flow, following)

    try:
        loop.run_until_complete(steps())
    except player._Ended as end:
        ended = end.outcome
    taken = loop.run_until_complete(page.evaluate("window.taken"))
    return taken, dict(runner.values), ended


@pytest.mark.parametrize("shown", list(PAGES))
def test_reading_ahead_decides_as_reading_each_alone(page, loop, tmp_path, shown):
    flow = bundled_row()
    alone = play(page, loop, tmp_path, flow, PAGES[shown], read_ahead=False)
    together = play(page, loop, tmp_path, flow, PAGES[shown], read_ahead=True)
    assert together == alone
    # The pages tell the steps apart, so the comparison above says something.
    taken, values, ended = alone
    if shown in QUIET:
        assert taken == [] and ended is None
    if shown == "buyer asked":
        assert values["buyer_requested"] is True
    if shown == "cancelled":
        # Its details page would be opened; here the search page stays, and the guard ends.
        assert taken == [2] and ended == "not_cancellable"
    if shown.startswith("not found"):
        assert taken == [0] and ended == "not_found"
    if shown == "pending":
        assert ended == "not_cancellable"


@pytest.mark.parametrize("shown", sorted(QUIET))
def test_the_usual_page_is_settled_in_one_round_trip(page, loop, tmp_path, round_trips, shown):
    """Alone, the row costs five round trips; read ahead, one. Where the buyer asked, the
    banner is there and the one count concludes nothing: each step then reads for itself."""
    flow = bundled_row()
    play(page, loop, tmp_path, flow, PAGES[shown], read_ahead=False)
    alone = round_trips.count("queryCount")
    round_trips.clear()
    play(page, loop, tmp_path, flow, PAGES[shown], read_ahead=True)
    together = round_trips.count("queryCount")
    assert alone == 5
    assert together == (alone + 1 if shown == "buyer asked" else 1)


def test_an_answer_read_on_another_page_is_not_used(page, loop, tmp_path):
    """The row is read ahead on a cancellable order's page; the page then moves to one where
    the order is not found: the guard reads that page rather than trusting the answer."""
    flow = bundled_row()
    runner = runner_for(page, flow, tmp_path)
    ctx = {"order_id": ORDER}
    first, *rest = flow.steps
    guard = flow.steps[-1]

    async def moved() -> str | None:
        await page.set_content(PAGES["cancellable"])
        watchers = player._page_watchers(page)  # as a run does: it sees the page move
        watchers.append(runner)
        try:
            assert await runner.run_step(page, first, ctx, flow, rest) is False
            await page.goto("data:text/html,<p>No orders found</p>")
            await runner.run_step(page, guard, ctx, flow, [])
        except player._Ended as ended:
            return ended.outcome
        finally:
            watchers.remove(runner)
        return None

    assert loop.run_until_complete(moved()) == "not_found"


def reader_for(page, flow, tmp_path, ctx) -> ahead.Reader:
    runner = runner_for(page, flow, tmp_path)
    return ahead.Reader(
        combined=lambda condition: runner._combined(condition, ctx),
        local=lambda condition: runner._local(condition, ctx),
        present=lambda specs: runner.page.locator("css=never"),
    )


def test_the_row_ends_where_reading_ahead_could_change_an_answer(page, tmp_path):
    flow = flowlib.load_flow_data(
        {
            "name": "rows",
            "params": {"memo": {"default": ""}},
            "steps": [
                {"click": {"text": "A"}, "when": {"text": "No orders"}},
                {"extract": {"target": {"text": "Banner"}, "as": "asked", "present": True}},
                {"fill": {"target": {"label": "Memo"}, "value": "x"}, "when": {"given": "memo"}},
                {"click": {"text": "B"}, "when": {"text": "Gone"}},
                # Uses what the extract above read: it cannot be answered before it.
                {"click": {"text": "C"}, "when": {"given": "asked"}},
                {"click": {"text": "D"}, "when": {"text": "Late"}},
            ],
        }
    )
    steps = flow.steps
    row, witness = ahead.settled_row(steps, flow, reader_for(page, flow, tmp_path, {"memo": ""}))
    assert row == [steps[0], steps[1], steps[2], steps[3]]
    assert witness is not None and witness is not ahead.NEVER
    # With a memo given, its fill will run: the row stops before it.
    given = reader_for(page, flow, tmp_path, {"memo": "note"})
    assert ahead.settled_row(steps, flow, given)[0] == [steps[0], steps[1]]
    # An extract that waits for its target (not `present` or `all`) may outlast a change of
    # the page, so nothing after it is read ahead of it; what is left saves no round trip.
    waiting = flowlib.load_flow_data(
        {
            "name": "waits",
            "steps": [
                {"click": {"text": "A"}, "when": {"text": "No orders"}},
                {"extract": {"target": {"text": "Total"}, "as": "total"}},
                {"click": {"text": "B"}, "when": {"text": "Gone"}},
            ],
        }
    )
    reader = reader_for(page, waiting, tmp_path, {})
    assert ahead.settled_row(waiting.steps, waiting, reader) == ([], None)


STATUS = {"label": "Status"}
KINDS = {
    "text check": {"target": STATUS, "text": "/^Canceled/"},
    "value check": {"target": {"css": "input"}, "value": "Canceled"},
    "count": {"target": {"css": "output"}, "count": 0},
    "all with a text check": {"all": [{"text": "Order"}, {"target": STATUS, "text": "/^Canc/"}]},
    "not of a text check": {"not": {"target": STATUS, "text": "/^Shipped/"}},
    "any with a url": {"any": [{"url": "/nowhere"}, {"text": "Missing"}]},
    "title": {"title": "/Order/"},
}
KIND_PAGES = {
    "cancelled": "<title>Order</title><p>Order</p><label for=s>Status</label>"
    "<output id=s>Canceled</output><input value=Canceled>",
    "shipped": "<p>Order</p><label for=s>Status</label><output id=s>Shipped</output>",
    "empty": "<p>Nothing here</p>",
}


@pytest.mark.parametrize("shown", list(KIND_PAGES))
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_condition_is_decided_as_alone(page, loop, tmp_path, kind, shown):
    """A row of three `when` steps, the middle one of each kind of condition."""
    flow = flowlib.load_flow_data(
        {
            "name": "kinds",
            "steps": [
                {"evaluate": "window.taken.push(0)", "when": {"text": "Missing"}},
                {"evaluate": "window.taken.push(1)", "when": KINDS[kind]},
                {"evaluate": "window.taken.push(2)", "when": {"css": "blink"}},
            ],
        }
    )
    alone = play(page, loop, tmp_path, flow, KIND_PAGES[shown], read_ahead=False)
    together = play(page, loop, tmp_path, flow, KIND_PAGES[shown], read_ahead=True)
    assert together == alone


@pytest.mark.parametrize("html", ["<ul><li>a</li><li>b</li></ul>", "<p>none</p>"])
def test_extracts_read_ahead_take_the_values_read_alone(page, loop, tmp_path, html):
    flow = flowlib.load_flow_data(
        {
            "name": "extracts",
            "steps": [
                {"extract": {"target": {"css": "li"}, "as": "items", "all": True}},
                {"extract": {"target": {"css": "li"}, "as": "listed", "present": True}},
                {"evaluate": "window.taken.push(2)", "when": {"text": "Missing"}},
            ],
        }
    )
    alone = play(page, loop, tmp_path, flow, html, read_ahead=False)
    together = play(page, loop, tmp_path, flow, html, read_ahead=True)
    assert together == alone
    assert alone[1] == ({"items": ["a", "b"], "listed": True} if "li" in html else {
        "items": [], "listed": False})  # fmt: skip


WITHIN = {
    "within": {
        "target": [{"role": "row", "name": ORDER}, {"css": f'tr[data-order-id="{ORDER}"]'}],
        "steps": [
            {
                "click": [
                    {"role": "button", "name": "Cancel order"},
                    {"css": "button.cancel"},
                ]
            }
        ],
    }
}
CLICKED = "<td><button class=cancel onclick='window.taken.push(this.textContent)'>{}</button></td>"
UNSHIPPED = ROW.format(id=ORDER, status="Unshipped", button=CLICKED.format("Cancel order"))
# The page, and the round trips the within and its click take there.
WITHIN_PAGES = {
    # Both first candidates there: one look for the row and its button, then the click (three
    # round trips when each resolves alone).
    "both first": (UNSHIPPED, 2),
    # The button only by its fallback: the look finds nothing and each resolves alone, one
    # round trip more than without the look.
    "button by fallback": (UNSHIPPED.replace(">Cancel order<", ">X<"), 7),
    # The row only by its fallback (its role hides it from the accessibility tree): the same.
    "row by fallback": (UNSHIPPED.replace("<tr ", "<tr role=presentation "), 7),
}


@pytest.mark.parametrize("shown", list(WITHIN_PAGES))
def test_within_looks_once_for_the_row_and_its_first_step(page, loop, tmp_path, round_trips, shown):
    """The row's first candidate holding the button's first candidate: one look says both
    resolve to their first candidate. Otherwise each resolves as alone, and picks the same."""
    html, trips = WITHIN_PAGES[shown]
    flow = flowlib.load_flow_data({"name": "within", "steps": [WITHIN]})
    loop.run_until_complete(page.set_content(html))
    loop.run_until_complete(page.evaluate("window.taken = []"))
    runner = runner_for(page, flow, tmp_path)
    round_trips.clear()
    assert loop.run_until_complete(
        runner.run_step(page, flow.steps[0], {"order_id": ORDER}, flow, [])
    )
    assert len(round_trips) == trips, round_trips
    assert loop.run_until_complete(page.evaluate("window.taken")) == [
        "X" if shown == "button by fallback" else "Cancel order"
    ]
    candidates = [match["candidate"] for match in runner.matches]
    assert candidates == {"both first": [0, 0], "button by fallback": [0, 1],
                          "row by fallback": [1, 0]}[shown]  # fmt: skip


CANCEL_FORM = """<form><label for=r>Reason for cancellation</label>
    <select id=r name=reason onchange="window.taken.push(this.value)">
    <option value="">Choose</option><option value=BuyerCanceled>Buyer canceled</option></select>
    <button type=button>Submit</button></form>"""


def cancel_page_flow() -> flowlib.Flow:
    """The bundled flow's steps on the cancel form: the wait for it, the second guard and
    the reason (the rest of the flow left out)."""
    data = yaml.safe_load(Path(flowlib.flows_dir() / "cancel_order.yaml").read_text())
    steps = data["steps"]
    first = next(i for i, step in enumerate(steps) if "wait" in step and i > 2)
    return flowlib.load_flow_data({**data, "name": "form", "steps": steps[first : first + 3]})


def test_a_wait_looks_for_the_next_action_in_the_same_count(page, loop, tmp_path, round_trips):
    """The wait for the cancel form, its guard, the reason: alone five round trips (the wait,
    the guard's two, the reason's look and its choice); with the wait's one count also
    finding the reason's field, three."""
    flow = cancel_page_flow()
    assert [step.kind for step in flow.steps] == ["wait", "outcome", "select"]
    alone = play(page, loop, tmp_path, flow, CANCEL_FORM, read_ahead=False)
    trips_alone = len(round_trips)
    round_trips.clear()
    together = play(page, loop, tmp_path, flow, CANCEL_FORM, read_ahead=True)
    assert together == alone == (["BuyerCanceled"], {}, None)
    # set_content, evaluate (before and after) and the steps' own round trips
    assert (trips_alone - 3, len(round_trips) - 3) == (5, 3)


def test_a_look_is_forgotten_once_another_step_acts(page, loop, tmp_path):
    """A step with a `when` that holds acts between the wait and the click (a script, which
    has no target to look for): it removes the click's first candidate, so the click must
    look again and take its fallback."""
    html = """<p>Ready</p><p id=open>Open</p>
        <button id=a onclick="window.taken.push('a')">A</button>
        <button class=c onclick="window.taken.push('c')">C</button>"""
    flow = flowlib.load_flow_data(
        {
            "name": "forgets",
            "timeout": 2000,
            "steps": [
                {"wait": {"text": "Ready"}},
                {"evaluate": "document.getElementById('a').remove()", "when": {"css": "#open"}},
                {"click": [{"css": "#a"}, {"css": ".c"}]},
            ],
        }
    )
    taken, _, _ = play(page, loop, tmp_path, flow, html, read_ahead=True)
    assert taken == ["c"]


def test_a_look_is_not_used_on_a_page_that_has_moved(page, loop, tmp_path):
    """The wait looks for the click's first candidate; the page then navigates to one without
    it: the click resolves again, on the new page, and takes its fallback."""
    flow = flowlib.load_flow_data(
        {
            "name": "moves",
            "timeout": 2000,
            "steps": [
                {"wait": {"text": "Ready"}},
                {"click": [{"css": "#a"}, {"css": ".c"}]},
            ],
        }
    )
    runner = runner_for(page, flow, tmp_path)
    wait, click = flow.steps

    async def moved() -> list:
        await page.set_content("<p>Ready</p><button id=a>A</button>")
        watchers = player._page_watchers(page)  # as a run does: it sees the page move
        watchers.append(runner)
        try:
            assert await runner.run_step(page, wait, {}, flow, [click])
            await page.goto(
                "data:text/html,<p>Ready</p><button class=c onclick=window.taken=['c']>C</button>"
            )
            await runner.run_step(page, click, {}, flow, [])
        finally:
            watchers.remove(runner)
        return await page.evaluate("window.taken")

    assert loop.run_until_complete(moved()) == ["c"]
    assert [match["candidate"] for match in runner.matches] == [1]
